// http_server: binds, accepts (503 beyond max_connections), runs on its own io runtime or a shared one, installs
// signal handling and shuts down gracefully. Connections live in http_connection.cpp, responders in http_responder.cpp.
#include "serve/http/http_server.h"

#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include "common/check.h"
#include "common/error.h"
#include "common/log.h"
#include "serve/http/http_connection.h"
#include "serve/http/io_runtime_internal.h"

namespace llmfleet::serve {

namespace {
constexpr std::chrono::milliseconds accept_retry_delay{50}; // after an accept error such as EMFILE
constexpr std::chrono::milliseconds force_close_wait{500};  // for forced closes to run before stopping
// On a shared runtime nothing is joined: shutdown waits this long for the forced closes, then leaves the rest to
// the runtime (connections hold only the shared state, and the closed gate makes their responders inert).
constexpr std::chrono::milliseconds shared_close_wait{5'000};
} // namespace

// The accept loop. Its handlers keep it alive, so that on a shared runtime they never touch a destroyed server.
struct http_listener : std::enable_shared_from_this<http_listener> {
    http_listener(std::shared_ptr<http_server_state> s, asio::io_context& c)
        : state(std::move(s)), ioc(c), acceptor(asio::make_strand(ioc)), accept_retry(acceptor.get_executor()) {}

    // Accepts the next connection. note: call on the acceptor's strand.
    void accept();
    // Closes the acceptor (the pending accept ends with operation_aborted). note: call on the acceptor's strand.
    void close() {
        beast::error_code ignored;
        acceptor.close(ignored);
        accept_retry.cancel();
    }

    const std::shared_ptr<http_server_state> state;
    asio::io_context& ioc; // the runtime's: it outlives every handler it runs
    tcp::acceptor acceptor;
    asio::steady_timer accept_retry;
};

struct http_server::impl {
    explicit impl(http_server_options options) : runtime(std::move(options.runtime)), owns_runtime(runtime == nullptr) {
        if (owns_runtime) {
            runtime = std::make_shared<io_runtime>(options.n_io_threads, "http");
        }
        // options.runtime was moved out: the state (kept by connections, inside the runtime) must not keep it.
        state = std::make_shared<http_server_state>(std::move(options));
        listener = std::make_shared<http_listener>(state, io_context_of(*runtime));
    }

    void post_to_connections(bool force);

    std::shared_ptr<io_runtime> runtime; // declared first: destroyed after everything below that refers to it
    const bool owns_runtime;             // null options.runtime: stopped (joined) by shutdown()
    std::shared_ptr<http_server_state> state;
    std::shared_ptr<http_listener> listener;
    std::optional<asio::signal_set> signals;
    uint16_t port = 0;
    bool started = false;
    std::mutex shutdown_mutex;
    bool shut_down = false;     // guarded by shutdown_mutex
    bool shutdown_clean = true; // guarded by shutdown_mutex
};

void http_listener::accept() {
    acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this()](beast::error_code ec,
                                                                              tcp::socket socket) {
        http_listener& l = *self;
        if (ec == asio::error::operation_aborted || !l.acceptor.is_open()) {
            return;
        }
        if (ec) {
            LLMFLEET_LOG_WARN("http: accept failed: {}; retrying in {} ms", ec.message(), accept_retry_delay.count());
            l.accept_retry.expires_after(accept_retry_delay);
            l.accept_retry.async_wait([self](beast::error_code wait_ec) {
                if (!wait_ec && self->acceptor.is_open()) {
                    self->accept();
                }
            });
            return;
        }
        http_server_state& st = *l.state;
        const bool over_limit = st.n_connections.load() >= st.options.max_connections;
        std::shared_ptr<http_connection> connection;
        {
            std::lock_guard lock(st.connections_mutex);
            const uint64_t id = st.next_connection_id++;
            connection = std::make_shared<http_connection>(l.state, std::move(socket), id);
            st.connections[id] = connection;
        }
        if (over_limit) {
            connection->reject(503, "too many connections: the limit is " + std::to_string(st.options.max_connections));
        } else {
            connection->start();
        }
        l.accept();
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
    if ((!options.runtime && options.n_io_threads < 1) || options.max_connections < 1) {
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
    _impl->listener->acceptor.open(endpoint.protocol(), ec);
    if (ec) {
        throw fail("open a socket for");
    }
    _impl->listener->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) {
        throw fail("set SO_REUSEADDR on");
    }
    _impl->listener->acceptor.bind(endpoint, ec);
    if (ec) {
        throw fail("bind");
    }
    _impl->listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        throw fail("listen on");
    }
    _impl->port = _impl->listener->acceptor.local_endpoint().port();
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
    asio::post(_impl->listener->acceptor.get_executor(), [listener = _impl->listener] { listener->accept(); });
    LLMFLEET_LOG_INFO("http: listening on {}:{} ({} io threads{}, max {} connections, max body {} bytes)",
                      _impl->state->options.host, _impl->port, _impl->runtime->n_threads(),
                      _impl->owns_runtime ? "" : " shared", _impl->state->options.max_connections,
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
        _impl->listener->acceptor.close(ignored);
        return;
    }
    asio::post(_impl->listener->acceptor.get_executor(), [listener = _impl->listener] { listener->close(); });
}

bool http_server::shutdown(std::chrono::milliseconds grace) {
    std::lock_guard lock(_impl->shutdown_mutex);
    if (_impl->shut_down) {
        return _impl->shutdown_clean;
    }
    LLMFLEET_CHECK(!_impl->runtime->on_thread(),
                   "http_server::shutdown() called from one of its io threads (it waits for work they do)");
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
    const clock::time_point close_deadline =
        clock::now() + (_impl->owns_runtime ? force_close_wait : shared_close_wait);
    while (state.n_connections.load() > 0 && clock::now() < close_deadline) {
        std::this_thread::sleep_for(poll);
    }
    if (_impl->owns_runtime) {
        _impl->runtime->stop();
    } else if (state.n_connections.load() > 0) {
        LLMFLEET_LOG_WARN("http: {} connections still open {} ms after closing them (are the shared runtime's "
                          "threads blocked?); they close on the runtime",
                          state.n_connections.load(), shared_close_wait.count());
    }
    _impl->signals.reset(); // its handler holds only the callback: cancelled, it does nothing
    std::lock_guard gate(state.gate_mutex);
    state.gate_open = false; // responders kept by other threads do nothing from now on
    return _impl->shutdown_clean;
}

void http_server::on_signal(std::function<void(int)> callback) {
    LLMFLEET_CHECK(!_impl->started, "on_signal(): call before start()");
    LLMFLEET_CHECK(!_impl->signals, "on_signal(): already installed");
    _impl->signals.emplace(io_context_of(*_impl->runtime), SIGINT, SIGTERM);
    _impl->signals->async_wait([callback = std::move(callback)](beast::error_code ec, int signal_number) {
        if (!ec) {
            LLMFLEET_LOG_INFO("http: received signal {}", signal_number);
            callback(signal_number);
        }
    });
}

} // namespace llmfleet::serve
