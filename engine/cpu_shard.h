// One rank's part of the model on the CPU: the weights of its pipeline stage's layers, sliced for its
// tensor-parallel rank (parallel/layout.h), read straight from the safetensors mapping (only this rank's rows and
// columns are touched, never the whole model), converted to f32, and the paged KV cache of those layers and KV
// heads. A single-device runner is the shard of a 1 × 1 layout. The forward pass comes in three pieces that a
// runner strings together per (micro-)batch: embed (first stage), layers (every stage), logits (last stage).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "engine/model_runner.h"
#include "engine/shard_weights.h"
#include "parallel/communicator.h"
#include "parallel/layout.h"

namespace llmfleet::engine {

struct cpu_shard_options {
    int64_t n_kv_blocks = 0; // KV pool size in blocks (> 0)
    int32_t block_size = 16; // token slots per block
    int32_t n_threads = 0;   // 0 → default_thread_count()
};

// not thread-safe: one rank thread drives it.
class cpu_shard {
public:
    // tp_comm: this stage's tensor-parallel group (size layout.tp, rank layout.tp_rank); null when tp == 1.
    // Throws llmfleet::error naming the file or tensor.
    cpu_shard(const std::string& model_dir, const parallel::rank_layout& layout, cpu_shard_options options,
              parallel::communicator* tp_comm);

    const model::model_config& config() const { return _config; }
    const parallel::rank_layout& layout() const { return _layout; }
    int64_t n_kv_blocks() const { return _n_kv_blocks; }
    int32_t block_size() const { return _block_size; }
    int32_t n_threads() const { return _pool.n_threads(); }
    int64_t weight_bytes() const;  // f32 bytes of the weights this rank holds
    int64_t kv_pool_bytes() const; // f32 bytes of its KV cache
    std::string describe() const;  // "layers [0, 24), heads [0, 7) …, weights 0.93 GiB, KV 1024 blocks …"

    // x [n, hidden] ← the embeddings of token_ids [n] (vocab-parallel: local rows, then all-reduce). First stage.
    void embed(std::span<const int32_t> token_ids, float* x);
    // This stage's layers over batch, in place on x [batch.n_tokens(), hidden]; stores the batch's K/V.
    void layers(const forward_batch& batch, float* x);
    // logits [rows, vocab] of the final-normed x rows `rows` (vocab-parallel head, then all-gather: every tp
    // rank ends with the whole rows). Last stage.
    void logits(const float* x, std::span<const int32_t> rows, float* logits);

    // KV bytes per block for `layout` (its layers and KV heads, f32): what sizes a rank's pool from its budget.
    static int64_t kv_bytes_per_block(const model::model_config& config, const parallel::rank_layout& layout,
                                      int32_t block_size);

private:
    struct layer {
        layer_weights w;
        // [n_kv_blocks, block_size, kv_heads_local, head_dim], left uninitialised: a slot is always written
        // before it is read, and untouched pages of a large pool cost no memory.
        std::unique_ptr<float[]> k_cache, v_cache;
    };
    struct scratch {
        std::vector<float> normed, qkv, attn, proj, gate_up, act, cos, sin, last_normed, local_logits, gathered;
    };
    void all_reduce(float* buf, int64_t n); // over the tp group; nothing at tp = 1

    model::model_config _config;
    parallel::rank_layout _layout;
    parallel::communicator* _tp_comm;
    int64_t _n_kv_blocks;
    int32_t _block_size;
    int64_t _q_local, _kv_local, _ffn_local; // this rank's q and kv widths (heads × head_dim), ffn columns
    thread_pool _pool;
    std::vector<float> _embed; // [vocab_local, hidden] (first stage, or last stage with tied embeddings)
    std::vector<layer> _layers;
    std::vector<float> _norm;     // [hidden] (last stage)
    std::vector<float> _lm_head;  // [vocab_local, hidden] (last stage); empty when tied to _embed
    std::vector<float> _inv_freq; // [head_dim / 2]
    scratch _s;
};

} // namespace llmfleet::engine
