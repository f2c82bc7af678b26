// A small solver-neutral mixed-integer linear program and the adapter that solves it. The planner builds
// milp_model objects; only cbc_solver.cpp includes COIN-OR headers (LLMFLEET_SOLVER=cbc).
#pragma once

#include <limits>
#include <string>
#include <vector>

namespace llmfleet::planner {

inline constexpr double milp_infinity = std::numeric_limits<double>::infinity();

struct milp_model {
    // Columns (variables).
    std::vector<double> col_lower;
    std::vector<double> col_upper;
    std::vector<double> objective; // minimised
    std::vector<char> is_integer;  // 1 = integer
    std::vector<std::string> col_names;
    // Rows (constraints) lower <= Σ coef·x <= upper, in compressed row form.
    std::vector<double> row_lower;
    std::vector<double> row_upper;
    std::vector<int> row_start; // [n_rows + 1] offsets into row_cols / row_coefs
    std::vector<int> row_cols;
    std::vector<double> row_coefs;
    std::vector<std::string> row_names;

    milp_model() { row_start.push_back(0); }
    int n_cols() const { return static_cast<int>(objective.size()); }
    int n_rows() const { return static_cast<int>(row_lower.size()); }
    int add_col(std::string name, double lower, double upper, double cost, bool integer);
    void add_row(std::string name, const std::vector<int>& cols, const std::vector<double>& coefs, double lower,
                 double upper);
    // Optional starting solution (a feasible point speeds up branch and bound); empty = none.
    std::vector<double> start;
};

enum class milp_status {
    optimal,     // proven optimal
    feasible,    // a solution, but the time limit stopped the proof (gap > 0)
    infeasible,  // proven infeasible
    no_solution, // the time limit ran out before any solution was found
    unbounded,
    error,
};
std::string_view to_string(milp_status status);

struct milp_options {
    double time_limit_s = 60;
    double relative_gap = 1e-9; // stop when (best - bound) / best <= this
};

struct milp_result {
    milp_status status = milp_status::error;
    std::vector<double> x; // [n_cols] when a solution exists
    double objective = 0;  // of x
    double best_bound = 0; // proven lower bound on the optimum
    double solve_ms = 0;
    std::string message; // the solver's words on failure
};

// Throws error(unavailable) when built with LLMFLEET_SOLVER=none.
milp_result solve_milp(const milp_model& model, const milp_options& options);

} // namespace llmfleet::planner
