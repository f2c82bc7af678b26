// See openai_route_scan.h. A nlohmann SAX handler that follows the path of each event (the container depth and
// the key at each level) and keeps only what routing needs; the lexer still checks syntax and UTF-8.
#include "serve/http/openai_route_scan.h"

#include <array>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace llmfleet::serve {

namespace {

using json = nlohmann::json;
constexpr int max_tracked_depth = 8; // keys deeper than this are not needed to route

class route_handler final : public nlohmann::json_sax<json> {
public:
    route_handler(route_fields& out, bool chat, bool keep_texts) : _out(out), _chat(chat), _keep_texts(keep_texts) {}

    std::optional<api_error> error;

    bool null() override { return scalar(kind::null, 0); }
    bool boolean(bool value) override { return scalar(kind::boolean, value ? 1 : 0); }
    bool number_integer(number_integer_t value) override { return scalar(kind::integer, value); }
    bool number_unsigned(number_unsigned_t value) override {
        return scalar(kind::integer,
                      value > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(value));
    }
    bool number_float(number_float_t value, const string_t&) override {
        if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 9.0e18) {
            return scalar(kind::integer, static_cast<int64_t>(value)); // 2.0 counts as 2, as the engine reads it
        }
        return scalar(kind::number, 0);
    }
    bool string(string_t& value) override {
        _text = &value;
        return scalar(kind::string, 0);
    }
    bool binary(binary_t&) override { return scalar(kind::number, 0); }
    bool start_object(std::size_t) override { return open(kind::object); }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(kind::array); }
    bool end_array() override { return close(); }
    bool key(string_t& value) override {
        if (_depth <= max_tracked_depth) {
            _keys[_depth] = value;
        }
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
        error = invalid_request(fmt::format("could not parse the JSON body: {}", e.what()));
        return false;
    }

private:
    enum class kind { null, boolean, integer, number, string, object, array };

    static std::string_view describe(kind k) {
        switch (k) {
        case kind::null:
            return "null";
        case kind::boolean:
            return "a boolean";
        case kind::integer:
        case kind::number:
            return "a number";
        case kind::string:
            return "a string";
        case kind::object:
            return "an object";
        case kind::array:
            return "an array";
        }
        return "a value";
    }

    bool fail(std::string_view field, std::string_view expected, kind got) {
        error =
            invalid_request(fmt::format("{} must be {}, got {}", field, expected, describe(got)), std::string(field));
        return false;
    }

    const std::string& top_key() const { return _keys[1]; }

    // A value at depth 1 (a top-level field) of kind `k`: the routing fields' types are checked.
    bool top_value(kind k, int64_t integer) {
        const std::string& key = top_key();
        if (key == "model") {
            if (k == kind::string) {
                _out.model = *_text;
            } else if (k != kind::null) {
                return fail("model", "a string", k);
            }
        } else if (key == "stream") {
            if (k == kind::boolean) {
                _out.stream = integer != 0;
            } else if (k != kind::null) {
                return fail("stream", "a boolean", k);
            }
        } else if (key == "max_tokens" || key == "max_completion_tokens") {
            if (k == kind::integer) {
                if (key == "max_tokens" || !_out.max_tokens) {
                    _out.max_tokens = integer;
                }
            } else if (k != kind::null) {
                return fail(key, "an integer", k);
            }
        } else if (key == "n") {
            if (k == kind::integer) {
                _out.n = integer;
            } else if (k != kind::null) {
                return fail("n", "an integer", k);
            }
        } else if (key == "prompt" && !_chat) {
            if (k == kind::string) {
                add_text();
                ++_out.n_prompts;
            } else {
                return fail("prompt", "a string, a list of strings or a list of token ids", k);
            }
        } else if (key == "messages" && _chat && k != kind::null) {
            return fail("messages", "a list of messages", k);
        }
        return true;
    }

    bool scalar(kind k, int64_t integer) {
        if (_depth == 0) {
            error = invalid_request(fmt::format("the request body must be a JSON object, got {}", describe(k)));
            return false;
        }
        if (_depth == 1) {
            return top_value(k, integer);
        }
        const std::string& key = top_key();
        if (key == "prompt" && !_chat) {
            if (_depth == 2 && k == kind::integer) { // [1, 2, 3]: one prompt of ids
                ++_out.n_prompt_ids;
                _ids_at_top = true;
            } else if (_depth == 2 && k == kind::string) { // ["a", "b"]: a prompt each
                add_text();
                ++_out.n_prompts;
            } else if (_depth == 3 && k == kind::integer) { // [[1, 2], [3]]
                ++_out.n_prompt_ids;
            } else {
                return fail("prompt", "a string, a list of strings or a list of token ids", k);
            }
        } else if (key == "messages" && _chat && k == kind::string && _depth <= max_tracked_depth &&
                   (_keys[_depth] == "content" || _keys[_depth] == "text")) {
            add_text(); // a message's content, or the text of one of its content parts
        }
        return true;
    }

    bool open(kind k) {
        if (_depth == 0 && k != kind::object) {
            error = invalid_request("the request body must be a JSON object, got an array");
            return false;
        }
        if (_depth == 1) {
            const std::string& key = top_key();
            const bool list_field = (key == "prompt" && !_chat) || (key == "messages" && _chat);
            if ((key == "model" || key == "stream" || key == "max_tokens" || key == "max_completion_tokens" ||
                 key == "n") ||
                (list_field && k != kind::array)) {
                return top_value(k, 0);
            }
        } else if (_depth == 2 && top_key() == "prompt" && !_chat) {
            if (k != kind::array) {
                return fail("prompt", "a string, a list of strings or a list of token ids", k);
            }
            ++_out.n_prompts; // [[ids], [ids]]
        } else if (_depth == 2 && top_key() == "messages" && _chat && k == kind::object) {
            ++_out.n_messages;
        }
        ++_depth;
        if (_depth > max_json_depth) {
            error = invalid_request(fmt::format(
                "could not parse the JSON body: nesting is deeper than the limit of {} levels", max_json_depth));
            return false;
        }
        if (_depth <= max_tracked_depth) {
            _keys[_depth].clear();
        }
        return true;
    }

    bool close() {
        if (_depth == 2 && top_key() == "prompt" && _ids_at_top) {
            ++_out.n_prompts; // the flat id list was one prompt
            _ids_at_top = false;
        }
        --_depth;
        return true;
    }

    void add_text() {
        _out.n_text_bytes += static_cast<int64_t>(_text->size());
        if (_keep_texts) {
            _out.texts.push_back(*_text);
        }
    }

    route_fields& _out;
    const bool _chat;
    const bool _keep_texts;
    int _depth = 0;                                       // containers open
    std::array<std::string, max_tracked_depth + 1> _keys; // [depth] the last key seen in the object at that depth
    std::string* _text = nullptr;                         // the string value being handled
    bool _ids_at_top = false;                             // the prompt array holds ids directly
};

} // namespace

api_result<route_fields> scan_route_fields(std::string_view body, bool chat, bool keep_texts) {
    route_fields out;
    route_handler handler(out, chat, keep_texts);
    const bool ok = json::sax_parse(body.begin(), body.end(), &handler);
    if (handler.error) {
        return *handler.error;
    }
    if (!ok) {
        return invalid_request("could not parse the JSON body");
    }
    if (chat && out.n_messages == 0) {
        return invalid_request("messages must be a non-empty list of messages", "messages");
    }
    if (!chat && out.n_prompts == 0) {
        return invalid_request("prompt is required: a string, a list of strings or a list of token ids", "prompt");
    }
    return out;
}

} // namespace llmfleet::serve
