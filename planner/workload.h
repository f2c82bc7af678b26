// A workload: request rates (req/s) per (input bucket × output bucket), built from a trace or given as
// a distribution matrix plus a total rate.
#pragma once

#include <optional>
#include <string>

#include "planner/bucket_grid.h"
#include "planner/trace.h"

namespace llmfleet::planner {

struct workload {
    bucket_grid grid;
    matrix rate_rps;        // [n_input, n_output] requests per second in each bucket, >= 0
    std::string source;     // "AzureLLMInferenceTrace_conv.csv (19366 requests)" or a file path
    int64_t n_requests = 0; // requests binned (0 when given as a matrix)
    int64_t n_clamped = 0;  // requests outside the edges, counted in the nearest edge bucket

    double total_rate_rps() const { return rate_rps.sum(); }
};

// Bins a trace: rate of bucket = count / n × total rate, where total rate = rate_override_rps if given,
// else the trace's mean rate. Logs one warning when requests fall outside the edges (with the count).
workload bin_trace(const trace& t, const bucket_grid& grid, std::optional<double> rate_override_rps);

// From a distribution matrix (fractions that sum to 1 ± 0.001) and a total rate >= 0 req/s.
workload workload_from_distribution(const bucket_grid& grid, const matrix& distribution, double total_rate_rps,
                                    const std::string& source);

// Workload JSON file:
//   {"input_edges": [..], "output_edges": [..], "distribution": [[..]], "total_rate_rps": 30}
// or with "rates_rps": [[..]] (absolute) instead of distribution + total_rate_rps.
// rate_override_rps rescales the total. Errors name the field and the expected form.
workload load_workload_file(const std::string& path, std::optional<double> rate_override_rps);

// Rescales every bucket so the total is `total_rate_rps` (a zero workload stays zero).
void rescale(workload& w, double total_rate_rps);

} // namespace llmfleet::planner
