// The independent validator: accepts solver plans and rejects each kind of corruption with a message.
#include <gtest/gtest.h>

#include "planner/plan_validator.h"
#include "planner/solver.h"
#include "test_util.h"

namespace llmfleet::planner {
namespace {

bool mentions(const std::vector<std::string>& violations, const std::string& text) {
    for (const std::string& v : violations) {
        if (v.find(text) != std::string::npos) {
            return true;
        }
    }
    return false;
}

class validator : public ::testing::Test {
protected:
    plan_problem problem = test::melange_issue_example();
    plan good = solve_plan(problem, solve_options{});
};

TEST_F(validator, accepts_the_solver_plan) {
    ASSERT_EQ(good.status, plan_status::optimal);
    EXPECT_TRUE(validate_plan(problem, good).empty());
}

TEST_F(validator, rejects_a_bucket_routed_twice) {
    plan bad = good;
    bad.share[0][0] += 0.5;
    EXPECT_TRUE(mentions(validate_plan(problem, bad), "shares sum to"));
}

TEST_F(validator, rejects_a_bucket_left_out) {
    plan bad = good;
    bad.share[3] = {0.0, 0.0};
    EXPECT_TRUE(mentions(validate_plan(problem, bad), "shares sum to 0"));
}

TEST_F(validator, rejects_exceeded_capacity) {
    plan bad = good;
    bad.gpu_count = {0, 1};
    bad.cost_usd_per_hour = 3.67;
    bad.bound_usd_per_hour = 3.67;
    EXPECT_TRUE(mentions(validate_plan(problem, bad), "exceeds capacity"));
}

TEST_F(validator, rejects_a_wrong_cost) {
    plan bad = good;
    bad.cost_usd_per_hour -= 1.0;
    bad.bound_usd_per_hour = bad.cost_usd_per_hour;
    EXPECT_TRUE(mentions(validate_plan(problem, bad), "counts × prices give"));
}

TEST_F(validator, rejects_counts_over_availability) {
    plan_problem limited = problem;
    limited.gpus[0].max_count = 0;
    EXPECT_TRUE(mentions(validate_plan(limited, good), "exceed the availability limit"));
}

TEST_F(validator, rejects_routes_to_a_type_that_cannot_serve) {
    plan_problem blocked = problem;
    blocked.max_rps[0][2] = 0;
    EXPECT_TRUE(mentions(validate_plan(blocked, good), "cannot serve it"));
}

TEST_F(validator, rejects_partial_slices) {
    plan sliced = solve_plan(problem, solve_options{plan_mode::slices, 2});
    ASSERT_TRUE(validate_plan(problem, sliced).empty());
    sliced.share[0][0] = 0.25;
    sliced.share[0][1] = 0.75;
    EXPECT_TRUE(mentions(validate_plan(problem, sliced), "not a whole number"));
}

TEST_F(validator, rejects_bad_shapes_and_missing_reasons) {
    plan bad = good;
    bad.gpu_count.pop_back();
    EXPECT_TRUE(mentions(validate_plan(problem, bad), "shape"));
    plan failed;
    failed.status = plan_status::infeasible;
    EXPECT_TRUE(mentions(validate_plan(problem, failed), "without a reason"));
}

} // namespace
} // namespace llmfleet::planner
