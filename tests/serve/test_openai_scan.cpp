// The proxy-side readers of the OpenAI protocol: scan_route_fields (the routing fields in one SAX pass, checked
// against the full parser on the same bodies), the SSE scanner fed in every split, and the completion-token scan
// of whole responses.
#include <gtest/gtest.h>

#include "serve/http/openai_request.h"
#include "serve/http/openai_route_scan.h"
#include "serve/http/openai_stream_scan.h"

namespace llmfleet::serve {
namespace {

route_fields scan_ok(std::string_view body, bool chat, bool keep_texts = false) {
    auto r = scan_route_fields(body, chat, keep_texts);
    if (const auto* e = std::get_if<api_error>(&r)) {
        ADD_FAILURE() << body << " → " << e->message;
        return {};
    }
    return std::get<route_fields>(r);
}

api_error scan_error(std::string_view body, bool chat) {
    auto r = scan_route_fields(body, chat, false);
    if (const auto* e = std::get_if<api_error>(&r)) {
        return *e;
    }
    ADD_FAILURE() << body << " was accepted";
    return {};
}

TEST(route_scan, completion_fields_match_the_full_parser) {
    const std::string body =
        R"({"model":"m","prompt":[1,2,3,4],"max_tokens":7,"n":2,"stream":true,"temperature":0.5,"stop":["x"]})";
    const route_fields f = scan_ok(body, false);
    const auto full = std::get<completion_request>(parse_completion_request(body));
    EXPECT_EQ(f.model, full.model);
    EXPECT_EQ(f.stream, full.options.stream);
    EXPECT_EQ(f.max_tokens, full.options.max_tokens);
    EXPECT_EQ(f.n, full.options.n);
    EXPECT_EQ(f.n_prompts, static_cast<int64_t>(full.prompts.size()));
    EXPECT_EQ(f.n_prompt_ids, 4);
}

TEST(route_scan, prompt_forms_are_counted) {
    route_fields f = scan_ok(R"({"prompt":"hello world"})", false, true);
    EXPECT_EQ(f.n_prompts, 1);
    EXPECT_EQ(f.n_text_bytes, 11);
    EXPECT_EQ(f.texts, std::vector<std::string>({"hello world"}));
    f = scan_ok(R"({"prompt":["ab","cde"]})", false);
    EXPECT_EQ(f.n_prompts, 2);
    EXPECT_EQ(f.n_text_bytes, 5);
    f = scan_ok(R"({"prompt":[[1,2],[3],[4,5,6]],"max_completion_tokens":9})", false);
    EXPECT_EQ(f.n_prompts, 3);
    EXPECT_EQ(f.n_prompt_ids, 6);
    EXPECT_EQ(f.max_tokens, 9) << "max_completion_tokens when max_tokens is absent";
    f = scan_ok(R"({"prompt":"x","max_tokens":null,"max_completion_tokens":3,"n":2.0})", false);
    EXPECT_EQ(f.max_tokens, 3);
    EXPECT_EQ(f.n, 2) << "2.0 is an integer, as the engine reads it";
}

TEST(route_scan, chat_contents_and_parts_are_counted) {
    const route_fields f = scan_ok(R"({"messages":[{"role":"system","content":"abcd"},)"
                                   R"({"role":"user","content":[{"type":"text","text":"efg"}]}],"stream":false})",
                                   true, true);
    EXPECT_EQ(f.n_messages, 2);
    EXPECT_EQ(f.n_text_bytes, 7) << "contents and text parts, not roles or types";
    EXPECT_EQ(f.texts, std::vector<std::string>({"abcd", "efg"}));
    EXPECT_FALSE(f.max_tokens.has_value());
}

TEST(route_scan, wrong_types_and_bad_json_are_400s_naming_the_field) {
    EXPECT_EQ(scan_error(R"({"prompt":"x","max_tokens":"many"})", false).param, "max_tokens");
    EXPECT_EQ(scan_error(R"({"prompt":"x","stream":"yes"})", false).param, "stream");
    EXPECT_EQ(scan_error(R"({"prompt":"x","model":7})", false).param, "model");
    EXPECT_EQ(scan_error(R"({"prompt":"x","n":[1]})", false).param, "n");
    EXPECT_EQ(scan_error(R"({"prompt":{"a":1}})", false).param, "prompt");
    EXPECT_EQ(scan_error(R"({"prompt":[true]})", false).param, "prompt");
    EXPECT_EQ(scan_error(R"({"max_tokens":1})", false).param, "prompt") << "prompt is required";
    EXPECT_EQ(scan_error(R"({"messages":"hi"})", true).param, "messages");
    EXPECT_EQ(scan_error(R"({"messages":[]})", true).param, "messages");
    EXPECT_NE(scan_error(R"({"prompt": "hi", )", false).message.find("could not parse the JSON body"),
              std::string::npos);
    EXPECT_NE(scan_error("{\"prompt\":\"\xff\xfe\"}", false).message.find("could not parse"), std::string::npos)
        << "ill-formed UTF-8";
    EXPECT_NE(scan_error("[1,2]", false).message.find("must be a JSON object"), std::string::npos);
    EXPECT_NE(scan_error("17", false).message.find("must be a JSON object"), std::string::npos);
    std::string deep = R"({"prompt":"x","extra":)";
    for (int i = 0; i < 100; ++i) {
        deep += "[";
    }
    EXPECT_NE(scan_error(deep, false).message.find("nesting is deeper"), std::string::npos);
}

TEST(route_scan, unknown_fields_are_left_to_the_engine) {
    const route_fields f = scan_ok(R"({"prompt":"x","temperature":"hot","weird":{"model":5,"stream":[]}})", false);
    EXPECT_EQ(f.model, "") << "nested keys named like routing fields are not them";
    EXPECT_FALSE(f.stream);
}

const std::string stream_text = "data: {\"choices\":[{\"index\":0,\"text\":\"a\"}]}\n\n"
                                "data: {\"choices\":[{\"index\":0,\"text\":\"b\"}]}\r\n\r\n"
                                ": a comment\n\n"
                                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":7}}\n\n"
                                "data: [DONE]\n\n";

TEST(sse_scanner, every_two_piece_split_gives_the_same_result) {
    for (size_t cut = 0; cut <= stream_text.size(); ++cut) {
        sse_scanner s;
        s.feed(std::string_view(stream_text).substr(0, cut));
        s.feed(std::string_view(stream_text).substr(cut));
        EXPECT_EQ(s.n_choice_events(), 2) << cut;
        EXPECT_EQ(s.usage_completion_tokens(), 7) << cut;
        EXPECT_EQ(s.completion_tokens(), 7) << cut;
        EXPECT_TRUE(s.saw_done()) << cut;
        EXPECT_FALSE(s.saw_error()) << cut;
    }
    sse_scanner bytewise;
    for (const char c : stream_text) {
        bytewise.feed(std::string_view(&c, 1));
    }
    EXPECT_EQ(bytewise.n_choice_events(), 2);
    EXPECT_TRUE(bytewise.saw_done());
}

TEST(sse_scanner, counts_events_without_usage_and_spots_errors) {
    sse_scanner s;
    s.feed("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n"
           "data: {\"error\":{\"message\":\"boom\"}}\n\n");
    EXPECT_EQ(s.completion_tokens(), 1) << "no usage chunk: the choice events";
    EXPECT_TRUE(s.saw_error());
    EXPECT_FALSE(s.saw_done());
}

TEST(response_tokens, usage_is_read_without_a_parse) {
    EXPECT_EQ(
        response_completion_tokens(
            R"({"choices":[{"text":"\"completion_tokens\": 99"}],"usage":{"prompt_tokens":1,"completion_tokens":5}})"),
        5)
        << "the key inside generated text does not count";
    EXPECT_EQ(response_completion_tokens(R"({"usage": {"completion_tokens" : 12}})"), 12);
    EXPECT_FALSE(response_completion_tokens(R"({"choices":[]})").has_value());
    EXPECT_FALSE(response_completion_tokens(R"({"usage":{"prompt_tokens":1}})").has_value());
}

} // namespace
} // namespace llmfleet::serve
