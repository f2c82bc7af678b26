// Enum names and the range checks of bench_config (messages name the command-line flag).
#include "serve/loadgen/bench_config.h"

#include <cmath>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::loadgen {

std::string_view to_string(api_endpoint endpoint) {
    switch (endpoint) {
    case api_endpoint::completions:
        return "completions";
    case api_endpoint::chat:
        return "chat";
    }
    return "?";
}

api_endpoint parse_api_endpoint(std::string_view text) {
    if (text == "completions") {
        return api_endpoint::completions;
    }
    if (text == "chat") {
        return api_endpoint::chat;
    }
    throw invalid_input(fmt::format("--endpoint: expected completions or chat, got `{}`", text));
}

std::string_view api_path(api_endpoint endpoint) {
    return endpoint == api_endpoint::chat ? "/v1/chat/completions" : "/v1/completions";
}

std::string_view to_string(arrival_kind kind) {
    switch (kind) {
    case arrival_kind::poisson:
        return "poisson";
    case arrival_kind::fixed:
        return "fixed";
    case arrival_kind::trace:
        return "trace";
    }
    return "?";
}

arrival_kind parse_arrival_kind(std::string_view text) {
    if (text == "poisson") {
        return arrival_kind::poisson;
    }
    if (text == "fixed") {
        return arrival_kind::fixed;
    }
    if (text == "trace") {
        return arrival_kind::trace;
    }
    throw invalid_input(fmt::format("--arrivals: expected poisson, fixed or trace, got `{}`", text));
}

std::string_view to_string(dataset_kind kind) {
    switch (kind) {
    case dataset_kind::random:
        return "random";
    case dataset_kind::trace:
        return "trace";
    }
    return "?";
}

dataset_kind parse_dataset_kind(std::string_view text) {
    if (text == "random") {
        return dataset_kind::random;
    }
    if (text == "trace") {
        return dataset_kind::trace;
    }
    throw invalid_input(fmt::format("--dataset: expected random or trace, got `{}`", text));
}

void validate(const bench_config& c) {
    const auto bad = [](std::string_view flag, std::string_view expected, auto value) {
        return invalid_input(fmt::format("{}: expected {}, got {}", flag, expected, value));
    };
    if (c.n_requests < 1) {
        throw bad("--num-requests", "at least 1", c.n_requests);
    }
    if (!(c.request_rate_rps > 0)) { // also rejects NaN
        throw bad("--request-rate", "a rate > 0 in requests/s, or inf", c.request_rate_rps);
    }
    if (!(c.burstiness > 0) || std::isinf(c.burstiness)) {
        throw bad("--burstiness", "a finite number > 0 (1: Poisson)", c.burstiness);
    }
    if (c.max_concurrency < 0) {
        throw bad("--max-concurrency", "0 (no limit) or more", c.max_concurrency);
    }
    if (c.input_len < 1 || c.output_len < 1) {
        throw invalid_input(fmt::format("--input-len / --output-len: expected at least 1 token, got {} / {}",
                                        c.input_len, c.output_len));
    }
    if (!(c.range_ratio >= 0 && c.range_ratio < 1)) {
        throw bad("--range-ratio", "a number in [0, 1)", c.range_ratio);
    }
    if (c.max_input_len < 0 || c.max_output_len < 0) {
        throw invalid_input(fmt::format("--max-input-len / --max-output-len: expected 0 (no clip) or more, got {} / {}",
                                        c.max_input_len, c.max_output_len));
    }
    if (c.vocab_size < 1) {
        throw bad("--vocab-size", "at least 1", c.vocab_size);
    }
    if (!(c.timeout_s > 0)) {
        throw bad("--timeout-s", "a number of seconds > 0", c.timeout_s);
    }
    if (c.n_warmup < 0) {
        throw bad("--warmup", "0 or more requests", c.n_warmup);
    }
    if (c.n_io_threads < 1 || c.n_io_threads > 16) {
        throw bad("--io-threads", "1..16 (1 or 2 are plenty)", c.n_io_threads);
    }
    const bool needs_trace = c.dataset == dataset_kind::trace || c.arrivals == arrival_kind::trace;
    if (needs_trace && c.trace_path.empty()) {
        throw invalid_input(fmt::format("--dataset {} --arrivals {} need --trace FILE (Azure CSV or Mooncake JSONL), "
                                        "got none",
                                        to_string(c.dataset), to_string(c.arrivals)));
    }
}

} // namespace llmfleet::loadgen
