// Replica models with closed-form step times for the simulator's tests: constant (every step takes T) and affine
// (a + b × tokens in the step), each with a chosen KV capacity.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "perf/affine_model.h"

namespace llmfleet::sim::test {

using perf::affine_model;

// Every step takes step_ms, whatever it computes.
inline std::shared_ptr<const perf::replica_model> constant_model(double step_ms, int64_t kv_tokens = 1 << 20) {
    return std::make_shared<affine_model>(step_ms, 0.0, kv_tokens);
}

} // namespace llmfleet::sim::test
