// Calibrates the performance model on data/profiling and prints, per dataset part, how far the model is from
// the measurements: n points, median / p90 / worst |error|, and the worst point. Also prints the fitted
// parameters and whether they match the built-in ones (data/perf_params.json).
// Usage: perfmodel_validation [--data DIR] [--json] [--write-params FILE]
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "common/error.h"
#include "perf/calibration.h"
#include "perf/params_io.h"
#include "planner/gpu_catalog.h"

using namespace llmfleet;
using namespace llmfleet::perf;

namespace {

void print_table(const calibration_result& c) {
    fmt::print("{:<26} {:<58} {:<8} {:>5} {:>8} {:>8} {:>8}  {}\n", "gpu", "dataset", "role", "n", "median", "p90",
               "worst", "worst point");
    for (const validation_row& r : c.rows) {
        fmt::print("{:<26} {:<58} {:<8} {:>5} {:>7.1f}% {:>7.1f}% {:>7.1f}%  {}\n", r.gpu, r.dataset, r.role,
                   r.errors.n_points, 100 * r.errors.median, 100 * r.errors.p90, 100 * r.errors.worst, r.worst_point);
    }
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Calibrate and validate the llmfleet performance model on measured timings"};
    std::string data_dir = LLMFLEET_PROFILING_DATA_DIR;
    bool json = false;
    std::string write_params;
    app.add_option("--data", data_dir, "folder holding vidur/ and splitwise/ (default: the repo's data/profiling)");
    app.add_flag("--json", json, "print the rows and the fitted parameters as JSON instead of a table");
    app.add_option("--write-params", write_params, "write the fitted parameters to this file (data/perf_params.json)");
    CLI11_PARSE(app, argc, argv);
    try {
        const calibration_result c = calibrate(load_profiling_data(data_dir), planner::builtin_gpu_catalog());
        if (!write_params.empty()) {
            write_params_file(write_params, c.params);
        }
        if (json) {
            fmt::print("{}\n", calibration_to_json(c));
            return 0;
        }
        fmt::print("perfmodel_validation: data {}, {} datasets\n\n", data_dir, c.rows.size());
        print_table(c);
        fmt::print("\nfitted parameters:\n{}\n", params_to_json(c.params));
        const std::string mismatch = compare_with_builtin(c.params);
        fmt::print("\nbuilt-in parameters (data/perf_params.json): {}\n",
                   mismatch.empty() ? "match the fit" : mismatch);
        return mismatch.empty() ? 0 : 1;
    } catch (const error& e) {
        fmt::print(stderr, "perfmodel_validation: {}\n", e.what());
        return 2;
    }
}
