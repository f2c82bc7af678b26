// See router_server.h. The routes, the pools' construction, the choice of candidate pools, and the health
// checker thread (GET /health on every backend each interval; /v1/models learned from the first good answer).
#include "serve/router/router_server.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "serve/http/openai_http.h"
#include "serve/router/router_state.h"

namespace llmfleet::serve {

namespace {

http_client_options health_client_options(const router_options& o) {
    http_client_options c;
    c.connect_timeout = o.health_timeout;
    c.idle_timeout = o.health_timeout;
    c.max_idle_connections_per_endpoint = 2;
    return c;
}

std::shared_ptr<io_runtime> make_runtime(const router_options& o) {
    return o.http.runtime ? o.http.runtime : std::make_shared<io_runtime>(o.http.n_io_threads, "router");
}

http_client_options on_runtime(http_client_options c, std::shared_ptr<io_runtime> runtime) {
    c.runtime = std::move(runtime);
    return c;
}

std::vector<std::unique_ptr<backend_pool>> make_pools(const router_options& o) {
    std::vector<std::unique_ptr<backend_pool>> pools;
    if (!o.table) {
        pools.push_back(std::make_unique<backend_pool>("*", o.pools, o.health));
        return pools;
    }
    for (const pool_config& p : o.pools) {
        pools.push_back(std::make_unique<backend_pool>(p.name, std::span<const pool_config>(&p, 1), o.health));
    }
    return pools;
}

// The model ids of a /v1/models answer (empty when it is not one).
std::vector<std::string> model_ids_of(const std::string& body) {
    std::vector<std::string> ids;
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("data") && j["data"].is_array()) {
        for (const auto& m : j["data"]) {
            if (m.is_object() && m.contains("id") && m["id"].is_string()) {
                ids.push_back(m["id"].get<std::string>());
            }
        }
    }
    return ids;
}

void check_backend(const std::shared_ptr<router_state>& state, backend_pool& pool, backend& b, bool learn_models) {
    const auto status = std::make_shared<int>(0);
    state->health_client.start(
        b.endpoint, {"GET", "/health", {}, ""},
        {[status](const http_response_head& h) { *status = h.status; }, [](std::string_view) {},
         [state, &pool, &b, status, learn_models](http_client_error e, const std::string& detail) {
             const bool ok = e == http_client_error::ok && *status == 200;
             const std::string reason = e != http_client_error::ok
                                            ? fmt::format("health check: {} {}", to_string(e), detail)
                                            : fmt::format("health check: status {}", *status);
             pool.report_check(b, ok, router_clock::now(), ok ? "" : reason);
             if (!ok || !learn_models) {
                 return;
             }
             const auto body = std::make_shared<std::string>();
             http_client_request models{"GET", "/v1/models", {}, ""};
             if (!state->backend_authorization.empty()) {
                 models.headers.emplace_back("authorization", state->backend_authorization);
             }
             state->health_client.start(b.endpoint, std::move(models),
                                        {[](const http_response_head&) {},
                                         [body](std::string_view bytes) { body->append(bytes); },
                                         [state, body](http_client_error e2, const std::string&) {
                                             if (e2 != http_client_error::ok) {
                                                 return;
                                             }
                                             std::lock_guard lock(state->models_mutex);
                                             for (std::string& id : model_ids_of(*body)) {
                                                 state->models.insert(std::move(id));
                                             }
                                         }});
         }});
}

void health_loop(const std::shared_ptr<router_state>& state) {
    int64_t round = 0;
    std::unique_lock lock(state->health_mutex);
    while (!state->health_stop) {
        lock.unlock();
        bool learn_models = false;
        {
            std::lock_guard models_lock(state->models_mutex);
            learn_models = state->models.empty() || round % 30 == 0;
        }
        for (const auto& pool : state->pools) {
            for (const auto& b : pool->backends()) {
                check_backend(state, *pool, *b, learn_models);
            }
        }
        ++round;
        lock.lock();
        state->health_wake.wait_for(lock, state->options.health_interval, [&] { return state->health_stop; });
    }
}

} // namespace

router_state::router_state(router_options o)
    : options(std::move(o)),
      backend_authorization(options.backend_api_key.empty() ? "" : "Bearer " + options.backend_api_key),
      pools(make_pools(options)), predictor(options.predictor), runtime(make_runtime(options)),
      client(on_runtime(options.client, runtime)), health_client(health_client_options(options)) {}

std::vector<backend_pool*> router_state::all_pools() const {
    std::vector<backend_pool*> out;
    for (const auto& p : pools) {
        out.push_back(p.get());
    }
    return out;
}

backend_pool* router_state::pool_named(const std::string& name) {
    for (const auto& p : pools) {
        if (p->name() == name) {
            return p.get();
        }
    }
    return nullptr;
}

