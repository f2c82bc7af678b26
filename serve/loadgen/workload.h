// What each request of a run asks for: prompt and output lengths (synthetic, or taken from a trace whose lengths
// the caller parsed) and the JSON body sent for them (random token ids for completions, random words for chat).
// Pure and seeded: the same config and seed give byte-identical bodies. Trace files are parsed by the caller
// (planner::load_trace in `llmfleet bench`) so that this library does not depend on the planner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "serve/loadgen/bench_config.h"

namespace llmfleet::loadgen {

struct request_lengths {
    int64_t input_tokens = 0;  // prompt tokens (chat: words, about one token each)
    int64_t output_tokens = 0; // max_tokens asked for
};

// vLLM's random dataset: lengths uniform in [⌊len·(1−r)⌋, ⌊len·(1+r)⌋] (at least 1), from mt19937_64(seed).
// note: input_len, output_len >= 1 and 0 <= range_ratio < 1 (checked).
std::vector<request_lengths> synthetic_lengths(int64_t input_len, int64_t output_len, double range_ratio,
                                               size_t n_requests, uint64_t seed);

// The first n_requests of `source`, in order, cycling when the trace is shorter; each length raised to at least
// 1 token (traces hold 0-token outputs) and clipped to max_input_tokens / max_output_tokens when those are > 0.
// note: source must not be empty (throws invalid_argument).
std::vector<request_lengths> trace_lengths(std::span<const request_lengths> source, size_t n_requests,
                                           int64_t max_input_tokens, int64_t max_output_tokens);

struct request_body_options {
    api_endpoint endpoint = api_endpoint::completions;
    std::string model;
    bool stream = true;       // also asks for stream_options.include_usage (the final usage chunk)
    bool ignore_eos = true;   //
    int32_t vocab_size = 256; // completions: token ids uniform in [0, vocab_size)
};

struct prepared_request {
    int64_t input_tokens = 0;  // as asked (the server's usage may differ for chat)
    int64_t output_tokens = 0; // max_tokens
    std::string body;          // the JSON request body
};

// One body per lengths entry, temperature 0. Completions: {"model", "prompt": [ids], "max_tokens", "ignore_eos",
// "temperature", "stream", "stream_options"}; chat: {"model", "messages": [{"role": "user", "content": "<N words>"}],
// "max_completion_tokens", ...}. Prompt contents come from mt19937_64(seed ^ 0x9e3779b97f4a7c15).
std::vector<prepared_request> build_requests(std::span<const request_lengths> lengths,
                                             const request_body_options& options, uint64_t seed);

} // namespace llmfleet::loadgen
