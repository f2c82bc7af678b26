// Calibration of a step-time model from the profile's probes (schema llmfleet.calibration.v1): every probe as a
// measured point, and least-squares fits of
//   decode step ms  = overhead_ms + per_seq_ms × batch        (batch by Little's law: achieved rps × mean decode s)
//   first token ms  = overhead_ms + ms_per_token × prompt      (closed-loop probes: no queueing, one prefill)
// The performance model (perf/) reads fit.decode_step.overhead_ms. Pure: no clock, no network.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "serve/profiler/profile_config.h"
#include "serve/profiler/rate_search.h"

namespace llmfleet::profiler {

inline constexpr std::string_view calibration_schema = "llmfleet.calibration.v1";

// y ≈ intercept + slope · x by ordinary least squares.
struct line_fit {
    double intercept = 0;
    double slope = 0;
    double r2 = 0;          // 1 − SS_res / SS_tot (1 when every y is equal and fitted exactly)
    int64_t n_points = 0;   //
    bool degenerate = true; // fewer than 2 distinct x: slope 0, intercept the mean of y (0 without points)
};
// note: x.size() == y.size() (checked).
line_fit fit_line(std::span<const double> x, std::span<const double> y);

struct calibration_point {
    int64_t input_tokens = 0;
    int64_t output_tokens = 0;
    probe_measurement measurement;
    bool slo_held = false;
    double decode_batch = 0; // achieved_rps × mean_decode_s: sequences decoding at once, on average
};

struct calibration_fit {
    line_fit decode_step;              // x: decode_batch, y: mean TPOT ms (intercept = overhead_ms, slope = per_seq_ms)
    line_fit prefill;                  // x: prompt tokens, y: TTFT p50 ms of closed-loop probes (slope = ms_per_token)
    std::vector<std::string> warnings; // fits that should not be trusted, and why
};

// The point of one probe of bucket (input_tokens, output_tokens).
calibration_point make_point(int64_t input_tokens, int64_t output_tokens, const probe_record& probe);

// Decode: points with ≥ 2 completed requests and a TPOT. Prefill: closed-loop points with a completed request;
// with a single prompt length, a line through the origin (overhead 0). Warns on too few points, negative
// coefficients and r² < 0.5.
calibration_fit fit_calibration(std::span<const calibration_point> points);

struct calibration_source {
    std::string url;
    std::string model;
    std::string gpu_name;
    slo_target slo;
};

// {"schema", "source": {"url", "model", "gpu"}, "slo": {...}, "points": [{"input_tokens", "output_tokens",
// "closed_loop", "offered_rps" (null for the closed loop), "sent_rps", "achieved_rps", "mean_concurrency",
// "decode_batch", "mean_decode_ms", "n_requests", "n_failed", "slo_held", "ttft_ms": {"p50", "p90"},
// "tpot_ms": {"mean", "p50", "p90"} (null without TPOT samples)}], "fit": {"decode_step": {"overhead_ms",
// "per_seq_ms", "r2", "n_points", "degenerate"}, "prefill": {"overhead_ms", "ms_per_token", "r2", "n_points",
// "degenerate"}, "warnings": [..]}}, pretty-printed.
std::string calibration_to_json(const calibration_source& source, std::span<const calibration_point> points,
                                const calibration_fit& fit);

} // namespace llmfleet::profiler
