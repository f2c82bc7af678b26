// solve_milp() on COIN-OR CBC: the model is loaded into Clp through Osi, then CBC's standard driver
// (CbcMain1: presolve, cut generators, heuristics, branch and bound) runs it with a time limit.
// note: CbcMain0/CbcMain1 keep static parameter tables, so calls are serialised with a mutex.
#include "planner/milp.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include <CbcModel.hpp>
#include <CoinPackedMatrix.hpp>
#include <OsiClpSolverInterface.hpp>

#include <fmt/core.h>

#include "common/check.h"

namespace llmfleet::planner {

namespace {
std::mutex cbc_mutex;

double finite_or(double x, double inf) {
    return std::isinf(x) ? (x > 0 ? inf : -inf) : x;
}
} // namespace

milp_result solve_milp(const milp_model& model, const milp_options& options) {
    const auto t0 = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(cbc_mutex);

    OsiClpSolverInterface solver;
    const double inf = solver.getInfinity();
    const int n_cols = model.n_cols();
    const int n_rows = model.n_rows();
    std::vector<double> col_lower(n_cols), col_upper(n_cols), row_lower(n_rows), row_upper(n_rows);
    for (int j = 0; j < n_cols; ++j) {
        col_lower[j] = finite_or(model.col_lower[j], inf);
        col_upper[j] = finite_or(model.col_upper[j], inf);
    }
    for (int i = 0; i < n_rows; ++i) {
        row_lower[i] = finite_or(model.row_lower[i], inf);
        row_upper[i] = finite_or(model.row_upper[i], inf);
    }
    std::vector<int> lengths(n_rows);
    for (int i = 0; i < n_rows; ++i) {
        lengths[i] = model.row_start[i + 1] - model.row_start[i];
    }
    const CoinPackedMatrix matrix(false, n_cols, n_rows, static_cast<CoinBigIndex>(model.row_cols.size()),
                                  model.row_coefs.data(), model.row_cols.data(), model.row_start.data(),
                                  lengths.data());
    solver.loadProblem(matrix, col_lower.data(), col_upper.data(), model.objective.data(), row_lower.data(),
                       row_upper.data());
    for (int j = 0; j < n_cols; ++j) {
        if (model.is_integer[j]) {
            solver.setInteger(j);
        }
        solver.setColName(j, model.col_names[j]);
    }
    for (int i = 0; i < n_rows; ++i) {
        solver.setRowName(i, model.row_names[i]);
    }
    solver.messageHandler()->setLogLevel(0);

    CbcModel cbc(solver);
    cbc.messageHandler()->setLogLevel(0);
    if (!model.start.empty()) {
        LLMFLEET_CHECK(static_cast<int>(model.start.size()) == n_cols, "start has {} values for {} columns",
                       model.start.size(), n_cols);
        std::vector<std::pair<std::string, double>> start;
        for (int j = 0; j < n_cols; ++j) {
            start.emplace_back(model.col_names[j], model.start[j]);
        }
        cbc.setMIPStart(start);
    }
    CbcMain0(cbc);
    const std::string seconds = fmt::format("{}", options.time_limit_s);
    const std::string gap = fmt::format("{}", options.relative_gap);
    // LLMFLEET_CBC_LOG=1 shows CBC's own progress log on stdout (for diagnosing slow solves).
    const char* log_env = std::getenv("LLMFLEET_CBC_LOG");
    const char* log = log_env != nullptr ? log_env : "0";
    const char* argv[] = {"llmfleet",      "-log",   log,         "-slog",  log,    "-sec",
                          seconds.c_str(), "-ratio", gap.c_str(), "-solve", "-quit"};
    CbcMain1(static_cast<int>(sizeof(argv) / sizeof(argv[0])), argv, cbc);

    milp_result result;
    const double* best = cbc.bestSolution();
    if (best != nullptr) {
        result.x.assign(best, best + n_cols);
        result.objective = cbc.getObjValue();
    }
    result.best_bound = cbc.getBestPossibleObjValue();
    if (cbc.isProvenOptimal() && best != nullptr) {
        result.status = milp_status::optimal;
        result.best_bound = std::min(result.best_bound, result.objective);
    } else if (cbc.isProvenInfeasible()) {
        result.status = milp_status::infeasible;
    } else if (cbc.isContinuousUnbounded()) {
        result.status = milp_status::unbounded;
    } else if (best != nullptr) {
        result.status = milp_status::feasible;
    } else if (cbc.isSecondsLimitReached() || cbc.status() == 1) {
        result.status = milp_status::no_solution;
    } else {
        result.status = milp_status::error;
        result.message =
            fmt::format("CBC stopped with status {} secondary status {}", cbc.status(), cbc.secondaryStatus());
    }
    result.solve_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

} // namespace llmfleet::planner
