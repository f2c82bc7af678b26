// The dispatcher (the calling thread sleeps until each request is due and a concurrency slot is free, then
// starts an exchange) and the completion side (client io threads feed each exchange's response_tracker and
// record it). No thread per request: all in-flight exchanges share the client's io threads.
#include "serve/loadgen/runner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "common/error.h"
#include "serve/http/http_client.h"

namespace llmfleet::loadgen {

namespace {

using steady = std::chrono::steady_clock;

double seconds_between(steady::time_point from, steady::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

std::chrono::milliseconds to_ms(double seconds) {
    return std::chrono::milliseconds(static_cast<int64_t>(std::min(seconds, 1e9) * 1000.0));
}

// Shared by the dispatcher and the exchanges' callbacks (which may outlive a run that threw).
struct run_state {
    std::mutex mutex;
    std::condition_variable changed;     // a request finished
    std::vector<request_record> records; // guarded by mutex
    int64_t n_in_flight = 0;             // guarded by mutex
    int64_t n_done = 0, n_failed = 0;    // guarded by mutex
    int64_t peak_in_flight = 0;          // guarded by mutex
    double last_done_s = 0;              // guarded by mutex
};

} // namespace

struct bench_runner::impl {
    runner_options options;
    std::string url;
    serve::http_endpoint endpoint;
    serve::http_client client;

    explicit impl(runner_options o)
        : options(std::move(o)), url(options.url), endpoint(serve::parse_endpoint(options.url)),
          client(client_options(options)) {}

    static serve::http_client_options client_options(const runner_options& o) {
        serve::http_client_options c;
        c.n_io_threads = o.n_io_threads;
        c.idle_timeout = to_ms(o.timeout_s);
        c.connect_timeout = to_ms(std::min(o.timeout_s, 10.0));
        // Keep every connection a closed loop reuses; an open loop may need up to the in-flight peak.
        c.max_idle_connections_per_endpoint = o.max_concurrency > 0 ? static_cast<size_t>(o.max_concurrency) : 1024;
        return c;
    }

    serve::http_header_list headers() const {
        serve::http_header_list h = {{"content-type", "application/json"}};
        if (options.stream) {
            h.emplace_back("accept", "text/event-stream");
        }
        if (!options.api_key.empty()) {
            h.emplace_back("authorization", "Bearer " + options.api_key);
        }
        return h;
    }

    void start_one(const std::shared_ptr<run_state>& state, size_t index, const prepared_request& request,
                   steady::time_point start) {
        const double send_s = seconds_between(start, steady::now());
        auto tracker =
            std::make_shared<response_tracker>(options.endpoint, options.stream, request.input_tokens, send_s);
        serve::http_client_request http;
        http.method = "POST";
        http.target = std::string(api_path(options.endpoint));
        http.headers = headers();
        http.body = request.body;
        serve::http_exchange_callbacks callbacks;
        callbacks.on_head = [tracker](const serve::http_response_head& head) { tracker->on_head(head.status); };
        callbacks.on_body = [tracker, start](std::string_view bytes) {
            tracker->on_body(bytes, seconds_between(start, steady::now()));
        };
        callbacks.on_complete = [tracker, state, index, start](serve::http_client_error error,
                                                               const std::string& detail) {
            const double now_s = seconds_between(start, steady::now());
            const std::string_view reason =
                error == serve::http_client_error::ok ? std::string_view{} : serve::to_string(error);
            request_record record = tracker->finish(reason, detail, now_s);
            std::lock_guard lock(state->mutex);
            state->n_failed += record.ok ? 0 : 1;
            state->records[index] = std::move(record);
            --state->n_in_flight;
            ++state->n_done;
            state->last_done_s = std::max(state->last_done_s, now_s);
            state->changed.notify_all();
        };
        client.start(endpoint, std::move(http), std::move(callbacks));
    }

