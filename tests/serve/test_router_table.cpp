// serve/router routing_table: plan.json (a real `llmfleet plan` output, tests/data/plan_two_pools.json) as a
// routing table: bucket lookup with clamping, smooth weighted round-robin proportions, fallback order, errors.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "serve/router/routing_table.h"
#include "tests/test_support.h"

namespace llmfleet::serve {
namespace {

using nlohmann::json;

// `llmfleet plan --gpus A10G,A100-80GB --input-edges 1,100,1000,8000 --output-edges 1,100,1000,2000 --rate 20
// --output json`: 3 × 3 buckets, 8 with traffic (input 1-100 × output 1000-2000 has none), two split buckets.
json fixture() {
    return json::parse(read_file(std::string(LLMFLEET_SOURCE_DIR) + "/tests/data/plan_two_pools.json", "fixture"));
}

routing_table load(const json& plan) {
    return routing_table::from_plan_json(plan.dump(), "plan_two_pools.json");
}

// Index in the fixture's buckets[] of the cell (input i, output o).
size_t listed(const json& plan, int64_t i, int64_t o) {
    for (size_t k = 0; k < plan["buckets"].size(); ++k) {
        if (plan["buckets"][k]["input_bucket"] == i && plan["buckets"][k]["output_bucket"] == o) {
            return k;
        }
    }
    ADD_FAILURE() << "no bucket " << i << "," << o;
    return 0;
}

TEST(routing_table, loads_the_planner_output) {
    const routing_table table = load(fixture());
    ASSERT_EQ(table.buckets().size(), 9u);
    EXPECT_EQ(table.pools(), (std::vector<std::string>{"A100-80GB", "A10G"}));
    EXPECT_EQ(table.input_edges(), (std::vector<int64_t>{1, 100, 1000, 8000}));
    EXPECT_EQ(table.output_edges(), (std::vector<int64_t>{1, 100, 1000, 2000}));
    const routing_bucket& b4 = table.buckets()[4]; // input 100-1000 × output 100-1000
    EXPECT_EQ(b4.input_lo, 100);
    EXPECT_EQ(b4.input_hi, 1000);
    EXPECT_EQ(b4.output_lo, 100);
    EXPECT_EQ(b4.output_hi, 1000);
    ASSERT_EQ(b4.routes.size(), 2u);
    EXPECT_EQ(b4.routes[0].pool, "A10G");
    EXPECT_NEAR(b4.routes[0].share, 0.018866, 1e-6);
    EXPECT_GT(b4.rate_rps, 4.0);
    EXPECT_TRUE(table.buckets()[2].routes.empty()); // the zero-rate cell, absent from plan.json
}

TEST(routing_table, find_bucket_is_half_open_and_clamps) {
    const routing_table table = load(fixture());
    EXPECT_EQ(table.find_bucket(1, 1), 0);
    EXPECT_EQ(table.find_bucket(99, 99), 0);
    EXPECT_EQ(table.find_bucket(100, 99), 3);  // lo is inside
    EXPECT_EQ(table.find_bucket(100, 100), 4); // hi is outside
    EXPECT_EQ(table.find_bucket(999, 1000), 5);
    EXPECT_EQ(table.find_bucket(1000, 1999), 8);
    EXPECT_EQ(table.find_bucket(0, 0), 0); // below the first edge: first bucket
    EXPECT_EQ(table.find_bucket(-5, 50), 0);
    EXPECT_EQ(table.find_bucket(8000, 2000), 8); // at/after the last edge: last bucket
    EXPECT_EQ(table.find_bucket(1'000'000, 1), 6);
    EXPECT_EQ(table.find_bucket(50, 1'000'000), 2);
}

TEST(routing_table, zero_rate_bucket_has_no_pools) {
    routing_table table = load(fixture());
    EXPECT_TRUE(table.pick_pools(2).empty());
    EXPECT_EQ(table.pick_pools(0), (std::vector<std::string>{"A10G"}));
}

TEST(routing_table, smooth_weighted_round_robin_keeps_every_prefix_within_one) {
    json plan = fixture();
    plan["buckets"][listed(plan, 1, 0)]["routes"] = {{{"gpu", "A10G"}, {"share", 0.3}, {"rate_rps", 1.0}},
                                                     {{"gpu", "A100-80GB"}, {"share", 0.7}, {"rate_rps", 2.0}}};
    routing_table table = load(plan);
    // Property: after every N picks, each pool has share × N ± 1 (so 300 ± 1 / 700 ± 1 after 1000).
    int64_t n_a10g = 0;
    for (int n = 1; n <= 1000; ++n) {
        const std::vector<std::string> pools = table.pick_pools(3);
        ASSERT_EQ(pools.size(), 2u);
        EXPECT_NE(pools[0], pools[1]); // the other pool follows as the fallback
        n_a10g += pools[0] == "A10G" ? 1 : 0;
        ASSERT_NEAR(static_cast<double>(n_a10g), 0.3 * n, 1.0) << "after " << n << " picks";
    }
    EXPECT_NEAR(static_cast<double>(n_a10g), 300.0, 1.0);
    // The planner's own split bucket 4 (A10G 1.9%, A100-80GB 98.1%) too.
    int64_t n_a100 = 0;
    for (int n = 1; n <= 1000; ++n) {
        n_a100 += table.pick_pools(4)[0] == "A100-80GB" ? 1 : 0;
    }
    EXPECT_NEAR(static_cast<double>(n_a100), 0.9811340356571652 * 1000, 1.0);
}

TEST(routing_table, fallbacks_follow_descending_share) {
    json plan = fixture();
    plan["buckets"][listed(plan, 2, 1)]["routes"] = {
        {{"gpu", "A10G"}, {"share", 0.2}}, {{"gpu", "L4"}, {"share", 0.5}}, {{"gpu", "A100-80GB"}, {"share", 0.3}}};
    routing_table table = load(plan);
    EXPECT_EQ(table.pools(), (std::vector<std::string>{"A100-80GB", "A10G", "L4"}));
    const std::vector<std::string> by_share = {"L4", "A100-80GB", "A10G"};
    std::map<std::string, int> first;
    for (int n = 0; n < 100; ++n) {
        const std::vector<std::string> pools = table.pick_pools(7);
        ASSERT_EQ(pools.size(), 3u);
        ++first[pools[0]];
        std::vector<std::string> rest;
        for (const std::string& p : by_share) {
            if (p != pools[0]) {
                rest.push_back(p);
            }
        }
        EXPECT_EQ(std::vector<std::string>(pools.begin() + 1, pools.end()), rest) << "pick " << n;
    }
    EXPECT_EQ(first["L4"], 50);
    EXPECT_EQ(first["A100-80GB"], 30);
    EXPECT_EQ(first["A10G"], 20);
}

TEST(routing_table, concurrent_picks_keep_the_proportions) {
    json plan = fixture();
    plan["buckets"][listed(plan, 1, 0)]["routes"] = {{{"gpu", "A10G"}, {"share", 0.3}},
                                                     {{"gpu", "A100-80GB"}, {"share", 0.7}}};
    routing_table table = load(plan);
    std::mutex mutex;
    int64_t n_a10g = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            int64_t mine = 0;
            for (int i = 0; i < 250; ++i) {
                mine += table.pick_pools(3)[0] == "A10G" ? 1 : 0;
            }
            std::lock_guard lock(mutex);
            n_a10g += mine;
        });
    }
    for (std::thread& th : threads) {
        th.join();
    }
    EXPECT_NEAR(static_cast<double>(n_a10g), 300.0, 1.0);
}

