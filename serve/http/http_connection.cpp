// One HTTP/1.1 connection: read a request (head and body under their deadlines), dispatch it, write the
// response the responder queues, then read the next one (keep-alive; pipelined requests wait in _buffer).
// While a request is in flight a read on the socket watches for the client going away.
#include "serve/http/http_connection.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include "common/log.h"

namespace llmfleet::serve {

namespace http = beast::http;

namespace {
constexpr size_t watch_read_bytes = 4096;
constexpr size_t max_pipelined_bytes = 1u << 20; // past this, stop reading ahead while a request is in flight
constexpr std::chrono::milliseconds lingering_timeout{1000};
} // namespace

http_connection::http_connection(std::shared_ptr<http_server_state> state, tcp::socket socket, uint64_t id)
    : _state(std::move(state)), _socket(std::move(socket)), _timer(_socket.get_executor()), _id(id),
      _queued_bytes(std::make_shared<std::atomic<size_t>>(0)) {
    _state->n_connections.fetch_add(1);
    beast::error_code ec;
    _socket.set_option(tcp::no_delay(true), ec); // stream chunks are small: Nagle would hold each for an ACK
    const tcp::endpoint peer = _socket.remote_endpoint(ec);
    if (!ec) {
        _remote_address = peer.address().to_string() + ":" + std::to_string(peer.port());
    }
}

http_connection::~http_connection() {
    if (!_closed) {
        _state->n_connections.fetch_sub(1);
    }
    std::lock_guard lock(_state->connections_mutex);
    _state->connections.erase(_id);
}

void http_connection::start() {
    asio::dispatch(_socket.get_executor(), [self = shared_from_this()] { self->read_request(); });
}

void http_connection::reject(int status, std::string message) {
    asio::dispatch(_socket.get_executor(), [self = shared_from_this(), status, message = std::move(message)] {
        self->reply_error_and_close(status, message);
    });
}

void http_connection::post_send(std::string bytes, bool last) {
    asio::post(_socket.get_executor(), [self = shared_from_this(), bytes = std::move(bytes), last]() mutable {
        if (self->_closed || !self->_in_flight) {
            self->_queued_bytes->fetch_sub(bytes.size());
            return;
        }
        self->_writes.push_back({std::move(bytes), last});
        if (!self->_writing) {
            self->write_next();
        }
    });
}

void http_connection::post_abort(std::string reason, std::function<void()> then) {
    asio::post(_socket.get_executor(), [self = shared_from_this(), reason = std::move(reason), then = std::move(then)] {
        self->close(reason);
        if (then) {
            then();
        }
    });
}

void http_connection::post_shutdown(bool force) {
    asio::post(_socket.get_executor(), [self = shared_from_this(), force] {
        self->_closing_after_response = true;
        if (force || (!self->_in_flight && !self->_writing)) {
            self->close(force ? "server shutdown: grace period over" : "server shutdown: idle connection");
        }
    });
}

void http_connection::read_request() {
    if (_closed) {
        return;
    }
    if (_closing_after_response || _state->stopping.load()) {
        close("server shutdown");
        return;
    }
    _parser.emplace();
    _parser->body_limit(_state->options.max_body_bytes);
    _parser->header_limit(static_cast<uint32_t>(_state->options.max_header_bytes));
    _request_id.clear();
    if (_n_requests > 0 && _buffer.size() == 0) {
        // Keep-alive: wait for the next request's first byte under the idle deadline, then time the head.
        arm_timer(_state->options.idle_timeout);
        _socket.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
            if (ec) {
                self->close("idle keep-alive connection");
                return;
            }
            self->read_header();
        });
        return;
    }
    read_header();
}

