// The CPU backend: the model's weights converted to f32 in memory (fused QKV and gate/up projections), a
// paged f32 KV pool, and a forward pass over kernels::cpu (OpenBLAS GEMMs, threaded attention).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "engine/engine.h"
#include "engine/model_runner.h"

namespace llmfleet::engine {

struct cpu_runner_options {
    int64_t n_kv_blocks = 0; // KV pool size in blocks (> 0)
    int32_t block_size = 16; // token slots per block
    int32_t n_threads = 0;   // 0 → default_thread_count()
};

class cpu_model_runner final : public model_runner {
public:
    // Loads config.json (+ generation_config.json) and every weight, validated against the config.
    // Throws llmfleet::error naming the file or tensor.
    cpu_model_runner(const std::string& model_dir, cpu_runner_options options);

    const model::model_config& config() const override { return _config; }
    int32_t n_kv_blocks() const override { return static_cast<int32_t>(_n_kv_blocks); }
    int32_t block_size() const override { return _block_size; }
    void forward(const forward_batch& batch, std::span<float> logits) override;
    std::string describe() const override;

    int64_t weight_bytes() const; // f32 bytes of all weights held (what one decode step reads)

private:
    struct layer {
        std::vector<float> input_norm; // [hidden]
        std::vector<float> w_qkv;      // [q_size + 2 kv_size, hidden]: q, k, v rows stacked
        std::vector<float> b_qkv;      // [q_size + 2 kv_size]; empty without attention bias
        std::vector<float> wo;         // [hidden, q_size]
        std::vector<float> post_norm;  // [hidden]
        std::vector<float> w_gate_up;  // [2 intermediate, hidden]: gate rows, then up rows
        std::vector<float> w_down;     // [hidden, intermediate]
        // [n_kv_blocks, block_size, n_kv_heads, head_dim], left uninitialised: a slot is always written
        // before it is read, and untouched pages of a large pool cost no memory.
        std::unique_ptr<float[]> k_cache, v_cache;
    };
    struct scratch {
        std::vector<float> x, normed, qkv, attn, proj, gate_up, act, cos, sin, last_normed;
    };

    model::model_config _config;
    int64_t _n_kv_blocks;
    int32_t _block_size;
    thread_pool _pool;
    std::vector<float> _embed; // [vocab, hidden]
    std::vector<layer> _layers;
    std::vector<float> _norm;     // [hidden]
    std::vector<float> _lm_head;  // [vocab, hidden]; empty when tied to _embed
    std::vector<float> _inv_freq; // [head_dim / 2]
    scratch _s;
};

// An engine over the CPU runner with the KV pool sized in GiB (what --kv-cache-gib sets), and the model
// directory's tokenizer.json when there is one.
struct cpu_engine_options {
    std::string model_dir;
    double kv_cache_gib = 1.0;
    int32_t block_size = 16;
    int32_t n_threads = 0; // 0 → default_thread_count()
    engine_config engine;
};
// Throws llmfleet::error: unreadable model, or a pool smaller than one block ("raise --kv-cache-gib").
std::unique_ptr<engine> make_cpu_engine(const cpu_engine_options& options, const clock_source* clock = nullptr);

} // namespace llmfleet::engine
