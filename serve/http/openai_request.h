// The OpenAI protocol, requests side: parses and validates the JSON bodies of /v1/completions,
// /v1/chat/completions, /tokenize and /detokenize into typed structs, and maps llmfleet errors to OpenAI error
// bodies through one table. Pure functions: no networking, no engine. Nothing here throws past its API; every
// bad input becomes an api_error naming the field, the value and the allowed range.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.h"
#include "engine/sampler.h"
#include "model/chat_template.h"

namespace llmfleet::serve {

// An OpenAI error: the HTTP status and the body {"error":{"message","type","param","code"}}.
struct api_error {
    int http_status = 400;
    std::string type = "invalid_request_error"; // invalid_request_error, not_found_error, rate_limit_exceeded, ...
    std::string message;
    std::string param; // the request field at fault; empty → null
    std::string code;  // e.g. "context_length_exceeded"; empty → null
    // Exactly {"error":{"message":...,"type":...,"param":...,"code":...}}; ill-formed UTF-8 becomes U+FFFD.
    std::string to_json() const;
};

// A 400 invalid_request_error.
api_error invalid_request(std::string message, std::string param = "", std::string code = "");

// The one table from llmfleet's status codes to OpenAI errors:
//   invalid_argument   → 400 invalid_request_error (code context_length_exceeded when the message is the
//                        engine's "the context is N tokens" refusal)
//   not_found          → 404 not_found_error
//   resource_exhausted → 429 rate_limit_exceeded
//   unavailable        → 503 server_error, code service_unavailable
//   deadline_exceeded  → 504 server_error, code timeout
//   internal           → 500 server_error
// note: code must not be status_code::ok.
api_error to_api_error(status_code code, std::string_view message);
api_error to_api_error(const error& e);
api_error to_api_error(const status& s);

// The most choices one request may ask for (n), and the most stop strings.
inline constexpr int32_t max_choices = 16;
inline constexpr int32_t max_stop_strings = 16;
inline constexpr int32_t max_logprobs = 20;
// Bodies nested deeper than this are refused before parsing (nlohmann's parser recurses).
inline constexpr int32_t max_json_depth = 64;

// Fields shared by both generation endpoints.
struct generation_options {
    // Every sampling field but max_tokens, already range-checked (stop_token_ids against the vocabulary is the
    // engine's check). sampling.max_tokens is left at its default: set it from resolve_max_tokens().
    engine::sampling_params sampling;
    std::optional<int32_t> max_tokens; // null → up to the context (chat's default; completions default to 16)
    std::string max_tokens_param = "max_tokens"; // the field it came from, for errors ("max_completion_tokens")
    int32_t n = 1;                               // [1, max_choices] choices per prompt
    bool stream = false;
    bool include_usage = false;              // stream_options.include_usage (only with stream)
    std::vector<std::string> ignored_fields; // top-level fields not used (unknown or hosted-only), for a debug log
};

// One prompt of a completion request: text, or token ids when the client sent ids.
struct prompt_input {
    bool is_tokens = false;
    std::string text;               // when !is_tokens
    std::vector<int32_t> token_ids; // when is_tokens; each ≥ 0 (the engine checks the vocabulary)
};

struct completion_request {
    std::string model;
    std::vector<prompt_input> prompts; // ≥ 1; choices are numbered prompt_index · n + k
    generation_options options;        // sampling.logprobs = the request's logprobs (−1 when absent)
    bool echo = false;                 // prepend the prompt text to each choice's text
};

struct chat_request {
    std::string model;
    std::vector<model::chat_message> messages; // "developer" is mapped to "system"
    generation_options options;                // sampling.logprobs = top_logprobs when logprobs is true, else −1
    bool logprobs = false;
    bool add_generation_prompt = true; // vLLM extra
};

struct tokenize_request {
    std::string model;
    bool is_chat = false;
    std::string prompt;                        // when !is_chat
    std::vector<model::chat_message> messages; // when is_chat
    bool add_special_tokens = true;            // default true for a prompt, false for messages (as vLLM)
    bool add_generation_prompt = true;         // messages only
};

struct detokenize_request {
    std::string model;
    std::vector<int32_t> tokens;
};

template <typename T> using api_result = std::variant<T, api_error>;

api_result<completion_request> parse_completion_request(std::string_view body);
api_result<chat_request> parse_chat_request(std::string_view body);
api_result<tokenize_request> parse_tokenize_request(std::string_view body);
api_result<detokenize_request> parse_detokenize_request(std::string_view body);

// The max_tokens to run with: the request's value, or what is left of the context when it gave none. A prompt
// that leaves no room, or a request whose prompt + max_tokens exceeds the context, is a 400 with code
// context_length_exceeded giving the numbers. min_tokens > max_tokens is a 400 naming both.
api_result<int32_t> resolve_max_tokens(const generation_options& options, int32_t max_model_len,
                                       int32_t n_prompt_tokens);

} // namespace llmfleet::serve
