// Backend selection within one pool: round robin, least outstanding requests, least outstanding tokens. A pure
// function over a load snapshot, so the router server, the planner and the simulator share one implementation.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace llmfleet::serve {

enum class routing_policy { round_robin, least_requests, least_tokens };
std::string_view to_string(routing_policy p); // "round-robin", "least-requests", "least-tokens"
// Inverse of to_string; throws invalid_input naming the text and listing the choices.
routing_policy parse_routing_policy(std::string_view text);

// One backend's snapshot at pick time.
struct backend_load {
    bool available = true;            // healthy or half-open probe allowed, and under its outstanding cap (circuit)
    int64_t outstanding_requests = 0; // requests sent and not yet finished
    int64_t outstanding_tokens = 0;   // Σ over in-flight requests of (prompt tokens + predicted output tokens)
};

// Index of the chosen backend, or -1 when none is available (empty span included).
// `cursor` is the pool's round-robin state (start at 0), advanced by the call to one past the chosen index, so
// skipping an unavailable backend does not give its turn to its neighbour twice.
// - round_robin: the first available backend at or after cursor (mod n).
// - least_requests / least_tokens: the minimum load among available backends; ties are broken by the same
//   rotation from cursor, so equal loads spread evenly instead of always going to the lowest index.
// not thread-safe: the caller holds the pool's lock (cursor and the snapshot belong together).
int pick_backend(routing_policy policy, std::span<const backend_load> backends, uint64_t& cursor);

} // namespace llmfleet::serve
