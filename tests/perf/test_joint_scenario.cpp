// Joint planning scenarios (perf/joint_scenario.h): which deployments become offers, their prices and profiles,
// shared per-type availability limits, and that widening the space never makes the optimum costlier.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "perf/joint_scenario.h"
#include "planner/solver.h"

namespace llmfleet::perf {
namespace {

planner::scenario_options base_options() {
    planner::scenario_options o;
    o.model = "Llama-3-8B";
    o.gpu_names = {"L4", "H100-SXM"};
    o.target = {50, 2000.0};
    o.rate_rps = 20;
    return o;
}

TEST(joint_scenario, offers_are_feasible_deployments_priced_per_unit) {
    const joint_scenario js = build_joint_scenario(base_options(), joint_options{});
    const planner::plan_problem& p = js.base.problem;
    const double l4 = 0.7992, h100 = 3.49; // neocloud price set (data/gpu_catalog.json)
    std::set<std::string> names;
    for (const planner::gpu_offer& o : p.gpus) {
        names.insert(o.name);
        const double per_gpu = o.gpu_type() == "L4" ? l4 : h100;
        EXPECT_NEAR(o.price_usd_per_hour, per_gpu * o.gpus_per_unit(), 1e-9) << o.name;
        EXPECT_EQ(o.name, o.config.gpu.empty() ? o.gpu_type() : o.config.label());
    }
    EXPECT_TRUE(names.contains("H100-SXM"));
    EXPECT_TRUE(names.contains("H100-SXM tp2"));
    EXPECT_TRUE(names.contains("H100-SXM ×2 engines"));
    EXPECT_TRUE(names.contains("L4 tp2"));
    EXPECT_FALSE(names.contains("L4 tp2 ×2 engines")); // several engines per GPU only without parallelism
    // Every candidate is either an offer or rejected with a reason.
    int64_t feasible = 0;
    for (const deployment_candidate& c : js.candidates) {
        feasible += c.feasible ? 1 : 0;
        EXPECT_EQ(c.feasible, c.reason.empty()) << c.d.label() << ": " << c.reason;
    }
    EXPECT_EQ(feasible, p.n_gpus());
    EXPECT_EQ(js.profile_sources.size(), static_cast<size_t>(p.n_gpus()));
    // The tp2 offer's rates are the performance model's, per unit.
    for (int64_t g = 0; g < p.n_gpus(); ++g) {
        if (p.gpus[g].name == "H100-SXM tp2") {
            const planner::matrix m =
                deployment_profile(js.base.model, js.base.gpus[1], p.gpus[g].config, js.base.demand.grid,
                                   js.base.target, engine_capacity_options());
            EXPECT_EQ(p.max_rps[g], m.data);
        }
    }
}

TEST(joint_scenario, plain_search_is_melange_space_and_joint_is_never_costlier) {
    joint_options plain;
    plain.search = plain_search();
    const joint_scenario m = build_joint_scenario(base_options(), plain);
    ASSERT_EQ(m.base.problem.n_gpus(), 2);
    for (const planner::gpu_offer& o : m.base.problem.gpus) {
        EXPECT_TRUE(o.config.gpu.empty()) << o.name;
    }
    const joint_scenario j = build_joint_scenario(base_options(), joint_options{});
    const planner::plan pm = planner::solve_plan(m.base.problem, {});
    const planner::plan pj = planner::solve_plan(j.base.problem, {});
    ASSERT_TRUE(pm.has_solution());
    ASSERT_TRUE(pj.has_solution());
    EXPECT_LE(pj.cost_usd_per_hour, pm.cost_usd_per_hour + 1e-9);
}

TEST(joint_scenario, availability_limits_become_per_type_limits) {
    planner::scenario_options o = base_options();
    o.max_gpus = {"H100-SXM=3"};
    const joint_scenario js = build_joint_scenario(o, joint_options{});
    ASSERT_EQ(js.base.problem.gpu_limits.size(), 1u);
    EXPECT_EQ(js.base.problem.gpu_limits[0].gpu_type, "H100-SXM");
    EXPECT_EQ(js.base.problem.gpu_limits[0].max_gpus, 3);
    for (const planner::gpu_offer& offer : js.base.problem.gpus) {
        EXPECT_EQ(offer.max_count, -1) << offer.name;
    }
    o.rate_rps = 400; // far beyond 3 H100s: the L4s must carry the rest
    const joint_scenario big = build_joint_scenario(o, joint_options{});
    const planner::plan p = planner::solve_plan(big.base.problem, {});
    ASSERT_TRUE(p.has_solution()) << p.reason;
    EXPECT_LE(p.gpus_of_type(big.base.problem, "H100-SXM"), 3);
}

TEST(joint_scenario, a_model_no_deployment_can_run_leaves_the_solver_to_say_no_plan) {
    planner::scenario_options o = base_options();
    o.gpu_names = {"L4"};
    o.spec_overrides = {"L4.memory_gib=8"}; // 16 GB of weights on an 8 GiB GPU, even at tp 2 with KV to spare
    joint_options j;
    j.search.tp = {1, 2};
    j.search.pp = {1};
    j.search.engines_per_gpu = {1};
    const joint_scenario js = build_joint_scenario(o, j);
    ASSERT_EQ(js.base.problem.n_gpus(), 1); // the plain L4, with zero throughput
    for (double rps : js.base.problem.max_rps[0]) {
        EXPECT_EQ(rps, 0.0);
    }
    EXPECT_NE(explain_candidates(js.candidates).find("L4 tp2: "), std::string::npos);
    const planner::plan p = planner::solve_plan(js.base.problem, {});
    EXPECT_EQ(p.status, planner::plan_status::infeasible);
    EXPECT_NE(p.reason.find("zero throughput on every GPU type (L4)"), std::string::npos) << p.reason;
}

} // namespace
} // namespace llmfleet::perf
