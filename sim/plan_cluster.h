// A cluster from the planner's plan.json (schema llmfleet.plan.v1): one pool per "gpus" entry with count ≥ 1,
// each entry's optional "deployment" {gpu, tp, pp, engines_per_gpu} (absent: gpu = the entry's name, 1, 1, 1),
// count units of replicas_per_unit() replicas, the entry's price per unit, and the performance model of the
// deployment (perf::make_replica_model) on the catalog's GPU spec.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perf/measured_calibration.h"
#include "perf/replica_model.h"
#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"
#include "sim/cluster.h"

namespace llmfleet::sim {

struct plan_gpu_entry {
    std::string name; // pool name: what the routes call it
    int64_t count = 0;
    double price_usd_per_hour = 0; // per counted unit
    perf::deployment deployment;
};

struct plan_summary {
    std::vector<plan_gpu_entry> gpus;
    std::string model;             // inputs.model ("" when absent)
    std::optional<double> tpot_ms; // inputs.slo.tpot_ms: the SLO the plan was made for
    std::optional<double> ttft_ms; // inputs.slo.ttft_ms
    double cost_usd_per_hour = 0;  // the plan's own total
};

// Reads the parts of plan.json the simulator needs beyond the routing table. Throws invalid_input naming `origin`
// and the field (expected vs actual, with a hint) for another schema, a plan without a solution, a bad count,
// price or deployment. The routing table itself is checked by serve::routing_table::from_plan_json.
plan_summary parse_plan_summary(std::string_view text, std::string_view origin);

// The cluster for `plan_text`: pools with count ≥ 1, models from make_replica_model(model, catalog GPU,
// deployment). Throws invalid_input for a GPU type missing from the catalog (listing the known ones), a
// deployment the model cannot run, a model that does not fit, or anything parse_plan_summary or the routing
// table refuses.
// `params` (optional): measured calibrations replacing the built-in parameters of their GPU types.
cluster_spec cluster_from_plan(const std::string& plan_text, const std::string& origin,
                               const planner::model_arch& model, const planner::gpu_catalog& catalog,
                               const perf::params_overrides* params = nullptr);

} // namespace llmfleet::sim
