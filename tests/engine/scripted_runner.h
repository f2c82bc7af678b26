// A model runner with scripted logits, for tests of the engine and of what drives it (engine loop, server):
// vocab 16, and the logits of a sequence whose last token is at position p prefer token (p + 1) % 14, or eos
// id 14 from position eos_from − 1 on; a sequence whose last token is nan_after_token gets a NaN logit; each
// forward() sleeps step_delay.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "common/error.h"
#include "engine/model_runner.h"

namespace llmfleet::engine {

class scripted_runner final : public model_runner {
public:
    explicit scripted_runner(int32_t eos_from) : _eos_from(eos_from) {
        _config.vocab_size = 16;
        _config.max_position_embeddings = 64;
        _config.n_layers = 1;
        _config.n_kv_heads = 1;
        _config.head_dim = 2;
        _config.eos_token_ids = {15, 14};
    }
    const model::model_config& config() const override { return _config; }
    int32_t n_kv_blocks() const override { return 16; }
    int32_t block_size() const override { return 4; }
    void forward(const forward_batch& batch, std::span<float> logits) override {
        if (step_delay.count() > 0) {
            std::this_thread::sleep_for(step_delay); // stands in for a model's time per step
        }
        if (fail_at_step >= 0 && _n_steps++ == fail_at_step) {
            throw error(status_code::unavailable, "rank 1 failed: injected"); // e.g. a parallel rank died
        }
        std::fill(logits.begin(), logits.end(), 0.0f);
        for (size_t i = 0; i < batch.logits_indices.size(); ++i) {
            const int32_t token = batch.token_ids[batch.logits_indices[i]];
            const int32_t pos = batch.positions[batch.logits_indices[i]];
            logits[i * 16 + (pos + 1 >= _eos_from ? 14 : (pos + 1) % 14)] = 5.0f;
            if (token == nan_after_token) {
                logits[i * 16 + 3] = NAN; // a broken model output for this sequence only
            }
        }
    }
    int32_t nan_after_token = -1;
    int32_t fail_at_step = -1; // forward() number fail_at_step throws

    std::chrono::milliseconds step_delay{0};
    std::string describe() const override { return "scripted"; }

private:
    model::model_config _config;
    int32_t _eos_from;
    int32_t _n_steps = 0;
};

} // namespace llmfleet::engine
