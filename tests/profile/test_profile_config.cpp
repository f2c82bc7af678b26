// `llmfleet profile`'s pure parts besides the search: flag validation (messages name the flag, the expected
// range and the value), probe sizing, representative lengths, the summary of a probe's request records, and a
// whole 2×3 grid against a fake server (profile shape and values, calibration points, the table).
#include <vector>

#include <gtest/gtest.h>

#include "serve/profiler/probe_runner.h"
#include "serve/profiler/profile_session.h"
#include "tests/test_support.h"

namespace llmfleet::profiler {
namespace {

using llmfleet::test::error_of;

profile_config valid_config() {
    profile_config c;
    c.gpu_name = "L4";
    c.input_edges = planner::parse_bucket_edges("1,64,256", "--input-edges");
    c.output_edges = planner::parse_bucket_edges("1,16,64,128", "--output-edges");
    return c;
}

// The message validate() throws after `change`, or "(no error)".
template <typename F> std::string validate_after(F change) {
    profile_config c = valid_config();
    change(c);
    return error_of([&] { validate(c); });
}

TEST(profile_config, defaults_with_a_gpu_and_edges_are_valid) {
    EXPECT_EQ(validate_after([](profile_config&) {}), "(no error)");
}

TEST(profile_config, each_bad_flag_is_named_with_the_expected_range) {
    EXPECT_NE(validate_after([](profile_config& c) { c.gpu_name.clear(); }).find("--gpu-name: expected the GPU type"),
              std::string::npos);
    EXPECT_EQ(validate_after([](profile_config& c) { c.slo.tpot_ms = 0; }),
              "--slo-tpot-ms: expected a time > 0 in ms, got 0");
    EXPECT_EQ(validate_after([](profile_config& c) { c.slo.ttft_ms = -1; }),
              "--slo-ttft-ms: expected a time > 0 in ms, or 0 (not checked), got -1");
    EXPECT_EQ(validate_after([](profile_config& c) { c.slo.percentile = 0; }),
              "--percentile: expected a number in (0, 100], got 0");
    EXPECT_EQ(validate_after([](profile_config& c) { c.slo.percentile = 101; }),
              "--percentile: expected a number in (0, 100], got 101");
    EXPECT_EQ(validate_after([](profile_config& c) { c.search.tolerance = 0; }),
              "--tolerance: expected a relative width in (0, 1), e.g. 0.1, got 0");
    EXPECT_EQ(validate_after([](profile_config& c) { c.search.max_rate_rps = -3; }),
              "--max-rate-rps: expected a rate > 0 in requests/s, got -3");
    EXPECT_EQ(validate_after([](profile_config& c) { c.search.min_rate_rps = 2000; }),
              "--min-rate-rps: expected a rate > 0 and below --max-rate-rps (1000), got 2000");
    EXPECT_EQ(validate_after([](profile_config& c) { c.search.max_probes = 1; }),
              "--max-probes: expected at least 2 (the closed-loop probe and one open-loop probe), got 1");
    EXPECT_EQ(validate_after([](profile_config& c) { c.search.growth_factor = 1; }),
              "--growth-factor: expected a factor > 1, got 1");
    EXPECT_EQ(validate_after([](profile_config& c) { c.requests_per_probe = 1; }),
              "--requests-per-probe: expected at least 2 (a rate needs two requests), got 1");
    EXPECT_EQ(validate_after([](profile_config& c) { c.slo.min_throughput_ratio = 1.5; }),
              "--min-throughput-ratio: expected a number in (0, 1], got 1.5");
    EXPECT_EQ(validate_after([](profile_config& c) { c.timeout_s = 0; }),
              "--timeout-s: expected a number of seconds > 0, got 0");
    EXPECT_NE(validate_after([](profile_config& c) { c.input_edges = {}; }).find("--input-edges / --output-edges"),
              std::string::npos);
}

TEST(profile_config, bad_edges_are_rejected_by_the_planner_parser_naming_the_flag) {
    const std::string message = error_of([] { planner::parse_bucket_edges("64,1", "--input-edges"); });
    EXPECT_NE(message.find("--input-edges"), std::string::npos) << message;
}

TEST(profile_config, open_loop_probes_are_bounded_in_time_and_count) {
    profile_config c = valid_config();
    c.requests_per_probe = 40;
    c.max_probe_s = 10;
    EXPECT_EQ(open_loop_requests(c, 100), 40) << "plenty of time: the full count";
    EXPECT_EQ(open_loop_requests(c, 2), 21) << "(n − 1) / rate ≤ 10 s";
    EXPECT_EQ(open_loop_requests(c, 0.01), 2) << "at least two requests";
}

TEST(profile_config, representative_lengths_are_rounded_midpoints) {
    const planner::bucket_edges e = planner::parse_bucket_edges("0,1,64,256", "--input-edges");
    EXPECT_EQ(representative_length(e, 0), 1) << "midpoint 0.5, at least 1 token";
    EXPECT_EQ(representative_length(e, 1), 33) << "midpoint 32.5 rounds half away from zero";
    EXPECT_EQ(representative_length(e, 2), 160);
}

loadgen::request_record completed(double send_s, double ttft_s, double e2e_s, int64_t output_tokens) {
    loadgen::request_record r;
    r.ok = true;
    r.send_s = send_s;
    r.ttft_s = ttft_s;
    r.e2e_s = e2e_s;
    r.output_tokens = output_tokens;
    r.n_content_chunks = output_tokens;
    return r;
}

TEST(summarize_probe, rates_latencies_and_littles_law_from_records) {
    // Four requests sent 0.5 s apart, each 0.1 s to the first token and 1.0 s in total, 10 tokens:
    // TPOT (1.0 − 0.1) / 9 = 100 ms; completions 0.5 s apart as well.
    std::vector<loadgen::request_record> records;
    for (int i = 0; i < 4; ++i) {
        records.push_back(completed(0.5 * i, 0.1, 1.0, 10));
    }
    const probe_measurement m = summarize_probe({false, 2.0}, records, 2.5, 90);
    EXPECT_EQ(m.n_requests, 4);
    EXPECT_EQ(m.n_failed, 0);
    EXPECT_NEAR(m.sent_rps, 2.0, 1e-12);
    EXPECT_NEAR(m.achieved_rps, 2.0, 1e-12);
    EXPECT_NEAR(m.mean_in_flight, 4 * 1.0 / 2.5, 1e-12) << "Σ e2e / duration";
    EXPECT_NEAR(m.mean_decode_s, 0.9, 1e-12);
    EXPECT_NEAR(m.ttft_p50_ms, 100, 1e-9);
    EXPECT_NEAR(m.ttft_slo_ms, 100, 1e-9);
    ASSERT_TRUE(m.tpot_slo_ms.has_value());
    EXPECT_NEAR(*m.tpot_slo_ms, 100, 1e-9);
    EXPECT_NEAR(*m.tpot_mean_ms, 100, 1e-9);
}

TEST(summarize_probe, a_growing_queue_stretches_completions_and_failures_are_counted) {
    // Sent 0.1 s apart but each waits 0.2 s longer than the one before: completions 0.3 s apart.
    std::vector<loadgen::request_record> records;
    for (int i = 0; i < 5; ++i) {
        records.push_back(completed(0.1 * i, 0.05 + 0.2 * i, 0.5 + 0.2 * i, 1));
    }
    loadgen::request_record failed;
    failed.error_reason = "http_429";
    failed.error_detail = "queue full";
    failed.send_s = 0.5;
    records.push_back(failed);
    const probe_measurement m = summarize_probe({false, 10.0}, records, 2.0, 50);
    EXPECT_EQ(m.n_failed, 1);
    EXPECT_EQ(m.first_failure, "http_429: queue full");
    EXPECT_NEAR(m.sent_rps, 5 / 0.5, 1e-9);
    EXPECT_NEAR(m.achieved_rps, 4 / 1.2, 1e-9) << "(5 completed − 1) / (1.7 − 0.5) s";
    EXPECT_FALSE(m.tpot_slo_ms.has_value()) << "1-token outputs have no TPOT";
    EXPECT_NEAR(m.ttft_slo_ms, 450, 1e-9) << "p50 of 50, 250, 450, 650, 850 ms";
}

TEST(profile_session, a_fake_grid_gives_the_profile_the_planner_reads) {
    // Capacity falls with the tokens a request asks for: TPOT = 5 + (in + out) / 100 · rate ms, SLO 50 ms.
    profile_config c = valid_config();
    c.slo.tpot_ms = 50;
    c.search.tolerance = 0.02;
    c.search.max_probes = 30;
    int64_t n_probes = 0;
    const auto probe = [&](int64_t in, int64_t out, const probe_point& p) {
        ++n_probes;
        probe_measurement m;
        const double rate = p.closed_loop ? 1 : p.rate_rps;
        m.n_requests = 10;
        m.sent_rps = m.achieved_rps = rate;
        m.tpot_slo_ms = m.tpot_mean_ms = 5 + static_cast<double>(in + out) / 100 * rate;
        m.mean_decode_s = 0.1;
        return m;
    };
    int64_t n_observed = 0;
    const std::vector<bucket_result> results =
        profile_buckets(c, probe, [&](int64_t, int64_t, const probe_record&) { ++n_observed; });
    ASSERT_EQ(results.size(), 2u * 3u);
    EXPECT_EQ(n_observed, n_probes) << "every probe is observed once";
    const planner::throughput_profile profile = make_profile(c, results, "fake");
    ASSERT_EQ(profile.max_rps.count("L4"), 1u);
    const planner::matrix& m = profile.max_rps.at("L4");
    ASSERT_EQ(m.n_rows, 2);
    ASSERT_EQ(m.n_cols, 3);
    for (const bucket_result& b : results) {
        const double threshold = 45.0 * 100 / static_cast<double>(b.input_tokens + b.output_tokens);
        EXPECT_LE(m.at(b.i_input, b.i_output), threshold);
        EXPECT_GE(m.at(b.i_input, b.i_output), threshold / 1.02) << "bucket " << b.i_input << "," << b.i_output;
    }
    EXPECT_EQ(results[1].input_tokens, 33);
    EXPECT_EQ(results[1].output_tokens, 40) << "output bucket 16-64";
    EXPECT_GT(m.at(0, 0), m.at(1, 2)) << "short requests: more of them per second";
    EXPECT_EQ(calibration_points(results).size(), static_cast<size_t>(n_probes));
    const std::string table = results_table(c, results);
    EXPECT_NE(table.find("1-64 × 16-64"), std::string::npos) << table;
    EXPECT_NE(table.find("33/40"), std::string::npos) << table;
    EXPECT_NE(table.find("converged"), std::string::npos) << table;
}

} // namespace
} // namespace llmfleet::profiler
