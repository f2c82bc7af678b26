// The backend boundary: the engine turns a scheduler step into a forward_batch (plain arrays, no
// sequence objects) and a model_runner computes the logits. The CPU runner is in cpu_model_runner.h; a CUDA
// runner implements the same interface, so the scheduler, block manager and sampler never change.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernels/ref/sampling.h"
#include "model/config.h"

namespace llmfleet::engine {

// One step's tokens, flattened over sequences (sequence s owns tokens [seq_token_starts[s],
// seq_token_starts[s + 1])). Every vector is rebuilt in place each step to avoid allocation.
struct forward_batch {
    std::vector<int32_t> token_ids;        // [n_tokens]
    std::vector<int32_t> positions;        // [n_tokens] position of each token in its sequence
    std::vector<int32_t> slot_mapping;     // [n_tokens] KV slot = block · block_size + offset
    std::vector<int32_t> token_seq;        // [n_tokens] sequence index of each token
    std::vector<int32_t> seq_token_starts; // [n_seqs + 1]
    // [n_seqs] each sequence's block table (its KV block ids, at least enough for its last token); views
    // of the scheduler's tables, valid for this forward() only: nothing is copied per step.
    std::vector<std::span<const int32_t>> block_tables;
    std::vector<int32_t> logits_indices; // [n_logits] tokens whose logits are returned, in order

    int32_t n_tokens() const { return static_cast<int32_t>(token_ids.size()); }
    int32_t n_seqs() const { return static_cast<int32_t>(seq_token_starts.size()) - 1; }
    void clear();
};

// not thread-safe: one engine thread calls forward().
class model_runner {
public:
    virtual ~model_runner() = default;
    virtual const model::model_config& config() const = 0;
    // KV pool geometry, fixed at construction.
    virtual int32_t n_kv_blocks() const = 0;
    virtual int32_t block_size() const = 0;
    // Fills logits [n_logits, vocab_size] f32 row-major for batch.logits_indices, after storing every
    // token's K/V into its slot. The batch is valid (the engine checks ids and slots).
    virtual void forward(const forward_batch& batch, std::span<float> logits) = 0;
    // Device sampling: a backend whose logits live on a device can sample there, so that only token ids come
    // back. The engine then calls forward_sample instead of forward, with one entry per logits row.
    virtual bool samples_on_device() const { return false; }
    // Like forward, then for each logits row i: rows[i] set → tokens[i] is sampled on the device by rows[i]'s
    // parameters (kernels/ref/sampling.h); unset → logits[i · vocab, (i + 1) · vocab) is filled for the host
    // sampler (other rows of logits are left as they are). tokens [n_logits], logits [n_logits, vocab].
    virtual void forward_sample(const forward_batch& batch,
                                std::span<const std::optional<kernels::ref::sampling_row>> rows,
                                std::span<int32_t> tokens, std::span<float> logits);
    // One line for the startup log: backend, threads, weight and KV memory.
    virtual std::string describe() const = 0;
};

// Bytes of KV cache per token: layers × 2 (K, V) × kv heads × head_dim × bytes per element.
int64_t kv_bytes_per_token(const model::model_config& config, int64_t bytes_per_element);

// The model's rotary inverse frequencies [head_dim / 2] (with its llama3 rope_scaling when configured): what
// every backend and the reference forward pass rotate by.
std::vector<float> rope_inv_freq(const model::model_config& config);

} // namespace llmfleet::engine
