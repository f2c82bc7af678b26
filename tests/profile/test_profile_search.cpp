// The capacity search against fake servers whose latency and throughput are closed-form functions of the
// offered rate, so the threshold it must find is known: convergence within the tolerance, "never holds"
// (cannot serve), "always holds" (capped at --max-rate-rps), the throughput check, TTFT, failures, the downward
// search and the probe budget.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "serve/profiler/rate_search.h"

namespace llmfleet::profiler {
namespace {

// A server with TPOT = base + slope · rate and TTFT = ttft_base + ttft_slope · rate that serves up to
// capacity_rps (achieved = min(rate, capacity)); its closed loop runs at serial_rps with the base latencies.
struct fake_server {
    double tpot_base_ms = 10;
    double tpot_slope_ms = 1; // per req/s
    double ttft_base_ms = 20;
    double ttft_slope_ms = 0;
    double capacity_rps = std::numeric_limits<double>::infinity();
    double serial_rps = 1;
    int64_t n_failed = 0;
    int64_t n_calls = 0;

    probe_measurement operator()(const probe_point& p) {
        ++n_calls;
        const double rate = p.closed_loop ? serial_rps : p.rate_rps;
        const double load = p.closed_loop ? 0 : p.rate_rps; // one request at a time: no load
        probe_measurement m;
        m.n_requests = 20;
        m.n_failed = n_failed;
        m.first_failure = n_failed > 0 ? "http_500: boom" : "";
        m.sent_rps = rate;
        m.achieved_rps = std::min(rate, capacity_rps);
        m.tpot_slo_ms = tpot_base_ms + tpot_slope_ms * load;
        m.tpot_mean_ms = m.tpot_slo_ms;
        m.ttft_slo_ms = ttft_base_ms + ttft_slope_ms * load;
        return m;
    }
};

search_options options(double max_rate = 1000, double tolerance = 0.1, int64_t max_probes = 20) {
    search_options o;
    o.max_rate_rps = max_rate;
    o.tolerance = tolerance;
    o.max_probes = max_probes;
    return o;
}

slo_target slo(double tpot_ms, double ttft_ms = 0) {
    slo_target s;
    s.tpot_ms = tpot_ms;
    s.ttft_ms = ttft_ms;
    return s;
}

// The answer is a rate that held, within the tolerance below the true threshold.
void expect_within_tolerance(const search_result& r, double threshold, double tolerance) {
    EXPECT_EQ(r.outcome, search_outcome::converged);
    EXPECT_LE(r.max_rps, threshold * (1 + 1e-12)) << "must never report a rate above the threshold";
    EXPECT_GE(r.max_rps, threshold / (1 + tolerance)) << "bisected to the tolerance";
    EXPECT_GT(r.failed_rps, threshold);
    EXPECT_LE(r.failed_rps - r.max_rps, tolerance * r.max_rps + 1e-9);
}

TEST(rate_search, converges_to_the_tpot_threshold) {
    fake_server server; // TPOT = 10 + rate: the SLO of 50 ms holds up to exactly 40 req/s
    const search_result r = search_max_rate(std::ref(server), slo(50), options());
    expect_within_tolerance(r, 40, 0.1);
    EXPECT_TRUE(r.probes.front().measurement.point.closed_loop) << "the closed loop comes first";
    EXPECT_EQ(static_cast<int64_t>(r.probes.size()), server.n_calls);
    ASSERT_TRUE(r.at_max.has_value());
    EXPECT_DOUBLE_EQ(r.at_max->point.rate_rps, r.max_rps) << "at_max is the probe at the reported rate";
    EXPECT_LE(*r.at_max->tpot_slo_ms, 50);
}

TEST(rate_search, tighter_tolerance_gets_closer) {
    for (const double tol : {0.2, 0.05, 0.01}) {
        fake_server server;
        server.tpot_slope_ms = 0.37; // threshold (50 − 10) / 0.37 ≈ 108.1 req/s
        const search_result r = search_max_rate(std::ref(server), slo(50), options(1000, tol, 40));
        expect_within_tolerance(r, 40 / 0.37, tol);
    }
}

TEST(rate_search, never_holds_means_cannot_serve) {
    fake_server server;
    server.tpot_base_ms = 80; // even one request at a time is over 50 ms per token
    const search_result r = search_max_rate(std::ref(server), slo(50), options());
    EXPECT_EQ(r.outcome, search_outcome::cannot_serve);
    EXPECT_EQ(r.max_rps, 0);
    EXPECT_EQ(r.probes.size(), 1u) << "nothing is probed after the closed loop fails";
    EXPECT_FALSE(r.probes[0].verdict.held);
    EXPECT_NE(r.probes[0].verdict.reason.find("TPOT p90"), std::string::npos) << r.probes[0].verdict.reason;
    ASSERT_TRUE(r.at_max.has_value()) << "the closed loop's measurement explains the 0";
    EXPECT_TRUE(r.at_max->point.closed_loop);
}

TEST(rate_search, always_holds_up_to_max_rate) {
    fake_server server;
    server.tpot_slope_ms = 0; // never slows down
    const search_result r = search_max_rate(std::ref(server), slo(50), options(300));
    EXPECT_EQ(r.outcome, search_outcome::reached_max_rate);
    EXPECT_DOUBLE_EQ(r.max_rps, 300) << "the cap, exactly";
    for (const probe_record& p : r.probes) {
        EXPECT_LE(p.measurement.point.rate_rps, 300) << "never offers more than --max-rate-rps";
    }
    EXPECT_DOUBLE_EQ(r.probes.back().measurement.point.rate_rps, 300);
}

TEST(rate_search, a_server_that_falls_behind_fails_the_throughput_check) {
    fake_server server;
    server.tpot_slope_ms = 0;
    server.capacity_rps = 27; // keeps up (≥ 90 % of the rate) up to 27 / 0.9 = 30 req/s
    const search_result r = search_max_rate(std::ref(server), slo(50), options(1000, 0.05));
    expect_within_tolerance(r, 30, 0.05);
    bool saw_queue_reason = false;
    for (const probe_record& p : r.probes) {
        saw_queue_reason |= p.verdict.reason.find("the queue grows") != std::string::npos;
    }
    EXPECT_TRUE(saw_queue_reason);
}

TEST(rate_search, ttft_slo_applies_when_given) {
    fake_server server;
    server.tpot_slope_ms = 0;
    server.ttft_slope_ms = 10; // TTFT = 20 + 10 · rate ≤ 520 ms up to 50 req/s
    expect_within_tolerance(search_max_rate(std::ref(server), slo(50, 520), options()), 50, 0.1);
    fake_server unchecked = server;
    EXPECT_EQ(search_max_rate(std::ref(unchecked), slo(50), options(400)).outcome, search_outcome::reached_max_rate)
        << "TTFT 0 means not checked";
}

TEST(rate_search, failed_requests_break_the_slo) {
    fake_server server;
    server.n_failed = 1;
    const search_result r = search_max_rate(std::ref(server), slo(50), options());
    EXPECT_EQ(r.outcome, search_outcome::cannot_serve);
    EXPECT_NE(r.probes[0].verdict.reason.find("1 of 20 requests failed (http_500: boom)"), std::string::npos)
        << r.probes[0].verdict.reason;
}

TEST(rate_search, searches_down_when_the_serial_rate_is_already_too_much) {
    fake_server server;
    server.serial_rps = 100; // the first open-loop guess (100 req/s) is far over the 40 req/s threshold
    const search_result r = search_max_rate(std::ref(server), slo(50), options());
    expect_within_tolerance(r, 40, 0.1);
    ASSERT_GE(r.probes.size(), 3u);
    EXPECT_DOUBLE_EQ(r.probes[1].measurement.point.rate_rps, 100);
    EXPECT_DOUBLE_EQ(r.probes[2].measurement.point.rate_rps, 50) << "÷ growth factor";
}

TEST(rate_search, nothing_holds_down_to_min_rate) {
    fake_server server;
    server.capacity_rps = 0; // serves nothing in open loop, but the closed loop passes (no throughput check)
    search_options o = options();
    o.min_rate_rps = 0.1;
    const search_result r = search_max_rate(std::ref(server), slo(50), o);
    EXPECT_EQ(r.outcome, search_outcome::below_min_rate);
    EXPECT_EQ(r.max_rps, 0);
    for (const probe_record& p : r.probes) {
        EXPECT_TRUE(p.measurement.point.closed_loop || p.measurement.point.rate_rps >= 0.1);
    }
}

TEST(rate_search, the_probe_budget_is_a_hard_cap) {
    fake_server server; // needs ~10 probes for 10 %
    const search_result r = search_max_rate(std::ref(server), slo(50), options(1000, 0.001, 5));
    EXPECT_EQ(r.outcome, search_outcome::probe_limit);
    EXPECT_EQ(server.n_calls, 5);
    EXPECT_GT(r.max_rps, 0) << "the best rate that held so far";
    EXPECT_LE(r.max_rps, 40);
}

TEST(rate_search, outcome_names) {
    EXPECT_EQ(to_string(search_outcome::converged), "converged");
    EXPECT_EQ(to_string(search_outcome::cannot_serve), "cannot_serve");
    EXPECT_EQ(to_string(search_outcome::reached_max_rate), "reached_max_rate");
    EXPECT_EQ(to_string(search_outcome::below_min_rate), "below_min_rate");
    EXPECT_EQ(to_string(search_outcome::probe_limit), "probe_limit");
}

} // namespace
} // namespace llmfleet::profiler
