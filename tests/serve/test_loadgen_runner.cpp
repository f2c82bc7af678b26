// bench_runner against an in-process scripted server (test_loadgen_server.h): completed counts and tokens, TTFT
// at least the scripted first-token delay, the closed-loop concurrency cap (the server counts requests in
// flight), fixed-rate pacing (generous bound), failures by reason (500, 429, mid-stream error, missing [DONE],
// 401), non-streaming requests, progress callbacks, and the probe of GET /v1/models and of a dead port.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "serve/loadgen/report.h"
#include "serve/loadgen/runner.h"
#include "serve/loadgen/workload.h"
#include "tests/serve/test_loadgen_server.h"
#include "tests/test_support.h"

namespace llmfleet::loadgen {
namespace {

std::vector<prepared_request> make_requests(size_t n, int64_t input_tokens, int64_t output_tokens, bool stream = true) {
    const std::vector<request_lengths> lengths(n, request_lengths{input_tokens, output_tokens});
    request_body_options o;
    o.model = "fake-model";
    o.stream = stream;
    return build_requests(lengths, o, 0);
}

runner_options options_for(const test::scripted_server& server, int64_t max_concurrency) {
    runner_options o;
    o.url = server.url();
    o.max_concurrency = max_concurrency;
    o.timeout_s = 30;
    return o;
}

TEST(loadgen_runner, closed_loop_completes_everything_and_never_exceeds_the_concurrency) {
    test::scripted_server server(test::timed(0.02, 0.002));
    bench_runner runner(options_for(server, 4));
    const auto requests = make_requests(40, 8, 5);
    const run_result r = runner.run(requests, std::vector<double>(requests.size(), 0.0));
    ASSERT_EQ(r.records.size(), 40u);
    for (const request_record& rec : r.records) {
        EXPECT_TRUE(rec.ok) << rec.error_reason << ": " << rec.error_detail;
        EXPECT_EQ(rec.output_tokens, 5);
        EXPECT_EQ(rec.input_tokens, 8);
        EXPECT_EQ(rec.n_content_chunks, 5);
        EXPECT_EQ(rec.itl_s.size(), 4u);
        EXPECT_GE(rec.ttft_s, 0.02); // the server sleeps 20 ms before the first token
        EXPECT_GE(rec.e2e_s, rec.ttft_s);
        EXPECT_GE(rec.e2e_s, 0.02 + 4 * 0.002); // the server's sleeps (chunk gaps may shrink on a busy client)
    }
    EXPECT_EQ(server.n_requests(), 40);
    EXPECT_LE(server.max_in_flight(), 4) << "closed loop with C = 4";
    EXPECT_GE(server.max_in_flight(), 2) << "the loop should keep several requests in flight";
    EXPECT_LE(r.peak_in_flight, 4);
    // 40 requests, 4 at a time, each ≥ 28 ms: at least 10 rounds.
    EXPECT_GE(r.duration_s, 10 * 0.028);
    const bench_report report = make_report({}, "fake-model", r.records, r.duration_s, r.peak_in_flight);
    EXPECT_EQ(report.n_completed, 40);
    EXPECT_EQ(report.total_output_tokens, 200);
    EXPECT_GE(report.ttft_ms.p50, 20.0);
}

TEST(loadgen_runner, fixed_rate_sends_on_schedule_and_takes_about_n_over_rate) {
    test::scripted_server server(test::timed(0.001, 0.0));
    runner_options o = options_for(server, 0);
    o.progress_interval_s = 0.05;
    bench_runner runner(o);
    const auto requests = make_requests(20, 4, 2);
    std::vector<double> offsets;
    for (size_t i = 0; i < requests.size(); ++i) {
        offsets.push_back(static_cast<double>(i) / 40.0);
    }
    std::vector<run_progress> progress;
    const run_result r = runner.run(requests, offsets, [&](const run_progress& p) { progress.push_back(p); });
    for (size_t i = 0; i < r.records.size(); ++i) {
        EXPECT_TRUE(r.records[i].ok) << r.records[i].error_reason;
        EXPECT_GE(r.records[i].send_s, offsets[i] - 1e-6) << "request " << i << " sent early";
    }
    // 20 requests at 40 req/s: the last is due at 0.475 s; allow 2 s of slack for a loaded machine.
    EXPECT_GE(r.duration_s, 0.475);
    EXPECT_LT(r.duration_s, 0.475 + 2.0);
    ASSERT_GE(progress.size(), 2u) << "ticks every 50 ms plus the final one";
    EXPECT_EQ(progress.back().n_done, 20);
    EXPECT_EQ(progress.back().n_sent, 20);
    EXPECT_EQ(progress.back().n_total, 20);
    for (size_t i = 1; i < progress.size(); ++i) {
        EXPECT_GE(progress[i].n_done, progress[i - 1].n_done);
    }
}

TEST(loadgen_runner, failures_are_counted_by_reason_and_do_not_stop_the_run) {
    test::script s;
    s.first_token_delay_s = 0.001;
    s.token_gap_s = 0;
    s.reply_for = [](int64_t ordinal) {
        constexpr test::reply by_ordinal[] = {test::reply::http_500, test::reply::http_429, test::reply::stream_error,
                                              test::reply::truncated, test::reply::ok};
        return by_ordinal[ordinal % 5];
    };
    test::scripted_server server(s);
    bench_runner runner(options_for(server, 2));
    const auto requests = make_requests(20, 4, 3);
    const run_result r = runner.run(requests, std::vector<double>(requests.size(), 0.0));
    const bench_report report = make_report({}, "fake-model", r.records, r.duration_s, r.peak_in_flight);
    EXPECT_EQ(report.n_completed, 4);
    EXPECT_EQ(report.n_failed, 16);
    EXPECT_EQ(report.failed_by_reason.at("http_500"), 4);
    EXPECT_EQ(report.failed_by_reason.at("http_429"), 4);
    EXPECT_EQ(report.failed_by_reason.at("stream_error"), 4);
    EXPECT_EQ(report.failed_by_reason.at("stream_truncated"), 4);
    EXPECT_EQ(report.error_examples.at("http_500"), "scripted failure");
    EXPECT_EQ(report.error_examples.at("stream_error"), "scripted mid-stream error");
    EXPECT_EQ(report.total_output_tokens, 12);
}

TEST(loadgen_runner, non_streaming_requests_take_tokens_from_usage) {
    test::scripted_server server(test::timed(0.01, 0.001));
    runner_options o = options_for(server, 3);
    o.stream = false;
    bench_runner runner(o);
    const auto requests = make_requests(6, 5, 7, /*stream=*/false);
    const run_result r = runner.run(requests, std::vector<double>(requests.size(), 0.0));
    for (const request_record& rec : r.records) {
        EXPECT_TRUE(rec.ok) << rec.error_reason;
        EXPECT_EQ(rec.output_tokens, 7);
        EXPECT_DOUBLE_EQ(rec.ttft_s, rec.e2e_s);
        EXPECT_GE(rec.e2e_s, 0.01 + 6 * 0.001);
    }
}

TEST(loadgen_runner, the_api_key_is_sent_as_a_bearer_token) {
    test::script s;
    s.api_key = "sekret";
    s.first_token_delay_s = 0.001;
    test::scripted_server server(s);
    const auto requests = make_requests(3, 2, 2);
    {
        bench_runner runner(options_for(server, 0));
        const run_result r = runner.run(requests, std::vector<double>(3, 0.0));
        EXPECT_EQ(make_report({}, "", r.records, r.duration_s, 0).failed_by_reason.at("http_401"), 3);
    }
    runner_options o = options_for(server, 0);
    o.api_key = "sekret";
    bench_runner runner(o);
    const run_result r = runner.run(requests, std::vector<double>(3, 0.0));
    EXPECT_EQ(make_report({}, "", r.records, r.duration_s, 0).n_completed, 3);
}

TEST(loadgen_runner, probe_lists_the_models_or_names_the_unreachable_url) {
    test::scripted_server server({});
    bench_runner runner(options_for(server, 0));
    const server_probe p = runner.probe();
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.model_ids, std::vector<std::string>{"fake-model"});
    EXPECT_EQ(runner.warmup(make_requests(2, 2, 2)).size(), 2u);

    // A port nobody listens on: bind an ephemeral one, then close it.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    runner_options dead;
    dead.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    bench_runner dead_runner(dead);
    const std::string message = llmfleet::test::error_of([&] { dead_runner.probe(); });
    EXPECT_NE(message.find("cannot reach the server at " + dead.url), std::string::npos) << message;
    EXPECT_NE(message.find("hint"), std::string::npos) << message;
}

} // namespace
} // namespace llmfleet::loadgen
