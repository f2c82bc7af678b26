// The CUDA runner's host-side decisions, free of CUDA so that CPU tests check them: which decode steps replay a
// CUDA graph and at which padded size, and how many KV blocks a memory budget holds.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model_runner.h"

namespace llmfleet::engine {

// The padded decode batch sizes graphs are captured for: 1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 224,
// 256 below max_num_seqs, then min(max_num_seqs, 256); ascending, never empty (max_num_seqs ≥ 1).
std::vector<int32_t> decode_graph_buckets(int32_t max_num_seqs);

// The bucket whose graph serves batch, or 0 when it runs eagerly: it must be a pure decode step (one token per
// sequence, every sequence sampling), fit the largest bucket, and have every context ≤ graph_max_seq_len.
int32_t graph_bucket_for(const forward_batch& batch, const std::vector<int32_t>& buckets, int32_t graph_max_seq_len);

struct kv_memory_plan {
    int64_t budget_bytes = 0; // fraction × total
    int64_t kv_bytes = 0;     // what the pool may take (≤ 0: nothing)
    int64_t n_blocks = 0;     // kv_bytes / block_bytes, 0 when none fits
};
// The KV pool from the GPU's memory: the budget (fraction × total) minus what is fixed (weights, activations,
// workspaces, the graphs' reserve), and never more than the memory free now minus the reserve (other engines
// under MPS hold the rest).
kv_memory_plan plan_kv_memory(int64_t total_bytes, int64_t free_bytes, double fraction, int64_t fixed_bytes,
                              int64_t reserve_bytes, int64_t block_bytes);

} // namespace llmfleet::engine
