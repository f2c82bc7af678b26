// kernels/cuda's layer ops and the cuBLASLt GEMM against kernels::ref on the same (bf16-rounded) inputs, over
// several shapes with odd sizes, with guard regions around every output (nothing written out of bounds) and NaN
// checks. gpu-labelled: skipped (77) without a CUDA device.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/layer_ops.cuh"
#include "kernels/ref/ops.h"

namespace llmfleet::kernels {
namespace {

using cuda::bf16;
constexpr int64_t guard = 64; // elements of sentinel before and after every output

float round_bf16(float v) {
    return __bfloat162float(__float2bfloat16_rn(v));
}

std::vector<float> randn_bf16(int64_t n, uint32_t seed, float scale = 1.0F) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) {
        x = round_bf16(d(rng));
    }
    return v;
}

std::vector<bf16> to_bf16(const std::vector<float>& v) {
    std::vector<bf16> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        out[i] = __float2bfloat16_rn(v[i]);
    }
    return out;
}

// A device array of n elements between two guard regions filled with a sentinel byte pattern.
template <typename T> class guarded {
public:
    explicit guarded(int64_t n) : _n(n), _buf(n + 2 * guard) {
        std::vector<T> init(static_cast<size_t>(n + 2 * guard));
        std::memset(static_cast<void*>(init.data()), 0x5a, init.size() * sizeof(T));
        _buf.upload(init);
    }
    T* data() { return _buf.data() + guard; }
    void upload(const std::vector<T>& v) {
        ASSERT_EQ(static_cast<int64_t>(v.size()), _n);
        LLMFLEET_CUDA_CHECK(cudaMemcpy(data(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    }
    // The n elements; fails the test when a guard byte changed.
    std::vector<T> download() const {
        LLMFLEET_CUDA_CHECK(cudaDeviceSynchronize());
        std::vector<T> all(static_cast<size_t>(_n + 2 * guard));
        _buf.download(all);
        const auto* bytes = reinterpret_cast<const unsigned char*>(all.data());
        const size_t guard_bytes = guard * sizeof(T), tail = (guard + _n) * sizeof(T);
        for (size_t i = 0; i < guard_bytes; ++i) {
            EXPECT_EQ(bytes[i], 0x5a) << "write before the output at byte " << i;
            EXPECT_EQ(bytes[tail + i], 0x5a) << "write past the output at byte " << i;
        }
        return {all.begin() + guard, all.begin() + guard + _n};
    }

private:
    int64_t _n;
    cuda::device_buffer<T> _buf;
};

std::vector<float> to_f32(const std::vector<bf16>& v) {
    std::vector<float> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        out[i] = __bfloat162float(v[i]);
    }
    return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel, const char* what) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_FALSE(std::isnan(got[i])) << what << " NaN at " << i;
        ASSERT_NEAR(got[i], want[i], rel * (1 + std::abs(want[i]))) << what << " at " << i;
    }
}

TEST(cuda_layer_ops, embedding_gathers_rows_and_zeroes_other_ranks_rows) {
    const int32_t vocab = 37, dim = 67, n = 9, vocab_begin = 10, vocab_local = 20;
    const auto table = randn_bf16(vocab_local * dim, 1);
    const std::vector<int32_t> ids = {10, 29, 0, 9, 30, 36, 15, 15, 22};
    guarded<bf16> d_table(vocab_local * dim);
    d_table.upload(to_bf16(table));
    guarded<int32_t> d_ids(n);
    d_ids.upload(ids);
    guarded<float> d_x(n * dim);
    cuda::embedding(d_table.data(), d_ids.data(), d_x.data(), n, dim, vocab_begin, vocab_local, nullptr);
    const auto x = d_x.download();
    for (int32_t t = 0; t < n; ++t) {
        const int32_t local = ids[t] - vocab_begin;
        for (int32_t i = 0; i < dim; ++i) {
            const float want = local >= 0 && local < vocab_local ? table[local * dim + i] : 0.0F;
            ASSERT_EQ(x[t * dim + i], want) << "token " << t << " column " << i;
        }
    }
    (void)vocab;
}

