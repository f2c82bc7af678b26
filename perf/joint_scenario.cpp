// See joint_scenario.h.
#include "perf/joint_scenario.h"

#include <map>

#include <fmt/core.h>

#include "common/check.h"
#include "common/error.h"
#include "perf/iteration_model.h"

namespace llmfleet::perf {

capacity_options engine_capacity_options() {
    capacity_options o;
    o.max_num_seqs = 256;        // = engine::scheduler_config{}.max_num_seqs (tests/sim checks they agree)
    o.max_batched_tokens = 2048; // = engine::scheduler_config{}.max_num_batched_tokens
    return o;
}

deployment_options plain_search() {
    deployment_options o;
    o.tp = {1};
    o.pp = {1};
    o.engines_per_gpu = {1};
    return o;
}

namespace {

// Per-offer limits of the plain scenario (--max-gpus TYPE=N) become limits on the type's GPUs in all deployments.
std::vector<planner::gpu_type_limit> type_limits(const planner::plan_problem& plain) {
    std::vector<planner::gpu_type_limit> limits;
    for (const planner::gpu_offer& o : plain.gpus) {
        if (o.max_count >= 0) {
            limits.push_back({o.name, o.max_count});
        }
    }
    return limits;
}

} // namespace

joint_scenario build_joint_scenario(const planner::scenario_options& options, const joint_options& joint) {
    joint_scenario out;
    out.base = planner::build_scenario(options);
    planner::scenario& s = out.base;
    const planner::plan_problem plain = s.problem;
    const bool measured = options.profile_path.has_value() && joint.keep_measured;
    out.candidates = enumerate_deployments(s.model, s.gpus, joint.search);

    planner::plan_problem& p = s.problem;
    p.gpus.clear();
    p.max_rps.clear();
    p.gpu_limits = type_limits(plain);
    s.profile.max_rps.clear();
    for (const deployment_candidate& c : out.candidates) {
        // A plain deployment stays an offer even when it cannot run the model (zero throughput everywhere), so
        // that "no plan" is the solver's answer with its reason, as for Mélange's planning.
        if (!c.feasible && !c.d.is_plain()) {
            continue;
        }
        int64_t g = 0;
        while (plain.gpus[g].name != c.d.gpu) {
            ++g;
        }
        const std::string name = c.d.is_plain() ? c.d.gpu : c.d.label();
        planner::matrix rps;
        if (!c.feasible) {
            rps = planner::matrix(s.demand.grid.n_input, s.demand.grid.n_output);
            out.profile_sources.push_back(fmt::format("cannot run: {}", c.reason));
        } else if (measured && c.d.is_plain()) {
            rps = planner::matrix(s.demand.grid.n_input, s.demand.grid.n_output);
            rps.data = plain.max_rps[g];
            out.profile_sources.push_back(fmt::format("measured ({})", *options.profile_path));
        } else {
            const std::unique_ptr<replica_model> replica =
                make_replica_model(s.model, s.gpus[g], c.d, joint.params.params_for(s.gpus[g]));
            rps = deployment_profile(*replica, c.d, s.demand.grid, s.target, joint.capacity);
            out.profile_sources.push_back(replica->describe());
        }
        // A plain deployment keeps the offer's plain form (no config) so that plans read exactly as Mélange's.
        planner::deployment config = c.d.is_plain() ? planner::deployment{} : c.d;
        p.gpus.emplace_back(name, plain.gpus[g].price_usd_per_hour * c.d.gpus_per_unit(), -1, config);
        p.max_rps.push_back(rps.data);
        s.profile.max_rps[name] = std::move(rps);
    }
    LLMFLEET_CHECK(!p.gpus.empty(), "every planned GPU type keeps its plain offer");
    s.profile.source = measured ? fmt::format("{} (plain) + performance model", *options.profile_path)
                                : std::string("performance model (perf/, docs/perfmodel.md)");
    planner::check_problem(p);
    return out;
}

std::string explain_candidates(const std::vector<deployment_candidate>& candidates) {
    std::string out;
    for (const deployment_candidate& c : candidates) {
        if (!c.feasible) {
            out += fmt::format("  {}: {}\n", c.d.label(), c.reason);
        }
    }
    return out;
}

} // namespace llmfleet::perf