    run_result run(std::span<const prepared_request> requests, std::span<const double> offsets_s,
                   int64_t max_concurrency, const progress_callback& progress) {
        LLMFLEET_CHECK(offsets_s.size() == requests.size(), "{} offsets for {} requests", offsets_s.size(),
                       requests.size());
        auto state = std::make_shared<run_state>();
        state->records.resize(requests.size());
        const auto n_total = static_cast<int64_t>(requests.size());
        const auto tick = std::chrono::duration_cast<steady::duration>(
            std::chrono::duration<double>(std::max(options.progress_interval_s, 0.01)));
        const steady::time_point start = steady::now();
        steady::time_point next_tick = start + tick;
        int64_t n_sent = 0;
        const auto report = [&](std::unique_lock<std::mutex>& lock) {
            if (!progress) {
                return;
            }
            const run_progress p{n_total, n_sent, state->n_done, state->n_failed,
                                 seconds_between(start, steady::now())};
            lock.unlock();
            progress(p);
            lock.lock();
        };
        // Waits, reporting progress on every tick, until ready() holds or `deadline` passed. Caller holds lock.
        const auto wait = [&](std::unique_lock<std::mutex>& lock, steady::time_point deadline,
                              const std::function<bool()>& ready) {
            while (!ready()) {
                const steady::time_point now = steady::now();
                if (now >= deadline) {
                    return;
                }
                if (now >= next_tick) {
                    report(lock);
                    next_tick = std::max(next_tick + tick, now);
                    continue;
                }
                state->changed.wait_until(lock, std::min(deadline, next_tick));
            }
        };
        std::unique_lock lock(state->mutex);
        for (size_t i = 0; i < requests.size(); ++i) {
            const steady::time_point due =
                start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(offsets_s[i]));
            wait(lock, due, [] { return false; });
            if (max_concurrency > 0) {
                wait(lock, steady::time_point::max(), [&] { return state->n_in_flight < max_concurrency; });
            }
            ++state->n_in_flight;
            state->peak_in_flight = std::max(state->peak_in_flight, state->n_in_flight);
            ++n_sent;
            lock.unlock();
            start_one(state, i, requests[i], start);
            lock.lock();
        }
        wait(lock, steady::time_point::max(), [&] { return state->n_done == n_total; });
        report(lock);
        run_result out;
        out.records = std::move(state->records);
        out.duration_s = state->last_done_s;
        out.peak_in_flight = state->peak_in_flight;
        return out;
    }
};

bench_runner::bench_runner(runner_options options) : _impl(std::make_unique<impl>(std::move(options))) {}

bench_runner::~bench_runner() = default;

server_probe bench_runner::probe() {
    serve::http_client_request request;
    request.method = "GET";
    request.target = "/v1/models";
    request.headers = _impl->headers();
    const serve::http_client_result r =
        _impl->client.fetch(_impl->endpoint, std::move(request), to_ms(std::min(_impl->options.timeout_s, 30.0)));
    if (r.error != serve::http_client_error::ok && r.status == 0) {
        throw error(status_code::unavailable,
                    fmt::format("cannot reach the server at {}: {}{}{}; hint: start one (e.g. `llmfleet engine "
                                "--model DIR --port {}`) or point --url at it",
                                _impl->url, serve::to_string(r.error), r.detail.empty() ? "" : ": ", r.detail,
                                _impl->endpoint.port));
    }
    server_probe out;
    out.status = r.status;
    const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (r.status == 200 && body.is_object() && body.contains("data") && body["data"].is_array()) {
        for (const nlohmann::json& m : body["data"]) {
            if (m.is_object() && m.contains("id") && m["id"].is_string()) {
                out.model_ids.push_back(m["id"].get<std::string>());
            }
        }
    } else {
        out.detail = error_message_of(r.body);
    }
    return out;
}

run_result bench_runner::run(std::span<const prepared_request> requests, std::span<const double> offsets_s,
                             const progress_callback& progress) {
    return _impl->run(requests, offsets_s, _impl->options.max_concurrency, progress);
}

std::vector<request_record> bench_runner::warmup(std::span<const prepared_request> requests) {
    const std::vector<double> offsets(requests.size(), 0.0);
    return _impl->run(requests, offsets, 1, {}).records;
}

} // namespace llmfleet::loadgen