TEST(cuda_layer_ops, add_rms_norm_matches_reference_and_updates_the_residual) {
    for (const int32_t dim : {64, 67, 896, 1536, 4099}) {
        const int32_t n = 5;
        const auto residual = randn_bf16(n * dim, 2), delta = randn_bf16(n * dim, 3), weight = randn_bf16(dim, 4);
        std::vector<float> sum(residual.size()), want(residual.size());
        for (size_t i = 0; i < sum.size(); ++i) {
            sum[i] = residual[i] + delta[i];
        }
        ref::rms_norm(sum.data(), weight.data(), want.data(), n, dim, 1e-6F);
        guarded<float> d_res(n * dim), d_delta(n * dim);
        d_res.upload(residual);
        d_delta.upload(delta);
        guarded<bf16> d_w(dim), d_out(n * dim);
        d_w.upload(to_bf16(weight));
        cuda::add_rms_norm(d_res.data(), d_delta.data(), d_w.data(), d_out.data(), n, dim, 1e-6F, nullptr);
        expect_close(d_res.download(), sum, 1e-6, "residual");
        expect_close(to_f32(d_out.download()), want, 1e-2, "normed");

        // rms_norm_rows: gathered rows, residual untouched.
        const std::vector<int32_t> rows = {4, 0, 2};
        guarded<int32_t> d_rows(3);
        d_rows.upload(rows);
        guarded<bf16> d_rows_out(3 * dim);
        cuda::rms_norm_rows(d_res.data(), d_rows.data(), d_w.data(), d_rows_out.data(), 3, dim, 1e-6F, nullptr);
        const auto got_rows = to_f32(d_rows_out.download());
        for (size_t r = 0; r < rows.size(); ++r) {
            for (int32_t i = 0; i < dim; ++i) {
                ASSERT_NEAR(got_rows[r * dim + i], want[rows[r] * dim + i],
                            1e-2 * (1 + std::abs(want[rows[r] * dim + i])));
            }
        }
        expect_close(d_res.download(), sum, 1e-6, "residual after rms_norm_rows");
    }
}

TEST(cuda_layer_ops, rope_store_kv_matches_reference_rope_and_writes_the_slots) {
    for (const int32_t hd : {64, 128}) {
        const int32_t n = 7, n_heads = 6, n_kv = 2, block_size = 16, n_blocks = 5;
        const int32_t q_width = n_heads * hd, kv_width = n_kv * hd, width = q_width + 2 * kv_width;
        const auto qkv = randn_bf16(n * width, 5), bias = randn_bf16(width, 6, 0.1F);
        const std::vector<int32_t> positions = {0, 1, 2, 17, 300, 4095, 31000};
        const std::vector<int32_t> slots = {3, 20, -1, 79, 0, 41, 64};
        const std::vector<float> inv_freq = ref::rope_inv_freq(hd, 1e6, std::nullopt);
        // Reference: bias, then rope on q and k (f32), v with bias.
        std::vector<float> biased(qkv.size());
        for (int32_t t = 0; t < n; ++t) {
            for (int32_t c = 0; c < width; ++c) {
                biased[t * width + c] = qkv[t * width + c] + bias[c];
            }
        }
        std::vector<float> q(n * q_width), k(n * kv_width);
        std::vector<int64_t> pos64(positions.begin(), positions.end());
        for (int32_t t = 0; t < n; ++t) {
            std::memcpy(&q[t * q_width], &biased[t * width], q_width * sizeof(float));
            std::memcpy(&k[t * kv_width], &biased[t * width + q_width], kv_width * sizeof(float));
        }
        ref::rope(q.data(), pos64.data(), n, n_heads, hd, inv_freq.data());
        ref::rope(k.data(), pos64.data(), n, n_kv, hd, inv_freq.data());

        guarded<bf16> d_qkv(n * width), d_bias(width);
        d_qkv.upload(to_bf16(qkv));
        d_bias.upload(to_bf16(bias));
        guarded<int32_t> d_pos(n), d_slots(n);
        d_pos.upload(positions);
        d_slots.upload(slots);
        guarded<float> d_freq(hd / 2);
        d_freq.upload(inv_freq);
        const int64_t cache_n = int64_t{n_blocks} * block_size * kv_width;
        guarded<bf16> d_k(cache_n), d_v(cache_n);
        d_k.upload(std::vector<bf16>(cache_n, __float2bfloat16_rn(7.0F)));
        d_v.upload(std::vector<bf16>(cache_n, __float2bfloat16_rn(7.0F)));
        const cuda::kv_cache_view kv{d_k.data(), d_v.data(), block_size, n_kv, hd};
        cuda::rope_store_kv(d_qkv.data(), d_bias.data(), d_pos.data(), d_slots.data(), d_freq.data(), n, n_heads, kv,
                            nullptr);
        const auto got = to_f32(d_qkv.download());
        const auto k_cache = to_f32(d_k.download()), v_cache = to_f32(d_v.download());
        std::vector<bool> written(static_cast<size_t>(n_blocks * block_size), false);
        for (int32_t t = 0; t < n; ++t) {
            for (int32_t c = 0; c < q_width; ++c) {
                ASSERT_NEAR(got[t * width + c], q[t * q_width + c], 2e-2 * (1 + std::abs(q[t * q_width + c])));
            }
            for (int32_t c = 0; c < kv_width; ++c) {
                const float want_k = k[t * kv_width + c], want_v = biased[t * width + q_width + kv_width + c];
                ASSERT_NEAR(got[t * width + q_width + c], want_k, 2e-2 * (1 + std::abs(want_k)));
                if (slots[t] >= 0) {
                    ASSERT_EQ(k_cache[slots[t] * kv_width + c], got[t * width + q_width + c]) << "k slot " << slots[t];
                    ASSERT_NEAR(v_cache[slots[t] * kv_width + c], want_v, 1e-2 * (1 + std::abs(want_v)));
                }
            }
            if (slots[t] >= 0) {
                written[slots[t]] = true;
            }
        }
        for (int32_t s = 0; s < n_blocks * block_size; ++s) { // slot −1 and untouched slots keep their 7s
            if (!written[s]) {
                for (int32_t c = 0; c < kv_width; ++c) {
                    ASSERT_EQ(k_cache[s * kv_width + c], 7.0F) << "slot " << s;
                    ASSERT_EQ(v_cache[s * kv_width + c], 7.0F) << "slot " << s;
                }
            }
        }
    }
}