// The error for `plan` after `edit`, which must name `field`.
void expect_error(const std::function<void(json&)>& edit, const std::string& field, const std::string& also = "") {
    json plan = fixture();
    edit(plan);
    const std::string message = test::error_of([&] { load(plan); });
    EXPECT_NE(message.find(field), std::string::npos) << message;
    EXPECT_NE(message.find("plan_two_pools.json: "), std::string::npos) << message;
    EXPECT_NE(message.find("hint:"), std::string::npos) << message;
    if (!also.empty()) {
        EXPECT_NE(message.find(also), std::string::npos) << message;
    }
}

TEST(routing_table, errors_name_the_field) {
    expect_error([](json& p) { p["schema"] = "llmfleet.plan.v0"; }, "plan.json schema", "\"llmfleet.plan.v1\"");
    expect_error([](json& p) { p.erase("schema"); }, "missing required field 'schema'");
    expect_error([](json& p) { p["status"] = "infeasible"; }, "plan.json status", "infeasible");
    expect_error(
        [](json& p) {
            p["inputs"].erase("input_edges");
            p["inputs"]["grid"] = {3, 3};
        },
        "plan.json inputs.input_edges", "plan from a workload with edges");
    expect_error([](json& p) { p["buckets"][0].erase("output_tokens"); }, "plan.json buckets[0].output_tokens",
                 "plan from a workload with edges");
    expect_error([](json& p) { p["buckets"][3]["routes"][0]["share"] = 1.5; },
                 "plan.json buckets[3].routes[0].share: expected a number in [0,1], got 1.5");
    expect_error([](json& p) { p["buckets"][3]["routes"][1]["share"] = "x"; }, "plan.json buckets[3].routes[1].share");
    expect_error([](json& p) { p["buckets"][3]["routes"][1]["share"] = 0.5; }, "plan.json buckets[3].routes",
                 "summing to 1");
    expect_error([](json& p) { p["buckets"][3]["routes"][1]["gpu"] = p["buckets"][3]["routes"][0]["gpu"]; },
                 "plan.json buckets[3].routes[1].gpu", "twice");
    expect_error([](json& p) { p["buckets"][1].erase("routes"); }, "missing required field 'routes'",
                 "plan.json buckets[1]");
    expect_error([](json& p) { p["buckets"][2]["input_bucket"] = 3; }, "plan.json buckets[2].input_bucket", "[0, 3)");
    expect_error(
        [](json& p) {
            p["buckets"][1]["input_tokens"] = {1, 99};
        },
        "plan.json buckets[1].input_tokens", "[1, 100]");
    expect_error([](json& p) { p["buckets"][1] = p["buckets"][0]; }, "plan.json buckets[1]", "listed twice");
    expect_error([](json& p) { p["inputs"]["output_edges"] = {1, 100, 100}; }, "plan.json inputs.output_edges[2]");
    expect_error(
        [](json& p) {
            for (json& b : p["buckets"]) {
                b["routes"] = json::array();
            }
        },
        "plan.json buckets", "no bucket has routes");
    const std::string malformed = test::error_of([] { routing_table::from_plan_json("{\"schema\": ", "x/plan.json"); });
    EXPECT_NE(malformed.find("x/plan.json: malformed JSON"), std::string::npos) << malformed;
}

} // namespace
} // namespace llmfleet::serve
