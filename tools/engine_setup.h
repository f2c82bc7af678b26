// The engine flags shared by `generate` and `engine` (model, KV pool, scheduling, threads, and the parallel
// layout: --tp, --pp, --pp-layers, --pp-micro-batches, --comm, --comm-timeout-s) and the engine they build:
// one CPU device, tp × pp ranks as threads of this process, or one rank per MPI process under mpirun (rank 0
// gets the engine; the other ranks follow it and get none).
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "engine/cuda_engine.h"
#include "engine/parallel_runner.h"
#include "parallel/communicator.h"
#include "parallel/mpi_comm.h"

namespace llmfleet::tools {

struct engine_flags {
    engine::parallel_engine_options options;
    std::string device = "cpu";       // cpu | cuda
    engine::cuda_engine_options cuda; // --device cuda: device, memory fraction, graphs (the rest from options)
    std::string comm = "threads";     // threads | mpi | nccl
    std::string pp_layers;            // "12,12": layers per stage
    const std::string& model_dir() const { return options.cpu.model_dir; }
};

// --model, --device, --kv-cache-gib (cpu), --gpu / --gpu-memory-fraction / --no-cuda-graphs (cuda), --block-size,
// scheduling limits, --max-model-len, --no-prefix-caching, --no-chunked-prefill, --threads, and the parallel flags.
void add_engine_flags(CLI::App* sub, engine_flags& flags);

// What build_engine made. Members are destroyed bottom-up: the engine (which stops the other ranks and owns the
// communicators), then MPI.
struct built_engine {
    std::unique_ptr<parallel::mpi_session> mpi;
    std::unique_ptr<engine::engine> engine; // null on a follower rank once rank 0 stopped it
    bool is_follower() const { return engine == nullptr; }
};

// Throws llmfleet::error on bad flags (naming the flag and the values that work) or an unusable model.
built_engine build_engine(const engine_flags& flags);

} // namespace llmfleet::tools
