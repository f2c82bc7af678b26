// Typed reads of an OpenAI request body for openai_request.cpp: the guarded JSON parse (nesting depth checked
// before nlohmann's recursive parser runs) and field getters that throw api_error naming the field, the value
// and the allowed range ("temperature must be in [0, 2], got 3.5"). Internal to the OpenAI layer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "serve/http/openai_request.h"

namespace llmfleet::serve::detail {

using json = nlohmann::json;

// The deepest nesting of [ and { outside strings; stops counting once past `limit`.
int32_t json_depth(std::string_view text, int32_t limit);

// Parses a request body that must be a JSON object. Throws api_error (400): "could not parse the JSON body: ..."
// for malformed JSON, ill-formed UTF-8, numbers out of range and nesting deeper than max_json_depth.
json parse_body(std::string_view body);

// A short description of a value for messages: numbers and booleans as JSON, strings quoted (cut at 40 bytes),
// "an array", "an object", "null".
std::string describe(const json& value);

// Reads the fields of one JSON object and remembers which were read, so the rest can be reported as ignored.
class field_reader {
public:
    explicit field_reader(const json& object) : _object(object) {}
    // The member `key`, or nullptr when it is absent or null (OpenAI clients send null for "not set").
    const json* get(std::string_view key);
    // Top-level keys never passed to get(), sorted by name.
    std::vector<std::string> unread() const;

private:
    const json& _object;
    std::vector<std::string> _read;
};

// Each throws api_error (400, param = name) for a wrong type or a value outside the range.
bool boolean(const json& value, std::string_view name);
std::string string(const json& value, std::string_view name);
// A number in [lo, hi]; the message shows the range as "[lo, hi]", or "(lo, hi]" when lo_open.
double number_in(const json& value, std::string_view name, double lo, double hi, bool lo_open = false);
// An integer (2.0 counts; 2.5 does not) in [lo, hi]; huge values are range errors, never UB.
int64_t integer_in(const json& value, std::string_view name, int64_t lo, int64_t hi);
// A list of integers, each in [lo, hi]; name[i] in errors.
std::vector<int32_t> token_ids(const json& value, std::string_view name);

} // namespace llmfleet::serve::detail
