// The CUDA backend's entry points, free of CUDA headers so that tools and servers include them in every build: an
// engine whose model runs on one NVIDIA GPU in bf16 (engine/cuda_model_runner.h). In a build without CUDA
// (cmake/cuda.cmake found no toolkit, or LLMFLEET_CUDA=OFF) they throw unavailable with the hint to rebuild.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "engine/engine.h"
#include "engine/model_runner.h"

namespace llmfleet::engine {

struct cuda_engine_options {
    std::string model_dir;
    int32_t device = 0;                // CUDA device index (as CUDA_VISIBLE_DEVICES numbers them)
    double gpu_memory_fraction = 0.90; // of the GPU's total memory this engine may hold: weights, activations, KV
    int32_t block_size = 16;           // tokens per KV block
    bool cuda_graphs = true;           // capture decode steps per padded batch size (off: every step launches)
    // Tensor parallelism: tp ranks as threads of this process, rank r on device (device + r) mod the device count.
    // The all-reduces go over NCCL when every rank has a GPU of its own (and NCCL is built), else over the threads
    // communicator through host copies (tp on one GPU: correctness, not speed). gpu_memory_fraction is shared by
    // the ranks on one GPU.
    int32_t tp = 1;
    double comm_timeout_s = 120;
    engine_config engine;
};

// Whether this build includes the CUDA backend.
bool cuda_backend_built();

// The runner alone (tests compare it with the CPU runner). max_num_batched_tokens and max_num_seqs (which size the
// activations) and max_model_len come from options.engine. Throws llmfleet::error: no CUDA in this build or no
// device (unavailable), an unusable model (invalid_argument), or a memory budget that holds no KV block
// (resource_exhausted, naming --gpu-memory-fraction).
std::unique_ptr<model_runner> make_cuda_runner(const cuda_engine_options& options);

// An engine over the CUDA runner with the model directory's tokenizer.json when there is one.
std::unique_ptr<engine> make_cuda_engine(const cuda_engine_options& options, const clock_source* clock = nullptr);

} // namespace llmfleet::engine
