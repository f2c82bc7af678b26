// Per-operation costs on one GPU; equations in docs/perfmodel.md ("Operations").
#include "perf/op_costs.h"

#include <algorithm>

#include "common/check.h"

namespace llmfleet::perf {

namespace {
constexpr double bytes_per_gb = 1e9;
constexpr double flops_per_tflop = 1e12;
constexpr double ms_per_s = 1e3;
constexpr double ms_per_us = 1e-3;
} // namespace

perf_params default_params(const planner::gpu_spec& gpu) {
    perf_params p;
    p.gpu = gpu.name;
    p.calibrated = false;
    p.source = "documented defaults (no measurements for this GPU type)";
    // The catalog's interconnect figure is the bidirectional aggregate; NCCL's bus bandwidth on the measured
    // A100/H100 DGX nodes reached 0.53-0.91 of the one-way figure: take 0.6 of one way.
    const double bus_gb_per_s = std::max(1.0, 0.6 * gpu.interconnect_gb_per_s / 2.0);
    p.allreduce = {{2, 10.0, bus_gb_per_s}, {4, 30.0, bus_gb_per_s}, {8, 40.0, bus_gb_per_s}};
    p.p2p_alpha_us = 10.0;
    p.p2p_gb_per_s = std::max(1.0, 0.8 * gpu.interconnect_gb_per_s / 2.0);
    return p;
}

double gemm_ms(const perf_params& p, const planner::gpu_spec& gpu, double n_tokens, double k, double n) {
    if (n_tokens <= 0) {
        return 0.0;
    }
    // Compute: the efficiency ramps up with the token count (small GEMMs leave tiles and SMs idle):
    // efficiency(m) = max × m / (m + ramp), so the compute time is 2kn(m + ramp) / (peak × max).
    const double flops = 2.0 * n_tokens * k * n;
    const double efficiency = p.gemm_compute_efficiency * n_tokens / (n_tokens + p.gemm_ramp_tokens);
    const double compute_ms = ms_per_s * flops / (gpu.bf16_dense_tflops * flops_per_tflop * efficiency);
    // Memory: the weights are read once; activations in and out are small next to them until compute-bound.
    const double bytes = p.weight_bytes_per_param * (k * n + n_tokens * (k + n));
    const double memory_ms =
        ms_per_s * bytes / (gpu.memory_bandwidth_gb_per_s * bytes_per_gb * p.gemm_bandwidth_efficiency);
    return std::max(compute_ms, memory_ms) + p.gemm_launch_us * ms_per_us;
}

std::string_view to_string(elementwise_kind kind) {
    switch (kind) {
    case elementwise_kind::norm:
        return "norm";
    case elementwise_kind::rope:
        return "rope";
    case elementwise_kind::activation:
        return "activation";
    case elementwise_kind::add:
        return "add";
    }
    LLMFLEET_FAIL("elementwise_kind {}", static_cast<int>(kind));
}

double bandwidth_efficiency(const perf_params& p, elementwise_kind kind) {
    switch (kind) {
    case elementwise_kind::norm:
        return p.norm_bandwidth_efficiency;
    case elementwise_kind::rope:
        return p.rope_bandwidth_efficiency;
    case elementwise_kind::activation:
        return p.activation_bandwidth_efficiency;
    case elementwise_kind::add:
        return p.add_bandwidth_efficiency;
    }
    LLMFLEET_FAIL("elementwise_kind {}", static_cast<int>(kind));
}

double elementwise_ms(const perf_params& p, const planner::gpu_spec& gpu, elementwise_kind kind, double n_tokens,
                      double bytes_per_token) {
    if (n_tokens <= 0 || bytes_per_token <= 0) {
        return 0.0;
    }
    const double bytes = n_tokens * bytes_per_token;
    const double stream_ms =
        ms_per_s * bytes / (gpu.memory_bandwidth_gb_per_s * bytes_per_gb * bandwidth_efficiency(p, kind));
    const double row_ms =
        kind == elementwise_kind::add ? 0.0 : ms_per_s * bytes_per_token / (p.elementwise_row_gb_per_s * bytes_per_gb);
    return std::max(stream_ms, row_ms) + p.elementwise_launch_us * ms_per_us;
}

double attention_prefill_ms(const perf_params& p, const planner::gpu_spec& gpu, double flops) {
    if (flops <= 0) {
        return 0.0;
    }
    return ms_per_s * flops / (gpu.bf16_dense_tflops * flops_per_tflop * p.attention_compute_efficiency) +
           p.attention_launch_us * ms_per_us;
}

double attention_decode_ms(const perf_params& p, const planner::gpu_spec& gpu, double kv_bytes) {
    if (kv_bytes <= 0) {
        return 0.0;
    }
    return ms_per_s * kv_bytes / (gpu.memory_bandwidth_gb_per_s * bytes_per_gb * p.attention_bandwidth_efficiency) +
           p.attention_launch_us * ms_per_us;
}

std::vector<layer_op> decoder_layer_ops(const planner::model_arch& m, int32_t tp, double kv_bytes_per_element) {
    LLMFLEET_CHECK(tp >= 1 && m.n_heads % tp == 0, "tp {} for {} heads", tp, m.n_heads);
    constexpr double act = 2.0; // bf16 activations, bytes
    const double h = static_cast<double>(m.hidden_size);
    const double hd = static_cast<double>(m.head_dim);
    const double heads = static_cast<double>(m.n_heads / tp);
    const double kvh = static_cast<double>((m.n_kv_heads + tp - 1) / tp);
    const double inter = static_cast<double>(m.intermediate_size) / tp;
    using ek = elementwise_kind;
    std::vector<layer_op> ops;
    ops.push_back({"attn_pre_proj", true, h, (heads + 2.0 * kvh) * hd, ek::add, 0, 1});
    ops.push_back({"attn_post_proj", true, heads * hd, h, ek::add, 0, 1});
    ops.push_back({"mlp_up_proj", true, h, 2.0 * inter, ek::add, 0, 1});
    ops.push_back({"mlp_down_proj", true, inter, h, ek::add, 0, 1});
    // Element-wise, bytes read + written per token: a norm reads and writes the hidden state, rotary reads
    // and writes Q and K, SiLU(gate) × up reads two and writes one, an add reads two and writes one.
    ops.push_back({"input_layernorm", false, 0, 0, ek::norm, 2.0 * h * act, 1});
    ops.push_back({"post_attention_layernorm", false, 0, 0, ek::norm, 2.0 * h * act, 1});
    ops.push_back({"attn_rope", false, 0, 0, ek::rope, 2.0 * (heads + kvh) * hd * act, 1});
    ops.push_back({"mlp_act", false, 0, 0, ek::activation, 3.0 * inter * act, 1});
    ops.push_back({"add", false, 0, 0, ek::add, 3.0 * h * act, 2});
    // The new token's K and V into the paged cache: read and written once.
    ops.push_back({"kv_cache_write", false, 0, 0, ek::add, 2.0 * 2.0 * kvh * hd * kv_bytes_per_element, 1});
    return ops;
}

double layer_op_ms(const perf_params& p, const planner::gpu_spec& gpu, const layer_op& op, double n_tokens) {
    const double one = op.is_gemm ? gemm_ms(p, gpu, n_tokens, op.k, op.n)
                                  : elementwise_ms(p, gpu, op.kind, n_tokens, op.bytes_per_token);
    return op.count * one;
}

const allreduce_cost& allreduce_entry(const perf_params& p, int32_t tp) {
    LLMFLEET_CHECK(!p.allreduce.empty(), "perf_params for {} has no all-reduce costs", p.gpu);
    for (const allreduce_cost& c : p.allreduce) {
        if (c.tp >= tp) {
            return c;
        }
    }
    return p.allreduce.back();
}

double allreduce_ms(const perf_params& p, int32_t tp, double bytes) {
    if (tp <= 1 || bytes <= 0) {
        return 0.0;
    }
    const allreduce_cost& c = allreduce_entry(p, tp);
    const double ring_factor = 2.0 * (tp - 1) / tp;
    return c.alpha_us * ms_per_us + ms_per_s * ring_factor * bytes / (c.bus_gb_per_s * bytes_per_gb);
}

double p2p_ms(const perf_params& p, double bytes) {
    if (bytes <= 0) {
        return 0.0;
    }
    return p.p2p_alpha_us * ms_per_us + ms_per_s * bytes / (p.p2p_gb_per_s * bytes_per_gb);
}

} // namespace llmfleet::perf
