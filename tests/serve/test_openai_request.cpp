// Tests of the OpenAI request layer (serve/http/openai_request.h): every field's happy path and refusal, prompt
// and message forms, hostile bodies (huge numbers, ill-formed UTF-8, deep nesting), resolve_max_tokens, and the
// status_code → api_error table.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "serve/http/openai_request.h"

namespace llmfleet::serve {
namespace {

template <typename T> T ok(api_result<T> r) {
    if (const auto* e = std::get_if<api_error>(&r)) {
        ADD_FAILURE() << "unexpected error: " << e->message;
        return T{};
    }
    return std::get<T>(std::move(r));
}

template <typename T> api_error err(api_result<T> r) {
    if (const auto* e = std::get_if<api_error>(&r)) {
        return *e;
    }
    ADD_FAILURE() << "expected an error";
    return api_error{0, "", "(no error)", "", ""};
}

completion_request completion(const std::string& extra) {
    return ok(parse_completion_request(R"({"model":"m","prompt":"hi")" + extra + "}"));
}
api_error completion_error(const std::string& extra) {
    return err(parse_completion_request(R"({"model":"m","prompt":"hi")" + extra + "}"));
}
chat_request chat(const std::string& extra) {
    return ok(parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":"hi"}])" + extra + "}"));
}
api_error chat_error(const std::string& extra) {
    return err(parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":"hi"}])" + extra + "}"));
}

TEST(OpenaiRequest, CompletionDefaults) {
    const completion_request r = completion("");
    EXPECT_EQ(r.model, "m");
    ASSERT_EQ(r.prompts.size(), 1u);
    EXPECT_FALSE(r.prompts[0].is_tokens);
    EXPECT_EQ(r.prompts[0].text, "hi");
    EXPECT_EQ(r.options.max_tokens, 16); // OpenAI's completions default
    EXPECT_EQ(r.options.sampling.temperature, 1.0);
    EXPECT_EQ(r.options.sampling.top_p, 1.0);
    EXPECT_EQ(r.options.sampling.top_k, 0);
    EXPECT_FALSE(r.options.sampling.seed.has_value());
    EXPECT_EQ(r.options.sampling.logprobs, -1);
    EXPECT_EQ(r.options.n, 1);
    EXPECT_FALSE(r.options.stream);
    EXPECT_FALSE(r.echo);
    EXPECT_TRUE(r.options.ignored_fields.empty());
}

TEST(OpenaiRequest, CompletionEveryField) {
    const completion_request r = completion(
        R"(,"max_tokens":7,"temperature":0.5,"top_p":0.9,"top_k":40,"min_p":0.1,"seed":42,"n":3,"stop":["a","bc"],)"
        R"("stop_token_ids":[5,6],"presence_penalty":-1.5,"frequency_penalty":2,"repetition_penalty":1.2,)"
        R"("logprobs":3,"ignore_eos":true,"min_tokens":2,"include_stop_str_in_output":true,"stream":true,)"
        R"("stream_options":{"include_usage":true},"user":"u","suffix":"","best_of":3,"logit_bias":{},"echo":false)");
    const engine::sampling_params& s = r.options.sampling;
    EXPECT_EQ(r.options.max_tokens, 7);
    EXPECT_EQ(s.temperature, 0.5);
    EXPECT_EQ(s.top_p, 0.9);
    EXPECT_EQ(s.top_k, 40);
    EXPECT_EQ(s.min_p, 0.1);
    EXPECT_EQ(s.seed, 42u);
    EXPECT_EQ(r.options.n, 3);
    EXPECT_EQ(s.stop, (std::vector<std::string>{"a", "bc"}));
    EXPECT_EQ(s.stop_token_ids, (std::vector<int32_t>{5, 6}));
    EXPECT_EQ(s.presence_penalty, -1.5);
    EXPECT_EQ(s.frequency_penalty, 2.0);
    EXPECT_EQ(s.repetition_penalty, 1.2);
    EXPECT_EQ(s.logprobs, 3);
    EXPECT_TRUE(s.ignore_eos);
    EXPECT_EQ(s.min_tokens, 2);
    EXPECT_TRUE(s.include_stop_str_in_output);
    EXPECT_TRUE(r.options.stream);
    EXPECT_TRUE(r.options.include_usage);
    EXPECT_TRUE(r.options.ignored_fields.empty()); // user is read (and ignored), not unknown
}

