// model/chat_template: the built-in ChatML (Qwen2.5) and Llama-3 templates against hand-written prompts,
// detection from tokenizer_config.json, OpenAI-style message parsing and its errors.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "model/chat_template.h"
#include "tests/test_support.h"

namespace llmfleet::model {
namespace {

using llmfleet::test::error_of;
namespace fs = std::filesystem;

#define EXPECT_ERROR_HAS(message, part) EXPECT_NE((message).find(part), std::string::npos) << (message)

const std::vector<chat_message> conversation = {
    {"system", "You are terse."}, {"user", "Hi!"}, {"assistant", "Hello."}, {"user", "2+2?"}};

TEST(chat_template, chatml_as_qwen25) {
    EXPECT_EQ(apply_chat_template(chat_template::chatml, conversation, true),
              "<|im_start|>system\nYou are terse.<|im_end|>\n"
              "<|im_start|>user\nHi!<|im_end|>\n"
              "<|im_start|>assistant\nHello.<|im_end|>\n"
              "<|im_start|>user\n2+2?<|im_end|>\n"
              "<|im_start|>assistant\n");
    // No system message: Qwen2.5's default one. No generation prompt: ends after the last turn.
    EXPECT_EQ(apply_chat_template(chat_template::chatml, {{"user", " spaced \n"}}, false),
              "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\n spaced \n<|im_end|>\n");
    EXPECT_EQ(apply_chat_template(chat_template::chatml, {}, true),
              "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
              "<|im_start|>assistant\n");
}

TEST(chat_template, chatml_tool_results_and_later_system_messages) {
    const std::vector<chat_message> m = {{"user", "Weather?"},       {"assistant", "Calling."},
                                         {"tool", "{\"temp\": 21}"}, {"tool", "{\"rain\": false}"},
                                         {"system", "Be brief."},    {"tool", "late"}};
    EXPECT_EQ(apply_chat_template(chat_template::chatml, m, false),
              "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\nWeather?<|im_end|>\n"
              "<|im_start|>assistant\nCalling.<|im_end|>\n"
              "<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response>\n<tool_response>\n{\"rain\": "
              "false}\n</tool_response><|im_end|>\n"
              "<|im_start|>system\nBe brief.<|im_end|>\n"
              "<|im_start|>user\n<tool_response>\nlate\n</tool_response><|im_end|>\n");
}

TEST(chat_template, llama3) {
    EXPECT_EQ(apply_chat_template(chat_template::llama3, conversation, true),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    // Content is trimmed (Jinja's trim), Unicode spaces included; no system prompt is added.
    EXPECT_EQ(apply_chat_template(chat_template::llama3, {{"user", " \n\tHi there\u3000\n"}}, false),
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>");
    EXPECT_EQ(apply_chat_template(chat_template::llama3, {}, true),
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    EXPECT_ERROR_HAS(error_of([] {
                         apply_chat_template(chat_template::llama3, {{"robot", "x"}}, true);
                     }),
                     "messages[0].role: expected system, user, assistant or tool, got 'robot'");
}

TEST(chat_template, names_and_detection) {
    EXPECT_EQ(parse_chat_template("chatml"), chat_template::chatml);
    EXPECT_EQ(parse_chat_template(to_string(chat_template::llama3)), chat_template::llama3);
    EXPECT_ERROR_HAS(error_of([] { parse_chat_template("mistral"); }),
                     "chat template 'mistral' is not built in; expected one of: chatml, llama3");
    EXPECT_EQ(detect_chat_template_from_text("{{ '<|im_start|>' + message['role'] }}", "t"), chat_template::chatml);
    EXPECT_EQ(detect_chat_template_from_text("{{ '<|start_header_id|>' }}", "t"), chat_template::llama3);
    EXPECT_ERROR_HAS(error_of([] { detect_chat_template_from_text("[INST] {{ m }} [/INST]", "cfg: chat_template"); }),
                     "cfg: chat_template: the chat template is none of the built-ins (chatml, llama3)");

    const fs::path dir = fs::path(LLMFLEET_BINARY_DIR) / "tests" / "chat_template.detect";
    fs::remove_all(dir);
    fs::create_directories(dir);
    EXPECT_ERROR_HAS(error_of([&] { detect_chat_template(dir.string()); }),
                     "expected tokenizer_config.json with a \"chat_template\"");
    std::ofstream(dir / "chat_template.jinja") << "{{ '<|start_header_id|>' }}";
    EXPECT_EQ(detect_chat_template(dir.string()), chat_template::llama3);
    std::ofstream(dir / "tokenizer_config.json")
        << R"({"chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "<|im_start|>"}]})";
    EXPECT_EQ(detect_chat_template(dir.string()), chat_template::chatml);
    std::ofstream(dir / "tokenizer_config.json") << R"({"chat_template": "<s>[INST]"})";
    EXPECT_ERROR_HAS(error_of([&] { detect_chat_template(dir.string()); }), "--chat-template chatml|llama3");
}

TEST(chat_template, parse_openai_messages) {
    const std::vector<chat_message> m = parse_chat_messages(R"([
        {"role": "system", "content": "S"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "name": "x"},
        {"role": "assistant", "content": null},
        {"role": "tool", "content": "r", "tool_call_id": "1"}])");
    ASSERT_EQ(m.size(), 4u);
    EXPECT_EQ(m[1].role, "user");
    EXPECT_EQ(m[1].content, "a\nb");
    EXPECT_EQ(m[2].content, "");
    EXPECT_EQ(m[3].content, "r");
    EXPECT_ERROR_HAS(error_of([] { parse_chat_messages("{\"role\": \"user\"}"); }),
                     "messages: expected a JSON array of {\"role\": ..., \"content\": ...}, got object");
    EXPECT_ERROR_HAS(error_of([] { parse_chat_messages("[{\"role\": \"user\"}]"); }),
                     "messages[0]: missing required field 'content'");
    EXPECT_ERROR_HAS(error_of([] { parse_chat_messages(R"([{"role": "bot", "content": "x"}])"); }),
                     "messages[0].role: expected system, user, assistant or tool, got 'bot'");
    EXPECT_ERROR_HAS(error_of([] { parse_chat_messages(R"([{"role": "user", "content": 3}])"); }),
                     "messages[0].content: expected a string or an array of {\"type\": \"text\", \"text\": ...} parts, "
                     "got number");
    EXPECT_ERROR_HAS(error_of([] { parse_chat_messages(R"([{"role": "user", "content": null}])"); }),
                     "messages[0].content: expected a string");
    EXPECT_ERROR_HAS(
        error_of(
            [] { parse_chat_messages(R"([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}])"); }),
        "messages[0].content[0].type: 'image_url' parts are not supported; only \"text\" parts are");
    EXPECT_ERROR_HAS(
        error_of([] { parse_chat_messages(R"([{"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]}])"); }),
        "messages[0].tool_calls: tool calls are not supported");
    EXPECT_ERROR_HAS(error_of([] { parse_chat_messages("[{"); }), "messages: malformed JSON");
}

} // namespace
} // namespace llmfleet::model
