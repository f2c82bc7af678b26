// See chat_template.h. The expected strings in tests/model/test_chat_template.cpp are written out by hand, and
// tests/reference renders make-model's Jinja templates with @huggingface/jinja for an independent comparison.
#include "model/chat_template.h"

#include <filesystem>

#include <fmt/core.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::model {

namespace jr = json_read;

const std::string_view qwen_default_system_prompt =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

namespace {

constexpr std::string_view built_ins = "chatml, llama3";

bool is_known_role(std::string_view role) {
    return role == "system" || role == "user" || role == "assistant" || role == "tool";
}

void check_role(const chat_message& m, size_t i) {
    if (!is_known_role(m.role)) {
        throw invalid_input(
            fmt::format("messages[{}].role: expected system, user, assistant or tool, got '{}'", i, m.role));
    }
}

// Jinja's `trim` (Python's str.strip()): drops Unicode whitespace at both ends.
std::string_view trim_unicode(std::string_view text) {
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    auto begin = 0, end = static_cast<int32_t>(text.size());
    while (begin < end) {
        int32_t i = begin;
        UChar32 c = 0;
        U8_NEXT(s, i, end, c);
        if (c < 0 || !u_isUWhiteSpace(c)) {
            break;
        }
        begin = i;
    }
    while (end > begin) {
        int32_t i = end;
        UChar32 c = 0;
        U8_PREV(s, begin, i, c);
        if (c < 0 || !u_isUWhiteSpace(c)) {
            break;
        }
        end = i;
    }
    return text.substr(static_cast<size_t>(begin), static_cast<size_t>(end - begin));
}

std::string apply_chatml(const std::vector<chat_message>& messages, bool add_generation_prompt) {
    std::string out = "<|im_start|>system\n";
    const bool has_system = !messages.empty() && messages[0].role == "system";
    out += has_system ? std::string_view(messages[0].content) : qwen_default_system_prompt;
    out += "<|im_end|>\n";
    for (size_t i = has_system ? 1 : 0; i < messages.size(); ++i) {
        const chat_message& m = messages[i];
        if (m.role != "tool") {
            out += fmt::format("<|im_start|>{}\n{}<|im_end|>\n", m.role, m.content);
            continue;
        }
        if (i == 0 || messages[i - 1].role != "tool") {
            out += "<|im_start|>user";
        }
        out += fmt::format("\n<tool_response>\n{}\n</tool_response>", m.content);
        if (i + 1 == messages.size() || messages[i + 1].role != "tool") {
            out += "<|im_end|>\n";
        }
    }
    if (add_generation_prompt) {
        out += "<|im_start|>assistant\n";
    }
    return out;
}

std::string apply_llama3(const std::vector<chat_message>& messages, bool add_generation_prompt) {
    std::string out;
    for (size_t i = 0; i < messages.size(); ++i) {
        if (i == 0) {
            out += "<|begin_of_text|>";
        }
        out += fmt::format("<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>", messages[i].role,
                           trim_unicode(messages[i].content));
    }
    if (add_generation_prompt) {
        out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    }
    return out;
}

std::string message_content(const jr::json& value, std::string_view role, std::string_view path) {
    if (value.is_string()) {
        return value.get<std::string>();
    }
    if (value.is_null() && role == "assistant") {
        return "";
    }
    if (!value.is_array()) {
        throw invalid_input(fmt::format("{}: expected a string or an array of {{\"type\": \"text\", \"text\": ...}} "
                                        "parts, got {}",
                                        path, value.type_name()));
    }
    std::string text;
    for (size_t k = 0; k < value.size(); ++k) {
        const std::string part_path = jr::index(path, k);
        const std::string type = jr::string(jr::member(value[k], "type", part_path), jr::child(part_path, "type"));
        if (type != "text") {
            throw invalid_input(
                fmt::format("{}.type: '{}' parts are not supported; only \"text\" parts are", part_path, type));
        }
        text +=
            (k == 0 ? "" : "\n") + jr::string(jr::member(value[k], "text", part_path), jr::child(part_path, "text"));
    }
    return text;
}

} // namespace

