// A load of non-streamed completions from several threads, for end-to-end tests that kill or restart servers
// underneath it (router retries, fleet restarts) and then check that nothing failed.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "serve/http/http_client.h"

namespace llmfleet::test {

// Threads posting non-streamed completions (prompt [5,6,7], max_tokens, ignore_eos) until joined; counts successes
// and failures, and keeps the last failure.
struct completion_load {
    completion_load(int port, int n_threads, int max_tokens) {
        for (int t = 0; t < n_threads; ++t) {
            threads.emplace_back([this, port, max_tokens] {
                while (!stop) {
                    const auto r = client.fetch(
                        {"127.0.0.1", static_cast<uint16_t>(port)},
                        {"POST",
                         "/v1/completions",
                         {{"content-type", "application/json"}},
                         fmt::format(R"({{"prompt":[5,6,7],"max_tokens":{},"ignore_eos":true}})", max_tokens)},
                        std::chrono::seconds(60));
                    if (r.error == serve::http_client_error::ok && r.status == 200) {
                        ++n_ok;
                    } else {
                        ++n_failed;
                        std::lock_guard lock(mutex);
                        last_failure = std::to_string(r.status) + " " + r.detail + " " + r.body;
                    }
                }
            });
        }
    }
    ~completion_load() { join(); }
    void join() {
        stop = true;
        for (std::thread& t : threads) {
            if (t.joinable()) {
                t.join();
            }
        }
    }
    serve::http_client client;
    std::atomic<bool> stop{false};
    std::atomic<int> n_ok{0}, n_failed{0};
    std::mutex mutex;
    std::string last_failure; // guarded by mutex
    std::vector<std::thread> threads;
};

} // namespace llmfleet::test
