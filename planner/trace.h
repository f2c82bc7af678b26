// Request traces (arrival time, input tokens, output tokens) from the Azure LLM inference CSV and the
// Mooncake JSONL formats, and their binning into a workload histogram over a bucket grid.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmfleet::planner {

struct trace_request {
    double arrival_s = 0;      // seconds since the trace's first request
    int64_t input_tokens = 0;  // prompt (context) tokens, >= 0
    int64_t output_tokens = 0; // generated tokens, >= 0
};

enum class trace_format { azure_csv, mooncake_jsonl };
std::string_view to_string(trace_format format);

struct trace {
    std::string name;                    // file name or "built-in Azure conv 2023"
    std::vector<trace_request> requests; // sorted by arrival_s
    // Mean arrival rate from the timestamps: n / (last - first). Throws when the span is 0 (hint: --rate).
    double mean_rate_rps() const;
};

// Azure LLM inference trace: header TIMESTAMP,ContextTokens,GeneratedTokens; timestamps like
// "2023-11-16 18:15:46.6805900". Errors name the origin and the line.
trace parse_azure_csv(std::string_view text, std::string_view origin);
// Mooncake: one JSON object per line with timestamp (ms), input_length, output_length.
trace parse_mooncake_jsonl(std::string_view text, std::string_view origin);
// Picks the format from `format`, else from the extension (.csv / .jsonl / .json), else from the content.
trace load_trace(const std::string& path, std::optional<trace_format> format);
trace_format parse_trace_format(std::string_view text); // "azure" | "mooncake"

// Seconds since 1970-01-01 for "YYYY-MM-DD HH:MM:SS[.fraction]" (UTC, proleptic Gregorian).
// Throws invalid_argument naming `field`.
double parse_timestamp_s(std::string_view text, std::string_view field);

} // namespace llmfleet::planner
