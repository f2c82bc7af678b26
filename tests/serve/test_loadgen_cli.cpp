// `llmfleet bench` as a child process: against the scripted in-process server (test_loadgen_server.h, on this
// process's io threads) for the JSON report's fields, --out, a trace dataset with trace arrivals, and the exit
// codes of an unreachable URL and of bad flags; then against a real `llmfleet engine` on a tiny random model
// (completions and chat, streamed and not).
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/make_model.h"
#include "tests/serve/e2e_support.h"
#include "tests/serve/test_loadgen_server.h"
#include "tests/test_support.h"

namespace llmfleet::loadgen {
namespace {

const std::string tag = "test_loadgen_cli";

llmfleet::test::cli_result bench(const std::string& args) {
    return llmfleet::test::run_cli(tag, "bench --no-progress " + args);
}

TEST(loadgen_cli, json_report_against_a_scripted_server) {
    test::scripted_server server(test::timed(0.02, 0.002));
    const std::string out_file = llmfleet::test::temp_path(tag, "report.json");
    std::filesystem::remove(out_file);
    const auto r =
        bench("--url " + server.url() +
              " --num-requests 12 --max-concurrency 3 --input-len 8 --output-len 4 --output json --out " + out_file);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["schema"], "llmfleet.bench.v1");
    EXPECT_EQ(j["completed"], 12);
    EXPECT_EQ(j["failed"], 0);
    EXPECT_EQ(j["total_output_tokens"], 48);
    EXPECT_EQ(j["total_input_tokens"], 96);
    EXPECT_LE(j["peak_in_flight"].get<int>(), 3);
    EXPECT_EQ(j["settings"]["model"], "fake-model") << "from GET /v1/models";
    EXPECT_EQ(j["settings"]["max_concurrency"], 3);
    EXPECT_TRUE(j["settings"]["request_rate_rps"].is_null());
    EXPECT_GE(j["ttft_ms"]["p50"].get<double>(), 20.0) << "the scripted first-token delay";
    EXPECT_EQ(j["ttft_ms"]["n"], 12);
    EXPECT_EQ(j["itl_ms"]["n"], 36); // 3 gaps per request
    EXPECT_GT(j["output_token_throughput_tps"].get<double>(), 0);
    EXPECT_LE(server.max_in_flight(), 3);
    EXPECT_EQ(nlohmann::json::parse(llmfleet::test::slurp(out_file)), j) << "--out holds the same JSON";
    EXPECT_NE(r.err.find("llmfleet bench: 12 requests to " + server.url() + "/v1/completions"), std::string::npos)
        << "the startup line: " << r.err;
}

TEST(loadgen_cli, text_report_with_failures_exits_0_and_names_the_reasons) {
    test::script s = test::timed(0.001, 0.0);
    s.reply_for = [](int64_t ordinal) { return ordinal % 2 == 0 ? test::reply::http_429 : test::reply::ok; };
    test::scripted_server server(s);
    const auto r = bench("--url " + server.url() +
                         " --model fake-model --num-requests 6 --request-rate 200 "
                         "--arrivals fixed --input-len 4 --output-len 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("completed requests"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("http_429"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("3 of 6 requests failed: http_429 ×3"), std::string::npos) << r.err;
}

TEST(loadgen_cli, trace_dataset_and_trace_arrivals) {
    test::scripted_server server(test::timed(0.001, 0.0));
    const std::string trace = llmfleet::test::write_temp(tag, "tiny.csv",
                                                         "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                                         "2023-11-16 18:15:46.0,30,3\n"
                                                         "2023-11-16 18:15:46.1,5000,0\n"
                                                         "2023-11-16 18:15:46.3,12,900\n");
    const auto r = bench("--url " + server.url() + " --num-requests 3 --dataset trace --arrivals trace --trace " +
                         trace + " --max-input-len 64 --max-output-len 5 --output json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["completed"], 3);
    EXPECT_EQ(j["total_input_tokens"], 30 + 64 + 12);
    EXPECT_EQ(j["total_output_tokens"], 3 + 1 + 5); // clipped, and 0 raised to 1
    EXPECT_GE(j["duration_s"].get<double>(), 0.3) << "the trace's own timing: the last request is due at 0.3 s";
    EXPECT_EQ(j["settings"]["arrivals"], "trace");
}

TEST(loadgen_cli, unreachable_url_and_bad_flags_exit_1_with_a_message) {
    const auto r = bench("--url http://127.0.0.1:1 --num-requests 2");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot reach the server at http://127.0.0.1:1"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hint"), std::string::npos) << r.err;
    const auto rate = bench("--request-rate=-2");
    EXPECT_EQ(rate.exit_code, 1);
    EXPECT_NE(rate.err.find("--request-rate: expected a rate > 0"), std::string::npos) << rate.err;
    const auto arrivals = bench("--arrivals sometimes");
    EXPECT_EQ(arrivals.exit_code, 1);
    EXPECT_NE(arrivals.err.find("--arrivals: expected poisson, fixed or trace, got `sometimes`"), std::string::npos)
        << arrivals.err;
    const auto trace = bench("--dataset trace");
    EXPECT_EQ(trace.exit_code, 1);
    EXPECT_NE(trace.err.find("need --trace FILE"), std::string::npos) << trace.err;
}

// The real server: a tiny random model behind `llmfleet engine`.
TEST(loadgen_cli, against_llmfleet_engine) {
    const std::string model = llmfleet::test::temp_path(tag, "model");
    std::filesystem::remove_all(model);
    model::make_model({model::architecture::qwen2, "tiny", 5, model::dtype::bf16, 1, model});
    llmfleet::test::server_process engine(tag, "engine --port 0 --model " + model + " --served-model-name tiny");
    ASSERT_GT(engine.port, 0);
    const std::string url = "http://127.0.0.1:" + std::to_string(engine.port);
    for (const std::string mode : {"--endpoint completions", "--endpoint chat", "--no-stream"}) {
        const auto r = bench("--url " + url + " " + mode +
                             " --num-requests 6 --max-concurrency 2 --input-len 8 --output-len 5 --warmup 1 "
                             "--output json");
        ASSERT_EQ(r.exit_code, 0) << mode << ": " << r.err;
        const auto j = nlohmann::json::parse(r.out);
        EXPECT_EQ(j["completed"], 6) << mode << ": " << j["error_examples"];
        EXPECT_EQ(j["total_output_tokens"], 30) << mode << ": ignore_eos makes every output max_tokens long";
        EXPECT_EQ(j["settings"]["model"], "tiny");
        EXPECT_GT(j["e2e_ms"]["p50"].get<double>(), 0) << mode;
        if (mode != "--no-stream") {
            EXPECT_LE(j["ttft_ms"]["p50"].get<double>(), j["e2e_ms"]["p50"].get<double>()) << mode;
        }
    }
    EXPECT_EQ(engine.stop(), 0);
}

} // namespace
} // namespace llmfleet::loadgen
