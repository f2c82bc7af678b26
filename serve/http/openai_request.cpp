// Parsing and validation of /v1/completions, /v1/chat/completions, /tokenize and /detokenize bodies
// (openai_request.h). Every helper throws api_error; the public functions catch it and return it.
#include "serve/http/openai_request.h"

#include <limits>
#include <utility>

#include <fmt/format.h>

#include "serve/http/openai_json.h"

namespace llmfleet::serve {

namespace {

using detail::json;
constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();

// A field that is accepted only in its "off" form (null, "", {}, [] or the listed value).
[[noreturn]] void unsupported(std::string_view name, std::string_view hint) {
    throw invalid_request(fmt::format("{} is not supported{}", name, hint), std::string(name));
}

std::vector<std::string> parse_stop(const json& value) {
    std::vector<std::string> stop;
    if (value.is_string()) {
        stop.push_back(value.get<std::string>());
    } else if (value.is_array()) {
        if (value.size() > static_cast<size_t>(max_stop_strings)) {
            throw invalid_request(
                fmt::format("stop must hold at most {} strings, got {}", max_stop_strings, value.size()), "stop");
        }
        for (size_t i = 0; i < value.size(); ++i) {
            stop.push_back(detail::string(value[i], fmt::format("stop[{}]", i)));
        }
    } else {
        throw invalid_request(
            fmt::format("stop must be a string or a list of strings, got {}", detail::describe(value)), "stop");
    }
    for (size_t i = 0; i < stop.size(); ++i) {
        if (stop[i].empty()) {
            throw invalid_request(value.is_string() ? "stop must be a non-empty string"
                                                    : fmt::format("stop[{}] must be a non-empty string", i),
                                  "stop");
        }
    }
    return stop;
}

// The fields both generation endpoints share. The caller has read max_tokens and logprobs.
void parse_sampling(detail::field_reader& r, generation_options& o) {
    engine::sampling_params& s = o.sampling;
    if (const json* v = r.get("temperature")) {
        s.temperature = detail::number_in(*v, "temperature", 0, 2);
    }
    if (const json* v = r.get("top_p")) {
        s.top_p = detail::number_in(*v, "top_p", 0, 1, true);
    }
    if (const json* v = r.get("top_k")) {
        const int64_t k = detail::integer_in(*v, "top_k", std::numeric_limits<int64_t>::min(), int32_max);
        if (k < -1) {
            throw invalid_request(fmt::format("top_k must be -1 or 0 (off) or >= 1, got {}", k), "top_k");
        }
        s.top_k = static_cast<int32_t>(k < 0 ? 0 : k);
    }
    if (const json* v = r.get("min_p")) {
        s.min_p = detail::number_in(*v, "min_p", 0, 1);
    }
    if (const json* v = r.get("seed")) {
        // Any 64-bit integer; a negative seed is used as its two's-complement bits.
        s.seed = v->is_number_unsigned()
                     ? v->get<uint64_t>()
                     : static_cast<uint64_t>(detail::integer_in(*v, "seed", std::numeric_limits<int64_t>::min(),
                                                                std::numeric_limits<int64_t>::max()));
    }
    if (const json* v = r.get("n")) {
        o.n = static_cast<int32_t>(detail::integer_in(*v, "n", 1, max_choices));
    }
    if (const json* v = r.get("stop")) {
        s.stop = parse_stop(*v);
    }
    if (const json* v = r.get("stop_token_ids")) {
        s.stop_token_ids = detail::token_ids(*v, "stop_token_ids");
    }
    if (const json* v = r.get("presence_penalty")) {
        s.presence_penalty = detail::number_in(*v, "presence_penalty", -2, 2);
    }
    if (const json* v = r.get("frequency_penalty")) {
        s.frequency_penalty = detail::number_in(*v, "frequency_penalty", -2, 2);
    }
    if (const json* v = r.get("repetition_penalty")) {
        s.repetition_penalty = detail::number_in(*v, "repetition_penalty", -std::numeric_limits<double>::max(),
                                                 std::numeric_limits<double>::max());
        if (!(s.repetition_penalty > 0)) {
            throw invalid_request(fmt::format("repetition_penalty must be > 0, got {}", detail::describe(*v)),
                                  "repetition_penalty");
        }
    }
    if (const json* v = r.get("ignore_eos")) {
        s.ignore_eos = detail::boolean(*v, "ignore_eos");
    }
    if (const json* v = r.get("min_tokens")) {
        s.min_tokens = static_cast<int32_t>(detail::integer_in(*v, "min_tokens", 0, int32_max));
        if (o.max_tokens && s.min_tokens > *o.max_tokens) {
            throw invalid_request(fmt::format("min_tokens must be in [0, {} = {}], got {}", o.max_tokens_param,
                                              *o.max_tokens, s.min_tokens),
                                  "min_tokens");
        }
    }
    if (const json* v = r.get("include_stop_str_in_output")) {
        s.include_stop_str_in_output = detail::boolean(*v, "include_stop_str_in_output");
    }
    if (const json* v = r.get("stream")) {
        o.stream = detail::boolean(*v, "stream");
    }
    if (const json* v = r.get("stream_options")) {
        if (!o.stream) {
            throw invalid_request("stream_options is only allowed when stream is true", "stream_options");
        }
        if (!v->is_object()) {
            throw invalid_request(fmt::format("stream_options must be an object, got {}", detail::describe(*v)),
                                  "stream_options");
        }
        detail::field_reader options(*v);
        if (const json* u = options.get("include_usage")) {
            o.include_usage = detail::boolean(*u, "stream_options.include_usage");
        }
    }
    if (const json* v = r.get("logit_bias"); v != nullptr && !(v->is_object() && v->empty())) {
        unsupported("logit_bias", "; send no logit_bias (or an empty object)");
    }
    r.get("user"); // accepted and ignored
}

void parse_max_tokens(detail::field_reader& r, generation_options& o, bool is_chat) {
    const json* completion = is_chat ? r.get("max_completion_tokens") : nullptr;
    const json* legacy = r.get("max_tokens");
    const json* v = completion != nullptr ? completion : legacy;
    if (v != nullptr) {
        o.max_tokens_param = completion != nullptr ? "max_completion_tokens" : "max_tokens";
        o.max_tokens = static_cast<int32_t>(detail::integer_in(*v, o.max_tokens_param, 1, int32_max));
    } else if (!is_chat) {
        o.max_tokens = 16; // OpenAI's default for /v1/completions
    }
}

// One element of messages: role and content as the chat templates take them.
model::chat_message parse_message(const json& m, size_t i) {
    const std::string path = fmt::format("messages[{}]", i);
    if (!m.is_object()) {
        throw invalid_request(
            fmt::format("{} must be an object with role and content, got {}", path, detail::describe(m)), path);
    }
    model::chat_message out;
    const auto role = m.find("role");
    if (role == m.end()) {
        throw invalid_request(fmt::format("{}.role is missing", path), path + ".role");
    }
    out.role = detail::string(*role, path + ".role");
    if (out.role == "developer") {
        out.role = "system";
    } else if (out.role != "system" && out.role != "user" && out.role != "assistant" && out.role != "tool") {
        throw invalid_request(fmt::format("{}.role must be one of system, developer, user, assistant, tool, got {}",
                                          path, detail::describe(*role)),
                              path + ".role");
    }
    if (const auto calls = m.find("tool_calls"); calls != m.end() && !calls->is_null() && !calls->empty()) {
        throw invalid_request(
            fmt::format("{}.tool_calls: tool calls are not supported; send the call as content text", path),
            path + ".tool_calls");
    }
    const auto content = m.find("content");
    const std::string content_path = path + ".content";
    if (content == m.end() || content->is_null()) {
        if (out.role != "assistant") {
            throw invalid_request(fmt::format("{} is missing (only an assistant message may omit it)", content_path),
                                  content_path);
        }
    } else if (content->is_string()) {
        out.content = content->get<std::string>();
    } else if (content->is_array()) {
        for (size_t k = 0; k < content->size(); ++k) {
            const json& part = (*content)[k];
            const std::string part_path = fmt::format("{}[{}]", content_path, k);
            const auto type = part.is_object() ? part.find("type") : part.end();
            if (!part.is_object() || type == part.end() || *type != "text" || !part.contains("text")) {
                throw invalid_request(fmt::format("{} must be {{\"type\": \"text\", \"text\": ...}}; only text parts "
                                                  "are supported, got {}",
                                                  part_path,
                                                  part.is_object() && type != part.end()
                                                      ? "type " + detail::describe(*type)
                                                      : detail::describe(part)),
                                      part_path);
            }
            out.content += (k == 0 ? "" : "\n") + detail::string(part["text"], part_path + ".text");
        }
    } else {
        throw invalid_request(fmt::format("{} must be a string or a list of text parts, got {}", content_path,
                                          detail::describe(*content)),
                              content_path);
    }
    return out;
}

std::vector<model::chat_message> parse_messages(const json* v) {
    if (v == nullptr || !v->is_array() || v->empty()) {
        throw invalid_request(
            fmt::format("messages must be a non-empty list of {{\"role\", \"content\"}} objects, got {}",
                        v == nullptr ? "none" : detail::describe(*v)),
            "messages");
    }
    std::vector<model::chat_message> messages;
    for (size_t i = 0; i < v->size(); ++i) {
        messages.push_back(parse_message((*v)[i], i));
    }
    return messages;
}

std::vector<prompt_input> parse_prompt(const json* v) {
    constexpr std::string_view forms =
        "a string, a list of strings, a list of token ids or a list of lists of token ids";
    if (v == nullptr) {
        throw invalid_request(fmt::format("prompt is required: {}", forms), "prompt");
    }
    if (v->is_string()) {
        return {prompt_input{false, v->get<std::string>(), {}}};
    }
    if (!v->is_array() || v->empty()) {
        throw invalid_request(
            fmt::format("prompt must be {}, got {}", forms, v->is_array() ? "an empty list" : detail::describe(*v)),
            "prompt");
    }
    if ((*v)[0].is_number()) {
        return {prompt_input{true, "", detail::token_ids(*v, "prompt")}};
    }
    std::vector<prompt_input> prompts;
    for (size_t i = 0; i < v->size(); ++i) {
        const json& item = (*v)[i];
        const std::string name = fmt::format("prompt[{}]", i);
        if (item.is_string()) {
            prompts.push_back(prompt_input{false, item.get<std::string>(), {}});
        } else if (item.is_array() && !item.empty()) {
            prompts.push_back(prompt_input{true, "", detail::token_ids(item, name)});
        } else {
            throw invalid_request(fmt::format("prompt must be {}; {} is {}", forms, name,
                                              item.is_array() ? "an empty list" : detail::describe(item)),
                                  "prompt");
        }
    }
    return prompts;
}

std::string parse_model(detail::field_reader& r) {
    const json* v = r.get("model");
    return v == nullptr ? "" : detail::string(*v, "model");
}

template <typename T, typename F> api_result<T> guarded(std::string_view body, F&& parse) {
    try {
        const json j = detail::parse_body(body);
        return parse(j);
    } catch (api_error& e) {
        return std::move(e);
    } catch (const json::exception& e) {
        // A JSON access this file got wrong (a bug): answer 500 rather than let it escape.
        return api_error{500, "server_error", fmt::format("internal error reading the request: {}", e.what()), "", ""};
    }
}

} // namespace

api_result<completion_request> parse_completion_request(std::string_view body) {
    return guarded<completion_request>(body, [](const json& j) {
        detail::field_reader r(j);
        completion_request req;
        req.model = parse_model(r);
        req.prompts = parse_prompt(r.get("prompt"));
        parse_max_tokens(r, req.options, false);
        parse_sampling(r, req.options);
        if (const json* v = r.get("logprobs")) {
            req.options.sampling.logprobs = static_cast<int32_t>(detail::integer_in(*v, "logprobs", 0, max_logprobs));
        }
        if (const json* v = r.get("echo")) {
            req.echo = detail::boolean(*v, "echo");
        }
        if (req.echo && req.options.sampling.logprobs >= 0) {
            throw invalid_request("echo with logprobs is not supported (prompt logprobs are not computed)", "echo");
        }
        if (const json* v = r.get("suffix");
            v != nullptr && !(v->is_string() && v->get_ref<const std::string&>().empty())) {
            unsupported("suffix", " (no fill-in-the-middle)");
        }
        if (const json* v = r.get("best_of")) {
            const int64_t best_of = detail::integer_in(*v, "best_of", 1, max_choices);
            if (best_of != req.options.n) {
                throw invalid_request(
                    fmt::format("best_of is not supported: it must equal n = {}, got {}", req.options.n, best_of),
                    "best_of");
            }
        }
        req.options.ignored_fields = r.unread();
        return req;
    });
}

api_result<chat_request> parse_chat_request(std::string_view body) {
    return guarded<chat_request>(body, [](const json& j) {
        detail::field_reader r(j);
        chat_request req;
        req.model = parse_model(r);
        req.messages = parse_messages(r.get("messages"));
        parse_max_tokens(r, req.options, true);
        parse_sampling(r, req.options);
        if (const json* v = r.get("logprobs")) {
            req.logprobs = detail::boolean(*v, "logprobs");
        }
        int32_t top = 0;
        if (const json* v = r.get("top_logprobs")) {
            top = static_cast<int32_t>(detail::integer_in(*v, "top_logprobs", 0, max_logprobs));
            if (top > 0 && !req.logprobs) {
                throw invalid_request("top_logprobs requires logprobs to be true", "top_logprobs");
            }
        }
        req.options.sampling.logprobs = req.logprobs ? top : -1;
        if (const json* v = r.get("add_generation_prompt")) {
            req.add_generation_prompt = detail::boolean(*v, "add_generation_prompt");
        }
        for (const char* name : {"tools", "functions"}) {
            if (const json* v = r.get(name); v != nullptr && !(v->is_array() && v->empty())) {
                unsupported(name, ": the built-in chat templates have no tool calling; send tool results as "
                                  "messages with role tool");
            }
        }
        for (const char* name : {"tool_choice", "function_call"}) {
            if (const json* v = r.get(name); v != nullptr && *v != "none" && *v != "auto") {
                unsupported(name, " (only \"none\" or \"auto\" without tools)");
            }
        }
        if (const json* v = r.get("response_format");
            v != nullptr && !(v->is_object() && v->contains("type") && (*v)["type"] == "text")) {
            unsupported("response_format", " (only {\"type\": \"text\"})");
        }
        req.options.ignored_fields = r.unread();
        return req;
    });
}

api_result<tokenize_request> parse_tokenize_request(std::string_view body) {
    return guarded<tokenize_request>(body, [](const json& j) {
        detail::field_reader r(j);
        tokenize_request req;
        req.model = parse_model(r);
        const json* prompt = r.get("prompt");
        const json* messages = r.get("messages");
        if ((prompt == nullptr) == (messages == nullptr)) {
            throw invalid_request("give exactly one of prompt (a string) and messages (a chat)", "prompt");
        }
        req.is_chat = messages != nullptr;
        if (req.is_chat) {
            req.messages = parse_messages(messages);
            req.add_special_tokens = false;
        } else {
            req.prompt = detail::string(*prompt, "prompt");
        }
        if (const json* v = r.get("add_special_tokens")) {
            req.add_special_tokens = detail::boolean(*v, "add_special_tokens");
        }
        if (const json* v = r.get("add_generation_prompt")) {
            req.add_generation_prompt = detail::boolean(*v, "add_generation_prompt");
        }
        return req;
    });
}

api_result<detokenize_request> parse_detokenize_request(std::string_view body) {
    return guarded<detokenize_request>(body, [](const json& j) {
        detail::field_reader r(j);
        detokenize_request req;
        req.model = parse_model(r);
        const json* tokens = r.get("tokens");
        if (tokens == nullptr) {
            throw invalid_request("tokens is required: a list of token ids", "tokens");
        }
        req.tokens = detail::token_ids(*tokens, "tokens");
        return req;
    });
}

api_result<int32_t> resolve_max_tokens(const generation_options& options, int32_t max_model_len,
                                       int32_t n_prompt_tokens) {
    if (n_prompt_tokens >= max_model_len) {
        return invalid_request(fmt::format("This model's maximum context length is {} tokens, but the prompt has {} "
                                           "tokens; shorten it to at most {} tokens so that one can be generated",
                                           max_model_len, n_prompt_tokens, max_model_len - 1),
                               "", "context_length_exceeded");
    }
    const int32_t room = max_model_len - n_prompt_tokens;
    if (options.max_tokens && *options.max_tokens > room) {
        return invalid_request(fmt::format("This model's maximum context length is {} tokens. However, you requested "
                                           "{} tokens ({} in the prompt, {} for the completion); reduce the prompt or "
                                           "{} (at most {} here)",
                                           max_model_len, int64_t{n_prompt_tokens} + *options.max_tokens,
                                           n_prompt_tokens, *options.max_tokens, options.max_tokens_param, room),
                               options.max_tokens_param, "context_length_exceeded");
    }
    const int32_t max_tokens = options.max_tokens.value_or(room);
    if (options.sampling.min_tokens > max_tokens) {
        return invalid_request(fmt::format("min_tokens must be in [0, {} = {}], got {}", options.max_tokens_param,
                                           max_tokens, options.sampling.min_tokens),
                               "min_tokens");
    }
    return max_tokens;
}

} // namespace llmfleet::serve
