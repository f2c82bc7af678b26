// http_server: binds, accepts (503 beyond max_connections), runs the io threads, installs signal handling and
// shuts down gracefully. Connections live in http_connection.cpp, responders in http_responder.cpp.
#include "serve/http/http_server.h"

#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include "common/check.h"
#include "common/error.h"
#include "common/log.h"
#include "serve/http/http_connection.h"

namespace llmfleet::serve {

namespace {
thread_local bool t_is_io_thread = false;
constexpr std::chrono::milliseconds accept_retry_delay{50}; // after an accept error such as EMFILE
constexpr std::chrono::milliseconds force_close_wait{500};  // for forced closes to run before stopping
} // namespace

struct http_server::impl {
    explicit impl(http_server_options options)
        : state(std::make_shared<http_server_state>(std::move(options))), acceptor(asio::make_strand(ioc)),
          accept_retry(acceptor.get_executor()) {}

    void accept();
    void post_to_connections(bool force);

    std::shared_ptr<http_server_state> state;
    asio::io_context ioc; // destroyed after everything below that refers to it
    tcp::acceptor acceptor;
    asio::steady_timer accept_retry;
    std::optional<asio::signal_set> signals;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::vector<std::thread> threads;
    uint16_t port = 0;
    bool started = false;
    std::mutex shutdown_mutex;
    bool shut_down = false;     // guarded by shutdown_mutex
    bool shutdown_clean = true; // guarded by shutdown_mutex
};

void http_server::impl::accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
            return;
        }
        if (ec) {
            LLMFLEET_LOG_WARN("http: accept failed: {}; retrying in {} ms", ec.message(), accept_retry_delay.count());
            accept_retry.expires_after(accept_retry_delay);
            accept_retry.async_wait([this](beast::error_code wait_ec) {
                if (!wait_ec) {
                    accept();
                }
            });
            return;
        }
        const bool over_limit = state->n_connections.load() >= state->options.max_connections;
        std::shared_ptr<http_connection> connection;
        {
            std::lock_guard lock(state->connections_mutex);
            const uint64_t id = state->next_connection_id++;
            connection = std::make_shared<http_connection>(state, std::move(socket), id);
            state->connections[id] = connection;
        }
        if (over_limit) {
            connection->reject(503,
                               "too many connections: the limit is " + std::to_string(state->options.max_connections));
        } else {
            connection->start();
        }
        accept();
    });
}

void http_server::impl::post_to_connections(bool force) {
    std::vector<std::shared_ptr<http_connection>> open;
    {
        std::lock_guard lock(state->connections_mutex);
        for (const auto& [id, weak] : state->connections) {
            if (auto connection = weak.lock()) {
                open.push_back(std::move(connection));
            }
        }
    }
    for (const auto& connection : open) {
        connection->post_shutdown(force);
    }
}

http_server::http_server(http_server_options options) {
    if (options.n_io_threads < 1 || options.max_connections < 1) {
        throw invalid_input(fmt::format("http server: n_io_threads ({}) and max_connections ({}) must be >= 1",
                                        options.n_io_threads, options.max_connections));
    }
    _impl = std::make_unique<impl>(std::move(options));
    const http_server_options& opts = _impl->state->options;
    beast::error_code ec;
    const asio::ip::address address = asio::ip::make_address(opts.host, ec);
    if (ec) {
        throw invalid_input(fmt::format("http server: host `{}` is not an IP address ({})", opts.host, ec.message()));
    }
    const tcp::endpoint endpoint(address, opts.port);
    auto fail = [&](const char* step) {
        return error(status_code::unavailable,
                     fmt::format("http server: cannot {} {}:{}: {}", step, opts.host, opts.port, ec.message()));
    };
    _impl->acceptor.open(endpoint.protocol(), ec);
    if (ec) {
        throw fail("open a socket for");
    }
    _impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) {
        throw fail("set SO_REUSEADDR on");
    }
    _impl->acceptor.bind(endpoint, ec);
    if (ec) {
        throw fail("bind");
    }
    _impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        throw fail("listen on");
    }
    _impl->port = _impl->acceptor.local_endpoint().port();
}

http_server::~http_server() {
    if (_impl->started) {
        shutdown(std::chrono::milliseconds(0));
    }
}

