// The CUDA backend on one GPU: weights in bf16 on the device (fused QKV and gate/up projections, as the CPU shard
// has them), GEMMs through cuBLASLt, our kernels (kernels/cuda) for everything else, a paged bf16 KV pool sized from
// the memory budget, decode steps replayed from CUDA graphs captured per padded batch size, and sampling on the
// device so that only token ids come back.
//
// Numerics: the residual stream is f32; GEMM inputs, the KV cache and attention outputs are bf16, with f32
// accumulation everywhere. The o_proj and down_proj GEMMs add straight into the residual (beta = 1).
//
// Memory (logged at startup): budget = gpu_memory_fraction × the GPU's total memory; weights, activations (sized for
// max_num_batched_tokens tokens and max_num_seqs logits rows), workspaces and a reserve for graphs come out of it and
// the rest is the KV pool. Nothing assumes the whole GPU: several engines share one under MPS with fractions that
// add up to at most 1. The budget must also fit in the memory free at startup (else resource_exhausted).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/cuda_engine.h"
#include "engine/model_runner.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/kv_cache.cuh"
#include "parallel/communicator.h"
#include "parallel/layout.h"

namespace llmfleet::engine {

// not thread-safe: one engine thread calls forward().
class cuda_model_runner final : public model_runner {
public:
    // One GPU, the whole model.
    explicit cuda_model_runner(const cuda_engine_options& options);
    // One tensor-parallel rank (layout.pp must be 1): its heads, KV heads, ffn columns and vocabulary slice, with
    // tp_comm (size layout.tp) for the all-reduces of the row-parallel outputs and the all-gather of the logits.
    // Collective over tp_comm (the ranks agree on the smallest KV pool). NCCL communicators take the device buffers
    // in place; others (threads) go through host copies. CUDA graphs are off with tp > 1.
    cuda_model_runner(const cuda_engine_options& options, const parallel::rank_layout& layout,
                      parallel::communicator* tp_comm);
    ~cuda_model_runner() override;

    const model::model_config& config() const override { return _config; }
    int32_t n_kv_blocks() const override { return static_cast<int32_t>(_n_kv_blocks); }
    int32_t block_size() const override { return _block_size; }
    void forward(const forward_batch& batch, std::span<float> logits) override;
    bool samples_on_device() const override { return true; }
    void forward_sample(const forward_batch& batch, std::span<const std::optional<kernels::ref::sampling_row>> rows,
                        std::span<int32_t> tokens, std::span<float> logits) override;
    std::string describe() const override;

    // A follower rank's step: the forward pass of batch, whose logits stay on the device (rank 0 returns them).
    void run_step(const forward_batch& batch);

    int64_t weight_bytes() const { return _weight_bytes; }
    int32_t n_graphs() const { return static_cast<int32_t>(_graphs.size()); }

private:
    using bf16 = kernels::cuda::bf16;
    template <typename T> using dbuf = kernels::cuda::device_buffer<T>;

    struct layer {
        dbuf<bf16> input_norm; // [hidden]
        dbuf<bf16> w_qkv;      // [q + 2 kv, hidden]
        dbuf<bf16> b_qkv;      // [q + 2 kv]; empty without attention bias
        dbuf<bf16> wo;         // [hidden, q]
        dbuf<bf16> post_norm;  // [hidden]
        dbuf<bf16> w_gate_up;  // [2 ffn, hidden]
        dbuf<bf16> w_down;     // [hidden, ffn]
        dbuf<bf16> k_cache;    // [n_kv_blocks, block_size, kv_heads, head_dim]
        dbuf<bf16> v_cache;    // [n_kv_blocks, block_size, kv_heads, head_dim]
    };
    // A step's metadata at fixed offsets (the captured graphs read them there): the pinned host copy is filled,
    // then each used prefix is copied to the device copy.
    struct step_meta {
        int32_t* token_ids;        // [max_tokens]
        int32_t* positions;        // [max_tokens]
        int32_t* slot_mapping;     // [max_tokens] (−1: a padding row)
        int32_t* seq_token_starts; // [max_seqs + 1]
        int32_t* seq_lens;         // [max_seqs] tokens in the cache after this step (decode: position + 1)
        int32_t* logits_rows;      // [max_seqs] the token rows whose logits are computed
        int32_t* block_tables;     // [max_seqs, max_blocks_per_seq]
    };
    // What one step runs: sizes and the attention kind (decode: one query per sequence).
    struct step_shape {
        int32_t n_tokens = 0, n_seqs = 0, n_logits = 0;
        bool decode = false;
        int32_t max_seq_len = 0; // decode: the split-K grid's length bound
        int32_t max_q_len = 0;   // prefill: the longest query run
    };

