// Scheduler and block manager alone (no tensors), driven by a fake clock and a fake "forward pass" that
// appends a known token to every sequence that samples.
#include <gtest/gtest.h>

#include <memory>
#include <numeric>

#include "common/clock.h"
#include "engine/block_manager.h"
#include "engine/scheduler.h"

namespace llmfleet::engine {
namespace {

std::unique_ptr<sequence> make_seq(int64_t id, int32_t n_prompt, int32_t first_token = 0) {
    auto s = std::make_unique<sequence>();
    s->id = id;
    s->tokens.resize(n_prompt);
    std::iota(s->tokens.begin(), s->tokens.end(), first_token);
    s->n_prompt_tokens = n_prompt;
    return s;
}

// One step of a fake engine: schedule, "compute", append token 7 to each sampling sequence and finish those
// that generated `n_generate` tokens. Returns the step's output (copied).
scheduler_output fake_step(scheduler& sched, int32_t n_generate) {
    scheduler_output out = sched.schedule();
    sched.on_step_done();
    for (const scheduled_sequence& s : out.scheduled) {
        if (s.samples) {
            s.seq->tokens.push_back(7);
            if (s.seq->n_generated() >= n_generate) {
                sched.finish(s.seq);
            }
        }
    }
    return out;
}

TEST(block_manager, allocates_frees_and_counts_blocks) {
    block_manager bm(8, 4, false);
    auto s = make_seq(1, 10);
    ASSERT_TRUE(bm.can_admit(*s, 0, 10));
    bm.admit(*s, 0, 10);
    EXPECT_EQ(s->block_table.size(), 3u); // ceil(10 / 4)
    EXPECT_EQ(bm.n_free_blocks(), 5);
    s->n_computed_tokens = 10;
    EXPECT_TRUE(bm.can_grow(*s, 2)); // slots 10, 11 are in block 2
    EXPECT_EQ(bm.n_free_blocks(), 5);
    bm.grow(*s, 3); // slot 12 needs a fourth block
    EXPECT_EQ(s->block_table.size(), 4u);
    EXPECT_FALSE(bm.can_grow(*s, 23)); // 33 tokens → 9 blocks > 4 held + 4 free
    bm.release(*s);
    EXPECT_EQ(bm.n_free_blocks(), 8);
    EXPECT_TRUE(s->block_table.empty());
}

TEST(block_manager, prefix_cache_shares_full_computed_blocks_only) {
    block_manager bm(16, 4, true);
    auto a = make_seq(1, 10); // blocks [0..3] [4..7] full, [8, 9] partial
    EXPECT_EQ(bm.n_cached_prefix_tokens(*a), 0);
    bm.admit(*a, 0, 10);
    a->n_computed_tokens = 10;
    bm.on_computed(*a, 0);

    auto b = make_seq(2, 12); // same first 10 tokens, then 10, 11
    EXPECT_EQ(bm.n_cached_prefix_tokens(*b), 8) << "two full blocks hit; the partial block never does";
    ASSERT_TRUE(bm.can_admit(*b, 8, 4));
    const int32_t free_before = bm.n_free_blocks();
    bm.admit(*b, 8, 4);
    EXPECT_EQ(b->n_computed_tokens, 8);
    EXPECT_EQ(b->n_cached_tokens, 8);
    EXPECT_EQ(b->block_table[0], a->block_table[0]);
    EXPECT_EQ(b->block_table[1], a->block_table[1]);
    EXPECT_NE(b->block_table[2], a->block_table[2]);
    EXPECT_EQ(bm.n_free_blocks(), free_before - 1) << "shared blocks cost nothing";
    EXPECT_EQ(bm.stats().n_hit_tokens, 8);

    auto c = make_seq(3, 10, 1); // different first token → different chain
    EXPECT_EQ(bm.n_cached_prefix_tokens(*c), 0);
}

TEST(block_manager, prefix_hit_keeps_one_token_to_compute) {
    block_manager bm(16, 4, true);
    auto a = make_seq(1, 8);
    bm.admit(*a, 0, 8);
    a->n_computed_tokens = 8;
    bm.on_computed(*a, 0);
    auto b = make_seq(2, 8); // identical prompt of exactly two blocks
    EXPECT_EQ(bm.n_cached_prefix_tokens(*b), 4) << "the last block is recomputed so its logits exist";
}

TEST(block_manager, freed_cached_blocks_revive_then_evict_in_lru_order) {
    block_manager bm(4, 2, true);
    auto a = make_seq(1, 5); // 2 full blocks + 1
    bm.admit(*a, 0, 5);
    a->n_computed_tokens = 5;
    bm.on_computed(*a, 0);
    bm.release(*a);
    EXPECT_EQ(bm.n_free_blocks(), 4);

    auto b = make_seq(2, 5);
    EXPECT_EQ(bm.n_cached_prefix_tokens(*b), 4) << "freed blocks keep their KV until reused";
    bm.admit(*b, 4, 1);
    EXPECT_EQ(bm.n_free_blocks(), 1);
    bm.release(*b);

    // A 7-token unrelated prompt needs all 4 blocks: every cached block is evicted.
    auto c = make_seq(3, 7, 100);
    ASSERT_TRUE(bm.can_admit(*c, 0, 7));
    bm.admit(*c, 0, 7);
    auto d = make_seq(4, 5);
    EXPECT_EQ(bm.n_cached_prefix_tokens(*d), 0);
}

TEST(block_manager, eviction_takes_a_released_sequence_tail_first) {
    block_manager bm(3, 2, true);
    auto a = make_seq(1, 5); // blocks: 2 full (cached) + 1 partial
    bm.admit(*a, 0, 5);
    a->n_computed_tokens = 5;
    bm.on_computed(*a, 0);
    bm.release(*a);
    auto other = make_seq(2, 1, 50); // takes one block: the LRU head is a's tail (partial) block
    bm.admit(*other, 0, 1);
    auto again = make_seq(3, 5);
    EXPECT_EQ(bm.n_cached_prefix_tokens(*again), 4) << "both full blocks survive";
    auto other2 = make_seq(4, 1, 60); // next eviction: a's second full block (released before the first)
    bm.admit(*other2, 0, 1);
    EXPECT_EQ(bm.n_cached_prefix_tokens(*again), 2);
}

struct sched_fixture : ::testing::Test {
    fake_clock clock;
    std::vector<std::unique_ptr<sequence>> seqs;
    sequence* add(scheduler& s, int32_t n_prompt, int32_t first_token = 0) {
        seqs.push_back(make_seq(static_cast<int64_t>(seqs.size()), n_prompt, first_token));
        s.add(seqs.back().get());
        clock.advance_s(1);
        return seqs.back().get();
    }
};

TEST_F(sched_fixture, chunked_prefill_splits_a_long_prompt_and_mixes_decodes) {
    block_manager bm(64, 16, false);
    scheduler sched({.max_num_batched_tokens = 32, .max_num_seqs = 8, .enable_chunked_prefill = true}, bm, clock);
    sequence* a = add(sched, 5);
    auto out = fake_step(sched, 100);
    ASSERT_EQ(out.scheduled.size(), 1u);
    EXPECT_EQ(out.scheduled[0].n_new_tokens, 5);
    EXPECT_TRUE(out.scheduled[0].samples);

    sequence* b = add(sched, 70);
    std::vector<int32_t> b_chunks;
    for (int step = 0; step < 3; ++step) {
        out = fake_step(sched, 100);
        ASSERT_EQ(out.scheduled.size(), 2u);
        EXPECT_EQ(out.scheduled[0].seq, a) << "running decodes go first";
        EXPECT_EQ(out.scheduled[0].n_new_tokens, 1);
        EXPECT_EQ(out.scheduled[1].seq, b);
        b_chunks.push_back(out.scheduled[1].n_new_tokens);
        EXPECT_EQ(out.scheduled[1].samples, step == 2);
        EXPECT_LE(out.n_tokens, 32);
    }
    EXPECT_EQ(b_chunks, (std::vector<int32_t>{31, 31, 8}));
    EXPECT_EQ(b->n_computed_tokens, 70);
    EXPECT_EQ(b->n_generated(), 1);
}

TEST_F(sched_fixture, without_chunking_a_prompt_waits_for_a_whole_budget) {
    block_manager bm(64, 16, false);
    scheduler sched({.max_num_batched_tokens = 32, .max_num_seqs = 8, .enable_chunked_prefill = false}, bm, clock);
    add(sched, 20);
    sequence* b = add(sched, 20);
    auto out = fake_step(sched, 100);
    ASSERT_EQ(out.scheduled.size(), 1u) << "20 + 20 > 32: the second prompt waits";
    out = fake_step(sched, 100);
    ASSERT_EQ(out.scheduled.size(), 2u);
    EXPECT_EQ(out.scheduled[1].seq, b);
    EXPECT_EQ(out.scheduled[1].n_new_tokens, 20);
}

TEST_F(sched_fixture, fcfs_and_the_sequence_cap) {
    block_manager bm(64, 16, false);
    scheduler sched({.max_num_batched_tokens = 512, .max_num_seqs = 2, .enable_chunked_prefill = true}, bm, clock);
    sequence* a = add(sched, 4);
    sequence* b = add(sched, 4);
    sequence* c = add(sched, 4);
    auto out = fake_step(sched, 2);
    ASSERT_EQ(out.scheduled.size(), 2u);
    EXPECT_EQ(out.scheduled[0].seq, a);
    EXPECT_EQ(out.scheduled[1].seq, b);
    EXPECT_EQ(sched.n_waiting(), 1);
    EXPECT_DOUBLE_EQ(a->arrival_s, 0.0);
    EXPECT_DOUBLE_EQ(c->arrival_s, 2.0);
    out = fake_step(sched, 2); // a and b generate their 2nd token and finish
    EXPECT_EQ(sched.n_running(), 0);
    clock.advance_s(10);
    out = fake_step(sched, 2);
    ASSERT_EQ(out.scheduled.size(), 1u);
    EXPECT_EQ(out.scheduled[0].seq, c);
    EXPECT_DOUBLE_EQ(c->first_scheduled_s, 13.0) << "queue time = first_scheduled_s − arrival_s = 11 s";
    EXPECT_EQ(bm.n_free_blocks(), 63);
}

TEST_F(sched_fixture, preempts_the_latest_arrival_and_recomputes_it) {
    // 4 blocks of 4 slots: a and b (prompt 8 each → 2 blocks) fill the pool; a's first decode needs a block.
    block_manager bm(4, 4, false);
    scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 8, .enable_chunked_prefill = true}, bm, clock);
    sequence* a = add(sched, 8);
    sequence* b = add(sched, 8);
    auto out = fake_step(sched, 5); // both prefill 8 tokens: 2 blocks each, pool full
    ASSERT_EQ(out.scheduled.size(), 2u);
    EXPECT_EQ(bm.n_free_blocks(), 0);
    out = fake_step(sched, 5); // a needs a third block: b (the later arrival) is preempted
    ASSERT_EQ(out.preempted_ids, std::vector<int64_t>{b->id});
    ASSERT_EQ(out.scheduled.size(), 1u);
    EXPECT_EQ(out.scheduled[0].seq, a);
    EXPECT_EQ(b->status, sequence_status::waiting);
    EXPECT_EQ(b->n_computed_tokens, 0);
    EXPECT_EQ(b->n_tokens(), 9) << "its generated token is kept and recomputed";
    EXPECT_EQ(b->n_preemptions, 1);
    while (sched.has_unfinished()) {
        out = fake_step(sched, 5);
    }
    EXPECT_EQ(a->n_generated(), 5);
    EXPECT_EQ(b->n_generated(), 5);
    EXPECT_EQ(bm.n_free_blocks(), 4);
    EXPECT_GE(sched.n_preemptions(), 1);
}

