// `llmfleet simulate` end to end through the real binary: a two-pool plan over a few hundred requests of the Azure
// trace (JSON fields and their consistency), a plan with deployments (tp, engines per GPU), a Poisson run that is
// identical for the same seed, and bad input (missing file, unknown GPU, plan without a solution) → exit 1 with a
// clear message.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "tests/test_support.h"

namespace {

using llmfleet::test::cli_result;

cli_result run(const std::string& args) {
    return llmfleet::test::run_cli("test_simulate_cli", args);
}

std::string source(const std::string& rel) {
    return std::string(LLMFLEET_SOURCE_DIR) + "/" + rel;
}

std::string write_temp(const std::string& name, const std::string& text) {
    return llmfleet::test::write_temp("test_simulate_cli", name, text);
}

// One bucket, all traffic to `gpu_name` (whose gpus[] entry is `gpu_entry`).
std::string one_bucket_plan(const std::string& gpu_entry, const std::string& gpu_name,
                            const std::string& status = "optimal") {
    return R"({"schema": "llmfleet.plan.v1", "status": ")" + status + R"(", "cost_usd_per_hour": 4, "gpus": [)" +
           gpu_entry + R"(],
  "inputs": {"model": "Qwen2.5-7B", "input_edges": [1, 100000], "output_edges": [1, 100000], "slo": {"tpot_ms": 40}},
  "buckets": [{"input_bucket": 0, "output_bucket": 0, "input_tokens": [1, 100000], "output_tokens": [1, 100000],
               "rate_rps": 5, "routes": [{"gpu": ")" +
           gpu_name + R"(", "share": 1.0}]}]})";
}

TEST(simulate_cli, two_pool_plan_on_the_azure_trace) {
    const cli_result r =
        run("simulate --plan " + source("tests/data/plan_two_pools.json") + " --trace " +
            source("data/traces/AzureLLMInferenceTrace_conv.csv") + " --rate 20 --max-requests 300 --output json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["schema"], "llmfleet.simulate.v1");
    EXPECT_EQ(j["model"], "Llama-3-8B"); // from the plan's inputs
    EXPECT_EQ(j["policy"], "least-tokens");
    EXPECT_EQ(j["slo"]["tpot_ms"], 50.0); // the plan's SLO
    EXPECT_EQ(j["requests"]["arrived"], 300);
    EXPECT_EQ(j["requests"]["finished"].get<int>() + j["requests"]["rejected"].get<int>(), 300);
    const double attainment = j["slo_attainment"];
    EXPECT_GE(attainment, 0.0);
    EXPECT_LE(attainment, 1.0);
    EXPECT_NEAR(attainment, j["slo_met"].get<double>() / 300, 1e-12);
    for (const char* key : {"ttft", "tpot", "e2e", "queueing"}) {
        const auto& l = j["latency_ms"][key];
        EXPECT_LE(l["p50"].get<double>(), l["p90"].get<double>()) << key;
        EXPECT_LE(l["p90"].get<double>(), l["p99"].get<double>()) << key;
    }
    EXPECT_GT(j["latency_ms"]["ttft"]["p50"].get<double>(), 0);
    ASSERT_EQ(j["pools"].size(), 2u);
    EXPECT_EQ(j["pools"][0]["name"], "A10G");
    EXPECT_EQ(j["pools"][0]["replicas"], 1);
    EXPECT_EQ(j["pools"][1]["name"], "A100-80GB");
    EXPECT_EQ(j["pools"][1]["replicas"], 5);
    int64_t routed = 0;
    for (const auto& p : j["pools"]) {
        routed += p["requests"].get<int64_t>() + p["rejected"].get<int64_t>();
        EXPECT_GT(p["requests"].get<int64_t>(), 0) << p["name"];
        EXPECT_GT(p["utilisation"].get<double>(), 0) << p["name"];
        EXPECT_LE(p["utilisation"].get<double>(), 1.0) << p["name"];
        EXPECT_GE(p["mean_batch_size"].get<double>(), 1.0) << p["name"];
        EXPECT_GT(p["kv_tokens_per_replica"].get<int64_t>(), 0) << p["name"];
    }
    EXPECT_EQ(routed, 300 - j["requests"]["rejected_by_reason"]["saturated"].get<int64_t>() -
                          j["requests"]["rejected_by_reason"]["no_backend"].get<int64_t>());
    // Cost: 1 × 1.29 + 5 × 1.59 $/h over the simulated span.
    EXPECT_NEAR(j["cost"]["usd_per_hour"].get<double>(), 1.29 + 5 * 1.59, 1e-9);
    EXPECT_NEAR(j["cost"]["usd"].get<double>(),
                j["cost"]["usd_per_hour"].get<double>() * j["span_s"].get<double>() / 3600, 1e-9);
    EXPECT_GT(j["performance"]["requests_per_wall_s"].get<double>(), 0);
}

TEST(simulate_cli, deployments_set_replicas_and_labels) {
    const std::string plan =
        write_temp("deploy.json", one_bucket_plan(R"({"name": "H100x2", "count": 2, "price_usd_per_hour": 2,
                            "deployment": {"gpu": "H100-SXM", "tp": 2}},
                           {"name": "A100-mps", "count": 1, "price_usd_per_hour": 0.8,
                            "deployment": {"gpu": "A100-80GB", "engines_per_gpu": 2}})",
                                                  "H100x2"));
    const cli_result r = run("simulate --plan " + plan +
                             " --poisson-rate 5 --input-len 200 --output-len 50 --n-requests 100 --seed 3 "
                             "--slo-tpot-ms 100 --output json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["pools"].size(), 2u);
    EXPECT_EQ(j["pools"][0]["deployment"], "H100-SXM tp2");
    EXPECT_EQ(j["pools"][0]["replicas"], 2);
    EXPECT_EQ(j["pools"][1]["replicas"], 2); // one A100 holding two engines
    EXPECT_EQ(j["pools"][0]["requests"], 100);
    EXPECT_EQ(j["requests"]["finished"], 100);
    EXPECT_EQ(j["slo"]["tpot_ms"], 100.0); // the flag overrides the plan's 40
    EXPECT_NEAR(j["cost"]["usd_per_hour"].get<double>(), 2 * 2 + 0.8, 1e-9);
    // Fixed lengths: TTFT ≥ one prefill step, TPOT > 0.
    EXPECT_GT(j["latency_ms"]["tpot"]["p50"].get<double>(), 0);

    // The same seed gives the same report (performance aside); another seed another one.
    const cli_result again = run("simulate --plan " + plan +
                                 " --poisson-rate 5 --input-len 200 --output-len 50 --n-requests 100 --seed 3 "
                                 "--slo-tpot-ms 100 --output json");
    auto a = nlohmann::json::parse(again.out);
    auto b = j;
    a.erase("performance");
    b.erase("performance");
    EXPECT_EQ(a.dump(), b.dump());
}