void http_server::add_route(std::string method, std::string path, http_handler handler) {
    LLMFLEET_CHECK(!_impl->started, "add_route({} {}): routes must be added before start()", method, path);
    LLMFLEET_CHECK(handler != nullptr, "add_route({} {}): empty handler", method, path);
    auto& methods = _impl->state->routes[path];
    for (const auto& [existing, unused] : methods) {
        LLMFLEET_CHECK(existing != method, "add_route: duplicate route {} {}", method, path);
    }
    methods.emplace_back(std::move(method), std::move(handler));
}

void http_server::start() {
    LLMFLEET_CHECK(!_impl->started, "http_server::start() called twice");
    _impl->started = true;
    _impl->work.emplace(_impl->ioc.get_executor());
    asio::post(_impl->acceptor.get_executor(), [impl = _impl.get()] { impl->accept(); });
    const int n_threads = _impl->state->options.n_io_threads;
    for (int i = 0; i < n_threads; ++i) {
        _impl->threads.emplace_back([impl = _impl.get()] {
            t_is_io_thread = true;
            for (;;) {
                try {
                    impl->ioc.run();
                    return;
                } catch (const std::exception& e) {
                    LLMFLEET_LOG_ERROR("http: io thread caught an exception (continuing): {}", e.what());
                }
            }
        });
    }
    LLMFLEET_LOG_INFO("http: listening on {}:{} ({} io threads, max {} connections, max body {} bytes)",
                      _impl->state->options.host, _impl->port, n_threads, _impl->state->options.max_connections,
                      _impl->state->options.max_body_bytes);
}

uint16_t http_server::port() const {
    return _impl->port;
}

int http_server::n_connections() const {
    return _impl->state->n_connections.load();
}

void http_server::stop_accepting() {
    if (!_impl->started) {
        beast::error_code ignored;
        _impl->acceptor.close(ignored);
        return;
    }
    asio::post(_impl->acceptor.get_executor(), [impl = _impl.get()] {
        beast::error_code ignored;
        impl->acceptor.close(ignored);
        impl->accept_retry.cancel();
    });
}

bool http_server::shutdown(std::chrono::milliseconds grace) {
    std::lock_guard lock(_impl->shutdown_mutex);
    if (_impl->shut_down) {
        return _impl->shutdown_clean;
    }
    LLMFLEET_CHECK(!t_is_io_thread, "http_server::shutdown() called from an io thread (it joins them)");
    _impl->shut_down = true;
    http_server_state& state = *_impl->state;
    stop_accepting();
    state.stopping.store(true);
    _impl->post_to_connections(false);

    using clock = std::chrono::steady_clock;
    const auto poll = std::chrono::milliseconds(2);
    const clock::time_point deadline = clock::now() + grace;
    while (state.n_in_flight.load() > 0 && clock::now() < deadline) {
        std::this_thread::sleep_for(poll);
    }
    const int n_cut = state.n_in_flight.load();
    _impl->shutdown_clean = n_cut == 0;
    if (n_cut > 0) {
        LLMFLEET_LOG_WARN("http: shutdown grace of {} ms over: cutting {} in-flight responses", grace.count(), n_cut);
    }
    _impl->post_to_connections(true);
    const clock::time_point close_deadline = clock::now() + force_close_wait;
    while (state.n_connections.load() > 0 && clock::now() < close_deadline) {
        std::this_thread::sleep_for(poll);
    }
    _impl->work.reset();
    _impl->ioc.stop();
    for (std::thread& thread : _impl->threads) {
        thread.join();
    }
    _impl->threads.clear();
    std::lock_guard gate(state.gate_mutex);
    state.gate_open = false; // responders kept by other threads do nothing from now on
    return _impl->shutdown_clean;
}

void http_server::on_signal(std::function<void(int)> callback) {
    LLMFLEET_CHECK(!_impl->started, "on_signal(): call before start()");
    LLMFLEET_CHECK(!_impl->signals, "on_signal(): already installed");
    _impl->signals.emplace(_impl->ioc, SIGINT, SIGTERM);
    _impl->signals->async_wait([callback = std::move(callback)](beast::error_code ec, int signal_number) {
        if (!ec) {
            LLMFLEET_LOG_INFO("http: received signal {}", signal_number);
            callback(signal_number);
        }
    });
}

} // namespace llmfleet::serve
