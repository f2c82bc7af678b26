// The async HTTP/1.1 client (Boost.Asio/Beast behind a pimpl) that the router uses to reach engines and the
// load generator uses to drive a server: keep-alive connection pools per endpoint, connect and idle timeouts,
// and responses delivered as they arrive (head, then decoded body bytes, chunk framing removed) so that a
// stream is passed through without buffering. No JSON here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "serve/http/http_endpoint.h"
#include "serve/http/http_request.h"
#include "serve/http/http_server.h"

namespace llmfleet::serve {

struct http_client_options {
    int n_io_threads = 1;                                  // threads running the client's io_context (no runtime)
    std::chrono::milliseconds connect_timeout{2'000};      // resolve + TCP connect
    std::chrono::milliseconds idle_timeout{600'000};       // longest silence while waiting for response bytes
    size_t max_idle_connections_per_endpoint = 256;        // kept-alive connections beyond this are closed
    std::chrono::milliseconds pooled_idle_expiry{10'000};  // idle pooled connections older than this are closed
    size_t max_response_header_bytes = 64u << 10;          // larger response heads are a bad_response
    // Shared event loop (e.g. with the http_server whose handlers start exchanges: then a proxied request stays on
    // one thread); callbacks run on its threads and n_io_threads is ignored. null: the client runs its own threads.
    std::shared_ptr<io_runtime> runtime;
};

// Why an exchange ended.
//
//   start ──connect──► sent ──head──► body ──last byte──► ok
//     │                 │              │
//     └─ connect_failed └──────────────┴──► connection_lost / timeout / bad_response / cancelled
enum class http_client_error {
    ok,             // the whole response was read
    connect_failed, // resolve or connect failed or timed out: the server never saw the request
    connection_lost, // the connection closed or reset before the response was complete
    timeout,         // no byte for idle_timeout after the request was sent
    bad_response,    // not parseable as HTTP/1.1 (or the head was too large)
    cancelled,       // http_exchange::cancel() or the client was destroyed
};
std::string_view to_string(http_client_error error);

struct http_client_request {
    std::string method = "POST";
    std::string target = "/";   // path and query, e.g. "/v1/completions"
    http_header_list headers;   // host, content-length and connection are set by the client
    std::string body;           // sent with content-length (empty: none)
};

struct http_response_head {
    int status = 0;
    http_headers headers;
};

// Called on a client io thread (a shared runtime's, if any), in this order: on_head once (if a head arrived),
// on_body zero or more times (never empty), on_complete exactly once. A callback must not block; it may call
// http_exchange::cancel().
struct http_exchange_callbacks {
    std::function<void(const http_response_head&)> on_head;
    std::function<void(std::string_view)> on_body; // decoded body bytes (chunked framing removed)
    std::function<void(http_client_error, const std::string& detail)> on_complete; // detail: empty when ok
};

// One request in flight. Thread-safe.
class http_exchange {
public:
    virtual ~http_exchange() = default;
    // Closes the exchange's connection (the server sees the client go away); on_complete(cancelled) follows
    // unless the exchange already completed. Idempotent.
    virtual void cancel() = 0;
};

// A whole response (fetch()).
struct http_client_result {
    http_client_error error = http_client_error::ok;
    std::string detail;
    int status = 0; // 0 when no head arrived
    http_headers headers;
    std::string body;
};

class http_client {
public:
    explicit http_client(http_client_options options = {});
    // Cancels every exchange (their on_complete runs with cancelled, on an io thread or, for those the io threads
    // did not reach within 2 s, on the destroying thread) and joins the io threads; no callback runs after it
    // returns. On a shared runtime nothing is joined: it waits for every on_complete to return on the runtime (as
    // long as it takes; on the destroying thread only once the runtime was stopped). Handles may outlive the
    // client (cancel() then does nothing; they keep the runtime). A host-name lookup in progress can delay it by
    // the system resolver's timeout. note: never call from a client io thread or a shared runtime's (checked).
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // Starts one exchange on a pooled keep-alive connection to `endpoint`, or a new one. A reused connection
    // that turns out closed by the server before any response byte is retried once on a fresh connection.
    // Thread-safe; may be called from a callback (also during destruction: then it completes with cancelled).
    // note: method, target and header fields must not hold CR or LF (checked); host, content-length, connection
    // and transfer-encoding fields of the caller are replaced by the client's, a user-agent is kept.
    std::shared_ptr<http_exchange> start(const http_endpoint& endpoint, http_client_request request,
                                         http_exchange_callbacks callbacks);
    // Blocking convenience over start(): the whole response, or the error. `timeout` bounds the whole exchange
    // (then error = timeout). note: never call from a client io thread (nor a shared runtime's; checked).
    http_client_result fetch(const http_endpoint& endpoint, http_client_request request,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds{30'000});

    // Connections open right now (in use + pooled). Thread-safe.
    size_t n_open_connections() const;

private:
    struct impl;
    std::shared_ptr<impl> _impl;
};

} // namespace llmfleet::serve