    void load_weights(const std::string& model_dir);
    void agree_on_kv_blocks(); // the smallest pool of the tp ranks
    void all_reduce(float* device_buf, int64_t n);
    void gather_logits(int32_t n_rows); // tp > 1: _local_logits of every rank → _logits [n_rows, vocab]
    void plan_memory(const cuda_engine_options& options);
    step_meta meta_view(int32_t* base) const;
    // Fills the pinned metadata from batch (padded to `padded` decode rows when > 0) and returns the step's shape.
    step_shape stage_batch(const forward_batch& batch, int32_t padded);
    void upload_meta(const step_shape& shape);
    void run_model(const step_shape& shape); // metadata upload → logits [n_logits, vocab] f32 on the device
    void run_layers(const step_shape& shape);
    void compute_logits(const forward_batch& batch); // eager or from a graph; leaves _logits filled

    model::model_config _config;
    parallel::rank_layout _layout;
    parallel::communicator* _tp_comm = nullptr; // null when tp == 1
    int32_t _n_heads = 0, _n_kv_heads = 0;      // this rank's
    int64_t _q = 0, _kv = 0, _ffn = 0;          // this rank's q and kv widths, ffn columns
    int32_t _device = 0;
    cudaStream_t _stream = nullptr;
    int64_t _n_kv_blocks = 0;
    int32_t _block_size = 16;
    int32_t _max_tokens = 0, _max_seqs = 0, _max_model_len = 0, _max_blocks_per_seq = 0;
    int32_t _graph_max_seq_len = 0; // decode steps with longer contexts run eagerly
    bool _use_graphs = true;
    int64_t _weight_bytes = 0, _activation_bytes = 0;
    std::string _memory_line; // the startup log's memory breakdown

    dbuf<bf16> _embed;     // [vocab, hidden]
    dbuf<bf16> _norm;      // [hidden]
    dbuf<bf16> _lm_head;   // [vocab, hidden]; empty when tied to _embed
    dbuf<float> _inv_freq; // [head_dim / 2]
    std::vector<layer> _layers;

    // Activations, sized for _max_tokens tokens / _max_seqs logits rows.
    dbuf<float> _residual;          // [max_tokens, hidden] f32
    dbuf<bf16> _normed;             // [max_tokens, hidden]
    dbuf<bf16> _qkv;                // [max_tokens, q + 2 kv]
    dbuf<bf16> _attn;               // [max_tokens, q]
    dbuf<bf16> _gate_up;            // [max_tokens, 2 ffn]
    dbuf<bf16> _act;                // [max_tokens, ffn]
    dbuf<bf16> _final_normed;       // [max_seqs, hidden]
    dbuf<float> _logits;            // [max_seqs, vocab] f32
    dbuf<float> _delta;             // tp > 1: [max_tokens, hidden] a row-parallel GEMM's partial sum, then all-reduced
    dbuf<float> _local_logits;      // tp > 1: [max_seqs, vocab_shard] this rank's slice, padded
    dbuf<float> _gathered;          // tp > 1: [tp, max_seqs, vocab_shard]
    std::vector<float> _host_stage; // tp > 1 without NCCL: the collectives' host copies
    dbuf<float> _decode_ws;         // split-K decode attention scratch
    dbuf<std::byte> _sample_ws;     // sampling scratch
    dbuf<kernels::ref::sampling_row> _sample_rows;                       // [max_seqs]
    dbuf<int32_t> _tokens;                                               // [max_seqs] sampled ids
    dbuf<int32_t> _meta_device;                                          // step_meta's layout
    kernels::cuda::pinned_buffer<int32_t> _meta_host;                    // the same layout, pinned
    kernels::cuda::pinned_buffer<kernels::ref::sampling_row> _rows_host; // [max_seqs]
    kernels::cuda::pinned_buffer<int32_t> _tokens_host;                  // [max_seqs]
    int64_t _meta_ints = 0;

    std::unique_ptr<kernels::cuda::gemm_runner> _gemm; // made once the device is current
    std::map<int32_t, cudaGraphExec_t> _graphs;        // decode graphs by padded batch size
    std::vector<int32_t> _buckets;                     // the padded sizes, ascending
    step_shape _last_shape;                            // of the step computed last
};

} // namespace llmfleet::engine
