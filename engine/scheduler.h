// The scheduler: continuous batching under a per-step token budget. Each step it first gives every running
// sequence its next tokens (one for a decode, a chunk for an unfinished prefill), preempting the latest
// arrivals by recompute when KV blocks run out, then admits waiting sequences in FCFS order while the
// budget, the sequence cap and the KV pool allow, splitting a long prompt into chunks (chunked prefill).
// It sees sequences and block ids only; the engine turns its output into a forward batch.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "common/clock.h"
#include "engine/block_manager.h"
#include "engine/sequence.h"

namespace llmfleet::engine {

struct scheduler_config {
    int32_t max_num_batched_tokens = 2048; // tokens per step (prefill chunks + decodes)
    int32_t max_num_seqs = 256;            // running sequences at most
    bool enable_chunked_prefill = true;    // off: a prompt is admitted only when it fits the budget whole
};

struct scheduled_sequence {
    sequence* seq = nullptr;
    int32_t n_new_tokens = 0; // tokens [seq->n_computed_tokens, + n_new_tokens) are computed this step
    bool samples = false;     // the chunk reaches the last known token: its logits give the next token
};

struct scheduler_output {
    std::vector<scheduled_sequence> scheduled; // running sequences first (FCFS), then new admissions
    int32_t n_tokens = 0;                      // Σ n_new_tokens ≤ max_num_batched_tokens
    std::vector<int64_t> preempted_ids;        // sequences preempted in this step (now waiting)
    bool empty() const { return scheduled.empty(); }
};

// not thread-safe: driven by the engine thread. Sequences are owned by the caller and must outlive their
// time in the scheduler (until finish()).
class scheduler {
public:
    scheduler(scheduler_config config, block_manager& blocks, const clock_source& clock);

    const scheduler_config& config() const { return _config; }
    // Queues seq (status waiting, no blocks) at the back of the FCFS queue; stamps arrival_s.
    void add(sequence* seq);
    // Plans one step. The output stays valid until the next schedule() call.
    const scheduler_output& schedule();
    // After the forward pass of the last schedule(): advances n_computed_tokens and registers newly full
    // blocks in the prefix cache. Call before appending sampled tokens.
    void on_step_done();
    // Removes seq (running or waiting) and frees its blocks, on finish or abort; after it returns the caller
    // may destroy seq. Not during schedule(); O(n_running + n_waiting).
    void finish(sequence* seq);

    int32_t n_waiting() const { return static_cast<int32_t>(_waiting.size()); }
    int32_t n_running() const { return static_cast<int32_t>(_running.size()); }
    bool has_unfinished() const { return n_waiting() + n_running() > 0; }
    int64_t n_preemptions() const { return _n_preemptions; }

private:
    void preempt(sequence* seq);
    void insert_running(sequence* seq); // keeps _running in arrival order

    scheduler_config _config;
    block_manager& _blocks;
    const clock_source& _clock;
    std::deque<sequence*> _waiting;  // FCFS; preempted sequences go back to the front
    std::vector<sequence*> _running; // by arrival: the last one is preempted first
    int64_t _n_preemptions = 0;
    scheduler_output _output;
};

} // namespace llmfleet::engine