std::string_view to_string(chat_template t) {
    return t == chat_template::chatml ? "chatml" : "llama3";
}

chat_template parse_chat_template(std::string_view name) {
    if (name == "chatml") {
        return chat_template::chatml;
    }
    if (name == "llama3") {
        return chat_template::llama3;
    }
    throw invalid_input(fmt::format("chat template '{}' is not built in; expected one of: {}", name, built_ins));
}

chat_template detect_chat_template_from_text(std::string_view jinja, std::string_view origin) {
    if (jinja.find("<|im_start|>") != std::string_view::npos) {
        return chat_template::chatml;
    }
    if (jinja.find("<|start_header_id|>") != std::string_view::npos) {
        return chat_template::llama3;
    }
    throw invalid_input(fmt::format("{}: the chat template is none of the built-ins ({}): it holds neither "
                                    "<|im_start|> (chatml) nor <|start_header_id|> (llama3); llmfleet does not run "
                                    "Jinja, so choose a built-in explicitly (--chat-template chatml|llama3)",
                                    origin, built_ins));
}

chat_template detect_chat_template(const std::string& model_dir) {
    namespace fs = std::filesystem;
    const std::string config_path = (fs::path(model_dir) / "tokenizer_config.json").string();
    const std::string jinja_path = (fs::path(model_dir) / "chat_template.jinja").string();
    std::error_code ec;
    if (fs::exists(config_path, ec)) {
        const jr::json config = jr::parse(read_file(config_path, "tokenizer config"), config_path);
        const jr::json* t = jr::optional_member(config, "chat_template", config_path);
        if (t != nullptr && t->is_string()) {
            return detect_chat_template_from_text(t->get<std::string>(), config_path + ": chat_template");
        }
        for (size_t i = 0; t != nullptr && t->is_array() && i < t->size(); ++i) {
            const std::string path = jr::index(config_path + ": chat_template", i);
            if (jr::string(jr::member((*t)[i], "name", path), jr::child(path, "name")) == "default") {
                return detect_chat_template_from_text(
                    jr::string(jr::member((*t)[i], "template", path), jr::child(path, "template")), path);
            }
        }
    }
    if (fs::exists(jinja_path, ec)) {
        return detect_chat_template_from_text(read_file(jinja_path, "chat template"), jinja_path);
    }
    throw not_found(fmt::format("no chat template in '{}': expected tokenizer_config.json with a \"chat_template\" "
                                "(or a \"default\" one in its list) or chat_template.jinja; choose a built-in "
                                "explicitly (--chat-template chatml|llama3)",
                                model_dir));
}

std::vector<chat_message> parse_chat_messages(std::string_view json_text) {
    const jr::json j = jr::parse(json_text, "messages");
    if (!j.is_array()) {
        throw invalid_input(fmt::format(
            "messages: expected a JSON array of {{\"role\": ..., \"content\": ...}}, got {}", j.type_name()));
    }
    std::vector<chat_message> messages;
    for (size_t i = 0; i < j.size(); ++i) {
        const std::string path = jr::index("messages", i);
        chat_message m;
        m.role = jr::string(jr::member(j[i], "role", path), jr::child(path, "role"));
        check_role(m, i);
        if (const jr::json* calls = jr::optional_member(j[i], "tool_calls", path);
            calls != nullptr && !calls->is_null() && !calls->empty()) {
            throw invalid_input(fmt::format("{}.tool_calls: tool calls are not supported by the built-in chat "
                                            "templates; send the call as content text",
                                            path));
        }
        m.content = message_content(jr::member(j[i], "content", path), m.role, jr::child(path, "content"));
        messages.push_back(std::move(m));
    }
    return messages;
}

std::string apply_chat_template(chat_template t, const std::vector<chat_message>& messages,
                                bool add_generation_prompt) {
    for (size_t i = 0; i < messages.size(); ++i) {
        check_role(messages[i], i);
    }
    return t == chat_template::chatml ? apply_chatml(messages, add_generation_prompt)
                                      : apply_llama3(messages, add_generation_prompt);
}

} // namespace llmfleet::model
