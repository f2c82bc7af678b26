// The engine loop: requests from several threads, admission failures through the callback, the pending
// bound (429's source), abort, graceful and immediate stop, and the metrics it keeps.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "serve/engine_loop/engine_loop.h"
#include "tests/engine/scripted_runner.h"

namespace llmfleet::serve {
namespace {

using engine::finish_reason;

std::unique_ptr<engine::engine> make_engine(std::chrono::milliseconds delay = {}) {
    auto runner = std::make_unique<engine::scripted_runner>(100);
    runner->step_delay = delay;
    return std::make_unique<engine::engine>(engine::engine_config{}, std::move(runner));
}

// Collects one request's events.
struct collector {
    std::mutex mutex;
    std::vector<int32_t> tokens;
    std::optional<engine::request_output> last;
    std::optional<status> failure;
    std::promise<void> done;
    std::promise<void> first_token;
    bool got_first = false;
    event_callback callback() {
        return [this](const loop_event& e) {
            std::lock_guard lock(mutex);
            if (e.failure != nullptr) {
                failure = *e.failure;
                done.set_value();
                return;
            }
            tokens.insert(tokens.end(), e.output->new_token_ids.begin(), e.output->new_token_ids.end());
            if (!got_first && !e.output->new_token_ids.empty()) {
                got_first = true;
                first_token.set_value();
            }
            if (e.output->finished) {
                last = *e.output;
                done.set_value();
            }
        };
    }
};

TEST(engine_loop, a_failing_step_fails_every_request_and_stops) {
    auto runner = std::make_unique<engine::scripted_runner>(100);
    runner->fail_at_step = 3;
    runner->step_delay = std::chrono::milliseconds(2);
    std::promise<std::string> fatal;
    engine_loop loop(std::make_unique<engine::engine>(engine::engine_config{}, std::move(runner)),
                     {.on_fatal = [&](const std::string& why) { fatal.set_value(why); }});
    collector a, b;
    ASSERT_TRUE(loop.submit({1, 2, 3}, engine::sampling_params::fixed_length_greedy(50), {}, a.callback()).is_ok());
    ASSERT_TRUE(loop.submit({4, 5}, engine::sampling_params::fixed_length_greedy(50), {}, b.callback()).is_ok());
    auto why = fatal.get_future();
    ASSERT_EQ(why.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(why.get(), "rank 1 failed: injected");
    for (collector* c : {&a, &b}) {
        ASSERT_EQ(c->done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
        ASSERT_TRUE(c->last.has_value());
        EXPECT_EQ(c->last->reason, finish_reason::abort);
        EXPECT_NE(c->last->error.find("the engine failed: rank 1 failed: injected"), std::string::npos);
    }
    EXPECT_EQ(loop.failure(), "rank 1 failed: injected");
    collector late;
    const auto refused = loop.submit({1}, engine::sampling_params::fixed_length_greedy(2), {}, late.callback());
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.error_status().code(), status_code::unavailable);
}

TEST(engine_loop, serves_requests_from_many_threads) {
    engine_loop loop(make_engine(), {});
    constexpr int n_threads = 4, per_thread = 8;
    std::vector<std::unique_ptr<collector>> cs(n_threads * per_thread);
    std::vector<std::thread> threads;
    for (int t = 0; t < n_threads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                auto& c = cs[t * per_thread + i];
                c = std::make_unique<collector>();
                ASSERT_TRUE(
                    loop.submit({1, 2, 3}, engine::sampling_params::fixed_length_greedy(5), {}, c->callback()).is_ok());
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    for (auto& c : cs) {
        c->done.get_future().wait();
        EXPECT_EQ(c->tokens, (std::vector<int32_t>{3, 4, 5, 6, 7})) << "position 2 → token 3, then +1 per step";
        EXPECT_EQ(c->last->reason, finish_reason::length);
    }
    loop.stop(1);
    const loop_metrics m = loop.metrics();
    EXPECT_EQ(m.e2e_s.count(), 32);
    EXPECT_EQ(m.ttft_s.count(), 32);
    EXPECT_EQ(m.tpot_s.count(), 32 * 4) << "one observation per token after the first";
    EXPECT_EQ(m.n_generation_tokens, 160);
    EXPECT_EQ(m.n_prompt_tokens, 96);
    EXPECT_EQ(m.n_finished_length, 32);
    EXPECT_EQ(m.n_running, 0);
}

TEST(engine_loop, a_bad_request_fails_through_its_callback) {
    engine_loop loop(make_engine(), {});
    collector c;
    ASSERT_TRUE(loop.submit({1, 99}, engine::sampling_params::fixed_length_greedy(5), {}, c.callback()).is_ok());
    c.done.get_future().wait();
    ASSERT_TRUE(c.failure.has_value());
    EXPECT_EQ(c.failure->code(), status_code::invalid_argument);
    EXPECT_NE(c.failure->message().find("prompt token 99 at index 1 is outside the vocabulary [0, 16)"),
              std::string::npos);
    collector ok; // the loop keeps serving
    ASSERT_TRUE(loop.submit({1}, engine::sampling_params::fixed_length_greedy(2), {}, ok.callback()).is_ok());
    ok.done.get_future().wait();
    EXPECT_EQ(ok.tokens.size(), 2u);
}

TEST(engine_loop, bounds_the_requests_in_flight) {
    engine_loop loop(make_engine(std::chrono::milliseconds(5)), {.max_pending_requests = 2});
    collector a, b, c;
    ASSERT_TRUE(loop.submit({1}, engine::sampling_params::fixed_length_greedy(20), {}, a.callback()).is_ok());
    ASSERT_TRUE(loop.submit({1}, engine::sampling_params::fixed_length_greedy(20), {}, b.callback()).is_ok());
    const result<int64_t> third = loop.submit({1}, engine::sampling_params::fixed_length_greedy(20), {}, c.callback());
    ASSERT_FALSE(third.is_ok());
    EXPECT_EQ(third.error_status().code(), status_code::resource_exhausted);
    EXPECT_NE(third.error_status().message().find("2 requests in flight"), std::string::npos);
    a.done.get_future().wait();
    b.done.get_future().wait();
    EXPECT_TRUE(loop.submit({1}, engine::sampling_params::fixed_length_greedy(1), {}, c.callback()).is_ok())
        << "room again once they finished";
    c.done.get_future().wait();
}

TEST(engine_loop, abort_ends_a_running_request) {
    engine_loop loop(make_engine(std::chrono::milliseconds(2)), {});
    collector c;
    const result<int64_t> id = loop.submit({1}, engine::sampling_params::fixed_length_greedy(50), {}, c.callback());
    ASSERT_TRUE(id.is_ok());
    c.first_token.get_future().wait();
    loop.abort(id.value());
    c.done.get_future().wait();
    EXPECT_EQ(c.last->reason, finish_reason::abort);
    EXPECT_LT(c.tokens.size(), 50u);
    loop.stop(1);
    EXPECT_EQ(loop.metrics().n_finished_abort, 1);
    EXPECT_DOUBLE_EQ(loop.metrics().kv_cache_usage, 0.0) << "its KV blocks were freed";
}

TEST(engine_loop, graceful_stop_drains_and_immediate_stop_aborts) {
    {
        engine_loop loop(make_engine(std::chrono::milliseconds(1)), {});
        collector c;
        ASSERT_TRUE(loop.submit({1}, engine::sampling_params::fixed_length_greedy(10), {}, c.callback()).is_ok());
        loop.stop(30); // drains: the request runs to its end
        EXPECT_EQ(c.last->reason, finish_reason::length);
        EXPECT_EQ(c.tokens.size(), 10u);
        const result<int64_t> late =
            loop.submit({1}, engine::sampling_params::fixed_length_greedy(1), {}, collector().callback());
        ASSERT_FALSE(late.is_ok());
        EXPECT_EQ(late.error_status().code(), status_code::unavailable);
    }
    engine_loop loop(make_engine(std::chrono::milliseconds(2)), {});
    collector c;
    ASSERT_TRUE(loop.submit({1}, engine::sampling_params::fixed_length_greedy(50), {}, c.callback()).is_ok());
    c.first_token.get_future().wait();
    loop.stop(0);
    EXPECT_EQ(c.last->reason, finish_reason::abort);
    EXPECT_EQ(c.last->error, "the engine is shutting down");
}

} // namespace
} // namespace llmfleet::serve
