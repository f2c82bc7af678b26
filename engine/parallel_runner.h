// Tensor × pipeline parallelism on the CPU backend: tp · pp ranks, each holding one cpu_shard (its stage's layers,
// sliced for its tp rank, with its own KV cache), driven by rank 0.
//
// Rank 0 runs the engine (scheduler, block manager, sampler) and a parallel_runner as its model_runner. Each
// step, parallel_runner::forward sends the batch (batch_codec.h) to every other rank, then every rank runs
// rank_worker::step on it:
//   split into micro-batches (≥ pp of them when pp > 1, so every stage has work);
//   for each micro-batch m:  embed (stage 0) or recv hidden[m] from the previous stage;
//                            this stage's layers (tp all-reduces inside);
//                            send hidden[m] to the next stage, or (last stage) the vocab-parallel logits → rank 0.
// Stage s works on micro-batch m while stage s + 1 works on m − 1 (sends are buffered). The other ranks sit in
// run_follower until rank 0 sends stop (its destructor). KV block ids come from rank 0's block manager, so every
// rank's pool has the same number of blocks: the smallest any rank's budget allows (logged per rank).
//
// Communicators: `world` carries the commands, the pipeline's send/recv and the setup; the tensor-parallel groups
// are split from `tp_world` when one is given (NCCL: all-reduces on the GPU interconnect, while the in-order NCCL
// streams never hold the pipeline's sends), else from world.
//
// Failures: a rank that throws calls abort() on the world; rank 0's forward then throws error(unavailable,
// "rank R failed: …"), and a rank that stops answering gives deadline_exceeded after the comm timeout.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "engine/batch_codec.h"
#include "engine/cpu_model_runner.h"
#include "engine/cpu_shard.h"
#include "parallel/communicator.h"
#include "parallel/layout.h"

namespace llmfleet::engine {

struct parallel_engine_options {
    cpu_engine_options cpu; // kv_cache_gib and n_threads are per rank (n_threads 0 → the host's share)
    parallel::parallel_config parallel;
    double comm_timeout_s = parallel::default_comm_timeout_s;
};

// One rank's shard, its communicators, and the step every rank runs.
class rank_worker {
public:
    // Collective over world and tp_world (tp group split, KV pool agreement); tp_world null → world.
    // Throws llmfleet::error.
    rank_worker(const parallel_engine_options& options, parallel::communicator& world,
                parallel::communicator* tp_world);

    cpu_shard& shard() { return *_shard; }
    const parallel::rank_layout& layout() const { return _layout; }
    parallel::communicator& world() { return _world; }
    const std::vector<int64_t>& kv_blocks_by_rank() const { return _kv_blocks_by_rank; } // before the min
    int32_t n_micro_batches() const { return _n_micro; } // per step (1 without a pipeline)

    // logits: [n_logits, vocab] on world rank 0, empty elsewhere.
    void step(const forward_batch& batch, std::span<float> logits);

private:
    // Micro-batch m of this step (logits rows from logits_begin): embed or receive, layers, send or logits.
    void run_part(const forward_batch& b, int32_t logits_begin, int32_t m, std::span<float> logits);

    struct part {
        const forward_batch* batch = nullptr;
        int32_t logits_begin = 0;
    };
    parallel::communicator& _world;
    parallel::rank_layout _layout;
    std::unique_ptr<parallel::communicator> _tp_comm; // null when tp == 1
    std::vector<int64_t> _kv_blocks_by_rank;
    std::unique_ptr<cpu_shard> _shard;
    int32_t _n_micro = 1;
    std::vector<micro_batch> _micro;         // with pp > 1: this step's micro-batches
    std::vector<part> _parts;                // what this step runs: the micro-batches, or the batch itself
    std::vector<std::vector<float>> _hidden; // [micro-batch][tokens, hidden]
    std::vector<float> _logits;              // last stage, not rank 0: one micro-batch's logits
};

// Rank 0's model_runner over the world.
class parallel_runner final : public model_runner {
public:
    // world, tp_world (may be null): rank 0's communicators; followers: the threads running the other ranks
    // (threads backend), joined by the destructor after it sends them stop.
    parallel_runner(const parallel_engine_options& options, std::unique_ptr<parallel::communicator> world,
                    std::unique_ptr<parallel::communicator> tp_world, std::vector<std::thread> followers);
    ~parallel_runner() override;

    const model::model_config& config() const override { return _worker->shard().config(); }
    int32_t n_kv_blocks() const override { return static_cast<int32_t>(_worker->shard().n_kv_blocks()); }
    int32_t block_size() const override { return _worker->shard().block_size(); }
    void forward(const forward_batch& batch, std::span<float> logits) override;
    std::string describe() const override;

private:
    std::unique_ptr<parallel::communicator> _world;
    std::unique_ptr<parallel::communicator> _tp_world; // destroyed before the world it was bootstrapped over
    std::vector<std::thread> _followers;
    std::unique_ptr<rank_worker> _worker;
    std::vector<std::byte> _message;
    bool _failed = false; // a forward threw: the followers may be gone, so stop is not sent
};

// Runs a non-zero rank: builds its worker, then executes rank 0's steps until rank 0 sends stop. Any error is
// reported to the world with abort() and rethrown.
void run_follower(const parallel_engine_options& options, parallel::communicator& world,
                  parallel::communicator* tp_world = nullptr);

// The threads backend: tp · pp ranks in this process (rank 0 on the calling thread). Throws llmfleet::error
// (a bad layout names the values that work).
std::unique_ptr<engine> make_parallel_cpu_engine(const parallel_engine_options& options,
                                                 const clock_source* clock = nullptr);
// A multi-process backend (MPI, or NCCL bootstrapped over MPI): every process calls it with its world communicator
// (size tp · pp) and optionally the NCCL world for the tp groups. Rank 0 gets the engine; the other ranks follow
// until rank 0's engine is destroyed, then get nullptr.
std::unique_ptr<engine> make_parallel_cpu_engine(const parallel_engine_options& options,
                                                 std::unique_ptr<parallel::communicator> world,
                                                 std::unique_ptr<parallel::communicator> tp_world,
                                                 const clock_source* clock = nullptr);

} // namespace llmfleet::engine
