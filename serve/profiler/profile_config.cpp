// Flag validation and probe sizing of `llmfleet profile`; see profile_config.h.
#include "serve/profiler/profile_config.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::profiler {

namespace {

template <typename T> error bad(std::string_view flag, std::string_view expected, T value) {
    return invalid_input(fmt::format("{}: expected {}, got {}", flag, expected, value));
}

bool finite_positive(double x) {
    return std::isfinite(x) && x > 0;
}

} // namespace

void validate(const profile_config& c) {
    if (c.url.empty()) {
        throw invalid_input("--url: expected http://HOST:PORT of a running server, got an empty string");
    }
    if (c.gpu_name.empty()) {
        throw invalid_input("--gpu-name: expected the GPU type the server runs on (the profile's key, e.g. A10G), "
                            "got an empty string");
    }
    if (c.input_edges.n_buckets() < 1 || c.output_edges.n_buckets() < 1) {
        throw invalid_input(fmt::format("--input-edges / --output-edges: expected at least 2 increasing token counts "
                                        "each (one bucket), got {} / {} edges",
                                        c.input_edges.edges.size(), c.output_edges.edges.size()));
    }
    if (!finite_positive(c.slo.tpot_ms)) {
        throw bad("--slo-tpot-ms", "a time > 0 in ms", c.slo.tpot_ms);
    }
    if (!std::isfinite(c.slo.ttft_ms) || c.slo.ttft_ms < 0) {
        throw bad("--slo-ttft-ms", "a time > 0 in ms, or 0 (not checked)", c.slo.ttft_ms);
    }
    if (!(c.slo.percentile > 0 && c.slo.percentile <= 100)) {
        throw bad("--percentile", "a number in (0, 100]", c.slo.percentile);
    }
    if (!(c.slo.min_throughput_ratio > 0 && c.slo.min_throughput_ratio <= 1)) {
        throw bad("--min-throughput-ratio", "a number in (0, 1]", c.slo.min_throughput_ratio);
    }
    if (!finite_positive(c.search.max_rate_rps)) {
        throw bad("--max-rate-rps", "a rate > 0 in requests/s", c.search.max_rate_rps);
    }
    if (!finite_positive(c.search.min_rate_rps) || c.search.min_rate_rps >= c.search.max_rate_rps) {
        throw invalid_input(fmt::format("--min-rate-rps: expected a rate > 0 and below --max-rate-rps ({}), got {}",
                                        c.search.max_rate_rps, c.search.min_rate_rps));
    }
    if (!(c.search.tolerance > 0 && c.search.tolerance < 1)) {
        throw bad("--tolerance", "a relative width in (0, 1), e.g. 0.1", c.search.tolerance);
    }
    if (!(std::isfinite(c.search.growth_factor) && c.search.growth_factor > 1)) {
        throw bad("--growth-factor", "a factor > 1", c.search.growth_factor);
    }
    if (c.search.max_probes < 2) {
        throw bad("--max-probes", "at least 2 (the closed-loop probe and one open-loop probe)", c.search.max_probes);
    }
    if (c.requests_per_probe < 2) {
        throw bad("--requests-per-probe", "at least 2 (a rate needs two requests)", c.requests_per_probe);
    }
    if (c.closed_loop_requests < 1) {
        throw bad("--closed-loop-requests", "at least 1", c.closed_loop_requests);
    }
    if (!finite_positive(c.max_probe_s)) {
        throw bad("--max-probe-s", "a number of seconds > 0", c.max_probe_s);
    }
    if (!finite_positive(c.timeout_s)) {
        throw bad("--timeout-s", "a number of seconds > 0", c.timeout_s);
    }
    if (c.vocab_size < 1) {
        throw bad("--vocab-size", "at least 1", c.vocab_size);
    }
}

int64_t open_loop_requests(const profile_config& config, double rate_rps) {
    LLMFLEET_CHECK(rate_rps > 0, "open-loop probe rate must be > 0, got {}", rate_rps);
    // n requests at rate r span (n − 1) / r seconds on average.
    const double fit = std::floor(rate_rps * config.max_probe_s) + 1;
    const double n = std::clamp(fit, 2.0, static_cast<double>(std::max<int64_t>(config.requests_per_probe, 2)));
    return static_cast<int64_t>(n);
}

int64_t representative_length(const planner::bucket_edges& edges, int64_t i) {
    LLMFLEET_CHECK(i >= 0 && i < edges.n_buckets(), "bucket {} of {}", i, edges.n_buckets());
    return std::max<int64_t>(1, std::llround(edges.representative_tokens(i)));
}

} // namespace llmfleet::profiler
