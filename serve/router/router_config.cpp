// See router_config.h.
#include "serve/router/router_config.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/log.h"
#include "common/text.h"

namespace llmfleet::serve {

namespace jr = json_read;

namespace {

constexpr std::string_view pool_form = "expected NAME=URL[,URL...] (e.g. --pool A10G=http://127.0.0.1:8001,"
                                       "http://127.0.0.1:8002)";

// Pool names become metric labels and route keys: keep them plain.
bool valid_pool_name(std::string_view name) {
    return !name.empty() && name.find_first_of(" \t\r\n,=\"") == std::string_view::npos;
}

std::string joined(const std::vector<std::string>& names) {
    return names.empty() ? "(none)" : fmt::format("{}", fmt::join(names, ", "));
}

} // namespace

pool_config parse_pool_flag(std::string_view text) {
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
        throw invalid_input(fmt::format("--pool `{}`: {}; the `=` is missing", text, pool_form));
    }
    pool_config pool;
    pool.name = std::string(trim(text.substr(0, eq)));
    if (!valid_pool_name(pool.name)) {
        throw invalid_input(fmt::format("--pool `{}`: the pool name `{}` must be non-empty, without spaces, `,`, "
                                        "`=` or quotes; {}",
                                        text, pool.name, pool_form));
    }
    for (const std::string_view url : split(text.substr(eq + 1), ',')) {
        if (trim(url).empty()) {
            throw invalid_input(fmt::format("--pool `{}`: an empty URL in the list; {}", text, pool_form));
        }
        try {
            pool.backends.push_back(parse_endpoint(url));
        } catch (const error& e) {
            throw e.with_context(fmt::format("--pool {}", pool.name));
        }
    }
    return pool;
}

router_file_config parse_router_config(std::string_view text, std::string_view origin, const std::string& base_dir) {
    const std::string root(origin.empty() ? "router config" : origin);
    const jr::json doc = jr::parse(text, root);
    if (!doc.is_object()) {
        throw invalid_input(fmt::format("{}: expected an object {{\"pools\": {{...}}, \"routing_table\": ...}}, got {}",
                                        root, doc.type_name()));
    }
    for (const auto& [key, value] : doc.items()) {
        if (key != "pools" && key != "routing_table") {
            throw invalid_input(
                fmt::format("{}: unknown key `{}`; expected only `pools` and `routing_table`", root, key));
        }
    }
    router_file_config config;
    const std::string pools_path = fmt::format("{} pools", root);
    const jr::json& pools = jr::member(doc, "pools", root);
    if (!pools.is_object() || pools.empty()) {
        throw invalid_input(
            fmt::format("{}: expected a non-empty object {{\"GPU_TYPE\": [\"http://HOST:PORT\", ...]}}, "
                        "got {}",
                        pools_path, pools.dump()));
    }
    for (const auto& [name, urls] : pools.items()) {
        const std::string pool_path = jr::child(pools_path, name);
        if (!valid_pool_name(name)) {
            throw invalid_input(
                fmt::format("{}: the pool name must be non-empty, without spaces, `,`, `=` or quotes", pool_path));
        }
        if (!urls.is_array() || urls.empty()) {
            throw invalid_input(
                fmt::format("{}: expected a non-empty array of engine URLs [\"http://HOST:PORT\", ...], "
                            "got {}",
                            pool_path, urls.dump()));
        }
        pool_config pool{name, {}};
        for (size_t i = 0; i < urls.size(); ++i) {
            const std::string url_path = jr::index(pool_path, i);
            try {
                pool.backends.push_back(parse_endpoint(jr::string(urls[i], url_path)));
            } catch (const error& e) {
                throw e.with_context(url_path);
            }
        }
        config.pools.push_back(std::move(pool));
    }
    if (const jr::json* table = jr::optional_member(doc, "routing_table", root)) {
        const std::string path = jr::string(*table, fmt::format("{} routing_table", root));
        if (path.empty()) {
            throw invalid_input(fmt::format("{} routing_table: expected a path to plan.json, got \"\"", root));
        }
        const std::filesystem::path p(path);
        config.routing_table_path = p.is_absolute() || base_dir.empty() ? path : (base_dir / p).string();
    }
    return config;
}

void check_router_config(const std::vector<pool_config>& pools, const routing_table* table) {
    if (pools.empty()) {
        throw invalid_input("router: no pools configured; hint: pass --pool NAME=URL[,URL...] or a --config file "
                            "with \"pools\"");
    }
    std::vector<std::string> names;
    std::map<std::string, std::string> owner_of_endpoint; // "host:port" → pool name
    for (const pool_config& pool : pools) {
        if (std::find(names.begin(), names.end(), pool.name) != names.end()) {
            throw invalid_input(fmt::format("router: pool `{}` is configured twice; hint: list all its engines in one "
                                            "pool (NAME=URL,URL)",
                                            pool.name));
        }
        names.push_back(pool.name);
        if (pool.backends.empty()) {
            throw invalid_input(fmt::format("router: pool `{}` has no engine endpoints", pool.name));
        }
        for (const http_endpoint& endpoint : pool.backends) {
            const auto [it, inserted] = owner_of_endpoint.emplace(endpoint.to_string(), pool.name);
            if (!inserted) {
                throw invalid_input(fmt::format("router: endpoint {} is listed twice (pool `{}` and pool `{}`); each "
                                                "engine belongs to exactly one pool",
                                                endpoint.to_string(), it->second, pool.name));
            }
        }
    }
    if (table == nullptr) {
        return;
    }
    std::sort(names.begin(), names.end());
    const std::vector<std::string> routed = table->pools();
    for (const std::string& pool : routed) {
        if (!std::binary_search(names.begin(), names.end(), pool)) {
            throw invalid_input(fmt::format("router: the routing table routes to pool `{}`, which is not configured "
                                            "(pools configured: {}); hint: add --pool {}=URL[,URL...]",
                                            pool, joined(names), pool));
        }
    }
    for (const std::string& name : names) {
        if (!std::binary_search(routed.begin(), routed.end(), name)) {
            LLMFLEET_LOG_WARN("router: pool `{}` is configured but the routing table never routes to it (table pools: "
                              "{})",
                              name, joined(routed));
        }
    }
}

} // namespace llmfleet::serve
