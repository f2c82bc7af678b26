// One simulated engine replica: the engine's own block_manager and scheduler (the code the real engine runs),
// driven by the simulator's clock, with each step's duration taken from a perf::replica_model. The replica turns
// the scheduler's output into an iteration_shape, and at the step's end advances the sequences and appends one
// sampled token to each sequence that samples, exactly as the engine loop does (without a model).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "engine/block_manager.h"
#include "engine/scheduler.h"
#include "engine/sequence.h"
#include "perf/replica_model.h"

namespace llmfleet::sim {

struct replica_config {
    engine::scheduler_config scheduling; // the engine's defaults: 2048 tokens per step, 256 sequences, chunked
    int32_t block_size = 16;             // KV tokens per block, as the engine
    bool enable_prefix_caching = false;  // request token ids are unique per request, so it would only cost time
    int32_t max_model_len = 0;           // tokens of one request (prompt + output) at most; 0 → the KV pool
};

// A request in flight: the engine's sequence plus what the simulator measures. Storage is reused after a request
// finishes (the simulator keeps a free list), so a million requests need only as many as are ever in flight.
struct sim_request : engine::sequence {
    int64_t index = -1;           // position in the arrival order
    int32_t n_output_tokens = 0;  // tokens to generate (the trace's output length), ≥ 1
    double first_token_s = -1;    // end of the step that sampled the first token; −1 before
    int32_t replica = -1;         // where it runs
    int64_t predicted_tokens = 0; // the router's predicted output length at routing time
    int64_t cost_tokens = 0;      // the router's charge on the replica: prompt + predicted output tokens
};

struct replica_stats {
    int64_t n_steps = 0;
    double busy_s = 0;            // Σ step durations
    int64_t n_scheduled_seqs = 0; // Σ over steps of the sequences in the batch
    int64_t n_prefill_tokens = 0; // Σ prompt (and recomputed) tokens
    int64_t n_decode_tokens = 0;  // Σ decode tokens
    int64_t n_sampled_tokens = 0; // tokens appended (first tokens included)
    int64_t n_requests = 0;       // requests added
    int64_t n_finished = 0;       // requests that reached their output length
};

// Lifecycle of a replica in the event loop:
//
//   idle ──add() + step_start event──► begin_step() ──(duration)──► end_step() ──unfinished work──► begin_step()
//    ▲                                                                   │
//    └──────────────────────────── nothing left ◄───────────────────────┘
//
// not thread-safe: driven by the simulator's event loop. The model must outlive the replica.
class replica {
public:
    // n_kv_blocks: from replica_kv_blocks(model, ...), ≥ 1.
    replica(const perf::replica_model& model, int32_t n_kv_blocks, const replica_config& config,
            const clock_source& clock);
    replica(const replica&) = delete;
    replica& operator=(const replica&) = delete;

    // Tokens one request (prompt + output) may hold: the configured max_model_len capped by the KV pool.
    int32_t max_model_len() const { return _max_model_len; }
    int64_t kv_pool_tokens() const { return static_cast<int64_t>(_blocks.n_blocks()) * _blocks.block_size(); }

    // Queues r (fresh: tokens = prompt, no blocks) at the clock's time. note: prompt + n_output_tokens ≤
    // max_model_len (the simulator rejects longer requests first).
    void add(sim_request* r);
    bool has_unfinished() const { return _scheduler.has_unfinished(); }

    // Plans one step at the clock's time; returns its duration in seconds (> 0), or 0 when nothing is scheduled.
    double begin_step();
    // At the step's end: advances the computed tokens, appends one token to every sequence that samples (the first
    // one stamps first_token_s), and finishes those that reached n_output_tokens, appending them to `finished`
    // (already removed from the scheduler; the caller may reuse them). note: once after each begin_step() > 0.
    void end_step(std::vector<sim_request*>& finished);

    const replica_stats& stats() const { return _stats; }
    int64_t n_preemptions() const { return _scheduler.n_preemptions(); }
    int32_t n_running() const { return _scheduler.n_running(); }
    int32_t n_waiting() const { return _scheduler.n_waiting(); }

private:
    const perf::replica_model& _model;
    const clock_source& _clock;
    engine::block_manager _blocks;
    engine::scheduler _scheduler;
    int32_t _max_model_len = 0;
    const engine::scheduler_output* _step = nullptr; // the step in flight, null between steps
    replica_stats _stats;
};

// KV blocks a replica of this model gets: kv_cache_tokens / block_size, capped to int32. Throws invalid_input
// naming `pool` when the model leaves no room for one block (weights do not fit).
int32_t replica_kv_blocks(const perf::replica_model& model, int32_t block_size, std::string_view pool);

} // namespace llmfleet::sim
