// One rank's weights read from a Hugging Face model directory, sliced for its place in the tensor × pipeline layout
// (parallel/layout.h) and converted to f32: what every backend's shard starts from. Only this rank's rows and
// columns of each tensor are read from the safetensors mapping; q/k/v and gate/up projections come out fused (rows
// stacked), as the forward passes use them. The CPU shard keeps these vectors; the CUDA runner rounds them to bf16
// and uploads them one layer at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/weights.h"
#include "parallel/layout.h"

namespace llmfleet::engine {

// One decoder layer's weights for a rank (q_local = its heads × head_dim, kv_local = its KV heads × head_dim,
// ffn_local = its intermediate columns), f32, row-major.
struct layer_weights {
    std::vector<float> input_norm; // [hidden]
    std::vector<float> w_qkv;      // [q_local + 2 kv_local, hidden]: this rank's q, k, v rows stacked
    std::vector<float> b_qkv;      // [q_local + 2 kv_local]; empty without attention bias
    std::vector<float> wo;         // [hidden, q_local]: this rank's columns of o_proj
    std::vector<float> post_norm;  // [hidden]
    std::vector<float> w_gate_up;  // [2 ffn_local, hidden]: gate rows, then up rows
    std::vector<float> w_down;     // [hidden, ffn_local]

    int64_t n_floats() const;
};

// not thread-safe. Keeps the safetensors files mapped while it lives.
class shard_weight_reader {
public:
    // Validates every tensor's shape and dtype against config (headers only). Throws llmfleet::error naming the file
    // or tensor.
    shard_weight_reader(const std::string& model_dir, const model::model_config& config,
                        const parallel::rank_layout& layout);

    // The embedding rows of this rank's vocabulary slice [vocab_local, hidden]: the first stage needs them, and the
    // last stage when the head is tied to them.
    bool has_embed() const;
    std::vector<float> embed() const;
    // Layer i (a global index in layout.layers).
    layer_weights layer(int64_t i) const;
    // The final norm [hidden] and, unless tied, lm_head's vocabulary slice [vocab_local, hidden] (last stage).
    std::vector<float> final_norm() const;
    std::vector<float> lm_head() const; // empty when tie_word_embeddings

private:
    std::vector<float> whole(const std::string& name) const;
    std::vector<float> rows(const std::string& name, int64_t begin, int64_t end) const;
    std::vector<float> cols(const std::string& name, int64_t begin, int64_t end) const;

    const model::model_config& _config;
    parallel::rank_layout _layout;
    model::weight_store _store;
};

} // namespace llmfleet::engine
