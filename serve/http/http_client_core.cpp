// http_client_core: the io threads, the per-endpoint LIFO pools of idle keep-alive connections (with expiry and a
// liveness peek before reuse), the list of live exchanges, and shutdown (cancel all, join, complete leftovers).
#include <algorithm>

#include <fmt/format.h>

#include "common/check.h"
#include "common/log.h"
#include "serve/http/http_client_internal.h"

namespace llmfleet::serve {

namespace {
thread_local const http_client_core* t_io_core = nullptr; // set on a client's io threads
// How long shutdown lets the io threads run the cancellations before it completes the rest itself.
constexpr std::chrono::milliseconds shutdown_cancel_wait{2'000};
constexpr std::chrono::milliseconds sweep_period_min{10};
constexpr std::chrono::milliseconds sweep_period_max{1'000};
} // namespace

http_client_core::http_client_core(http_client_options options_) : options(std::move(options_)), _sweep_timer(ioc) {}

http_client_core::~http_client_core() {
    LLMFLEET_CHECK(_threads.empty(), "http_client_core destroyed without shutdown() ({} io threads)", _threads.size());
}

void http_client_core::start_threads() {
    _work.emplace(ioc.get_executor());
    arm_sweep();
    for (int i = 0; i < options.n_io_threads; ++i) {
        _threads.emplace_back([this] {
            t_io_core = this;
            for (;;) {
                try {
                    ioc.run();
                    return;
                } catch (const std::exception& e) {
                    LLMFLEET_LOG_ERROR("http client: io thread caught an exception (continuing): {}", e.what());
                }
            }
        });
    }
}

bool http_client_core::on_io_thread() const {
    return t_io_core == this;
}

void http_client_core::arm_sweep() {
    const std::chrono::milliseconds period =
        std::clamp(options.pooled_idle_expiry / 2, sweep_period_min, sweep_period_max);
    _sweep_timer.expires_after(period);
    _sweep_timer.async_wait([this](beast::error_code ec) {
        if (ec) {
            return;
        }
        sweep();
        arm_sweep();
    });
}

void http_client_core::sweep() {
    std::vector<std::unique_ptr<client_connection>> expired;
    {
        std::lock_guard lock(_mutex);
        if (_closing) {
            return;
        }
        const client_clock::time_point oldest_kept = client_clock::now() - options.pooled_idle_expiry;
        for (auto& [key, idle] : _pools) {
            while (!idle.empty() && idle.front()->idle_since < oldest_kept) { // the front is the oldest
                expired.push_back(std::move(idle.front()));
                idle.pop_front();
            }
        }
    }
    // `expired` closes them here, outside the lock.
}

std::unique_ptr<client_connection> http_client_core::take_idle(const std::string& pool_key) {
    for (;;) {
        std::unique_ptr<client_connection> connection;
        {
            std::lock_guard lock(_mutex);
            const auto pool = _pools.find(pool_key);
            if (_closing || pool == _pools.end() || pool->second.empty()) {
                return nullptr;
            }
            connection = std::move(pool->second.back());
            pool->second.pop_back();
        }
        // Checked outside the lock (a syscall): a connection the server closed is dropped, not retried later.
        const bool expired = client_clock::now() - connection->idle_since > options.pooled_idle_expiry;
        if (!expired && connection->looks_reusable()) {
            return connection;
        }
    }
}

void http_client_core::put_idle(const std::string& pool_key, std::unique_ptr<client_connection> connection) {
    connection->idle_since = client_clock::now();
    std::lock_guard lock(_mutex);
    if (_closing) {
        return; // `connection` closes on return
    }
    std::deque<std::unique_ptr<client_connection>>& idle = _pools[pool_key];
    if (idle.size() < options.max_idle_connections_per_endpoint) {
        idle.push_back(std::move(connection));
    }
}

bool http_client_core::add_live(const std::shared_ptr<client_exchange>& exchange) {
    std::lock_guard lock(_mutex);
    _live.push_front(exchange);
    exchange->live_entry = _live.begin();
    return !_closing;
}

void http_client_core::remove_live(client_exchange& exchange) {
    std::lock_guard lock(_mutex);
    _live.erase(exchange.live_entry);
    if (_closing && _live.empty()) {
        _live_empty.notify_all();
    }
}

void http_client_core::shutdown() {
    LLMFLEET_CHECK(!on_io_thread(), "http_client destroyed from one of its own io threads (a callback): it joins "
                                    "them; destroy it from another thread");
    std::vector<std::shared_ptr<client_exchange>> live;
    std::vector<std::unique_ptr<client_connection>> idle;
    {
        std::lock_guard lock(_mutex);
        _closing = true;
        live.assign(_live.begin(), _live.end());
        for (auto& [key, connections] : _pools) {
            for (auto& connection : connections) {
                idle.push_back(std::move(connection));
            }
        }
        _pools.clear();
    }
    idle.clear(); // no operation is pending on an idle connection: closing it here is safe
    for (const std::shared_ptr<client_exchange>& exchange : live) {
        exchange->request_cancel("the http client was destroyed");
    }
    live.clear();
    {
        std::unique_lock lock(_mutex);
        if (!_live_empty.wait_for(lock, shutdown_cancel_wait, [this] { return _live.empty(); })) {
            LLMFLEET_LOG_WARN("http client: {} exchanges still live {} ms after cancelling them (a callback blocks?); "
                              "completing them on the destroying thread",
                              _live.size(), shutdown_cancel_wait.count());
        }
    }
    _work.reset();
    ioc.stop();
    for (std::thread& thread : _threads) {
        thread.join();
    }
    _threads.clear();
    // The io threads are gone: what is still live (a cancellation that did not run, or an exchange started by a
    // callback meanwhile) completes here. Handlers left in the io_context die with it and do nothing.
    for (;;) {
        {
            std::lock_guard lock(_mutex);
            live.assign(_live.begin(), _live.end());
        }
        if (live.empty()) {
            break;
        }
        for (const std::shared_ptr<client_exchange>& exchange : live) {
            exchange->complete(http_client_error::cancelled, "the http client was destroyed");
        }
        live.clear();
    }
}

} // namespace llmfleet::serve
