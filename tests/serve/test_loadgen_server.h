// A scripted OpenAI-like server for the load generator's tests: an in-process serve::http_server on an ephemeral
// port whose /v1/completions streams max_tokens one-token chunks with known sleeps (first-token delay, then a
// fixed gap), then the usage chunk and [DONE]; or, by request ordinal, a 500, a 429, a mid-stream error event, or
// a stream cut before [DONE]. It counts requests and the most in flight at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "serve/http/http_server.h"

namespace llmfleet::loadgen::test {

enum class reply { ok, http_500, http_429, stream_error, truncated };

struct script {
    double first_token_delay_s = 0.02;
    double token_gap_s = 0.002;
    std::function<reply(int64_t ordinal)> reply_for = [](int64_t) { return reply::ok; }; // ordinal from 0
    std::string api_key; // when set, requests without `Bearer KEY` get 401
};

// Every request answered normally, with these sleeps.
inline script timed(double first_token_delay_s, double token_gap_s) {
    script s;
    s.first_token_delay_s = first_token_delay_s;
    s.token_gap_s = token_gap_s;
    return s;
}

class scripted_server {
public:
    explicit scripted_server(script s) : _script(std::move(s)), _server(server_options()) {
        _server.add_route("GET", "/v1/models",
                          [](const serve::http_request&, std::shared_ptr<serve::http_responder> o) {
                              o->respond(200, "application/json",
                                         R"({"object":"list","data":[{"id":"fake-model","object":"model"}]})");
                          });
        _server.add_route("POST", "/v1/completions",
                          [this](const serve::http_request& r, std::shared_ptr<serve::http_responder> o) {
                              handle(r, std::move(o));
                          });
        _server.start();
    }
    ~scripted_server() {
        _server.shutdown(std::chrono::milliseconds(2000)); // lets the workers finish; then no handler adds one
        for (std::thread& t : _workers) {
            t.join();
        }
    }
    uint16_t port() const { return _server.port(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
    int64_t n_requests() const { return _n_requests.load(); }
    int64_t max_in_flight() const { return _max_in_flight.load(); }

private:
    static serve::http_server_options server_options() {
        serve::http_server_options o;
        o.n_io_threads = 1;
        return o;
    }

    void handle(const serve::http_request& r, std::shared_ptr<serve::http_responder> out) {
        const int64_t ordinal = _n_requests.fetch_add(1);
        const int64_t now_in_flight = _in_flight.fetch_add(1) + 1;
        int64_t seen = _max_in_flight.load();
        while (now_in_flight > seen && !_max_in_flight.compare_exchange_weak(seen, now_in_flight)) {
        }
        if (!_script.api_key.empty() && r.headers.get("authorization") != "Bearer " + _script.api_key) {
            --_in_flight;
            out->respond(401, "application/json", R"({"error":{"message":"bad api key"}})");
            return;
        }
        const nlohmann::json body = nlohmann::json::parse(r.body);
        const int64_t max_tokens = body.value("max_tokens", int64_t{16});
        const auto prompt_tokens = static_cast<int64_t>(body["prompt"].size());
        const bool stream = body.value("stream", false);
        const reply kind = _script.reply_for(ordinal);
        std::lock_guard lock(_mutex);
        _workers.emplace_back([this, out, max_tokens, prompt_tokens, stream, kind] {
            serve_one(*out, max_tokens, prompt_tokens, stream, kind);
        });
    }

    void serve_one(serve::http_responder& out, int64_t max_tokens, int64_t prompt_tokens, bool stream, reply kind) {
        const auto sleep_s = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
        const std::string token = R"(data: {"choices":[{"index":0,"text":"t","finish_reason":null}]})"
                                  "\n\n";
        if (kind == reply::http_500 || kind == reply::http_429) {
            --_in_flight;
            out.respond(kind == reply::http_500 ? 500 : 429, "application/json",
                        R"({"error":{"message":"scripted failure"}})");
            return;
        }
        const nlohmann::json usage = {{"choices", nlohmann::json::array()},
                                      {"usage", {{"prompt_tokens", prompt_tokens}, {"completion_tokens", max_tokens}}}};
        if (!stream) {
            sleep_s(_script.first_token_delay_s + _script.token_gap_s * static_cast<double>(max_tokens - 1));
            --_in_flight;
            out.respond(200, "application/json", usage.dump());
            return;
        }
        out.start_stream(200);
        sleep_s(_script.first_token_delay_s);
        out.write(token);
        if (kind == reply::stream_error) {
            --_in_flight;
            out.write("data: {\"error\":{\"message\":\"scripted mid-stream error\"}}\n\ndata: [DONE]\n\n");
            out.finish();
            return;
        }
        if (kind == reply::truncated) {
            --_in_flight;
            out.finish();
            return;
        }
        for (int64_t i = 1; i < max_tokens; ++i) {
            sleep_s(_script.token_gap_s);
            out.write(token);
        }
        --_in_flight;
        out.write("data: " + usage.dump() + "\n\ndata: [DONE]\n\n");
        out.finish();
    }

    script _script;
    std::atomic<int64_t> _n_requests{0};
    std::atomic<int64_t> _in_flight{0};
    std::atomic<int64_t> _max_in_flight{0};
    std::mutex _mutex;
    std::vector<std::thread> _workers; // guarded by _mutex; joined once the server stopped
    serve::http_server _server;        // last: its handlers use the members above
};

} // namespace llmfleet::loadgen::test
