// See arrivals.h.
#include "sim/arrivals.h"

#include <cmath>
#include <limits>
#include <random>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::sim {

namespace {

// A trace length as a request length: 0 → 1 (counted), beyond int32 → error naming the request.
int32_t to_length(int64_t tokens, std::string_view what, size_t index, const std::string& origin, int64_t& n_clamped) {
    if (tokens > std::numeric_limits<int32_t>::max()) {
        throw invalid_input(
            fmt::format("trace '{}' request {}: {} {} exceeds 2^31 − 1 tokens", origin, index, what, tokens));
    }
    if (tokens < 1) {
        ++n_clamped;
        return 1;
    }
    return static_cast<int32_t>(tokens);
}

// A uniform double in [0, 1) from the top 53 bits: the same on every standard library (unlike the distributions).
double uniform01(std::mt19937_64& rng) {
    return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

} // namespace

arrivals arrivals_from_trace(const planner::trace& t, const trace_arrival_options& options) {
    if (t.requests.empty()) {
        throw invalid_input(fmt::format("trace '{}': no requests; hint: check the file and --trace-format", t.name));
    }
    if (options.max_requests && *options.max_requests < 1) {
        throw invalid_input(fmt::format("--max-requests: expected ≥ 1, got {}", *options.max_requests));
    }
    double scale = 1;
    std::string source = t.name;
    if (options.rate_rps) {
        if (!(*options.rate_rps > 0) || !std::isfinite(*options.rate_rps)) {
            throw invalid_input(fmt::format("--rate: expected a request rate > 0 req/s, got {}", *options.rate_rps));
        }
        const double native_rps = t.mean_rate_rps(); // throws for a zero span, with a hint
        scale = native_rps / *options.rate_rps;
        source += fmt::format(" rescaled from {:.3f} to {:.3f} req/s", native_rps, *options.rate_rps);
    }
    const size_t n = options.max_requests ? std::min(t.requests.size(), static_cast<size_t>(*options.max_requests))
                                          : t.requests.size();
    arrivals out;
    out.requests.reserve(n);
    const double t0 = t.requests.front().arrival_s;
    for (size_t i = 0; i < n; ++i) {
        const planner::trace_request& r = t.requests[i];
        request_spec spec;
        spec.arrival_s = (r.arrival_s - t0) * scale;
        spec.input_tokens = to_length(r.input_tokens, "input", i, t.name, out.n_input_clamped);
        spec.output_tokens = to_length(r.output_tokens, "output", i, t.name, out.n_output_clamped);
        out.requests.push_back(spec);
    }
    if (n < t.requests.size()) {
        source += fmt::format(", first {} of {} requests", n, t.requests.size());
    }
    out.source = std::move(source);
    return out;
}

arrivals poisson_arrivals(const poisson_options& options) {
    if (!(options.rate_rps > 0) || !std::isfinite(options.rate_rps)) {
        throw invalid_input(fmt::format("--poisson-rate: expected a request rate > 0 req/s, got {}", options.rate_rps));
    }
    if (options.n_requests < 1) {
        throw invalid_input(fmt::format("--n-requests: expected ≥ 1, got {}", options.n_requests));
    }
    const planner::trace* lengths = options.length_source;
    if (lengths != nullptr && lengths->requests.empty()) {
        throw invalid_input(fmt::format("trace '{}': no requests to sample lengths from", lengths->name));
    }
    if (lengths == nullptr && (options.input_tokens < 1 || options.output_tokens < 1)) {
        throw invalid_input(fmt::format("--input-len / --output-len: expected ≥ 1 tokens each, got {} and {}; hint: "
                                        "give both, or --trace FILE to sample lengths from a trace",
                                        options.input_tokens, options.output_tokens));
    }
    std::mt19937_64 rng(options.seed);
    arrivals out;
    out.requests.reserve(static_cast<size_t>(options.n_requests));
    double now_s = 0;
    for (int64_t i = 0; i < options.n_requests; ++i) {
        request_spec spec;
        spec.arrival_s = now_s;
        if (lengths != nullptr) {
            const auto k = static_cast<size_t>(uniform01(rng) * static_cast<double>(lengths->requests.size()));
            const planner::trace_request& r = lengths->requests[std::min(k, lengths->requests.size() - 1)];
            spec.input_tokens = to_length(r.input_tokens, "input", k, lengths->name, out.n_input_clamped);
            spec.output_tokens = to_length(r.output_tokens, "output", k, lengths->name, out.n_output_clamped);
        } else {
            spec.input_tokens = options.input_tokens;
            spec.output_tokens = options.output_tokens;
        }
        out.requests.push_back(spec);
        now_s += -std::log1p(-uniform01(rng)) / options.rate_rps; // exponential gap, mean 1 / rate
    }
    out.source = lengths != nullptr
                     ? fmt::format("Poisson {:.3f} req/s, lengths sampled from {} (seed {})", options.rate_rps,
                                   lengths->name, options.seed)
                     : fmt::format("Poisson {:.3f} req/s, {} input / {} output tokens (seed {})", options.rate_rps,
                                   options.input_tokens, options.output_tokens, options.seed);
    return out;
}

planner::trace repeat_trace(const planner::trace& t, int64_t n_requests) {
    if (n_requests < 1) {
        throw invalid_input(fmt::format("repeat_trace: expected ≥ 1 requests, got {}", n_requests));
    }
    const double span_s = t.requests.size() < 2 ? 0 : t.requests.back().arrival_s - t.requests.front().arrival_s;
    if (!(span_s > 0)) {
        throw invalid_input(
            fmt::format("trace '{}': cannot repeat {} request(s) spanning 0 s", t.name, t.requests.size()));
    }
    const double period_s = span_s + span_s / static_cast<double>(t.requests.size());
    const double t0 = t.requests.front().arrival_s;
    planner::trace out;
    out.name = fmt::format("{} ×{:.1f}", t.name, static_cast<double>(n_requests) / t.requests.size());
    out.requests.reserve(static_cast<size_t>(n_requests));
    for (int64_t i = 0; i < n_requests; ++i) {
        const auto copy = static_cast<size_t>(i) / t.requests.size();
        planner::trace_request r = t.requests[static_cast<size_t>(i) % t.requests.size()];
        r.arrival_s = r.arrival_s - t0 + static_cast<double>(copy) * period_s;
        out.requests.push_back(r);
    }
    return out;
}

} // namespace llmfleet::sim
