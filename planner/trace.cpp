// Trace parsers; see trace.h.
#include "planner/trace.h"

#include <algorithm>
#include <filesystem>

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::planner {

std::string_view to_string(trace_format format) {
    switch (format) {
    case trace_format::azure_csv:
        return "azure";
    case trace_format::mooncake_jsonl:
        return "mooncake";
    }
    return "unknown";
}

trace_format parse_trace_format(std::string_view text) {
    if (text == "azure") {
        return trace_format::azure_csv;
    }
    if (text == "mooncake") {
        return trace_format::mooncake_jsonl;
    }
    throw invalid_input(fmt::format("--trace-format: expected azure or mooncake, got '{}'", text));
}

double trace::mean_rate_rps() const {
    if (requests.size() < 2 || requests.back().arrival_s <= requests.front().arrival_s) {
        throw invalid_input(fmt::format("trace '{}': cannot derive a request rate from {} request(s) spanning 0 s; "
                                        "pass the rate with --rate",
                                        name, requests.size()));
    }
    return static_cast<double>(requests.size()) / (requests.back().arrival_s - requests.front().arrival_s);
}

namespace {

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (era-based civil-to-days formula).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2 ? 1 : 0;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t field_int(std::string_view text, size_t pos, size_t len, std::string_view field, int64_t lo, int64_t hi) {
    const int64_t v = parse_int(text.substr(pos, len), field);
    if (v < lo || v > hi) {
        throw invalid_input(fmt::format("{}: value {} out of range [{}, {}]", field, v, lo, hi));
    }
    return v;
}

void sort_and_rebase(trace& t) {
    std::stable_sort(t.requests.begin(), t.requests.end(),
                     [](const trace_request& a, const trace_request& b) { return a.arrival_s < b.arrival_s; });
    if (!t.requests.empty()) {
        const double t0 = t.requests.front().arrival_s;
        for (trace_request& r : t.requests) {
            r.arrival_s -= t0;
        }
    }
}

int64_t token_count(std::string_view text, const std::string& field) {
    const int64_t v = parse_int(text, field);
    if (v < 0) {
        throw invalid_input(fmt::format("{}: token count must be >= 0, got {}", field, v));
    }
    return v;
}

} // namespace

double parse_timestamp_s(std::string_view text, std::string_view field) {
    const std::string_view t = trim(text);
    // YYYY-MM-DD HH:MM:SS is 19 characters; an optional '.' and digits follow.
    if (t.size() < 19 || t[4] != '-' || t[7] != '-' || (t[10] != ' ' && t[10] != 'T') || t[13] != ':' || t[16] != ':') {
        throw invalid_input(
            fmt::format("{}: expected a timestamp like 2023-11-16 18:15:46.6805900, got '{}'", field, text));
    }
    const int64_t year = field_int(t, 0, 4, field, 1, 9999);
    const int64_t month = field_int(t, 5, 2, field, 1, 12);
    const int64_t day = field_int(t, 8, 2, field, 1, 31);
    const int64_t hour = field_int(t, 11, 2, field, 0, 23);
    const int64_t minute = field_int(t, 14, 2, field, 0, 59);
    const int64_t second = field_int(t, 17, 2, field, 0, 60);
    double fraction = 0;
    if (t.size() > 19) {
        if (t[19] != '.' || t.size() == 20) {
            throw invalid_input(
                fmt::format("{}: expected '.' and fractional seconds after the seconds, got '{}'", field, text));
        }
        fraction = parse_double(fmt::format("0{}", t.substr(19)), field);
    }
    const int64_t days = days_from_civil(year, month, day);
    return static_cast<double>(days * 86400 + hour * 3600 + minute * 60 + second) + fraction;
}

trace parse_azure_csv(std::string_view text, std::string_view origin) {
    trace out;
    out.name = std::string(origin);
    const std::vector<std::string_view> lines = split(text, '\n');
    if (lines.empty() || trim(lines[0]) != "TIMESTAMP,ContextTokens,GeneratedTokens") {
        throw invalid_input(fmt::format("{}: line 1: expected the Azure header 'TIMESTAMP,ContextTokens,"
                                        "GeneratedTokens', got '{}'",
                                        origin, lines.empty() ? "" : trim(lines[0])));
    }
    for (size_t n = 1; n < lines.size(); ++n) {
        const std::string_view line = trim(lines[n]);
        if (line.empty()) {
            continue;
        }
        const std::vector<std::string_view> cols = split(line, ',');
        const std::string where = fmt::format("{}: line {}", origin, n + 1);
        if (cols.size() != 3) {
            throw invalid_input(fmt::format("{}: expected 3 comma-separated columns, got {}", where, cols.size()));
        }
        trace_request r;
        r.arrival_s = parse_timestamp_s(cols[0], where + " TIMESTAMP");
        r.input_tokens = token_count(cols[1], where + " ContextTokens");
        r.output_tokens = token_count(cols[2], where + " GeneratedTokens");
        out.requests.push_back(r);
    }
    if (out.requests.empty()) {
        throw invalid_input(fmt::format("{}: the trace has a header but no requests", origin));
    }
    sort_and_rebase(out);
    return out;
}

trace parse_mooncake_jsonl(std::string_view text, std::string_view origin) {
    trace out;
    out.name = std::string(origin);
    const std::vector<std::string_view> lines = split(text, '\n');
    for (size_t n = 0; n < lines.size(); ++n) {
        const std::string_view line = trim(lines[n]);
        if (line.empty()) {
            continue;
        }
        const std::string where = fmt::format("{}: line {}", origin, n + 1);
        const json_read::json obj = json_read::parse(line, where);
        trace_request r;
        r.arrival_s =
            json_read::non_negative(json_read::member(obj, "timestamp", where), where + ".timestamp") / 1000.0;
        r.input_tokens = json_read::integer(json_read::member(obj, "input_length", where), where + ".input_length");
        r.output_tokens = json_read::integer(json_read::member(obj, "output_length", where), where + ".output_length");
        if (r.input_tokens < 0 || r.output_tokens < 0) {
            throw invalid_input(fmt::format("{}: token counts must be >= 0, got input_length {} output_length {}",
                                            where, r.input_tokens, r.output_tokens));
        }
        out.requests.push_back(r);
    }
    if (out.requests.empty()) {
        throw invalid_input(fmt::format("{}: the trace holds no requests", origin));
    }
    sort_and_rebase(out);
    return out;
}

trace load_trace(const std::string& path, std::optional<trace_format> format) {
    const std::string text = read_file(path, "trace");
    const std::string name = std::filesystem::path(path).filename().string();
    if (!format) {
        const std::string ext = std::filesystem::path(path).extension().string();
        if (ext == ".csv") {
            format = trace_format::azure_csv;
        } else if (ext == ".jsonl" || ext == ".json") {
            format = trace_format::mooncake_jsonl;
        } else {
            const std::string_view head = trim(text);
            format = !head.empty() && head[0] == '{' ? trace_format::mooncake_jsonl : trace_format::azure_csv;
        }
    }
    return *format == trace_format::azure_csv ? parse_azure_csv(text, name) : parse_mooncake_jsonl(text, name);
}

} // namespace llmfleet::planner
