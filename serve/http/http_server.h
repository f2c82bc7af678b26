// The async HTTP/1.1 server core (Boost.Asio/Beast behind a pimpl): exact-path routes, limits and timeouts,
// keep-alive, whole or streamed (chunked, SSE) responses completed from any thread, disconnect notification
// and graceful shutdown. No JSON and no engine here: the engine server and the router are layered on top.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "serve/http/http_request.h"
#include "serve/http/io_runtime.h"

namespace llmfleet::serve {

class http_connection;
struct http_server_state;

using http_header_list = std::vector<std::pair<std::string, std::string>>;

struct http_server_options {
    std::string host = "127.0.0.1";      // address to bind (IPv4 or IPv6 literal)
    uint16_t port = 0;                   // 0: an ephemeral port, see http_server::port()
    int n_io_threads = 2;                // threads running the io_context; handlers run on them (no runtime)
    size_t max_body_bytes = 8u << 20;    // larger bodies get 413 before being read (content-length or chunked)
    size_t max_header_bytes = 16u << 10; // larger request heads get 431
    size_t max_queued_bytes = 16u << 20; // per response: a client this far behind is cut off (on_disconnect)
    int max_connections = 512;           // open connections beyond this get 503 and are closed
    std::chrono::milliseconds header_timeout{10'000}; // from connection or first byte to the end of the head
    std::chrono::milliseconds body_timeout{60'000};   // to read the whole body once the head arrived
    std::chrono::milliseconds idle_timeout{30'000};   // keep-alive wait for the next request's first byte
    // Shared event loop (e.g. with an http_client, so that a proxied request stays on one thread); handlers run on
    // its threads and n_io_threads is ignored. null: the server runs its own n_io_threads threads.
    std::shared_ptr<io_runtime> runtime;
};

// The write side of one request. Thread-safe: every method may be called from any thread, at any time, also
// after the client left or the server stopped (then they do nothing and return false). Writes are queued on the
// connection's strand and sent in call order, each as soon as the socket takes it (no whole-response buffering).
//
//   pending ──respond()────────────────────────────► finished
//      │                                                ▲
//      └──start_stream()──► streaming ──finish()────────┘
//   pending / streaming ──client gone, queue over max_queued_bytes, shutdown──► disconnected (on_disconnect)
//
// Dropping the last reference while pending sends 500; while streaming, closes the connection.
class http_responder {
public:
    // Internal: built by the connection for each request.
    http_responder(std::shared_ptr<http_server_state> state, std::weak_ptr<http_connection> connection,
                   std::shared_ptr<std::atomic<size_t>> queued_bytes, std::string request_id, bool keep_alive,
                   unsigned version);
    ~http_responder();
    http_responder(const http_responder&) = delete;
    http_responder& operator=(const http_responder&) = delete;

    // A whole response with content-length. note: call at most once, and not after start_stream().
    bool respond(int status, std::string_view content_type, std::string body, const http_header_list& extra = {});
    // Sends the head of a chunked response (SSE adds cache-control: no-cache). note: call at most once, and
    // not after respond().
    bool start_stream(int status, std::string_view content_type = "text/event-stream",
                      const http_header_list& extra = {});
    // Sends one chunk (empty chunks are skipped). false when the stream is closed, or when the client is too far
    // behind (queued_bytes() + chunk > max_queued_bytes): then the connection is cut off and on_disconnect runs.
    // note: call only after start_stream() and before finish().
    bool write(std::string_view chunk);
    // Ends the stream (the terminating chunk); the connection then serves its next request.
    bool finish();

    // `callback` runs once, on an io thread, if the client goes away before the response is finished (or the
    // response is cut off); immediately on the calling thread if that already happened. A later call replaces
    // an earlier callback that has not run.
    void on_disconnect(std::function<void()> callback);
    // True while pending or streaming.
    bool is_open() const;
    // Bytes handed to this response and not yet written to the socket: the backpressure signal.
    size_t queued_bytes() const { return _queued_bytes->load(); }

    // Internal: the connection saw the client go away (io thread).
    void notify_disconnect();
    // Internal: the handler threw. Pending: sends 500 with `body`; streaming: cuts the connection.
    void fail(std::string_view body);

private:
    enum class phase { pending, streaming, finished, disconnected };
    // Posts bytes to the connection; `last` ends the response. not thread-safe: caller holds _mutex.
    bool post_locked(std::string bytes, bool last);
    // Cuts the connection (the client sees an incomplete response), then runs `then` (the disconnect callback,
    // may be empty) on its io thread; runs it here when the connection is already gone.
    void abort_connection(std::string reason, std::function<void()> then);
    // Cuts a stream the responder gave up on: disconnected, the callback runs on the io thread.
    // note: call without _mutex held.
    void cut_off(std::string reason);
    std::string head_locked(int status, std::string_view content_type, const http_header_list& extra, bool chunked,
                            size_t content_length) const;

    std::shared_ptr<http_server_state> _state;
    std::weak_ptr<http_connection> _connection;
    std::shared_ptr<std::atomic<size_t>> _queued_bytes; // shared with the connection, which decrements it
    const std::string _request_id;                      // the request's x-request-id, echoed; empty if none
    const bool _keep_alive;
    const unsigned _version; // 10 or 11; HTTP/1.0 streams are sent raw and end with the connection
    mutable std::mutex _mutex;
    phase _phase = phase::pending;        // guarded by _mutex
    std::function<void()> _on_disconnect; // guarded by _mutex
};

// A route handler runs on an io thread and must not block: hand the work off and complete the responder later,
// from any thread. The request lives only during the call (copy or move what is kept). An exception thrown here
// becomes a 500 (or cuts a started stream) and is logged.
using http_handler = std::function<void(const http_request&, std::shared_ptr<http_responder>)>;

class http_server {
public:
    // Binds and listens (throws llmfleet::error(unavailable) naming host:port if that fails); accepts only
    // after start().
    explicit http_server(http_server_options options);
    // Shuts down with no grace period if shutdown() was not called.
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    // Exact match on method and path. note: call before start(); duplicate routes are a bug (checked).
    void add_route(std::string method, std::string path, http_handler handler);
    // Starts accepting (the server's own io threads run from construction on). note: call once.
    void start();
    // The bound port (the ephemeral one when options.port was 0). Thread-safe.
    uint16_t port() const;
    // Open connections right now. Thread-safe.
    int n_connections() const;

    // Stops accepting; open connections keep being served. Thread-safe, idempotent.
    void stop_accepting();
    // Stops accepting, closes idle connections, lets in-flight responses finish until `grace` ran out, then
    // closes everything and joins the io threads. On a shared runtime it waits (a bounded time) for the
    // connections to close instead and leaves the runtime running. Returns true when nothing was cut off.
    // Idempotent. note: call from a thread that is not an io thread (not from a handler or a signal callback, and
    // not from any thread of a shared runtime): checked, since it waits for work those threads do.
    bool shutdown(std::chrono::milliseconds grace);

    // Calls `callback(signal_number)` once, on an io thread, on the first SIGINT or SIGTERM. The callback should
    // wake the thread that calls shutdown(). note: call before start().
    void on_signal(std::function<void(int)> callback);

private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

} // namespace llmfleet::serve
