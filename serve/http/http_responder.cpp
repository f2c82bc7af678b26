// http_responder: formats response heads and chunk frames and hands the bytes to the connection's strand,
// from any thread. Also the header helpers of http_request.h and the canned responses of the connection.
#include <boost/beast/http/status.hpp>

#include "common/check.h"
#include "common/log.h"
#include "serve/http/http_connection.h"

namespace llmfleet::serve {

namespace {

bool is_token_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
}

// A header line the caller supplied is sent only if it cannot break the framing (no CR/LF/NUL).
bool is_valid_header(std::string_view name, std::string_view value) {
    if (name.empty()) {
        return false;
    }
    for (char c : name) {
        if (!is_token_char(c)) {
            return false;
        }
    }
    return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

const std::string* http_headers::find(std::string_view name) const {
    for (const auto& [field, value] : _fields) {
        if (iequals(field, name)) {
            return &value;
        }
    }
    return nullptr;
}

std::string http_headers::get(std::string_view name, std::string_view fallback) const {
    const std::string* value = find(name);
    return value != nullptr ? *value : std::string(fallback);
}

std::string http_status_line(int status, unsigned version) {
    std::string_view reason = beast::http::obsolete_reason(beast::http::int_to_status(static_cast<unsigned>(status)));
    if (reason.empty() || reason.front() == '<') {
        reason = "Status";
    }
    return fmt::format("HTTP/1.{} {} {}\r\n", version == 10 ? 0 : 1, status, reason);
}

std::string http_format_simple(int status, std::string_view body, std::string_view request_id, bool close) {
    std::string out = http_status_line(status, 11);
    out += "server: llmfleet\r\ncontent-type: text/plain; charset=utf-8\r\n";
    out += fmt::format("content-length: {}\r\n", body.size());
    if (!request_id.empty()) {
        out += fmt::format("x-request-id: {}\r\n", request_id);
    }
    if (close) {
        out += "connection: close\r\n";
    }
    out += "\r\n";
    out += body;
    return out;
}

http_responder::http_responder(std::shared_ptr<http_server_state> state, std::weak_ptr<http_connection> connection,
                               std::shared_ptr<std::atomic<size_t>> queued_bytes, std::string request_id,
                               bool keep_alive, unsigned version)
    : _state(std::move(state)), _connection(std::move(connection)), _queued_bytes(std::move(queued_bytes)),
      _request_id(std::move(request_id)), _keep_alive(keep_alive), _version(version) {}

http_responder::~http_responder() {
    // No other thread can hold _mutex: we are the last reference.
    if (_phase == phase::pending) {
        LLMFLEET_LOG_WARN("http: a handler dropped its responder without responding: sending 500");
        const std::string body = "internal error: no response was produced\n";
        post_locked(head_locked(500, "text/plain; charset=utf-8", {}, false, body.size()) + body, true);
    } else if (_phase == phase::streaming) {
        LLMFLEET_LOG_WARN("http: a stream was dropped without finish(): closing the connection");
        abort_connection("stream dropped without finish()", nullptr);
    }
}

std::string http_responder::head_locked(int status, std::string_view content_type, const http_header_list& extra,
                                        bool chunked, size_t content_length) const {
    std::string head = http_status_line(status, _version);
    head += "server: llmfleet\r\n";
    if (!content_type.empty()) {
        head += fmt::format("content-type: {}\r\n", content_type);
    }
    if (chunked) {
        head += "transfer-encoding: chunked\r\n";
    } else if (content_length != std::string::npos) {
        head += fmt::format("content-length: {}\r\n", content_length);
    }
    if (!_request_id.empty()) {
        head += fmt::format("x-request-id: {}\r\n", _request_id);
    }
    if (!_keep_alive) {
        head += "connection: close\r\n";
    }
    bool has_cache_control = false;
    for (const auto& [name, value] : extra) {
        if (!is_valid_header(name, value)) {
            LLMFLEET_LOG_WARN("http: dropping response header `{}`: not a token name or the value holds CR/LF", name);
            continue;
        }
        has_cache_control = has_cache_control || iequals(name, "cache-control");
        head += fmt::format("{}: {}\r\n", name, value);
    }
    if (!has_cache_control && content_type.starts_with("text/event-stream")) {
        head += "cache-control: no-cache\r\n";
    }
    head += "\r\n";
    return head;
}

bool http_responder::post_locked(std::string bytes, bool last) {
    std::lock_guard gate(_state->gate_mutex);
    if (!_state->gate_open) {
        return false;
    }
    std::shared_ptr<http_connection> connection = _connection.lock();
    if (!connection) {
        return false;
    }
    _queued_bytes->fetch_add(bytes.size());
    connection->post_send(std::move(bytes), last);
    return true;
}

void http_responder::abort_connection(std::string reason, std::function<void()> then) {
    {
        std::lock_guard gate(_state->gate_mutex);
        std::shared_ptr<http_connection> connection = _state->gate_open ? _connection.lock() : nullptr;
        if (connection) {
            connection->post_abort(std::move(reason), std::move(then));
            return;
        }
    }
    if (then) {
        then();
    }
}

void http_responder::cut_off(std::string reason) {
    std::function<void()> callback;
    {
        std::lock_guard lock(_mutex);
        if (_phase != phase::streaming) {
            return;
        }
        _phase = phase::disconnected;
        callback = std::move(_on_disconnect);
    }
    abort_connection(std::move(reason), std::move(callback));
}

bool http_responder::respond(int status, std::string_view content_type, std::string body,
                             const http_header_list& extra) {
    std::lock_guard lock(_mutex);
    if (_phase == phase::disconnected) {
        return false;
    }
    LLMFLEET_CHECK(_phase == phase::pending, "respond(): the response was already started or finished");
    _phase = phase::finished;
    std::string bytes = head_locked(status, content_type, extra, false, body.size());
    bytes += body;
    return post_locked(std::move(bytes), true);
}

bool http_responder::start_stream(int status, std::string_view content_type, const http_header_list& extra) {
    std::lock_guard lock(_mutex);
    if (_phase == phase::disconnected) {
        return false;
    }
    LLMFLEET_CHECK(_phase == phase::pending, "start_stream(): the response was already started or finished");
    _phase = phase::streaming;
    // HTTP/1.0 has no chunked encoding: the body runs until the connection closes (keep-alive is off for 1.0).
    return post_locked(head_locked(status, content_type, extra, _version != 10, std::string::npos), false);
}

bool http_responder::write(std::string_view chunk) {
    {
        std::lock_guard lock(_mutex);
        if (_phase == phase::disconnected) {
            return false;
        }
        LLMFLEET_CHECK(_phase == phase::streaming, "write(): call start_stream() first, and not after finish()");
        if (chunk.empty()) {
            return true;
        }
        if (_queued_bytes->load() + chunk.size() <= _state->options.max_queued_bytes) {
            if (_version == 10) {
                return post_locked(std::string(chunk), false);
            }
            std::string frame = fmt::format("{:x}\r\n", chunk.size());
            frame += chunk;
            frame += "\r\n";
            return post_locked(std::move(frame), false);
        }
    }
    LLMFLEET_LOG_WARN("http: client too slow: {} bytes queued, limit {}: closing the stream", _queued_bytes->load(),
                      _state->options.max_queued_bytes);
    cut_off("write queue over max_queued_bytes");
    return false;
}

bool http_responder::finish() {
    std::lock_guard lock(_mutex);
    if (_phase == phase::disconnected) {
        return false;
    }
    LLMFLEET_CHECK(_phase == phase::streaming, "finish(): call start_stream() first, and finish() only once");
    _phase = phase::finished;
    return post_locked(_version == 10 ? std::string() : std::string("0\r\n\r\n"), true);
}

void http_responder::fail(std::string_view body) {
    {
        std::lock_guard lock(_mutex);
        if (_phase == phase::pending) {
            _phase = phase::disconnected; // the handler's own later respond() is refused, not a checked bug
            post_locked(head_locked(500, "text/plain; charset=utf-8", {}, false, body.size()) + std::string(body),
                        true);
            return;
        }
    }
    cut_off("the handler failed mid-stream"); // does nothing unless streaming
}

void http_responder::on_disconnect(std::function<void()> callback) {
    {
        std::lock_guard lock(_mutex);
        if (_phase != phase::disconnected) {
            _on_disconnect = std::move(callback);
            return;
        }
    }
    callback();
}

bool http_responder::is_open() const {
    std::lock_guard lock(_mutex);
    return _phase == phase::pending || _phase == phase::streaming;
}

void http_responder::notify_disconnect() {
    std::function<void()> callback;
    {
        std::lock_guard lock(_mutex);
        if (_phase != phase::pending && _phase != phase::streaming) {
            return;
        }
        _phase = phase::disconnected;
        callback = std::move(_on_disconnect);
    }
    if (callback) {
        callback();
    }
}

} // namespace llmfleet::serve
