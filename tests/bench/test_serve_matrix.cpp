// serve_matrix's pure parts (bench/e2e/serve_matrix.h): the matrix spec and its errors, serve's and bench's command
// lines, serve's start-up line and failure text, a report written by the real bench writer read back, the gain over
// the one-engine row (hand-computed), and the table.
#include <gtest/gtest.h>

#include <algorithm>

#include "bench/e2e/serve_matrix.h"
#include "serve/loadgen/report.h"
#include "tests/test_support.h"

namespace llmfleet::bench {
namespace {

using test::error_of;

bool has_pair(const std::vector<std::string>& args, const std::string& flag, const std::string& value) {
    for (size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == flag && args[i + 1] == value) {
            return true;
        }
    }
    return false;
}

// The "FLAG VALUE" pairs of `want` that `args` lacks ("" when it has them all).
std::string missing_pairs(const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& want) {
    std::string missing;
    for (const auto& [flag, value] : want) {
        if (!has_pair(args, flag, value)) {
            missing += flag + " " + value + "; ";
        }
    }
    return missing;
}

TEST(serve_matrix, fleet_shapes_parse_and_bad_ones_are_named) {
    const std::vector<fleet_shape> s = parse_fleet_shapes("1, 2:mps,3:mps,2:nomps,4");
    ASSERT_EQ(s.size(), 5u);
    EXPECT_EQ(s[0].label(), "1 engine");
    EXPECT_EQ(s[1].label(), "2 engines + MPS");
    EXPECT_EQ(s[2].n_engines, 3);
    EXPECT_TRUE(s[2].mps);
    EXPECT_EQ(s[3].label(), "2 engines, no MPS");
    EXPECT_FALSE(s[4].mps);
    EXPECT_NE(error_of([] { parse_fleet_shapes("2:mpss"); }).find("'2:mpss': expected N, N:mps or N:nomps"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_fleet_shapes("0"); }).find("1..48"), std::string::npos);
    EXPECT_NE(error_of([] { parse_fleet_shapes("two"); }).find("--fleets"), std::string::npos);
}

TEST(serve_matrix, workloads_parse_with_their_concurrency) {
    const std::vector<workload_shape> w = parse_workloads("128x128,1024x16@32", 64);
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w[0].input_len, 128);
    EXPECT_EQ(w[0].output_len, 128);
    EXPECT_EQ(w[0].concurrency, 64);
    EXPECT_EQ(w[1].label(), "1024/16");
    EXPECT_EQ(w[1].concurrency, 32);
    EXPECT_NE(error_of([] { parse_workloads("128", 1); }).find("expected INPUTxOUTPUT[@CONCURRENCY]"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_workloads("128x0", 1); }).find("must be ≥ 1"), std::string::npos);
    EXPECT_NE(error_of([] { parse_workloads("8@2x3", 1); }).find("expected INPUTxOUTPUT"), std::string::npos);
}

TEST(serve_matrix, serve_gets_gpus_engines_and_mps_or_cpu_engines) {
    cell_settings s;
    s.serve_args = {"--kv-cache-gib", "0.05"};
    const std::vector<std::string> gpu = serve_command(s, "/m", {3, true}, "/run");
    EXPECT_EQ(gpu.front(), "serve");
    EXPECT_EQ(missing_pairs(gpu, {{"--model", "/m"},
                                  {"--gpus", "0"},
                                  {"--engines-per-gpu", "3"},
                                  {"--mps", "on"},
                                  {"--run-dir", "/run"},
                                  {"--port", "0"},
                                  {"--kv-cache-gib", "0.05"}}),
              "");
    EXPECT_TRUE(has_pair(serve_command(s, "/m", {2, false}, "/run"), "--mps", "off"));

    s.host = host_kind::cpu;
    const std::vector<std::string> cpu = serve_command(s, "/m", {2, false}, "/run");
    EXPECT_TRUE(has_pair(cpu, "--engines", "2"));
    EXPECT_EQ(std::count(cpu.begin(), cpu.end(), "--gpus"), 0);
    EXPECT_NE(error_of([&] {
                  serve_command(s, "/m", {2, true}, "/run");
              }).find("'2 engines + MPS' needs a GPU"),
              std::string::npos);
    EXPECT_EQ(parse_host_kind("cpu"), host_kind::cpu);
    EXPECT_NE(error_of([] { parse_host_kind("tpu"); }).find("expected cpu or gpu"), std::string::npos);
}

