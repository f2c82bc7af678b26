// The calibration fit against synthetic points with known coefficients (decode step = overhead + per_seq ×
// batch, first token = overhead + ms_per_token × prompt), its degenerate cases and warnings, and the JSON
// schema the performance model reads.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "serve/profiler/calibration.h"

namespace llmfleet::profiler {
namespace {

TEST(fit_line, recovers_an_exact_line) {
    const std::vector<double> x = {1, 2, 4, 8, 16};
    std::vector<double> y;
    for (const double v : x) {
        y.push_back(3 + 0.25 * v);
    }
    const line_fit f = fit_line(x, y);
    EXPECT_NEAR(f.intercept, 3, 1e-12);
    EXPECT_NEAR(f.slope, 0.25, 1e-12);
    EXPECT_NEAR(f.r2, 1, 1e-12);
    EXPECT_EQ(f.n_points, 5);
    EXPECT_FALSE(f.degenerate);
}

TEST(fit_line, symmetric_noise_cancels) {
    // Pairs at the same x with ±noise: the least-squares line is the noiseless one; r² < 1.
    std::vector<double> x, y;
    for (const double v : {2.0, 5.0, 11.0}) {
        for (const double noise : {-0.7, 0.7}) {
            x.push_back(v);
            y.push_back(1.5 + 2 * v + noise);
        }
    }
    const line_fit f = fit_line(x, y);
    EXPECT_NEAR(f.intercept, 1.5, 1e-9);
    EXPECT_NEAR(f.slope, 2, 1e-9);
    EXPECT_LT(f.r2, 1);
    EXPECT_GT(f.r2, 0.9);
}

TEST(fit_line, degenerate_inputs) {
    const line_fit none = fit_line({}, {});
    EXPECT_EQ(none.n_points, 0);
    EXPECT_TRUE(none.degenerate);
    const std::vector<double> same_x = {4, 4, 4}, y = {1, 2, 3};
    const line_fit flat = fit_line(same_x, y);
    EXPECT_TRUE(flat.degenerate);
    EXPECT_EQ(flat.slope, 0);
    EXPECT_NEAR(flat.intercept, 2, 1e-12) << "the mean of y";
}

// A probe whose decode batch (achieved × mean decode time) and mean TPOT are given.
probe_record decode_probe(double rate_rps, double batch, double tpot_ms, bool closed_loop = false,
                          double ttft_ms = 10) {
    probe_record r;
    probe_measurement& m = r.measurement;
    m.point = {closed_loop, closed_loop ? 0 : rate_rps};
    m.n_requests = 10;
    m.achieved_rps = rate_rps;
    m.sent_rps = rate_rps;
    m.mean_decode_s = batch / rate_rps;
    m.tpot_mean_ms = tpot_ms;
    m.tpot_p50_ms = tpot_ms;
    m.tpot_p90_ms = tpot_ms * 1.1;
    m.ttft_p50_ms = ttft_ms;
    m.ttft_p90_ms = ttft_ms * 1.2;
    r.verdict = {true, "held"};
    return r;
}

TEST(calibration, decode_and_prefill_coefficients_are_recovered) {
    constexpr double overhead_ms = 4.0, per_seq_ms = 0.3;            // decode step
    constexpr double prefill_overhead_ms = 6.0, per_token_ms = 0.05; // first token of a lone request
    std::vector<calibration_point> points;
    for (const int64_t prompt : {16, 128, 1024}) {
        // Closed loop: batch 1 (no other request), TTFT = one prefill.
        points.push_back(make_point(prompt, 32,
                                    decode_probe(2.0, 1.0, overhead_ms + per_seq_ms * 1.0, true,
                                                 prefill_overhead_ms + per_token_ms * static_cast<double>(prompt))));
        for (const double batch : {3.0, 9.0, 27.0}) {
            points.push_back(make_point(prompt, 32, decode_probe(5 * batch, batch, overhead_ms + per_seq_ms * batch)));
        }
    }
    EXPECT_NEAR(points[1].decode_batch, 3.0, 1e-12) << "Little's law: achieved rps × mean decode s";
    const calibration_fit fit = fit_calibration(points);
    EXPECT_NEAR(fit.decode_step.intercept, overhead_ms, 1e-9);
    EXPECT_NEAR(fit.decode_step.slope, per_seq_ms, 1e-9);
    EXPECT_EQ(fit.decode_step.n_points, 12);
    EXPECT_NEAR(fit.prefill.intercept, prefill_overhead_ms, 1e-9);
    EXPECT_NEAR(fit.prefill.slope, per_token_ms, 1e-9);
    EXPECT_EQ(fit.prefill.n_points, 3) << "closed-loop points only";
    EXPECT_TRUE(fit.warnings.empty()) << fit.warnings.front();

    const auto j = nlohmann::json::parse(calibration_to_json({"http://x:1", "tiny", "L4", slo_target{}}, points, fit));
    EXPECT_EQ(j["schema"], "llmfleet.calibration.v1");
    EXPECT_EQ(j["source"]["gpu"], "L4");
    EXPECT_TRUE(j["slo"]["ttft_ms"].is_null()) << "0: not checked";
    ASSERT_EQ(j["points"].size(), 12u);
    EXPECT_TRUE(j["points"][0]["closed_loop"].get<bool>());
    EXPECT_TRUE(j["points"][0]["offered_rps"].is_null());
    EXPECT_EQ(j["points"][1]["offered_rps"], 15.0);
    EXPECT_NEAR(j["points"][1]["decode_batch"].get<double>(), 3.0, 1e-12);
    EXPECT_NEAR(j["points"][1]["tpot_ms"]["mean"].get<double>(), overhead_ms + per_seq_ms * 3, 1e-12);
    EXPECT_EQ(j["points"][1]["input_tokens"], 16);
    EXPECT_NEAR(j["fit"]["decode_step"]["overhead_ms"].get<double>(), overhead_ms, 1e-9);
    EXPECT_NEAR(j["fit"]["decode_step"]["per_seq_ms"].get<double>(), per_seq_ms, 1e-9);
    EXPECT_NEAR(j["fit"]["prefill"]["ms_per_token"].get<double>(), per_token_ms, 1e-9);
    EXPECT_TRUE(j["fit"]["warnings"].empty());
}

TEST(calibration, points_without_tpot_or_completions_are_left_out_of_the_decode_fit) {
    std::vector<calibration_point> points;
    points.push_back(make_point(8, 16, decode_probe(10, 2, 5)));
    points.push_back(make_point(8, 16, decode_probe(10, 4, 6)));
    probe_record one_token = decode_probe(10, 2, 100);
    one_token.measurement.tpot_mean_ms.reset(); // 1-token outputs have no TPOT
    points.push_back(make_point(8, 1, one_token));
    probe_record all_failed = decode_probe(10, 2, 100);
    all_failed.measurement.n_failed = 10;
    points.push_back(make_point(8, 16, all_failed));
    const calibration_fit fit = fit_calibration(points);
    EXPECT_EQ(fit.decode_step.n_points, 2);
    EXPECT_NEAR(fit.decode_step.intercept, 4, 1e-9);
    EXPECT_NEAR(fit.decode_step.slope, 0.5, 1e-9);
    const auto j = nlohmann::json::parse(calibration_to_json({}, points, fit));
    EXPECT_TRUE(j["points"][2]["tpot_ms"].is_null());
}

TEST(calibration, one_prompt_length_fits_prefill_through_the_origin_and_warns) {
    std::vector<calibration_point> points;
    points.push_back(make_point(100, 8, decode_probe(1, 1, 5, true, 20)));
    points.push_back(make_point(100, 8, decode_probe(1, 1, 5, true, 30)));
    const calibration_fit fit = fit_calibration(points);
    EXPECT_EQ(fit.prefill.intercept, 0);
    EXPECT_NEAR(fit.prefill.slope, 0.25, 1e-12) << "mean TTFT 25 ms / 100 tokens";
    bool warned_prefill = false, warned_decode = false;
    for (const std::string& w : fit.warnings) {
        warned_prefill |= w.find("prefill: a single prompt length") != std::string::npos;
        warned_decode |= w.find("decode_step: every point has the same batch") != std::string::npos;
    }
    EXPECT_TRUE(warned_prefill);
    EXPECT_TRUE(warned_decode);
}

TEST(calibration, negative_coefficients_are_flagged) {
    std::vector<calibration_point> points;
    points.push_back(make_point(8, 16, decode_probe(10, 1, 10)));
    points.push_back(make_point(8, 16, decode_probe(10, 2, 5)));
    const calibration_fit fit = fit_calibration(points);
    EXPECT_LT(fit.decode_step.slope, 0);
    bool warned = false;
    for (const std::string& w : fit.warnings) {
        warned |= w.find("decode_step: per_seq_ms") != std::string::npos;
    }
    EXPECT_TRUE(warned);
}

} // namespace
} // namespace llmfleet::profiler
