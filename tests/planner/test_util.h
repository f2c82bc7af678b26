// Shared fixtures for planner tests: small problems built by hand.
#pragma once

#include <string>
#include <vector>

#include "planner/plan.h"

namespace llmfleet::planner::test {

// A problem over an n_in × n_out grid without edges; rates and max_rps are flat row-major.
inline plan_problem make_problem(int64_t n_in, int64_t n_out, std::vector<double> rates, std::vector<gpu_offer> gpus,
                                 std::vector<std::vector<double>> max_rps) {
    plan_problem p;
    p.grid = make_grid_without_edges(n_in, n_out);
    p.rate_rps = std::move(rates);
    p.gpus = std::move(gpus);
    p.max_rps = std::move(max_rps);
    return p;
}

// The issue's Mélange example: A10G $1.01 tputs [[2,1],[5,2]], A100-80GB $3.67 tputs [[20,20],[40,20]],
// distribution [[0.2,0.1],[0.5,0.2]] × 30 req/s.
inline plan_problem melange_issue_example() {
    return make_problem(2, 2, {6, 3, 15, 6}, {{"A10G", 1.01, -1}, {"A100-80GB", 3.67, -1}},
                        {{2, 1, 5, 2}, {20, 20, 40, 20}});
}

inline std::string source_path(const std::string& relative) {
    return std::string(LLMFLEET_SOURCE_DIR) + "/" + relative;
}

} // namespace llmfleet::planner::test
