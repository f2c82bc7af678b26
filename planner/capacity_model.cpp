// Roofline capacity model; formulas and assumptions in docs/planner.md ("Capacity model").
#include "planner/capacity_model.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::planner {

namespace {

// One steady-state continuous-batching iteration with `batch` decoding sequences. Chunked prefill mixes
// the new requests' prompts into the same steps: arrivals = batch / (O × t) per second, each bringing I
// prompt tokens, so each step also carries batch × I / O prefill tokens.
struct step_cost {
    double bytes = 0;
    double flops = 0;
};

step_cost iteration_cost(const model_arch& m, double input_tokens, double output_tokens, double batch,
                         const roofline_params& p) {
    const double kv_bytes_per_token = static_cast<double>(m.kv_elements_per_token()) * p.kv_bytes_per_element;
    const double weight_bytes = static_cast<double>(m.n_params_total()) * p.weight_bytes_per_param;
    const double mean_context = input_tokens + 0.5 * output_tokens; // a decoding sequence is halfway on average
    const double prefill_tokens = batch * input_tokens / output_tokens;
    // Attention: 4 FLOPs per (query, key) pair per head dimension (QK^T and PV), all layers.
    const double attn_flops_per_pair = 4.0 * static_cast<double>(m.n_layers * m.n_heads * m.head_dim);
    const double layer_flops_per_token = 2.0 * static_cast<double>(m.n_layers * m.n_params_per_layer());
    const double lm_head_flops_per_token = 2.0 * static_cast<double>(m.n_params_lm_head());

    step_cost c;
    // Bytes: weights once per step, the decoding sequences' KV read, new K/V written.
    c.bytes = weight_bytes + batch * mean_context * kv_bytes_per_token + (batch + prefill_tokens) * kv_bytes_per_token;
    // FLOPs: matmuls for every token, the LM head for decode tokens only (prefill needs logits only at the
    // end, counted with the first decode), attention: decode over the context, prefill causal (I/2 mean).
    c.flops = (batch + prefill_tokens) * layer_flops_per_token + batch * lm_head_flops_per_token +
              batch * mean_context * attn_flops_per_pair + prefill_tokens * 0.5 * input_tokens * attn_flops_per_pair;
    return c;
}

double step_ms(const step_cost& c, const gpu_spec& g, const roofline_params& p) {
    const double bandwidth_bytes_per_s = g.memory_bandwidth_gb_per_s * 1e9 * p.bandwidth_efficiency;
    const double flops_per_s = g.bf16_dense_tflops * 1e12 * p.compute_efficiency;
    return p.iteration_overhead_ms + 1e3 * std::max(c.bytes / bandwidth_bytes_per_s, c.flops / flops_per_s);
}

} // namespace

capacity_estimate estimate_capacity(const model_arch& m, const gpu_spec& g, double input_tokens, double output_tokens,
                                    const slo& target, const roofline_params& p) {
    LLMFLEET_CHECK(input_tokens >= 0 && output_tokens > 0, "shape ({}, {})", input_tokens, output_tokens);
    capacity_estimate est;
    const double memory_bytes = g.memory_gib * 1073741824.0 * (1.0 - p.memory_reserve_fraction);
    const double weight_bytes = static_cast<double>(m.n_params_total()) * p.weight_bytes_per_param;
    const double kv_bytes_per_token = static_cast<double>(m.kv_elements_per_token()) * p.kv_bytes_per_element;
    const double kv_bytes = memory_bytes - weight_bytes;
    if (kv_bytes <= 0) {
        est.limit = "weights do not fit";
        return est;
    }
    // Every request must fit whole (prompt + all output); the batch is limited by the mean occupancy.
    if (kv_bytes < (input_tokens + output_tokens) * kv_bytes_per_token) {
        est.limit = "one request's KV cache does not fit";
        return est;
    }
    est.batch_memory_limit =
        static_cast<int64_t>(std::floor(kv_bytes / ((input_tokens + 0.5 * output_tokens) * kv_bytes_per_token)));
    const int64_t batch_max = std::min(est.batch_memory_limit, p.max_batch);
    std::string first_violation = "tpot";
    // The rate grows with the batch while the SLOs hold; TTFT is not monotone in the batch, so scan all.
    for (int64_t b = 1; b <= batch_max; ++b) {
        const double t_ms = step_ms(iteration_cost(m, input_tokens, output_tokens, static_cast<double>(b), p), g, p);
        // The prompt is spread over ceil(O / b) steps of b × I / O prefill tokens each (at least one step).
        const double ttft_ms = std::max(1.0, std::ceil(output_tokens / static_cast<double>(b))) * t_ms;
        if (t_ms > target.tpot_ms) {
            break; // step time only grows with the batch
        }
        if (target.ttft_ms && ttft_ms > *target.ttft_ms) {
            first_violation = "ttft";
            continue;
        }
        const double rps = static_cast<double>(b) / (output_tokens * t_ms * 1e-3);
        if (rps > est.max_rps) {
            est.max_rps = rps;
            est.batch = b;
            est.iteration_ms = t_ms;
            est.ttft_ms = ttft_ms;
        }
    }
    if (est.batch > 0 && est.batch == batch_max) {
        est.limit = batch_max == p.max_batch ? "max_batch" : "memory";
    } else {
        est.limit = first_violation; // no batch met the SLO, or a larger one broke it
    }
    return est;
}

throughput_profile estimate_profile(const model_arch& m, const std::vector<gpu_spec>& gpus, const bucket_grid& grid,
                                    const slo& target, const roofline_params& p) {
    LLMFLEET_CHECK(grid.has_edges(), "the capacity model needs bucket edges");
    throughput_profile profile;
    profile.grid = grid;
    profile.source = fmt::format("roofline estimate ({}, TPOT {} ms{})", m.name, target.tpot_ms,
                                 target.ttft_ms ? fmt::format(", TTFT {} ms", *target.ttft_ms) : "");
    for (const gpu_spec& g : gpus) {
        matrix rates(grid.n_input, grid.n_output);
        for (int64_t i = 0; i < grid.n_input; ++i) {
            for (int64_t j = 0; j < grid.n_output; ++j) {
                const double in = grid.input.representative_tokens(i);
                const double out = std::max(1.0, grid.output.representative_tokens(j));
                rates.at(i, j) = estimate_capacity(m, g, in, out, target, p).max_rps;
            }
        }
        profile.max_rps[g.name] = std::move(rates);
    }
    return profile;
}

} // namespace llmfleet::planner
