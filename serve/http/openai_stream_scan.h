// Watching OpenAI responses pass through a proxy without parsing every chunk: an SSE scanner that takes the
// events sse_parser frames (across arbitrary chunk boundaries), counts the events that carry choices, spots an
// error event and [DONE], and reads the usage chunk; and the completion_tokens of a whole JSON response. The
// router uses them to learn output lengths; nothing is JSON-parsed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "serve/http/sse_parser.h"

namespace llmfleet::serve {

class sse_scanner {
public:
    // Feeds the next bytes of the body, in order. not thread-safe.
    void feed(std::string_view bytes);
    // Events with a non-empty "choices" array (about one per generated token per choice).
    int64_t n_choice_events() const { return _n_choice_events; }
    // usage.completion_tokens from the usage chunk (stream_options.include_usage), when one passed.
    std::optional<int64_t> usage_completion_tokens() const { return _usage_completion_tokens; }
    // The output tokens: the usage chunk's count, else the number of choice events.
    int64_t completion_tokens() const { return _usage_completion_tokens.value_or(_n_choice_events); }
    bool saw_error() const { return _saw_error; } // a `data: {"error":...}` event
    bool saw_done() const { return _saw_done; }   // `data: [DONE]`

private:
    void on_event(std::string_view data);
    sse_parser _parser;
    int64_t _n_choice_events = 0;
    std::optional<int64_t> _usage_completion_tokens;
    bool _saw_error = false;
    bool _saw_done = false;
};

// usage.completion_tokens of a whole (non-streamed) completion or chat response body; nullopt when absent.
std::optional<int64_t> response_completion_tokens(std::string_view body);

} // namespace llmfleet::serve
