// `llmfleet router`: the OpenAI-compatible router over pools of engine endpoints (serve/router), configured from
// flags (--backend, --pool, --routing-table) or a JSON file (--config). Prints one startup line with the URL;
// SIGTERM/SIGINT stop accepting, let in-flight requests finish for --drain-s, then exit 0.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/log.h"
#include "common/text.h"
#include "serve/router/router_server.h"
#include "tools/commands.h"

namespace llmfleet::tools {

namespace {

struct router_flags {
    serve::router_options router;
    std::vector<std::string> backends;
    std::vector<std::string> pools;
    std::string config_path;
    std::string routing_table_path;
    std::string policy = "least-requests";
    std::string tokenizer_dir;
    int64_t health_interval_ms = 1000;
    int64_t health_timeout_ms = 1000;
    int64_t ejection_ms = 2000;
    int64_t max_ejection_ms = 30000;
    int64_t connect_timeout_ms = 2000;
    double drain_s = 30;
};

// Pools from --config, --pool and --backend (pool "default"), in that order.
std::vector<serve::pool_config> collect_pools(router_flags& f) {
    std::vector<serve::pool_config> pools;
    if (!f.config_path.empty()) {
        const std::string dir = std::filesystem::path(f.config_path).parent_path().string();
        serve::router_file_config file =
            serve::parse_router_config(read_file(f.config_path, "router config"), f.config_path, dir);
        pools = std::move(file.pools);
        if (f.routing_table_path.empty()) {
            f.routing_table_path = file.routing_table_path;
        }
    }
    for (const std::string& p : f.pools) {
        pools.push_back(serve::parse_pool_flag(p));
    }
    if (!f.backends.empty()) {
        serve::pool_config fallback{"default", {}};
        for (const std::string& b : f.backends) {
            fallback.backends.push_back(serve::parse_endpoint(b));
        }
        pools.push_back(std::move(fallback));
    }
    if (pools.empty()) {
        throw invalid_input("no backends: give --backend URL, --pool NAME=URL[,URL...] or --config FILE "
                            "(e.g. --backend http://127.0.0.1:8001 --backend http://127.0.0.1:8002)");
    }
    return pools;
}

int run_router(router_flags& f) {
    serve::router_options& o = f.router;
    if (o.api_key.empty()) {
        if (const char* key = std::getenv("LLMFLEET_API_KEY"); key != nullptr) {
            o.api_key = key;
        }
    }
    o.pools = collect_pools(f);
    if (!f.routing_table_path.empty()) {
        o.table = std::make_shared<serve::routing_table>(serve::routing_table::from_plan_json(
            read_file(f.routing_table_path, "routing table (plan.json)"), f.routing_table_path));
    }
    if (!f.tokenizer_dir.empty()) {
        o.tokenizer = std::make_shared<const model::tokenizer>(model::tokenizer::load(f.tokenizer_dir));
    }
    o.policy = serve::parse_routing_policy(f.policy);
    o.health_interval = std::chrono::milliseconds(f.health_interval_ms);
    o.health_timeout = std::chrono::milliseconds(f.health_timeout_ms);
    o.health.base_ejection = std::chrono::milliseconds(f.ejection_ms);
    o.health.max_ejection = std::chrono::milliseconds(f.max_ejection_ms);
    o.client.connect_timeout = std::chrono::milliseconds(f.connect_timeout_ms);
    std::vector<std::string> described;
    for (const serve::pool_config& p : o.pools) {
        described.push_back(
            fmt::format("{}: {} backend{}", p.name, p.backends.size(), p.backends.size() == 1 ? "" : "s"));
    }
    const std::string table = f.routing_table_path.empty() ? "none" : f.routing_table_path;
    const std::string host = o.http.host;
    const bool has_key = !o.api_key.empty();
    serve::router_server server(std::move(o));
    std::future<int> signalled = first_signal(server.http());
    server.start();
    fmt::print("llmfleet router: routing [{}] on http://{}:{} (policy {}; routing table {}; API key {})\n",
               fmt::join(described, "; "), host, server.port(), f.policy, table, has_key ? "on" : "off");
    std::fflush(stdout);
    const int sig = signalled.get();
    LLMFLEET_LOG_INFO("signal {}: stopping (drain up to {} s)", sig, f.drain_s);
    server.http().shutdown(std::chrono::milliseconds(static_cast<int64_t>(f.drain_s * 1000)));
    return 0;
}

} // namespace

command add_router_command(CLI::App& app) {
    auto f = std::make_shared<router_flags>();
    f->router.http.port = 8000;
    f->router.http.max_connections = 4096;
    CLI::App* sub = app.add_subcommand("router", "Route OpenAI API requests across pools of engines");
    sub->add_option("--backend", f->backends, "Engine URL of pool `default` (repeatable)");
    sub->add_option("--pool", f->pools,
                    "NAME=URL[,URL...]: a pool of engines (repeatable; NAME = the plan's GPU type)");
    sub->add_option("--config", f->config_path, R"(JSON {"pools":{NAME:[URL,...]},"routing_table":"plan.json"})");
    sub->add_option("--routing-table", f->routing_table_path,
                    "plan.json from `llmfleet plan`: size-aware routing by (input, predicted output) bucket");
    sub->add_option("--policy", f->policy, "round-robin | least-requests | least-tokens")->capture_default_str();
    sub->add_option("--host", f->router.http.host, "Address to bind (default: loopback only)")->capture_default_str();
    sub->add_option("--port", f->router.http.port, "Port (0: any free port)")->capture_default_str();
    sub->add_option("--api-key", f->router.api_key, "Require `Authorization: Bearer KEY` (or LLMFLEET_API_KEY)");
    sub->add_option("--backend-api-key", f->router.backend_api_key,
                    "Key sent to the engines (default: the client's Authorization header passes through)");
    sub->add_option("--tokenizer", f->tokenizer_dir,
                    "Model folder with tokenizer.json: exact prompt token counts "
                    "(default: bytes / 4)");
    sub->add_option("--health-interval-ms", f->health_interval_ms, "Active health checks (0: off)")
        ->capture_default_str();
    sub->add_option("--health-timeout-ms", f->health_timeout_ms)->capture_default_str();
    sub->add_option("--eject-after", f->router.health.eject_after_failures, "Consecutive failures that eject a backend")
        ->capture_default_str();
    sub->add_option("--ejection-ms", f->ejection_ms, "First ejection; doubles on each failed probe")
        ->capture_default_str();
    sub->add_option("--max-ejection-ms", f->max_ejection_ms)->capture_default_str();
    sub->add_option("--max-attempts", f->router.max_attempts,
                    "Backends tried per request before its first byte (retries on connect failure, 5xx, 429)")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    sub->add_option("--max-outstanding-per-backend", f->router.max_outstanding_per_backend,
                    "Circuit breaker: in-flight requests per backend (429 when every backend is full)")
        ->capture_default_str();
    sub->add_option("--predictor-window", f->router.predictor.window, "Output lengths remembered per input bucket")
        ->capture_default_str();
    sub->add_option("--predictor-quantile", f->router.predictor.quantile, "Quantile of the window predicted")
        ->capture_default_str();
    sub->add_option("--default-output-tokens", f->router.predictor.default_output_tokens,
                    "Prediction before any history")
        ->capture_default_str();
    sub->add_option("--io-threads", f->router.http.n_io_threads,
                    "Threads serving clients and talking to engines (one event loop: a request and its upstream "
                    "exchange run on the same thread)")
        ->capture_default_str();
    sub->add_option("--connect-timeout-ms", f->connect_timeout_ms)->capture_default_str();
    sub->add_option("--max-connections", f->router.http.max_connections, "Open client connections beyond this get 503")
        ->capture_default_str();
    sub->add_option("--max-body-bytes", f->router.http.max_body_bytes, "Request body limit (413 beyond)")
        ->capture_default_str();
    sub->add_option("--drain-s", f->drain_s, "On SIGTERM, let in-flight requests finish for this long")
        ->capture_default_str();
    return command{sub, [f] { return run_router(*f); }};
}

} // namespace llmfleet::tools
