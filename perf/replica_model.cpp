// The factory of the calibrated replica model (replica_model.h).
#include "perf/replica_model.h"

#include <utility>

#include "perf/iteration_model.h"
#include "perf/params_io.h"

namespace llmfleet::perf {

std::unique_ptr<replica_model> make_replica_model(const planner::model_arch& model, const planner::gpu_spec& gpu,
                                                  const deployment& d) {
    return std::make_unique<iteration_model>(model, gpu, d, builtin_params(gpu));
}

std::unique_ptr<replica_model> make_replica_model(const planner::model_arch& model, const planner::gpu_spec& gpu,
                                                  const deployment& d, perf_params params) {
    return std::make_unique<iteration_model>(model, gpu, d, std::move(params));
}

} // namespace llmfleet::perf
