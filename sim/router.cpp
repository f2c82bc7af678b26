// See router.h. Mirrors serve/router/proxy_call.cpp (predict → candidates → acquire in order) and
// backend_pool::acquire (snapshot with available = requests < cap, pick_backend, charge the winner).
#include "sim/router.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/check.h"
#include "common/error.h"

namespace llmfleet::sim {

std::string_view to_string(reject_reason reason) {
    switch (reason) {
    case reject_reason::saturated:
        return "saturated";
    case reject_reason::no_backend:
        return "no_backend";
    case reject_reason::prompt_exceeds_context:
        return "prompt_exceeds_context";
    case reject_reason::request_exceeds_context:
        return "request_exceeds_context";
    }
    return "?";
}

router::router(std::vector<std::string> pool_names, std::vector<int32_t> replica_pool,
               std::unique_ptr<serve::routing_table> table, const router_options& options)
    : _options(options), _table(std::move(table)), _predictor(options.predictor) {
    if (options.max_outstanding_per_backend < 1) {
        throw invalid_input(
            fmt::format("--max-outstanding-per-backend: expected ≥ 1, got {}", options.max_outstanding_per_backend));
    }
    if (_table) {
        for (std::string& name : pool_names) {
            _groups.push_back(group{std::move(name), {}, {}, 0});
        }
    } else {
        _groups.push_back(group{"all", {}, {}, 0}); // the router without a table: one pool of every backend
    }
    _group_of.resize(replica_pool.size());
    _slot_of.resize(replica_pool.size());
    for (size_t i = 0; i < replica_pool.size(); ++i) {
        LLMFLEET_CHECK(replica_pool[i] >= 0 && static_cast<size_t>(replica_pool[i]) < pool_names.size(),
                       "replica {} in pool {} of {}", i, replica_pool[i], pool_names.size());
        group& g = _groups[_table ? static_cast<size_t>(replica_pool[i]) : 0];
        _group_of[i] = _table ? replica_pool[i] : 0;
        _slot_of[i] = static_cast<int32_t>(g.replicas.size());
        g.replicas.push_back(static_cast<int32_t>(i));
        g.loads.push_back(serve::backend_load{});
    }
    if (_table) {
        for (const std::string& pool : _table->pools()) {
            const int32_t g = group_named(pool);
            if (g < 0 || _groups[static_cast<size_t>(g)].replicas.empty()) {
                std::vector<std::string> names;
                for (const group& x : _groups) {
                    if (!x.replicas.empty()) {
                        names.push_back(x.name);
                    }
                }
                throw invalid_input(fmt::format("the routing table routes to pool `{}`, which has no replicas (pools "
                                                "with replicas: {}); hint: give `{}` a count ≥ 1 in the plan's gpus",
                                                pool, fmt::join(names, ", "), pool));
            }
        }
    }
}

int32_t router::group_named(std::string_view name) const {
    for (size_t g = 0; g < _groups.size(); ++g) {
        if (_groups[g].name == name) {
            return static_cast<int32_t>(g);
        }
    }
    return -1;
}

routing_decision router::route(int64_t input_tokens, std::optional<int64_t> max_tokens) {
    routing_decision d;
    d.predicted_tokens = _predictor.predict(input_tokens, max_tokens);
    d.cost_tokens = input_tokens + d.predicted_tokens;
    _candidates.clear();
    if (_table) {
        d.bucket = _table->find_bucket(input_tokens, d.predicted_tokens);
        for (const std::string& name : _table->pick_pools(d.bucket)) {
            const int32_t g = group_named(name);
            if (g >= 0) {
                _candidates.push_back(g);
            }
        }
        if (_candidates.empty()) {
            ++_n_unrouted;
        }
    }
    for (size_t g = 0; g < _groups.size(); ++g) { // the remaining pools: the fallback of last resort
        if (std::find(_candidates.begin(), _candidates.end(), static_cast<int32_t>(g)) == _candidates.end()) {
            _candidates.push_back(static_cast<int32_t>(g));
        }
    }
    bool any_backend = false;
    for (size_t k = 0; k < _candidates.size(); ++k) {
        group& g = _groups[static_cast<size_t>(_candidates[k])];
        any_backend = any_backend || !g.replicas.empty();
        const int chosen = serve::pick_backend(_options.policy, g.loads, g.cursor);
        if (chosen < 0) {
            continue;
        }
        serve::backend_load& load = g.loads[static_cast<size_t>(chosen)];
        ++load.outstanding_requests;
        load.outstanding_tokens += d.cost_tokens;
        load.available = load.outstanding_requests < _options.max_outstanding_per_backend;
        d.replica = g.replicas[static_cast<size_t>(chosen)];
        d.fallback = _table != nullptr && k > 0;
        _n_fallbacks += d.fallback ? 1 : 0;
        return d;
    }
    d.rejected = any_backend ? reject_reason::saturated : reject_reason::no_backend;
    return d;
}

void router::release(int32_t replica, int64_t cost_tokens) {
    LLMFLEET_CHECK(replica >= 0 && static_cast<size_t>(replica) < _group_of.size(), "release of replica {}", replica);
    const auto i = static_cast<size_t>(replica);
    group& g = _groups[static_cast<size_t>(_group_of[i])];
    serve::backend_load& load = g.loads[static_cast<size_t>(_slot_of[i])];
    LLMFLEET_CHECK(load.outstanding_requests > 0 && load.outstanding_tokens >= cost_tokens,
                   "replica {} released more than it was charged", replica);
    --load.outstanding_requests;
    load.outstanding_tokens -= cost_tokens;
    load.available = load.outstanding_requests < _options.max_outstanding_per_backend;
}

void router::observe(int64_t input_tokens, int64_t predicted_tokens, int64_t actual_tokens) {
    _predictor.observe(input_tokens, predicted_tokens, actual_tokens);
}

} // namespace llmfleet::sim
