// Replica capacity and deployment enumeration: monotonic in the output length and the TPOT SLO, the
// cannot-serve limits, per-unit rates, and rejected deployments with their reasons.
#include <gtest/gtest.h>

#include "perf/deployments.h"
#include "perf/replica_capacity.h"

namespace llmfleet::perf {
namespace {

const planner::gpu_catalog& catalog() {
    static const planner::gpu_catalog c = planner::builtin_gpu_catalog();
    return c;
}

TEST(replica_capacity, longer_outputs_give_fewer_requests_per_second) {
    const planner::model_arch llama = planner::find_builtin_model("Llama-3-8B");
    const planner::model_arch qwen = planner::find_builtin_model("Qwen2.5-0.5B");
    const std::vector<double> lengths = {13, 62, 175, 375, 750, 1500, 3000, 6000};
    int n_served = 0;
    int n_total = 0;
    for (const planner::model_arch* model : {&llama, &qwen}) {
        for (const deployment& d : {deployment{"H100-SXM", 1, 1, 1}, deployment{"A100-80GB", 2, 1, 1},
                                    deployment{"L4", 2, 2, 1}, deployment{"L4", 1, 1, 2}}) {
            const auto m = make_replica_model(*model, catalog().get(d.gpu, "test"), d);
            for (const planner::slo& target : {planner::slo{50, {}}, planner::slo{100, 2000.0}}) {
                for (const double input : lengths) {
                    double previous = 1e300;
                    for (const double output : lengths) {
                        const capacity_point c = replica_capacity(*m, input, output, target);
                        n_served += c.max_rps > 0 ? 1 : 0;
                        n_total += 1;
                        // Strictly fewer while served; never more.
                        EXPECT_LE(c.max_rps, previous)
                            << model->name << " " << d.label() << " (" << input << ", " << output << ")";
                        if (c.max_rps > 0) {
                            EXPECT_LT(c.max_rps, previous) << model->name << " " << d.label();
                            EXPECT_LE(c.iteration_ms, target.tpot_ms);
                        }
                        previous = c.max_rps;
                    }
                }
            }
        }
    }
    EXPECT_EQ(n_total, 1024);
    EXPECT_GT(n_served, 500) << n_served; // most shapes are served: the test is not vacuous
}

TEST(replica_capacity, stricter_tpot_gives_fewer_requests_per_second) {
    const planner::model_arch model = planner::find_builtin_model("Qwen2.5-7B");
    const auto m = make_replica_model(model, catalog().get("A100-80GB", "test"), deployment{"A100-80GB"});
    double previous = 1e300;
    for (const double tpot : {200.0, 100.0, 60.0, 45.0, 35.0}) {
        const capacity_point c = replica_capacity(*m, 500, 200, planner::slo{tpot, {}});
        EXPECT_LE(c.max_rps, previous) << "TPOT " << tpot;
        EXPECT_LE(c.iteration_ms, tpot);
        previous = c.max_rps;
    }
    // Below the step overhead nothing meets the SLO.
    const capacity_point none = replica_capacity(*m, 500, 200, planner::slo{1.0, {}});
    EXPECT_EQ(none.max_rps, 0.0);
    EXPECT_EQ(none.limit, "tpot");
    // A TTFT target can only lower the rate.
    const capacity_point loose = replica_capacity(*m, 4000, 200, planner::slo{60, {}});
    const capacity_point ttft = replica_capacity(*m, 4000, 200, planner::slo{60, 300.0});
    EXPECT_LE(ttft.max_rps, loose.max_rps);
    EXPECT_LE(ttft.ttft_ms, 300.0);
}

TEST(replica_capacity, cannot_serve_cases_say_why) {
    const planner::model_arch llama = planner::find_builtin_model("Llama-3-8B");
    const planner::gpu_spec& l4 = catalog().get("L4", "test");
    // Two engines each holding 16 GB of weights on a 24 GiB GPU.
    const auto two = make_replica_model(llama, l4, deployment{"L4", 1, 1, 2});
    EXPECT_EQ(replica_capacity(*two, 100, 100, planner::slo{1000, {}}).limit, "weights do not fit");
    const auto one = make_replica_model(llama, l4, deployment{"L4", 1, 1, 1});
    const capacity_point huge = replica_capacity(*one, 1e7, 100, planner::slo{1000, {}});
    EXPECT_EQ(huge.max_rps, 0.0);
    EXPECT_EQ(huge.limit, "one request does not fit");
}

TEST(deployment_profile, unit_rate_is_replicas_per_unit_times_the_replica_rate) {
    const planner::model_arch model = planner::find_builtin_model("Qwen2.5-0.5B");
    const planner::gpu_spec& l4 = catalog().get("L4", "test");
    const planner::bucket_grid grid = planner::make_grid(planner::make_bucket_edges({1, 100, 1000}, "in"),
                                                         planner::make_bucket_edges({1, 50, 500}, "out"));
    const planner::slo target{80, {}};
    const deployment two{"L4", 1, 1, 2};
    const planner::matrix unit = deployment_profile(model, l4, two, grid, target);
    ASSERT_EQ(unit.n_rows, 2);
    ASSERT_EQ(unit.n_cols, 2);
    const auto replica = make_replica_model(model, l4, two);
    for (int64_t i = 0; i < 2; ++i) {
        for (int64_t j = 0; j < 2; ++j) {
            const double in = grid.input.representative_tokens(i);
            const double out = grid.output.representative_tokens(j);
            EXPECT_DOUBLE_EQ(unit.at(i, j), 2 * replica_capacity(*replica, in, out, target).max_rps);
            EXPECT_GT(unit.at(i, j), 0);
        }
    }
}

TEST(enumerate_deployments, rejects_with_reasons) {
    const planner::model_arch qwen = planner::find_builtin_model("Qwen2.5-0.5B"); // 14 heads, 2 KV heads
    const planner::gpu_spec& l4 = catalog().get("L4", "test");
    deployment_options o;
    o.tp = {3};
    o.pp = {1};
    o.engines_per_gpu = {1};
    const std::vector<deployment_candidate> tp3 = enumerate_deployments(qwen, {l4}, o);
    ASSERT_EQ(tp3.size(), 1U);
    EXPECT_FALSE(tp3[0].feasible);
    EXPECT_NE(tp3[0].reason.find("14 attention heads do not divide by tp 3"), std::string::npos) << tp3[0].reason;

    const std::vector<deployment_candidate> all = enumerate_deployments(qwen, {l4});
    EXPECT_EQ(all.size(), 4U * 8U * 3U);
    int n_feasible = 0;
    for (const deployment_candidate& c : all) {
        if (!c.feasible) {
            EXPECT_FALSE(c.reason.empty()) << c.d.label();
            continue;
        }
        ++n_feasible;
        EXPECT_TRUE(c.d.engines_per_gpu == 1 || (c.d.tp == 1 && c.d.pp == 1)) << c.d.label();
        EXPECT_LE(c.d.tp * c.d.pp, 8) << c.d.label();
        EXPECT_EQ(qwen.n_heads % c.d.tp, 0) << c.d.label();
        EXPECT_GE(c.kv_cache_tokens, o.min_kv_tokens) << c.d.label();
    }
    EXPECT_GT(n_feasible, 0);
    // Two copies of Llama-3-8B do not fit on one L4: rejected for memory, with the sizes in the reason.
    o = deployment_options{};
    o.tp = {1};
    o.pp = {1};
    o.engines_per_gpu = {2};
    const auto llama2 = enumerate_deployments(planner::find_builtin_model("Llama-3-8B"), {l4}, o);
    ASSERT_EQ(llama2.size(), 1U);
    EXPECT_FALSE(llama2[0].feasible);
    EXPECT_NE(llama2[0].reason.find("GiB weights"), std::string::npos) << llama2[0].reason;
}

} // namespace
} // namespace llmfleet::perf
