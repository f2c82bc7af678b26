// The engine lifecycle state machine (every legal edge, every illegal one refused) and the restart backoff schedule
// (exponential, capped, reset after a stable period).
#include <gtest/gtest.h>

#include <array>
#include <set>
#include <utility>

#include "fleet/engine_state.h"
#include "tests/test_support.h"

namespace llmfleet::fleet {
namespace {

using s = engine_state;
constexpr std::array all_states = {s::stopped, s::starting, s::ready, s::draining, s::failed, s::restarting};

// The diagram above engine_state, edge by edge.
const std::set<std::pair<s, s>> legal = {
    {s::stopped, s::starting}, {s::starting, s::ready},      {s::starting, s::failed},    {s::starting, s::draining},
    {s::ready, s::failed},     {s::ready, s::draining},      {s::draining, s::stopped},   {s::failed, s::restarting},
    {s::failed, s::stopped},   {s::restarting, s::starting}, {s::restarting, s::stopped},
};

TEST(engine_state, exactly_the_diagrams_edges_are_legal) {
    for (const s from : all_states) {
        for (const s to : all_states) {
            EXPECT_EQ(can_transition(from, to), legal.contains({from, to}))
                << to_string(from) << " → " << to_string(to);
        }
    }
}

TEST(engine_state, every_state_has_a_name) {
    std::set<std::string_view> names;
    for (const s st : all_states) {
        names.insert(to_string(st));
    }
    EXPECT_EQ(names.size(), all_states.size());
    EXPECT_EQ(to_string(s::restarting), "restarting");
}

TEST(engine_state_machine, follows_a_crash_and_restart) {
    engine_state_machine m;
    EXPECT_EQ(m.state(), s::stopped);
    for (const s to :
         {s::starting, s::ready, s::failed, s::restarting, s::starting, s::ready, s::draining, s::stopped}) {
        const status st = m.transition(to, "step");
        ASSERT_TRUE(st.is_ok()) << st.message();
        EXPECT_EQ(m.state(), to);
    }
    EXPECT_EQ(m.n_transitions(), 8);
}

TEST(engine_state_machine, refuses_illegal_transitions_and_keeps_its_state) {
    engine_state_machine m;
    ASSERT_TRUE(m.transition(s::starting, "spawned").is_ok());
    ASSERT_TRUE(m.transition(s::ready, "GET /health answered 200").is_ok());
    const status st = m.transition(s::starting, "respawn without failing first");
    EXPECT_EQ(st.code(), status_code::invalid_argument);
    EXPECT_NE(st.message().find("ready → starting"), std::string::npos) << st.message();
    EXPECT_EQ(m.state(), s::ready);
    EXPECT_EQ(m.reason(), "GET /health answered 200");
    EXPECT_EQ(m.n_transitions(), 2);
    EXPECT_FALSE(m.transition(s::stopped, "an engine that serves cannot stop without draining").is_ok());
    EXPECT_FALSE(m.transition(s::restarting, "only a failed engine restarts").is_ok());
    EXPECT_EQ(m.state(), s::ready);
}

TEST(backoff, doubles_from_the_initial_delay_up_to_the_cap) {
    const backoff_options o{0.5, 2.0, 30.0, 60.0};
    const std::array expected = {0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0};
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_DOUBLE_EQ(backoff_delay_s(o, static_cast<int64_t>(i + 1)), expected[i]) << "failure " << i + 1;
    }
    EXPECT_DOUBLE_EQ(backoff_delay_s(o, 1'000'000), 30.0) << "a long crash loop saturates at the cap";
    EXPECT_DOUBLE_EQ(backoff_delay_s({1.0, 1.0, 5.0, 0}, 7), 1.0) << "factor 1: a constant delay";
}

TEST(backoff, resets_after_a_stable_ready_period_only) {
    restart_backoff b({0.5, 2.0, 30.0, 60.0});
    EXPECT_DOUBLE_EQ(b.on_failure(0), 0.5);
    b.on_ready(1);
    EXPECT_DOUBLE_EQ(b.on_failure(10), 1.0) << "ready for 9 s < 60 s: still the same incident";
    EXPECT_DOUBLE_EQ(b.on_failure(11), 2.0) << "failed again without becoming ready";
    b.on_ready(12);
    EXPECT_DOUBLE_EQ(b.on_failure(12 + 60), 0.5) << "ready for 60 s: the next failure starts over";
    EXPECT_EQ(b.n_consecutive_failures(), 1);
}

TEST(backoff, rejects_options_out_of_range) {
    EXPECT_NE(test::error_of([] { check_backoff_options({0, 2, 30, 60}); }).find("initial delay"), std::string::npos);
    EXPECT_NE(test::error_of([] { check_backoff_options({1, 0.5, 30, 60}); }).find("factor"), std::string::npos);
    EXPECT_NE(test::error_of([] { check_backoff_options({5, 2, 1, 60}); }).find("cap"), std::string::npos);
    EXPECT_NE(test::error_of([] { restart_backoff({0.5, 2, 30, -1}); }).find("stable"), std::string::npos);
}

} // namespace
} // namespace llmfleet::fleet
