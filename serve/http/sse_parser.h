// Incremental Server-Sent Events framing (the WHATWG event-stream format, as OpenAI-compatible servers send it):
// bytes arrive split anywhere (mid-line, mid-"data:", between CR and LF) and complete events come out. Used by
// the load generator (timing each event) and the router's stream scanner.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace llmfleet::serve {

// Lines end with LF, CRLF or CR. A "data:" line adds its value (one space after the colon removed) to the
// event, several joined by '\n'; a blank line dispatches the event when it has data. Comment lines (":...") and
// other fields (event, id, retry) are ignored. not thread-safe: one parser per response.
class sse_parser {
public:
    using event_callback = std::function<void(std::string_view data)>;

    // Parses `bytes` and calls on_event(data) for every event they complete, in order. `data` is valid only
    // during the call.
    void feed(std::string_view bytes, const event_callback& on_event);
    // True while bytes of an event that has not been dispatched are held (a stream cut here lost them).
    bool has_partial_event() const { return !_line.empty() || _has_data; }

private:
    void on_line(std::string_view line, const event_callback& on_event);

    std::string _line;          // the current line's bytes so far (only when it spans feed() calls)
    std::string _data;          // the current event's data
    bool _has_data = false;     // a data line was seen since the last dispatch (data may be empty)
    bool _skip_next_lf = false; // the last line ended with CR: an LF right after it belongs to it
};

} // namespace llmfleet::serve
