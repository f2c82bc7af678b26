// Per-GPU performance parameters and the cost of each kind of GPU operation (one GEMM, one element-wise pass,
// attention, one all-reduce, one point-to-point send) on one GPU. The iteration model (iteration_model.h)
// composes these into a step; calibration (calibration.h) fits the parameters against measured timings.
// Equations and fitted values: docs/perfmodel.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"

namespace llmfleet::perf {

// All-reduce cost among `tp` GPUs of one node: α + ring_factor(tp) × bytes / bus bandwidth.
struct allreduce_cost {
    int32_t tp = 2;            // number of GPUs in the all-reduce
    double alpha_us = 10;      // latency of a tiny all-reduce, µs
    double bus_gb_per_s = 100; // NCCL "bus bandwidth", GB/s (1e9 bytes/s)
};

// Calibrated (or default) efficiencies of one GPU type (docs/perfmodel.md lists each one's fitted values).
struct perf_params {
    std::string gpu;         // GPU type these values are for ("A100-80GB")
    bool calibrated = false; // true: fitted on measured data (see `source`)
    std::string source;      // "fit on vidur a100 Llama-2-7B mlp.csv, ..." or "defaults"

    // GEMMs (fitted on Vidur per-operator timings).
    double gemm_compute_efficiency = 0.70;   // fraction of dense BF16 peak reached by large GEMMs
    double gemm_ramp_tokens = 64;            // efficiency(n) = max × n / (n + ramp): half of max at `ramp` tokens
    double gemm_bandwidth_efficiency = 0.80; // fraction of HBM bandwidth reached while streaming weights
    double gemm_launch_us = 4;               // fixed cost per GEMM kernel, µs

    // Element-wise ops, fraction of HBM bandwidth per kind (their kernels differ: a norm reduces over the
    // hidden dimension, an add streams), and a fixed cost per kernel.
    double norm_bandwidth_efficiency = 0.40;       // RMSNorm (and the embedding gather)
    double rope_bandwidth_efficiency = 0.40;       // rotary embedding of Q and K
    double activation_bandwidth_efficiency = 0.50; // SiLU(gate) × up
    double add_bandwidth_efficiency = 0.80;        // residual add (and the KV-cache write)
    double elementwise_launch_us = 3;              // fixed cost per element-wise kernel, µs
    // Norms, rotary and the activation run one thread block per token: with few tokens the time is bounded by
    // one block streaming one token's row at this bandwidth, GB/s.
    double elementwise_row_gb_per_s = 20;

    // Attention: no measured per-operator data (the Vidur snapshot lacks attention.csv): defaults.
    double attention_compute_efficiency = 0.50;   // prefill (flash) attention FLOPs, fraction of peak
    double attention_bandwidth_efficiency = 0.70; // decode: KV-cache reads, fraction of HBM bandwidth
    double attention_launch_us = 5;               // fixed cost per attention kernel per layer, µs

    // Per-step CPU/host cost: scheduling, input preparation, kernel launches not hidden, sampling, sync.
    double iteration_overhead_ms = 3.0;

    // Collectives: one entry per measured TP degree (ascending tp); a degree not listed uses the next larger one.
    std::vector<allreduce_cost> allreduce;
    double p2p_alpha_us = 10;  // pipeline send/recv latency, µs (uncalibrated)
    double p2p_gb_per_s = 100; // pipeline send/recv bandwidth, GB/s (uncalibrated)

    // Engines sharing one GPU under MPS: each engine's GPU time is multiplied by this factor on top of the
    // N-way sharing (1 = perfect sharing). Uncalibrated hypothesis (docs/perfmodel.md, "MPS").
    double mps_contention_factor = 1.0;

    // Memory.
    double memory_reserve_fraction = 0.10; // of device memory: CUDA context, allocator slack (vLLM 0.9 util.)
    double weight_bytes_per_param = 2.0;   // bf16 weights
    double kv_bytes_per_element = 2.0;     // bf16 KV cache
};

// The struct's defaults (the fits' starting points, calibrated = false) with collectives from the catalog's
// interconnect. builtin_params (params_io.h) is what models use: the fit for a calibrated type, else these with
// the calibrated types' mean efficiencies and overhead.
perf_params default_params(const planner::gpu_spec& gpu);

// One GEMM [n_tokens, k] × [k, n] on one GPU (bf16), ms: max(FLOPs / (peak × efficiency(n_tokens)),
// weight bytes / (bandwidth × efficiency)) + launch.
double gemm_ms(const perf_params& p, const planner::gpu_spec& gpu, double n_tokens, double k, double n);
enum class elementwise_kind { norm, rope, activation, add };
std::string_view to_string(elementwise_kind kind);
double bandwidth_efficiency(const perf_params& p, elementwise_kind kind);

// One element-wise kernel of `kind` over `n_tokens` tokens moving `bytes_per_token` each (reads + writes), ms:
// launch + max(total bytes / (bandwidth × efficiency), one row / row bandwidth) (the row bound not for adds).
double elementwise_ms(const perf_params& p, const planner::gpu_spec& gpu, elementwise_kind kind, double n_tokens,
                      double bytes_per_token);
// Prefill attention of one layer on one GPU: `flops` (QKᵀ and PV under the causal mask), ms.
double attention_prefill_ms(const perf_params& p, const planner::gpu_spec& gpu, double flops);
// Decode attention of one layer on one GPU reading `kv_bytes` of cache, ms.
double attention_decode_ms(const perf_params& p, const planner::gpu_spec& gpu, double kv_bytes);
// One operator of a decoder layer on one GPU of a TP group, named as in Vidur's profiles (calibration matches
// measured operators by these names). The iteration model sums these per layer.
struct layer_op {
    std::string_view name;                         // "attn_pre_proj", "mlp_act", ...; "kv_cache_write" is ours
    bool is_gemm = false;                          // GEMM [n_tokens, k] × [k, n], else element-wise
    double k = 0;                                  // GEMM inner dimension (this GPU's shard)
    double n = 0;                                  // GEMM output columns (this GPU's shard)
    elementwise_kind kind = elementwise_kind::add; // element-wise only
    double bytes_per_token = 0;                    // element-wise only: bytes read + written per token
    double count = 1;                              // kernels of this operator per layer ("add": 2)
};

// The decoder layer's operators for `tp` (QKV and gate+up column-parallel, O and down row-parallel; norms
// and adds on the full hidden state; KV heads replicated when tp > n_kv_heads). Attention and all-reduces
// are separate (they depend on the context and the TP group).
std::vector<layer_op> decoder_layer_ops(const planner::model_arch& model, int32_t tp, double kv_bytes_per_element);
// Time of `count` kernels of `op` over `n_tokens` tokens, ms.
double layer_op_ms(const perf_params& p, const planner::gpu_spec& gpu, const layer_op& op, double n_tokens);

// The all-reduce entry used for `tp` GPUs (tp ≥ 2).
const allreduce_cost& allreduce_entry(const perf_params& p, int32_t tp);
// One all-reduce of `bytes` among `tp` GPUs (ring: 2(tp−1)/tp × bytes cross each link), ms; 0 for tp = 1.
double allreduce_ms(const perf_params& p, int32_t tp, double bytes);
// One pipeline send/recv of `bytes` between consecutive stages, ms.
double p2p_ms(const perf_params& p, double bytes);

} // namespace llmfleet::perf