TEST(OpenaiRequest, NullMeansUnset) {
    const completion_request r = completion(R"(,"temperature":null,"stop":null,"seed":null,"max_tokens":null)");
    EXPECT_EQ(r.options.sampling.temperature, 1.0);
    EXPECT_TRUE(r.options.sampling.stop.empty());
    EXPECT_FALSE(r.options.sampling.seed.has_value());
    EXPECT_EQ(r.options.max_tokens, 16);
}

TEST(OpenaiRequest, UnknownFieldsAreIgnoredAndListed) {
    const completion_request r = completion(R"(,"service_tier":"auto","zzz":[1],"store":false)");
    EXPECT_EQ(r.options.ignored_fields, (std::vector<std::string>{"service_tier", "store", "zzz"}));
}

TEST(OpenaiRequest, ExactRangeMessages) {
    api_error e = completion_error(R"(,"temperature":3.5)");
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_EQ(e.message, "temperature must be in [0, 2], got 3.5");
    EXPECT_EQ(e.param, "temperature");
    EXPECT_EQ(completion_error(R"(,"top_p":0)").message, "top_p must be in (0, 1], got 0");
    EXPECT_EQ(completion_error(R"(,"min_p":1.5)").message, "min_p must be in [0, 1], got 1.5");
    EXPECT_EQ(completion_error(R"(,"presence_penalty":-2.5)").message, "presence_penalty must be in [-2, 2], got -2.5");
    EXPECT_EQ(completion_error(R"(,"frequency_penalty":3)").message, "frequency_penalty must be in [-2, 2], got 3");
    EXPECT_EQ(completion_error(R"(,"repetition_penalty":0)").message, "repetition_penalty must be > 0, got 0");
    EXPECT_EQ(completion_error(R"(,"n":17)").message, "n must be in [1, 16], got 17");
    EXPECT_EQ(completion_error(R"(,"n":0)").message, "n must be in [1, 16], got 0");
    EXPECT_EQ(completion_error(R"(,"max_tokens":0)").message, "max_tokens must be >= 1, got 0");
    EXPECT_EQ(completion_error(R"(,"min_tokens":-1)").message, "min_tokens must be >= 0, got -1");
    EXPECT_EQ(completion_error(R"(,"max_tokens":4,"min_tokens":5)").message,
              "min_tokens must be in [0, max_tokens = 4], got 5");
    EXPECT_EQ(completion_error(R"(,"top_k":-2)").message, "top_k must be -1 or 0 (off) or >= 1, got -2");
    EXPECT_EQ(completion_error(R"(,"logprobs":21)").message, "logprobs must be in [0, 20], got 21");
    EXPECT_EQ(completion_error(R"(,"stop_token_ids":[1,-3])").message, "stop_token_ids[1] must be >= 0, got -3");
}

TEST(OpenaiRequest, WrongTypesNameTheParam) {
    api_error e = completion_error(R"(,"temperature":"hot")");
    EXPECT_EQ(e.message, "temperature must be a number, got \"hot\"");
    EXPECT_EQ(e.param, "temperature");
    EXPECT_EQ(completion_error(R"(,"temperature":true)").message, "temperature must be a number, got true");
    EXPECT_EQ(completion_error(R"(,"n":1.5)").message, "n must be an integer, got 1.5");
    EXPECT_EQ(completion(R"(,"n":2.0)").options.n, 2); // an integral float is an integer
    EXPECT_EQ(completion_error(R"(,"stream":"yes")").message, "stream must be a boolean, got \"yes\"");
    EXPECT_EQ(completion_error(R"(,"model":5)").message, "model must be a string, got 5");
    EXPECT_EQ(completion_error(R"(,"stop":5)").message, "stop must be a string or a list of strings, got 5");
    EXPECT_EQ(completion_error(R"(,"stop":["a",1])").message, "stop[1] must be a string, got 1");
    EXPECT_EQ(completion_error(R"(,"stop_token_ids":{})").param, "stop_token_ids");
}

