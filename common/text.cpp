// See text.h.
#include "common/text.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet {

std::string read_file(const std::string& path, std::string_view what) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        throw not_found(fmt::format("{} file '{}' is a directory; give the path of a file", what, path));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw not_found(fmt::format("cannot open {} file '{}': {}; check the path", what, path, std::strerror(errno)));
    }
    std::ostringstream out;
    out << in.rdbuf();
    if (in.bad()) {
        throw error(status_code::unavailable, fmt::format("error reading {} file '{}'", what, path));
    }
    return out.str();
}

std::string_view trim(std::string_view text) {
    const char* ws = " \t\r\n";
    const size_t begin = text.find_first_not_of(ws);
    if (begin == std::string_view::npos) {
        return {};
    }
    const size_t end = text.find_last_not_of(ws);
    return text.substr(begin, end - begin + 1);
}

double parse_double(std::string_view text, std::string_view field) {
    const std::string_view t = trim(text);
    double value = 0;
    const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
    if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(value)) {
        throw invalid_input(fmt::format("{}: expected a finite number, got '{}'", field, text));
    }
    return value;
}

int64_t parse_int(std::string_view text, std::string_view field) {
    const std::string_view t = trim(text);
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
    if (t.empty() || ec != std::errc() || ptr != t.data() + t.size()) {
        throw invalid_input(fmt::format("{}: expected an integer, got '{}'", field, text));
    }
    return value;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
        const size_t pos = text.find(sep, start);
        if (pos == std::string_view::npos) {
            parts.push_back(text.substr(start));
            return parts;
        }
        parts.push_back(text.substr(start, pos - start));
        start = pos + 1;
    }
}

std::pair<std::string, std::string> split_key_value(std::string_view text, std::string_view flag) {
    const size_t pos = text.find('=');
    if (pos == std::string_view::npos || pos == 0 || pos + 1 == text.size()) {
        throw invalid_input(fmt::format("{}: expected KEY=VALUE (e.g. {} H100-SXM=2.5), got '{}'", flag, flag, text));
    }
    return {std::string(trim(text.substr(0, pos))), std::string(trim(text.substr(pos + 1)))};
}

} // namespace llmfleet
