// See parallel_runner.h.
#include "engine/parallel_runner.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "common/log.h"
#include "parallel/thread_comm.h"

namespace llmfleet::engine {

namespace {

// Tags of the world's point-to-point messages (user tags < 1 << 20; batch_codec.h's tag_command is 1).
constexpr int32_t tag_hidden = 1000;  // + micro-batch index
constexpr int32_t tag_logits = 50000; // + micro-batch index
constexpr int32_t max_micro_batches = 40000;

} // namespace

rank_worker::rank_worker(const parallel_engine_options& options, parallel::communicator& world,
                         parallel::communicator* tp_world)
    : _world(world) {
    const model::model_config config = model::load_config(options.cpu.model_dir);
    const parallel::parallel_config& pc = options.parallel;
    parallel::validate(pc, config);
    if (world.size() != pc.world_size()) {
        throw invalid_input(fmt::format("--tp {} × --pp {} needs {} ranks, but the communicator has {} (mpirun -np {})",
                                        pc.tp, pc.pp, pc.world_size(), world.size(), pc.world_size()));
    }
    _layout = parallel::make_rank_layout(pc, config, world.rank());
    _n_micro = pc.pp == 1 ? 1 : (pc.n_micro_batches > 0 ? pc.n_micro_batches : pc.pp);
    if (_n_micro > max_micro_batches) {
        throw invalid_input(fmt::format("--pp-micro-batches {} exceeds {}", _n_micro, max_micro_batches));
    }
    // Every rank splits (collective) before anything can fail differently on different ranks.
    parallel::communicator& tp_source = tp_world != nullptr ? *tp_world : world;
    LLMFLEET_CHECK(tp_source.rank() == world.rank() && tp_source.size() == world.size(),
                   "tp world rank {} of {} vs world rank {} of {}", tp_source.rank(), tp_source.size(), world.rank(),
                   world.size());
    std::unique_ptr<parallel::communicator> tp_group = tp_source.split(_layout.stage, _layout.tp_rank);
    if (pc.tp > 1) {
        _tp_comm = std::move(tp_group);
    }
    const int64_t own_blocks =
        kv_blocks_for_budget(options.cpu, cpu_shard::kv_bytes_per_block(config, _layout, options.cpu.block_size));
    _kv_blocks_by_rank.resize(static_cast<size_t>(world.size()));
    world.all_gather(&own_blocks, _kv_blocks_by_rank.data(), sizeof(int64_t));
    const int64_t n_blocks = *std::ranges::min_element(_kv_blocks_by_rank);
    LLMFLEET_LOG_INFO("{}", _layout.describe());
    _shard = std::make_unique<cpu_shard>(options.cpu.model_dir, _layout,
                                         cpu_shard_options{n_blocks, options.cpu.block_size, options.cpu.n_threads},
                                         _tp_comm.get());
    _hidden.resize(static_cast<size_t>(_n_micro));
}

void rank_worker::step(const forward_batch& batch, std::span<float> logits) {
    _parts.clear();
    if (_n_micro == 1) { // no pipeline: the batch itself, nothing copied
        _parts.push_back({&batch, 0});
    } else {
        split_micro_batches(batch, _n_micro, _micro);
        for (const micro_batch& mb : _micro) {
            _parts.push_back({&mb.batch, mb.logits_begin});
        }
    }
    const int64_t vocab = _shard->config().vocab_size;
    for (size_t m = 0; m < _parts.size(); ++m) {
        run_part(*_parts[m].batch, _parts[m].logits_begin, static_cast<int32_t>(m), logits);
    }
    if (_world.rank() == 0 && !_layout.last_stage()) {
        const int32_t last_stage_rank = (_layout.pp - 1) * _layout.tp;
        for (size_t m = 0; m < _parts.size(); ++m) {
            const auto n_rows = static_cast<int64_t>(_parts[m].batch->logits_indices.size());
            if (n_rows > 0) {
                _world.recv(logits.data() + _parts[m].logits_begin * vocab,
                            n_rows * vocab * static_cast<int64_t>(sizeof(float)), last_stage_rank,
                            tag_logits + static_cast<int32_t>(m));
            }
        }
    }
}

void rank_worker::run_part(const forward_batch& b, int32_t logits_begin, int32_t m, std::span<float> logits) {
    const int64_t h = _shard->config().hidden_size, vocab = _shard->config().vocab_size;
    std::vector<float>& x = _hidden[static_cast<size_t>(m)];
    x.resize(static_cast<size_t>(b.n_tokens() * h));
    const auto bytes = static_cast<int64_t>(x.size() * sizeof(float));
    if (_layout.first_stage()) {
        _shard->embed(b.token_ids, x.data());
    } else {
        _world.recv(x.data(), bytes, _layout.prev_stage_rank(), tag_hidden + m);
    }
    _shard->layers(b, x.data());
    if (!_layout.last_stage()) {
        _world.send(x.data(), bytes, _layout.next_stage_rank(), tag_hidden + m);
        return;
    }
    const auto n_rows = static_cast<int64_t>(b.logits_indices.size());
    if (n_rows == 0) {
        return;
    }
    float* out = nullptr;
    if (_world.rank() == 0) {
        out = logits.data() + logits_begin * vocab;
    } else {
        _logits.resize(static_cast<size_t>(n_rows * vocab));
        out = _logits.data();
    }
    _shard->logits(x.data(), b.logits_indices, out);
    if (_world.rank() != 0 && _layout.tp_rank == 0) {
        _world.send(out, n_rows * vocab * static_cast<int64_t>(sizeof(float)), 0, tag_logits + m);
    }
}

parallel_runner::parallel_runner(const parallel_engine_options& options, std::unique_ptr<parallel::communicator> world,
                                 std::unique_ptr<parallel::communicator> tp_world, std::vector<std::thread> followers)
    : _world(std::move(world)), _tp_world(std::move(tp_world)), _followers(std::move(followers)) {
    try {
        _worker = std::make_unique<rank_worker>(options, *_world, _tp_world.get());
    } catch (const std::exception& e) {
        _world->abort(e.what()); // the followers stop waiting for commands
        for (std::thread& t : _followers) {
            t.join();
        }
        throw;
    }
    _message.resize(command_header_bytes);
    LLMFLEET_LOG_INFO("KV blocks per rank from each rank's budget: [{}]; every rank uses {}",
                      fmt::join(_worker->kv_blocks_by_rank(), ", "), _worker->shard().n_kv_blocks());
}

parallel_runner::~parallel_runner() {
    if (!_failed && _worker != nullptr) {
        try {
            _message.resize(command_header_bytes);
            send_step_command(*_world, step_command::stop, _message);
        } catch (const std::exception& e) {
            LLMFLEET_LOG_WARN("stopping the other ranks: {}", e.what());
        }
    } else {
        _world->abort("rank 0 stopped after a failed step");
    }
    for (std::thread& t : _followers) {
        t.join();
    }
}

void parallel_runner::forward(const forward_batch& batch, std::span<float> logits) {
    if (_failed) {
        throw error(status_code::unavailable, "the parallel engine failed earlier; restart it");
    }
    try {
        encode_batch(batch, _message, command_header_bytes);
        send_step_command(*_world, step_command::forward, _message);
        _worker->step(batch, logits);
    } catch (...) {
        _failed = true;
        throw;
    }
}

std::string parallel_runner::describe() const {
    const parallel::rank_layout& l = _worker->layout();
    return fmt::format("backend cpu (f32, OpenBLAS), tp {} × pp {} over {} ({} micro-batches per step), rank 0: {}",
                       l.tp, l.pp, to_string(_world->backend()), _worker->n_micro_batches(),
                       _worker->shard().describe());
}

void run_follower(const parallel_engine_options& options, parallel::communicator& world,
                  parallel::communicator* tp_world) {
    try {
        rank_worker worker(options, world, tp_world);
        owned_batch step;
        while (receive_step_command(world, step)) {
            worker.step(step.batch, {});
        }
    } catch (const std::exception& e) {
        LLMFLEET_LOG_ERROR("rank {}: {}", world.rank(), e.what());
        world.abort(e.what());
        throw;
    }
}

std::unique_ptr<engine> make_parallel_cpu_engine(const parallel_engine_options& options, const clock_source* clock) {
    const model::model_config config = model::load_config(options.cpu.model_dir);
    parallel::validate(options.parallel, config); // before any thread starts
    const int32_t n_ranks = options.parallel.world_size();
    std::vector<std::unique_ptr<parallel::communicator>> world =
        parallel::make_thread_world(n_ranks, options.comm_timeout_s);
    parallel_engine_options rank_options = options;
    if (rank_options.cpu.n_threads <= 0) {
        rank_options.cpu.n_threads = std::max(1, default_thread_count() / n_ranks);
    }
    std::vector<std::thread> followers;
    for (int32_t r = 1; r < n_ranks; ++r) {
        followers.emplace_back([rank_options, comm = std::move(world[static_cast<size_t>(r)])] {
            try {
                run_follower(rank_options, *comm);
            } catch (const std::exception&) { // reported to rank 0 through abort(); logged by run_follower
            }
        });
    }
    auto runner = std::make_unique<parallel_runner>(rank_options, std::move(world[0]), nullptr, std::move(followers));
    return std::make_unique<engine>(options.cpu.engine, std::move(runner),
                                    load_optional_tokenizer(options.cpu.model_dir), clock);
}

std::unique_ptr<engine> make_parallel_cpu_engine(const parallel_engine_options& options,
                                                 std::unique_ptr<parallel::communicator> world,
                                                 std::unique_ptr<parallel::communicator> tp_world,
                                                 const clock_source* clock) {
    if (world->rank() != 0) {
        run_follower(options, *world, tp_world.get());
        tp_world.reset(); // before the world it was bootstrapped over
        return nullptr;
    }
    auto runner =
        std::make_unique<parallel_runner>(options, std::move(world), std::move(tp_world), std::vector<std::thread>{});
    return std::make_unique<engine>(options.cpu.engine, std::move(runner),
                                    load_optional_tokenizer(options.cpu.model_dir), clock);
}

} // namespace llmfleet::engine
