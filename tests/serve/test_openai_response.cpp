// Tests of the OpenAI response layer (serve/http/openai_response.h): each body and chunk against hand-written
// JSON (compared as parsed JSON), logprobs formats, UTF-8 repair, ids, and the SSE framing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/make_tokenizer.h"
#include "model/tokenizer.h"
#include "serve/http/openai_response.h"

namespace llmfleet::serve {
namespace {

using nlohmann::json;

// Parses the builder's wire text back: compares as JSON values (key order aside) and proves it is valid JSON.
json wire(const response_json& value) {
    return json::parse(dump(value));
}

const response_meta meta{"cmpl-1", 1700000000, "tiny", false};

TEST(OpenaiResponse, FinishReasons) {
    EXPECT_EQ(finish_reason_json(engine::finish_reason::stop), "stop");
    EXPECT_EQ(finish_reason_json(engine::finish_reason::length), "length");
    EXPECT_EQ(finish_reason_json(engine::finish_reason::abort), "abort");
    EXPECT_TRUE(finish_reason_json(engine::finish_reason::none).is_null());
}

TEST(OpenaiResponse, Completion) {
    const std::vector<completion_choice> choices = {
        {0, "Hello", std::nullopt, engine::finish_reason::length},
        {1, "Hi", std::vector<logprob_entry>{{"H", -0.25f, {{"H", -0.25f}, {"X", -2.0f}}}, {"i", -0.5f, {}}},
         engine::finish_reason::stop}};
    const json expected = json::parse(R"({
        "id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": "tiny",
        "choices": [
            {"index": 0, "text": "Hello", "logprobs": null, "finish_reason": "length"},
            {"index": 1, "text": "Hi", "finish_reason": "stop",
             "logprobs": {"tokens": ["H", "i"], "token_logprobs": [-0.25, -0.5],
                          "top_logprobs": [{"H": -0.25, "X": -2.0}, {}], "text_offset": [0, 1]}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10}})");
    EXPECT_EQ(wire(completion_response(meta, choices, {3, 7})), expected);
    // Keys in OpenAI's order on the wire.
    EXPECT_EQ(dump(completion_response(meta, {}, {0, 0})),
              R"({"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"tiny","choices":[],)"
              R"("usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}})");
}

TEST(OpenaiResponse, Chat) {
    const response_meta chat_meta{"chatcmpl-2", 5, "m", false};
    const std::vector<chat_choice> choices = {
        {0, "ok", std::vector<logprob_entry>{{"ok", -0.125f, {{"ok", -0.125f}, {"no", -3.0f}}}},
         engine::finish_reason::stop}};
    const json expected = json::parse(R"({
        "id": "chatcmpl-2", "object": "chat.completion", "created": 5, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop",
                     "logprobs": {"content": [{"token": "ok", "logprob": -0.125, "bytes": [111, 107],
                                               "top_logprobs": [{"token": "ok", "logprob": -0.125, "bytes": [111, 107]},
                                                                {"token": "no", "logprob": -3.0, "bytes": [110, 111]}]}]}}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}})");
    EXPECT_EQ(wire(chat_response(chat_meta, choices, {4, 1})), expected);
}

TEST(OpenaiResponse, IllFormedUtf8BecomesReplacementCharacter) {
    // "\xe2\x82" is the start of "€" cut short: the text gets U+FFFD, the bytes array keeps the raw bytes.
    const std::vector<chat_choice> choices = {
        {0, "a\xe2\x82", std::vector<logprob_entry>{{"\xe2\x82", -1.0f, {}}}, engine::finish_reason::length}};
    const json body = wire(chat_response(meta, choices, {1, 1}));
    EXPECT_EQ(body["choices"][0]["message"]["content"], "a\xef\xbf\xbd");
    EXPECT_EQ(body["choices"][0]["logprobs"]["content"][0]["token"], "\xef\xbf\xbd");
    EXPECT_EQ(body["choices"][0]["logprobs"]["content"][0]["bytes"], json::parse("[226, 130]"));
    EXPECT_EQ(wire(detokenize_response("\xff"))["prompt"], "\xef\xbf\xbd");
}

