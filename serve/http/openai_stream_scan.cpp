// See openai_stream_scan.h. Events end at a blank line ("\n\n" or "\r\n\r\n"); an event's data lines are
// inspected with substring tests, which is enough for what OpenAI servers send (one `data:` line per event).
#include "serve/http/openai_stream_scan.h"

#include <charconv>

#include <nlohmann/json.hpp>

namespace llmfleet::serve {

namespace {

constexpr size_t max_pending_bytes = 1u << 20; // an event longer than this is skipped, not buffered forever

// The end of the first event boundary in `text` at or after `from`: the index just past the blank line, or npos.
size_t event_end(std::string_view text, size_t from) {
    for (size_t i = text.find('\n', from); i != std::string_view::npos; i = text.find('\n', i + 1)) {
        if (i + 1 < text.size() && text[i + 1] == '\n') {
            return i + 2;
        }
        if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') {
            return i + 3;
        }
    }
    return std::string_view::npos;
}

std::optional<int64_t> completion_tokens_in(std::string_view json_text) {
    const auto j = nlohmann::json::parse(json_text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return std::nullopt;
    }
    const auto usage = j.find("usage");
    if (usage == j.end() || !usage->is_object()) {
        return std::nullopt;
    }
    const auto tokens = usage->find("completion_tokens");
    if (tokens == usage->end() || !tokens->is_number_integer()) {
        return std::nullopt;
    }
    return tokens->get<int64_t>();
}

} // namespace

void sse_scanner::feed(std::string_view bytes) {
    size_t start = 0;
    if (!_pending.empty()) {
        // The boundary may straddle the old and new bytes: look from just before the join.
        const size_t keep = _pending.size() >= 2 ? _pending.size() - 2 : 0;
        _pending.append(bytes);
        const size_t end = event_end(_pending, keep);
        if (end == std::string::npos) {
            if (_pending.size() > max_pending_bytes) {
                _pending.clear();
            }
            return;
        }
        on_event(std::string_view(_pending).substr(0, end));
        start = end - (_pending.size() - bytes.size()); // where the rest begins in `bytes`
        _pending.clear();
    }
    while (start < bytes.size()) {
        const size_t end = event_end(bytes, start);
        if (end == std::string_view::npos) {
            if (bytes.size() - start <= max_pending_bytes) {
                _pending.assign(bytes.substr(start));
            }
            return;
        }
        on_event(bytes.substr(start, end - start));
        start = end;
    }
}

void sse_scanner::on_event(std::string_view event) {
    const size_t data = event.find("data:");
    if (data == std::string_view::npos) {
        return; // a comment or another field
    }
    std::string_view payload = event.substr(data + 5);
    while (!payload.empty() && (payload.front() == ' ')) {
        payload.remove_prefix(1);
    }
    if (payload.starts_with("[DONE]")) {
        _saw_done = true;
        return;
    }
    if (payload.starts_with("{\"error\"")) {
        _saw_error = true;
        return;
    }
    if (payload.find("\"usage\":{") != std::string_view::npos) {
        if (const auto tokens = completion_tokens_in(payload)) {
            _usage_completion_tokens = tokens;
        }
    }
    if (payload.find("\"choices\":[{") != std::string_view::npos) {
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