TEST_F(sched_fixture, a_sequence_preempts_itself_when_it_is_the_latest) {
    block_manager bm(3, 4, false);
    scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 8, .enable_chunked_prefill = true}, bm, clock);
    sequence* a = add(sched, 8); // 2 blocks after prefill + sampled token → 9 tokens → needs 3
    sequence* b = add(sched, 3); // 1 block
    auto out = fake_step(sched, 3);
    ASSERT_EQ(out.scheduled.size(), 2u);
    out = fake_step(sched, 3); // a needs block 3: b is the latest → preempted; a proceeds
    EXPECT_EQ(out.preempted_ids, std::vector<int64_t>{b->id});
    EXPECT_EQ(a->block_table.size(), 3u);
    while (sched.has_unfinished()) {
        fake_step(sched, 3);
    }
    EXPECT_EQ(b->n_generated(), 3);
}

TEST_F(sched_fixture, prefix_cache_hit_skips_computed_blocks) {
    block_manager bm(32, 4, true);
    scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 8, .enable_chunked_prefill = true}, bm, clock);
    add(sched, 10);
    fake_step(sched, 1); // computes 10 tokens, registers 2 full blocks, finishes
    sequence* b = add(sched, 10);
    auto out = fake_step(sched, 1);
    ASSERT_EQ(out.scheduled.size(), 1u);
    EXPECT_EQ(b->n_cached_tokens, 8);
    EXPECT_EQ(out.scheduled[0].n_new_tokens, 2);
}

TEST_F(sched_fixture, abort_of_a_waiting_sequence) {
    block_manager bm(8, 4, false);
    scheduler sched({.max_num_batched_tokens = 4, .max_num_seqs = 8, .enable_chunked_prefill = true}, bm, clock);
    add(sched, 4);
    sequence* b = add(sched, 4);
    sched.finish(b);
    EXPECT_EQ(sched.n_waiting(), 1);
    auto out = fake_step(sched, 1);
    ASSERT_EQ(out.scheduled.size(), 1u);
    EXPECT_EQ(sched.has_unfinished(), false);
}

} // namespace
} // namespace llmfleet::engine