TEST(OpenaiRequest, LongStringValuesAreCutInMessages) {
    std::string long_value = "a";
    for (int i = 0; i < 25; ++i) {
        long_value += "\xc3\xa9"; // é: the cut at 40 bytes falls inside one
    }
    const api_error e = completion_error(R"(,"temperature":")" + long_value + "\"");
    EXPECT_EQ(e.param, "temperature");
    EXPECT_EQ(e.message, "temperature must be a number, got \"" + long_value.substr(0, 39) + "\xef\xbf\xbd...\"");
}

TEST(OpenaiRequest, StopForms) {
    EXPECT_EQ(completion(R"(,"stop":"x")").options.sampling.stop, (std::vector<std::string>{"x"}));
    std::string sixteen = ",\"stop\":[", seventeen;
    for (int i = 0; i < 16; ++i) {
        sixteen += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
    }
    seventeen = sixteen + ",\"x\"]";
    sixteen += "]";
    EXPECT_EQ(completion(sixteen).options.sampling.stop.size(), 16u);
    EXPECT_EQ(completion_error(seventeen).message, "stop must hold at most 16 strings, got 17");
    EXPECT_EQ(completion_error(R"(,"stop":"")").message, "stop must be a non-empty string");
    EXPECT_EQ(completion_error(R"(,"stop":["a",""])").message, "stop[1] must be a non-empty string");
}

TEST(OpenaiRequest, StreamOptionsNeedStream) {
    api_error e = completion_error(R"(,"stream_options":{"include_usage":true})");
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(e.message, "stream_options is only allowed when stream is true");
    EXPECT_EQ(e.param, "stream_options");
    EXPECT_EQ(completion_error(R"(,"stream":false,"stream_options":{})").param, "stream_options");
    EXPECT_FALSE(completion(R"(,"stream":true,"stream_options":{})").options.include_usage);
    EXPECT_EQ(completion_error(R"(,"stream":true,"stream_options":{"include_usage":1})").message,
              "stream_options.include_usage must be a boolean, got 1");
}

TEST(OpenaiRequest, UnsupportedFieldsAreRefusedByName) {
    EXPECT_EQ(completion_error(R"(,"logit_bias":{"50256":-100})").message,
              "logit_bias is not supported; send no logit_bias (or an empty object)");
    EXPECT_EQ(completion_error(R"(,"suffix":"end")").param, "suffix");
    EXPECT_EQ(completion_error(R"(,"best_of":2)").message, "best_of is not supported: it must equal n = 1, got 2");
    EXPECT_EQ(completion_error(R"(,"echo":true,"logprobs":1)").param, "echo");
    EXPECT_TRUE(completion(R"(,"echo":true)").echo);
}

TEST(OpenaiRequest, PromptForms) {
    const completion_request strings = ok(parse_completion_request(R"({"prompt":["a","b"]})"));
    ASSERT_EQ(strings.prompts.size(), 2u);
    EXPECT_EQ(strings.prompts[1].text, "b");
    EXPECT_EQ(strings.model, ""); // missing model: the server's default
    const completion_request ids = ok(parse_completion_request(R"({"prompt":[1,2,3]})"));
    ASSERT_EQ(ids.prompts.size(), 1u);
    EXPECT_TRUE(ids.prompts[0].is_tokens);
    EXPECT_EQ(ids.prompts[0].token_ids, (std::vector<int32_t>{1, 2, 3}));
    const completion_request lists = ok(parse_completion_request(R"({"prompt":[[1],[2,3]]})"));
    ASSERT_EQ(lists.prompts.size(), 2u);
    EXPECT_EQ(lists.prompts[1].token_ids, (std::vector<int32_t>{2, 3}));
    EXPECT_EQ(err(parse_completion_request(R"({"prompt":[1,"a"]})")).message,
              "prompt[1] must be an integer, got \"a\"");
    EXPECT_EQ(err(parse_completion_request(R"({"prompt":[[]]})")).message,
              "prompt must be a string, a list of strings, a list of token ids or a list of lists of token ids; "
              "prompt[0] is an empty list");
    EXPECT_EQ(err(parse_completion_request(R"({"prompt":[]})")).param, "prompt");
    EXPECT_EQ(err(parse_completion_request(R"({"model":"m"})")).param, "prompt");
    EXPECT_EQ(err(parse_completion_request(R"({"prompt":[3000000000]})")).message,
              "prompt[0] must be >= 0, got 3000000000");
}