void http_connection::read_header() {
    if (_closed) {
        return;
    }
    arm_timer(_state->options.header_timeout);
    http::async_read_header(_socket, _buffer, *_parser,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
}

void http_connection::on_read_error(beast::error_code ec) {
    if (_parser && _parser->is_header_done()) {
        _request_id = std::string(_parser->get()["x-request-id"]);
    }
    if (ec == http::error::body_limit) {
        reply_error_and_close(413, "request body over the limit of " + std::to_string(_state->options.max_body_bytes) +
                                       " bytes");
    } else if (ec == http::error::header_limit) {
        reply_error_and_close(431, "request head over the limit of " +
                                       std::to_string(_state->options.max_header_bytes) + " bytes");
    } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
        reply_error_and_close(400, "malformed HTTP request: " + ec.message());
    } else {
        close(ec.message());
    }
}

void http_connection::on_header(beast::error_code ec) {
    if (_closed) {
        return;
    }
    if (ec) {
        on_read_error(ec);
        return;
    }
    if (_parser->is_done()) {
        disarm_timer();
        dispatch();
        return;
    }
    arm_timer(_state->options.body_timeout);
    auto read_body = [self = shared_from_this()] {
        http::async_read(self->_socket, self->_buffer, *self->_parser,
                         [self](beast::error_code body_ec, size_t) { self->on_body(body_ec); });
    };
    if (iequals(_parser->get()["expect"], "100-continue")) {
        static const std::string continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
        asio::async_write(_socket, asio::buffer(continue_line),
                          [self = shared_from_this(), read_body](beast::error_code write_ec, size_t) {
                              if (write_ec) {
                                  self->close(write_ec.message());
                                  return;
                              }
                              read_body();
                          });
        return;
    }
    read_body();
}

void http_connection::on_body(beast::error_code ec) {
    if (_closed) {
        return;
    }
    if (ec) {
        on_read_error(ec);
        return;
    }
    disarm_timer();
    dispatch();
}

