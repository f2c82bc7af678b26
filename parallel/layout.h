// How a model is split over tp × pp ranks (the Megatron / vLLM scheme):
//   world rank = stage · tp + tp rank; stage s holds consecutive layers [layer_begin, layer_end), its own KV cache
//   for them, and (first stage) the embedding / (last stage) the final norm and LM head.
//   Inside a stage, tensor parallelism splits each layer: column-parallel q/k/v and gate/up projections (rank r holds
//   its heads' rows and its slice of the intermediate size), row-parallel o_proj and down_proj (the matching
//   columns; the partial sums are all-reduced), a vocabulary-parallel embedding (each rank looks up its vocab rows,
//   then all-reduce) and LM head (each rank's logits slice, then all-gather).
// KV heads: when tp divides n_kv_heads each rank holds n_kv_heads / tp of them; when n_kv_heads < tp and
// n_kv_heads divides tp, each KV head is replicated on tp / n_kv_heads ranks (as vLLM does), so that every rank
// holds exactly the KV head its query heads read. Anything else is refused with the tp values that would work.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace llmfleet::parallel {

struct parallel_config {
    int32_t tp = 1;                      // tensor-parallel degree
    int32_t pp = 1;                      // pipeline stages
    std::vector<int32_t> pp_layers = {}; // layers per stage (Σ = n_layers); empty → as even as possible
    int32_t n_micro_batches = 0;         // pipeline micro-batches per step; 0 → pp (at least as many as stages)

    int32_t world_size() const { return tp * pp; }
};

// Checks the config against the model; throws invalid_argument naming the flag, the model's numbers and the
// values that would work ("--tp 4: the 14 attention heads do not divide by 4; --tp values that work for this
// model: 1, 2, 7, 14").
void validate(const parallel_config& config, const model::model_config& model);

// The tp values (1..n_heads) that the model allows: heads, intermediate size and KV heads (shared or
// replicated) all split evenly.
std::vector<int32_t> valid_tp_values(const model::model_config& model);

// Layers of each stage: pp_layers when given, else n_layers / pp with the first n_layers % pp stages one more.
std::vector<int32_t> stage_layer_counts(const parallel_config& config, int64_t n_layers);

// A half-open range of an axis: [begin, end).
struct shard_range {
    int64_t begin = 0, end = 0;
    int64_t size() const { return end - begin; }
};

// What world rank `rank` holds, in the model's units.
struct rank_layout {
    int32_t rank = 0, tp_rank = 0, stage = 0, tp = 1, pp = 1;
    shard_range layers;      // of the model's layers
    shard_range heads;       // query heads
    shard_range kv_heads;    // KV heads (one replicated head when n_kv_heads < tp)
    shard_range ffn;         // columns of the intermediate size
    shard_range vocab;       // vocabulary rows held (the last rank's may be short, or empty)
    int64_t vocab_shard = 0; // ceil(vocab / tp): every rank's logits slice is padded to this for all-gather

    bool first_stage() const { return stage == 0; }
    bool last_stage() const { return stage == pp - 1; }
    // World ranks of the same tp rank in the previous / next stage (−1 at the ends).
    int32_t prev_stage_rank() const { return first_stage() ? -1 : rank - tp; }
    int32_t next_stage_rank() const { return last_stage() ? -1 : rank + tp; }
    std::string describe() const; // "rank 3 (stage 1, tp 1/2): layers [12, 24), heads [7, 14), kv heads [1, 2)…"
};

// note: call validate(config, model) first.
rank_layout make_rank_layout(const parallel_config& config, const model::model_config& model, int32_t rank);

} // namespace llmfleet::parallel
