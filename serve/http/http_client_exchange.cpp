// One client exchange on its strand: resolve and connect (or adopt a pooled connection), write the request head and
// body in one gather write, then read and parse the response as it arrives, handing the head and each read's body
// bytes to the callbacks. The parser works in place on the read buffer, so body bytes are not copied unless one read
// holds several chunks (they are joined into one on_body).
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <limits>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <fmt/format.h>

#include "common/log.h"
#include "serve/http/http_client_internal.h"

namespace llmfleet::serve {

namespace http = beast::http;

namespace {
constexpr size_t read_size_bytes = 16u << 10; // per socket read; a streamed chunk is far smaller

bool is_informational(int status) {
    return status >= 100 && status < 200 && status != 101;
}
} // namespace

client_connection::client_connection(std::atomic<size_t>& n_open_, client_strand strand_)
    : n_open(n_open_), strand(std::move(strand_)), socket(strand) {
    n_open.fetch_add(1);
}

client_connection::~client_connection() {
    close();
}

void client_connection::close() {
    if (!is_open) {
        return;
    }
    is_open = false;
    n_open.fetch_sub(1);
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

bool client_connection::looks_reusable() {
    if (!is_open || !socket.is_open() || buffer.size() != 0) {
        return false;
    }
    char byte = 0;
    const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    // 0: the server closed it; > 0: it sent something unasked (e.g. a 408), which no request can match.
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

client_exchange::client_exchange(http_client_core& core, client_strand strand, http_endpoint endpoint,
                                 std::string pool_key, std::string request_head, std::string request_body,
                                 bool head_only, http_exchange_callbacks callbacks,
                                 std::unique_ptr<client_connection> pooled)
    : _core(core), _strand(std::move(strand)), _timer(_strand), _connection(std::move(pooled)),
      _endpoint(std::move(endpoint)), _pool_key(std::move(pool_key)), _request_head(std::move(request_head)),
      _request_body(std::move(request_body)), _head_only(head_only), _callbacks(std::move(callbacks)) {}

void client_exchange::run() {
    if (_completed || _cancel_requested.load()) {
        return; // the posted cancellation completes it
    }
    if (_connection) {
        _reused = true;
        write_request();
        return;
    }
    connect();
}

void client_exchange::request_cancel(std::string detail) {
    if (_cancel_requested.exchange(true)) {
        return;
    }
    asio::post(_strand, [self = shared_from_this(), detail = std::move(detail)]() mutable {
        self->complete(http_client_error::cancelled, std::move(detail));
    });
}

void client_exchange::connect() {
    _phase = phase::connecting;
    _reused = false;
    _got_response_bytes = false;
    _connection = std::make_unique<client_connection>(_core.n_open_connections, _strand);
    set_deadline(client_clock::now() + _core.options.connect_timeout);
    beast::error_code ec;
    const asio::ip::address address = asio::ip::make_address(_endpoint.host, ec);
    if (!ec) { // an address literal: no resolver round trip
        _connection->socket.async_connect(
            tcp::endpoint(address, _endpoint.port),
            [self = shared_from_this()](beast::error_code connect_ec) { self->on_connected(connect_ec); });
        return;
    }
    if (!_resolver) {
        _resolver.emplace(_strand);
    }
    _resolver->async_resolve(
        _endpoint.host, std::to_string(_endpoint.port), tcp::resolver::numeric_service,
        [self = shared_from_this()](beast::error_code resolve_ec, const tcp::resolver::results_type& results) {
            self->on_resolved(resolve_ec, results);
        });
}

void client_exchange::on_resolved(beast::error_code ec, const tcp::resolver::results_type& results) {
    if (_completed) {
        return;
    }
    if (ec) {
        complete(http_client_error::connect_failed,
                 fmt::format("cannot resolve `{}` ({}); check the endpoint's host name", _endpoint.host, ec.message()));
        return;
    }
    asio::async_connect(_connection->socket, results,
                        [self = shared_from_this()](beast::error_code connect_ec, const tcp::endpoint&) {
                            self->on_connected(connect_ec);
                        });
}

void client_exchange::on_connected(beast::error_code ec) {
    if (_completed) {
        return;
    }
    if (ec) {
        complete(http_client_error::connect_failed,
                 fmt::format("cannot connect to {}: {}; is the server up?", _endpoint.to_string(), ec.message()));
        return;
    }
    beast::error_code ignored;
    _connection->socket.set_option(tcp::no_delay(true), ignored); // small request heads must not wait for an ACK
    write_request();
}

void client_exchange::write_request() {
    _phase = phase::writing;
    set_deadline(client_clock::now() + _core.options.idle_timeout);
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(_request_head), asio::buffer(_request_body)};
    asio::async_write(_connection->socket, buffers,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_written(ec); });
}

void client_exchange::on_written(beast::error_code ec) {
    if (_completed) {
        return;
    }
    if (ec) {
        on_connection_error(ec, "cannot send the request to");
        return;
    }
    start_response();
}

void client_exchange::start_response() {
    _phase = phase::reading;
    _head = {};
    _pieces.clear();
    _head_delivered = false;
    new_parser();
    read_some();
}

void client_exchange::new_parser() {
    _parser.emplace(_head, _pieces);
    _parser->eager(true); // one put() parses everything buffered: the head and as many chunks as arrived
    _parser->header_limit(static_cast<uint32_t>(
        std::min<size_t>(_core.options.max_response_header_bytes, std::numeric_limits<uint32_t>::max())));
    // Streams are unbounded and nothing is buffered whole. Not boost::none: Beast 1.74 compares the content length
    // against the optional itself, and every length is > none.
    _parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (_head_only) {
        _parser->skip(true);
    }
}

void client_exchange::read_some() {
    _connection->socket.async_read_some(
        _connection->buffer.prepare(read_size_bytes),
        [self = shared_from_this()](beast::error_code ec, size_t n_bytes) { self->on_read(ec, n_bytes); });
}

void client_exchange::on_read(beast::error_code ec, size_t n_bytes) {
    if (_completed) {
        return;
    }
    _connection->buffer.commit(n_bytes);
    if (n_bytes > 0) {
        _got_response_bytes = true;
        _deadline = client_clock::now() + _core.options.idle_timeout; // the pending wait re-arms to it
    }
    if (ec == asio::error::eof && _got_response_bytes && _parser->got_some()) {
        // The server closed: the end of a body that runs to EOF, or a cut-off response.
        beast::error_code eof_ec;
        _parser->put_eof(eof_ec);
        if (!eof_ec && _parser->is_done()) {
            if (deliver_head()) {
                complete(http_client_error::ok, "");
            }
            return;
        }
        complete(http_client_error::connection_lost,
                 fmt::format("{} closed the connection before the response was complete (status {})",
                             _endpoint.to_string(), _head.status));
        return;
    }
    if (ec) {
        on_connection_error(ec, "lost the connection to");
        return;
    }
    parse_and_deliver();
}

void client_exchange::parse_and_deliver() {
    beast::error_code ec;
    beast::flat_buffer& buffer = _connection->buffer;
    while (buffer.size() > 0) {
        // Views in _pieces stay valid after consume(): the memory is reused only by the next prepare().
        const size_t n_used = _parser->put(buffer.data(), ec);
        buffer.consume(n_used);
        if (ec == http::error::need_more) {
            ec = {};
            break;
        }
        if (ec) {
            break;
        }
        if (_parser->is_done() && is_informational(_head.status)) {
            _head = {}; // a 100 Continue or 103 Early Hints: the final response follows
            new_parser();
            continue;
        }
        if (_parser->is_done() || n_used == 0) {
            break;
        }
    }
    if (ec == http::error::header_limit) {
        complete(http_client_error::bad_response,
                 fmt::format("the response head from {} is over max_response_header_bytes ({})", _endpoint.to_string(),
                             _core.options.max_response_header_bytes));
        return;
    }
    if (ec) {
        complete(http_client_error::bad_response,
                 fmt::format("malformed HTTP response from {}: {}", _endpoint.to_string(), ec.message()));
        return;
    }
    if (!deliver_head()) {
        return;
    }
    if (_pieces.size() == 1) {
        const std::string_view piece = _pieces.front();
        _pieces.clear();
        if (!deliver_body(piece)) {
            return;
        }
    } else if (!_pieces.empty()) {
        _coalesced.clear();
        for (const std::string_view piece : _pieces) {
            _coalesced.append(piece);
        }
        _pieces.clear();
        if (!deliver_body(_coalesced)) {
            return;
        }
    }
    if (_parser->is_done()) {
        // Reusable only when the server keeps it open and sent nothing past the response.
        const bool reusable = _parser->keep_alive() && !_parser->upgrade() && buffer.size() == 0;
        complete(http_client_error::ok, "", reusable);
        return;
    }
    read_some();
}

void client_exchange::on_connection_error(beast::error_code ec, std::string_view step) {
    if (_reused && !_got_response_bytes && !_retried) {
        // The standard stale keep-alive race: the server closed the idle connection as the request went out.
        LLMFLEET_LOG_DEBUG("http client: pooled connection to {} was closed ({}); retrying on a new one",
                           _endpoint.to_string(), ec.message());
        _retried = true;
        _connection.reset(); // nothing is pending on it: the failed operation was its only one
        connect();
        return;
    }
    const http_client_error error =
        ec == asio::error::operation_aborted ? http_client_error::cancelled : http_client_error::connection_lost;
    complete(error, fmt::format("{} {}: {}{}", step, _endpoint.to_string(), ec.message(),
                                _head.status > 0 ? fmt::format(" (after the head, status {})", _head.status) : ""));
}

bool client_exchange::deliver_head() {
    if (_head_delivered || !_parser || !_parser->is_header_done()) {
        return !_completed;
    }
    _head_delivered = true;
    if (_callbacks.on_head) {
        try {
            _callbacks.on_head(_head);
        } catch (const std::exception& e) {
            LLMFLEET_LOG_ERROR("http client: on_head for {} threw: {}", _endpoint.to_string(), e.what());
            complete(http_client_error::cancelled, std::string("the on_head callback threw: ") + e.what());
        }
    }
    return !_completed && !_cancel_requested.load(std::memory_order_relaxed);
}

bool client_exchange::deliver_body(std::string_view bytes) {
    if (_callbacks.on_body) {
        try {
            _callbacks.on_body(bytes);
        } catch (const std::exception& e) {
            LLMFLEET_LOG_ERROR("http client: on_body for {} threw: {}", _endpoint.to_string(), e.what());
            complete(http_client_error::cancelled, std::string("the on_body callback threw: ") + e.what());
        }
    }
    return !_completed && !_cancel_requested.load(std::memory_order_relaxed);
}

void client_exchange::complete(http_client_error error, std::string detail, bool reusable) {
    if (_completed) {
        return;
    }
    _completed = true;
    _phase = phase::done;
    _timer.cancel();
    if (_resolver) {
        _resolver->cancel();
    }
    if (_connection) {
        if (error == http_client_error::ok && reusable) {
            _core.put_idle(_pool_key, std::move(_connection));
        } else {
            _connection->close(); // kept: a pending read still refers to its buffer
        }
    }
    _parser.reset();
    http_exchange_callbacks callbacks = std::move(_callbacks);
    _callbacks = {};
    if (callbacks.on_complete) {
        try {
            callbacks.on_complete(error, detail);
        } catch (const std::exception& e) {
            LLMFLEET_LOG_ERROR("http client: on_complete for {} threw: {}", _endpoint.to_string(), e.what());
        }
    }
    callbacks = {};           // what they captured is released before shutdown() can return
    _core.remove_live(*this); // the last use of the core: it may be destroyed right after
}

void client_exchange::set_deadline(client_clock::time_point deadline) {
    _deadline = deadline;
    if (_timer_waiting && _timer_expiry <= deadline) {
        return; // the pending wait fires first and re-arms to _deadline
    }
    _timer_expiry = deadline;
    _timer.expires_at(deadline); // cancels a pending wait, whose handler then sees a stale generation
    const uint64_t generation = ++_timer_generation;
    _timer_waiting = true;
    _timer.async_wait([self = shared_from_this(), generation](beast::error_code) { self->on_timer(generation); });
}

void client_exchange::on_timer(uint64_t generation) {
    if (generation != _timer_generation || _completed) {
        return;
    }
    _timer_waiting = false;
    if (client_clock::now() < _deadline) {
        set_deadline(_deadline); // bytes arrived since the wait began
        return;
    }
    if (_phase == phase::connecting) {
        complete(http_client_error::connect_failed,
                 fmt::format("connecting to {} timed out after {} ms (connect_timeout)", _endpoint.to_string(),
                             _core.options.connect_timeout.count()));
        return;
    }
    complete(http_client_error::timeout,
             fmt::format("no response bytes from {} for {} ms (idle_timeout){}", _endpoint.to_string(),
                         _core.options.idle_timeout.count(),
                         _head.status > 0 ? fmt::format(" after the head, status {}", _head.status) : ""));
}

} // namespace llmfleet::serve
