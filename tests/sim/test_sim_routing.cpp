// Routing and determinism: the same seed gives a byte-identical report; least-requests splits evenly over equal
// replicas; a plan's routing table splits each bucket by its shares (± 1 request, as routing_table promises) and
// sends each bucket to its own pools.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "common/error.h"
#include "planner/trace.h"
#include "sim/simulator.h"
#include "tests/sim/fake_models.h"

namespace {

using namespace llmfleet::sim;
using llmfleet::sim::test::affine_model;
using llmfleet::sim::test::constant_model;

// A plan over input edges [1, 1000, 10000] × one output bucket [1, 100000]: bucket 0 → A only, bucket 1 → A/B by
// the given shares.
std::string two_pool_plan(double share_a, double share_b) {
    return fmt::format(R"({{
  "schema": "llmfleet.plan.v1", "status": "optimal", "cost_usd_per_hour": 3,
  "gpus": [{{"name": "A", "count": 2, "price_usd_per_hour": 1}}, {{"name": "B", "count": 1, "price_usd_per_hour": 1}}],
  "inputs": {{"model": "test", "input_edges": [1, 1000, 10000], "output_edges": [1, 100000]}},
  "buckets": [
    {{"input_bucket": 0, "output_bucket": 0, "input_tokens": [1, 1000], "output_tokens": [1, 100000],
      "rate_rps": 1, "routes": [{{"gpu": "A", "share": 1.0}}]}},
    {{"input_bucket": 1, "output_bucket": 0, "input_tokens": [1000, 10000], "output_tokens": [1, 100000],
      "rate_rps": 1, "routes": [{{"gpu": "A", "share": {}}}, {{"gpu": "B", "share": {}}}]}}
  ]
}})",
                       share_a, share_b);
}

cluster_spec two_pools(const std::string& plan) {
    cluster_spec c;
    c.pools.push_back(make_pool("A", constant_model(5), 2, 1.0));
    c.pools.push_back(make_pool("B", constant_model(5), 1, 1.0));
    c.plan_json = plan;
    c.plan_origin = "test plan";
    return c;
}

llmfleet::planner::trace small_length_trace() {
    llmfleet::planner::trace t;
    t.name = "lengths";
    for (int i = 0; i < 50; ++i) {
        t.requests.push_back({static_cast<double>(i), 10 + (i * 37) % 900, 1 + (i * 11) % 120});
    }
    return t;
}

TEST(sim_determinism, same_seed_same_report) {
    const llmfleet::planner::trace lengths = small_length_trace();
    poisson_options p;
    p.rate_rps = 40;
    p.n_requests = 400;
    p.seed = 7;
    p.length_source = &lengths;
    cluster_spec c;
    c.pools.push_back(make_pool("gpu", std::make_shared<affine_model>(4, 0.02, 20000), 3, 1.5));
    const std::string first = report_to_json(simulate(c, poisson_arrivals(p), simulator_options{}), false);
    const std::string second = report_to_json(simulate(c, poisson_arrivals(p), simulator_options{}), false);
    EXPECT_EQ(first, second);
    p.seed = 8;
    const std::string other = report_to_json(simulate(c, poisson_arrivals(p), simulator_options{}), false);
    EXPECT_NE(first, other); // the seed matters
}

// Requests per replica of a two-replica pool under least-requests, for arrivals `gap_s` apart.
std::pair<int, int> least_requests_split(double gap_s) {
    arrivals a;
    for (int i = 0; i < 200; ++i) {
        a.requests.push_back({i * gap_s, 64, 16});
    }
    cluster_spec c;
    c.pools.push_back(make_pool("gpu", constant_model(5), 2));
    std::vector<request_outcome> outcomes;
    simulator_options o;
    o.routing.policy = llmfleet::serve::routing_policy::least_requests;
    o.request_log = &outcomes;
    const sim_report r = simulate(c, a, o);
    EXPECT_EQ(r.n_finished, 200);
    int n0 = 0, n1 = 0;
    for (const request_outcome& x : outcomes) {
        n0 += x.replica == 0 ? 1 : 0;
        n1 += x.replica == 1 ? 1 : 0;
    }
    return {n0, n1};
}

