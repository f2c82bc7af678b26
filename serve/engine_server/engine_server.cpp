// See engine_server.h. A request's state (one `generation`) is shared by the HTTP handler, which creates it
// and submits its choices, and the engine thread's callbacks, which fill it and write the response; its
// mutex orders them. The handler never blocks on the engine.
#include "serve/engine_server/engine_server.h"

#include <fmt/core.h>

#include <chrono>
#include <mutex>

#include "common/log.h"
#include "common/prometheus.h"
#include "serve/http/openai_http.h"
#include "serve/http/openai_response.h"

namespace llmfleet::serve {

namespace {

constexpr std::string_view json_type = "application/json";

int64_t unix_now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

struct engine_server::generation {
    struct choice {
        int64_t loop_id = -1;
        std::string text; // what a non-streamed response returns (echo prefix included)
        std::vector<logprob_entry> logprobs;
        bool started = false; // streaming: the first chunk (chat: the role) went out
        bool done = false;
        engine::finish_reason finish = engine::finish_reason::none;
        int64_t n_generated = 0;
    };
    std::mutex mutex;
    std::shared_ptr<http_responder> out;
    engine_loop* loop = nullptr;
    const model::tokenizer* tokenizer = nullptr;
    bool chat = false, stream = false, want_logprobs = false;
    response_meta meta;
    std::vector<choice> choices;
    std::vector<std::string> echo_prefix; // per choice (completions with echo)
    int64_t n_prompt_tokens = 0;
    size_t n_done = 0;
    bool failed = false;

    // Aborts every submitted choice that is still running. note: caller holds mutex.
    void abort_running() {
        for (const choice& c : choices) {
            if (c.loop_id >= 0 && !c.done) {
                loop->abort(c.loop_id);
            }
        }
    }

    // Ends the response with an error (once). note: caller holds mutex.
    void fail(const api_error& e) {
        if (failed) {
            return;
        }
        failed = true;
        abort_running();
        if (stream) {
            out->write(sse_error(e));
            out->write(sse_done());
            out->finish();
        } else {
            send_api_error(*out, e);
        }
    }

    void on_event(size_t index, const loop_event& e) {
        std::lock_guard lock(mutex);
        if (failed) {
            return;
        }
        if (e.failure != nullptr) {
            fail(to_api_error(*e.failure));
            return;
        }
        const engine::request_output& o = *e.output;
        if (!o.error.empty()) {
            fail(to_api_error(status_code::internal, o.error));
            return;
        }
        choice& c = choices[index];
        std::optional<std::vector<logprob_entry>> delta_logprobs;
        if (want_logprobs && tokenizer != nullptr) {
            delta_logprobs.emplace();
            for (const engine::sample_result& s : o.new_samples) {
                delta_logprobs->push_back(make_logprob_entry(*tokenizer, s));
            }
            c.logprobs.insert(c.logprobs.end(), delta_logprobs->begin(), delta_logprobs->end());
        }
        c.text += o.new_text;
        c.n_generated = o.n_generated;
        if (o.finished) {
            c.done = true;
            c.finish = o.reason;
            ++n_done;
        }
        if (stream) {
            write_chunks(index, c, o.new_text, delta_logprobs);
        }
        if (n_done == choices.size()) {
            complete();
        }
    }

    void write_chunks(size_t index, choice& c, const std::string& new_text,
                      const std::optional<std::vector<logprob_entry>>& logprobs) {
        const auto i = static_cast<int32_t>(index);
        if (chat) {
            if (!c.started) {
                c.started = true;
                out->write(sse_event(dump(chat_chunk_role(meta, i))));
            }
            if (!new_text.empty() || logprobs.has_value()) {
                out->write(sse_event(dump(chat_chunk_content(meta, i, new_text, logprobs))));
            }
            if (c.done) {
                out->write(sse_event(dump(chat_chunk_finish(meta, i, c.finish))));
            }
            return;
        }
        std::string text = new_text;
        if (!c.started) {
            c.started = true;
            text = echo_prefix.empty() ? text : echo_prefix[index] + text;
        }
        completion_choice chunk{i, text, logprobs, c.done ? c.finish : engine::finish_reason::none};
        out->write(sse_event(dump(completion_chunk(meta, chunk))));
    }

