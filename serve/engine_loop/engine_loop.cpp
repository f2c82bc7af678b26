// See engine_loop.h. One iteration: take the submissions and aborts queued by other threads, admit them
// (validation errors go back through the callback), run one engine step, deliver its outputs, publish the
// metrics. The thread sleeps on a condition variable when there is nothing to do.
#include "serve/engine_loop/engine_loop.h"

#include <fmt/core.h>

#include "common/log.h"

namespace llmfleet::serve {

engine_loop::engine_loop(std::unique_ptr<engine::engine> engine, engine_loop_options options, const clock_source* clock)
    : _engine(std::move(engine)), _clock(clock != nullptr ? *clock : _steady_clock), _options(options),
      _model_config(_engine->model_config()), _max_model_len(_engine->max_model_len()),
      _tokenizer(_engine->tokenizer()) {
    _thread = std::thread([this] { run(); });
}

engine_loop::~engine_loop() {
    stop(0);
}

result<int64_t> engine_loop::submit(std::vector<int32_t> prompt, engine::sampling_params params,
                                    engine::request_options options, event_callback callback) {
    std::lock_guard lock(_mutex);
    if (!_failure.empty()) {
        return status(status_code::unavailable, "the engine failed: " + _failure + "; retry on another replica");
    }
    if (!_accepting) {
        return status(status_code::unavailable, "the engine is shutting down; retry on another replica");
    }
    if (_n_pending >= _options.max_pending_requests) {
        return status(status_code::resource_exhausted,
                      fmt::format("the engine has {} requests in flight, its limit (max_pending_requests); retry later",
                                  _n_pending));
    }
    const int64_t id = _next_id++;
    ++_n_pending;
    _submitted.push_back({id, std::move(prompt), std::move(params), options, std::move(callback)});
    _wake.notify_one();
    return id;
}

void engine_loop::abort(int64_t id) {
    std::lock_guard lock(_mutex);
    _aborted.push_back(id);
    _wake.notify_one();
}

void engine_loop::stop(double drain_s) {
    {
        std::lock_guard lock(_mutex);
        if (_accepting) {
            _accepting = false;
            _drain_deadline_s = _clock.now_s() + drain_s;
        }
        if (drain_s <= 0) {
            _stop_now = true;
        }
        _wake.notify_one();
    }
    if (_thread.joinable() && std::this_thread::get_id() != _thread.get_id()) {
        _thread.join();
    }
}

loop_metrics engine_loop::metrics() const {
    std::lock_guard lock(_mutex);
    return _metrics;
}

std::string engine_loop::failure() const {
    std::lock_guard lock(_mutex);
    return _failure;
}

void engine_loop::fail(const std::string& why) {
    LLMFLEET_LOG_ERROR("engine step failed, failing {} requests and stopping: {}", _in_flight.size(), why);
    {
        std::lock_guard lock(_mutex);
        _failure = why;
        _accepting = false;
    }
    abort_all("the engine failed: " + why);
    std::vector<submission> late;
    {
        std::lock_guard lock(_mutex);
        late.swap(_submitted);
    }
    const status failure(status_code::unavailable, "the engine failed: " + why);
    for (submission& s : late) {
        s.callback({nullptr, &failure});
        std::lock_guard lock(_mutex);
        --_n_pending;
    }
    if (_options.on_fatal) {
        _options.on_fatal(why);
    }
}

void engine_loop::admit(std::vector<submission>& batch) {
    const double now_s = _clock.now_s();
    for (submission& s : batch) {
        try {
            const auto n_prompt = static_cast<int64_t>(s.prompt.size());
            const int64_t eid = _engine->add_request(std::move(s.prompt), s.params, s.options);
            _engine_id_of[s.id] = eid;
            _loop_id_of[eid] = s.id;
            _in_flight[s.id] = in_flight{std::move(s.callback), now_s};
            _local.n_prompt_tokens += n_prompt;
        } catch (const error& e) {
            const status failure(e.code(), e.what());
            s.callback({nullptr, &failure});
            std::lock_guard lock(_mutex);
            --_n_pending;
        }
    }
    batch.clear();
}

void engine_loop::deliver(const engine::request_output& out, double now_s) {
    const auto lid = _loop_id_of.find(out.request_id);
    if (lid == _loop_id_of.end()) {
        return; // aborted earlier in this iteration
    }
    in_flight& r = _in_flight.at(lid->second);
    const auto n_new = static_cast<int64_t>(out.new_token_ids.size());
    if (n_new > 0) {
        if (r.first_token_s < 0) {
            r.first_token_s = now_s;
            _local.ttft_s.observe(now_s - r.arrival_s);
        } else {
            for (int64_t i = 0; i < n_new; ++i) {
                _local.tpot_s.observe((now_s - r.last_token_s) / static_cast<double>(n_new));
            }
        }
        r.last_token_s = now_s;
        _local.n_generation_tokens += n_new;
    }
    r.callback({&out, nullptr});
    if (out.finished) {
        _local.e2e_s.observe(now_s - r.arrival_s);
        (out.reason == engine::finish_reason::stop     ? _local.n_finished_stop
         : out.reason == engine::finish_reason::length ? _local.n_finished_length
                                                       : _local.n_finished_abort)++;
        _engine_id_of.erase(lid->second);
        _in_flight.erase(lid->second);
        _loop_id_of.erase(lid);
        std::lock_guard lock(_mutex);
        --_n_pending;
    }
}

void engine_loop::abort_engine_request(int64_t engine_id, const std::string& why) {
    if (!_engine->abort(engine_id)) {
        return; // it finished in the meantime; its last output was delivered
    }
    engine::request_output out;
    out.request_id = engine_id;
    out.finished = true;
    out.reason = engine::finish_reason::abort;
    out.error = why;
    deliver(out, _clock.now_s());
}

void engine_loop::abort_all(const std::string& why) {
    std::vector<int64_t> ids;
    for (const auto& [lid, eid] : _engine_id_of) {
        ids.push_back(eid);
    }
    for (const int64_t eid : ids) {
        abort_engine_request(eid, why);
    }
}

void engine_loop::run() {
    std::vector<submission> batch;
    std::vector<int64_t> aborts;
    while (true) {
        bool stop_now = false, draining = false;
        {
            std::unique_lock lock(_mutex);
            _wake.wait(lock, [&] {
                return !_submitted.empty() || !_aborted.empty() || _stop_now || !_accepting ||
                       _engine->has_unfinished();
            });
            batch.swap(_submitted);
            aborts.swap(_aborted);
            draining = !_accepting;
            stop_now = _stop_now || (draining && _clock.now_s() >= _drain_deadline_s);
        }
        admit(batch);
        for (const int64_t lid : aborts) {
            const auto it = _engine_id_of.find(lid);
            if (it != _engine_id_of.end()) {
                abort_engine_request(it->second, "");
            }
        }
        aborts.clear();
        if (stop_now) {
            abort_all("the engine is shutting down");
        }
        if (_engine->has_unfinished()) {
            try {
                const std::vector<engine::request_output>& outputs = _engine->step();
                const double now_s = _clock.now_s();
                for (const engine::request_output& out : outputs) {
                    deliver(out, now_s);
                }
            } catch (const std::exception& e) {
                fail(e.what());
                return;
            }
        }
        const engine::engine_stats st = _engine->stats();
        std::lock_guard lock(_mutex);
        _metrics = _local;
        _metrics.n_running = st.n_running;
        _metrics.n_waiting = st.n_waiting + static_cast<int32_t>(_submitted.size());
        _metrics.kv_cache_usage =
            st.kv_blocks_total > 0 ? 1.0 - static_cast<double>(st.kv_blocks_free) / st.kv_blocks_total : 0;
        _metrics.n_preemptions = st.n_preemptions;
        _metrics.n_prefix_query_tokens = st.prefix_cache.n_query_tokens;
        _metrics.n_prefix_hit_tokens = st.prefix_cache.n_hit_tokens;
        if (draining && !_engine->has_unfinished() && _submitted.empty()) {
            LLMFLEET_LOG_INFO("engine loop stopped: {} requests finished", _metrics.e2e_s.count());
            return;
        }
    }
}

} // namespace llmfleet::serve