TEST(OpenaiRequest, HugeNumbers) {
    EXPECT_EQ(completion_error(R"(,"max_tokens":1e30)").message, "max_tokens must be >= 1, got 1e+30");
    EXPECT_EQ(completion_error(R"(,"max_tokens":99999999999999999999999)").param, "max_tokens");
    EXPECT_EQ(completion_error(R"(,"n":18446744073709551615)").message,
              "n must be in [1, 16], got 18446744073709551615");
    EXPECT_EQ(completion_error(R"(,"top_k":-9.3e18)").param, "top_k");
    EXPECT_EQ(completion(R"(,"seed":18446744073709551615)").options.sampling.seed, UINT64_MAX);
    EXPECT_EQ(completion(R"(,"seed":-1)").options.sampling.seed, UINT64_MAX);
    const api_error overflow = completion_error(R"(,"temperature":1e400)");
    EXPECT_EQ(overflow.http_status, 400);
    EXPECT_EQ(overflow.message.rfind("could not parse the JSON body: ", 0), 0u) << overflow.message;
}

TEST(OpenaiRequest, MalformedBodies) {
    EXPECT_EQ(err(parse_completion_request("")).message.rfind("could not parse the JSON body: ", 0), 0u);
    EXPECT_EQ(err(parse_chat_request("{\"messages\":")).message.rfind("could not parse the JSON body: ", 0), 0u);
    EXPECT_EQ(err(parse_chat_request("[1]")).message, "the request body must be a JSON object, got an array");
    // Ill-formed UTF-8 in a string: a 400 whose body is still valid JSON.
    const api_error utf8 = err(parse_completion_request("{\"prompt\":\"a\xff\xfe\"}"));
    EXPECT_EQ(utf8.http_status, 400);
    EXPECT_EQ(utf8.message.rfind("could not parse the JSON body: ", 0), 0u);
    const nlohmann::json body = nlohmann::json::parse(utf8.to_json());
    EXPECT_EQ(body["error"]["message"].get<std::string>().rfind("could not parse the JSON body: ", 0), 0u);
}

TEST(OpenaiRequest, DeepNestingIsRefusedBeforeParsing) {
    const std::string deep(100000, '[');
    EXPECT_EQ(err(parse_completion_request(deep)).message,
              "could not parse the JSON body: nesting is deeper than the limit of 64 levels");
    const auto nested = [](int depth) {
        return R"({"prompt":"x","extra":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
    };
    EXPECT_EQ(ok(parse_completion_request(nested(64))).options.ignored_fields, (std::vector<std::string>{"extra"}));
    EXPECT_EQ(err(parse_completion_request(nested(65))).message,
              "could not parse the JSON body: nesting is deeper than the limit of 64 levels");
    // Brackets inside strings (escaped quotes too) do not count.
    const std::string in_string = R"({"prompt":"\")" + std::string(200, '[') + "\"}";
    EXPECT_EQ(ok(parse_completion_request(in_string)).prompts[0].text, "\"" + std::string(200, '['));
}

TEST(OpenaiRequest, ChatMessages) {
    const chat_request r = ok(parse_chat_request(
        R"({"messages":[{"role":"developer","content":"be brief"},)"
        R"({"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},)"
        R"({"role":"assistant","content":null},{"role":"tool","content":"42","tool_call_id":"c1"}]})"));
    ASSERT_EQ(r.messages.size(), 4u);
    EXPECT_EQ(r.messages[0].role, "system");
    EXPECT_EQ(r.messages[0].content, "be brief");
    EXPECT_EQ(r.messages[1].content, "a\nb");
    EXPECT_EQ(r.messages[2].role, "assistant");
    EXPECT_EQ(r.messages[2].content, "");
    EXPECT_EQ(r.messages[3].role, "tool");
    EXPECT_FALSE(r.options.max_tokens.has_value()); // chat: up to the context
    EXPECT_TRUE(r.add_generation_prompt);
}

