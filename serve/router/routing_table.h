// The planner's plan.json (schema llmfleet.plan.v1) as a routing table: the (input tokens × output tokens)
// grid of the plan, each cell with the share of its traffic per GPU type (= router pool). Requests are assigned
// a cell from their prompt length and predicted output length, then a pool by smooth weighted round-robin.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmfleet::serve {

struct route {
    std::string pool; // the plan's GPU type name
    double share = 0; // fraction of the bucket's traffic, in [0, 1]; a bucket's shares sum to 1
};

// One cell of the plan's grid: input tokens in [input_lo, input_hi), output tokens in [output_lo, output_hi).
struct routing_bucket {
    int64_t input_lo = 0, input_hi = 0, output_lo = 0, output_hi = 0;
    std::vector<route> routes; // empty for a cell the plan expected no traffic in (zero rate)
    double rate_rps = 0;       // the plan's expected rate for the cell
};

// thread-safe for pick_pools (internal mutex); otherwise immutable after construction. Move-only.
class routing_table {
public:
    // Throws invalid_input naming `origin` and the field (e.g. "plan.json buckets[3].routes[0].share: expected
    // a number in [0,1], got 1.5") with a hint; refuses plans without token edges (planned from a grid), plans
    // with no solution (status infeasible, time_limit, error), and other schemas.
    static routing_table from_plan_json(std::string_view text, std::string_view origin);

    routing_table(routing_table&&) noexcept;
    routing_table& operator=(routing_table&&) noexcept;
    ~routing_table();

    // The bucket for (input tokens, predicted output tokens): a [lo, hi) lookup per axis; values below the first
    // edge go to the first bucket, values at/after the last edge to the last (clamp) — never -1. Buckets are
    // numbered input-major: input_bucket × n_output_buckets + output_bucket, as in the planner.
    int64_t find_bucket(int64_t input_tokens, int64_t output_tokens) const;

    // Pools for one request of bucket b, in preference order: first the pool chosen by smooth weighted
    // round-robin over the bucket's routes by share (deterministic: over N requests each pool gets share×N ± 1),
    // then the bucket's other routed pools by descending share (ties: plan order). Empty when the bucket has no
    // routes (zero-rate cell): the caller picks its own fallback and should say so once in the log.
    // note: 0 ≤ bucket < buckets().size() (checked).
    std::vector<std::string> pick_pools(int64_t bucket);

    const std::vector<routing_bucket>& buckets() const { return _buckets; }
    std::vector<std::string> pools() const; // every pool named by some route, sorted, without duplicates
    const std::vector<int64_t>& input_edges() const { return _input_edges; }   // [n_input_buckets + 1] tokens
    const std::vector<int64_t>& output_edges() const { return _output_edges; } // [n_output_buckets + 1] tokens

private:
    struct swrr_state; // per-bucket current weights of the smooth weighted round-robin, with its mutex
    routing_table();

    std::vector<int64_t> _input_edges;
    std::vector<int64_t> _output_edges;
    std::vector<routing_bucket> _buckets; // [n_input_buckets × n_output_buckets], input-major
    std::unique_ptr<swrr_state> _swrr;
};

} // namespace llmfleet::serve
