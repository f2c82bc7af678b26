// Deployment enumeration (deployments.h).
#include "perf/deployments.h"

#include <algorithm>

#include <fmt/core.h>

#include "perf/iteration_model.h"
#include "perf/params_io.h"

namespace llmfleet::perf {

std::vector<deployment_candidate> enumerate_deployments(const planner::model_arch& model,
                                                        const std::vector<planner::gpu_spec>& gpus,
                                                        const deployment_options& o) {
    std::vector<deployment_candidate> out;
    for (const planner::gpu_spec& g : gpus) {
        for (const int32_t tp : o.tp) {
            for (const int32_t pp : o.pp) {
                for (const int32_t n : o.engines_per_gpu) {
                    deployment_candidate c;
                    c.d = deployment{g.name, tp, pp, n};
                    std::string problem = deployment_problem(model, c.d);
                    if (problem.empty() && tp * pp > o.max_gpus_per_replica) {
                        problem = fmt::format("tp·pp = {} GPUs exceeds one node's {}", tp * pp, o.max_gpus_per_replica);
                    }
                    if (problem.empty()) {
                        const iteration_model m(model, g, c.d, builtin_params(g));
                        c.kv_cache_tokens = m.kv_cache_tokens();
                        if (c.kv_cache_tokens == 0) {
                            double weight_bytes = 0;
                            for (const stage_layout& s : m.stages()) {
                                weight_bytes = std::max(weight_bytes, s.weight_bytes);
                            }
                            problem =
                                fmt::format("{} × ({:.1f} GiB weights + {:.1f} GiB activations) per GPU leave no "
                                            "KV cache in {} GiB × {:.2f} usable",
                                            n, weight_bytes / 1073741824.0, m.activation_reserve_bytes() / 1073741824.0,
                                            g.memory_gib, 1.0 - m.params().memory_reserve_fraction);
                        } else if (c.kv_cache_tokens < o.min_kv_tokens) {
                            problem = fmt::format("the KV cache holds only {} tokens per replica (need ≥ {})",
                                                  c.kv_cache_tokens, o.min_kv_tokens);
                        }
                    }
                    c.feasible = problem.empty();
                    c.reason = std::move(problem);
                    out.push_back(std::move(c));
                }
            }
        }
    }
    return out;
}

} // namespace llmfleet::perf