TEST(OpenaiRequest, ChatMessageErrors) {
    const auto msg = [](const std::string& messages) {
        return err(parse_chat_request(R"({"messages":)" + messages + "}"));
    };
    api_error e = msg(R"([{"role":"bot","content":"x"}])");
    EXPECT_EQ(e.message, "messages[0].role must be one of system, developer, user, assistant, tool, got \"bot\"");
    EXPECT_EQ(e.param, "messages[0].role");
    EXPECT_EQ(msg(R"([{"role":"user"}])").message,
              "messages[0].content is missing (only an assistant message may omit it)");
    EXPECT_EQ(msg(R"([{"role":"user","content":[{"type":"image_url","image_url":{}}]}])").param,
              "messages[0].content[0]");
    EXPECT_EQ(msg(R"([{"role":"assistant","content":"","tool_calls":[{"id":"1"}]}])").param, "messages[0].tool_calls");
    EXPECT_EQ(msg("[]").message, "messages must be a non-empty list of {\"role\", \"content\"} objects, got an array");
    EXPECT_EQ(msg(R"("hi")").param, "messages");
    EXPECT_EQ(msg(R"([{"content":"x"}])").message, "messages[0].role is missing");
    EXPECT_EQ(msg(R"([{"role":"user","content":5}])").message,
              "messages[0].content must be a string or a list of text parts, got 5");
}

TEST(OpenaiRequest, ChatFields) {
    EXPECT_EQ(chat(R"(,"max_tokens":5,"max_completion_tokens":9)").options.max_tokens, 9);
    EXPECT_EQ(chat(R"(,"max_completion_tokens":9)").options.max_tokens_param, "max_completion_tokens");
    EXPECT_EQ(chat(R"(,"max_tokens":5)").options.max_tokens, 5);
    EXPECT_EQ(chat_error(R"(,"max_completion_tokens":0)").message, "max_completion_tokens must be >= 1, got 0");
    EXPECT_EQ(chat("").options.sampling.logprobs, -1);
    EXPECT_EQ(chat(R"(,"logprobs":true)").options.sampling.logprobs, 0);
    EXPECT_EQ(chat(R"(,"logprobs":true,"top_logprobs":5)").options.sampling.logprobs, 5);
    EXPECT_EQ(chat(R"(,"logprobs":false,"top_logprobs":0)").options.sampling.logprobs, -1);
    EXPECT_EQ(chat_error(R"(,"top_logprobs":3)").message, "top_logprobs requires logprobs to be true");
    EXPECT_EQ(chat_error(R"(,"logprobs":true,"top_logprobs":21)").message, "top_logprobs must be in [0, 20], got 21");
    EXPECT_EQ(chat_error(R"(,"logprobs":1)").message, "logprobs must be a boolean, got 1");
    const chat_request greedy = chat(R"(,"n":4,"temperature":0)");
    EXPECT_EQ(greedy.options.n, 4);
    EXPECT_EQ(greedy.options.sampling.temperature, 0.0);
    EXPECT_FALSE(chat(R"(,"add_generation_prompt":false)").add_generation_prompt);
}

TEST(OpenaiRequest, ChatToolsAreRefused) {
    api_error e = chat_error(R"(,"tools":[{"type":"function","function":{"name":"f"}}])");
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(e.param, "tools");
    EXPECT_EQ(e.message.rfind("tools is not supported: the built-in chat templates have no tool calling", 0), 0u);
    EXPECT_EQ(chat(R"(,"tools":[],"tool_choice":"auto","parallel_tool_calls":true)").options.ignored_fields,
              (std::vector<std::string>{"parallel_tool_calls"}));
    EXPECT_EQ(chat_error(R"(,"tool_choice":"required")").param, "tool_choice");
    EXPECT_EQ(chat_error(R"(,"response_format":{"type":"json_object"})").param, "response_format");
    EXPECT_EQ(chat(R"(,"response_format":{"type":"text"})").options.ignored_fields.size(), 0u);
}