TEST(serve_matrix, bench_runs_a_closed_loop_of_the_workload) {
    cell_settings s;
    s.n_requests = 100;
    s.n_warmup = 3;
    const std::vector<std::string> args = bench_command(s, "http://127.0.0.1:9", {1024, 16, 32});
    EXPECT_EQ(args.front(), "bench");
    EXPECT_EQ(missing_pairs(args, {{"--url", "http://127.0.0.1:9"},
                                   {"--request-rate", "inf"},
                                   {"--max-concurrency", "32"},
                                   {"--num-requests", "100"},
                                   {"--input-len", "1024"},
                                   {"--output-len", "16"},
                                   {"--warmup", "3"},
                                   {"--output", "json"}}),
              "");
}

TEST(serve_matrix, serve_output_gives_the_url_or_its_failure) {
    EXPECT_EQ(router_url_of("log\nllmfleet serve: 2 engines [..] behind the router on http://127.0.0.1:4311 (MPS on "
                            "(1 GPU domain); policy least-tokens)\n"),
              "http://127.0.0.1:4311");
    EXPECT_EQ(router_url_of("behind the router on http://127.0.0.1:43"), std::nullopt); // still being written
    EXPECT_EQ(router_url_of("starting engines\n"), std::nullopt);

    EXPECT_EQ(serve_failure_of("[info] x\n[2026] [error] engine 1 died\nerror: --mps on: MPS cannot run\n\n"),
              "error: --mps on: MPS cannot run");
    EXPECT_EQ(serve_failure_of("[info] x\n[2026] [error] engine 1 died\n[info] stopping\n"),
              "[2026] [error] engine 1 died");
    EXPECT_EQ(serve_failure_of("one\ntwo\n"), "two");
    EXPECT_EQ(serve_failure_of(std::string(1000, 'x')).size(), 400u);
}

TEST(serve_matrix, mps_attachment_counts_the_engines_in_the_client_list) {
    const auto status = nlohmann::json::parse(
        R"({"engines":[{"mps_attached":true},{"mps_attached":false},{"mps_attached":true}],"gpu_domains":[]})");
    EXPECT_EQ(count_mps_attached(status), 2);
    EXPECT_EQ(count_mps_attached(nlohmann::json::parse(R"({"engines":[{"mps_attached":null}]})")), -1);
    EXPECT_EQ(count_mps_attached(nlohmann::json()), -1);
}

TEST(serve_matrix, reads_what_llmfleet_bench_writes) {
    loadgen::bench_report r;
    r.n_completed = 98;
    r.n_failed = 2;
    r.failed_by_reason = {{"http_503", 1}, {"timeout", 1}};
    r.duration_s = 4.0;
    r.request_throughput_rps = 24.5;
    r.output_token_throughput_tps = 3136;
    r.total_token_throughput_tps = 6272;
    r.ttft_ms = {98, 20, 11.5, 30, 57.25, 60};
    r.tpot_ms = {98, 2, 1.75, 2.5, 4.125, 5};
    const bench_figures f = read_bench_report(nlohmann::json::parse(loadgen::to_json_text(r)));
    EXPECT_EQ(f.n_completed, 98);
    EXPECT_EQ(f.n_failed, 2);
    EXPECT_EQ(f.failures, "http_503 ×1, timeout ×1");
    EXPECT_DOUBLE_EQ(f.request_throughput_rps, 24.5);
    EXPECT_DOUBLE_EQ(f.output_token_throughput_tps, 3136);
    EXPECT_DOUBLE_EQ(f.ttft_p50_ms, 11.5);
    EXPECT_DOUBLE_EQ(f.ttft_p99_ms, 57.25);
    EXPECT_DOUBLE_EQ(f.tpot_p50_ms, 1.75);
    EXPECT_DOUBLE_EQ(f.tpot_p99_ms, 4.125);

    EXPECT_NE(error_of([] {
                  read_bench_report(nlohmann::json::parse(R"({"schema":"other"})"));
              }).find("expected \"llmfleet.bench.v1\""),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  read_bench_report(nlohmann::json::parse(R"({"schema":"llmfleet.bench.v1"})"));
              }).find("bench report: missing required field 'completed'"),
              std::string::npos);
}

