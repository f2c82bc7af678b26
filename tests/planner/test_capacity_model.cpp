// Roofline capacity model: a hand-computed case, the "cannot serve" limits, and monotonicity.
#include <gtest/gtest.h>

#include "planner/capacity_model.h"

namespace llmfleet::planner {
namespace {

// A toy model and GPU chosen so the numbers are easy: 1 layer, hidden 1024, 8 heads × 128, 8 KV heads,
// intermediate 1024, vocab 1024, untied, no bias.
model_arch toy_model() {
    return model_arch{"toy", 1, 1024, 8, 8, 128, 1024, 1024, false, false};
}

gpu_spec toy_gpu() {
    return gpu_spec{"toy", 1.0, 100, 10, "PCIe", 32, ""};
}

roofline_params exact() {
    roofline_params p;
    p.bandwidth_efficiency = 1.0;
    p.compute_efficiency = 1.0;
    p.iteration_overhead_ms = 1.0;
    p.memory_reserve_fraction = 0.0;
    p.max_batch = 4;
    return p;
}

TEST(capacity_model, hand_computed_step) {
    const model_arch m = toy_model();
    // Params: layer q,k,v,o 4 × 1024² + mlp 3 × 1024² + norms 2048 = 7,342,080; embedding and LM head 1024² each;
    // final norm 1024: total 9,440,256 → 18,880,512 bytes in bf16.
    ASSERT_EQ(m.n_params_total(), 9440256);
    // I = 100, O = 100, batch 4 (max_batch): prefill tokens per step 4 × 100/100 = 4; mean context 150.
    // KV per token: 2 × 1 × 8 × 128 × 2 B = 4096 B.
    // bytes = 18,880,512 + 4 × 150 × 4096 + (4 + 4) × 4096 = 21,370,880 → at 100 GB/s: 0.2137088 ms.
    // flops = 8 × 2 × 7,342,080 + 4 × 2 × 1024² + 4 × 150 × 4096 + 4 × 50 × 4096 = 129,138,688 → 0.0129 ms
    // at 10 TFLOP/s, so memory bound: step = 1 + 0.2137088 ms; rate = 4 / (100 × 1.2137088e-3 s) = 32.96 req/s.
    const capacity_estimate e = estimate_capacity(m, toy_gpu(), 100, 100, slo{50, {}}, exact());
    EXPECT_EQ(e.batch, 4);
    EXPECT_EQ(e.limit, "max_batch");
    EXPECT_NEAR(e.iteration_ms, 1.2137088, 1e-9);
    EXPECT_NEAR(e.max_rps, 4.0 / (100 * 1.2137088e-3), 1e-6);
}

TEST(capacity_model, cannot_serve_cases_return_zero) {
    gpu_spec tiny = toy_gpu();
    tiny.memory_gib = 0.01; // 10.7 MB < 18.9 MB of weights
    EXPECT_EQ(estimate_capacity(toy_model(), tiny, 100, 100, slo{50, {}}, exact()).limit, "weights do not fit");
    // TPOT below the fixed overhead: no batch meets it.
    const capacity_estimate strict = estimate_capacity(toy_model(), toy_gpu(), 100, 100, slo{0.5, {}}, exact());
    EXPECT_EQ(strict.max_rps, 0);
    EXPECT_EQ(strict.limit, "tpot");
    // One request's KV cache (I + O tokens) must fit: 1 GiB - 18.9 MB leaves ~257k tokens.
    EXPECT_EQ(estimate_capacity(toy_model(), toy_gpu(), 300000, 100, slo{1e9, {}}, exact()).limit,
              "one request's KV cache does not fit");
}

TEST(capacity_model, monotone_in_hardware_and_request_size) {
    const model_arch m = toy_model();
    roofline_params p = exact();
    p.max_batch = 256;
    const slo target{20, {}};
    gpu_spec fast = toy_gpu();
    fast.memory_bandwidth_gb_per_s *= 2;
    const double base = estimate_capacity(m, toy_gpu(), 500, 200, target, p).max_rps;
    EXPECT_GT(estimate_capacity(m, fast, 500, 200, target, p).max_rps, base);
    EXPECT_LT(estimate_capacity(m, toy_gpu(), 2000, 200, target, p).max_rps, base);
    EXPECT_LT(estimate_capacity(m, toy_gpu(), 500, 800, target, p).max_rps, base);
    // A TTFT bound can only lower the rate.
    EXPECT_LE(estimate_capacity(m, toy_gpu(), 500, 200, slo{20, 5.0}, p).max_rps, base);
}

TEST(capacity_model, profile_over_grid) {
    const bucket_grid grid = make_grid(make_bucket_edges({1, 100, 1000}, "in"), make_bucket_edges({1, 50}, "out"));
    const throughput_profile prof = estimate_profile(toy_model(), {toy_gpu()}, grid, slo{50, {}}, exact());
    ASSERT_EQ(prof.max_rps.at("toy").n_rows, 2);
    // Longer inputs, lower rate.
    EXPECT_GT(prof.max_rps.at("toy").at(0, 0), prof.max_rps.at("toy").at(1, 0));
}

} // namespace
} // namespace llmfleet::planner
