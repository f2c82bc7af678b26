// The router's pools (GPU type name → engine endpoints) and settings, from --pool flags or a JSON config file,
// and the cross-checks against the routing table. Parsing only: no sockets, no files read here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "serve/http/http_endpoint.h"
#include "serve/router/routing_table.h"

namespace llmfleet::serve {

struct pool_config {
    std::string name;                    // the plan's GPU type name, e.g. "A10G"
    std::vector<http_endpoint> backends; // engines serving this pool, in the order given
};

// "NAME=URL[,URL...]" (the --pool flag); throws invalid_input with the expected form. NAME is non-empty
// without spaces, ',' or '='; each URL as parse_endpoint accepts.
pool_config parse_pool_flag(std::string_view text);

struct router_file_config {
    std::vector<pool_config> pools; // sorted by name (JSON object order)
    std::string routing_table_path; // resolved against the config file's directory; empty when not given
};

// JSON: {"pools": {"A10G": ["http://127.0.0.1:8001", ...], ...}, "routing_table": "plan.json"}; a relative
// routing_table is resolved against base_dir (the config file's directory). Strict: unknown keys are an error
// naming the key and the known ones; a config without pools, or a pool without endpoints, is an error. Errors
// name `origin` and the field (e.g. "router.json pools.A10G[1]: ...").
router_file_config parse_router_config(std::string_view text, std::string_view origin, const std::string& base_dir);

// Cross-checks before serving: at least one pool; no duplicate pool names; no endpoint listed twice (in one pool
// or two); every pool the table routes to is configured (else an error naming the missing pool and the pools
// configured). A configured pool the table never routes to only gets a WARN. `table` may be null (the router
// runs without a plan).
void check_router_config(const std::vector<pool_config>& pools, const routing_table* table);

} // namespace llmfleet::serve
