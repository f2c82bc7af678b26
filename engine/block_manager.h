// The KV block manager: a fixed pool of blocks of `block_size` token slots, reference-counted so that
// sequences with a common prefix share blocks, and a prefix cache that maps the chained hash of each full,
// computed block to the block holding it. Free blocks stay in the cache until reused, evicted in LRU order.
// It never touches tensors: it hands out block ids that the model runner's KV pool is indexed by.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "engine/sequence.h"

namespace llmfleet::engine {

struct prefix_cache_stats {
    int64_t n_query_tokens = 0; // prompt tokens looked up at admission
    int64_t n_hit_tokens = 0;   // of which found cached
};

// not thread-safe: owned and driven by the scheduler on the engine thread.
class block_manager {
public:
    block_manager(int32_t n_blocks, int32_t block_size, bool enable_prefix_caching);

    int32_t n_blocks() const { return static_cast<int32_t>(_blocks.size()); }
    int32_t block_size() const { return _block_size; }
    int32_t n_free_blocks() const { return _n_free; } // including free blocks still holding cached KV
    bool prefix_caching() const { return _prefix_caching; }
    const prefix_cache_stats& stats() const { return _stats; }
    int32_t blocks_for(int32_t n_tokens) const { return (n_tokens + _block_size - 1) / _block_size; }

    // Leading tokens of seq whose KV is cached: a multiple of block_size, and < seq.n_tokens() so that at
    // least one token is computed (its logits are needed). 0 without prefix caching. note: seq not admitted.
    int32_t n_cached_prefix_tokens(sequence& seq) const;

    // Whether admitting seq with its first n_cached tokens from the cache and n_new more tokens fits.
    bool can_admit(const sequence& seq, int32_t n_cached, int32_t n_new) const;
    // Takes the cached blocks, allocates blocks for n_new more tokens; sets block_table, n_computed_tokens
    // and n_cached_tokens. note: call only if can_admit(seq, n_cached, n_new); n_cached from
    // n_cached_prefix_tokens(seq) in the same step.
    void admit(sequence& seq, int32_t n_cached, int32_t n_new);

    // Whether seq (admitted) can get slots for n_new more tokens, and taking them.
    bool can_grow(const sequence& seq, int32_t n_new) const;
    void grow(sequence& seq, int32_t n_new);

    // After a step computed tokens [n_computed_before, seq.n_computed_tokens): registers the blocks that
    // became full in the prefix cache.
    void on_computed(sequence& seq, int32_t n_computed_before);

    // Drops seq's references (finish, abort or preemption); clears its block table.
    void release(sequence& seq);

private:
    struct block {
        int32_t ref_count = 0;
        bool hashed = false; // in _cached_by_hash
        uint64_t hash = 0;
        uint64_t parent_hash = 0;
        int32_t prev_free = -1, next_free = -1; // intrusive LRU free list (head = evicted first)
    };
    void extend_hashes(sequence& seq) const; // hashes every full block of seq.tokens not hashed yet
    int32_t find_cached(const sequence& seq, int32_t block_index) const; // block id or −1
    int32_t take_free_block();
    void unlink_free(int32_t id);
    void push_free(int32_t id);

    int32_t _block_size;
    bool _prefix_caching;
    std::vector<block> _blocks;
    std::vector<int32_t> _block_tokens; // [n_blocks, block_size] tokens of hashed blocks (collision check)
    std::unordered_map<uint64_t, int32_t> _cached_by_hash;
    int32_t _free_head = -1, _free_tail = -1, _n_free = 0;
    prefix_cache_stats _stats;
};

} // namespace llmfleet::engine
