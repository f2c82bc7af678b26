// Typed field access on parsed JSON with errors that name the field path and the expected form,
// e.g. "profile.gpus.A10G[1][0]: expected a number >= 0, got \"x\"". Used by every JSON file reader.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace llmfleet::json_read {

using json = nlohmann::json;

// Parses `text`; a syntax error becomes invalid_argument naming `origin` (a path or "built-in catalog";
// empty when the caller adds the path as context).
json parse(std::string_view text, std::string_view origin);

// Member `key` of object `obj` (whose path is `path`); throws when missing or when obj is not an object.
const json& member(const json& obj, std::string_view key, std::string_view path);
const json* optional_member(const json& obj, std::string_view key, std::string_view path);

double number(const json& value, std::string_view path);
double non_negative(const json& value, std::string_view path);
double positive(const json& value, std::string_view path);
int64_t integer(const json& value, std::string_view path);
std::string string(const json& value, std::string_view path);
bool boolean(const json& value, std::string_view path);
std::vector<double> number_array(const json& value, std::string_view path);
// Rectangular matrix of numbers ≥ 0; throws on ragged rows naming the row and both lengths.
std::vector<std::vector<double>> non_negative_matrix(const json& value, std::string_view path);

std::string child(std::string_view path, std::string_view key);
std::string index(std::string_view path, size_t i);

} // namespace llmfleet::json_read
