// The discrete-event simulator: requests arrive, the router (sim/router.h, over serve/router's policies) picks a
// replica, and each replica (sim/replica.h, over the engine's scheduler and block manager) runs steps whose
// durations come from its perf::replica_model. Three kinds of event, ordered by (time, kind, replica):
//   step_end (a replica's step finishes: tokens, finishes) < arrival (routing) < step_start (a replica plans its
//   next step),
// so that a step sees every request that arrived at the instant it starts, and a request arriving as a step ends
// is not in that step. Deterministic: same inputs → identical report (wall-time fields aside).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sim/arrivals.h"
#include "sim/cluster.h"
#include "sim/replica.h"
#include "sim/report.h"
#include "sim/router.h"

namespace llmfleet::sim {

enum class event_kind : uint8_t { step_end = 0, arrival = 1, step_start = 2 };
std::string_view to_string(event_kind kind);

// One processed event, for tests and debugging (the clock must never go backwards along them).
struct event_record {
    double time_s = 0;
    event_kind kind = event_kind::arrival;
    int32_t replica = -1; // −1 for an arrival that was rejected
    int64_t request = -1; // arrival index for arrivals, −1 for steps
};

// What happened to one request, for tests: exactly one of finished / rejected.
struct request_outcome {
    bool finished = false;
    std::optional<reject_reason> rejected;
    int32_t replica = -1;
    double ttft_s = -1, e2e_s = -1, queueing_s = -1; // −1 when rejected
};

struct simulator_options {
    replica_config replica;        // scheduler config (engine defaults), block size, prefix caching, max_model_len
    router_options routing;        // policy (least-tokens), outstanding cap, predictor
    bool max_tokens_known = false; // clients send max_tokens = the output length (the predictor is capped by it)
    double slo_tpot_ms = 50;
    std::optional<double> slo_ttft_ms;
    std::vector<event_record>* event_log = nullptr;      // when set: every event, in processing order
    std::vector<request_outcome>* request_log = nullptr; // when set: [n requests] each one's outcome
};

// Runs the whole simulation. Throws invalid_input for a bad cluster (no replicas, a model that leaves no KV block,
// a plan routing to a pool without replicas, a malformed plan) or options (SLO ≤ 0).
sim_report simulate(const cluster_spec& cluster, const arrivals& input, const simulator_options& options);

} // namespace llmfleet::sim