    // Every choice finished: the usage chunk and [DONE], or the whole response.
    void complete() {
        usage_info usage{n_prompt_tokens, 0};
        for (const choice& c : choices) {
            usage.completion_tokens += c.n_generated;
        }
        if (stream) {
            if (meta.include_usage) {
                out->write(sse_event(dump(usage_chunk(meta, chat, usage))));
            }
            out->write(sse_done());
            out->finish();
            return;
        }
        std::string body;
        if (chat) {
            std::vector<chat_choice> cs;
            for (size_t i = 0; i < choices.size(); ++i) {
                cs.push_back({static_cast<int32_t>(i), choices[i].text,
                              want_logprobs ? std::optional(choices[i].logprobs) : std::nullopt, choices[i].finish});
            }
            body = dump(chat_response(meta, cs, usage));
        } else {
            std::vector<completion_choice> cs;
            for (size_t i = 0; i < choices.size(); ++i) {
                const std::string prefix = echo_prefix.empty() ? "" : echo_prefix[i];
                cs.push_back({static_cast<int32_t>(i), prefix + choices[i].text,
                              want_logprobs ? std::optional(choices[i].logprobs) : std::nullopt, choices[i].finish});
            }
            body = dump(completion_response(meta, cs, usage));
        }
        out->respond(200, json_type, std::move(body));
    }
};

engine_server::engine_server(engine_loop& loop, engine_server_options options)
    : _loop(loop), _options(std::move(options)), _http(_options.http), _created_s(unix_now_s()) {
    _http.add_route("POST", "/v1/completions", [this](const http_request& r, std::shared_ptr<http_responder> o) {
        handle_completion(r, o, false);
    });
    _http.add_route("POST", "/v1/chat/completions", [this](const http_request& r, std::shared_ptr<http_responder> o) {
        handle_completion(r, o, true);
    });
    _http.add_route("GET", "/v1/models", [this](const http_request& r, std::shared_ptr<http_responder> o) {
        if (authorized(r, *o)) {
            o->respond(200, json_type, dump(models_response(_options.model_name, _created_s, _loop.max_model_len())));
        }
    });
    _http.add_route("GET", "/health", [this](const http_request&, std::shared_ptr<http_responder> o) {
        const std::string failure = _loop.failure();
        o->respond(failure.empty() ? 200 : 503, "text/plain", failure.empty() ? "" : "engine failed: " + failure);
    });
    _http.add_route("GET", "/metrics", [this](const http_request&, std::shared_ptr<http_responder> o) {
        o->respond(200, "text/plain; version=0.0.4", metrics_text());
    });
    _http.add_route("POST", "/tokenize", [this](const http_request& r, std::shared_ptr<http_responder> o) {
        if (!authorized(r, *o)) {
            return;
        }
        const auto parsed = parse_tokenize_request(r.body);
        if (const auto* e = std::get_if<api_error>(&parsed)) {
            return send_api_error(*o, *e);
        }
        const tokenize_request& t = std::get<tokenize_request>(parsed);
        const model::tokenizer* tok = _loop.tokenizer();
        if (tok == nullptr || (t.is_chat && !_options.chat_template)) {
            return send_api_error(*o, invalid_request(tok == nullptr ? "this model has no tokenizer.json"
                                                                     : "this model has no chat template; start the "
                                                                       "engine with --chat-template chatml|llama3"));
        }
        const std::string text =
            t.is_chat ? model::apply_chat_template(*_options.chat_template, t.messages, t.add_generation_prompt)
                      : t.prompt;
        const std::vector<int32_t> ids = tok->encode(text, t.add_special_tokens);
        o->respond(200, json_type, dump(tokenize_response(ids, _loop.max_model_len())));
    });
    _http.add_route("POST", "/detokenize", [this](const http_request& r, std::shared_ptr<http_responder> o) {
        if (!authorized(r, *o)) {
            return;
        }
        const auto parsed = parse_detokenize_request(r.body);
        if (const auto* e = std::get_if<api_error>(&parsed)) {
            return send_api_error(*o, *e);
        }
        const model::tokenizer* tok = _loop.tokenizer();
        if (tok == nullptr) {
            return send_api_error(*o, invalid_request("this model has no tokenizer.json"));
        }
        try {
            o->respond(200, json_type,
                       dump(detokenize_response(tok->decode(std::get<detokenize_request>(parsed).tokens))));
        } catch (const error& e) {
            send_api_error(*o, invalid_request(e.what(), "tokens"));
        }
    });
}

engine_server::~engine_server() = default;

void engine_server::start() {
    _http.start();
}

bool engine_server::authorized(const http_request& req, http_responder& out) const {
    return authorize(req, _options.api_key, out);
}

std::optional<api_error> engine_server::check_model(const std::string& model) const {
    if (model.empty() || model == _options.model_name) {
        return std::nullopt;
    }
    api_error e;
    e.http_status = 404;
    e.type = "not_found_error";
    e.message = fmt::format("the model `{}` does not exist; this server serves `{}`", model, _options.model_name);
    e.param = "model";
    e.code = "model_not_found";
    return e;
}

std::shared_ptr<engine_server::generation> engine_server::new_generation(std::shared_ptr<http_responder> out, bool chat,
                                                                         const generation_options& options,
                                                                         const std::string& model, bool want_logprobs) {
    auto g = std::make_shared<generation>();
    g->out = std::move(out);
    g->loop = &_loop;
    g->tokenizer = _loop.tokenizer();
    g->chat = chat;
    g->stream = options.stream;
    g->want_logprobs = want_logprobs;
    g->meta.id = random_response_id(chat ? "chatcmpl-" : "cmpl-");
    g->meta.created = unix_now_s();
    g->meta.model = model.empty() ? _options.model_name : model;
    g->meta.include_usage = options.include_usage;
    return g;
}

void engine_server::handle_completion(const http_request& req, std::shared_ptr<http_responder> out, bool chat) {
    if (!authorized(req, *out)) {
        return;
    }
    const model::tokenizer* tok = _loop.tokenizer();
    std::vector<std::vector<int32_t>> prompts;
    try {
        if (chat) {
            auto parsed = parse_chat_request(req.body);
            if (const auto* e = std::get_if<api_error>(&parsed)) {
                return send_api_error(*out, *e);
            }
            chat_request& c = std::get<chat_request>(parsed);
            if (const auto e = check_model(c.model)) {
                return send_api_error(*out, *e);
            }
            if (tok == nullptr || !_options.chat_template) {
                return send_api_error(*out,
                                      invalid_request(tok == nullptr ? "this model has no tokenizer.json, so it "
                                                                       "cannot serve chat; use /v1/completions "
                                                                       "with token ids"
                                                                     : "this model has no chat template; start "
                                                                       "the engine with --chat-template chatml|llama3",
                                                      "messages"));
            }
            const std::string text =
                model::apply_chat_template(*_options.chat_template, c.messages, c.add_generation_prompt);
            prompts.push_back(tok->encode(text, /*add_special_tokens=*/false));
            return submit(new_generation(out, true, c.options, c.model, c.logprobs), prompts, c.options);
        }
        auto parsed = parse_completion_request(req.body);
        if (const auto* e = std::get_if<api_error>(&parsed)) {
            return send_api_error(*out, *e);
        }
        completion_request& c = std::get<completion_request>(parsed);
        if (const auto e = check_model(c.model)) {
            return send_api_error(*out, *e);
        }
        auto g = new_generation(out, false, c.options, c.model, c.options.sampling.logprobs >= 0);
        for (const prompt_input& p : c.prompts) {
            if (p.is_tokens) {
                prompts.push_back(p.token_ids);
            } else if (tok == nullptr) {
                return send_api_error(*out,
                                      invalid_request("this model has no tokenizer.json: give the prompt as token "
                                                      "ids",
                                                      "prompt"));
            } else {
                prompts.push_back(tok->encode(p.text, /*add_special_tokens=*/true));
            }
            for (int32_t k = 0; k < c.options.n && c.echo; ++k) {
                g->echo_prefix.push_back(p.is_tokens && tok != nullptr ? tok->decode(p.token_ids) : p.text);
            }
        }
        submit(g, prompts, c.options);
    } catch (const error& e) {
        send_api_error(*out, to_api_error(e)); // a tokenizer or template refusal
    }
}

void engine_server::submit(const std::shared_ptr<generation>& g, const std::vector<std::vector<int32_t>>& prompts,
                           const generation_options& options) {
    g->choices.resize(prompts.size() * static_cast<size_t>(options.n));
    for (const auto& p : prompts) {
        g->n_prompt_tokens += static_cast<int64_t>(p.size());
    }
    // Resolve every choice's max_tokens before anything is submitted: a bad request submits nothing.
    std::vector<int32_t> max_tokens;
    for (const auto& p : prompts) {
        const auto resolved = resolve_max_tokens(options, _loop.max_model_len(), static_cast<int32_t>(p.size()));
        if (const auto* e = std::get_if<api_error>(&resolved)) {
            return send_api_error(*g->out, *e);
        }
        max_tokens.push_back(std::get<int32_t>(resolved));
    }
    if (g->stream && !g->out->start_stream(200, "text/event-stream")) {
        return; // the client is gone
    }
    std::lock_guard lock(g->mutex); // callbacks wait until every choice has its id
    std::weak_ptr<generation> weak = g;
    g->out->on_disconnect([weak] {
        if (auto s = weak.lock()) {
            std::lock_guard l(s->mutex);
            s->failed = true; // nothing more to write
            s->abort_running();
        }
    });
    const auto n = static_cast<size_t>(options.n);
    for (size_t i = 0; i < g->choices.size(); ++i) {
        engine::sampling_params p = options.sampling;
        p.max_tokens = max_tokens[i / n];
        if (p.seed && i % n != 0) {
            *p.seed += i % n; // n > 1 with a seed: distinct but reproducible choices
        }
        const result<int64_t> id =
            _loop.submit(prompts[i / n], p, {}, [g, i](const loop_event& e) { g->on_event(i, e); });
        if (!id.is_ok()) {
            g->fail(to_api_error(id.error_status()));
            return;
        }
        g->choices[i].loop_id = id.value();
    }
}

std::string engine_server::metrics_text() const {
    const loop_metrics m = _loop.metrics();
    const prometheus_labels label = {{"model_name", _options.model_name}};
    prometheus_text p;
    const auto one = [&](std::string_view name, std::string_view type, std::string_view help, double v) {
        p.family(name, type, help);
        p.sample(name, label, v);
    };
    const auto hist = [&](std::string_view name, std::string_view help, const histogram& h) {
        p.family(name, "histogram", help);
        p.histogram_samples(name, label, h);
    };
    one("vllm:num_requests_running", "gauge", "Requests in the running batch.", m.n_running);
    one("vllm:num_requests_waiting", "gauge", "Requests waiting to be scheduled.", m.n_waiting);
    one("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage (1 = full).", m.kv_cache_usage);
    one("vllm:prompt_tokens_total", "counter", "Prompt tokens of admitted requests.",
        static_cast<double>(m.n_prompt_tokens));
    one("vllm:generation_tokens_total", "counter", "Generated tokens.", static_cast<double>(m.n_generation_tokens));
    one("vllm:num_preemptions_total", "counter", "Preemptions (recompute).", static_cast<double>(m.n_preemptions));
    one("vllm:prefix_cache_queries_total", "counter", "Prompt tokens looked up in the prefix cache.",
        static_cast<double>(m.n_prefix_query_tokens));
    one("vllm:prefix_cache_hits_total", "counter", "Prompt tokens found in the prefix cache.",
        static_cast<double>(m.n_prefix_hit_tokens));
    p.family("vllm:request_success_total", "counter", "Finished requests by reason.");
    const std::pair<const char*, int64_t> finished[] = {
        {"stop", m.n_finished_stop}, {"length", m.n_finished_length}, {"abort", m.n_finished_abort}};
    for (const auto& [reason, n] : finished) {
        p.sample("vllm:request_success_total", {{"model_name", _options.model_name}, {"finished_reason", reason}},
                 static_cast<double>(n));
    }
    hist("vllm:time_to_first_token_seconds", "Time to first token.", m.ttft_s);
    hist("vllm:time_per_output_token_seconds", "Time per output token after the first.", m.tpot_s);
    hist("vllm:e2e_request_latency_seconds", "End-to-end request latency.", m.e2e_s);
    return p.text();
}

} // namespace llmfleet::serve
