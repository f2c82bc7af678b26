// Planner MILP: hand-computed optima, Mélange's examples, infeasible and zero-rate cases, and agreement
// between the slice encodings and a brute-force oracle on small random instances.
#include <cmath>
#include <functional>
#include <random>

#include <gtest/gtest.h>

#include "common/error.h"
#include "planner/plan_validator.h"
#include "planner/solver.h"
#include "test_util.h"

namespace llmfleet::planner {
namespace {

using test::make_problem;

plan solve_valid(const plan_problem& p, const solve_options& o) {
    plan result = solve_plan(p, o);
    const std::vector<std::string> violations = validate_plan(p, result);
    EXPECT_TRUE(violations.empty()) << (violations.empty() ? "" : violations[0]);
    return result;
}

solve_options slices(int64_t s, slice_encoding e = slice_encoding::per_bucket_count) {
    solve_options o;
    o.mode = plan_mode::slices;
    o.slice_factor = s;
    o.encoding = e;
    return o;
}

// Rates 6, 3, 15, 6. Loads on A10G: 3, 3, 3, 3 (12 in all); on A100: 0.3, 0.15, 0.375, 0.3 (1.125).
// Whole buckets: one A100 takes three buckets (<= 0.975) and 3 A10G the last one: 3 × 1.01 + 3.67 = 6.70,
// below 2 A100 (7.34) and 12 A10G (12.12).
TEST(solver, melange_issue_example_slices_matches_hand_optimum) {
    const plan p = solve_valid(test::melange_issue_example(), slices(1));
    ASSERT_EQ(p.status, plan_status::optimal);
    EXPECT_NEAR(p.cost_usd_per_hour, 6.70, 1e-9);
    EXPECT_EQ(p.gpu_count[0], 3);
    EXPECT_EQ(p.gpu_count[1], 1);
}

// Fractional: one A100 carries 1.0 of the 1.125 load; a third of bucket (1,0) (load 0.125 on the A100,
// 1.0 on an A10G) moves to one A10G: 3.67 + 1.01 = 4.68.
TEST(solver, melange_issue_example_fractional_splits_a_bucket) {
    const plan p = solve_valid(test::melange_issue_example(), solve_options{});
    ASSERT_EQ(p.status, plan_status::optimal);
    EXPECT_NEAR(p.cost_usd_per_hour, 4.68, 1e-9);
    EXPECT_EQ(p.gpu_count[0], 1);
    EXPECT_EQ(p.gpu_count[1], 1);
    EXPECT_NEAR(p.share[2][0], 1.0 / 3.0, 1e-6);
}

// Mélange's repo example (rate 16): A10G loads 0.8, 2, 0.6, 0.8 (4.2 → 5 A10G = 5.05) is cheapest;
// any A100 costs 3.67 and saves at most one A10G.
TEST(solver, melange_repo_example) {
    const plan_problem problem =
        make_problem(2, 2, {4, 2, 6, 4}, {{"A10G", 1.01, -1}, {"A100", 3.67, -1}}, {{5, 1, 10, 5}, {20, 2, 50, 20}});
    for (const solve_options& o : {solve_options{}, slices(1), slices(4)}) {
        const plan p = solve_valid(problem, o);
        ASSERT_EQ(p.status, plan_status::optimal);
        EXPECT_NEAR(p.cost_usd_per_hour, 5.05, 1e-9);
        EXPECT_EQ(p.gpu_count[0], 5);
        EXPECT_EQ(p.gpu_count[1], 0);
    }
}

// One type, one bucket: 10 req/s at 3 req/s per GPU needs ceil(10/3) = 4 GPUs; at 50% headroom, 7.
TEST(solver, single_type_rounds_up_and_respects_utilisation) {
    plan_problem problem = make_problem(1, 1, {10}, {{"L4", 0.8, -1}}, {{3}});
    plan p = solve_valid(problem, solve_options{});
    ASSERT_EQ(p.status, plan_status::optimal);
    EXPECT_EQ(p.gpu_count[0], 4);
    EXPECT_NEAR(p.cost_usd_per_hour, 3.2, 1e-9);
    problem.max_utilisation = 0.5;
    p = solve_valid(problem, solve_options{});
    EXPECT_EQ(p.gpu_count[0], 7);
}

// Two buckets each suited to a different type: big bucket on the cheap-per-request GPU, small one
// where it costs least. Cheap: 1 $/h, 1 req/s on bucket 0, 0 on bucket 1 (cannot serve).
// Big: 3 $/h, 4 req/s on both. Rates 2 and 4: bucket 1 needs one Big (load 1.0) and bucket 0 either
// 2 Cheap (2 $) or 0.5 Big (needs a second Big, 3 $): 2 Cheap + 1 Big = 5 $/h.
TEST(solver, zero_throughput_pairs_are_never_used) {
    const plan_problem problem = make_problem(1, 2, {2, 4}, {{"Cheap", 1, -1}, {"Big", 3, -1}}, {{1, 0}, {4, 4}});
    const plan p = solve_valid(problem, solve_options{});
    ASSERT_EQ(p.status, plan_status::optimal);
    EXPECT_NEAR(p.cost_usd_per_hour, 5.0, 1e-9);
    EXPECT_EQ(p.share[1][0], 0.0);
}

TEST(solver, bucket_without_any_throughput_is_infeasible_with_reason) {
    plan_problem problem = make_problem(1, 2, {2, 0.5}, {{"A", 1, -1}, {"B", 2, -1}}, {{1, 0}, {2, 0}});
    problem.grid = make_grid(make_bucket_edges({1, 100}, "in"), make_bucket_edges({1, 512, 1024}, "out"));
    const plan p = solve_plan(problem, solve_options{});
    EXPECT_EQ(p.status, plan_status::infeasible);
    EXPECT_NE(p.reason.find("input 1-100 × output 512-1024"), std::string::npos) << p.reason;
    EXPECT_NE(p.reason.find("zero throughput on every GPU type"), std::string::npos) << p.reason;
    EXPECT_TRUE(validate_plan(problem, p).empty());
}

TEST(solver, availability_limits_can_make_it_infeasible) {
    plan_problem problem = make_problem(1, 1, {10}, {{"L4", 0.8, 3}, {"A100", 3, 0}}, {{3}, {20}});
    const plan p = solve_plan(problem, solve_options{});
    EXPECT_EQ(p.status, plan_status::infeasible);
    EXPECT_NE(p.reason.find("--max-gpus"), std::string::npos) << p.reason;
    // With one more L4 allowed the plan exists and uses all four.
    problem.gpus[0].max_count = 4;
    const plan q = solve_valid(problem, solve_options{});
    ASSERT_EQ(q.status, plan_status::optimal);
    EXPECT_EQ(q.gpu_count[0], 4);
}

TEST(solver, availability_limit_forces_a_dearer_type) {
    // Unlimited: 4 L4 (3.2 $/h) beat one A100 (4 $/h). With at most 2 L4, the choice is 2 L4 + 1 A100
    // (5.6 $/h) or the A100 alone carrying load 0.5 (4 $/h).
    plan_problem problem = make_problem(1, 1, {10}, {{"L4", 0.8, -1}, {"A100", 4, -1}}, {{3}, {20}});
    plan p = solve_valid(problem, solve_options{});
    ASSERT_EQ(p.status, plan_status::optimal);
    EXPECT_EQ(p.gpu_count[0], 4);
    EXPECT_NEAR(p.cost_usd_per_hour, 3.2, 1e-9);
    problem.gpus[0].max_count = 2;
    p = solve_valid(problem, solve_options{});
    ASSERT_EQ(p.status, plan_status::optimal);
    EXPECT_EQ(p.gpu_count[0], 0);
    EXPECT_EQ(p.gpu_count[1], 1);
    EXPECT_NEAR(p.cost_usd_per_hour, 4.0, 1e-9);
}

TEST(solver, zero_rate_workload_needs_no_gpus) {
    const plan_problem problem = make_problem(1, 2, {0, 0}, {{"A", 1, -1}}, {{0, 5}});
    for (const solve_options& o : {solve_options{}, slices(4)}) {
        const plan p = solve_valid(problem, o);
        EXPECT_EQ(p.status, plan_status::optimal);
        EXPECT_EQ(p.cost_usd_per_hour, 0.0);
        EXPECT_EQ(p.gpu_count[0], 0);
    }
}

TEST(solver, zero_rate_bucket_with_zero_throughput_is_fine) {
    const plan_problem problem = make_problem(1, 2, {3, 0}, {{"A", 1, -1}}, {{3, 0}});
    const plan p = solve_valid(problem, solve_options{});
    ASSERT_EQ(p.status, plan_status::optimal);
    EXPECT_EQ(p.gpu_count[0], 1);
}

TEST(solver, rejects_malformed_problems) {
    plan_problem problem = make_problem(1, 1, {-1}, {{"A", 1, -1}}, {{1}});
    EXPECT_THROW(solve_plan(problem, solve_options{}), error);
    problem.rate_rps = {1};
    problem.max_rps = {{1, 2}};
    EXPECT_THROW(solve_plan(problem, solve_options{}), error);
    problem.max_rps = {{1}};
    EXPECT_THROW(solve_plan(problem, slices(0)), error);
    problem.max_utilisation = 1.5;
    EXPECT_THROW(solve_plan(problem, solve_options{}), error);
}

// Brute force for the slice program: every way to spread each bucket's S slices over the types.
double brute_force_slices(const plan_problem& p, int64_t s) {
    const int64_t n_g = p.n_gpus();
    std::vector<std::vector<int64_t>> splits; // all compositions of s into n_g parts
    std::vector<int64_t> cur(n_g, 0);
    std::function<void(int64_t, int64_t)> rec = [&](int64_t g, int64_t left) {
        if (g == n_g - 1) {
            cur[g] = left;
            splits.push_back(cur);
            return;
        }
        for (int64_t k = 0; k <= left; ++k) {
            cur[g] = k;
            rec(g + 1, left - k);
        }
    };
    rec(0, s);
    double best = INFINITY;
    std::vector<size_t> choice(p.n_buckets(), 0);
    while (true) {
        std::vector<double> load(n_g, 0.0);
        bool ok = true;
        for (int64_t b = 0; b < p.n_buckets() && ok; ++b) {
            for (int64_t g = 0; g < n_g; ++g) {
                const int64_t k = splits[choice[b]][g];
                if (k == 0) {
                    continue;
                }
                if (p.max_rps[g][b] <= 0) {
                    ok = false;
                    break;
                }
                load[g] += p.load(g, b) * static_cast<double>(k) / static_cast<double>(s);
            }
        }
        if (ok) {
            double cost = 0;
            for (int64_t g = 0; g < n_g; ++g) {
                cost += std::ceil(load[g] / p.max_utilisation - 1e-9) * p.gpus[g].price_usd_per_hour;
            }
            best = std::min(best, cost);
        }
        int64_t b = 0;
        while (b < p.n_buckets() && ++choice[b] == splits.size()) {
            choice[b++] = 0;
        }
        if (b == p.n_buckets()) {
            return best;
        }
    }
}

// Property: for random small instances, the aggregated slice program, Mélange's per-slice binary
// program and brute force give the same optimum; fractional is never dearer; all plans validate.
TEST(solver, slice_encodings_agree_with_brute_force) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> rate(0.5, 12.0), tput(0.5, 10.0), price(0.5, 4.0);
    for (int trial = 0; trial < 12; ++trial) {
        std::vector<double> rates(4);
        for (double& r : rates) {
            r = rate(rng);
        }
        std::vector<gpu_offer> gpus = {{"A", price(rng), -1}, {"B", price(rng), -1}, {"C", price(rng), -1}};
        std::vector<std::vector<double>> max_rps(3, std::vector<double>(4));
        for (auto& row : max_rps) {
            for (double& t : row) {
                t = tput(rng);
            }
        }
        max_rps[trial % 3][trial % 4] = 0; // one pair cannot serve
        const plan_problem p = make_problem(2, 2, rates, gpus, max_rps);
        const int64_t s = 1 + trial % 3;
        const double oracle = brute_force_slices(p, s);
        const plan agg = solve_valid(p, slices(s));
        const plan bin = solve_valid(p, slices(s, slice_encoding::per_slice_binary));
        const plan frac = solve_valid(p, solve_options{});
        ASSERT_EQ(agg.status, plan_status::optimal);
        ASSERT_EQ(bin.status, plan_status::optimal);
        EXPECT_NEAR(agg.cost_usd_per_hour, oracle, 1e-6) << "trial " << trial;
        EXPECT_NEAR(bin.cost_usd_per_hour, oracle, 1e-6) << "trial " << trial;
        EXPECT_LE(frac.cost_usd_per_hour, oracle + 1e-6) << "trial " << trial;
    }
}

TEST(solver, warm_start_does_not_change_the_optimum) {
    solve_options cold = slices(2);
    cold.warm_start = false;
    const plan a = solve_valid(test::melange_issue_example(), cold);
    const plan b = solve_valid(test::melange_issue_example(), slices(2));
    EXPECT_NEAR(a.cost_usd_per_hour, b.cost_usd_per_hour, 1e-9);
}

// A tight time limit on a hard instance (Mélange's per-slice binary program, no start): whatever the
// status, it is one of the time-limit outcomes or optimal, any plan validates, and a gap means a bound
// below the cost.
TEST(solver, time_limit_outcomes_are_explicit) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> rate(0.5, 30.0), tput(0.3, 9.0);
    std::vector<double> rates(36);
    for (double& r : rates) {
        r = rate(rng);
    }
    std::vector<gpu_offer> gpus = {{"A", 1.01, -1}, {"B", 0.80, -1}, {"C", 3.43, -1}, {"D", 6.88, -1}};
    std::vector<std::vector<double>> max_rps(4, std::vector<double>(36));
    for (size_t g = 0; g < 4; ++g) {
        for (double& t : max_rps[g]) {
            t = tput(rng) * static_cast<double>(g + 1);
        }
    }
    const plan_problem p = make_problem(6, 6, rates, gpus, max_rps);
    solve_options o = slices(8, slice_encoding::per_slice_binary);
    o.time_limit_s = 0.05;
    o.warm_start = false;
    const plan result = solve_plan(p, o);
    EXPECT_TRUE(result.status == plan_status::optimal || result.status == plan_status::feasible_with_gap ||
                result.status == plan_status::time_limit)
        << to_string(result.status);
    EXPECT_TRUE(validate_plan(p, result).empty());
    if (result.status == plan_status::feasible_with_gap) {
        EXPECT_LT(result.bound_usd_per_hour, result.cost_usd_per_hour);
        EXPECT_GT(result.gap(), 0.0);
    }
    if (result.status == plan_status::time_limit) {
        EXPECT_NE(result.reason.find("--time-limit"), std::string::npos);
    }
}

