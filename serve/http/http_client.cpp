// http_client: formats the request head (host, user-agent, content-length added; the caller's other fields kept),
// takes a pooled connection or lets the exchange connect, and posts the exchange to its strand; fetch() waits for a
// whole response. The exchange lives in http_client_exchange.cpp, pools and threads in http_client_core.cpp.
#include "serve/http/http_client.h"

#include <condition_variable>
#include <mutex>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "common/check.h"
#include "common/error.h"
#include "serve/http/http_client_internal.h"

namespace llmfleet::serve {

namespace {

// What cancel() needs, and the core: it keeps the runtime, whose io_context outlives every socket and timer of the
// exchange.
class client_exchange_handle final : public http_exchange {
public:
    client_exchange_handle(std::shared_ptr<http_client_core> core, std::shared_ptr<client_exchange> exchange)
        : _core(std::move(core)), _exchange(std::move(exchange)) {}
    void cancel() override { _exchange->request_cancel("cancelled by the caller"); }

private:
    std::shared_ptr<http_client_core> _core; // declared first: destroyed after the exchange
    std::shared_ptr<client_exchange> _exchange;
};

// True when `text` is usable in a request line or a header field: no CR, LF or NUL (a caller's field must not be
// able to start a new field or request).
bool is_single_line(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool method_has_body(std::string_view method) {
    return iequals(method, "POST") || iequals(method, "PUT") || iequals(method, "PATCH");
}

// "POST /v1/completions HTTP/1.1\r\nhost: ...\r\n...\r\n\r\n": the request head, written before the body.
std::string format_request_head(const http_endpoint& endpoint, const http_client_request& request) {
    LLMFLEET_CHECK(!request.method.empty() && request.method.find(' ') == std::string::npos &&
                       is_single_line(request.method),
                   "http client: bad request method `{}`", request.method);
    LLMFLEET_CHECK(!request.target.empty() && request.target.find(' ') == std::string::npos &&
                       is_single_line(request.target),
                   "http client: bad request target `{}` (expected a path such as /v1/completions)", request.target);
    size_t n_bytes = 128 + request.method.size() + request.target.size() + endpoint.host.size();
    for (const auto& [name, value] : request.headers) {
        n_bytes += name.size() + value.size() + 4;
    }
    std::string head;
    head.reserve(n_bytes);
    head.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\nhost: ");
    const bool is_v6 = endpoint.host.find(':') != std::string::npos;
    head.append(is_v6 ? "[" : "").append(endpoint.host).append(is_v6 ? "]:" : ":");
    head.append(std::to_string(endpoint.port)).append("\r\n");
    bool has_user_agent = false;
    for (const auto& [name, value] : request.headers) {
        LLMFLEET_CHECK(!name.empty() && is_single_line(name) && name.find(':') == std::string::npos &&
                           is_single_line(value),
                       "http client: header `{}` for {} {}: a name must be a token and neither may hold CR or LF", name,
                       request.method, request.target);
        // The client frames the message itself: the caller's framing fields would contradict it.
        if (iequals(name, "host") || iequals(name, "content-length") || iequals(name, "connection") ||
            iequals(name, "transfer-encoding")) {
            continue;
        }
        has_user_agent = has_user_agent || iequals(name, "user-agent");
        head.append(name).append(": ").append(value).append("\r\n");
    }
    if (!has_user_agent) {
        head.append("user-agent: llmfleet\r\n");
    }
    if (!request.body.empty() || method_has_body(request.method)) {
        head.append("content-length: ").append(std::to_string(request.body.size())).append("\r\n");
    }
    head.append("\r\n");
    return head;
}

} // namespace

std::string_view to_string(http_client_error error) {
    switch (error) {
    case http_client_error::ok:
        return "ok";
    case http_client_error::connect_failed:
        return "connect_failed";
    case http_client_error::connection_lost:
        return "connection_lost";
    case http_client_error::timeout:
        return "timeout";
    case http_client_error::bad_response:
        return "bad_response";
    case http_client_error::cancelled:
        return "cancelled";
    }
    return "unknown";
}

struct http_client::impl : http_client_core {
    using http_client_core::http_client_core;
};

http_client::http_client(http_client_options options) {
    if (!options.runtime && options.n_io_threads < 1) {
        throw invalid_input(fmt::format("http client: n_io_threads must be >= 1, got {}", options.n_io_threads));
    }
    if (options.connect_timeout.count() <= 0 || options.idle_timeout.count() <= 0 ||
        options.pooled_idle_expiry.count() <= 0) {
        throw invalid_input(fmt::format("http client: connect_timeout ({} ms), idle_timeout ({} ms) and "
                                        "pooled_idle_expiry ({} ms) must be > 0",
                                        options.connect_timeout.count(), options.idle_timeout.count(),
                                        options.pooled_idle_expiry.count()));
    }
    _impl = std::make_shared<impl>(std::move(options));
    _impl->start();
}

http_client::~http_client() {
    _impl->shutdown();
}

std::shared_ptr<http_exchange> http_client::start(const http_endpoint& endpoint, http_client_request request,
                                                  http_exchange_callbacks callbacks) {
    std::string head = format_request_head(endpoint, request);
    const bool head_only = iequals(request.method, "HEAD");
    std::string pool_key = endpoint.host;
    pool_key.append(":").append(std::to_string(endpoint.port));
    std::unique_ptr<client_connection> pooled = _impl->take_idle(pool_key);
    client_strand strand = pooled ? pooled->strand : asio::make_strand(_impl->ioc);
    auto exchange =
        std::make_shared<client_exchange>(*_impl, strand, endpoint, std::move(pool_key), std::move(head),
                                          std::move(request.body), head_only, std::move(callbacks), std::move(pooled));
    const bool accepted = _impl->add_live(exchange);
    asio::post(strand, [exchange] { exchange->run(); });
    if (!accepted) {
        exchange->request_cancel("the http client is being destroyed");
    }
    return std::make_shared<client_exchange_handle>(_impl, std::move(exchange));
}

http_client_result http_client::fetch(const http_endpoint& endpoint, http_client_request request,
                                      std::chrono::milliseconds timeout) {
    LLMFLEET_CHECK(
        !_impl->on_io_thread(),
        "http_client::fetch() called on one of the client's io threads: it would wait on itself; use start()");
    struct fetch_state {
        std::mutex mutex;
        std::condition_variable done_cv;
        bool done = false;         // guarded by mutex
        http_client_result result; // written on the strand before done, read after it
    };
    auto state = std::make_shared<fetch_state>();
    http_exchange_callbacks callbacks;
    callbacks.on_head = [state](const http_response_head& head) {
        state->result.status = head.status;
        state->result.headers = head.headers;
    };
    callbacks.on_body = [state](std::string_view bytes) { state->result.body.append(bytes); };
    callbacks.on_complete = [state](http_client_error error, const std::string& detail) {
        std::lock_guard lock(state->mutex);
        state->result.error = error;
        state->result.detail = detail;
        state->done = true;
        state->done_cv.notify_all();
    };
    const std::shared_ptr<http_exchange> exchange = start(endpoint, std::move(request), std::move(callbacks));
    std::unique_lock lock(state->mutex);
    if (!state->done_cv.wait_for(lock, timeout, [&] { return state->done; })) {
        lock.unlock();
        exchange->cancel();
        lock.lock();
        state->done_cv.wait(lock, [&] { return state->done; });
        if (state->result.error == http_client_error::cancelled) {
            state->result.error = http_client_error::timeout;
            state->result.detail = fmt::format("no complete response from {} within {} ms (the fetch timeout)",
                                               endpoint.to_string(), timeout.count());
        }
    }
    return std::move(state->result);
}

size_t http_client::n_open_connections() const {
    return _impl->n_open_connections.load();
}

} // namespace llmfleet::serve
