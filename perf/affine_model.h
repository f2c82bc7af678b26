// A replica model with a fixed affine step time (base + per-token cost) and a chosen KV capacity: closed-form step
// times for the simulator's tests, and a cheap model that times the simulator alone in its benchmark.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/core.h>

#include "perf/replica_model.h"

namespace llmfleet::perf {

class affine_model final : public replica_model {
public:
    affine_model(double base_ms, double per_token_ms, int64_t kv_tokens)
        : _base_ms(base_ms), _per_token_ms(per_token_ms), _kv_tokens(kv_tokens) {}
    double iteration_ms(const iteration_shape& shape) const override {
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

} // namespace llmfleet::perf
