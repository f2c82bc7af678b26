// The OpenAI protocol, responses side: JSON bodies for /v1/completions and /v1/chat/completions (whole and as SSE
// chunks), /v1/models, /tokenize and /detokenize, plus the SSE framing. Pure functions: ids and timestamps are
// passed in, so the output is deterministic. Every text is made valid UTF-8 (ill-formed bytes → U+FFFD) before
// it enters the JSON; raw token bytes travel in the chat logprobs' "bytes" arrays.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "model/tokenizer.h"
#include "serve/http/openai_request.h"

namespace llmfleet::serve {

using response_json = nlohmann::ordered_json; // keys stay in the order written: id, object, created, ...

// engine::finish_reason → "stop" | "length" | "abort" (vLLM's word for an aborted request); none → null.
response_json finish_reason_json(engine::finish_reason reason);

// "<prefix><32 hex digits>" from two random words: response_id("cmpl-", a, b).
std::string response_id(std::string_view prefix, uint64_t random_hi, uint64_t random_lo);
// The same from a thread-local random generator (thread-safe).
std::string random_response_id(std::string_view prefix);

// What every response and chunk of one request shares.
struct response_meta {
    std::string id;      // "cmpl-…" or "chatcmpl-…"; the same on every chunk
    int64_t created = 0; // unix seconds
    std::string model;
    bool include_usage = false; // streaming: every chunk but the usage chunk carries "usage": null
};

struct usage_info {
    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
};

// One generated token with its logprob and the top alternatives, as raw bytes (possibly part of a character).
struct logprob_entry {
    std::string token; // the token's bytes
    float logprob = 0;
    std::vector<std::pair<std::string, float>> top; // most likely first
};

// The entry for one sample: the bytes of the sampled and top tokens (special tokens as their text).
// Throws invalid_argument for an id the tokenizer does not have.
logprob_entry make_logprob_entry(const model::tokenizer& tok, const engine::sample_result& sample);

// Completions' logprobs object {"tokens","token_logprobs","top_logprobs":[{token: logprob}],"text_offset"}; the
// text offsets count bytes from text_offset_base (the length of the choice's text before these tokens).
response_json completion_logprobs_json(std::span<const logprob_entry> entries, int64_t text_offset_base);
// Chat's logprobs object {"content":[{"token","logprob","bytes","top_logprobs":[{"token","logprob","bytes"}]}]}.
response_json chat_logprobs_json(std::span<const logprob_entry> entries);

struct completion_choice {
    int32_t index = 0;
    std::string text;
    std::optional<std::vector<logprob_entry>> logprobs; // set → the logprobs object, else null
    engine::finish_reason finish = engine::finish_reason::none;
};

struct chat_choice {
    int32_t index = 0;
    std::string content;
    std::optional<std::vector<logprob_entry>> logprobs;
    engine::finish_reason finish = engine::finish_reason::none;
};

// Non-streaming bodies ("object": "text_completion" / "chat.completion") with usage.
response_json completion_response(const response_meta& meta, std::span<const completion_choice> choices,
                                  usage_info usage);
response_json chat_response(const response_meta& meta, std::span<const chat_choice> choices, usage_info usage);

// Streaming chunks, one choice each. A completion chunk carries new text (and its logprobs, whose text offsets
// start at text_offset_base) and, on a choice's last chunk, its finish reason.
response_json completion_chunk(const response_meta& meta, const completion_choice& choice,
                               int64_t text_offset_base = 0);
// Chat: a choice's first chunk has delta {"role":"assistant","content":""}, then content chunks delta
// {"content":...}, then one last chunk with an empty delta and the finish reason.
response_json chat_chunk_role(const response_meta& meta, int32_t index);
response_json chat_chunk_content(const response_meta& meta, int32_t index, std::string_view content,
                                 const std::optional<std::vector<logprob_entry>>& logprobs = std::nullopt);
response_json chat_chunk_finish(const response_meta& meta, int32_t index, engine::finish_reason reason);
// The usage chunk sent before [DONE] when include_usage: "choices": [] and the full usage. is_chat picks the
// object ("chat.completion.chunk" or "text_completion").
response_json usage_chunk(const response_meta& meta, bool is_chat, usage_info usage);

// GET /v1/models with the one served model.
response_json models_response(std::string_view model_id, int64_t created, int32_t max_model_len);
// /tokenize → {"count","max_model_len","tokens"}; /detokenize → {"prompt"}.
response_json tokenize_response(std::span<const int32_t> tokens, int32_t max_model_len);
response_json detokenize_response(std::string_view text);

// JSON text for the wire; never throws on strings (ill-formed UTF-8 → U+FFFD).
std::string dump(const response_json& value);
// SSE framing: "data: <json_text>\n\n", the terminating "data: [DONE]\n\n", and an error after the 200 has been
// sent: "data: {"error":{...}}\n\n".
std::string sse_event(std::string_view json_text);
std::string sse_done();
std::string sse_error(const api_error& error);

} // namespace llmfleet::serve