TEST(solver, single_type_baseline) {
    const single_type_plan base = cheapest_single_type(test::melange_issue_example());
    // All on A100: ceil(1.125) = 2 × 3.67 = 7.34 beats 12 × 1.01.
    ASSERT_EQ(base.gpu, 1);
    EXPECT_EQ(base.count, 2);
    EXPECT_NEAR(base.cost_usd_per_hour, 7.34, 1e-9);
}

// Joint offers: "H100" plain (1 GPU, 10 req/s, $2) and "H100 tp2" (2 GPUs, 24 req/s, $4) share one limit of
// 4 H100s (C3b). 48 req/s: 5 plain GPUs ($10) break the limit (and cost more); 2 tp2 units carry exactly 48 on
// 4 GPUs ($8), the only $8 mix (1 tp2 + 2 plain carries 44).
TEST(solver, joint_offers_share_a_gpu_type_limit) {
    plan_problem problem =
        make_problem(1, 1, {48}, {{"H100", 2.0, -1}, {"H100 tp2", 4.0, -1, {"H100", 2, 1, 1}}}, {{10}, {24}});
    problem.gpu_limits = {{"H100", 4}};
    for (const solve_options& o : {solve_options{}, slices(1)}) {
        const plan p = solve_valid(problem, o);
        ASSERT_EQ(p.status, plan_status::optimal);
        EXPECT_NEAR(p.cost_usd_per_hour, 8.0, 1e-9);
        EXPECT_EQ(p.gpu_count[1], 2);
        EXPECT_EQ(p.gpus_of_type(problem, "H100"), 4);
    }
    problem.gpu_limits = {{"H100", 3}}; // 3 GPUs carry at most 24 + 10 = 34 req/s
    const plan none = solve_plan(problem, solve_options{});
    EXPECT_EQ(none.status, plan_status::infeasible);
    EXPECT_NE(none.reason.find("H100=3"), std::string::npos) << none.reason;
}

TEST(validator, flags_a_gpu_type_limit_broken_across_deployments) {
    plan_problem problem =
        make_problem(1, 1, {20}, {{"L4", 1.0, -1}, {"L4 ×2 engines", 1.0, -1, {"L4", 1, 1, 2}}}, {{10}, {12}});
    problem.gpu_limits = {{"L4", 2}};
    plan p;
    p.status = plan_status::optimal;
    p.gpu_count = {1, 2}; // 3 L4s
    p.share = {{0.5, 0.5}};
    p.cost_usd_per_hour = 3.0;
    p.bound_usd_per_hour = 3.0;
    const std::vector<std::string> errors = validate_plan(problem, p);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find("L4: 3 GPUs across its deployments exceed the availability limit 2"), std::string::npos)
        << errors[0];
}

} // namespace
} // namespace llmfleet::planner
