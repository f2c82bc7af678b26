// The reference forward pass: a Qwen2/Llama model evaluated op by op with kernels::ref in f32 over a
// whole sequence, no cache. It is the oracle for the engine's paged, batched forward pass (and later the
// CUDA backend), and it is itself checked against an independent torch implementation
// (tests/reference/reference_forward.py).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace llmfleet::engine {

class reference_model {
public:
    // Loads and validates config.json and every weight (any stored dtype, converted to f32).
    explicit reference_model(const std::string& model_dir);

    const model::model_config& config() const { return _config; }

    // Logits [ids.size(), vocab_size] (f32, row-major) for the tokens at positions 0..n-1. Throws
    // invalid_argument when an id is outside [0, vocab) or the sequence exceeds max_position_embeddings.
    std::vector<float> forward(const std::vector<int32_t>& ids) const;

private:
    struct layer {
        std::vector<float> input_norm;   // [hidden]
        std::vector<float> wq, wk, wv;   // [q_size, hidden], [kv_size, hidden] ×2
        std::vector<float> bq, bk, bv;   // [q_size], [kv_size] ×2; empty without attention bias
        std::vector<float> wo;           // [hidden, q_size]
        std::vector<float> post_norm;    // [hidden]
        std::vector<float> w_gate, w_up; // [intermediate, hidden]
        std::vector<float> w_down;       // [hidden, intermediate]
    };
    model::model_config _config;
    std::vector<float> _embed; // [vocab, hidden]
    std::vector<layer> _layers;
    std::vector<float> _norm;     // [hidden]
    std::vector<float> _lm_head;  // [vocab, hidden]; empty when tied to _embed
    std::vector<float> _inv_freq; // [head_dim / 2]
};

} // namespace llmfleet::engine
