// Response bodies, SSE chunks and framing of the OpenAI protocol (openai_response.h).
#include "serve/http/openai_response.h"

#include <random>

#include <fmt/format.h>

#include "model/stream_decoder.h"

namespace llmfleet::serve {

namespace {

std::string valid(std::string_view text) {
    return model::to_valid_utf8(text);
}

response_json bytes_json(std::string_view token) {
    response_json bytes = response_json::array();
    for (const char c : token) {
        bytes.push_back(static_cast<int>(static_cast<unsigned char>(c)));
    }
    return bytes;
}

response_json logprobs_or_null(const std::optional<std::vector<logprob_entry>>& logprobs, bool is_chat, int64_t base) {
    if (!logprobs) {
        return nullptr;
    }
    return is_chat ? chat_logprobs_json(*logprobs) : completion_logprobs_json(*logprobs, base);
}

response_json usage_json(usage_info usage) {
    return {{"prompt_tokens", usage.prompt_tokens},
            {"completion_tokens", usage.completion_tokens},
            {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

response_json envelope(const response_meta& meta, std::string_view object) {
    return {{"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", valid(meta.model)}};
}

response_json chunk(const response_meta& meta, std::string_view object, response_json choice) {
    response_json out = envelope(meta, object);
    out["choices"] = response_json::array({std::move(choice)});
    if (meta.include_usage) {
        out["usage"] = nullptr;
    }
    return out;
}

response_json chat_chunk_choice(int32_t index, response_json delta, response_json logprobs,
                                engine::finish_reason reason) {
    return {{"index", index},
            {"delta", std::move(delta)},
            {"logprobs", std::move(logprobs)},
            {"finish_reason", finish_reason_json(reason)}};
}

} // namespace

response_json finish_reason_json(engine::finish_reason reason) {
    switch (reason) {
    case engine::finish_reason::stop:
        return "stop";
    case engine::finish_reason::length:
        return "length";
    case engine::finish_reason::abort:
        return "abort";
    case engine::finish_reason::none:
        break;
    }
    return nullptr;
}

std::string response_id(std::string_view prefix, uint64_t random_hi, uint64_t random_lo) {
    return fmt::format("{}{:016x}{:016x}", prefix, random_hi, random_lo);
}

std::string random_response_id(std::string_view prefix) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const uint64_t hi = rng();
    return response_id(prefix, hi, rng());
}

logprob_entry make_logprob_entry(const model::tokenizer& tok, const engine::sample_result& sample) {
    logprob_entry entry;
    tok.append_bytes(sample.token, false, entry.token);
    entry.logprob = sample.logprob;
    for (const engine::token_logprob& t : sample.top) {
        std::string bytes;
        tok.append_bytes(t.token, false, bytes);
        entry.top.emplace_back(std::move(bytes), t.logprob);
    }
    return entry;
}

response_json completion_logprobs_json(std::span<const logprob_entry> entries, int64_t text_offset_base) {
    response_json tokens = response_json::array(), token_logprobs = response_json::array(),
                  top = response_json::array(), offsets = response_json::array();
    int64_t offset = text_offset_base;
    for (const logprob_entry& e : entries) {
        tokens.push_back(valid(e.token));
        token_logprobs.push_back(e.logprob);
        response_json alternatives = response_json::object();
        for (const auto& [token, logprob] : e.top) {
            alternatives[valid(token)] = logprob;
        }
        top.push_back(std::move(alternatives));
        offsets.push_back(offset);
        offset += static_cast<int64_t>(e.token.size());
    }
    return {{"tokens", std::move(tokens)},
            {"token_logprobs", std::move(token_logprobs)},
            {"top_logprobs", std::move(top)},
            {"text_offset", std::move(offsets)}};
}

response_json chat_logprobs_json(std::span<const logprob_entry> entries) {
    response_json content = response_json::array();
    for (const logprob_entry& e : entries) {
        response_json top = response_json::array();
        for (const auto& [token, logprob] : e.top) {
            top.push_back({{"token", valid(token)}, {"logprob", logprob}, {"bytes", bytes_json(token)}});
        }
        content.push_back({{"token", valid(e.token)},
                           {"logprob", e.logprob},
                           {"bytes", bytes_json(e.token)},
                           {"top_logprobs", std::move(top)}});
    }
    return {{"content", std::move(content)}};
}

response_json completion_response(const response_meta& meta, std::span<const completion_choice> choices,
                                  usage_info usage) {
    response_json out = envelope(meta, "text_completion");
    out["choices"] = response_json::array();
    for (const completion_choice& c : choices) {
        out["choices"].push_back({{"index", c.index},
                                  {"text", valid(c.text)},
                                  {"logprobs", logprobs_or_null(c.logprobs, false, 0)},
                                  {"finish_reason", finish_reason_json(c.finish)}});
    }
    out["usage"] = usage_json(usage);
    return out;
}

response_json chat_response(const response_meta& meta, std::span<const chat_choice> choices, usage_info usage) {
    response_json out = envelope(meta, "chat.completion");
    out["choices"] = response_json::array();
    for (const chat_choice& c : choices) {
        out["choices"].push_back({{"index", c.index},
                                  {"message", {{"role", "assistant"}, {"content", valid(c.content)}}},
                                  {"logprobs", logprobs_or_null(c.logprobs, true, 0)},
                                  {"finish_reason", finish_reason_json(c.finish)}});
    }
    out["usage"] = usage_json(usage);
    return out;
}

response_json completion_chunk(const response_meta& meta, const completion_choice& choice, int64_t text_offset_base) {
    return chunk(meta, "text_completion",
                 {{"index", choice.index},
                  {"text", valid(choice.text)},
                  {"logprobs", logprobs_or_null(choice.logprobs, false, text_offset_base)},
                  {"finish_reason", finish_reason_json(choice.finish)}});
}

response_json chat_chunk_role(const response_meta& meta, int32_t index) {
    return chunk(
        meta, "chat.completion.chunk",
        chat_chunk_choice(index, {{"role", "assistant"}, {"content", ""}}, nullptr, engine::finish_reason::none));
}

response_json chat_chunk_content(const response_meta& meta, int32_t index, std::string_view content,
                                 const std::optional<std::vector<logprob_entry>>& logprobs) {
    return chunk(meta, "chat.completion.chunk",
                 chat_chunk_choice(index, {{"content", valid(content)}}, logprobs_or_null(logprobs, true, 0),
                                   engine::finish_reason::none));
}

response_json chat_chunk_finish(const response_meta& meta, int32_t index, engine::finish_reason reason) {
    return chunk(meta, "chat.completion.chunk", chat_chunk_choice(index, response_json::object(), nullptr, reason));
}

response_json usage_chunk(const response_meta& meta, bool is_chat, usage_info usage) {
    response_json out = envelope(meta, is_chat ? "chat.completion.chunk" : "text_completion");
    out["choices"] = response_json::array();
    out["usage"] = usage_json(usage);
    return out;
}

response_json models_response(std::string_view model_id, int64_t created, int32_t max_model_len) {
    return {{"object", "list"},
            {"data", response_json::array({{{"id", valid(model_id)},
                                            {"object", "model"},
                                            {"created", created},
                                            {"owned_by", "llmfleet"},
                                            {"max_model_len", max_model_len}}})}};
}

response_json tokenize_response(std::span<const int32_t> tokens, int32_t max_model_len) {
    return {{"count", tokens.size()},
            {"max_model_len", max_model_len},
            {"tokens", std::vector<int32_t>(tokens.begin(), tokens.end())}};
}

response_json detokenize_response(std::string_view text) {
    return {{"prompt", valid(text)}};
}

std::string dump(const response_json& value) {
    return value.dump(-1, ' ', false, response_json::error_handler_t::replace);
}

std::string sse_event(std::string_view json_text) {
    return fmt::format("data: {}\n\n", json_text);
}

std::string sse_done() {
    return "data: [DONE]\n\n";
}

std::string sse_error(const api_error& error) {
    return sse_event(error.to_json());
}

} // namespace llmfleet::serve
