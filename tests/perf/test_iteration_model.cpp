// Iteration model: a hand-computed decode step, TP sharding and all-reduces, monotonicity in the step's work,
// KV-cache sizing with engines per GPU, deployment checks and describe().
#include <random>

#include <gtest/gtest.h>

#include "common/error.h"
#include "perf/iteration_model.h"
#include "perf/params_io.h"

namespace llmfleet::perf {
namespace {

// 1 layer, hidden 1024, 8 heads × 128, 8 KV heads, intermediate 1024, vocab 1024, untied, no bias.
planner::model_arch toy_model() {
    return planner::model_arch{"toy", 1, 1024, 8, 8, 128, 1024, 1024, false, false};
}

// 1 GiB, 100 GB/s, 10 TFLOP/s, 32 GB/s link.
planner::gpu_spec toy_gpu() {
    return planner::gpu_spec{"toy", 1.0, 100, 10, "PCIe", 32, ""};
}

// Every efficiency 1, no launch costs, no ramp, a 1 ms step overhead: the step is bytes / bandwidth.
perf_params exact() {
    perf_params p;
    p.gpu = "toy";
    p.gemm_compute_efficiency = 1;
    p.gemm_ramp_tokens = 0;
    p.gemm_bandwidth_efficiency = 1;
    p.gemm_launch_us = 0;
    p.norm_bandwidth_efficiency = p.rope_bandwidth_efficiency = 1;
    p.activation_bandwidth_efficiency = p.add_bandwidth_efficiency = 1;
    p.elementwise_launch_us = 0;
    p.elementwise_row_gb_per_s = 1e9;
    p.attention_compute_efficiency = p.attention_bandwidth_efficiency = 1;
    p.attention_launch_us = 0;
    p.iteration_overhead_ms = 1;
    p.allreduce = {{2, 10, 100}};
    p.memory_reserve_fraction = 0;
    return p;
}

TEST(iteration_model, decode_step_equals_hand_computed_formula) {
    const iteration_model m(toy_model(), toy_gpu(), deployment{"toy", 1, 1, 1}, exact());
    iteration_shape s;
    s.n_decode_seqs = 4;
    s.decode_context_tokens = 400;
    // GEMMs at 4 tokens are memory bound: bytes = 2 × (k·n + 4·(k + n)).
    //   QKV 1024 × 3072: 6,324,224; O 1024²: 2,113,536; gate+up 1024 × 2048: 4,218,880; down 1024²: 2,113,536;
    //   LM head (4 logits) 1024²: 2,113,536. Σ = 16,883,712 B → 0.16883712 ms at 100 GB/s.
    // Element-wise bytes per token: 2 norms 4096 each, rope 8192, SiLU×up 6144, 2 adds 6144 each, KV write
    //   8192 = 43,008; + embedding 4096 + final norm 4096: 51,200 × 4 tokens = 204,800 B → 0.002048 ms.
    // Decode attention: 400 context tokens × 2 (K, V) × 8 heads × 128 × 2 B = 1,638,400 B → 0.016384 ms.
    // Step: 1 ms overhead + 0.18726912 ms.
    const step_breakdown b = m.breakdown(s);
    EXPECT_NEAR(b.gemm_ms, 0.16883712, 1e-12);
    EXPECT_NEAR(b.elementwise_ms, 0.002048, 1e-12);
    EXPECT_NEAR(b.attention_ms, 0.016384, 1e-12);
    EXPECT_EQ(b.allreduce_ms, 0.0);
    EXPECT_NEAR(m.iteration_ms(s), 1.18726912, 1e-12);
    EXPECT_EQ(m.iteration_ms(iteration_shape{}), 0.0);
}

TEST(iteration_model, tp_halves_gemm_flops_and_adds_two_allreduces_per_layer) {
    planner::gpu_spec g = toy_gpu();
    g.memory_gib = 80;
    const iteration_model tp1(toy_model(), g, deployment{"toy", 1, 1, 1}, exact());
    const iteration_model tp2(toy_model(), g, deployment{"toy", 2, 1, 1}, exact());
    // 1M prompt tokens: every GEMM is compute bound, so its time is its FLOPs / peak.
    iteration_shape s;
    s.n_prefill_seqs = 1000;
    s.n_prefill_tokens = 1000000;
    const step_breakdown b1 = tp1.breakdown(s);
    const step_breakdown b2 = tp2.breakdown(s);
    EXPECT_NEAR(b2.gemm_ms, 0.5 * b1.gemm_ms, 1e-9 * b1.gemm_ms);
    EXPECT_EQ(b1.allreduce_ms, 0.0);
    // Two all-reduces of 1M × 1024 × 2 B (ring factor 1 at tp 2) + the logits gather (half an all-reduce of
    // 1000 × 1024 × 2 B): α = 10 µs, β = 100 GB/s.
    const double hidden_ms = 0.010 + 2048e6 / 100e9 * 1e3;
    const double logits_ms = 0.5 * (0.010 + 2048e3 / 100e9 * 1e3);
    EXPECT_NEAR(b2.allreduce_ms, 2 * hidden_ms + logits_ms, 1e-9);
}

// A random step and one with more work in one field.
TEST(iteration_model, more_tokens_never_make_a_step_faster) {
    const planner::gpu_catalog catalog = planner::builtin_gpu_catalog();
    const planner::model_arch model = planner::find_builtin_model("Qwen2.5-1.5B");
    std::mt19937 rng(7);
    std::uniform_int_distribution<int64_t> small(0, 300);
    for (const deployment& d : {deployment{"H100-SXM", 1, 1, 1}, deployment{"A100-80GB", 2, 1, 1},
                                deployment{"L4", 1, 2, 1}, deployment{"L4", 1, 1, 3}}) {
        const auto m = make_replica_model(model, catalog.get(d.gpu, "test"), d);
        for (int trial = 0; trial < 200; ++trial) {
            iteration_shape s;
            s.n_decode_seqs = small(rng);
            s.decode_context_tokens = s.n_decode_seqs * small(rng) * 10;
            s.n_prefill_seqs = small(rng) % 4;
            s.n_prefill_tokens = s.n_prefill_seqs * small(rng) * 8;
            s.prefill_attention_pairs = static_cast<double>(s.n_prefill_tokens) * small(rng);
            const double base = m->iteration_ms(s);
            iteration_shape more = s;
            switch (trial % 4) {
            case 0:
                more.n_decode_seqs += 1 + small(rng);
                break;
            case 1:
                more.decode_context_tokens += 1 + small(rng) * 50;
                break;
            case 2:
                more.n_prefill_tokens += 1 + small(rng) * 10;
                more.n_prefill_seqs = std::max<int64_t>(more.n_prefill_seqs, 1);
                break;
            default:
                more.prefill_attention_pairs += 1 + small(rng) * 1000.0;
                break;
            }
            EXPECT_GE(m->iteration_ms(more), base) << d.label() << " trial " << trial;
        }
    }
}

TEST(iteration_model, kv_cache_shrinks_with_engines_per_gpu_and_is_zero_when_weights_do_not_fit) {
    const planner::gpu_catalog catalog = planner::builtin_gpu_catalog();
    const planner::gpu_spec& l4 = catalog.get("L4", "test");
    const planner::model_arch small = planner::find_builtin_model("Qwen2.5-0.5B");
    int64_t previous = -1;
    for (int32_t n = 1; n <= 3; ++n) {
        const int64_t tokens = make_replica_model(small, l4, deployment{"L4", 1, 1, n})->kv_cache_tokens();
        EXPECT_GT(tokens, 0);
        if (previous >= 0) {
            // Each engine holds its own weights and gets 1/n of what is left: strictly less than before.
            EXPECT_LT(tokens, previous) << n << " engines";
            EXPECT_LT(tokens * n, previous * (n - 1)) << n << " engines hold fewer tokens in total";
        }
        previous = tokens;
    }
    // Llama-3-8B (16 GB of bf16 weights) on one 24 GiB L4 fits; two copies do not.
    const planner::model_arch llama = planner::find_builtin_model("Llama-3-8B");
    EXPECT_GT(make_replica_model(llama, l4, deployment{"L4", 1, 1, 1})->kv_cache_tokens(), 0);
    EXPECT_EQ(make_replica_model(llama, l4, deployment{"L4", 1, 1, 2})->kv_cache_tokens(), 0);
    // TP 2 splits the weights: more KV than twice a single GPU's.
    EXPECT_GT(make_replica_model(llama, l4, deployment{"L4", 2, 1, 1})->kv_cache_tokens(),
              2 * make_replica_model(llama, l4, deployment{"L4", 1, 1, 1})->kv_cache_tokens());
}

TEST(iteration_model, rejects_deployments_that_cannot_run_the_model) {
    const planner::gpu_catalog catalog = planner::builtin_gpu_catalog();
    const planner::model_arch qwen = planner::find_builtin_model("Qwen2.5-0.5B"); // 14 heads, 2 KV heads, 24 layers
    const planner::gpu_spec& g = catalog.get("L4", "test");
    EXPECT_THROW(make_replica_model(qwen, g, deployment{"L4", 3, 1, 1}), error);
    EXPECT_THROW(make_replica_model(qwen, g, deployment{"L4", 1, 25, 1}), error);
    EXPECT_THROW(make_replica_model(qwen, g, deployment{"L4", 2, 1, 2}), error);
    EXPECT_THROW(make_replica_model(qwen, g, deployment{"L4", 1, 1, 0}), error);
    EXPECT_NE(deployment_problem(qwen, deployment{"L4", 3, 1, 1}).find("14 attention heads"), std::string::npos);
    // tp 2: 14 heads divide, 2 KV heads divide; tp 4 would need KV replication but 14 % 4 != 0.
    EXPECT_EQ(deployment_problem(qwen, deployment{"L4", 2, 1, 1}), "");
    // Llama-3-8B has 8 KV heads: tp 8 divides them.
    EXPECT_EQ(deployment_problem(planner::find_builtin_model("Llama-3-8B"), deployment{"L4", 8, 1, 1}), "");
}

TEST(iteration_model, pipeline_step_is_bounded_by_stages_and_latency) {
    const planner::gpu_catalog catalog = planner::builtin_gpu_catalog();
    const planner::model_arch model = planner::find_builtin_model("Llama-3-8B");
    const planner::gpu_spec& g = catalog.get("H100-SXM", "test");
    const iteration_model pp2(model, g, deployment{g.name, 1, 2, 1}, builtin_params(g));
    ASSERT_EQ(pp2.stages().size(), 2U);
    EXPECT_EQ(pp2.stages()[0].n_layers + pp2.stages()[1].n_layers, model.n_layers);
    iteration_shape s;
    s.n_decode_seqs = 64;
    s.decode_context_tokens = 64 * 1000;
    const step_breakdown b = pp2.breakdown(s);
    // Two micro-batches: the period covers both through the slowest stage, and one micro-batch's latency.
    EXPECT_GE(b.total_ms, 2 * (b.gemm_ms + b.attention_ms + b.elementwise_ms + b.allreduce_ms + b.p2p_ms) - 1e-9);
    EXPECT_GE(b.total_ms, pp2.params().iteration_overhead_ms);
    // The unsplit step's latency through both stages is at least one micro-batch's.
    EXPECT_GE(pp2.step_latency_ms(s), pp2.step_latency_ms(split_shape(s, 2)));
}

TEST(iteration_model, describe_says_what_is_calibrated) {
    const planner::gpu_catalog catalog = planner::builtin_gpu_catalog();
    const planner::model_arch model = planner::find_builtin_model("Qwen2.5-0.5B");
    const std::string h100 =
        make_replica_model(model, catalog.get("H100-SXM", "t"), deployment{"H100-SXM"})->describe();
    EXPECT_NE(h100.find("calibrated 2026-11-21"), std::string::npos) << h100;
    EXPECT_EQ(h100.find("uncalibrated"), std::string::npos) << h100;
    const std::string l4 = make_replica_model(model, catalog.get("L4", "t"), deployment{"L4"})->describe();
    EXPECT_NE(l4.find("uncalibrated"), std::string::npos) << l4;
    const std::string mps =
        make_replica_model(model, catalog.get("H100-SXM", "t"), deployment{"H100-SXM", 1, 1, 2})->describe();
    EXPECT_NE(mps.find("MPS: uncalibrated hypothesis"), std::string::npos) << mps;
}

} // namespace
} // namespace llmfleet::perf
