// Model building helpers; see milp.h. The solve itself lives in cbc_solver.cpp (or no_solver.cpp).
#include "planner/milp.h"

#include "common/check.h"

namespace llmfleet::planner {

int milp_model::add_col(std::string name, double lower, double upper, double cost, bool integer) {
    LLMFLEET_CHECK(lower <= upper, "column {}: lower {} > upper {}", name, lower, upper);
    col_lower.push_back(lower);
    col_upper.push_back(upper);
    objective.push_back(cost);
    is_integer.push_back(integer ? 1 : 0);
    col_names.push_back(std::move(name));
    return n_cols() - 1;
}

void milp_model::add_row(std::string name, const std::vector<int>& cols, const std::vector<double>& coefs, double lower,
                         double upper) {
    LLMFLEET_CHECK(cols.size() == coefs.size(), "row {}: {} columns but {} coefficients", name, cols.size(),
                   coefs.size());
    for (size_t k = 0; k < cols.size(); ++k) {
        LLMFLEET_CHECK(cols[k] >= 0 && cols[k] < n_cols(), "row {}: column {} out of range", name, cols[k]);
        row_cols.push_back(cols[k]);
        row_coefs.push_back(coefs[k]);
    }
    row_lower.push_back(lower);
    row_upper.push_back(upper);
    row_start.push_back(static_cast<int>(row_cols.size()));
    row_names.push_back(std::move(name));
}

std::string_view to_string(milp_status status) {
    switch (status) {
    case milp_status::optimal:
        return "optimal";
    case milp_status::feasible:
        return "feasible";
    case milp_status::infeasible:
        return "infeasible";
    case milp_status::no_solution:
        return "no_solution";
    case milp_status::unbounded:
        return "unbounded";
    case milp_status::error:
        return "error";
    }
    return "unknown";
}

} // namespace llmfleet::planner
