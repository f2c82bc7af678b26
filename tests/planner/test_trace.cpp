// Trace parsing and binning: hand-made traces with known counts and rates, the real Azure traces'
// published totals, and malformed input.
#include <filesystem>

#include <gtest/gtest.h>

#include "common/error.h"
#include "planner/scenario.h"
#include "planner/trace.h"
#include "planner/workload.h"
#include "test_util.h"

namespace llmfleet::planner {
namespace {

bucket_grid small_grid() {
    return make_grid(make_bucket_edges({1, 100, 1000}, "in"), make_bucket_edges({1, 50, 500}, "out"));
}

TEST(trace, timestamp_parsing) {
    EXPECT_DOUBLE_EQ(parse_timestamp_s("1970-01-01 00:00:00", "t"), 0.0);
    EXPECT_DOUBLE_EQ(parse_timestamp_s("1970-01-02 00:00:01.5", "t"), 86401.5);
    // 2023-11-16 is day 19677 after the epoch.
    EXPECT_NEAR(parse_timestamp_s("2023-11-16 18:15:46.6805900", "t"), 19677 * 86400.0 + 65746.68059, 1e-6);
    EXPECT_THROW(parse_timestamp_s("2023/11/16 18:15:46", "t"), error);
    EXPECT_THROW(parse_timestamp_s("2023-13-16 18:15:46", "t"), error);
}

TEST(trace, azure_binning_counts_and_rates) {
    // 5 requests over 8 s: rate 5/8 req/s. Buckets: (0,0) ×2, (1,1) ×2, (0,1) ×1.
    const std::string csv = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                            "2023-11-16 18:00:00.0,10,5\n"
                            "2023-11-16 18:00:02.0,99,49\n"
                            "2023-11-16 18:00:04.0,100,50\n"
                            "2023-11-16 18:00:06.0,999,499\n"
                            "2023-11-16 18:00:08.0,1,100\n";
    const trace t = parse_azure_csv(csv, "hand.csv");
    ASSERT_EQ(t.requests.size(), 5u);
    EXPECT_DOUBLE_EQ(t.mean_rate_rps(), 5.0 / 8.0);
    const workload w = bin_trace(t, small_grid(), std::nullopt);
    EXPECT_EQ(w.n_clamped, 0);
    EXPECT_DOUBLE_EQ(w.rate_rps.at(0, 0), 2.0 / 8.0);
    EXPECT_DOUBLE_EQ(w.rate_rps.at(0, 1), 1.0 / 8.0);
    EXPECT_DOUBLE_EQ(w.rate_rps.at(1, 0), 0.0);
    EXPECT_DOUBLE_EQ(w.rate_rps.at(1, 1), 2.0 / 8.0);
    // --rate rescales: 10 req/s total, 40% in (0,0).
    const workload r = bin_trace(t, small_grid(), 10.0);
    EXPECT_DOUBLE_EQ(r.rate_rps.at(0, 0), 4.0);
    EXPECT_DOUBLE_EQ(r.total_rate_rps(), 10.0);
}

TEST(trace, out_of_range_lengths_are_clamped_and_counted) {
    const std::string csv = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                            "2023-11-16 18:00:00,0,5\n"
                            "2023-11-16 18:00:01,5000,5000\n";
    const workload w = bin_trace(parse_azure_csv(csv, "x.csv"), small_grid(), std::nullopt);
    EXPECT_EQ(w.n_clamped, 2);
    EXPECT_DOUBLE_EQ(w.rate_rps.at(0, 0), 1.0);
    EXPECT_DOUBLE_EQ(w.rate_rps.at(1, 1), 1.0);
}

TEST(trace, mooncake_jsonl) {
    const std::string jsonl = R"({"timestamp": 0, "input_length": 10, "output_length": 5, "hash_ids": [0]}
{"timestamp": 4000, "input_length": 500, "output_length": 60, "hash_ids": [1, 2]}
)";
    const trace t = parse_mooncake_jsonl(jsonl, "m.jsonl");
    ASSERT_EQ(t.requests.size(), 2u);
    EXPECT_DOUBLE_EQ(t.requests[1].arrival_s, 4.0);
    EXPECT_DOUBLE_EQ(t.mean_rate_rps(), 0.5);
    const workload w = bin_trace(t, small_grid(), std::nullopt);
    EXPECT_DOUBLE_EQ(w.rate_rps.at(0, 0), 0.25);
    EXPECT_DOUBLE_EQ(w.rate_rps.at(1, 1), 0.25);
}

TEST(trace, malformed_input_names_the_line) {
    try {
        parse_azure_csv("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,12,x\n", "bad.csv");
        FAIL() << "expected an error";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.csv: line 2 GeneratedTokens"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_azure_csv("a,b,c\n", "h.csv"), error);
    EXPECT_THROW(parse_azure_csv("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,-3,4\n", "n.csv"),
                 error);
    EXPECT_THROW(parse_mooncake_jsonl("{\"timestamp\": 0, \"input_length\": 3}\n", "m.jsonl"), error);
    EXPECT_THROW(parse_mooncake_jsonl("{not json}\n", "m.jsonl"), error);
    // One request spans 0 s: no rate without --rate.
    const trace one = parse_azure_csv("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,1,1\n", "1.csv");
    EXPECT_THROW(one.mean_rate_rps(), error);
}

// The built-in Azure conversation trace: 19,366 requests over 58.4 min, 5.53 req/s (data/traces/README.md).
TEST(trace, builtin_azure_conv_matches_published_totals) {
    const trace t = builtin_azure_conv_trace();
    EXPECT_EQ(t.requests.size(), 19366u);
    EXPECT_NEAR(t.mean_rate_rps(), 5.53, 0.005);
    const workload w = bin_trace(t, make_grid(default_bucket_edges(), default_bucket_edges()), std::nullopt);
    EXPECT_EQ(w.n_clamped, 0);
    EXPECT_NEAR(w.total_rate_rps(), t.mean_rate_rps(), 1e-9);
}

TEST(trace, azure_code_file_loads_by_extension) {
    const trace t = load_trace(test::source_path("data/traces/AzureLLMInferenceTrace_code.csv"), std::nullopt);
    EXPECT_EQ(t.requests.size(), 8819u);
    EXPECT_NEAR(t.mean_rate_rps(), 2.57, 0.005);
}

TEST(trace, shared_mooncake_trace_when_present) {
    const std::string path = test::source_path("../shared/data/traces/mooncake_conversation_trace.jsonl");
    if (!std::filesystem::exists(path)) {
        GTEST_SKIP() << "no ../shared beside this checkout";
    }
    const trace t = load_trace(path, std::nullopt);
    EXPECT_EQ(t.requests.size(), 12031u);
}

TEST(workload, distribution_file_and_shape_errors) {
    const bucket_grid grid = small_grid();
    matrix d = matrix::from_rows({{0.2, 0.1}, {0.5, 0.2}});
    const workload w = workload_from_distribution(grid, d, 30, "w");
    EXPECT_DOUBLE_EQ(w.rate_rps.at(1, 0), 15.0);
    EXPECT_THROW(workload_from_distribution(grid, matrix::from_rows({{0.5, 0.5}}), 30, "w"), error);
    EXPECT_THROW(workload_from_distribution(grid, matrix::from_rows({{0.2, 0.1}, {0.5, 0.1}}), 30, "w"), error);
    EXPECT_THROW(workload_from_distribution(grid, d, -1, "w"), error);
}

} // namespace
} // namespace llmfleet::planner
