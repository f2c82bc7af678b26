// Internal to serve/http: the client's shared core (io threads, per-endpoint pools of idle keep-alive connections,
// the live exchanges that destruction cancels) and one exchange (connect, write the request, parse the response as
// it arrives, timeouts, the stale keep-alive retry). Included only by http_client*.cpp, so that only they pay for
// Beast's compile time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>

#include "serve/http/http_client.h"
#include "serve/http/io_runtime.h"

namespace llmfleet::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using client_strand = asio::strand<asio::io_context::executor_type>;
using client_clock = std::chrono::steady_clock;

class client_exchange;

// One TCP connection. Owned by an exchange while in use, by its endpoint's pool while idle (no operation pending
// then). Everything on its socket runs on `strand`, which the exchange that takes it over adopts.
struct client_connection {
    client_connection(std::atomic<size_t>& n_open, client_strand strand);
    ~client_connection();
    client_connection(const client_connection&) = delete;
    client_connection& operator=(const client_connection&) = delete;

    // Closes the socket (pending operations finish with operation_aborted). Idempotent.
    void close();
    // An idle connection the server has not closed and has sent nothing on (one non-blocking peek).
    bool looks_reusable();

    std::atomic<size_t>& n_open; // the core's open-connection count: +1 here, -1 on close()
    client_strand strand;
    tcp::socket socket;
    beast::flat_buffer buffer;           // bytes read and not yet parsed
    client_clock::time_point idle_since; // when it entered the pool
    bool is_open = true;
};

// Shared by http_client and the handles it returns; exchanges refer to it by reference (the handles keep it, and so
// the runtime whose io_context every exchange's socket and timer belong to, alive). On a shared runtime the core
// may die before handlers of completed exchanges ran: they touch nothing of it once complete() returned (their
// connection is closed or pooled by then, and a closed connection no longer counts itself in the core).
class http_client_core : public std::enable_shared_from_this<http_client_core> {
public:
    explicit http_client_core(http_client_options options);
    ~http_client_core();
    http_client_core(const http_client_core&) = delete;
    http_client_core& operator=(const http_client_core&) = delete;

    // Starts the pool sweep. note: call once, right after construction (by make_shared).
    void start();
    // Cancels every live exchange (on_complete(cancelled)) and closes the pools. Own runtime: waits up to 2 s for
    // the cancellations, joins the io threads, and completes what is left on the calling thread. Shared runtime:
    // waits until every exchange completed on the runtime (or the runtime was stopped: then completes the rest
    // here), and leaves the runtime running. note: call once, not from a thread of the runtime (checked).
    void shutdown();
    // True on one of the runtime's threads (the shared runtime's, when there is one).
    bool on_io_thread() const;

    // The most recently pooled connection to `pool_key` that is neither expired nor closed by the server, or
    // nullptr. Thread-safe.
    std::unique_ptr<client_connection> take_idle(const std::string& pool_key);
    // Pools a connection after a complete keep-alive response (closes it when the pool is full or the client is
    // shutting down). Thread-safe.
    void put_idle(const std::string& pool_key, std::unique_ptr<client_connection> connection);
    // Registers a started exchange until it completes; false when the client is shutting down (the caller then
    // cancels it). Thread-safe.
    bool add_live(const std::shared_ptr<client_exchange>& exchange);
    // note: call once per exchange, from its completion. Thread-safe.
    void remove_live(client_exchange& exchange);

    const http_client_options options;
    std::atomic<size_t> n_open_connections{0}; // declared before runtime: connections die during its destruction
    std::shared_ptr<io_runtime> runtime;       // options.runtime, or the client's own (n_io_threads threads)
    const bool owns_runtime;                   // the own one is stopped (joined) by shutdown()
    asio::io_context& ioc;                     // the runtime's

private:
    void arm_sweep();
    // Closes expired pooled connections; false once the client is closing (the sweep then stops).
    bool sweep();

    asio::steady_timer _sweep_timer; // expires idle pooled connections; touched only by its own handler
    std::mutex _mutex;
    std::condition_variable _live_empty; // shutdown waits on it for the cancellations to run
    bool _closing = false;               // guarded by _mutex
    // pool key ("host:port") → idle connections, the most recently used at the back. guarded by _mutex
    std::unordered_map<std::string, std::deque<std::unique_ptr<client_connection>>> _pools;
    std::list<std::shared_ptr<client_exchange>> _live; // started, not completed. guarded by _mutex
};