std::vector<backend_pool*> router_state::candidates(int64_t input_tokens, int64_t predicted_output_tokens,
                                                    int64_t& bucket) {
    if (!options.table) {
        bucket = -1;
        return all_pools(); // the one pool of every backend
    }
    std::vector<backend_pool*> out;
    bucket = options.table->find_bucket(input_tokens, predicted_output_tokens);
    for (const std::string& name : options.table->pick_pools(bucket)) {
        if (backend_pool* p = pool_named(name)) {
            out.push_back(p);
        }
    }
    if (out.empty()) {
        metrics.n_unrouted.fetch_add(1, std::memory_order_relaxed);
    }
    for (const auto& p : pools) { // the remaining pools: the fallback of last resort
        if (std::find(out.begin(), out.end(), p.get()) == out.end()) {
            out.push_back(p.get());
        }
    }
    return out;
}

bool router_state::model_known(const std::string& model) const {
    std::lock_guard lock(models_mutex);
    return model.empty() || models.empty() || models.contains(model);
}

std::vector<std::string> router_state::model_ids() const {
    std::lock_guard lock(models_mutex);
    return {models.begin(), models.end()};
}

router_server::router_server(router_options options) {
    check_router_config(options.pools, options.table.get());
    LLMFLEET_CHECK(options.max_attempts >= 1, "max_attempts must be ≥ 1, got {}", options.max_attempts);
    _state = std::make_shared<router_state>(std::move(options));
    http_server_options http_options = _state->options.http;
    http_options.runtime = _state->runtime;
    _state->http = std::make_unique<http_server>(std::move(http_options));
    const std::weak_ptr<router_state> weak = _state;
    const auto proxy = [weak](const http_request& req, std::shared_ptr<http_responder> out) {
        if (auto state = weak.lock()) {
            proxy_request(state, req, std::move(out));
        }
    };
    http_server& h = *_state->http;
    h.add_route("POST", "/v1/completions", proxy);
    h.add_route("POST", "/v1/chat/completions", proxy);
    h.add_route("POST", "/tokenize", proxy);
    h.add_route("POST", "/detokenize", proxy);
    router_state* s = _state.get();
    h.add_route("GET", "/v1/models", [s](const http_request& req, std::shared_ptr<http_responder> out) {
        if (!authorize(req, s->options.api_key, *out)) {
            return;
        }
        nlohmann::ordered_json data = nlohmann::ordered_json::array();
        for (const std::string& id : s->model_ids()) {
            data.push_back({{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "llmfleet"}});
        }
        out->respond(200, "application/json", nlohmann::ordered_json{{"object", "list"}, {"data", data}}.dump());
    });
    h.add_route("GET", "/health", [s](const http_request&, std::shared_ptr<http_responder> out) {
        const auto now = router_clock::now();
        int n_available = 0;
        for (const auto& p : s->pools) {
            n_available += p->n_available(now);
        }
        if (n_available > 0) {
            out->respond(200, "text/plain", "");
        } else {
            send_api_error(*out, api_error{503, "server_error", "no backend is healthy", "", "service_unavailable"});
        }
    });
    h.add_route("GET", "/metrics", [s](const http_request&, std::shared_ptr<http_responder> out) {
        std::string text = router_metrics_text(*s);
        if (s->options.extra_metrics) {
            text += s->options.extra_metrics();
        }
        out->respond(200, "text/plain; version=0.0.4", std::move(text));
    });
}

router_server::~router_server() {
    {
        std::lock_guard lock(_state->health_mutex);
        _state->health_stop = true;
    }
    _state->health_wake.notify_all();
    if (_state->health_thread.joinable()) {
        _state->health_thread.join();
    }
    _state->http->shutdown(std::chrono::milliseconds(0)); // clients gone: their upstream exchanges are cancelled
    // In-flight exchanges hold the state through their callbacks; the state (which owns the clients and the
    // runtime with its io threads) must be destroyed here, not by the last callback on an io thread. Its members
    // go in reverse order: the server (shut down), the clients (each waits for its exchanges), the runtime.
    const auto deadline = router_clock::now() + std::chrono::seconds(10);
    while (_state.use_count() > 1 && router_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (_state.use_count() > 1) {
        LLMFLEET_LOG_ERROR("router: {} references to its state remain after 10 s; leaving it allocated",
                           _state.use_count() - 1);
        new std::shared_ptr<router_state>(std::move(_state)); // never destroyed on a client io thread
    }
}

void router_server::start() {
    _state->http->start();
    if (_state->options.health_interval.count() > 0) {
        _state->health_thread = std::thread([state = _state] { health_loop(state); });
    }
}

uint16_t router_server::port() const {
    return _state->http->port();
}

http_server& router_server::http() {
    return *_state->http;
}

std::string router_server::metrics_text() const {
    return router_metrics_text(*_state);
}

} // namespace llmfleet::serve
