// SSE framing on hand-written byte streams split at every awkward place (mid-line, mid-"data:", between CR and
// LF), and the per-request tracker: TTFT / ITL from content chunks, tokens from the usage chunk (or the chunk
// count), and every failure reason (HTTP status, error event, missing [DONE], bad JSON, transport errors).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "serve/http/sse_parser.h"
#include "serve/loadgen/response_tracker.h"

namespace llmfleet::loadgen {
namespace {

std::vector<std::string> parse_in_pieces(std::string_view stream, const std::vector<size_t>& cuts) {
    serve::sse_parser parser;
    std::vector<std::string> events;
    size_t at = 0;
    for (size_t cut : cuts) {
        parser.feed(stream.substr(at, cut - at), [&](std::string_view d) { events.emplace_back(d); });
        at = cut;
    }
    parser.feed(stream.substr(at), [&](std::string_view d) { events.emplace_back(d); });
    EXPECT_FALSE(parser.has_partial_event()) << stream;
    return events;
}

const std::vector<std::string> expected_events = {"{\"a\":1}", "line1\nline2", "", "x", "[DONE]"};

std::string stream_with(std::string_view eol) {
    std::string s;
    for (std::string_view line : {"data: {\"a\":1}", "", ": keep-alive comment", "event: message", "data: line1",
                                  "data:line2", "", "data", "", "id: 7", "data: x", "", "", "data: [DONE]", ""}) {
        s.append(line);
        s.append(eol);
    }
    return s;
}

TEST(loadgen_sse, events_are_the_same_however_the_bytes_are_split) {
    for (std::string_view eol : {"\n", "\r\n", "\r"}) {
        const std::string stream = stream_with(eol);
        EXPECT_EQ(parse_in_pieces(stream, {}), expected_events) << "whole, eol size " << eol.size();
        for (size_t cut = 1; cut < stream.size(); ++cut) { // every two-piece split: mid-line, mid-"data:", CR|LF
            ASSERT_EQ(parse_in_pieces(stream, {cut}), expected_events) << "cut at " << cut << " eol " << eol.size();
        }
        std::vector<size_t> every_byte;
        for (size_t i = 1; i < stream.size(); ++i) {
            every_byte.push_back(i);
        }
        EXPECT_EQ(parse_in_pieces(stream, every_byte), expected_events) << "byte by byte, eol size " << eol.size();
    }
}

TEST(loadgen_sse, an_unterminated_event_is_held_not_dispatched) {
    serve::sse_parser parser;
    int n = 0;
    parser.feed("data: {\"a\":1}\n", [&](std::string_view) { ++n; });
    EXPECT_EQ(n, 0);
    EXPECT_TRUE(parser.has_partial_event());
    parser.feed("\n", [&](std::string_view) { ++n; });
    EXPECT_EQ(n, 1);
    EXPECT_FALSE(parser.has_partial_event());
}

std::string chunk(std::string_view text) {
    return "data: {\"choices\":[{\"index\":0,\"text\":\"" + std::string(text) + "\",\"finish_reason\":null}]}\n\n";
}
const std::string usage_chunk =
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,\"total_tokens\":17}}\n\n";
const std::string done = "data: [DONE]\n\n";

TEST(loadgen_tracker, ttft_itl_and_tokens_of_a_completion_stream) {
    response_tracker t(api_endpoint::completions, true, 10, 1.0);
    t.on_head(200);
    t.on_body(chunk(""), 1.05); // empty text: not a token arrival
    t.on_body(chunk("a"), 1.2);
    const std::string two = chunk("b") + chunk("c");
    t.on_body(two.substr(0, 20), 1.3); // split mid-event: the event completes at 1.5
    t.on_body(two.substr(20), 1.5);
    t.on_body(usage_chunk + done, 1.6);
    const request_record r = t.finish("", "", 1.7);
    EXPECT_TRUE(r.ok) << r.error_reason;
    EXPECT_DOUBLE_EQ(r.send_s, 1.0);
    EXPECT_NEAR(r.ttft_s, 0.2, 1e-12);
    EXPECT_NEAR(r.e2e_s, 0.7, 1e-12);
    EXPECT_EQ(r.n_content_chunks, 3);
    ASSERT_EQ(r.itl_s.size(), 2u); // b and c arrive together at 1.5
    EXPECT_NEAR(r.itl_s[0], 0.3, 1e-12);
    EXPECT_NEAR(r.itl_s[1], 0.0, 1e-12);
    EXPECT_EQ(r.output_tokens, 5); // usage wins over the chunk count
    EXPECT_EQ(r.input_tokens, 12);
    ASSERT_TRUE(r.tpot_s().has_value());
    EXPECT_NEAR(*r.tpot_s(), (0.7 - 0.2) / 4, 1e-12);
}

TEST(loadgen_tracker, without_usage_the_content_chunks_are_the_output_tokens) {
    response_tracker t(api_endpoint::completions, true, 10, 0.0);
    t.on_head(200);
    t.on_body(chunk("a") + chunk("b") + done, 0.5);
    const request_record r = t.finish("", "", 0.5);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.output_tokens, 2);
    EXPECT_EQ(r.input_tokens, 10); // as asked
}

TEST(loadgen_tracker, chat_counts_delta_content_but_not_the_role_chunk) {
    response_tracker t(api_endpoint::chat, true, 3, 0.0);
    t.on_head(200);
    t.on_body("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n", 0.1);
    t.on_body("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n", 0.3);
    t.on_body("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n" + done, 0.4);
    const request_record r = t.finish("", "", 0.4);
    EXPECT_TRUE(r.ok);
    EXPECT_NEAR(r.ttft_s, 0.3, 1e-12);
    EXPECT_EQ(r.n_content_chunks, 1);
    EXPECT_FALSE(r.tpot_s().has_value()); // one token
}

TEST(loadgen_tracker, failures_are_classified_by_reason_with_the_servers_message) {
    {
        response_tracker t(api_endpoint::completions, true, 1, 0.0);
        t.on_head(500);
        t.on_body("{\"error\":{\"message\":\"engine died\",\"type\":\"internal\"}}", 0.1);
        const request_record r = t.finish("", "", 0.1);
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(r.error_reason, "http_500");
        EXPECT_EQ(r.error_detail, "engine died");
    }
    {
        response_tracker t(api_endpoint::completions, true, 1, 0.0);
        t.on_head(429);
        t.on_body("too many", 0.1);
        const request_record r = t.finish("", "", 0.1);
        EXPECT_EQ(r.error_reason, "http_429");
        EXPECT_EQ(r.error_detail, "too many");
    }
    {
        response_tracker t(api_endpoint::completions, true, 1, 0.0);
        t.on_head(200);
        t.on_body(chunk("a") + "data: {\"error\":{\"message\":\"KV cache full\"}}\n\n" + done, 0.2);
        const request_record r = t.finish("", "", 0.2);
        EXPECT_EQ(r.error_reason, "stream_error");
        EXPECT_EQ(r.error_detail, "KV cache full");
    }
    {
        response_tracker t(api_endpoint::completions, true, 1, 0.0);
        t.on_head(200);
        t.on_body(chunk("a"), 0.2);
        const request_record r = t.finish("", "", 0.2);
        EXPECT_EQ(r.error_reason, "stream_truncated");
    }
    {
        response_tracker t(api_endpoint::completions, true, 1, 0.0);
        t.on_head(200);
        t.on_body("data: not json\n\n" + done, 0.2);
        EXPECT_EQ(t.finish("", "", 0.2).error_reason, "bad_event");
    }
    {
        response_tracker t(api_endpoint::completions, true, 1, 0.0);
        t.on_head(200);
        t.on_body(chunk("a"), 0.2);
        const request_record r = t.finish("connection_lost", "end of stream", 0.3);
        EXPECT_EQ(r.error_reason, "connection_lost");
        EXPECT_EQ(r.error_detail, "end of stream");
        EXPECT_NEAR(r.e2e_s, 0.3, 1e-12);
    }
    {
        response_tracker t(api_endpoint::completions, true, 1, 0.0);
        EXPECT_EQ(t.finish("connect_failed", "refused", 0.01).error_reason, "connect_failed");
    }
}

TEST(loadgen_tracker, non_streaming_ttft_is_e2e_and_tokens_come_from_usage) {
    response_tracker t(api_endpoint::completions, false, 4, 2.0);
    t.on_head(200);
    const std::string body =
        "{\"choices\":[{\"text\":\"abc\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":7}}";
    t.on_body(body.substr(0, 10), 2.1);
    t.on_body(body.substr(10), 2.4);
    const request_record r = t.finish("", "", 2.5);
    EXPECT_TRUE(r.ok);
    EXPECT_NEAR(r.e2e_s, 0.5, 1e-12);
    EXPECT_DOUBLE_EQ(r.ttft_s, r.e2e_s);
    EXPECT_EQ(r.output_tokens, 7);
    EXPECT_TRUE(r.itl_s.empty());
    EXPECT_FALSE(r.tpot_s().has_value()) << "no first-token time without streaming";

    response_tracker bad(api_endpoint::completions, false, 4, 0.0);
    bad.on_head(200);
    bad.on_body("{\"choices\":", 0.1);
    EXPECT_EQ(bad.finish("", "", 0.1).error_reason, "bad_body");
}

TEST(loadgen_tracker, error_messages_are_extracted_and_shortened) {
    EXPECT_EQ(error_message_of("{\"error\":{\"message\":\"m1\"}}"), "m1");
    EXPECT_EQ(error_message_of("{\"error\":\"m2\"}"), "m2");
    EXPECT_EQ(error_message_of("{\"message\":\"m3\"}"), "m3");
    EXPECT_EQ(error_message_of("plain\ntext"), "plain text");
    EXPECT_EQ(error_message_of(std::string(1000, 'x')).size(), 300u);
}

} // namespace
} // namespace llmfleet::loadgen