// Feeds a response to the exchange without copying: the head's fields into an http_response_head, each body piece
// (chunk framing removed) as a view into the connection's read buffer, valid until the next read.
class client_response_parser final : public beast::http::basic_parser<false> {
public:
    client_response_parser(http_response_head& head, std::vector<std::string_view>& pieces)
        : _head(head), _pieces(pieces) {}

private:
    // beast::string_view: std::string_view only where BOOST_BEAST_USE_STD_STRING_VIEW is defined (the library, not
    // every includer of this header).
    using text = beast::string_view;
    void on_request_impl(beast::http::verb, text, text, int, beast::error_code&) override {}
    void on_response_impl(int code, text, int, beast::error_code&) override { _head.status = code; }
    void on_field_impl(beast::http::field, text name, text value, beast::error_code&) override {
        _head.headers.add(std::string(name.data(), name.size()), std::string(value.data(), value.size()));
    }
    void on_header_impl(beast::error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
    size_t on_body_impl(text body, beast::error_code&) override { return take(body); }
    void on_chunk_header_impl(std::uint64_t, text, beast::error_code&) override {}
    size_t on_chunk_body_impl(std::uint64_t, text body, beast::error_code&) override { return take(body); }
    void on_finish_impl(beast::error_code&) override {}

    size_t take(text body) {
        if (!body.empty()) {
            _pieces.emplace_back(body.data(), body.size());
        }
        return body.size();
    }

    http_response_head& _head;
    std::vector<std::string_view>& _pieces;
};

// One request/response. Everything but request_cancel() runs on `_strand` (complete() also on the destroying
// thread once the runtime's threads are joined). Kept alive by the handlers of its pending operations, by the core's
// live list until it completes, and by the caller's handle.
//
//   run ─► [connecting ─►] writing ─► reading ─► done (ok: the connection goes back to the pool)
//                             ▲  reused connection lost before any response byte: once  │
//                             └── connecting ◄──────────────────────────────────────────┘
class client_exchange : public std::enable_shared_from_this<client_exchange> {
public:
    client_exchange(http_client_core& core, client_strand strand, http_endpoint endpoint, std::string pool_key,
                    std::string request_head, std::string request_body, bool head_only,
                    http_exchange_callbacks callbacks, std::unique_ptr<client_connection> pooled);

    // Starts the exchange. note: call once, on the strand.
    void run();
    // Thread-safe, idempotent: completes with cancelled on the strand unless it completes first.
    void request_cancel(std::string detail);
    // Ends the exchange once: pools or closes the connection, runs on_complete, drops the callbacks and then
    // unregisters (so that shutdown() also waits for on_complete). note: call on the strand, or on any thread
    // once the runtime's threads are joined.
    void complete(http_client_error error, std::string detail, bool reusable = false);

    std::list<std::shared_ptr<client_exchange>>::iterator live_entry; // guarded by the core's _mutex

private:
    enum class phase { connecting, writing, reading, done };

    void connect();
    void on_resolved(beast::error_code ec, const tcp::resolver::results_type& results);
    void on_connected(beast::error_code ec);
    void write_request();
    void on_written(beast::error_code ec);
    void start_response();
    // A parser for the next response head (also after a 1xx interim response).
    void new_parser();
    void read_some();
    void on_read(beast::error_code ec, size_t n_bytes);
    // Parses what is buffered, delivers the head and the body pieces, then completes or reads on.
    void parse_and_deliver();
    // A read or write failed: retry a reused connection that delivered nothing, else connection_lost.
    void on_connection_error(beast::error_code ec, std::string_view step);
    // Run on_head / on_body; a callback that throws cancels the exchange. False when the exchange must stop
    // (completed, or cancel() was called from the callback).
    bool deliver_head();
    bool deliver_body(std::string_view bytes);
    void set_deadline(client_clock::time_point deadline);
    void on_timer(uint64_t generation);

    http_client_core& _core;
    const client_strand _strand;
    asio::steady_timer _timer; // one wait at a time; _deadline moves without re-arming it
    std::optional<tcp::resolver> _resolver;
    std::unique_ptr<client_connection> _connection; // not reset while an operation on it is pending
    const http_endpoint _endpoint;
    const std::string _pool_key;
    const std::string _request_head; // kept for the retry
    const std::string _request_body;
    const bool _head_only; // HEAD: the response has no body whatever its head says
    http_exchange_callbacks _callbacks;
    std::atomic<bool> _cancel_requested{false};

    phase _phase = phase::connecting;
    bool _completed = false;
    bool _reused = false;             // the connection came from the pool
    bool _retried = false;            // the one retry on a fresh connection happened
    bool _got_response_bytes = false; // a response byte arrived on the current connection
    bool _head_delivered = false;
    http_response_head _head;
    std::vector<std::string_view> _pieces; // body pieces parsed from the current read
    std::string _coalesced;                // several pieces of one read, delivered as one on_body
    std::optional<client_response_parser> _parser;
    client_clock::time_point _deadline;     // connect or idle deadline of the current phase
    client_clock::time_point _timer_expiry; // when the pending wait fires
    bool _timer_waiting = false;
    uint64_t _timer_generation = 0; // a wait whose generation is not current was superseded
};

} // namespace llmfleet::serve
