// The simulator on set-ups with closed-form answers (constant step time T), plus its invariants: every request
// finishes or is rejected exactly once, the clock never goes backwards, events at one instant run in kind order,
// and a KV pool too small for the batch preempts yet finishes everything.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "engine/scheduler.h"
#include "perf/joint_scenario.h"
#include "sim/simulator.h"
#include "tests/sim/fake_models.h"

namespace {

using namespace llmfleet::sim;
using llmfleet::sim::test::affine_model;
using llmfleet::sim::test::constant_model;

constexpr double step_ms = 10;
constexpr double T = step_ms / 1000;

cluster_spec one_replica(std::shared_ptr<const llmfleet::perf::replica_model> model) {
    cluster_spec c;
    c.pools.push_back(make_pool("gpu", std::move(model), 1, 2.0));
    return c;
}

arrivals fixed(int n, double gap_s, int32_t input_tokens, int32_t output_tokens) {
    arrivals a;
    for (int i = 0; i < n; ++i) {
        a.requests.push_back({i * gap_s, input_tokens, output_tokens});
    }
    a.source = "test";
    return a;
}

TEST(sim_closed_form, isolated_requests_take_one_step_per_token) {
    // Requests 10 s apart never overlap: the prompt (100 tokens ≤ one 2048-token chunk) is one step, which samples
    // the first token (TTFT = T); each further token is one decode step (TPOT = T, e2e = output × T).
    const int output = 20;
    std::vector<request_outcome> outcomes;
    simulator_options o;
    o.request_log = &outcomes;
    const sim_report r = simulate(one_replica(constant_model(step_ms)), fixed(5, 10.0, 100, output), o);
    ASSERT_EQ(r.n_finished, 5);
    EXPECT_EQ(r.n_rejected, 0);
    for (const request_outcome& x : outcomes) {
        ASSERT_TRUE(x.finished);
        EXPECT_NEAR(x.ttft_s, T, 1e-9);
        EXPECT_NEAR(x.e2e_s, output * T, 1e-9);
        EXPECT_NEAR(x.queueing_s, 0, 1e-12);
    }
    EXPECT_NEAR(r.tpot.p50_ms, step_ms, 1e-3);
    EXPECT_NEAR(r.tpot.p99_ms, step_ms, 1e-3);
    EXPECT_NEAR(r.ttft.p90_ms, step_ms, 1e-3);
    EXPECT_NEAR(r.e2e.mean_ms, output * step_ms, 1e-3);
    EXPECT_EQ(r.slo_attainment, 1.0); // TPOT 10 ms ≤ 50 ms
    EXPECT_EQ(r.n_output_tokens, 5 * output);
    // Busy 5 × output × T over a span ending with the last request: 40 s + output × T.
    ASSERT_EQ(r.pools.size(), 1u);
    EXPECT_NEAR(r.span_s, 40 + output * T, 1e-9);
    EXPECT_NEAR(r.pools[0].busy_s, 5 * output * T, 1e-9);
    EXPECT_NEAR(r.pools[0].utilisation, 5 * output * T / r.span_s, 1e-9);
    EXPECT_EQ(r.pools[0].n_steps, 5 * output);
    EXPECT_DOUBLE_EQ(r.pools[0].mean_batch_size, 1.0);
    EXPECT_NEAR(r.cost_usd, 2.0 * r.span_s / 3600, 1e-12);
}

TEST(sim_closed_form, long_prompt_is_chunked) {
    // 5000 prompt tokens under a 2048-token budget: chunks of 2048, 2048 and 904, so the first token comes at 3T.
    std::vector<request_outcome> outcomes;
    simulator_options o;
    o.request_log = &outcomes;
    const sim_report r = simulate(one_replica(constant_model(step_ms)), fixed(1, 0, 5000, 4), o);
    ASSERT_TRUE(outcomes[0].finished);
    EXPECT_NEAR(outcomes[0].ttft_s, 3 * T, 1e-9);
    EXPECT_NEAR(outcomes[0].e2e_s, 6 * T, 1e-9);
    EXPECT_EQ(r.pools[0].n_prefill_tokens, 5000);
    EXPECT_EQ(r.pools[0].n_decode_tokens, 3);
}

TEST(sim_closed_form, one_sequence_at_a_time_serialises_requests) {
    // max_num_seqs 1, all arriving at 0: request k (1-based) is admitted when k − 1 finished, after
    // (k − 1) × output steps; its first token one step later; it finishes at k × output × T.
    const int n = 6, output = 7;
    std::vector<request_outcome> outcomes;
    simulator_options o;
    o.replica.scheduling.max_num_seqs = 1;
    o.request_log = &outcomes;
    const sim_report r = simulate(one_replica(constant_model(step_ms)), fixed(n, 0, 50, output), o);
    ASSERT_EQ(r.n_finished, n);
    for (int k = 1; k <= n; ++k) {
        const request_outcome& x = outcomes[k - 1];
        EXPECT_NEAR(x.e2e_s, k * output * T, 1e-9) << "request " << k;
        EXPECT_NEAR(x.ttft_s, ((k - 1) * output + 1) * T, 1e-9) << "request " << k;
        EXPECT_NEAR(x.queueing_s, (k - 1) * output * T, 1e-9) << "request " << k;
    }
    EXPECT_DOUBLE_EQ(r.pools[0].mean_batch_size, 1.0);
}

TEST(sim_closed_form, simultaneous_arrivals_share_the_first_step) {
    // Four arrivals at the same instant are all in the first step (the step starts after the instant's arrivals).
    const int output = 5;
    std::vector<request_outcome> outcomes;
    simulator_options o;
    o.request_log = &outcomes;
    const sim_report r = simulate(one_replica(constant_model(step_ms)), fixed(4, 0, 100, output), o);
    for (const request_outcome& x : outcomes) {
        EXPECT_NEAR(x.ttft_s, T, 1e-9);
        EXPECT_NEAR(x.e2e_s, output * T, 1e-9);
    }
    EXPECT_EQ(r.pools[0].n_steps, output);
    EXPECT_DOUBLE_EQ(r.pools[0].mean_batch_size, 4.0);
}

TEST(sim_closed_form, affine_step_time_follows_the_batch) {
    // a + b × tokens: the prefill step of 100 tokens takes a + 100b, each decode a + b.
    const double a_ms = 5, b_ms = 0.1;
    std::vector<request_outcome> outcomes;
    simulator_options o;
    o.request_log = &outcomes;
    simulate(one_replica(std::make_shared<affine_model>(a_ms, b_ms, 1 << 20)), fixed(1, 0, 100, 3), o);
    EXPECT_NEAR(outcomes[0].ttft_s, (a_ms + 100 * b_ms) / 1000, 1e-12);
    EXPECT_NEAR(outcomes[0].e2e_s, (a_ms + 100 * b_ms + 2 * (a_ms + b_ms)) / 1000, 1e-12);
}

TEST(sim_closed_form, tiny_kv_preempts_and_still_finishes_everything) {
    // 40 blocks (640 tokens) for 8 requests of 100 + 100 tokens: admission fills the pool, decode growth must
    // preempt (by recompute), and every request still finishes with its full output.
    const int n = 8, output = 100;
    std::vector<request_outcome> outcomes;
    simulator_options o;
    o.request_log = &outcomes;
    const sim_report r = simulate(one_replica(constant_model(step_ms, 40 * 16)), fixed(n, 0, 100, output), o);
    EXPECT_EQ(r.n_finished, n);
    EXPECT_EQ(r.n_rejected, 0);
    EXPECT_GT(r.pools[0].n_preemptions, 0);
    EXPECT_EQ(r.n_output_tokens, n * output);
    // Recomputation costs extra prefill tokens beyond the 8 × 100 prompts.
    EXPECT_GT(r.pools[0].n_prefill_tokens, n * 100);
    for (const request_outcome& x : outcomes) {
        EXPECT_TRUE(x.finished);
    }
}

TEST(sim_invariants, conservation_and_a_monotonic_clock) {
    // A mix that exercises every path: too-long prompts and requests (engine refusals), a burst beyond the
    // router's outstanding cap (429s), preemption in a small pool, and two replicas.
    arrivals a;
    for (int i = 0; i < 300; ++i) {
        const double t = (i / 50) * 0.5; // bursts of 50 at the same instant
        const int32_t input = i % 37 == 0 ? 2000 : (i % 41 == 0 ? 500 : 20 + (i * 7) % 200);
        const int32_t output = i % 41 == 0 ? 600 : 1 + (i * 13) % 90;
        a.requests.push_back({t, input, output});
    }
    cluster_spec c;
    c.pools.push_back(make_pool("small", constant_model(step_ms, 64 * 16), 2));
    std::vector<event_record> events;
    std::vector<request_outcome> outcomes;
    simulator_options o;
    o.routing.max_outstanding_per_backend = 16;
    o.event_log = &events;
    o.request_log = &outcomes;
    const sim_report r = simulate(c, a, o);

    // Conservation: finished + rejected = arrived, and each request has exactly one outcome.
    EXPECT_EQ(r.n_finished + r.n_rejected, r.n_requests);
    int64_t n_finished = 0, n_rejected = 0;
    for (const request_outcome& x : outcomes) {
        EXPECT_NE(x.finished, x.rejected.has_value());
        n_finished += x.finished ? 1 : 0;
        n_rejected += x.rejected ? 1 : 0;
    }
    EXPECT_EQ(n_finished, r.n_finished);
    EXPECT_EQ(n_rejected, r.n_rejected);
    EXPECT_GT(r.rejected_by_reason[static_cast<int>(reject_reason::saturated)], 0);
    EXPECT_GT(r.rejected_by_reason[static_cast<int>(reject_reason::prompt_exceeds_context)], 0);
    EXPECT_GT(r.rejected_by_reason[static_cast<int>(reject_reason::request_exceeds_context)], 0);
    EXPECT_GT(r.pools[0].n_preemptions, 0);

    // The clock never goes backwards; at one instant, step ends come before arrivals before step starts.
    ASSERT_FALSE(events.empty());
    int64_t n_arrivals = 0;
    for (size_t i = 1; i < events.size(); ++i) {
        ASSERT_GE(events[i].time_s, events[i - 1].time_s) << "event " << i;
        if (events[i].time_s == events[i - 1].time_s) {
            ASSERT_GE(events[i].kind, events[i - 1].kind) << "event " << i;
        }
    }
    for (const event_record& e : events) {
        n_arrivals += e.kind == event_kind::arrival ? 1 : 0;
    }
    EXPECT_EQ(n_arrivals, r.n_requests);
    EXPECT_EQ(static_cast<int64_t>(events.size()), r.n_events);
}

TEST(sim_invariants, bad_options_are_refused) {
    simulator_options o;
    o.slo_tpot_ms = 0;
    EXPECT_THROW(simulate(one_replica(constant_model(step_ms)), fixed(1, 0, 10, 10), o), llmfleet::error);
    cluster_spec empty;
    EXPECT_THROW(simulate(empty, fixed(1, 0, 10, 10), simulator_options{}), llmfleet::error);
    // A model whose weights leave no KV room.
    EXPECT_THROW(simulate(one_replica(constant_model(step_ms, 0)), fixed(1, 0, 10, 10), simulator_options{}),
                 llmfleet::error);
    arrivals unsorted = fixed(2, 1, 10, 10);
    std::swap(unsorted.requests[0], unsorted.requests[1]);
    EXPECT_THROW(simulate(one_replica(constant_model(step_ms)), unsorted, simulator_options{}), llmfleet::error);
}

} // namespace

namespace {
// The planner's capacity analysis assumes the engine's scheduler defaults, which the simulator runs.
TEST(sim_consistency, planned_capacity_uses_the_engine_scheduler_defaults) {
    const llmfleet::engine::scheduler_config engine_defaults;
    const llmfleet::perf::capacity_options planned = llmfleet::perf::engine_capacity_options();
    EXPECT_EQ(planned.max_batched_tokens, engine_defaults.max_num_batched_tokens);
    EXPECT_EQ(planned.max_num_seqs, engine_defaults.max_num_seqs);
}
} // namespace
