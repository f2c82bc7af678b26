// The simulated router: the real router's decisions over simulated load. Per request it predicts the output length
// (serve::output_length_predictor), picks the plan's bucket and pools (serve::routing_table: smooth weighted
// round-robin by share, then the other pools as fallbacks, as router_state::candidates does), and within a pool the
// backend (serve::pick_backend over backend_load snapshots kept up to date here), skipping replicas at the
// router's outstanding cap (its circuit breaker: 429 when every candidate is full).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/router/length_predictor.h"
#include "serve/router/routing_policy.h"
#include "serve/router/routing_table.h"

namespace llmfleet::sim {

// Why a request got no answer. saturated / no_backend are the router's 429 / 503; the context ones are the
// engine's 400 for a request longer than its max_model_len.
enum class reject_reason { saturated, no_backend, prompt_exceeds_context, request_exceeds_context };
std::string_view to_string(reject_reason reason); // "saturated", "no_backend", ...
inline constexpr int n_reject_reasons = 4;

struct router_options {
    serve::routing_policy policy = serve::routing_policy::least_tokens;
    int64_t max_outstanding_per_backend = 256; // the router's default --max-outstanding-per-backend
    serve::length_predictor_options predictor;
};

struct routing_decision {
    int32_t replica = -1;                  // global replica index; −1 when rejected
    std::optional<reject_reason> rejected; // set when replica < 0
    int64_t bucket = -1;                   // plan bucket (−1 without a plan)
    bool fallback = false;                 // served by a pool other than the table's first choice
    int64_t predicted_tokens = 0;          // predicted output length
    int64_t cost_tokens = 0;               // prompt + predicted output: the least-tokens charge
};

// not thread-safe: one event loop drives it.
class router {
public:
    // replica_pool[i]: index into pool_names of replica i. table: null routes over one pool of every replica (the
    // router without --plan); otherwise every routed pool must be a pool name with at least one replica (checked:
    // invalid_input).
    router(std::vector<std::string> pool_names, std::vector<int32_t> replica_pool,
           std::unique_ptr<serve::routing_table> table, const router_options& options);

    // Picks a replica for a prompt of input_tokens (max_tokens: the client's cap, if it sends one) and charges it.
    routing_decision route(int64_t input_tokens, std::optional<int64_t> max_tokens);
    // Undoes a decision's charge (request finished or refused by the engine): its replica and cost_tokens.
    void release(int32_t replica, int64_t cost_tokens);
    // A finished request: the predictor learns its actual output length.
    void observe(int64_t input_tokens, int64_t predicted_tokens, int64_t actual_tokens);

    int64_t n_unrouted() const { return _n_unrouted; } // requests whose bucket had no routes
    int64_t n_fallbacks() const { return _n_fallbacks; }
    const serve::output_length_predictor& predictor() const { return _predictor; }

private:
    struct group { // one routing pool: its replicas and their load snapshot
        std::string name;
        std::vector<int32_t> replicas;
        std::vector<serve::backend_load> loads; // [replicas.size()], maintained on charge / release
        uint64_t cursor = 0;
    };
    int32_t group_named(std::string_view name) const; // −1 when none

    router_options _options;
    std::unique_ptr<serve::routing_table> _table;
    std::vector<group> _groups;
    std::vector<int32_t> _group_of;   // [replica] its group
    std::vector<int32_t> _slot_of;    // [replica] its index inside the group
    std::vector<int32_t> _candidates; // reused per request
    serve::output_length_predictor _predictor;
    int64_t _n_unrouted = 0;
    int64_t _n_fallbacks = 0;
};

} // namespace llmfleet::sim