TEST(simulate_cli, text_report) {
    const cli_result r = run("simulate --plan " + source("tests/data/plan_two_pools.json") + " --trace " +
                             source("data/traces/AzureLLMInferenceTrace_conv.csv") + " --max-requests 100");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("SLO attainment:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("A100-80GB"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("cost:"), std::string::npos) << r.out;
}

TEST(simulate_cli, errors_are_clear) {
    cli_result r = run("simulate --plan /nonexistent/plan.json --poisson-rate 1 --input-len 1 --output-len 1 "
                       "--n-requests 1");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot open plan (plan.json) file '/nonexistent/plan.json'"), std::string::npos) << r.err;

    const std::string unknown = write_temp(
        "unknown.json", one_bucket_plan(R"({"name": "TPU-v9", "count": 1, "price_usd_per_hour": 1})", "TPU-v9"));
    r = run("simulate --plan " + unknown + " --poisson-rate 1 --input-len 10 --output-len 10 --n-requests 5");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("GPU type `TPU-v9` is not in the built-in catalog (known: A10G"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--catalog"), std::string::npos) << r.err;

    const std::string infeasible =
        write_temp("infeasible.json",
                   one_bucket_plan(R"({"name": "L4", "count": 1, "price_usd_per_hour": 1})", "L4", "infeasible"));
    r = run("simulate --plan " + infeasible + " --poisson-rate 1 --input-len 10 --output-len 10 --n-requests 5");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("expected optimal or feasible_with_gap"), std::string::npos) << r.err;

    r = run("simulate --plan " + source("tests/data/plan_two_pools.json"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no arrivals: expected --trace FILE"), std::string::npos) << r.err;
}

} // namespace
