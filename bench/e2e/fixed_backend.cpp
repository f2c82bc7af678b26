// A benchmark and test fixture, not a product: an OpenAI-shaped HTTP server that answers every completion with a
// fixed reply and runs no model, so that what is measured in front of it is the proxy (router or nginx), and so
// router tests can see which backend answered (`system_fingerprint` and the x-backend header carry --name).
// Replies are built once at startup; handlers answer inline on the io threads.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "serve/http/http_server.h"

namespace {

using namespace llmfleet::serve;

struct fixed_backend_flags {
    http_server_options http;
    std::string name = "fixed";
    int reply_tokens = 16;        // chunks in a stream, words in a whole reply
    int status = 200;             // every completion gets this status (e.g. 503 to test retries)
    int first_token_delay_ms = 0; // streaming: a pause before the first chunk (off the io thread)
    int inter_token_delay_ms = 0; // streaming: a pause between chunks
};

std::string completion_body(const fixed_backend_flags& f) {
    std::string text;
    for (int i = 0; i < f.reply_tokens; ++i) {
        text += " tok";
    }
    return fmt::format(R"({{"id":"cmpl-fixed","object":"text_completion","created":0,"model":"fixed",)"
                       R"("system_fingerprint":"{}","choices":[{{"index":0,"text":"{}","logprobs":null,)"
                       R"("finish_reason":"length"}}],"usage":{{"prompt_tokens":1,"completion_tokens":{},)"
                       R"("total_tokens":{}}}}})",
                       f.name, text, f.reply_tokens, f.reply_tokens + 1);
}

std::string chunk_event(const fixed_backend_flags& f, bool last) {
    return fmt::format(R"(data: {{"id":"cmpl-fixed","object":"text_completion","created":0,"model":"fixed",)"
                       R"("system_fingerprint":"{}","choices":[{{"index":0,"text":" tok","logprobs":null,)"
                       R"("finish_reason":{}}}]}})"
                       "\n\n",
                       f.name, last ? "\"length\"" : "null");
}

std::string usage_event(const fixed_backend_flags& f) {
    return fmt::format(R"(data: {{"id":"cmpl-fixed","object":"text_completion","created":0,"model":"fixed",)"
                       R"("choices":[],"usage":{{"prompt_tokens":1,"completion_tokens":{},"total_tokens":{}}}}})"
                       "\n\ndata: [DONE]\n\n",
                       f.reply_tokens, f.reply_tokens + 1);
}

int run(const fixed_backend_flags& f) {
    const std::string whole = completion_body(f);
    const std::string chunk = chunk_event(f, false);
    const std::string last_chunk = chunk_event(f, true);
    const std::string usage = usage_event(f);
    const std::string error_body =
        fmt::format(R"({{"error":{{"message":"fixed backend `{}` answers {}","type":"server_error","param":null,)"
                    R"("code":null}}}})",
                    f.name, f.status);
    const http_header_list tag = {{"x-backend", f.name}};
    http_server server(f.http);
    const auto completion = [&](const http_request& req, std::shared_ptr<http_responder> out) {
        if (f.status != 200) {
            out->respond(f.status, "application/json", error_body, tag);
            return;
        }
        if (req.body.find("\"stream\":true") == std::string::npos &&
            req.body.find("\"stream\": true") == std::string::npos) {
            out->respond(200, "application/json", whole, tag);
            return;
        }
        const auto stream = [&, out] {
            out->start_stream(200, "text/event-stream", tag);
            for (int i = 0; i < f.reply_tokens && out->is_open(); ++i) {
                const int delay_ms = i == 0 ? f.first_token_delay_ms : f.inter_token_delay_ms;
                if (delay_ms > 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
                }
                out->write(i + 1 == f.reply_tokens ? last_chunk : chunk);
            }
            out->write(usage);
            out->finish();
        };
        if (f.first_token_delay_ms > 0 || f.inter_token_delay_ms > 0) {
            std::thread(stream).detach(); // a fixture: a thread per delayed stream keeps the io threads free
        } else {
            stream();
        }
    };
    server.add_route("POST", "/v1/completions", completion);
    server.add_route("POST", "/v1/chat/completions", completion);
    server.add_route("GET", "/health", [](const http_request&, std::shared_ptr<http_responder> out) {
        out->respond(200, "text/plain", "");
    });
    server.add_route("GET", "/v1/models", [&](const http_request&, std::shared_ptr<http_responder> out) {
        out->respond(200, "application/json",
                     R"({"object":"list","data":[{"id":"fixed","object":"model","created":0,"owned_by":"llmfleet"}]})",
                     tag);
    });
    std::promise<int> signalled;
    server.on_signal([&signalled](int sig) {
        try {
            signalled.set_value(sig);
        } catch (const std::future_error&) {
            // a second signal while stopping
        }
    });
    server.start();
    fmt::print("fixed_backend `{}`: serving a fixed {}-token reply (status {}) on http://{}:{}\n", f.name,
               f.reply_tokens, f.status, f.http.host, server.port());
    std::fflush(stdout);
    signalled.get_future().get();
    server.shutdown(std::chrono::milliseconds(1000));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    fixed_backend_flags f;
    f.http.port = 0;
    f.http.max_connections = 4096;
    CLI::App app{"Fixed-reply OpenAI-shaped backend (benchmark and test fixture; runs no model)"};
    app.add_option("--host", f.http.host)->capture_default_str();
    app.add_option("--port", f.http.port, "0: any free port")->capture_default_str();
    app.add_option("--io-threads", f.http.n_io_threads)->capture_default_str();
    app.add_option("--name", f.name, "Reported as system_fingerprint and x-backend")->capture_default_str();
    app.add_option("--reply-tokens", f.reply_tokens)->capture_default_str()->check(CLI::Range(1, 1 << 20));
    app.add_option("--status", f.status, "Status of every completion (200, or e.g. 503)")->capture_default_str();
    app.add_option("--first-token-delay-ms", f.first_token_delay_ms)->capture_default_str();
    app.add_option("--inter-token-delay-ms", f.inter_token_delay_ms)->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    return run(f);
}
