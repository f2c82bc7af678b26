// Replica models with closed-form step times for the simulator's tests: constant (every step takes T) and affine
// (a + b × tokens in the step), each with a chosen KV capacity.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <fmt/core.h>

#include "perf/replica_model.h"

namespace llmfleet::sim::test {

class affine_model final : public perf::replica_model {
public:
    affine_model(double base_ms, double per_token_ms, int64_t kv_tokens)
        : _base_ms(base_ms), _per_token_ms(per_token_ms), _kv_tokens(kv_tokens) {}
    double iteration_ms(const perf::iteration_shape& shape) const override {
        return _base_ms + _per_token_ms * static_cast<double>(shape.n_tokens());
    }
    int64_t kv_cache_tokens() const override { return _kv_tokens; }
    std::string describe() const override {
        return fmt::format("affine {} ms + {} ms/token, {} KV tokens", _base_ms, _per_token_ms, _kv_tokens);
    }

private:
    double _base_ms, _per_token_ms;
    int64_t _kv_tokens;
};

// Every step takes step_ms, whatever it computes.
inline std::shared_ptr<const perf::replica_model> constant_model(double step_ms, int64_t kv_tokens = 1 << 20) {
    return std::make_shared<affine_model>(step_ms, 0.0, kv_tokens);
}

} // namespace llmfleet::sim::test
