// Calibration points, least-squares fits and their JSON form; see calibration.h.
#include "serve/profiler/calibration.h"

#include <cmath>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/check.h"

namespace llmfleet::profiler {

namespace {

using json = nlohmann::ordered_json;

json optional_number(const std::optional<double>& x) {
    return x ? json(*x) : json(nullptr);
}

json point_json(const calibration_point& p) {
    const probe_measurement& m = p.measurement;
    json tpot = nullptr;
    if (m.tpot_mean_ms) {
        tpot = {{"mean", *m.tpot_mean_ms},
                {"p50", optional_number(m.tpot_p50_ms)},
                {"p90", optional_number(m.tpot_p90_ms)}};
    }
    return {{"input_tokens", p.input_tokens},
            {"output_tokens", p.output_tokens},
            {"closed_loop", m.point.closed_loop},
            {"offered_rps", m.point.closed_loop ? json(nullptr) : json(m.point.rate_rps)},
            {"sent_rps", m.sent_rps},
            {"achieved_rps", m.achieved_rps},
            {"mean_concurrency", m.mean_in_flight},
            {"decode_batch", p.decode_batch},
            {"mean_decode_ms", m.mean_decode_s * 1000},
            {"n_requests", m.n_requests},
            {"n_failed", m.n_failed},
            {"slo_held", p.slo_held},
            {"ttft_ms", {{"p50", m.ttft_p50_ms}, {"p90", m.ttft_p90_ms}}},
            {"tpot_ms", tpot}};
}

json fit_json(const line_fit& f, const char* intercept_name, const char* slope_name) {
    return {{intercept_name, f.intercept},
            {slope_name, f.slope},
            {"r2", f.r2},
            {"n_points", f.n_points},
            {"degenerate", f.degenerate}};
}

void warn_fit(const line_fit& f, std::string_view what, const char* intercept_name, const char* slope_name,
              std::vector<std::string>& warnings) {
    if (f.n_points == 0) {
        warnings.push_back(fmt::format("{}: no usable points", what));
        return;
    }
    if (f.intercept < 0) {
        warnings.push_back(
            fmt::format("{}: {} {:.4g} < 0 (noise or too narrow a range)", what, intercept_name, f.intercept));
    }
    if (f.slope < 0) {
        warnings.push_back(fmt::format("{}: {} {:.4g} < 0 (noise or too narrow a range)", what, slope_name, f.slope));
    }
    if (!f.degenerate && f.r2 < 0.5) {
        warnings.push_back(fmt::format("{}: r² {:.2f} < 0.5, the line explains little of the spread", what, f.r2));
    }
}

} // namespace

line_fit fit_line(std::span<const double> x, std::span<const double> y) {
    LLMFLEET_CHECK(x.size() == y.size(), "fit_line: {} x values but {} y values", x.size(), y.size());
    line_fit f;
    f.n_points = static_cast<int64_t>(x.size());
    if (x.empty()) {
        return f;
    }
    const double n = static_cast<double>(x.size());
    double mean_x = 0, mean_y = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        mean_x += x[i] / n;
        mean_y += y[i] / n;
    }
    double sxx = 0, sxy = 0, syy = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        sxx += (x[i] - mean_x) * (x[i] - mean_x);
        sxy += (x[i] - mean_x) * (y[i] - mean_y);
        syy += (y[i] - mean_y) * (y[i] - mean_y);
    }
    // "Distinct" relative to the scale of x, so that rounding noise does not count as a spread.
    const double scale = std::max(1.0, std::abs(mean_x));
    f.degenerate = sxx <= 1e-18 * scale * scale * n;
    f.slope = f.degenerate ? 0 : sxy / sxx;
    f.intercept = mean_y - f.slope * mean_x;
    double ss_res = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double r = y[i] - (f.intercept + f.slope * x[i]);
        ss_res += r * r;
    }
    f.r2 = syy > 0 ? 1 - ss_res / syy : 1.0;
    return f;
}

calibration_point make_point(int64_t input_tokens, int64_t output_tokens, const probe_record& probe) {
    calibration_point p;
    p.input_tokens = input_tokens;
    p.output_tokens = output_tokens;
    p.measurement = probe.measurement;
    p.slo_held = probe.verdict.held;
    p.decode_batch = probe.measurement.achieved_rps * probe.measurement.mean_decode_s;
    return p;
}

calibration_fit fit_calibration(std::span<const calibration_point> points) {
    calibration_fit fit;
    std::vector<double> batch, step_ms, prompt, ttft_ms;
    for (const calibration_point& p : points) {
        const probe_measurement& m = p.measurement;
        if (m.n_completed() >= 2 && m.tpot_mean_ms && p.decode_batch > 0) {
            batch.push_back(p.decode_batch);
            step_ms.push_back(*m.tpot_mean_ms);
        }
        if (m.point.closed_loop && m.n_completed() >= 1) {
            prompt.push_back(static_cast<double>(p.input_tokens));
            ttft_ms.push_back(m.ttft_p50_ms);
        }
    }
    fit.decode_step = fit_line(batch, step_ms);
    if (fit.decode_step.degenerate && fit.decode_step.n_points > 0) {
        fit.warnings.push_back("decode_step: every point has the same batch: per_seq_ms cannot be told from "
                               "overhead_ms (0 here); probe higher rates or longer outputs");
    }
    fit.prefill = fit_line(prompt, ttft_ms);
    if (fit.prefill.degenerate && fit.prefill.n_points > 0 && prompt.front() > 0) {
        // One prompt length: a line through the origin, so that ms_per_token still says something.
        fit.prefill.slope = fit.prefill.intercept / prompt.front();
        fit.prefill.intercept = 0;
        fit.warnings.push_back("prefill: a single prompt length: the overhead cannot be separated (line through the "
                               "origin); use at least two input buckets");
    }
    warn_fit(fit.decode_step, "decode_step", "overhead_ms", "per_seq_ms", fit.warnings);
    warn_fit(fit.prefill, "prefill", "overhead_ms", "ms_per_token", fit.warnings);
    return fit;
}

std::string calibration_to_json(const calibration_source& source, std::span<const calibration_point> points,
                                const calibration_fit& fit) {
    json doc;
    doc["schema"] = calibration_schema;
    doc["source"] = {{"url", source.url}, {"model", source.model}, {"gpu", source.gpu_name}};
    doc["slo"] = {{"tpot_ms", source.slo.tpot_ms},
                  {"ttft_ms", source.slo.ttft_ms > 0 ? json(source.slo.ttft_ms) : json(nullptr)},
                  {"percentile", source.slo.percentile},
                  {"min_throughput_ratio", source.slo.min_throughput_ratio}};
    json list = json::array();
    for (const calibration_point& p : points) {
        list.push_back(point_json(p));
    }
    doc["points"] = std::move(list);
    doc["fit"] = {{"decode_step", fit_json(fit.decode_step, "overhead_ms", "per_seq_ms")},
                  {"prefill", fit_json(fit.prefill, "overhead_ms", "ms_per_token")},
                  {"warnings", fit.warnings}};
    return doc.dump(2);
}

} // namespace llmfleet::profiler
