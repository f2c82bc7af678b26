// serve/router routing_policy: pick_backend distributions (round robin, least requests, least tokens) and a
// small discrete-time load simulation where least-requests favours the faster backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "serve/router/routing_policy.h"
#include "tests/test_support.h"

namespace llmfleet::serve {
namespace {

std::vector<int> count_picks(routing_policy policy, const std::vector<backend_load>& loads, int n_picks) {
    std::vector<int> counts(loads.size(), 0);
    uint64_t cursor = 0;
    for (int k = 0; k < n_picks; ++k) {
        const int i = pick_backend(policy, loads, cursor);
        EXPECT_GE(i, 0);
        if (i >= 0) {
            ++counts[static_cast<size_t>(i)];
        }
    }
    return counts;
}

TEST(routing_policy, names_round_trip_and_bad_names_list_the_choices) {
    for (const routing_policy p :
         {routing_policy::round_robin, routing_policy::least_requests, routing_policy::least_tokens}) {
        EXPECT_EQ(parse_routing_policy(to_string(p)), p);
    }
    EXPECT_EQ(to_string(routing_policy::least_tokens), "least-tokens");
    const std::string message = test::error_of([] { parse_routing_policy("random"); });
    EXPECT_NE(message.find("`random`"), std::string::npos) << message;
    EXPECT_NE(message.find("round-robin, least-requests, least-tokens"), std::string::npos) << message;
}

TEST(routing_policy, round_robin_splits_exactly) {
    // Property: round robin over n available backends gives each exactly picks / n.
    EXPECT_EQ(count_picks(routing_policy::round_robin, std::vector<backend_load>(3), 3000),
              (std::vector<int>{1000, 1000, 1000}));
}

TEST(routing_policy, round_robin_skips_an_unavailable_backend_without_favouring_its_neighbour) {
    for (size_t down = 0; down < 3; ++down) {
        std::vector<backend_load> loads(3);
        loads[down].available = false;
        std::vector<int> expected(3, 1500);
        expected[down] = 0;
        EXPECT_EQ(count_picks(routing_policy::round_robin, loads, 3000), expected) << "down " << down;
    }
}

TEST(routing_policy, least_requests_picks_the_argmin_among_available) {
    std::vector<backend_load> loads = {{true, 5, 500}, {true, 2, 900}, {true, 7, 1}, {false, 0, 0}};
    uint64_t cursor = 0;
    EXPECT_EQ(pick_backend(routing_policy::least_requests, loads, cursor), 1);
    EXPECT_EQ(cursor, 2u);
    // least_tokens looks at tokens only: backend 2 has the fewest tokens although it has the most requests.
    EXPECT_EQ(pick_backend(routing_policy::least_tokens, loads, cursor), 2);
    loads[1].available = false;
    EXPECT_EQ(pick_backend(routing_policy::least_requests, loads, cursor), 0);
}

TEST(routing_policy, equal_loads_rotate_evenly) {
    // Property: with a static tie, least-* spreads like round robin (each within ±1 of picks / n), not always 0.
    for (const routing_policy p : {routing_policy::least_requests, routing_policy::least_tokens}) {
        const std::vector<backend_load> loads = {{true, 4, 100}, {true, 4, 100}, {true, 4, 100}, {true, 9, 900}};
        const std::vector<int> counts = count_picks(p, loads, 1000);
        for (size_t i = 0; i < 3; ++i) {
            EXPECT_NEAR(counts[i], 1000 / 3.0, 1.0) << to_string(p) << " backend " << i;
        }
        EXPECT_EQ(counts[3], 0) << to_string(p);
    }
}

TEST(routing_policy, nothing_available_gives_minus_one_and_keeps_the_cursor) {
    for (const routing_policy p :
         {routing_policy::round_robin, routing_policy::least_requests, routing_policy::least_tokens}) {
        std::vector<backend_load> loads(3);
        for (backend_load& b : loads) {
            b.available = false;
        }
        uint64_t cursor = 7;
        EXPECT_EQ(pick_backend(p, loads, cursor), -1);
        EXPECT_EQ(cursor, 7u);
        EXPECT_EQ(pick_backend(p, std::vector<backend_load>{}, cursor), -1);
    }
}

// A tiny discrete loop: each tick 3 requests arrive and are routed one by one on the current snapshot, then
// backend b completes up to completions_per_tick[b] of its outstanding requests.
struct sim_result {
    std::array<int64_t, 2> sent{};
    std::array<int64_t, 2> completed{};
    std::array<int64_t, 2> outstanding{};
    int64_t max_outstanding = 0;
};

sim_result simulate(routing_policy policy, int n_ticks) {
    constexpr std::array<int64_t, 2> completions_per_tick = {3, 1}; // backend 0 is 3× faster
    constexpr int64_t tokens_per_request = 300;
    sim_result r;
    uint64_t cursor = 0;
    for (int t = 0; t < n_ticks; ++t) {
        for (int a = 0; a < 3; ++a) {
            const std::array<backend_load, 2> loads = {
                backend_load{true, r.outstanding[0], r.outstanding[0] * tokens_per_request},
                backend_load{true, r.outstanding[1], r.outstanding[1] * tokens_per_request}};
            const int b = pick_backend(policy, loads, cursor);
            EXPECT_GE(b, 0);
            ++r.sent[static_cast<size_t>(b)];
            ++r.outstanding[static_cast<size_t>(b)];
        }
        for (size_t b = 0; b < 2; ++b) {
            const int64_t done = std::min(r.outstanding[b], completions_per_tick[b]);
            r.outstanding[b] -= done;
            r.completed[b] += done;
            r.max_outstanding = std::max(r.max_outstanding, r.outstanding[b]);
        }
    }
    return r;
}

TEST(routing_policy, least_requests_sends_more_to_the_faster_backend_than_round_robin) {
    constexpr int n_ticks = 1000;
    const sim_result rr = simulate(routing_policy::round_robin, n_ticks);
    const sim_result lr = simulate(routing_policy::least_requests, n_ticks);
    const sim_result lt = simulate(routing_policy::least_tokens, n_ticks);
    for (const sim_result* r : {&rr, &lr, &lt}) {
        // Conservation: every request is either completed or still outstanding.
        for (size_t b = 0; b < 2; ++b) {
            EXPECT_EQ(r->sent[b], r->completed[b] + r->outstanding[b]);
        }
        EXPECT_EQ(r->sent[0] + r->sent[1], 3 * n_ticks);
    }
    // Round robin ignores speed: 1500/1500, and the slow backend's queue grows by 0.5 per tick (to ~500).
    EXPECT_EQ(rr.sent[0], 1500);
    EXPECT_GE(rr.outstanding[1], 490);
    // Least requests keeps queues short and gives the fast backend 2 of every 3 requests (all it is not idle
    // for; the slow one completes 1 per tick): expected 2000 ± 10, queues ≤ 3.
    EXPECT_NEAR(static_cast<double>(lr.sent[0]), 2000.0, 10.0);
    EXPECT_LE(lr.max_outstanding, 3);
    EXPECT_GT(lr.sent[0], rr.sent[0] * 13 / 10); // ≥ 1.3× what round robin sends it
    // Equal tokens per request: least tokens behaves like least requests.
    EXPECT_EQ(lt.sent, lr.sent);
}

} // namespace
} // namespace llmfleet::serve
