// The grid loop, the profile, the calibration points and the table; see profile_session.h.
#include "serve/profiler/profile_session.h"

#include <fmt/core.h>

#include "common/check.h"

namespace llmfleet::profiler {

std::vector<bucket_result> profile_buckets(const profile_config& config, const bucket_probe_function& probe,
                                           const bucket_probe_observer& observe) {
    std::vector<bucket_result> results;
    for (int64_t i = 0; i < config.input_edges.n_buckets(); ++i) {
        for (int64_t j = 0; j < config.output_edges.n_buckets(); ++j) {
            bucket_result b;
            b.i_input = i;
            b.i_output = j;
            b.input_tokens = representative_length(config.input_edges, i);
            b.output_tokens = representative_length(config.output_edges, j);
            const probe_function at_lengths = [&](const probe_point& point) {
                return probe(b.input_tokens, b.output_tokens, point);
            };
            probe_observer seen;
            if (observe) {
                seen = [&](const probe_record& record) { observe(b.input_tokens, b.output_tokens, record); };
            }
            b.search = search_max_rate(at_lengths, config.slo, config.search, seen);
            results.push_back(std::move(b));
        }
    }
    return results;
}

planner::throughput_profile make_profile(const profile_config& config, std::span<const bucket_result> results,
                                         std::string source) {
    planner::throughput_profile profile;
    profile.grid = planner::make_grid(config.input_edges, config.output_edges);
    LLMFLEET_CHECK(static_cast<int64_t>(results.size()) == profile.grid.n_buckets(), "{} results for a {}x{} grid",
                   results.size(), profile.grid.n_input, profile.grid.n_output);
    planner::matrix rates(profile.grid.n_input, profile.grid.n_output, 0.0);
    for (const bucket_result& b : results) {
        rates.at(b.i_input, b.i_output) = b.search.max_rps;
    }
    profile.max_rps[config.gpu_name] = std::move(rates);
    profile.source = std::move(source);
    return profile;
}

std::vector<calibration_point> calibration_points(std::span<const bucket_result> results) {
    std::vector<calibration_point> points;
    for (const bucket_result& b : results) {
        for (const probe_record& p : b.search.probes) {
            points.push_back(make_point(b.input_tokens, b.output_tokens, p));
        }
    }
    return points;
}

std::string results_table(const profile_config& config, std::span<const bucket_result> results) {
    const std::string p = fmt::format("p{:g}", config.slo.percentile);
    std::string text =
        fmt::format("{:<24} {:>13} {:>11} {:>13} {:>13} {:>7}  {}\n", "bucket (input × output)", "tokens in/out",
                    "max req/s", "TPOT " + p + " ms", "TTFT " + p + " ms", "probes", "outcome");
    for (const bucket_result& b : results) {
        const std::string label =
            fmt::format("{} × {}", config.input_edges.label(b.i_input), config.output_edges.label(b.i_output));
        std::string tpot = "-", ttft = "-";
        if (b.search.at_max) {
            if (b.search.at_max->tpot_slo_ms) {
                tpot = fmt::format("{:.2f}", *b.search.at_max->tpot_slo_ms);
            }
            ttft = fmt::format("{:.2f}", b.search.at_max->ttft_slo_ms);
        }
        text += fmt::format("{:<24} {:>13} {:>11.4g} {:>13} {:>13} {:>7}  {}\n", label,
                            fmt::format("{}/{}", b.input_tokens, b.output_tokens), b.search.max_rps, tpot, ttft,
                            b.search.probes.size(), to_string(b.search.outcome));
    }
    return text;
}

} // namespace llmfleet::profiler
