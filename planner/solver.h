// Builds the planning MILP for a mode (fractional or slices), solves it, and turns the solution into a
// plan. Constraint families are labelled C1..C3 here and in docs/planner.md.
#pragma once

#include "planner/milp.h"
#include "planner/plan.h"

namespace llmfleet::planner {

struct solve_options {
    plan_mode mode = plan_mode::fractional;
    int64_t slice_factor = 4; // slices mode: slices per bucket (Mélange's slice_factor)
    slice_encoding encoding = slice_encoding::per_bucket_count;
    double time_limit_s = 60;
    bool warm_start = true; // hand the solver a feasible greedy plan first
};

// Never throws on an infeasible or unsolved instance: the status and reason say what happened.
// Throws invalid_argument on a malformed problem (see check_problem) or slice_factor < 1.
plan solve_plan(const plan_problem& problem, const solve_options& options);

// The MILP for (problem, options), exposed for tests and benchmarks.
milp_model build_milp(const plan_problem& problem, const solve_options& options);

} // namespace llmfleet::planner
