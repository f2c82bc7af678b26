// serve/router backend_health: the ejection / half-open probe state machine driven with explicit time points.
#include <gtest/gtest.h>

#include <chrono>

#include "serve/router/backend_health.h"
#include "tests/test_support.h"

namespace llmfleet::serve {
namespace {

using namespace std::chrono_literals;
using time_point = backend_health::time_point;

const time_point t0 = time_point{} + 1000s;

TEST(backend_health, state_names) {
    EXPECT_EQ(to_string(backend_state::healthy), "healthy");
    EXPECT_EQ(to_string(backend_state::ejected), "ejected");
    EXPECT_EQ(to_string(backend_state::probing), "probing");
}

TEST(backend_health, a_success_resets_the_failure_count_before_ejection) {
    backend_health h;
    h.on_failure(t0, "connect refused");
    h.on_failure(t0 + 1ms, "HTTP 503");
    EXPECT_EQ(h.consecutive_failures(), 2);
    EXPECT_EQ(h.state(t0 + 1ms), backend_state::healthy);
    h.on_success(t0 + 2ms);
    EXPECT_EQ(h.consecutive_failures(), 0);
    h.on_failure(t0 + 3ms, "a");
    h.on_failure(t0 + 4ms, "b");
    EXPECT_EQ(h.state(t0 + 4ms), backend_state::healthy); // 2 in a row again, not 4
    EXPECT_EQ(h.n_ejections(), 0);
    EXPECT_EQ(h.last_failure(), "b");
}

TEST(backend_health, full_cycle_eject_probe_double_cap_and_reset) {
    backend_health h; // 3 failures, 2 s base, 30 s max
    EXPECT_TRUE(h.try_acquire(t0));
    EXPECT_TRUE(h.try_acquire(t0)); // healthy: no limit on concurrent requests
    h.on_failure(t0, "f1");
    h.on_failure(t0 + 1ms, "f2");
    h.on_failure(t0 + 2ms, "f3"); // third in a row: ejected until t0 + 2 ms + 2 s
    const time_point ejected_at = t0 + 2ms;
    EXPECT_EQ(h.state(ejected_at), backend_state::ejected);
    EXPECT_EQ(h.n_ejections(), 1);
    EXPECT_EQ(h.last_failure(), "f3");
    EXPECT_EQ(h.ejected_until(), ejected_at + 2000ms);
    EXPECT_FALSE(h.would_accept(ejected_at + 1999ms));
    EXPECT_FALSE(h.try_acquire(ejected_at + 1999ms));

    // While ejected: a late success does not readmit, a late failure does not extend the ejection.
    h.on_success(ejected_at + 500ms);
    EXPECT_EQ(h.state(ejected_at + 500ms), backend_state::ejected);
    h.on_failure(ejected_at + 600ms, "late");
    EXPECT_EQ(h.ejected_until(), ejected_at + 2000ms);
    EXPECT_EQ(h.n_ejections(), 1);

    // Time over: probing, exactly one trial at a time.
    time_point now = ejected_at + 2000ms;
    EXPECT_EQ(h.state(now), backend_state::probing);
    EXPECT_TRUE(h.would_accept(now));
    EXPECT_TRUE(h.try_acquire(now));
    EXPECT_FALSE(h.try_acquire(now));
    EXPECT_FALSE(h.would_accept(now + 10ms));
    EXPECT_EQ(h.state(now + 10ms), backend_state::probing);

    // Failed probes: ejection doubles 4, 8, 16 s, then stops at the 30 s cap.
    for (const auto expected : {4000ms, 8000ms, 16000ms, 30000ms, 30000ms}) {
        h.on_failure(now, "probe failed");
        EXPECT_EQ(h.state(now), backend_state::ejected);
        EXPECT_EQ(h.ejection_ms(), expected);
        EXPECT_EQ(h.ejected_until(), now + expected);
        EXPECT_FALSE(h.try_acquire(now + expected - 1ms));
        now += expected;
        EXPECT_EQ(h.state(now), backend_state::probing);
        EXPECT_TRUE(h.try_acquire(now));
    }
    EXPECT_EQ(h.n_ejections(), 6);

    // A successful probe readmits and resets the ejection time.
    h.on_success(now + 5ms);
    EXPECT_EQ(h.state(now + 5ms), backend_state::healthy);
    EXPECT_EQ(h.consecutive_failures(), 0);
    EXPECT_EQ(h.ejection_ms(), 2000ms);
    EXPECT_TRUE(h.try_acquire(now + 5ms));
    EXPECT_TRUE(h.try_acquire(now + 5ms));

    // The next ejection starts from the base again.
    for (int i = 0; i < 3; ++i) {
        h.on_failure(now + 10ms, "again");
    }
    EXPECT_EQ(h.state(now + 10ms), backend_state::ejected);
    EXPECT_EQ(h.ejected_until(), now + 10ms + 2000ms);
    EXPECT_EQ(h.n_ejections(), 7);
}

TEST(backend_health, an_active_check_in_probing_decides_without_a_trial) {
    backend_health h(health_options{1, 100ms, 1000ms});
    h.on_failure(t0, "down");
    EXPECT_EQ(h.state(t0), backend_state::ejected);
    h.on_success(t0 + 100ms); // check succeeded once the time was over: readmitted
    EXPECT_EQ(h.state(t0 + 100ms), backend_state::healthy);
    h.on_failure(t0 + 200ms, "down again");
    h.on_failure(t0 + 300ms, "check failed"); // probing (no trial taken), failed check: re-ejected, doubled
    EXPECT_EQ(h.state(t0 + 300ms), backend_state::ejected);
    EXPECT_EQ(h.ejected_until(), t0 + 300ms + 200ms);
}

TEST(backend_health, rejects_bad_options) {
    EXPECT_NE(test::error_of([] {
                  backend_health(health_options{0, 2000ms, 30000ms});
              }).find("eject_after_failures"),
              std::string::npos);
    EXPECT_NE(test::error_of([] {
                  backend_health(health_options{3, 5000ms, 1000ms});
              }).find("base ≤ max"),
              std::string::npos);
}

} // namespace
} // namespace llmfleet::serve
