// Per-request response accounting: SSE content chunks → TTFT / ITL, usage → token counts, errors by reason.
#include "serve/loadgen/response_tracker.h"

#include <algorithm>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace llmfleet::loadgen {

namespace {

using json = nlohmann::json;

constexpr size_t max_detail_bytes = 300;
constexpr size_t max_error_body_bytes = 4096;

std::string shorten(std::string_view text) {
    std::string out(text.substr(0, max_detail_bytes));
    std::replace(out.begin(), out.end(), '\n', ' ');
    std::replace(out.begin(), out.end(), '\r', ' ');
    return out;
}

std::string message_of(const json& value, std::string_view fallback) {
    if (value.is_object()) {
        if (auto e = value.find("error"); e != value.end()) {
            if (e->is_string()) {
                return shorten(e->get<std::string>());
            }
            if (e->is_object()) {
                if (auto m = e->find("message"); m != e->end() && m->is_string()) {
                    return shorten(m->get<std::string>());
                }
            }
        }
        if (auto m = value.find("message"); m != value.end() && m->is_string()) {
            return shorten(m->get<std::string>());
        }
    }
    return shorten(fallback);
}

bool non_empty_string(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

std::optional<int64_t> usage_field(const json& usage, const char* key) {
    auto it = usage.find(key);
    if (it != usage.end() && it->is_number_integer()) {
        return it->get<int64_t>();
    }
    return std::nullopt;
}

} // namespace

std::optional<double> request_record::tpot_s() const {
    if (!ok || output_tokens <= 1 || n_content_chunks == 0) {
        return std::nullopt;
    }
    return (e2e_s - ttft_s) / static_cast<double>(output_tokens - 1);
}

std::string error_message_of(std::string_view json_text) {
    const json value = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    return message_of(value, json_text);
}

response_tracker::response_tracker(api_endpoint endpoint, bool stream, int64_t input_tokens, double send_s)
    : _endpoint(endpoint), _stream(stream) {
    _record.send_s = send_s;
    _record.input_tokens = input_tokens;
}

void response_tracker::on_head(int status) {
    _status = status;
}

void response_tracker::on_body(std::string_view bytes, double now_s) {
    if (_status != 200) {
        _body.append(bytes.substr(0, max_error_body_bytes - std::min(_body.size(), max_error_body_bytes)));
        return;
    }
    if (!_stream) {
        _body.append(bytes);
        return;
    }
    _sse.feed(bytes, [this, now_s](std::string_view data) { on_event(data, now_s); });
}

void response_tracker::fail(std::string reason, std::string_view detail) {
    if (_record.error_reason.empty()) { // the first failure is the reason
        _record.error_reason = std::move(reason);
        _record.error_detail = shorten(detail);
    }
}

void response_tracker::on_event(std::string_view data, double now_s) {
    if (_done || !_record.error_reason.empty()) {
        return;
    }
    if (data == "[DONE]") {
        _done = true;
        return;
    }
    const json event = json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded() || !event.is_object()) {
        fail("bad_event", data);
        return;
    }
    if (auto e = event.find("error"); e != event.end() && !e->is_null()) {
        fail("stream_error", message_of(event, data));
        return;
    }
    bool content = false;
    if (auto choices = event.find("choices"); choices != event.end() && choices->is_array()) {
        for (const json& choice : *choices) {
            if (!choice.is_object()) {
                continue;
            }
            if (_endpoint == api_endpoint::completions) {
                content = content || non_empty_string(choice, "text");
            } else if (auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
                content =
                    content || non_empty_string(*delta, "content") || non_empty_string(*delta, "reasoning_content");
            }
        }
    }
    if (content) {
        if (_record.n_content_chunks == 0) {
            _record.ttft_s = now_s - _record.send_s;
        } else {
            _record.itl_s.push_back(now_s - _last_content_s);
        }
        _last_content_s = now_s;
        ++_record.n_content_chunks;
    }
    if (auto usage = event.find("usage"); usage != event.end() && usage->is_object()) {
        _usage_output_tokens = usage_field(*usage, "completion_tokens");
        _usage_input_tokens = usage_field(*usage, "prompt_tokens");
    }
}

request_record response_tracker::finish(std::string_view transport_error, std::string_view detail, double now_s) {
    _record.e2e_s = now_s - _record.send_s;
    if (_status != 0 && _status != 200) {
        fail(fmt::format("http_{}", _status), message_of(json::parse(_body, nullptr, false), _body));
    } else if (!transport_error.empty()) {
        fail(std::string(transport_error), detail);
    } else if (_stream && !_done) {
        fail("stream_truncated", "the stream ended without `data: [DONE]`");
    } else if (!_stream) {
        const json body = json::parse(_body, nullptr, /*allow_exceptions=*/false);
        if (body.is_discarded() || !body.is_object()) {
            fail("bad_body", _body);
        } else if (auto e = body.find("error"); e != body.end() && !e->is_null()) {
            fail("bad_body", message_of(body, _body));
        } else if (auto usage = body.find("usage"); usage != body.end() && usage->is_object()) {
            _usage_output_tokens = usage_field(*usage, "completion_tokens");
            _usage_input_tokens = usage_field(*usage, "prompt_tokens");
        }
    }
    _record.ok = _record.error_reason.empty();
    if (_usage_input_tokens) {
        _record.input_tokens = *_usage_input_tokens;
    }
    if (_usage_output_tokens) {
        _record.output_tokens = *_usage_output_tokens;
    } else if (_stream) {
        _record.output_tokens = _record.n_content_chunks;
    }
    if (!_stream || _record.n_content_chunks == 0) {
        _record.ttft_s = _record.e2e_s;
    }
    return std::move(_record);
}

} // namespace llmfleet::loadgen
