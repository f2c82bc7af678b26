// Small text and file helpers: whole-file reads, strict number parsing with field names in errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmfleet {

// Reads a whole file; throws error(not_found) naming the path and `what` ("trace", "profile", ...).
std::string read_file(const std::string& path, std::string_view what);

// Strict parsers: the whole (trimmed) text must be the number. Throw invalid_argument naming `field`.
double parse_double(std::string_view text, std::string_view field);
int64_t parse_int(std::string_view text, std::string_view field);

std::string_view trim(std::string_view text);
std::vector<std::string_view> split(std::string_view text, char sep);

// "KEY=VALUE" → {KEY, VALUE}; throws invalid_argument naming `flag` and the expected form.
std::pair<std::string, std::string> split_key_value(std::string_view text, std::string_view flag);

} // namespace llmfleet
