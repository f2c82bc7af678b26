// Arrival generators: trace rescaling and truncation, the seeded Poisson process (deterministic, mean rate close to
// the asked one, lengths fixed or sampled), trace repetition, and clear errors for bad options.
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "sim/arrivals.h"
#include "tests/test_support.h"

namespace {

using namespace llmfleet::sim;

llmfleet::planner::trace ramp(int n) {
    llmfleet::planner::trace t;
    t.name = "ramp";
    for (int i = 0; i < n; ++i) {
        t.requests.push_back({100.0 + i * 2.0, i == 0 ? 0 : 10 + i, i == 1 ? 0 : 5 + i});
    }
    return t;
}

TEST(sim_arrivals, trace_is_shifted_rescaled_truncated_and_clamped) {
    const llmfleet::planner::trace t = ramp(10); // 10 requests over 18 s: mean rate 10 / 18 req/s
    const arrivals native = arrivals_from_trace(t, {});
    ASSERT_EQ(native.requests.size(), 10u);
    EXPECT_EQ(native.requests[0].arrival_s, 0);
    EXPECT_EQ(native.requests[9].arrival_s, 18);
    EXPECT_EQ(native.requests[0].input_tokens, 1); // 0 → 1, counted
    EXPECT_EQ(native.requests[1].output_tokens, 1);
    EXPECT_EQ(native.n_input_clamped, 1);
    EXPECT_EQ(native.n_output_clamped, 1);

    const arrivals fast = arrivals_from_trace(t, {5.0, 4}); // 9× the native rate, first 4
    ASSERT_EQ(fast.requests.size(), 4u);
    EXPECT_NEAR(fast.requests[3].arrival_s, 6.0 * (10.0 / 18.0) / 5.0, 1e-12);
    EXPECT_EQ(fast.requests[3].input_tokens, 13);
}

TEST(sim_arrivals, poisson_is_seeded_and_has_the_asked_rate) {
    poisson_options p;
    p.rate_rps = 50;
    p.n_requests = 20000;
    p.seed = 3;
    p.input_tokens = 100;
    p.output_tokens = 20;
    const arrivals a = poisson_arrivals(p);
    const arrivals b = poisson_arrivals(p);
    ASSERT_EQ(a.requests.size(), 20000u);
    for (size_t i = 0; i < a.requests.size(); ++i) {
        ASSERT_EQ(a.requests[i].arrival_s, b.requests[i].arrival_s);
    }
    const double rate = (a.requests.size() - 1) / a.requests.back().arrival_s;
    EXPECT_NEAR(rate, 50, 50 * 0.03); // 20k exponential gaps: the mean is within ~1% (3 standard errors: 2%)
    EXPECT_EQ(a.requests[123].input_tokens, 100);
    EXPECT_EQ(a.requests[123].output_tokens, 20);
    p.seed = 4;
    EXPECT_NE(poisson_arrivals(p).requests[5].arrival_s, a.requests[5].arrival_s);
}

TEST(sim_arrivals, poisson_samples_lengths_from_a_trace) {
    const llmfleet::planner::trace t = ramp(10);
    poisson_options p;
    p.rate_rps = 10;
    p.n_requests = 500;
    p.length_source = &t;
    const arrivals a = poisson_arrivals(p);
    for (const request_spec& r : a.requests) {
        // Every sampled length is one of the trace's (after clamping).
        EXPECT_TRUE(r.input_tokens == 1 || (r.input_tokens >= 11 && r.input_tokens <= 19)) << r.input_tokens;
    }
}

TEST(sim_arrivals, repeat_keeps_the_rate) {
    const llmfleet::planner::trace t = ramp(10);
    const llmfleet::planner::trace big = repeat_trace(t, 35);
    ASSERT_EQ(big.requests.size(), 35u);
    EXPECT_EQ(big.requests[10].input_tokens, t.requests[0].input_tokens);
    EXPECT_NEAR(big.requests[10].arrival_s, 18 + 1.8, 1e-12); // one span + one mean gap later
    for (size_t i = 1; i < big.requests.size(); ++i) {
        EXPECT_GT(big.requests[i].arrival_s, big.requests[i - 1].arrival_s);
    }
}

TEST(sim_arrivals, bad_options_say_what_was_expected) {
    const llmfleet::planner::trace t = ramp(10);
    using llmfleet::test::error_of;
    EXPECT_NE(error_of([&] {
                  arrivals_from_trace(t, {-1.0, {}});
              }).find("--rate: expected a request rate > 0"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  arrivals_from_trace(t, {{}, 0});
              }).find("--max-requests: expected ≥ 1"),
              std::string::npos);
    poisson_options p;
    p.rate_rps = 1;
    p.n_requests = 10;
    EXPECT_NE(error_of([&] { poisson_arrivals(p); }).find("--input-len / --output-len"), std::string::npos);
    llmfleet::planner::trace flat;
    flat.name = "flat";
    flat.requests.push_back({0, 1, 1});
    EXPECT_NE(error_of([&] { arrivals_from_trace(flat, {2.0, {}}); }).find("pass the rate"), std::string::npos);
}

} // namespace
