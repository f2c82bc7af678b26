// The timing and outcome of one benchmark request, from the response's head and body bytes as they arrive:
// status, SSE events (content chunks, the usage chunk, error events, [DONE]) or the whole JSON body. Pure: the
// caller passes timestamps, so the tests feed hand-written byte streams without a network.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/http/sse_parser.h"
#include "serve/loadgen/bench_config.h"

namespace llmfleet::loadgen {

// Failure reasons (error_reason), besides the HTTP client's transport errors (connect_failed, connection_lost,
// timeout, bad_response, cancelled):
//   http_<status>     the server answered with a status other than 200 (http_429, http_500, ...);
//   stream_error      a `data: {"error": ...}` event inside a 200 stream;
//   stream_truncated  a 200 stream ended without `data: [DONE]`;
//   bad_event         an SSE event that is not JSON;
//   bad_body          a non-streamed 200 body that is not JSON or holds an "error".
struct request_record {
    bool ok = false;
    std::string error_reason;  // empty when ok
    std::string error_detail;  // the server's message or the transport's detail (at most 300 bytes)
    double send_s = 0;         // when the request was sent, seconds on the caller's clock (runner: from run start)
    double ttft_s = 0;         // first content chunk − send; non-streaming (or no content chunk): = e2e_s
    double e2e_s = 0;          // the response's last byte − send
    std::vector<double> itl_s; // gaps between consecutive content chunks (n_content_chunks − 1 of them)
    int64_t n_content_chunks = 0;
    int64_t input_tokens = 0;  // usage.prompt_tokens, else the prompt length asked for
    int64_t output_tokens = 0; // usage.completion_tokens, else (streaming) n_content_chunks, else 0

    // vLLM's time per output token: (e2e − ttft) / (output_tokens − 1); none unless ok, streamed with a content
    // chunk (a whole response has no first-token time) and output_tokens > 1.
    std::optional<double> tpot_s() const;
};

// Builds one request_record. The runner calls on_head, on_body and finish from the exchange's callbacks (one
// io thread at a time). not thread-safe.
class response_tracker {
public:
    // send_s: the send time on the clock of every later `now_s`; input_tokens: the prompt length asked for.
    response_tracker(api_endpoint endpoint, bool stream, int64_t input_tokens, double send_s);

    void on_head(int status);
    // Body bytes (HTTP framing removed) that arrived at now_s.
    void on_body(std::string_view bytes, double now_s);
    // The exchange ended at now_s; transport_error is empty when the whole response was read, else the client's
    // error name (its `detail` explains). note: call once, last.
    request_record finish(std::string_view transport_error, std::string_view detail, double now_s);

private:
    void on_event(std::string_view data, double now_s);
    void fail(std::string reason, std::string_view detail);

    api_endpoint _endpoint;
    bool _stream;
    int _status = 0;
    serve::sse_parser _sse;
    bool _done = false; // [DONE] seen
    std::string _body;  // non-200 responses (at most 4 KiB) and non-streamed 200 bodies
    double _last_content_s = 0;
    std::optional<int64_t> _usage_output_tokens;
    std::optional<int64_t> _usage_input_tokens;
    request_record _record;
};

// The message of an OpenAI error object ({"error": {"message": ...}}, {"error": "..."}, {"message": ...}) in
// `json_text`, else the text itself; at most 300 bytes, newlines replaced by spaces.
std::string error_message_of(std::string_view json_text);

} // namespace llmfleet::loadgen
