// `llmfleet profile` as a child process: bad flags and an unreachable server exit 1 with a message; against a real
// `llmfleet engine` on a tiny random model, a 2×2 grid with tiny probes and a generous SLO writes a profile that
// planner::load_profile_file reads (2×2, rates ≥ 0, the smallest bucket served) and a calibration with its points
// and fit. No timing assertions: the rates depend on the machine.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "planner/profile.h"
#include "tests/serve/e2e_support.h"
#include "tests/test_support.h"

namespace llmfleet {
namespace {

const std::string tag = "test_profile_cli";

test::cli_result profile(const std::string& args) {
    return test::run_cli(tag, "profile " + args);
}

TEST(profile_cli, bad_flags_exit_1_naming_the_flag) {
    const auto no_gpu = profile("--input-edges 1,8 --output-edges 1,8");
    EXPECT_EQ(no_gpu.exit_code, 1);
    EXPECT_NE(no_gpu.err.find("--gpu-name: expected"), std::string::npos) << no_gpu.err;
    const auto no_edges = profile("--gpu-name L4");
    EXPECT_EQ(no_edges.exit_code, 1);
    EXPECT_NE(no_edges.err.find("--input-edges / --output-edges: expected bucket edges"), std::string::npos)
        << no_edges.err;
    const auto bad_edges = profile("--gpu-name L4 --input-edges 8,1 --output-edges 1,8");
    EXPECT_EQ(bad_edges.exit_code, 1);
    EXPECT_NE(bad_edges.err.find("--input-edges"), std::string::npos) << bad_edges.err;
    const auto bad_slo = profile("--gpu-name L4 --input-edges 1,8 --output-edges 1,8 --slo-tpot-ms 0");
    EXPECT_EQ(bad_slo.exit_code, 1);
    EXPECT_NE(bad_slo.err.find("--slo-tpot-ms: expected a time > 0 in ms, got 0"), std::string::npos) << bad_slo.err;
}

TEST(profile_cli, unreachable_server_exits_1_with_a_hint) {
    const auto r = profile("--url http://127.0.0.1:1 --gpu-name L4 --input-edges 1,8 --output-edges 1,8");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot reach the server at http://127.0.0.1:1"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hint"), std::string::npos) << r.err;
}

TEST(profile_cli, profiles_a_tiny_engine_on_a_2x2_grid) {
    test::server_process engine(tag,
                                "engine --port 0 --model " + test::tiny_model_dir(tag) + " --served-model-name tiny");
    ASSERT_GT(engine.port, 0);
    const std::string url = "http://127.0.0.1:" + std::to_string(engine.port);
    const std::string out = test::temp_path(tag, "profile.json");
    const std::string calibration = test::temp_path(tag, "calibration.json");
    std::filesystem::remove(out);
    std::filesystem::remove(calibration);
    // Small lengths, few requests, a generous SLO and a low rate cap keep the whole run to seconds.
    const auto r = profile("--url " + url +
                           " --gpu-name TINY-CPU --input-edges 1,8,16 --output-edges 2,4,8 --slo-tpot-ms 1000 "
                           "--requests-per-probe 6 --closed-loop-requests 3 --max-rate-rps 20 --tolerance 0.5 "
                           "--max-probes 5 --max-probe-s 2 --timeout-s 20 --seed 7 --out " +
                           out + " --calibration-out " + calibration);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("llmfleet profile: 2×2 buckets against " + url + " (model `tiny`, GPU TINY-CPU)"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.out.find("max req/s"), std::string::npos) << "the table: " << r.out;
    EXPECT_NE(r.out.find("1-8 × 2-4"), std::string::npos) << r.out;

    const planner::throughput_profile p = planner::load_profile_file(out);
    EXPECT_EQ(p.grid.n_input, 2);
    EXPECT_EQ(p.grid.n_output, 2);
    EXPECT_EQ(p.grid.input.edges, (std::vector<int64_t>{1, 8, 16}));
    ASSERT_EQ(p.max_rps.count("TINY-CPU"), 1u);
    const planner::matrix& m = p.max_rps.at("TINY-CPU");
    for (const double rps : m.data) {
        EXPECT_GE(rps, 0);
        EXPECT_LE(rps, 20) << "never above --max-rate-rps";
    }
    EXPECT_GT(m.at(0, 0), 0) << "the smallest bucket (5 tokens in, 3 out) is served: " << r.out << r.err;

    const auto c = nlohmann::json::parse(test::slurp(calibration));
    EXPECT_EQ(c["schema"], "llmfleet.calibration.v1");
    EXPECT_EQ(c["source"]["model"], "tiny");
    EXPECT_EQ(c["source"]["gpu"], "TINY-CPU");
    ASSERT_GE(c["points"].size(), 4u * 2u) << "a closed-loop and at least one open-loop probe per bucket";
    int n_closed = 0;
    for (const auto& point : c["points"]) {
        n_closed += point["closed_loop"].get<bool>() ? 1 : 0;
        EXPECT_GE(point["achieved_rps"].get<double>(), 0);
        EXPECT_TRUE(point["ttft_ms"].contains("p90"));
    }
    EXPECT_EQ(n_closed, 4) << "one closed-loop probe per bucket";
    EXPECT_EQ(c["points"][0]["input_tokens"], 5) << "midpoint of 1-8 (4.5) rounded";
    EXPECT_EQ(c["points"][0]["output_tokens"], 3);
    EXPECT_EQ(c["points"][0]["n_requests"], 3) << "--closed-loop-requests";
    ASSERT_TRUE(c["fit"]["decode_step"].contains("overhead_ms"));
    ASSERT_TRUE(c["fit"]["decode_step"]["overhead_ms"].is_number());
    EXPECT_GT(c["fit"]["decode_step"]["n_points"].get<int>(), 0);
    EXPECT_TRUE(c["fit"]["prefill"]["ms_per_token"].is_number());
    EXPECT_EQ(c["fit"]["prefill"]["n_points"], 4) << "the closed-loop points";
    EXPECT_EQ(engine.stop(), 0);
}

} // namespace
} // namespace llmfleet
