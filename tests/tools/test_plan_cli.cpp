// `llmfleet plan` end to end through the real binary: the default scenario, Mélange's example, JSON output,
// and bad input (missing file, malformed JSON, negative rate, mismatched shapes) → clear error, exit ≠ 0.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace {

using llmfleet::test::cli_result;
using run_result = cli_result;

run_result run(const std::string& args) {
    return llmfleet::test::run_cli("test_plan_cli", args);
}

std::string write_temp(const std::string& name, const std::string& text) {
    return llmfleet::test::write_temp("test_plan_cli", name, text);
}

std::string source(const std::string& rel) {
    return std::string(LLMFLEET_SOURCE_DIR) + "/" + rel;
}

TEST(plan_cli, default_scenario_prints_a_table) {
    const run_result r = run("plan");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Llama-3-8B on AzureLLMInferenceTrace_conv.csv"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("status: optimal"), std::string::npos);
    EXPECT_NE(r.out.find("savings:"), std::string::npos);
}

// Joint planning: pools are deployments with their tp / pp / engines per GPU in plan.json, the plain-only
// (Mélange-space) optimum is reported and never cheaper, and --explain lists the rejected deployments.
TEST(plan_cli, joint_plan_writes_deployments) {
    const run_result r = run("plan --joint --gpus L4,H100-SXM --model Llama-3-8B --rate 20 --tpot-ms 50 --output json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["status"], "optimal");
    ASSERT_TRUE(j.contains("plain_only"));
    EXPECT_LE(j["cost_usd_per_hour"].get<double>(), j["plain_only"]["cost_usd_per_hour"].get<double>() + 1e-9);
    int n_deployments = 0;
    for (const auto& g : j["gpus"]) {
        if (g.contains("deployment")) {
            ++n_deployments;
            const auto& d = g["deployment"];
            EXPECT_EQ(g["gpus_per_unit"].get<int>(), d["tp"].get<int>() * d["pp"].get<int>()) << g.dump();
        }
    }
    EXPECT_GT(n_deployments, 0) << r.out;
    const run_result t = run("plan --joint --gpus L4 --tp 1,2,3 --pp 1 --engines-per-gpu 1 --explain");
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find("L4 tp3: "), std::string::npos) << t.out; // 32 heads do not divide by 3
    EXPECT_NE(t.out.find("joint: "), std::string::npos) << t.out;
}

TEST(plan_cli, melange_example_same_optimum) {
    const run_result r = run("plan --melange " + source("tests/data/melange_issue_example.json") + " --output json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["schema"], "llmfleet.plan.v1");
    EXPECT_EQ(j["status"], "optimal");
    EXPECT_EQ(j["mode"], "slices");
    EXPECT_NEAR(j["cost_usd_per_hour"].get<double>(), 6.70, 1e-9);
    for (const auto& g : j["gpus"]) {
        EXPECT_EQ(g["count"].get<int>(), g["name"] == "A10G" ? 3 : 1);
    }
    // Every bucket with traffic is routed: shares sum to 1.
    for (const auto& b : j["buckets"]) {
        double total = 0;
        for (const auto& route : b["routes"]) {
            total += route["share"].get<double>();
        }
        EXPECT_NEAR(total, 1.0, 1e-9);
    }
}

TEST(plan_cli, compare_prints_both_costs) {
    const run_result r = run("plan --melange " + source("tests/data/melange_issue_example.json") + " --compare");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("slices (slice factor 1) optimal 6.700 $/h"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("fractional optimal 4.680 $/h"), std::string::npos) << r.out;
}

TEST(plan_cli, json_out_file_and_workload_file) {
    const std::string workload = write_temp("workload.json", R"({"input_edges": [1, 500, 4000],
        "output_edges": [1, 100, 1000], "distribution": [[0.4, 0.2], [0.3, 0.1]], "total_rate_rps": 12})");
    const std::string out = llmfleet::test::temp_path("test_plan_cli", "plan.json");
    const run_result r = run("plan --workload " + workload + " --model Qwen2.5-7B --gpus L4,A100-80GB,H100-SXM --out " +
                             out + " --max-utilisation 0.8");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(llmfleet::test::slurp(out));
    EXPECT_EQ(j["inputs"]["model"], "Qwen2.5-7B");
    EXPECT_NEAR(j["inputs"]["total_rate_rps"].get<double>(), 12.0, 1e-9);
    EXPECT_EQ(j["buckets"].size(), 4u);
    for (const auto& g : j["gpus"]) {
        EXPECT_LE(g["utilisation"].get<double>(), 0.8 + 1e-6);
    }
}

TEST(plan_cli, infeasible_exits_2_with_reason) {
    // 8 GiB cards cannot hold Llama-3-8B's 16 GB of weights.
    const run_result r = run("plan --gpus L4 --set L4.memory_gib=8");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.out.find("zero throughput on every GPU type (L4)"), std::string::npos) << r.out;
}

TEST(plan_cli, bad_input_clear_errors) {
    struct bad_case {
        std::string args;
        std::string message;
    };
    const std::string malformed = write_temp("malformed.json", "{\"gpu_info\": [1, 2");
    const std::string ragged = write_temp("ragged.json", R"({"gpu_info": {"A": {"cost": 1, "tputs": [[1, 2], [3]]}},
        "workload_distribution": [[0.5, 0.5], [0, 0]], "total_request_rate": 2, "slice_factor": 1})");
    const std::string mismatched = write_temp("mismatched.json", R"({"input_edges": [1, 10, 100],
        "output_edges": [1, 10], "distribution": [[0.5, 0.5]], "total_rate_rps": 3})");
    const std::vector<bad_case> cases = {
        {"plan --trace /nonexistent/trace.csv", "cannot open trace file '/nonexistent/trace.csv'"},
        {"plan --melange " + malformed, "malformed JSON"},
        {"plan --rate -5", "--rate: expected a request rate >= 0 req/s, got -5"},
        {"plan --melange " + ragged, "ragged matrix: row 1 has 1 columns but row 0 has 2"},
        {"plan --workload " + mismatched, "distribution is 1x2 but the bucket grid is 2x1"},
        {"plan --price B200=3", "--price: unknown GPU type 'B200'"},
        {"plan --price H100-SXM=cheap", "--price H100-SXM: expected a finite number, got 'cheap'"},
        {"plan --max-gpus L4=-2", "--max-gpus L4: expected a count >= 0, got -2"},
        {"plan --prices spot", "unknown price set 'spot'"},
        {"plan --model gpt-5", "unknown model 'gpt-5'"},
        {"plan --input-edges 10,5", "--input-edges: edges must increase strictly"},
        {"plan --slices 0", "--slices: expected a slice factor >= 1, got 0"},
        {"plan --tpot-ms 0", "--tpot-ms and --ttft-ms must be > 0 ms"},
    };
    for (const bad_case& c : cases) {
        const run_result r = run(c.args);
        EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\nstderr: " << r.err;
        EXPECT_EQ(r.err.find("internal check failed"), std::string::npos) << c.args;
    }
    // An unknown flag is a CLI11 usage error: non-zero exit, names the flag.
    const run_result r = run("plan --frobnicate 3");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;
}

} // namespace
