// The OpenAI-compatible engine server: HTTP routes (serve/http) in front of an engine loop. Each request is
// parsed and validated (openai_api), tokenised (prompt text, or chat messages through the model's chat
// template), submitted as one engine request per prompt × n, and answered whole or streamed as SSE chunks
// from the engine thread's callbacks. A client that disconnects aborts its requests (freeing their KV
// blocks); a full queue is a 429 with retry-after; an API key, when set, is required (401).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/chat_template.h"
#include "serve/engine_loop/engine_loop.h"
#include "serve/http/http_server.h"
#include "serve/http/openai_request.h"

namespace llmfleet::serve {

struct engine_server_options {
    std::string model_name;                            // the id clients send as "model" and /v1/models lists
    std::string api_key;                               // empty → no authentication
    std::optional<model::chat_template> chat_template; // unset → chat requests get a 400 naming the fix
    http_server_options http;
};

class engine_server {
public:
    // loop must outlive the server.
    engine_server(engine_loop& loop, engine_server_options options);
    ~engine_server();
    void start();
    uint16_t port() const { return _http.port(); }
    http_server& http() { return _http; }

    // The Prometheus text of /metrics (vLLM's metric names, label model_name).
    std::string metrics_text() const;

private:
    struct generation;
    void handle_completion(const http_request& req, std::shared_ptr<http_responder> out, bool chat);
    // A 404 unless `model` is empty or the served name.
    std::optional<api_error> check_model(const std::string& model) const;
    // The response state of a new request (what chat and completions share).
    std::shared_ptr<generation> new_generation(std::shared_ptr<http_responder> out, bool chat,
                                               const generation_options& options, const std::string& model,
                                               bool want_logprobs);
    // Checks every prompt's max_tokens, then submits one engine request per prompt × n.
    void submit(const std::shared_ptr<generation>& g, const std::vector<std::vector<int32_t>>& prompts,
                const generation_options& options);
    bool authorized(const http_request& req, http_responder& out) const;

    engine_loop& _loop;
    engine_server_options _options;
    http_server _http;
    int64_t _created_s;
};

} // namespace llmfleet::serve
