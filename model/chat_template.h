// Chat templates, built in rather than interpreted (llmfleet has no Jinja): ChatML as Qwen2.5 renders it and
// Llama-3-Instruct's header/eot format. The template is picked by name or detected from the markers in the
// model's tokenizer_config.json; the result is encoded with add_special_tokens=false (its special tokens are
// written out as text and recognised by the tokenizer as added tokens).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmfleet::model {

enum class chat_template {
    chatml, // Qwen2.5: <|im_start|>role\ncontent<|im_end|>\n; default system prompt when none is given
    llama3, // Llama-3: <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>
};
std::string_view to_string(chat_template t); // "chatml", "llama3"
// Throws invalid_argument listing the built-ins.
chat_template parse_chat_template(std::string_view name);

// The built-in whose markers a Jinja template holds: "<|im_start|>" → chatml, "<|start_header_id|>" → llama3.
// Throws invalid_argument naming `origin` and the built-ins, with the hint to choose one explicitly.
chat_template detect_chat_template_from_text(std::string_view jinja, std::string_view origin);
// Reads MODEL_DIR/tokenizer_config.json's "chat_template" (a string, or the entry named "default" of a list of
// {name, template}), else MODEL_DIR/chat_template.jinja. Throws not_found when there is neither.
chat_template detect_chat_template(const std::string& model_dir);

// Qwen2.5's system prompt when the conversation has none.
extern const std::string_view qwen_default_system_prompt;

struct chat_message {
    std::string role;    // system | user | assistant | tool
    std::string content; // text
};

// An OpenAI-style JSON array: [{"role": "user", "content": "hi"}]. "content" is a string or an array of
// {"type": "text", "text": ...} parts, joined with "\n" (as vLLM does); null only for an assistant turn.
// Throws invalid_argument naming the element ("messages[1].content[0].type: ...").
std::vector<chat_message> parse_chat_messages(std::string_view json_text);

// The prompt text. chatml follows Qwen2.5's template without tools: a first system message is used as the
// system prompt (else qwen_default_system_prompt), consecutive tool messages become one user turn of
// <tool_response> blocks. llama3 follows Llama-3-Instruct's: <|begin_of_text|> before the first message, each
// content trimmed of surrounding whitespace. Throws invalid_argument for a role outside the four above.
std::string apply_chat_template(chat_template t, const std::vector<chat_message>& messages, bool add_generation_prompt);

} // namespace llmfleet::model