TEST(sim_routing, least_requests_splits_evenly_over_two_replicas) {
    // Far apart (each request done before the next): equal loads, so the rotating tie-break alternates exactly.
    const auto [a0, a1] = least_requests_split(1.0);
    EXPECT_EQ(a0, 100);
    EXPECT_EQ(a1, 100);
    // Overlapping (~20 in flight): the less loaded replica wins each time; equal replicas stay within 2%.
    const auto [b0, b1] = least_requests_split(0.004);
    EXPECT_EQ(b0 + b1, 200);
    EXPECT_LE(std::abs(b0 - b1), 4) << b0 << " vs " << b1;
}

TEST(sim_routing, plan_shares_split_each_bucket) {
    // 400 requests far apart (no saturation, so no fallback): 200 small prompts (bucket 0: all to A) and 200 large
    // ones (bucket 1: 25% A, 75% B, ± 1 by smooth weighted round-robin).
    arrivals a;
    for (int i = 0; i < 400; ++i) {
        a.requests.push_back({i * 1.0, i % 2 == 0 ? 500 : 5000, 8});
    }
    std::vector<request_outcome> outcomes;
    simulator_options o;
    o.request_log = &outcomes;
    const sim_report r = simulate(two_pools(two_pool_plan(0.25, 0.75)), a, o);
    ASSERT_EQ(r.n_finished, 400);
    std::map<std::pair<int, int>, int> count; // (bucket, pool) → requests; replicas 0-1 are A, 2 is B
    for (size_t i = 0; i < outcomes.size(); ++i) {
        ++count[{static_cast<int>(i % 2), outcomes[i].replica < 2 ? 0 : 1}];
    }
    EXPECT_EQ((count[{0, 0}]), 200);
    EXPECT_EQ((count[{0, 1}]), 0);
    EXPECT_NEAR((count[{1, 0}]), 50, 1);
    EXPECT_NEAR((count[{1, 1}]), 150, 1);
    EXPECT_EQ(r.n_fallbacks, 0);
    ASSERT_EQ(r.pools.size(), 2u);
    EXPECT_EQ(r.pools[0].n_requests + r.pools[1].n_requests, 400);
    EXPECT_DOUBLE_EQ(r.cost_usd_per_hour, 3.0);
}

TEST(sim_routing, saturated_pool_falls_back_to_the_other) {
    // Everything routed to A (2 replicas, cap 1 outstanding each): a burst of 3 → the third goes to B (fallback).
    arrivals a;
    for (int i = 0; i < 3; ++i) {
        a.requests.push_back({0, 500, 8});
    }
    std::vector<request_outcome> outcomes;
    simulator_options o;
    o.routing.max_outstanding_per_backend = 1;
    o.request_log = &outcomes;
    const sim_report r = simulate(two_pools(two_pool_plan(1.0, 0.0)), a, o);
    EXPECT_EQ(r.n_finished, 3);
    EXPECT_EQ(r.n_fallbacks, 1);
    EXPECT_EQ(outcomes[2].replica, 2);
}

TEST(sim_routing, plan_routing_to_a_pool_without_replicas_is_refused) {
    cluster_spec c = two_pools(two_pool_plan(0.5, 0.5));
    c.pools[1].n_replicas = 0;
    arrivals a;
    a.requests.push_back({0, 10, 10});
    try {
        simulate(c, a, simulator_options{});
        FAIL() << "expected an error";
    } catch (const llmfleet::error& e) {
        EXPECT_NE(std::string(e.what()).find("routes to pool `B`, which has no replicas"), std::string::npos)
            << e.what();
    }
}

} // namespace
