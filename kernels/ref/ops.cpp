// See ops.h. Accumulations are in double: this is the oracle, not the fast path.
#include "kernels/ref/ops.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace llmfleet::kernels::ref {

void embedding(const float* table, const int32_t* ids, float* out, int64_t n_tokens, int64_t dim) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        std::copy(table + ids[t] * dim, table + (ids[t] + 1) * dim, out + t * dim);
    }
}

void rms_norm(const float* x, const float* weight, float* out, int64_t n_tokens, int64_t dim, float eps) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        double sum_sq = 0;
        for (int64_t i = 0; i < dim; ++i) {
            sum_sq += static_cast<double>(x[t * dim + i]) * x[t * dim + i];
        }
        const double inv = 1.0 / std::sqrt(sum_sq / static_cast<double>(dim) + eps);
        for (int64_t i = 0; i < dim; ++i) {
            out[t * dim + i] = static_cast<float>(x[t * dim + i] * inv * weight[i]);
        }
    }
}

void linear(const float* x, const float* w, const float* bias, float* y, int64_t n_tokens, int64_t in, int64_t out) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t o = 0; o < out; ++o) {
            double acc = bias != nullptr ? bias[o] : 0.0;
            for (int64_t i = 0; i < in; ++i) {
                acc += static_cast<double>(x[t * in + i]) * w[o * in + i];
            }
            y[t * out + o] = static_cast<float>(acc);
        }
    }
}

std::vector<float> rope_inv_freq(int64_t head_dim, double theta, const std::optional<rope_llama3>& s) {
    LLMFLEET_CHECK(head_dim % 2 == 0, "head_dim {} must be even", head_dim);
    std::vector<float> inv(head_dim / 2);
    for (int64_t i = 0; i < head_dim / 2; ++i) {
        // float32 as Hugging Face computes it: 1 / theta^(arange(0, d, 2) / d)
        inv[i] = static_cast<float>(1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(head_dim)));
    }
    if (!s) {
        return inv;
    }
    const double old_len = static_cast<double>(s->original_max_position_embeddings);
    const double low_freq_wavelen = old_len / s->low_freq_factor;
    const double high_freq_wavelen = old_len / s->high_freq_factor;
    for (float& f : inv) {
        const double wavelen = 2.0 * M_PI / f;
        if (wavelen < high_freq_wavelen) {
            continue; // high frequencies keep their value
        }
        if (wavelen > low_freq_wavelen) {
            f = static_cast<float>(f / s->factor); // low frequencies are stretched by the factor
            continue;
        }
        const double smooth = (old_len / wavelen - s->low_freq_factor) / (s->high_freq_factor - s->low_freq_factor);
        f = static_cast<float>((1.0 - smooth) * f / s->factor + smooth * f);
    }
    return inv;
}

void rope(float* x, const int64_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
          const float* inv_freq) {
    const int64_t half = head_dim / 2;
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t i = 0; i < half; ++i) {
            const float angle = static_cast<float>(positions[t]) * inv_freq[i]; // f32 product, as HF
            const double c = std::cos(angle), s = std::sin(angle);
            for (int64_t h = 0; h < n_heads; ++h) {
                float* v = x + (t * n_heads + h) * head_dim;
                const double a = v[i], b = v[i + half];
                v[i] = static_cast<float>(a * c - b * s);
                v[i + half] = static_cast<float>(b * c + a * s);
            }
        }
    }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const double g = gate[i];
        out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
    }
}

void add(const float* a, const float* b, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        out[i] = a[i] + b[i];
    }
}

void attention(const float* q, const float* k, const float* v, float* out, const int64_t* q_positions, int64_t n_q,
               int64_t n_kv, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
    LLMFLEET_CHECK(n_heads % n_kv_heads == 0, "heads {} not a multiple of kv heads {}", n_heads, n_kv_heads);
    const int64_t group = n_heads / n_kv_heads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
    std::vector<double> scores(static_cast<size_t>(n_kv));
    for (int64_t t = 0; t < n_q; ++t) {
        const int64_t last = q_positions[t];
        LLMFLEET_CHECK(last >= 0 && last < n_kv, "query position {} outside the {} cached keys", last, n_kv);
        for (int64_t h = 0; h < n_heads; ++h) {
            const int64_t kvh = h / group;
            const float* qv = q + (t * n_heads + h) * head_dim;
            double max_score = -INFINITY;
            for (int64_t j = 0; j <= last; ++j) {
                const float* kv = k + (j * n_kv_heads + kvh) * head_dim;
                double dot = 0;
                for (int64_t d = 0; d < head_dim; ++d) {
                    dot += static_cast<double>(qv[d]) * kv[d];
                }
                scores[j] = dot * scale;
                max_score = std::max(max_score, scores[j]);
            }
            double denom = 0;
            for (int64_t j = 0; j <= last; ++j) {
                scores[j] = std::exp(scores[j] - max_score);
                denom += scores[j];
            }
            float* o = out + (t * n_heads + h) * head_dim;
            for (int64_t d = 0; d < head_dim; ++d) {
                double acc = 0;
                for (int64_t j = 0; j <= last; ++j) {
                    acc += scores[j] * v[(j * n_kv_heads + kvh) * head_dim + d];
                }
                o[d] = static_cast<float>(acc / denom);
            }
        }
    }
}

} // namespace llmfleet::kernels::ref