TEST(OpenaiResponse, CompletionChunks) {
    const completion_choice c{2, "lo", std::vector<logprob_entry>{{"lo", -1.0f, {}}}, engine::finish_reason::none};
    const json expected = json::parse(R"({
        "id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": "tiny",
        "choices": [{"index": 2, "text": "lo", "finish_reason": null,
                     "logprobs": {"tokens": ["lo"], "token_logprobs": [-1.0], "top_logprobs": [{}],
                                  "text_offset": [3]}}]})");
    EXPECT_EQ(wire(completion_chunk(meta, c, 3)), expected); // no usage key without include_usage
    response_meta with_usage = meta;
    with_usage.include_usage = true;
    const json chunk = wire(completion_chunk(with_usage, {0, "", std::nullopt, engine::finish_reason::length}));
    ASSERT_TRUE(chunk.contains("usage"));
    EXPECT_TRUE(chunk["usage"].is_null());
    EXPECT_EQ(chunk["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(wire(usage_chunk(with_usage, false, {2, 3})), json::parse(R"({
        "id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": "tiny", "choices": [],
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}})"));
}

TEST(OpenaiResponse, ChatChunks) {
    const response_meta m{"chatcmpl-9", 7, "m", true};
    const std::string head = R"("id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 7, "model": "m", )";
    EXPECT_EQ(wire(chat_chunk_role(m, 1)), json::parse("{" + head + R"("usage": null, "choices": [{"index": 1,
                  "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]})"));
    EXPECT_EQ(wire(chat_chunk_content(m, 1, "Hel")),
              json::parse("{" + head + R"("usage": null, "choices": [{"index": 1, "delta": {"content": "Hel"},
                  "logprobs": null, "finish_reason": null}]})"));
    EXPECT_EQ(
        wire(chat_chunk_content(m, 0, "x", std::vector<logprob_entry>{{"x", -0.5f, {}}}))["choices"][0]["logprobs"],
        json::parse(R"({"content": [{"token": "x", "logprob": -0.5, "bytes": [120], "top_logprobs": []}]})"));
    EXPECT_EQ(wire(chat_chunk_finish(m, 1, engine::finish_reason::stop)),
              json::parse("{" + head + R"("usage": null, "choices": [{"index": 1, "delta": {},
                  "logprobs": null, "finish_reason": "stop"}]})"));
    EXPECT_EQ(wire(usage_chunk(m, true, {1, 2})), json::parse("{" + head + R"("choices": [],
                  "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}})"));
}

TEST(OpenaiResponse, ModelsTokenizeDetokenize) {
    EXPECT_EQ(wire(models_response("qwen", 11, 4096)), json::parse(R"({"object": "list", "data": [
        {"id": "qwen", "object": "model", "created": 11, "owned_by": "llmfleet", "max_model_len": 4096}]})"));
    const std::vector<int32_t> ids = {5, 9, 2};
    EXPECT_EQ(wire(tokenize_response(ids, 128)),
              json::parse(R"({"count": 3, "max_model_len": 128, "tokens": [5, 9, 2]})"));
    EXPECT_EQ(wire(detokenize_response("hi")), json::parse(R"({"prompt": "hi"})"));
}

TEST(OpenaiResponse, Ids) {
    EXPECT_EQ(response_id("cmpl-", 1, 0xabc), "cmpl-00000000000000010000000000000abc");
    const std::string a = random_response_id("chatcmpl-"), b = random_response_id("chatcmpl-");
    EXPECT_EQ(a.size(), 9u + 32u);
    EXPECT_EQ(a.rfind("chatcmpl-", 0), 0u);
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 9), std::string::npos);
    EXPECT_NE(a, b);
}

TEST(OpenaiResponse, SseFraming) {
    EXPECT_EQ(sse_event(R"({"a":1})"), "data: {\"a\":1}\n\n");
    EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
    EXPECT_EQ(sse_error(api_error{500, "server_error", "engine died", "", ""}),
              "data: {\"error\":{\"message\":\"engine died\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"
              "\n\n");
}

TEST(OpenaiResponse, LogprobEntryFromSamples) {
    const model::tokenizer tok =
        model::tokenizer::from_json(model::make_tokenizer_json(model::architecture::llama, 512), "tiny llama");
    const std::vector<int32_t> ids = tok.encode("hello world", false);
    ASSERT_GE(ids.size(), 2u);
    engine::sample_result s;
    s.token = ids[1];
    s.logprob = -0.75f;
    s.top = {{ids[1], -0.75f}, {ids[0], -1.25f}};
    const logprob_entry e = make_logprob_entry(tok, s);
    EXPECT_EQ(e.token, tok.decode(std::vector<int32_t>{ids[1]}));
    EXPECT_FALSE(e.token.empty());
    EXPECT_EQ(e.logprob, -0.75f);
    ASSERT_EQ(e.top.size(), 2u);
    EXPECT_EQ(e.top[1].first, tok.decode(std::vector<int32_t>{ids[0]}));
    EXPECT_EQ(e.top[1].second, -1.25f);
    s.token = 1 << 20; // outside the vocabulary
    EXPECT_THROW((void)make_logprob_entry(tok, s), error);
}

} // namespace
} // namespace llmfleet::serve
