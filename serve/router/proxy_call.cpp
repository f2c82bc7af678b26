// One proxied request: validate and size it, pick pool and backend, forward it, and pass the answer back.
//
//   parse ──► pick ──► attempt ──head 200, stream──► streaming ──complete──► done
//     │ 4xx    │ none     │ connect failure / lost / 5xx / 429 before any byte to the client
//     ▼        ▼          └──► pick another backend (max_attempts) ──► none left: the last error (502/504/5xx)
//   error   503 / 429
//   streaming ──lost──► `data: {"error":...}` event, end     client gone (any state) ──► cancel upstream
//
// Client callbacks run on the client's io threads, on_disconnect on a server io thread: `mutex` orders them, and
// nothing that may call back (client start/cancel) runs under it.
#include <algorithm>

#include <fmt/format.h>

#include "common/log.h"
#include "serve/http/openai_http.h"
#include "serve/http/openai_response.h"
#include "serve/http/openai_route_scan.h"
#include "serve/http/openai_stream_scan.h"
#include "serve/router/router_state.h"

namespace llmfleet::serve {

namespace {

constexpr size_t max_buffered_body_bytes = 64u << 20; // a non-streamed answer larger than this is a 502

// What a request costs and where it goes, from its parsed body.
struct request_size {
    int64_t prompt_tokens = 0; // all prompts (estimated unless ids or a tokenizer)
    int64_t input_tokens = 0;  // per prompt: what the routing table is keyed on
    int64_t n_sequences = 1;   // prompts × n
    std::optional<int64_t> max_tokens;
    std::string model;
    bool stream = false;
};

// Validates the routing fields and sizes the request (a SAX pass: no JSON tree; the engine checks the rest).
api_result<request_size> size_request(std::string_view path, std::string_view body, const model::tokenizer* tok) {
    request_size size;
    const bool chat = path == "/v1/chat/completions";
    if (!chat && path != "/v1/completions") {
        return size; // /tokenize, /detokenize: no size, any backend
    }
    auto scanned = scan_route_fields(body, chat, tok != nullptr);
    if (auto* e = std::get_if<api_error>(&scanned)) {
        return *e;
    }
    route_fields& f = std::get<route_fields>(scanned);
    size.model = std::move(f.model);
    size.stream = f.stream;
    size.max_tokens = f.max_tokens;
    if (!chat && !size.max_tokens) {
        size.max_tokens = 16; // the OpenAI default for completions
    }
    int64_t text_tokens = 0;
    if (tok != nullptr) {
        for (const std::string& t : f.texts) {
            text_tokens += static_cast<int64_t>(tok->encode(t, false).size());
        }
    } else {
        text_tokens = (f.n_text_bytes + 3) / 4; // about 4 bytes per token for English BPE vocabularies
    }
    const int64_t n = std::max<int64_t>(1, f.n);
    if (chat) {
        size.prompt_tokens = text_tokens + 4 * f.n_messages; // the template's role markers
        size.input_tokens = size.prompt_tokens;
        size.n_sequences = n;
    } else {
        size.prompt_tokens = f.n_prompt_ids + text_tokens;
        size.input_tokens = size.prompt_tokens / std::max<int64_t>(1, f.n_prompts);
        size.n_sequences = std::max<int64_t>(1, f.n_prompts) * n;
    }
    return size;
}

struct proxy_call : std::enable_shared_from_this<proxy_call> {
    std::shared_ptr<router_state> state;
    std::shared_ptr<http_responder> out;
    http_client_request upstream;
    request_size size;
    bool learn = false;           // a generation: feeds the predictor and the routing metrics
    int64_t predicted_output = 0; // per sequence
    int64_t cost_tokens = 0;      // for least-tokens
    int64_t bucket = -1;
    std::vector<backend_pool*> candidates;
    router_clock::time_point start_time = router_clock::now();

    std::mutex mutex;
    std::vector<backend*> tried;             // guarded by mutex
    backend_lease lease;                     // guarded by mutex
    backend_pool* lease_pool = nullptr;      // guarded by mutex
    std::shared_ptr<http_exchange> exchange; // guarded by mutex
    bool client_gone = false;                // guarded by mutex
    bool streaming = false;                  // guarded by mutex: the head went to the client
    bool buffering_error = false;            // guarded by mutex: a retryable status (5xx, 429) is being read
    int status = 0;                          // guarded by mutex
    std::string content_type;                // guarded by mutex
    std::string retry_after;                 // guarded by mutex
    std::string body;                        // guarded by mutex: a non-streamed answer being read
    sse_scanner scanner;                     // guarded by mutex
    bool too_large = false;                  // guarded by mutex: the buffered answer passed its limit

    // The last failed attempt, answered when no attempt is left.
    std::optional<api_error> last_transport_error; // guarded by mutex
    int last_status = 0;                           // guarded by mutex: a retryable status' answer, kept whole
    std::string last_body, last_content_type;      // guarded by mutex

