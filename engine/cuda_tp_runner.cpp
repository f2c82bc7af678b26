// Tensor parallelism on the CUDA backend (cuda_engine_options::tp > 1): tp ranks as threads of this process, each
// with a cuda_model_runner over its slice of the model (parallel/layout.h), driven like the CPU parallel_runner:
// rank 0's runner sends each step's batch to the other ranks (batch_codec.h's commands), every rank runs the forward
// pass (all-reduces of the row-parallel outputs, all-gather of the vocab-parallel logits), and rank 0, which ends
// with the whole logits on its device, samples. Pipeline parallelism and multi-process ranks are not built for CUDA.
#include <fmt/core.h>

#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "engine/batch_codec.h"
#include "engine/cpu_model_runner.h"
#include "engine/cuda_model_runner.h"
#include "kernels/cuda/cuda_check.h"
#include "parallel/nccl_comm.h"
#include "parallel/thread_comm.h"

namespace llmfleet::engine {

namespace {

// Rank r's options: its device, and its share of the memory fraction when ranks share a GPU.
cuda_engine_options rank_options(const cuda_engine_options& o, int32_t rank, int32_t n_devices) {
    cuda_engine_options r = o;
    r.device = (o.device + rank) % n_devices;
    const int32_t ranks_per_device = (o.tp + n_devices - 1) / n_devices;
    r.gpu_memory_fraction = o.gpu_memory_fraction / ranks_per_device;
    return r;
}

// The tp group of a rank: NCCL over the world (one GPU per rank), or a split of the threads world.
std::unique_ptr<parallel::communicator> make_tp_comm(parallel::communicator& world, bool nccl, int32_t device,
                                                     double timeout_s) {
    if (nccl) {
        return parallel::make_nccl_world(world, device, timeout_s);
    }
    return world.split(0, world.rank());
}

void run_cuda_follower(const cuda_engine_options& options, const parallel::rank_layout& layout,
                       parallel::communicator& world, bool nccl) {
    try {
        const std::unique_ptr<parallel::communicator> tp =
            make_tp_comm(world, nccl, options.device, options.comm_timeout_s);
        cuda_model_runner runner(options, layout, tp.get());
        owned_batch step;
        while (receive_step_command(world, step)) {
            runner.run_step(step.batch);
        }
    } catch (const std::exception& e) {
        LLMFLEET_LOG_ERROR("CUDA tp rank {}: {}", world.rank(), e.what());
        world.abort(e.what());
    }
}

class cuda_tp_runner final : public model_runner {
public:
    cuda_tp_runner(std::unique_ptr<parallel::communicator> world, std::unique_ptr<parallel::communicator> tp,
                   std::unique_ptr<cuda_model_runner> runner, std::vector<std::thread> followers)
        : _world(std::move(world)), _tp(std::move(tp)), _runner(std::move(runner)), _followers(std::move(followers)) {}
    ~cuda_tp_runner() override {
        if (_failed) {
            _world->abort("rank 0 stopped after a failed step");
        } else {
            try {
                _message.resize(command_header_bytes);
                send_step_command(*_world, step_command::stop, _message);
            } catch (const std::exception& e) {
                LLMFLEET_LOG_WARN("stopping the other CUDA tp ranks: {}", e.what());
            }
        }
        for (std::thread& t : _followers) {
            t.join();
        }
    }

    const model::model_config& config() const override { return _runner->config(); }
    int32_t n_kv_blocks() const override { return _runner->n_kv_blocks(); }
    int32_t block_size() const override { return _runner->block_size(); }
    bool samples_on_device() const override { return true; }
    void forward(const forward_batch& batch, std::span<float> logits) override {
        send(batch);
        guarded([&] { _runner->forward(batch, logits); });
    }
    void forward_sample(const forward_batch& batch, std::span<const std::optional<kernels::ref::sampling_row>> rows,
                        std::span<int32_t> tokens, std::span<float> logits) override {
        send(batch);
        guarded([&] { _runner->forward_sample(batch, rows, tokens, logits); });
    }
    std::string describe() const override { return _runner->describe(); }

private:
    void send(const forward_batch& batch) {
        if (_failed) {
            throw error(status_code::unavailable, "the CUDA tensor-parallel engine failed earlier; restart it");
        }
        guarded([&] {
            encode_batch(batch, _message, command_header_bytes);
            send_step_command(*_world, step_command::forward, _message);
        });
    }
    template <typename F> void guarded(F&& f) {
        try {
            f();
        } catch (...) {
            _failed = true;
            throw;
        }
    }

    std::unique_ptr<parallel::communicator> _world;
    std::unique_ptr<parallel::communicator> _tp; // bootstrapped over (or split from) _world
    std::unique_ptr<cuda_model_runner> _runner;  // destroyed before the communicators
    std::vector<std::thread> _followers;
    std::vector<std::byte> _message;
    bool _failed = false;
};

} // namespace

std::unique_ptr<model_runner> make_cuda_runner(const cuda_engine_options& options) {
    if (options.tp <= 1) {
        return std::make_unique<cuda_model_runner>(options);
    }
    const model::model_config config = model::load_config(options.model_dir);
    parallel::parallel_config pc;
    pc.tp = options.tp;
    parallel::validate(pc, config);
    const int32_t n_devices = kernels::cuda::device_count();
    if (n_devices == 0) {
        throw error(status_code::unavailable, "--device cuda: no CUDA device is visible (check nvidia-smi and "
                                              "CUDA_VISIBLE_DEVICES), or use --device cpu");
    }
    const bool nccl = parallel::nccl_comm_built() && n_devices >= options.tp;
    LLMFLEET_LOG_INFO("CUDA tp {}: ranks on {} GPU(s), all-reduces over {}", options.tp,
                      std::min(n_devices, options.tp),
                      nccl ? "NCCL" : "the threads communicator through host copies (ranks share a GPU, or no NCCL)");
    std::vector<std::unique_ptr<parallel::communicator>> world =
        parallel::make_thread_world(options.tp, options.comm_timeout_s);
    std::vector<std::thread> followers;
    for (int32_t r = 1; r < options.tp; ++r) {
        followers.emplace_back(
            [o = rank_options(options, r, n_devices), layout = parallel::make_rank_layout(pc, config, r),
             comm = std::move(world[static_cast<size_t>(r)]), nccl] { run_cuda_follower(o, layout, *comm, nccl); });
    }
    std::unique_ptr<parallel::communicator> world0 = std::move(world[0]);
    try {
        const cuda_engine_options o = rank_options(options, 0, n_devices);
        std::unique_ptr<parallel::communicator> tp = make_tp_comm(*world0, nccl, o.device, options.comm_timeout_s);
        auto runner = std::make_unique<cuda_model_runner>(o, parallel::make_rank_layout(pc, config, 0), tp.get());
        return std::make_unique<cuda_tp_runner>(std::move(world0), std::move(tp), std::move(runner),
                                                std::move(followers));
    } catch (const std::exception& e) {
        world0->abort(e.what());
        for (std::thread& t : followers) {
            t.join();
        }
        throw;
    }
}

} // namespace llmfleet::engine
