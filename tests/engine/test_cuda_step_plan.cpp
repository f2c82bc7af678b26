// The CUDA runner's host-side decisions (engine/cuda_step_plan.h), on the CPU: the decode graph buckets, which steps
// replay a graph and at which padded size, and the KV pool a memory budget holds (hand-computed answers).
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/cuda_step_plan.h"

namespace llmfleet::engine {
namespace {

// A batch of sequences with the given new-token counts, the last token of each at `position`, sampling as told.
forward_batch batch_of(const std::vector<int32_t>& n_new, int32_t position, bool all_sample = true) {
    forward_batch b;
    b.clear();
    for (size_t s = 0; s < n_new.size(); ++s) {
        for (int32_t j = 0; j < n_new[s]; ++j) {
            b.token_ids.push_back(1);
            b.positions.push_back(position - n_new[s] + 1 + j);
            b.slot_mapping.push_back(0);
            b.token_seq.push_back(static_cast<int32_t>(s));
        }
        if (all_sample || s > 0) {
            b.logits_indices.push_back(b.n_tokens() - 1);
        }
        b.seq_token_starts.push_back(b.n_tokens());
    }
    return b;
}

TEST(cuda_step_plan, buckets_are_ascending_and_end_at_the_sequence_limit) {
    EXPECT_EQ(decode_graph_buckets(1), (std::vector<int32_t>{1}));
    EXPECT_EQ(decode_graph_buckets(5), (std::vector<int32_t>{1, 2, 4, 5}));
    EXPECT_EQ(decode_graph_buckets(64), (std::vector<int32_t>{1, 2, 4, 8, 16, 24, 32, 48, 64}));
    const std::vector<int32_t> big = decode_graph_buckets(1000); // capped at 256, no duplicate
    EXPECT_EQ(big.back(), 256);
    EXPECT_EQ(std::count(big.begin(), big.end(), 256), 1);
    EXPECT_TRUE(std::is_sorted(big.begin(), big.end()));
}

TEST(cuda_step_plan, pure_decode_steps_pick_the_smallest_bucket_that_holds_them) {
    const std::vector<int32_t> buckets = decode_graph_buckets(64);
    EXPECT_EQ(graph_bucket_for(batch_of({1}, 10), buckets, 8192), 1);
    EXPECT_EQ(graph_bucket_for(batch_of({1, 1, 1}, 10), buckets, 8192), 4);
    EXPECT_EQ(graph_bucket_for(batch_of(std::vector<int32_t>(17, 1), 10), buckets, 8192), 24);
    EXPECT_EQ(graph_bucket_for(batch_of(std::vector<int32_t>(64, 1), 10), buckets, 8192), 64);
}

TEST(cuda_step_plan, other_steps_run_eagerly) {
    const std::vector<int32_t> buckets = decode_graph_buckets(64);
    EXPECT_EQ(graph_bucket_for(batch_of({1, 5}, 10), buckets, 8192), 0);                       // a prefill chunk
    EXPECT_EQ(graph_bucket_for(batch_of({1, 1}, 10, /*all_sample=*/false), buckets, 8192), 0); // a row without logits
    EXPECT_EQ(graph_bucket_for(batch_of({1}, 8192), buckets, 8192), 0); // context 8193 > the graphs' bound
    EXPECT_EQ(graph_bucket_for(batch_of({1}, 8191), buckets, 8192), 1); // context 8192: still a graph
    EXPECT_EQ(graph_bucket_for(batch_of(std::vector<int32_t>(65, 1), 10), buckets, 8192), 0); // past the last bucket
    EXPECT_EQ(graph_bucket_for(batch_of({1}, 10), {}, 8192), 0);                              // graphs off
}

TEST(cuda_step_plan, the_kv_pool_is_the_budget_rest_capped_by_free_memory) {
    const int64_t gib = 1LL << 30;
    // 80 GiB GPU, half of it ours, 10 GiB fixed: 30 GiB of KV in 1 MiB blocks.
    kv_memory_plan p = plan_kv_memory(80 * gib, 79 * gib, 0.5, 10 * gib, gib / 4, 1 << 20);
    EXPECT_EQ(p.budget_bytes, 40 * gib);
    EXPECT_EQ(p.kv_bytes, 30 * gib);
    EXPECT_EQ(p.n_blocks, 30 * 1024);
    // Other engines hold most of the GPU: only what is free (minus the reserve) can be taken.
    p = plan_kv_memory(80 * gib, 5 * gib, 0.5, 10 * gib, gib, 1 << 20);
    EXPECT_EQ(p.kv_bytes, 4 * gib);
    EXPECT_EQ(p.n_blocks, 4 * 1024);
    // The weights alone exceed the budget: no block.
    p = plan_kv_memory(80 * gib, 79 * gib, 0.1, 10 * gib, gib / 4, 1 << 20);
    EXPECT_LT(p.kv_bytes, 0);
    EXPECT_EQ(p.n_blocks, 0);
}

} // namespace
} // namespace llmfleet::engine
