// SSE line splitting (LF / CRLF / CR, across feed() calls) and field handling.
#include "serve/http/sse_parser.h"

namespace llmfleet::serve {

void sse_parser::feed(std::string_view bytes, const event_callback& on_event) {
    size_t at = 0;
    if (_skip_next_lf && !bytes.empty()) {
        if (bytes[0] == '\n') {
            at = 1;
        }
        _skip_next_lf = false;
    }
    while (at < bytes.size()) {
        const size_t end = bytes.find_first_of("\r\n", at);
        if (end == std::string_view::npos) {
            _line.append(bytes.substr(at));
            return;
        }
        if (_line.empty()) {
            on_line(bytes.substr(at, end - at), on_event); // the common case: no copy
        } else {
            _line.append(bytes.substr(at, end - at));
            on_line(_line, on_event);
            _line.clear();
        }
        at = end + 1;
        if (bytes[end] == '\r') {
            if (at < bytes.size()) {
                if (bytes[at] == '\n') {
                    ++at;
                }
            } else {
                _skip_next_lf = true; // the LF of this CRLF may come with the next bytes
            }
        }
    }
}

void sse_parser::on_line(std::string_view line, const event_callback& on_event) {
    if (line.empty()) {
        if (_has_data) {
            on_event(_data);
            _data.clear();
            _has_data = false;
        }
        return;
    }
    if (line[0] == ':') {
        return; // a comment (keep-alive)
    }
    const size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    if (field != "data") {
        return;
    }
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') {
        value.remove_prefix(1);
    }
    if (_has_data) {
        _data += '\n';
    }
    _data.append(value);
    _has_data = true;
}

} // namespace llmfleet::serve
