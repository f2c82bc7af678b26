// serve_matrix end to end (real `llmfleet serve` and `llmfleet bench` processes, the tiny model): CPU engines (1 vs
// 2), a pretend GPU host (tests/fleet/fake_bin: fake nvidia-smi and MPS daemon) with 1 engine, 2 under MPS and 2
// without, and an MPS daemon that cannot start: its row carries the daemon's own error while the others are
// measured. Checks what a wrong harness would get wrong: every request measured, exactly output_len tokens per
// request, gains recomputed from the rows, MPS attachment, the table's rows.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "tests/fleet/fleet_test_support.h"
#include "tests/serve/e2e_support.h"

namespace llmfleet {
namespace {

const std::string tag = "test_serve_matrix_e2e";

// The table's model label: the model directory's name (given with a trailing '/' above).
std::string model_label() {
    return std::filesystem::path(test::tiny_model_dir(tag)).filename().string();
}

struct matrix_run {
    test::cli_result cli;
    nlohmann::json doc;
};

matrix_run run_matrix(const std::string& name, const std::string& args) {
    const std::string run_root = test::short_run_dir("smx-" + name);
    const std::string out = test::temp_path(tag, name + ".json");
    std::filesystem::remove(out);
    matrix_run r;
    r.cli = test::run_cli(tag,
                          "--model " + test::tiny_model_dir(tag) + "/ --run-root " + run_root + " --out " + out +
                              " --requests 12 --warmup 1 --serve-arg=--kv-cache-gib --serve-arg=0.05 " + args,
                          "serve_matrix");
    r.doc = nlohmann::json::parse(test::slurp(out), nullptr, false);
    std::filesystem::remove_all(run_root);
    return r;
}

// Every measured row: all 12 requests completed, each with exactly output_len tokens (ignore_eos), and the gain
// over the 1-engine row of its workload as the rows' own throughputs give it.
void expect_measured(const nlohmann::json& rows) {
    for (const auto& r : rows) {
        if (!r["error"].get<std::string>().empty()) {
            continue;
        }
        EXPECT_EQ(r["completed"], 12) << r.dump();
        EXPECT_EQ(r["failed"], 0) << r.dump();
        EXPECT_NEAR(r["output_token_throughput_tps"].get<double>() / r["request_throughput_rps"].get<double>(),
                    r["output_len"].get<double>(), 1e-6)
            << r.dump();
        EXPECT_GT(r["ttft_p99_ms"].get<double>(), 0) << r.dump();
        for (const auto& base : rows) {
            if (base["engines"] == 1 && base["input_len"] == r["input_len"] && base["error"] == "" &&
                r["engines"] != 1) {
                EXPECT_NEAR(
                    r["gain_pct"].get<double>(),
                    100 *
                        (r["request_throughput_rps"].get<double>() / base["request_throughput_rps"].get<double>() - 1),
                    1e-9);
            }
        }
        if (r["engines"] == 1) {
            EXPECT_TRUE(r["gain_pct"].is_null());
        }
    }
}

TEST(serve_matrix_e2e, cpu_engines_one_vs_two_over_two_workloads) {
    const matrix_run r = run_matrix("cpu", "--host-kind cpu --fleets 1,2 --workloads 16x8,48x2@2 --concurrency 4");
    ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
    ASSERT_TRUE(r.doc.is_object()) << r.cli.err;
    EXPECT_EQ(r.doc["schema"], "llmfleet.serve_matrix.v1");
    const auto& rows = r.doc["rows"];
    ASSERT_EQ(rows.size(), 4u) << r.doc.dump();
    // Model-major, then shapes, then workloads.
    EXPECT_EQ(rows[0]["engines"], 1);
    EXPECT_EQ(rows[1]["input_len"], 48);
    EXPECT_EQ(rows[1]["concurrency"], 2);
    EXPECT_EQ(rows[2]["engines"], 2);
    EXPECT_EQ(rows[3]["output_len"], 2);
    expect_measured(rows);
    EXPECT_NE(r.cli.out.find("| " + model_label() + " | 16/8 (4) | 2 engines, no MPS | "), std::string::npos)
        << r.cli.out;
    EXPECT_EQ(r.doc["markdown"], r.cli.out);

    // An MPS shape on a CPU host is refused before anything starts.
    const test::cli_result bad = test::run_cli(
        tag, "--model " + test::tiny_model_dir(tag) + " --host-kind cpu --fleets 1,2:mps", "serve_matrix");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("'2 engines + MPS' needs a GPU"), std::string::npos) << bad.err;
}

// Past --budget-s no serve starts: the first fleet is measured (the budget is checked before each serve), the next
// is a row saying it was not run, and the JSON holds both.
TEST(serve_matrix_e2e, a_spent_budget_leaves_the_remaining_fleets_as_not_run_rows) {
    const matrix_run r = run_matrix("budget", "--host-kind cpu --fleets 1,2 --workloads 16x4 --budget-s 0.001");
    EXPECT_EQ(r.cli.exit_code, 2) << r.cli.err;
    const auto& rows = r.doc["rows"];
    ASSERT_EQ(rows.size(), 2u) << r.doc.dump();
    EXPECT_EQ(rows[0]["error"], "");
    EXPECT_NE(rows[1]["error"].get<std::string>().find("not run: the 0.001 s budget (--budget-s) was spent"),
              std::string::npos)
        << rows[1].dump();
    expect_measured(rows);
}

TEST(serve_matrix_e2e, pretend_gpu_host_runs_engines_with_and_without_mps) {
    const test::fake_gpu_host host(tag, "0, GPU-smx0, NVIDIA H100 80GB HBM3, 81559 MiB\n");
    const test::scoped_env no_fail("FAKE_MPS_FAIL_START", std::nullopt);
    const matrix_run r = run_matrix("gpu", "--fleets 1,2:mps,2:nomps --workloads 16x4");
    ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
    EXPECT_EQ(r.doc["host_kind"], "gpu");
    const auto& rows = r.doc["rows"];
    ASSERT_EQ(rows.size(), 3u) << r.doc.dump();
    EXPECT_TRUE(rows[0]["mps_attached"].is_null());
    EXPECT_EQ(rows[1]["mps"], true);
    EXPECT_EQ(rows[1]["mps_attached"], 2) << "both engines in the daemon's client list";
    EXPECT_EQ(rows[2]["mps"], false);
    EXPECT_TRUE(rows[2]["mps_attached"].is_null());
    expect_measured(rows);
    EXPECT_NE(r.cli.out.find("2/2 attached to MPS"), std::string::npos) << r.cli.out;
}

TEST(serve_matrix_e2e, a_daemon_that_cannot_start_is_reported_and_the_other_rows_are_measured) {
    const test::fake_gpu_host host(tag, "0, GPU-smx1, NVIDIA H100 80GB HBM3, 81559 MiB\n");
    const test::scoped_env fail("FAKE_MPS_FAIL_START", "1");
    const matrix_run r = run_matrix("nomps", "--fleets 2:mps,1 --workloads 16x4");
    EXPECT_EQ(r.cli.exit_code, 2) << r.cli.err;
    const auto& rows = r.doc["rows"];
    ASSERT_EQ(rows.size(), 2u) << r.doc.dump();
    EXPECT_NE(rows[0]["error"].get<std::string>().find("fake failure: the MPS control daemon cannot start"),
              std::string::npos)
        << rows[0].dump();
    EXPECT_FALSE(rows[0].contains("request_throughput_rps"));
    EXPECT_EQ(rows[1]["error"], "");
    expect_measured(rows);
    EXPECT_NE(r.cli.out.find("| " + model_label() + " | 16/4 (64) | 2 engines + MPS | — |"), std::string::npos)
        << r.cli.out;
}

} // namespace
} // namespace llmfleet
