// Typed reads of an OpenAI request body: the guarded parse and the field getters (openai_json.h).
#include "serve/http/openai_json.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace llmfleet::serve::detail {

namespace {

[[noreturn]] void wrong_type(const json& value, std::string_view name, std::string_view expected) {
    throw invalid_request(fmt::format("{} must be {}, got {}", name, expected, describe(value)), std::string(name));
}

} // namespace

int32_t json_depth(std::string_view text, int32_t limit) {
    int32_t depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i; // the escaped character cannot end the string
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
            if (deepest > limit) {
                return deepest;
            }
        } else if (c == ']' || c == '}') {
            --depth; // unbalanced input is the parser's to report
        }
    }
    return deepest;
}

json parse_body(std::string_view body) {
    if (json_depth(body, max_json_depth) > max_json_depth) {
        throw invalid_request(fmt::format(
            "could not parse the JSON body: nesting is deeper than the limit of {} levels", max_json_depth));
    }
    json parsed;
    try {
        parsed = json::parse(body.begin(), body.end());
    } catch (const json::exception& e) {
        // parse_error (syntax, ill-formed UTF-8) and out_of_range (a number too large for a double).
        throw invalid_request(fmt::format("could not parse the JSON body: {}", e.what()));
    }
    if (!parsed.is_object()) {
        throw invalid_request(fmt::format("the request body must be a JSON object, got {}", describe(parsed)));
    }
    return parsed;
}

std::string describe(const json& value) {
    switch (value.type()) {
    case json::value_t::array:
        return "an array";
    case json::value_t::object:
        return "an object";
    case json::value_t::string: {
        constexpr size_t max_bytes = 40;
        const auto& s = value.get_ref<const std::string&>();
        if (s.size() <= max_bytes) {
            return value.dump();
        }
        // The cut may split a character: replace its bytes with U+FFFD rather than throw.
        std::string cut = json(s.substr(0, max_bytes)).dump(-1, ' ', false, json::error_handler_t::replace);
        return cut.insert(cut.size() - 1, "...");
    }
    default:
        return value.dump(-1, ' ', false, json::error_handler_t::replace);
    }
}

const json* field_reader::get(std::string_view key) {
    _read.emplace_back(key);
    const auto it = _object.find(key);
    return it == _object.end() || it->is_null() ? nullptr : &*it;
}

std::vector<std::string> field_reader::unread() const {
    std::vector<std::string> out;
    for (const auto& [key, value] : _object.items()) {
        if (std::find(_read.begin(), _read.end(), key) == _read.end()) {
            out.push_back(key);
        }
    }
    return out;
}

bool boolean(const json& value, std::string_view name) {
    if (!value.is_boolean()) {
        wrong_type(value, name, "a boolean");
    }
    return value.get<bool>();
}

std::string string(const json& value, std::string_view name) {
    if (!value.is_string()) {
        wrong_type(value, name, "a string");
    }
    return value.get<std::string>();
}

double number_in(const json& value, std::string_view name, double lo, double hi, bool lo_open) {
    if (!value.is_number()) {
        wrong_type(value, name, "a number");
    }
    const double x = value.get<double>();
    if (!(lo_open ? x > lo : x >= lo) || !(x <= hi)) {
        throw invalid_request(
            fmt::format("{} must be in {}{}, {}], got {}", name, lo_open ? "(" : "[", lo, hi, describe(value)),
            std::string(name));
    }
    return x;
}

int64_t integer_in(const json& value, std::string_view name, int64_t lo, int64_t hi) {
    if (!value.is_number() || (value.is_number_float() && std::trunc(value.get<double>()) != value.get<double>())) {
        wrong_type(value, name, "an integer");
    }
    bool in_range = false;
    int64_t x = 0;
    if (value.is_number_unsigned()) {
        const auto u = value.get<uint64_t>();
        in_range = u <= static_cast<uint64_t>(hi) && (lo <= 0 || u >= static_cast<uint64_t>(lo));
        x = in_range ? static_cast<int64_t>(u) : 0;
    } else if (value.is_number_integer()) {
        x = value.get<int64_t>();
        in_range = x >= lo && x <= hi;
    } else {
        // Compare as doubles first: casting a double outside int64's range is undefined.
        const double d = value.get<double>();
        in_range = d >= static_cast<double>(lo) && d <= static_cast<double>(hi);
        x = in_range ? std::clamp(static_cast<int64_t>(std::clamp(d, -9.2e18, 9.2e18)), lo, hi) : 0;
    }
    if (!in_range) {
        const std::string range =
            hi == std::numeric_limits<int32_t>::max() ? fmt::format(">= {}", lo) : fmt::format("in [{}, {}]", lo, hi);
        throw invalid_request(fmt::format("{} must be {}, got {}", name, range, describe(value)), std::string(name));
    }
    return x;
}

std::vector<int32_t> token_ids(const json& value, std::string_view name) {
    if (!value.is_array()) {
        wrong_type(value, name, "a list of token ids");
    }
    std::vector<int32_t> ids;
    ids.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
        ids.push_back(static_cast<int32_t>(
            integer_in(value[i], fmt::format("{}[{}]", name, i), 0, std::numeric_limits<int32_t>::max())));
    }
    return ids;
}

} // namespace llmfleet::serve::detail