void http_connection::dispatch() {
    http::request<http::string_body>& msg = _parser->get();
    http_request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    const size_t question = req.target.find('?');
    req.path = req.target.substr(0, question);
    req.query = question == std::string::npos ? "" : req.target.substr(question + 1);
    for (const auto& field : msg) {
        req.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    req.body = std::move(msg.body());
    req.remote_address = _remote_address;
    req.version = msg.version();
    _keep_alive = msg.keep_alive() && msg.version() == 11 && !_state->stopping.load();
    _request_id = req.headers.get("x-request-id");
    _parser.reset();

    ++_n_requests;
    _in_flight = true;
    _state->n_in_flight.fetch_add(1);
    _queued_bytes = std::make_shared<std::atomic<size_t>>(0);
    auto responder = std::make_shared<http_responder>(_state, weak_from_this(), _queued_bytes, _request_id, _keep_alive,
                                                      req.version);
    _responder = responder;
    _self_while_handling = shared_from_this();
    start_watch();

    const auto route = _state->routes.find(req.path);
    if (route == _state->routes.end()) {
        responder->respond(404, "text/plain; charset=utf-8", "no route for path " + req.path + "\n");
        return;
    }
    const http_handler* handler = nullptr;
    std::string allow;
    for (const auto& [method, candidate] : route->second) {
        if (method == req.method) {
            handler = &candidate;
        }
        allow += (allow.empty() ? "" : ", ") + method;
    }
    if (handler == nullptr) {
        responder->respond(405, "text/plain; charset=utf-8",
                           "method " + req.method + " not allowed on " + req.path + "; allowed: " + allow + "\n",
                           {{"allow", allow}});
        return;
    }
    try {
        (*handler)(req, responder);
    } catch (const std::exception& e) {
        LLMFLEET_LOG_ERROR("http: handler for {} {} threw: {}", req.method, req.path, e.what());
        responder->fail("internal error: the handler failed\n");
    } catch (...) {
        LLMFLEET_LOG_ERROR("http: handler for {} {} threw a non-std exception", req.method, req.path);
        responder->fail("internal error: the handler failed\n");
    }
}

void http_connection::start_watch() {
    if (_watching || _closed || (!_lingering && _buffer.size() >= max_pipelined_bytes)) {
        return;
    }
    _watching = true;
    _socket.async_read_some(
        _buffer.prepare(watch_read_bytes),
        [self = shared_from_this()](beast::error_code ec, size_t n_bytes) { self->on_watch(ec, n_bytes); });
}

void http_connection::on_watch(beast::error_code ec, size_t n_bytes) {
    _watching = false;
    _buffer.commit(n_bytes);
    if (_closed) {
        return;
    }
    if (_lingering) {
        _buffer.consume(_buffer.size());
        if (ec) {
            close("closed after the response");
        } else {
            start_watch();
        }
        return;
    }
    if (ec && ec != asio::error::operation_aborted) {
        close(_in_flight ? "client went away before the response finished" : ec.message());
        return;
    }
    if (_in_flight) {
        start_watch();
        return;
    }
    read_request(); // the response finished and cancelled this read
}

void http_connection::write_next() {
    if (_writes.empty() || _closed) {
        _writing = false;
        return;
    }
    _writing = true;
    arm_timer(_state->options.idle_timeout); // a client that stops reading is cut off
    asio::async_write(_socket, asio::buffer(_writes.front().bytes),
                      [self = shared_from_this()](beast::error_code ec, size_t n) { self->on_written(ec, n); });
}

void http_connection::on_written(beast::error_code ec, size_t) {
    _writing = false;
    if (_closed) {
        return;
    }
    if (ec) {
        close("write failed: " + ec.message());
        return;
    }
    pending_write done = std::move(_writes.front());
    _writes.pop_front();
    _queued_bytes->fetch_sub(done.bytes.size());
    if (done.last) {
        disarm_timer();
        finish_response();
        return;
    }
    if (_writes.empty()) {
        disarm_timer();
    }
    write_next();
}

void http_connection::finish_response() {
    if (_in_flight) {
        _in_flight = false;
        _state->n_in_flight.fetch_sub(1);
    }
    _responder.reset();
    _self_while_handling.reset();
    if (!_keep_alive || _closing_after_response || _state->stopping.load()) {
        lingering_close();
        return;
    }
    if (_watching) {
        beast::error_code ignored;
        _socket.cancel(ignored); // on_watch continues with the next request
        return;
    }
    read_request();
}

void http_connection::reply_error_and_close(int status, std::string_view message) {
    _keep_alive = false;
    _closing_after_response = true;
    disarm_timer();
    std::string bytes = http_format_simple(status, std::string(message) + "\n", _request_id, true);
    _queued_bytes->fetch_add(bytes.size());
    _writes.push_back({std::move(bytes), true});
    if (!_writing) {
        write_next();
    }
}

// Half-close and drain what the client still sends, so that closing does not reset the connection and lose
// the response we just wrote (e.g. a 413 while the client is still uploading).
void http_connection::lingering_close() {
    _lingering = true;
    beast::error_code ignored;
    _socket.shutdown(tcp::socket::shutdown_send, ignored);
    arm_timer(lingering_timeout);
    if (!_watching) { // a pending watch read owns the buffer's tail; on_watch drains it
        _buffer.consume(_buffer.size());
        start_watch();
    }
}

void http_connection::close(std::string_view reason) {
    if (_closed) {
        return;
    }
    _closed = true;
    _state->n_connections.fetch_sub(1);
    LLMFLEET_LOG_DEBUG("http: closing connection {} ({}): {}", _id, _remote_address, reason);
    disarm_timer();
    beast::error_code ignored;
    _socket.shutdown(tcp::socket::shutdown_both, ignored);
    _socket.close(ignored);
    _writes.clear();
    if (_in_flight) {
        _in_flight = false;
        _state->n_in_flight.fetch_sub(1);
        if (auto responder = _responder.lock()) {
            responder->notify_disconnect();
        }
    }
    _responder.reset();
    _self_while_handling.reset();
}

void http_connection::arm_timer(std::chrono::milliseconds timeout) {
    _timer.expires_after(timeout);
    _timer.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec || self->_timer.expiry() > std::chrono::steady_clock::now()) {
            return; // cancelled or re-armed
        }
        self->close("deadline passed");
    });
}

// Setting the expiry (not just cancelling) makes a wait that already fired see it was disarmed.
void http_connection::disarm_timer() {
    _timer.expires_at(std::chrono::steady_clock::time_point::max());
}

} // namespace llmfleet::serve
