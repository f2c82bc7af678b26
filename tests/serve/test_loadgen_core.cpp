// The pure parts of serve/loadgen: arrival schedules (distribution moments over 20000 seeded draws, exact fixed
// gaps, trace rescaling), workload lengths (synthetic ranges, a tiny Azure trace parsed by the planner), request
// bodies, percentiles and the report (hand-computed on small samples, JSON schema and fields).
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "planner/trace.h"
#include "serve/loadgen/arrivals.h"
#include "serve/loadgen/report.h"
#include "serve/loadgen/stats.h"
#include "serve/loadgen/workload.h"
#include "tests/test_support.h"

namespace llmfleet::loadgen {
namespace {

struct moments {
    double mean = 0;
    double cv = 0; // standard deviation / mean
};

moments gap_moments(const std::vector<double>& offsets) {
    std::vector<double> gaps;
    for (size_t i = 1; i < offsets.size(); ++i) {
        gaps.push_back(offsets[i] - offsets[i - 1]);
    }
    const double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / static_cast<double>(gaps.size());
    double var = 0;
    for (double g : gaps) {
        var += (g - mean) * (g - mean);
    }
    var /= static_cast<double>(gaps.size() - 1);
    return {mean, std::sqrt(var) / mean};
}

TEST(loadgen_arrivals, poisson_gaps_have_mean_one_over_rate_and_cv_one) {
    const std::vector<double> t = arrival_offsets_s({arrival_kind::poisson, 50.0, 1.0, 7}, 20001);
    ASSERT_EQ(t.size(), 20001u);
    EXPECT_EQ(t[0], 0.0);
    EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
    const moments m = gap_moments(t);
    // 20000 exponential gaps: the mean's standard error is 0.7 %, so 5 % is a safe bound.
    EXPECT_NEAR(m.mean, 1.0 / 50.0, 0.05 / 50.0);
    EXPECT_NEAR(m.cv, 1.0, 0.05);
}

TEST(loadgen_arrivals, burstiness_keeps_the_mean_and_sets_cv_to_one_over_sqrt_shape) {
    for (const double shape : {0.25, 4.0}) {
        const moments m = gap_moments(arrival_offsets_s({arrival_kind::poisson, 10.0, shape, 3}, 20001));
        EXPECT_NEAR(m.mean, 0.1, 0.005) << "shape " << shape;
        EXPECT_NEAR(m.cv, 1.0 / std::sqrt(shape), 0.1 / std::sqrt(shape)) << "shape " << shape;
    }
}

TEST(loadgen_arrivals, same_seed_same_schedule_other_seed_other_schedule) {
    const arrival_options a{arrival_kind::poisson, 5.0, 1.0, 42};
    arrival_options b = a;
    b.seed = 43;
    EXPECT_EQ(arrival_offsets_s(a, 100), arrival_offsets_s(a, 100));
    EXPECT_NE(arrival_offsets_s(a, 100), arrival_offsets_s(b, 100));
}

TEST(loadgen_arrivals, fixed_rate_is_exact_and_infinite_rate_is_all_at_once) {
    const std::vector<double> t = arrival_offsets_s({arrival_kind::fixed, 4.0, 1.0, 0}, 9);
    for (size_t i = 0; i < t.size(); ++i) {
        EXPECT_DOUBLE_EQ(t[i], static_cast<double>(i) * 0.25);
    }
    for (const arrival_kind kind : {arrival_kind::poisson, arrival_kind::fixed}) {
        const std::vector<double> all = arrival_offsets_s({kind, unlimited_rate_rps, 1.0, 0}, 5);
        EXPECT_EQ(all, std::vector<double>(5, 0.0)) << to_string(kind);
    }
}

TEST(loadgen_arrivals, trace_timestamps_are_rebased_and_rescaled_to_the_rate) {
    const std::vector<double> trace = {100.0, 101.0, 103.0, 107.0, 200.0};
    EXPECT_EQ(arrival_offsets_s({arrival_kind::trace, unlimited_rate_rps, 1.0, 0}, 4, trace),
              (std::vector<double>{0.0, 1.0, 3.0, 7.0}));
    // 4 requests at 1 req/s span 3 s: the 7 s of the trace shrink by 3/7.
    const std::vector<double> scaled = arrival_offsets_s({arrival_kind::trace, 1.0, 1.0, 0}, 4, trace);
    EXPECT_DOUBLE_EQ(scaled[1], 3.0 / 7.0);
    EXPECT_DOUBLE_EQ(scaled[3], 3.0);
    EXPECT_NE(test::error_of([&] {
                  arrival_offsets_s({arrival_kind::trace, 1.0, 1.0, 0}, 6, trace);
              }).find("the trace has 5 requests, fewer than the 6"),
              std::string::npos);
    const std::vector<double> unsorted = {0.0, 2.0, 1.0};
    EXPECT_NE(test::error_of([&] {
                  arrival_offsets_s({arrival_kind::trace, 1.0, 1.0, 0}, 3, unsorted);
              }).find("must not decrease"),
              std::string::npos);
}

TEST(loadgen_workload, synthetic_lengths_stay_in_the_range_and_center_on_the_length) {
    const auto fixed = synthetic_lengths(128, 32, 0.0, 50, 1);
    for (const request_lengths& r : fixed) {
        EXPECT_EQ(r.input_tokens, 128);
        EXPECT_EQ(r.output_tokens, 32);
    }
    const auto ranged = synthetic_lengths(100, 10, 0.5, 5000, 1);
    int64_t min_in = 1 << 30, max_in = 0, sum_in = 0, min_out = 1 << 30, max_out = 0;
    for (const request_lengths& r : ranged) {
        min_in = std::min(min_in, r.input_tokens);
        max_in = std::max(max_in, r.input_tokens);
        sum_in += r.input_tokens;
        min_out = std::min(min_out, r.output_tokens);
        max_out = std::max(max_out, r.output_tokens);
    }
    EXPECT_EQ(min_in, 50); // [⌊100·0.5⌋, ⌊100·1.5⌋]: both ends drawn in 5000 tries
    EXPECT_EQ(max_in, 150);
    EXPECT_EQ(min_out, 5);
    EXPECT_EQ(max_out, 15);
    EXPECT_NEAR(static_cast<double>(sum_in) / 5000.0, 100.0, 2.0);
    const auto again = synthetic_lengths(100, 10, 0.5, 5000, 1);
    EXPECT_TRUE(std::equal(ranged.begin(), ranged.end(), again.begin(), [](const auto& a, const auto& b) {
        return a.input_tokens == b.input_tokens && a.output_tokens == b.output_tokens;
    }));
}

TEST(loadgen_workload, trace_lengths_come_in_order_cycle_and_clip) {
    const planner::trace t = planner::parse_azure_csv("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                                      "2023-11-16 18:15:46.5,374,44\n"
                                                      "2023-11-16 18:15:47.0,2000,0\n"
                                                      "2023-11-16 18:15:49.0,96,700\n",
                                                      "tiny.csv");
    std::vector<request_lengths> source;
    for (const planner::trace_request& r : t.requests) {
        source.push_back({r.input_tokens, r.output_tokens});
    }
    const auto out = trace_lengths(source, 5, 1024, 512);
    ASSERT_EQ(out.size(), 5u);
    const std::vector<std::pair<int64_t, int64_t>> expected = {{374, 44}, {1024, 1}, {96, 512}, {374, 44}, {1024, 1}};
    for (size_t i = 0; i < out.size(); ++i) {
        EXPECT_EQ(out[i].input_tokens, expected[i].first) << i;
        EXPECT_EQ(out[i].output_tokens, expected[i].second) << i;
    }
    EXPECT_EQ(trace_lengths(source, 1, 0, 0)[0].input_tokens, 374); // 0: no clip
    EXPECT_NE(test::error_of([] { trace_lengths({}, 1, 0, 0); }).find("no requests"), std::string::npos);
}

TEST(loadgen_workload, completion_bodies_hold_the_prompt_ids_and_max_tokens) {
    const std::vector<request_lengths> lengths = {{7, 3}, {2, 9}};
    request_body_options o;
    o.model = "m";
    o.vocab_size = 5;
    const auto requests = build_requests(lengths, o, 11);
    ASSERT_EQ(requests.size(), 2u);
    for (size_t i = 0; i < lengths.size(); ++i) {
        const auto body = nlohmann::json::parse(requests[i].body);
        EXPECT_EQ(body["model"], "m");
        ASSERT_EQ(body["prompt"].size(), static_cast<size_t>(lengths[i].input_tokens));
        for (const auto& id : body["prompt"]) {
            EXPECT_TRUE(id.get<int>() >= 0 && id.get<int>() < 5) << id;
        }
        EXPECT_EQ(body["max_tokens"], lengths[i].output_tokens);
        EXPECT_EQ(body["ignore_eos"], true);
        EXPECT_EQ(body["temperature"], 0);
        EXPECT_EQ(body["stream"], true);
        EXPECT_EQ(body["stream_options"]["include_usage"], true);
        EXPECT_EQ(requests[i].input_tokens, lengths[i].input_tokens);
        EXPECT_EQ(requests[i].output_tokens, lengths[i].output_tokens);
    }
    EXPECT_EQ(build_requests(lengths, o, 11)[0].body, requests[0].body); // seeded
    EXPECT_NE(build_requests(lengths, o, 12)[0].body, requests[0].body);
}

TEST(loadgen_workload, chat_bodies_hold_n_words_and_no_stream_fields_when_not_streaming) {
    const std::vector<request_lengths> lengths = {{6, 4}};
    request_body_options o;
    o.endpoint = api_endpoint::chat;
    o.model = "m";
    o.stream = false;
    const auto body = nlohmann::json::parse(build_requests(lengths, o, 0)[0].body);
    const std::string content = body["messages"][0]["content"];
    EXPECT_EQ(body["messages"][0]["role"], "user");
    EXPECT_EQ(std::count(content.begin(), content.end(), ' '), 5) << content; // 6 words
    EXPECT_EQ(body["max_completion_tokens"], 4);
    EXPECT_FALSE(body.contains("stream"));
    EXPECT_FALSE(body.contains("stream_options"));
}

TEST(loadgen_stats, percentiles_interpolate_linearly_between_closest_ranks) {
    const std::vector<double> x = {1, 2, 3, 4};
    EXPECT_DOUBLE_EQ(percentile_sorted(x, 0), 1);
    EXPECT_DOUBLE_EQ(percentile_sorted(x, 50), 2.5);  // rank 1.5
    EXPECT_DOUBLE_EQ(percentile_sorted(x, 90), 3.7);  // rank 2.7
    EXPECT_DOUBLE_EQ(percentile_sorted(x, 99), 3.97); // rank 2.97
    EXPECT_DOUBLE_EQ(percentile_sorted(x, 100), 4);
    const std::vector<double> one = {5};
    EXPECT_DOUBLE_EQ(percentile_sorted(one, 99), 5);
    // 11 values 0, 10, ..., 100: rank q/10, so the q-th percentile is q.
    std::vector<double> tens;
    for (int i = 0; i <= 10; ++i) {
        tens.push_back(10.0 * i);
    }
    EXPECT_DOUBLE_EQ(percentile_sorted(tens, 90), 90);
    EXPECT_NEAR(percentile_sorted(tens, 99), 99, 1e-12);
}

TEST(loadgen_stats, summary_sorts_scales_and_is_zero_when_empty) {
    const metric_summary s = summarize({0.004, 0.001, 0.003, 0.002}, 1000.0);
    EXPECT_EQ(s.n, 4);
    EXPECT_NEAR(s.mean, 2.5, 1e-9);
    EXPECT_NEAR(s.p50, 2.5, 1e-9);
    EXPECT_NEAR(s.p90, 3.7, 1e-9);
    EXPECT_NEAR(s.p99, 3.97, 1e-9);
    EXPECT_NEAR(s.max, 4.0, 1e-9);
    const metric_summary empty = summarize({});
    EXPECT_EQ(empty.n, 0);
    EXPECT_EQ(empty.max, 0);
}

request_record ok_record(double ttft_s, double e2e_s, int64_t in, int64_t out, std::vector<double> itl_s) {
    request_record r;
    r.ok = true;
    r.ttft_s = ttft_s;
    r.e2e_s = e2e_s;
    r.input_tokens = in;
    r.output_tokens = out;
    r.n_content_chunks = out; // streamed: one token per chunk
    r.itl_s = std::move(itl_s);
    return r;
}

request_record failed_record(std::string reason, std::string detail) {
    request_record r;
    r.error_reason = std::move(reason);
    r.error_detail = std::move(detail);
    return r;
}

TEST(loadgen_report, aggregates_completed_requests_and_counts_failures_by_reason) {
    const std::vector<request_record> records = {
        ok_record(0.1, 0.5, 10, 5, {0.1, 0.1, 0.1, 0.1}), // tpot (0.5 − 0.1) / 4 = 0.1
        ok_record(0.2, 0.2, 20, 1, {}),                   // one token: no tpot
        ok_record(0.3, 1.3, 30, 3, {0.4, 0.6}),           // tpot (1.3 − 0.3) / 2 = 0.5
        failed_record("http_500", "boom"),
        failed_record("http_500", "second"),
        failed_record("stream_error", "kv full"),
    };
    bench_config config;
    config.api_key = "secret";
    const bench_report r = make_report(config, "tiny", records, 2.0, 3);
    EXPECT_EQ(r.n_completed, 3);
    EXPECT_EQ(r.n_failed, 3);
    EXPECT_EQ(r.failed_by_reason.at("http_500"), 2);
    EXPECT_EQ(r.failed_by_reason.at("stream_error"), 1);
    EXPECT_EQ(r.error_examples.at("http_500"), "boom"); // the first one
    EXPECT_EQ(r.total_input_tokens, 60);
    EXPECT_EQ(r.total_output_tokens, 9);
    EXPECT_DOUBLE_EQ(r.request_throughput_rps, 1.5);
    EXPECT_DOUBLE_EQ(r.input_token_throughput_tps, 30);
    EXPECT_DOUBLE_EQ(r.output_token_throughput_tps, 4.5);
    EXPECT_DOUBLE_EQ(r.total_token_throughput_tps, 34.5);
    EXPECT_EQ(r.ttft_ms.n, 3);
    EXPECT_NEAR(r.ttft_ms.mean, 200, 1e-9);
    EXPECT_EQ(r.tpot_ms.n, 2);
    EXPECT_NEAR(r.tpot_ms.mean, 300, 1e-9);
    EXPECT_EQ(r.itl_ms.n, 6);
    EXPECT_NEAR(r.itl_ms.max, 600, 1e-9);
    EXPECT_NEAR(r.e2e_ms.p50, 500, 1e-9);

    const auto j = nlohmann::json::parse(to_json_text(r));
    EXPECT_EQ(j["schema"], "llmfleet.bench.v1");
    EXPECT_EQ(j["completed"], 3);
    EXPECT_EQ(j["failed"], 3);
    EXPECT_EQ(j["failed_by_reason"]["http_500"], 2);
    EXPECT_EQ(j["peak_in_flight"], 3);
    EXPECT_DOUBLE_EQ(j["request_throughput_rps"].get<double>(), 1.5);
    for (const char* metric : {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"}) {
        for (const char* field : {"n", "mean", "p50", "p90", "p99", "max"}) {
            EXPECT_TRUE(j[metric].contains(field)) << metric << "." << field;
        }
    }
    EXPECT_TRUE(j["settings"]["request_rate_rps"].is_null()); // inf
    EXPECT_EQ(j["settings"]["model"], "tiny");
    EXPECT_EQ(j["settings"]["api_key"], true);

    const std::string text = to_text(r);
    EXPECT_NE(text.find("http_500"), std::string::npos);
    EXPECT_NE(text.find("ttft"), std::string::npos);
    EXPECT_EQ(text.find("secret"), std::string::npos);
    EXPECT_EQ(to_json_text(r).find("secret"), std::string::npos);
}

TEST(loadgen_config, validate_names_the_flag_and_the_value) {
    bench_config c;
    EXPECT_EQ(test::error_of([&] { validate(c); }), "(no error)");
    c.request_rate_rps = -1;
    EXPECT_NE(test::error_of([&] { validate(c); }).find("--request-rate: expected a rate > 0"), std::string::npos);
    c = {};
    c.range_ratio = 1.0;
    EXPECT_NE(test::error_of([&] { validate(c); }).find("--range-ratio"), std::string::npos);
    c = {};
    c.dataset = dataset_kind::trace;
    EXPECT_NE(test::error_of([&] { validate(c); }).find("need --trace FILE"), std::string::npos);
    EXPECT_NE(test::error_of([] { parse_arrival_kind("gamma"); }).find("expected poisson, fixed or trace, got `gamma`"),
              std::string::npos);
}

} // namespace
} // namespace llmfleet::loadgen
