// Joint planning: the planner's choice widened from "GPU type" to "deployment" (GPU type × tp × pp × engines per
// GPU). Each feasible deployment becomes an offer priced at its GPUs' sum, with a throughput profile from the
// performance model (or the measured profile for a plain deployment when one was given); availability limits
// become per-GPU-type limits shared by that type's deployments. The MILP itself is unchanged (planner/solver.h).
#pragma once

#include <string>
#include <vector>

#include "perf/deployments.h"
#include "perf/measured_calibration.h"
#include "perf/replica_capacity.h"
#include "planner/scenario.h"

namespace llmfleet::perf {

// The capacity analysis with our engine's scheduler defaults (engine/scheduler.h: 2048 tokens per step, 256
// sequences), which the simulator also runs, so that planned and simulated replicas batch alike.
capacity_options engine_capacity_options();

struct joint_options {
    deployment_options search;                             // the tp / pp / engines-per-GPU values to consider
    capacity_options capacity = engine_capacity_options(); // engine limits assumed by the capacity analysis
    bool keep_measured = true; // plain deployments keep the --profile file's measured rates when one is given
    params_overrides params;   // measured calibrations (--calibration) in place of built-in parameters
};

// Only plain deployments (tp = pp = 1, one engine per GPU): Mélange's search space.
deployment_options plain_search();

struct joint_scenario {
    planner::scenario base;                       // problem.gpus: one offer per feasible (or plain) deployment
    std::vector<deployment_candidate> candidates; // every combination considered, with why it was rejected
    std::vector<std::string> profile_sources;     // [n_offers] "measured (FILE)" or the replica model's describe()
};

// Builds the scenario of `options` (workload, prices, model, SLO) and replaces its offers by the feasible
// deployments. A plain deployment that cannot run the model stays, with zero throughput, so that the solver says
// "no plan" with its reason (the candidates say why; --explain prints them).
joint_scenario build_joint_scenario(const planner::scenario_options& options, const joint_options& joint);

// "GPU → deployment → reason" lines for every rejected candidate (for --explain).
std::string explain_candidates(const std::vector<deployment_candidate>& candidates);

} // namespace llmfleet::perf
