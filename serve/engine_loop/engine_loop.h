// The engine loop: one thread owns an engine::engine and runs step() while there is work. Any thread (an
// HTTP handler, the router's benchmark fixture) submits requests and aborts them; outputs come back through
// each request's callback, called on the engine thread (so a callback must be quick: post to a socket's
// strand and return). It also keeps the serving metrics (/metrics): running and waiting requests, KV usage,
// token counters, TTFT / TPOT / end-to-end latency histograms.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/histogram.h"
#include "engine/engine.h"

namespace llmfleet::serve {

struct engine_loop_options {
    int32_t max_pending_requests = 1024; // queued + waiting + running at most; more → resource_exhausted (429)
    // Called once, on the engine thread, when a step throws (a model runner failure, e.g. a parallel rank died):
    // every in-flight request has been failed with the message, and the loop has stopped. Must be quick.
    std::function<void(const std::string& why)> on_fatal = nullptr;
};

// What a request's callback receives: admission failed (failure set, once), or an output (the last one has
// output->finished).
struct loop_event {
    const engine::request_output* output = nullptr;
    const status* failure = nullptr;
};
using event_callback = std::function<void(const loop_event&)>;

struct loop_metrics {
    int32_t n_running = 0;
    int32_t n_waiting = 0;       // in the engine's queue, plus submitted but not yet admitted
    double kv_cache_usage = 0;   // used KV blocks / all blocks, 0..1
    int64_t n_prompt_tokens = 0; // total prompt tokens of admitted requests
    int64_t n_generation_tokens = 0;
    int64_t n_preemptions = 0;
    int64_t n_prefix_query_tokens = 0, n_prefix_hit_tokens = 0;
    int64_t n_finished_stop = 0, n_finished_length = 0, n_finished_abort = 0;
    histogram ttft_s{ttft_buckets_s()};
    histogram tpot_s{tpot_buckets_s()}; // per output token after the first
    histogram e2e_s{e2e_buckets_s()};
};

class engine_loop {
public:
    engine_loop(std::unique_ptr<engine::engine> engine, engine_loop_options options,
                const clock_source* clock = nullptr);
    ~engine_loop(); // stop(0): aborts what is still running
    engine_loop(const engine_loop&) = delete;
    engine_loop& operator=(const engine_loop&) = delete;

    // Immutable after construction (thread-safe).
    const model::model_config& model_config() const { return _model_config; }
    int32_t max_model_len() const { return _max_model_len; }
    const model::tokenizer* tokenizer() const { return _tokenizer; }

    // (thread-safe) Queues a request and returns its id, or resource_exhausted when max_pending_requests are
    // in flight, unavailable when stopping. Validation happens on the engine thread: a bad request gets one
    // callback with `failure` (invalid_argument, naming the field). Otherwise the callback gets every output.
    result<int64_t> submit(std::vector<int32_t> prompt, engine::sampling_params params, engine::request_options options,
                           event_callback callback);
    // (thread-safe) Aborts a request: its callback gets a final output (reason abort) unless it had finished.
    void abort(int64_t id);
    // (thread-safe) Stops accepting; lets in-flight requests finish for up to drain_s seconds, aborts the
    // rest, and joins the thread. Idempotent.
    void stop(double drain_s);
    // (thread-safe) A snapshot of the metrics.
    loop_metrics metrics() const;
    // (thread-safe) Why the engine failed (a step threw), or empty while it is healthy. A failed loop accepts
    // nothing (unavailable, with this message).
    std::string failure() const;

private:
    struct submission {
        int64_t id;
        std::vector<int32_t> prompt;
        engine::sampling_params params;
        engine::request_options options;
        event_callback callback;
    };
    struct in_flight {
        event_callback callback;
        double arrival_s = 0, first_token_s = -1, last_token_s = -1;
    };
    void run();
    void admit(std::vector<submission>& batch);
    void deliver(const engine::request_output& out, double now_s);
    // Aborts it in the engine and delivers its final output (reason abort, error `why`), if it was running.
    void abort_engine_request(int64_t engine_id, const std::string& why);
    void abort_all(const std::string& why);
    void fail(const std::string& why); // a step threw: fail everything, stop accepting, tell on_fatal

    std::unique_ptr<engine::engine> _engine;
    steady_clock_source _steady_clock;
    const clock_source& _clock;
    engine_loop_options _options;
    model::model_config _model_config;
    int32_t _max_model_len;
    const model::tokenizer* _tokenizer;

    mutable std::mutex _mutex; // guards everything below it
    std::condition_variable _wake;
    std::vector<submission> _submitted;
    std::vector<int64_t> _aborted;
    int64_t _next_id = 0;
    int32_t _n_pending = 0; // submitted and not yet finished
    bool _accepting = true;
    bool _stop_now = false;
    double _drain_deadline_s = 0;
    std::string _failure;
    loop_metrics _metrics;

    // Engine thread only.
    loop_metrics _local;                                // copied into _metrics once per iteration
    std::unordered_map<int64_t, int64_t> _engine_id_of; // loop id → engine request id
    std::unordered_map<int64_t, int64_t> _loop_id_of;   // engine request id → loop id
    std::unordered_map<int64_t, in_flight> _in_flight;  // by loop id
    std::thread _thread;
};

} // namespace llmfleet::serve