matrix_row row_of(const std::string& model, fleet_shape shape, workload_shape w, double rps) {
    bench_figures f;
    f.n_completed = 10;
    f.request_throughput_rps = rps;
    f.output_token_throughput_tps = rps * static_cast<double>(w.output_len);
    return {model, shape, w, f, "", shape.mps ? shape.n_engines : -1, 1.0};
}

TEST(serve_matrix, gain_is_over_the_one_engine_row_of_the_same_model_and_workload) {
    const workload_shape short_ctx{128, 128, 64}, prefill{1024, 16, 64};
    std::vector<matrix_row> rows{
        row_of("a", {1, false}, short_ctx, 10.0), row_of("a", {1, false}, prefill, 4.0),
        row_of("a", {2, true}, short_ctx, 15.0),  row_of("a", {2, true}, prefill, 3.0),
        row_of("b", {2, true}, short_ctx, 30.0), // no 1-engine row for b
    };
    rows.push_back({"a", {3, true}, short_ctx, std::nullopt, "error: --mps on: MPS cannot run", -1, 0});
    EXPECT_EQ(gain_pct(rows, 0), std::nullopt);  // the base itself
    EXPECT_DOUBLE_EQ(*gain_pct(rows, 2), 50.0);  // 15 / 10 − 1
    EXPECT_DOUBLE_EQ(*gain_pct(rows, 3), -25.0); // 3 / 4 − 1: the other workload's base
    EXPECT_EQ(gain_pct(rows, 4), std::nullopt);
    EXPECT_EQ(gain_pct(rows, 5), std::nullopt); // failed cell

    const std::string table = to_markdown(rows);
    EXPECT_NE(table.find("| a | 128/128 (64) | 2 engines + MPS | 15.00 | 1920 | 0.0 / 0.0 | 0.00 / 0.00 | +50% | "
                         "2/2 attached to MPS |"),
              std::string::npos)
        << table;
    EXPECT_NE(table.find("| a | 1024/16 (64) | 2 engines + MPS | 3.00 | 48 |"), std::string::npos) << table;
    EXPECT_NE(table.find("-25% |"), std::string::npos) << table;
    EXPECT_NE(table.find("| a | 128/128 (64) | 3 engines + MPS | — | — | — | — | — | error: --mps on: MPS cannot "
                         "run |"),
              std::string::npos)
        << table;
    EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 2 + 6); // header, rule, one line per row

    const nlohmann::ordered_json j = to_json(rows);
    ASSERT_EQ(j.size(), 6u);
    EXPECT_TRUE(j[0]["gain_pct"].is_null());
    EXPECT_DOUBLE_EQ(j[2]["gain_pct"].get<double>(), 50.0);
    EXPECT_EQ(j[2]["mps_attached"], 2);
    EXPECT_FALSE(j[5].contains("request_throughput_rps"));
    EXPECT_EQ(j[5]["error"], "error: --mps on: MPS cannot run");
}

} // namespace
} // namespace llmfleet::bench