    void attempt();
    void on_head(const http_response_head& head);
    void on_body(std::string_view bytes);
    void on_complete(http_client_error error, const std::string& detail);
    void on_client_gone();
    // Releases the lease; not thread-safe: caller holds mutex.
    void release_locked(backend_pool::outcome outcome, const std::string& reason);
    // Latency per pool; for generations routed by the table, the (bucket, pool) count and a fallback when the pool
    // is not the table's first choice (warning on the first and every 1000th of a kind).
    void finish_metrics();
    // Every attempt failed or no untried backend is left: the last backend's answer, or a 502/504.
    void answer_last_failure();
    void observe_output(int64_t completion_tokens);
    http_header_list response_headers() const;
};

// "backend HOST:PORT (pool NAME)", for error messages.
std::string describe(const backend& b) {
    return fmt::format("backend {} (pool {})", b.label, b.pool);
}

api_error gateway_error(int http_status, std::string message) {
    return api_error{http_status, "server_error", std::move(message), "",
                     http_status == 504 ? "timeout" : "backend_error"};
}

void proxy_call::attempt() {
    const router_clock::time_point now = router_clock::now();
    const acquire_limits limits{state->options.policy, state->options.max_outstanding_per_backend};
    backend_lease got;
    backend_pool* from = nullptr;
    int n_saturated = 0;
    {
        std::lock_guard lock(mutex);
        if (client_gone) {
            return;
        }
        for (backend_pool* pool : candidates) {
            acquire_miss miss = acquire_miss::none;
            got = pool->acquire(limits, cost_tokens, tried, now, &miss);
            if (got.target != nullptr) {
                from = pool;
                break;
            }
            n_saturated += miss == acquire_miss::all_saturated;
        }
        if (got.target != nullptr) {
            tried.push_back(got.target);
            lease = got;
            lease_pool = from;
            status = 0;
            buffering_error = false;
            body.clear();
        }
    }
    if (got.target == nullptr) {
        bool any_tried = false;
        {
            std::lock_guard lock(mutex);
            any_tried = !tried.empty();
        }
        if (any_tried) {
            return answer_last_failure();
        }
        std::vector<std::string> names;
        for (const backend_pool* pool : candidates) {
            names.push_back(pool->name());
        }
        if (n_saturated > 0) {
            state->metrics.n_saturated.fetch_add(1, std::memory_order_relaxed);
            send_api_error(*out,
                           api_error{429, "rate_limit_exceeded",
                                     fmt::format("every healthy backend of pools [{}] has {} requests in flight "
                                                 "(--max-outstanding-per-backend); retry later",
                                                 fmt::join(names, ", "), state->options.max_outstanding_per_backend),
                                     "", "rate_limit_exceeded"});
        } else {
            state->metrics.n_no_backend.fetch_add(1, std::memory_order_relaxed);
            send_api_error(*out, api_error{503, "server_error",
                                           fmt::format("no healthy backend in pools [{}]: all are ejected after "
                                                       "failures (see /metrics); retry later",
                                                       fmt::join(names, ", ")),
                                           "", "service_unavailable"});
        }
        return;
    }
    http_client_request request = upstream; // kept whole for a retry
    auto self = shared_from_this();
    auto ex = state->client.start(got.target->endpoint, std::move(request),
                                  {[self](const http_response_head& h) { self->on_head(h); },
                                   [self](std::string_view bytes) { self->on_body(bytes); },
                                   [self](http_client_error e, const std::string& d) { self->on_complete(e, d); }});
    bool cancel_now = false;
    {
        std::lock_guard lock(mutex);
        if (lease.target == got.target) {
            exchange = ex; // still this attempt (a fast failure may have completed and released it already)
        }
        cancel_now = client_gone;
    }
    if (cancel_now) {
        ex->cancel();
    }
}

http_header_list proxy_call::response_headers() const {
    http_header_list extra;
    if (!tried.empty()) {
        extra.emplace_back("x-llmfleet-backend", tried.back()->label);
        extra.emplace_back("x-llmfleet-pool", tried.back()->pool);
    }
    if (!retry_after.empty()) {
        extra.emplace_back("retry-after", retry_after);
    }
    return extra;
}

void proxy_call::on_head(const http_response_head& head) {
    std::unique_lock lock(mutex);
    if (client_gone) {
        return;
    }
    status = head.status;
    content_type = head.headers.get("content-type", "application/json");
    retry_after = head.headers.get("retry-after");
    buffering_error = status >= 500 || status == 429;
    if (!buffering_error && size.stream && status == 200) {
        streaming = true;
        const http_header_list extra = response_headers();
        const std::string type = content_type;
        const std::string pool = lease.target->pool;
        lock.unlock();
        out->start_stream(200, type, extra);
        std::lock_guard metrics_lock(state->metrics.mutex);
        state->metrics.latency[pool].first_byte_s.observe(
            std::chrono::duration<double>(router_clock::now() - start_time).count());
    }
}

void proxy_call::on_body(std::string_view bytes) {
    std::unique_lock lock(mutex);
    if (client_gone) {
        return;
    }
    if (streaming) {
        scanner.feed(bytes);
        lock.unlock();
        if (!out->write(bytes)) { // the client left or fell too far behind: on_disconnect cancels upstream
            on_client_gone();
        }
        return;
    }
    if (body.size() + bytes.size() > max_buffered_body_bytes) {
        too_large = true; // read on to keep the connection usable; answered as a 502 at the end
        return;
    }
    body.append(bytes);
}

void proxy_call::release_locked(backend_pool::outcome outcome, const std::string& reason) {
    if (lease_pool != nullptr) {
        lease_pool->release(lease, outcome, router_clock::now(), reason);
    }
    exchange.reset();
}

void proxy_call::on_complete(http_client_error error, const std::string& detail) {
    std::unique_lock lock(mutex);
    backend* const target = lease.target;
    if (target == nullptr) {
        return; // released already (client gone)
    }
    if (client_gone || error == http_client_error::cancelled) {
        release_locked(backend_pool::outcome::neutral, "");
        return;
    }
    if (error == http_client_error::ok && !buffering_error) {
        release_locked(backend_pool::outcome::success, "");
        if (streaming) {
            const int64_t tokens = scanner.completion_tokens();
            lock.unlock();
            observe_output(tokens); // before the client sees the end, so its next request is predicted with it
            finish_metrics();       // before the client sees the end: /metrics is current when it asks next
            out->finish();
            return;
        }
        if (too_large) {
            const std::string where = describe(*target);
            lock.unlock();
            state->metrics.n_upstream_failed.fetch_add(1, std::memory_order_relaxed);
            finish_metrics();
            send_api_error(*out, gateway_error(502, fmt::format("{} answered more than {} bytes; use stream=true",
                                                                where, max_buffered_body_bytes)));
            return;
        }
        const int final_status = status;
        const std::optional<int64_t> tokens = final_status == 200 ? response_completion_tokens(body) : std::nullopt;
        const http_header_list extra = response_headers();
        std::string type = content_type;
        std::string answer = std::move(body);
        lock.unlock();
        if (tokens) {
            observe_output(*tokens);
        }
        finish_metrics();
        out->respond(final_status, type, std::move(answer), extra);
        return;
    }
    const std::string where = describe(*target);
    if (streaming) { // after the first byte: never retried; the client gets an error event
        release_locked(backend_pool::outcome::failure, fmt::format("{} mid-stream: {}", to_string(error), detail));
        lock.unlock();
        state->metrics.n_stream_errors.fetch_add(1, std::memory_order_relaxed);
        out->write(
            sse_error(gateway_error(502, fmt::format("{} failed mid-stream ({}{}{}); the output so far is "
                                                     "incomplete",
                                                     where, to_string(error), detail.empty() ? "" : ": ", detail))));
        finish_metrics();
        out->finish();
        return;
    }
    std::string reason;
    if (error == http_client_error::ok) { // a retryable status, read whole
        reason = fmt::format("status {}", status);
        last_status = status;
        last_body = std::move(body);
        last_content_type = content_type;
        last_transport_error.reset();
        release_locked(status >= 500 ? backend_pool::outcome::failure : backend_pool::outcome::neutral,
                       fmt::format("answered {}", status));
    } else {
        reason = std::string(to_string(error));
        last_status = 0;
        last_transport_error = gateway_error(
            error == http_client_error::timeout ? 504 : 502,
            fmt::format("{} failed: {}{}{}", where, to_string(error), detail.empty() ? "" : ": ", detail));
        release_locked(backend_pool::outcome::failure, fmt::format("{}: {}", to_string(error), detail));
    }
    const bool again = static_cast<int>(tried.size()) < state->options.max_attempts;
    lock.unlock();
    if (!again) {
        return answer_last_failure();
    }
    {
        std::lock_guard metrics_lock(state->metrics.mutex);
        ++state->metrics.retries[reason];
    }
    attempt(); // another backend, or the last failure when none is left
}

void proxy_call::answer_last_failure() {
    std::unique_lock lock(mutex);
    if (last_status != 0) { // a retryable status: passed on as the backend said it
        const http_header_list extra = response_headers();
        const int final_status = last_status;
        std::string type = last_content_type;
        std::string answer = std::move(last_body);
        lock.unlock();
        finish_metrics();
        out->respond(final_status, type, std::move(answer), extra);
        return;
    }
    const api_error e = last_transport_error.value_or(gateway_error(502, "every backend attempt failed"));
    lock.unlock();
    state->metrics.n_upstream_failed.fetch_add(1, std::memory_order_relaxed);
    finish_metrics();
    send_api_error(*out, e);
}

void proxy_call::on_client_gone() {
    std::shared_ptr<http_exchange> ex;
    {
        std::lock_guard lock(mutex);
        client_gone = true;
        ex = exchange;
    }
    if (ex) {
        ex->cancel(); // the engine sees its client leave and aborts the request (its KV blocks are freed)
    }
}

void proxy_call::finish_metrics() {
    std::string pool;
    {
        std::lock_guard lock(mutex);
        if (tried.empty()) {
            return;
        }
        pool = tried.back()->pool;
    }
    const bool routed = learn && state->options.table && !candidates.empty();
    const std::string& preferred = routed ? candidates.front()->name() : pool;
    const double e2e_s = std::chrono::duration<double>(router_clock::now() - start_time).count();
    int64_t n_fallbacks = 0;
    {
        std::lock_guard lock(state->metrics.mutex);
        pool_latency& latency = state->metrics.latency[pool];
        latency.e2e_s.observe(e2e_s);
        if (!size.stream) {
            latency.first_byte_s.observe(e2e_s);
        }
        if (routed) {
            ++state->metrics.routed[{bucket, pool}];
            if (pool != preferred) {
                n_fallbacks = ++state->metrics.fallbacks[{preferred, pool}];
            }
        }
    }
    if (n_fallbacks == 1 || (n_fallbacks > 0 && n_fallbacks % 1000 == 0)) {
        LLMFLEET_LOG_WARN("router: pool {} could not take a request of bucket {}; served by pool {} ({} such "
                          "fallbacks so far)",
                          preferred, bucket, pool, n_fallbacks);
    }
}

void proxy_call::observe_output(int64_t completion_tokens) {
    if (!learn || size.n_sequences <= 0) {
        return;
    }
    const int64_t per_sequence = completion_tokens / size.n_sequences;
    state->predictor.observe(size.input_tokens, predicted_output, per_sequence);
    if (state->options.table && bucket >= 0) {
        state->metrics.n_bucket_checked.fetch_add(1, std::memory_order_relaxed);
        if (state->options.table->find_bucket(size.input_tokens, per_sequence) == bucket) {
            state->metrics.n_bucket_hits.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

} // namespace

void proxy_request(const std::shared_ptr<router_state>& state, const http_request& req,
                   std::shared_ptr<http_responder> out) {
    if (!authorize(req, state->options.api_key, *out)) {
        state->metrics.n_invalid.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    const bool generation = req.path == "/v1/completions" || req.path == "/v1/chat/completions";
    if (generation) {
        state->metrics.n_requests.fetch_add(1, std::memory_order_relaxed);
    }
    auto sized = size_request(req.path, req.body, state->options.tokenizer.get());
    if (auto* e = std::get_if<api_error>(&sized)) {
        state->metrics.n_invalid.fetch_add(1, std::memory_order_relaxed);
        return send_api_error(*out, *e);
    }
    auto call = std::make_shared<proxy_call>();
    call->size = std::get<request_size>(std::move(sized));
    if (!state->model_known(call->size.model)) {
        state->metrics.n_invalid.fetch_add(1, std::memory_order_relaxed);
        return send_api_error(*out, api_error{404, "not_found_error",
                                              fmt::format("The model `{}` does not exist; the backends serve [{}]",
                                                          call->size.model, fmt::join(state->model_ids(), ", ")),
                                              "model", "model_not_found"});
    }
    call->state = state;
    call->out = out;
    call->learn = generation;
    if (generation) {
        call->predicted_output = state->predictor.predict(call->size.input_tokens, call->size.max_tokens);
        call->cost_tokens = call->size.prompt_tokens + call->predicted_output * call->size.n_sequences;
    }
    call->candidates = generation ? state->candidates(call->size.input_tokens, call->predicted_output, call->bucket)
                                  : state->all_pools();
    call->upstream.method = req.method;
    call->upstream.target = req.target;
    call->upstream.body = req.body;
    call->upstream.headers.emplace_back("content-type", req.headers.get("content-type", "application/json"));
    if (!state->backend_authorization.empty()) {
        call->upstream.headers.emplace_back("authorization", state->backend_authorization);
    } else if (const std::string* auth = req.headers.find("authorization")) {
        call->upstream.headers.emplace_back("authorization", *auth);
    }
    if (const std::string* id = req.headers.find("x-request-id")) {
        call->upstream.headers.emplace_back("x-request-id", *id);
    }
    std::weak_ptr<proxy_call> weak = call;
    out->on_disconnect([weak] {
        if (auto c = weak.lock()) {
            c->on_client_gone();
        }
    });
    call->attempt();
}

} // namespace llmfleet::serve
