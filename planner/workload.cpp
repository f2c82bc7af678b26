// See workload.h.
#include "planner/workload.h"

#include <cmath>

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/log.h"
#include "common/text.h"

namespace llmfleet::planner {

namespace {
void check_rate(double rate_rps, std::string_view field) {
    if (!std::isfinite(rate_rps) || rate_rps < 0) {
        throw invalid_input(fmt::format("{}: expected a request rate >= 0 req/s, got {}", field, rate_rps));
    }
}

} // namespace

void rescale(workload& w, double total_rate_rps) {
    check_rate(total_rate_rps, "--rate");
    const double current = w.total_rate_rps();
    if (current <= 0) {
        if (total_rate_rps > 0) {
            throw invalid_input(
                fmt::format("--rate {}: cannot rescale a workload whose every bucket is 0 req/s", total_rate_rps));
        }
        return;
    }
    for (double& x : w.rate_rps.data) {
        x *= total_rate_rps / current;
    }
}

workload bin_trace(const trace& t, const bucket_grid& grid, std::optional<double> rate_override_rps) {
    LLMFLEET_CHECK(grid.has_edges(), "binning a trace needs bucket edges");
    workload w;
    w.grid = grid;
    w.rate_rps = matrix(grid.n_input, grid.n_output);
    w.n_requests = static_cast<int64_t>(t.requests.size());
    w.source = fmt::format("{} ({} requests)", t.name, w.n_requests);
    for (const trace_request& r : t.requests) {
        bool clamped_in = false;
        bool clamped_out = false;
        const int64_t i = grid.input.bucket_of(r.input_tokens, &clamped_in);
        const int64_t j = grid.output.bucket_of(r.output_tokens, &clamped_out);
        w.n_clamped += (clamped_in || clamped_out) ? 1 : 0;
        w.rate_rps.at(i, j) += 1;
    }
    if (w.n_clamped > 0) {
        LLMFLEET_LOG_WARN("trace '{}': {} of {} requests fall outside the bucket edges (input {}..{}, output {}..{}) "
                          "and were counted in the nearest edge bucket; widen --input-edges/--output-edges to "
                          "plan for them exactly",
                          t.name, w.n_clamped, w.n_requests, grid.input.edges.front(), grid.input.edges.back(),
                          grid.output.edges.front(), grid.output.edges.back());
    }
    const double total = rate_override_rps ? *rate_override_rps : t.mean_rate_rps();
    check_rate(total, "--rate");
    for (double& x : w.rate_rps.data) {
        x = x / static_cast<double>(w.n_requests) * total;
    }
    return w;
}

workload workload_from_distribution(const bucket_grid& grid, const matrix& distribution, double total_rate_rps,
                                    const std::string& source) {
    check_rate(total_rate_rps, source + ": total_rate_rps");
    if (distribution.n_rows != grid.n_input || distribution.n_cols != grid.n_output) {
        throw invalid_input(fmt::format("{}: distribution is {}x{} but the bucket grid is {}x{} (input × output)",
                                        source, distribution.n_rows, distribution.n_cols, grid.n_input, grid.n_output));
    }
    const double sum = distribution.sum();
    if (std::abs(sum - 1.0) > 1e-3) {
        throw invalid_input(fmt::format("{}: distribution sums to {:.6g}, expected 1 (±0.001); give absolute "
                                        "per-bucket rates in rates_rps instead",
                                        source, sum));
    }
    workload w;
    w.grid = grid;
    w.source = source;
    w.rate_rps = distribution;
    for (double& x : w.rate_rps.data) {
        x = x / sum * total_rate_rps;
    }
    return w;
}

namespace {
workload load_workload_body(const std::string& path, std::optional<double> rate_override_rps) {
    namespace jr = json_read;
    const jr::json doc = jr::parse(read_file(path, "workload"), "");
    const std::string root = "workload";
    const bucket_grid grid =
        make_grid(bucket_edges_from_json(doc, "input_edges", root), bucket_edges_from_json(doc, "output_edges", root));
    const jr::json* dist = jr::optional_member(doc, "distribution", root);
    const jr::json* rates = jr::optional_member(doc, "rates_rps", root);
    if ((dist == nullptr) == (rates == nullptr)) {
        throw invalid_input("give exactly one of 'distribution' (with 'total_rate_rps') or 'rates_rps'");
    }
    workload w;
    if (dist != nullptr) {
        const matrix d = matrix::from_rows(jr::non_negative_matrix(*dist, jr::child(root, "distribution")));
        const double total = jr::number(jr::member(doc, "total_rate_rps", root), jr::child(root, "total_rate_rps"));
        w = workload_from_distribution(grid, d, total, root);
        w.source = path;
    } else {
        w.grid = grid;
        w.source = path;
        w.rate_rps = matrix::from_rows(jr::non_negative_matrix(*rates, jr::child(root, "rates_rps")));
        if (w.rate_rps.n_rows != grid.n_input || w.rate_rps.n_cols != grid.n_output) {
            throw invalid_input(fmt::format("workload.rates_rps is {}x{} but the edges give a {}x{} grid",
                                            w.rate_rps.n_rows, w.rate_rps.n_cols, grid.n_input, grid.n_output));
        }
    }
    if (rate_override_rps) {
        rescale(w, *rate_override_rps);
    }
    return w;
}

} // namespace

workload load_workload_file(const std::string& path, std::optional<double> rate_override_rps) {
    try {
        return load_workload_body(path, rate_override_rps);
    } catch (const error& e) {
        throw e.with_context(path);
    }
}

} // namespace llmfleet::planner
