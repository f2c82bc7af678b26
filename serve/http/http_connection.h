// Internal to serve/http: the state the server shares with its connections, and one connection (Beast),
// which reads requests in order, dispatches them to routes, writes queued responses and watches for the
// client going away. Included only by http_*.cpp so that only they pay for Beast's compile time.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "serve/http/http_server.h"

namespace llmfleet::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// Shared by the server and every connection and responder, so that none of them dangles.
struct http_server_state {
    explicit http_server_state(http_server_options o) : options(std::move(o)) {}
    const http_server_options options;
    // path → (method, handler); written before start() only.
    std::map<std::string, std::vector<std::pair<std::string, http_handler>>> routes;
    std::atomic<bool> stopping{false}; // shutdown began: no keep-alive, no new requests
    std::atomic<int> n_connections{0}; // accepted and not yet closed
    std::atomic<int> n_in_flight{0};   // requests dispatched and not yet finished
    // Responders post to a connection only while the gate is open: shutdown() closes it before the io_context
    // is destroyed, so a responder kept by the engine after that does nothing.
    std::mutex gate_mutex;
    bool gate_open = true; // guarded by gate_mutex
    std::mutex connections_mutex;
    std::unordered_map<uint64_t, std::weak_ptr<http_connection>> connections; // guarded by connections_mutex
    uint64_t next_connection_id = 0;                                          // guarded by connections_mutex
};

// Formats a whole response with content-length; used for errors the connection answers itself.
std::string http_format_simple(int status, std::string_view body, std::string_view request_id, bool close);
// "HTTP/1.1 404 Not Found\r\n": the status line.
std::string http_status_line(int status, unsigned version);

// One accepted socket. Everything except post_send()/post_abort() runs on the socket's strand.
class http_connection : public std::enable_shared_from_this<http_connection> {
public:
    http_connection(std::shared_ptr<http_server_state> state, tcp::socket socket, uint64_t id);
    ~http_connection();
    // Starts reading the first request. note: call once, right after construction.
    void start();
    // Answers `status` (e.g. 503 for too many connections) without reading a request, then closes.
    void reject(int status, std::string message);
    // Queues bytes of the current response; `last` ends it. Thread-safe (posts to the strand).
    void post_send(std::string bytes, bool last);
    // Cuts the connection (reason is logged at debug), then runs `then` if not empty. Thread-safe (posts to the
    // strand).
    void post_abort(std::string reason, std::function<void()> then);
    // Shutdown: closes the connection if idle, else stops keep-alive after the current response (or closes
    // it now when `force`). Thread-safe (posts to the strand).
    void post_shutdown(bool force);

private:
    void read_request();
    void read_header();
    void on_read_error(beast::error_code ec);
    void on_header(beast::error_code ec);
    void on_body(beast::error_code ec);
    void dispatch();
    void start_watch();
    void on_watch(beast::error_code ec, size_t n_bytes);
    void write_next();
    void on_written(beast::error_code ec, size_t n_bytes);
    void finish_response();
    // Answers an error the connection found itself (400, 408, 413, 431) and closes after it.
    void reply_error_and_close(int status, std::string_view message);
    void close(std::string_view reason);
    void lingering_close();
    void arm_timer(std::chrono::milliseconds timeout);
    void disarm_timer();

    struct pending_write {
        std::string bytes;
        bool last = false;
    };

    std::shared_ptr<http_server_state> _state;
    tcp::socket _socket;
    asio::steady_timer _timer; // read deadlines; closes the socket when it fires
    const uint64_t _id;
    std::string _remote_address;
    beast::flat_buffer _buffer; // bytes read and not yet parsed (pipelined requests included)
    std::optional<beast::http::request_parser<beast::http::string_body>> _parser;
    std::shared_ptr<http_connection> _self_while_handling; // keeps us alive while only a responder knows us
    std::weak_ptr<http_responder> _responder;
    std::shared_ptr<std::atomic<size_t>> _queued_bytes;
    std::deque<pending_write> _writes;
    bool _writing = false;
    bool _watching = false;  // the disconnect watch read is pending
    bool _in_flight = false; // a request was dispatched and its response is not finished
    bool _response_queued_last = false;
    bool _keep_alive = false;
    bool _closed = false;
    bool _lingering = false; // response sent, send side shut down, draining until the client closes
    bool _closing_after_response = false;
    int _n_requests = 0;
    std::string _request_id;
};

} // namespace llmfleet::serve