TEST(OpenaiRequest, TokenizeAndDetokenize) {
    const tokenize_request text = ok(parse_tokenize_request(R"({"model":"m","prompt":"hi"})"));
    EXPECT_FALSE(text.is_chat);
    EXPECT_EQ(text.prompt, "hi");
    EXPECT_TRUE(text.add_special_tokens);
    const tokenize_request chat_tok =
        ok(parse_tokenize_request(R"({"messages":[{"role":"user","content":"x"}],"add_generation_prompt":false})"));
    EXPECT_TRUE(chat_tok.is_chat);
    EXPECT_FALSE(chat_tok.add_special_tokens); // vLLM's default for messages
    EXPECT_FALSE(chat_tok.add_generation_prompt);
    EXPECT_EQ(err(parse_tokenize_request(R"({"model":"m"})")).message,
              "give exactly one of prompt (a string) and messages (a chat)");
    EXPECT_EQ(ok(parse_detokenize_request(R"({"tokens":[7,8]})")).tokens, (std::vector<int32_t>{7, 8}));
    EXPECT_EQ(err(parse_detokenize_request(R"({"tokens":[7,"x"]})")).message,
              "tokens[1] must be an integer, got \"x\"");
    EXPECT_EQ(err(parse_detokenize_request("{}")).param, "tokens");
}

TEST(OpenaiRequest, ResolveMaxTokens) {
    generation_options o;
    EXPECT_EQ(ok(resolve_max_tokens(o, 100, 10)), 90); // none given: the rest of the context
    o.max_tokens = 50;
    EXPECT_EQ(ok(resolve_max_tokens(o, 100, 10)), 50);
    o.max_tokens = 91;
    api_error e = err(resolve_max_tokens(o, 100, 10));
    EXPECT_EQ(e.code, "context_length_exceeded");
    EXPECT_EQ(e.param, "max_tokens");
    EXPECT_EQ(e.message, "This model's maximum context length is 100 tokens. However, you requested 101 tokens (10 in "
                         "the prompt, 91 for the completion); reduce the prompt or max_tokens (at most 90 here)");
    o.max_tokens.reset();
    e = err(resolve_max_tokens(o, 100, 100));
    EXPECT_EQ(e.code, "context_length_exceeded");
    EXPECT_EQ(e.message, "This model's maximum context length is 100 tokens, but the prompt has 100 tokens; shorten it "
                         "to at most 99 tokens so that one can be generated");
    o.sampling.min_tokens = 95;
    EXPECT_EQ(err(resolve_max_tokens(o, 100, 10)).message, "min_tokens must be in [0, max_tokens = 90], got 95");
}

TEST(OpenaiRequest, ErrorTable) {
    const api_error context = to_api_error(
        invalid_input("the prompt has 120 tokens but the context is 100 tokens (max_model_len: shorten the prompt)"));
    EXPECT_EQ(context.http_status, 400);
    EXPECT_EQ(context.code, "context_length_exceeded");
    const api_error bad = to_api_error(status(status_code::invalid_argument, "sampling: top_p must be in (0, 1]"));
    EXPECT_EQ(bad.http_status, 400);
    EXPECT_EQ(bad.type, "invalid_request_error");
    EXPECT_EQ(bad.code, "");
    EXPECT_EQ(bad.message, "sampling: top_p must be in (0, 1]");
    struct row {
        status_code code;
        int http_status;
        const char* type;
        const char* error_code;
    };
    for (const row& r : {row{status_code::not_found, 404, "not_found_error", ""},
                         row{status_code::resource_exhausted, 429, "rate_limit_exceeded", "rate_limit_exceeded"},
                         row{status_code::unavailable, 503, "server_error", "service_unavailable"},
                         row{status_code::deadline_exceeded, 504, "server_error", "timeout"},
                         row{status_code::internal, 500, "server_error", ""}}) {
        const api_error e = to_api_error(error(r.code, "m"));
        EXPECT_EQ(e.http_status, r.http_status) << to_string(r.code);
        EXPECT_EQ(e.type, r.type) << to_string(r.code);
        EXPECT_EQ(e.code, r.error_code) << to_string(r.code);
        EXPECT_EQ(e.message, "m");
    }
}

TEST(OpenaiRequest, ErrorBodyIsExact) {
    EXPECT_EQ(invalid_request("temperature must be in [0, 2], got 3.5", "temperature").to_json(),
              R"({"error":{"message":"temperature must be in [0, 2], got 3.5","type":"invalid_request_error",)"
              R"("param":"temperature","code":null}})");
    EXPECT_EQ(api_error({503, "server_error", "down", "", "service_unavailable"}).to_json(),
              R"({"error":{"message":"down","type":"server_error","param":null,"code":"service_unavailable"}})");
}

} // namespace
} // namespace llmfleet::serve
