// See openai_stream_scan.h. Each event's data is inspected with substring tests, which is enough for what OpenAI
// servers send (one JSON object per event).
#include "serve/http/openai_stream_scan.h"

#include <charconv>

namespace llmfleet::serve {

void sse_scanner::feed(std::string_view bytes) {
    _parser.feed(bytes, [this](std::string_view data) { on_event(data); });
}

void sse_scanner::on_event(std::string_view data) {
    if (data.starts_with("[DONE]")) {
        _saw_done = true;
        return;
    }
    if (data.starts_with("{\"error\"")) {
        _saw_error = true;
        return;
    }
    if (const auto tokens = response_completion_tokens(data)) {
        _usage_completion_tokens = tokens; // the usage chunk (stream_options.include_usage)
    }
    if (data.find("\"choices\":[{") != std::string_view::npos) {
        ++_n_choice_events;
    }
}

std::optional<int64_t> response_completion_tokens(std::string_view body) {
    // A targeted scan instead of a parse (the router does this for every answer): the last "usage" object's
    // "completion_tokens" number. Servers write usage once, after the choices, whose texts are JSON strings in
    // which a quote is always escaped, so the key cannot be imitated by generated text.
    const size_t usage = body.rfind("\"usage\"");
    if (usage == std::string_view::npos) {
        return std::nullopt;
    }
    constexpr std::string_view key = "\"completion_tokens\"";
    const size_t at = body.find(key, usage);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    size_t i = at + key.size();
    while (i < body.size() && (body[i] == ' ' || body[i] == ':')) {
        ++i;
    }
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(body.data() + i, body.data() + body.size(), value);
    if (ec != std::errc() || end == body.data() + i) {
        return std::nullopt;
    }
    return value;
}

} // namespace llmfleet::serve