TEST(cuda_layer_ops, silu_mul_matches_reference) {
    for (const int32_t inter : {1, 176, 4864, 4099}) {
        const int32_t n = 3;
        const auto gate_up = randn_bf16(n * 2 * inter, 7, 2.0F);
        std::vector<float> want(n * inter);
        for (int32_t t = 0; t < n; ++t) {
            ref::silu_mul(&gate_up[t * 2 * inter], &gate_up[t * 2 * inter + inter], &want[t * inter], inter);
        }
        guarded<bf16> d_in(n * 2 * inter), d_out(n * inter);
        d_in.upload(to_bf16(gate_up));
        cuda::silu_mul(d_in.data(), d_out.data(), n, inter, nullptr);
        expect_close(to_f32(d_out.download()), want, 1e-2, "silu_mul");
    }
}

TEST(cuda_gemm, linear_matches_reference_in_both_output_types_and_accumulates) {
    cuda::gemm_runner gemm;
    for (const auto& [m, k, n] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 64, 512}, {3, 896, 1152}, {17, 1536, 8960}, {256, 896, 896}, {1000, 4864, 896}, {5, 67, 33}}) {
        const auto x = randn_bf16(m * k, 8), w = randn_bf16(n * k, 9, 0.05F), y0 = randn_bf16(m * n, 10);
        std::vector<float> want(m * n);
        ref::linear(x.data(), w.data(), nullptr, want.data(), m, k, n);
        guarded<bf16> d_x(m * k), d_w(n * k), d_y16(m * n);
        d_x.upload(to_bf16(x));
        d_w.upload(to_bf16(w));
        guarded<float> d_y32(m * n);
        d_y32.upload(y0);
        gemm.linear(d_x.data(), d_w.data(), d_y16.data(), cuda::gemm_out::bf16, m, k, n, false, nullptr);
        expect_close(to_f32(d_y16.download()), want, 1e-2, "bf16 out");
        gemm.linear(d_x.data(), d_w.data(), d_y32.data(), cuda::gemm_out::f32, m, k, n, true, nullptr);
        std::vector<float> want_acc(want.size());
        for (size_t i = 0; i < want.size(); ++i) {
            want_acc[i] = want[i] + y0[i];
        }
        expect_close(d_y32.download(), want_acc, 1e-3, "f32 accumulate");
    }
}

} // namespace
} // namespace llmfleet::kernels
