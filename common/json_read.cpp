// See json_read.h.
#include "common/json_read.h"

#include <cmath>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::json_read {

namespace {
std::string describe(const json& value) {
    std::string text = value.dump();
    if (text.size() > 60) {
        text = text.substr(0, 57) + "...";
    }
    return fmt::format("{} {}", value.type_name(), text);
}
} // namespace

std::string child(std::string_view path, std::string_view key) {
    return fmt::format("{}.{}", path, key);
}
std::string index(std::string_view path, size_t i) {
    return fmt::format("{}[{}]", path, i);
}

json parse(std::string_view text, std::string_view origin) {
    try {
        return json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
        const std::string where = origin.empty() ? "" : fmt::format("{}: ", origin);
        throw invalid_input(fmt::format("{}malformed JSON at byte {}: {}", where, e.byte, e.what()));
    } catch (const json::out_of_range& e) { // a number beyond double's range, e.g. 1e999
        const std::string where = origin.empty() ? "" : fmt::format("{}: ", origin);
        throw invalid_input(fmt::format("{}malformed JSON: {}", where, e.what()));
    }
}

const json* optional_member(const json& obj, std::string_view key, std::string_view path) {
    if (!obj.is_object()) {
        throw invalid_input(fmt::format("{}: expected an object, got {}", path, describe(obj)));
    }
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

const json& member(const json& obj, std::string_view key, std::string_view path) {
    const json* value = optional_member(obj, key, path);
    if (value == nullptr) {
        throw invalid_input(fmt::format("{}: missing required field '{}'", path, key));
    }
    return *value;
}

double number(const json& value, std::string_view path) {
    if (!value.is_number()) {
        throw invalid_input(fmt::format("{}: expected a number, got {}", path, describe(value)));
    }
    const double x = value.get<double>();
    if (!std::isfinite(x)) {
        throw invalid_input(fmt::format("{}: expected a finite number, got {}", path, x));
    }
    return x;
}

double non_negative(const json& value, std::string_view path) {
    const double x = number(value, path);
    if (x < 0) {
        throw invalid_input(fmt::format("{}: expected a number >= 0, got {}", path, x));
    }
    return x;
}

double positive(const json& value, std::string_view path) {
    const double x = number(value, path);
    if (x <= 0) {
        throw invalid_input(fmt::format("{}: expected a number > 0, got {}", path, x));
    }
    return x;
}

int64_t integer(const json& value, std::string_view path) {
    if (!value.is_number_integer()) {
        throw invalid_input(fmt::format("{}: expected an integer, got {}", path, describe(value)));
    }
    return value.get<int64_t>();
}

std::string string(const json& value, std::string_view path) {
    if (!value.is_string()) {
        throw invalid_input(fmt::format("{}: expected a string, got {}", path, describe(value)));
    }
    return value.get<std::string>();
}

bool boolean(const json& value, std::string_view path) {
    if (!value.is_boolean()) {
        throw invalid_input(fmt::format("{}: expected true or false, got {}", path, describe(value)));
    }
    return value.get<bool>();
}

std::vector<double> number_array(const json& value, std::string_view path) {
    if (!value.is_array()) {
        throw invalid_input(fmt::format("{}: expected an array of numbers, got {}", path, describe(value)));
    }
    std::vector<double> out;
    out.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
        out.push_back(number(value[i], index(path, i)));
    }
    return out;
}

std::vector<std::vector<double>> non_negative_matrix(const json& value, std::string_view path) {
    if (!value.is_array() || value.empty()) {
        throw invalid_input(
            fmt::format("{}: expected a non-empty matrix (array of arrays of numbers), got {}", path, describe(value)));
    }
    std::vector<std::vector<double>> rows;
    for (size_t i = 0; i < value.size(); ++i) {
        const std::string row_path = index(path, i);
        if (!value[i].is_array()) {
            throw invalid_input(fmt::format("{}: expected an array of numbers, got {}", row_path, describe(value[i])));
        }
        std::vector<double> row;
        for (size_t j = 0; j < value[i].size(); ++j) {
            row.push_back(non_negative(value[i][j], index(row_path, j)));
        }
        if (i > 0 && row.size() != rows[0].size()) {
            throw invalid_input(fmt::format("{}: ragged matrix: row {} has {} columns but row 0 has {}", path, i,
                                            row.size(), rows[0].size()));
        }
        rows.push_back(std::move(row));
    }
    if (rows[0].empty()) {
        throw invalid_input(fmt::format("{}: matrix rows are empty", path));
    }
    return rows;
}

} // namespace llmfleet::json_read
