// http_client_core: the runtime (own or shared), the per-endpoint LIFO pools of idle keep-alive connections (with
// expiry and a liveness peek before reuse), the list of live exchanges, and shutdown (cancel all, join, complete
// leftovers).
#include <algorithm>

#include <fmt/format.h>

#include "common/check.h"
#include "common/log.h"
#include "serve/http/http_client_internal.h"
#include "serve/http/io_runtime_internal.h"

namespace llmfleet::serve {

namespace {
// Own runtime: how long shutdown lets the io threads run the cancellations before it completes the rest itself.
// Shared runtime: how long it waits before warning (it waits on).
constexpr std::chrono::milliseconds shutdown_cancel_wait{2'000};
constexpr std::chrono::milliseconds shared_stop_poll{20}; // shared runtime: how often it checks for a stop
constexpr std::chrono::milliseconds sweep_period_min{10};
constexpr std::chrono::milliseconds sweep_period_max{1'000};
} // namespace

http_client_core::http_client_core(http_client_options options_)
    : options(std::move(options_)),
      runtime(options.runtime ? options.runtime : std::make_shared<io_runtime>(options.n_io_threads, "http client")),
      owns_runtime(options.runtime == nullptr), ioc(io_context_of(*runtime)), _sweep_timer(ioc) {}

http_client_core::~http_client_core() {
    LLMFLEET_CHECK(!owns_runtime || runtime->stopped(), "http_client_core destroyed without shutdown()");
}

void http_client_core::start() {
    arm_sweep();
}

bool http_client_core::on_io_thread() const {
    return runtime->on_thread();
}

void http_client_core::arm_sweep() {
    const std::chrono::milliseconds period =
        std::clamp(options.pooled_idle_expiry / 2, sweep_period_min, sweep_period_max);
    _sweep_timer.expires_after(period);
    // Weak: on a shared runtime the core may be gone when the wait ends (the timer's destruction cancels it).
    _sweep_timer.async_wait([weak = weak_from_this()](beast::error_code ec) {
        const std::shared_ptr<http_client_core> self = weak.lock();
        if (ec || !self) {
            return;
        }
        if (self->sweep()) {
            self->arm_sweep();
        }
    });
}

bool http_client_core::sweep() {
    std::vector<std::unique_ptr<client_connection>> expired;
    {
        std::lock_guard lock(_mutex);
        if (_closing) {
            return false;
        }
        const client_clock::time_point oldest_kept = client_clock::now() - options.pooled_idle_expiry;
        for (auto& [key, idle] : _pools) {
            while (!idle.empty() && idle.front()->idle_since < oldest_kept) { // the front is the oldest
                expired.push_back(std::move(idle.front()));
                idle.pop_front();
            }
        }
    }
    return true; // `expired` closes them here, outside the lock
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
    LLMFLEET_CHECK(!on_io_thread(), "http_client destroyed from one of its io threads (a callback): it waits for "
                                    "work they do; destroy it from another thread");
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
        if (owns_runtime) {
            if (!_live_empty.wait_for(lock, shutdown_cancel_wait, [this] { return _live.empty(); })) {
                LLMFLEET_LOG_WARN("http client: {} exchanges still live {} ms after cancelling them (a callback "
                                  "blocks?); completing them on the destroying thread",
                                  _live.size(), shutdown_cancel_wait.count());
            }
        } else {
            // The exchanges run on threads this client does not own: wait for them (a stopped runtime runs
            // nothing more; then they complete below).
            const client_clock::time_point warn_at = client_clock::now() + shutdown_cancel_wait;
            bool warned = false;
            while (!_live.empty() && !runtime->stopped()) {
                _live_empty.wait_for(lock, shared_stop_poll);
                if (!warned && !_live.empty() && client_clock::now() > warn_at) {
                    warned = true;
                    LLMFLEET_LOG_WARN("http client: {} exchanges still live {} ms after cancelling them (a callback "
                                      "blocks, or the shared runtime is busy); waiting for them",
                                      _live.size(), shutdown_cancel_wait.count());
                }
            }
        }
    }
    if (owns_runtime) {
        runtime->stop();
    }
    if (!runtime->stopped()) {
        return; // shared and running: every exchange completed on it
    }
    // The runtime's threads are gone: what is still live (a cancellation that did not run, or an exchange started by a
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
