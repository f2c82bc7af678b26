// See engine_setup.h.
#include "tools/engine_setup.h"

#include <fmt/core.h>

#include <cstdlib>

#include "common/error.h"
#include "common/log.h"
#include "common/text.h"
#include "parallel/nccl_comm.h"

namespace llmfleet::tools {

namespace {

std::vector<int32_t> parse_pp_layers(const std::string& text) {
    std::vector<int32_t> counts;
    if (text.empty()) {
        return counts;
    }
    for (std::string_view part : split(text, ',')) {
        const int64_t n = parse_int(part, "--pp-layers");
        if (n < 1 || n > INT32_MAX) {
            throw invalid_input(fmt::format("--pp-layers {}: every stage needs at least one layer", text));
        }
        counts.push_back(static_cast<int32_t>(n));
    }
    return counts;
}

// Threads per rank when --threads is not given: the host's threads shared by the MPI ranks on it.
int32_t threads_per_mpi_rank() {
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const int64_t ranks_on_host = local != nullptr ? parse_int(local, "OMPI_COMM_WORLD_LOCAL_SIZE") : 1;
    return static_cast<int32_t>(std::max<int64_t>(1, default_thread_count() / std::max<int64_t>(1, ranks_on_host)));
}

built_engine build_cuda_engine(const engine_flags& f) {
    const parallel::parallel_config& p = f.options.parallel;
    if (p.pp != 1 || f.comm != "threads") {
        throw invalid_input(fmt::format("--device cuda runs --tp ranks as threads of one process (NCCL between their "
                                        "GPUs when each has its own); pipeline parallelism and --comm mpi/nccl are "
                                        "not built for CUDA yet: drop {}, or use --device cpu",
                                        p.pp != 1 ? fmt::format("--pp {}", p.pp) : "--comm " + f.comm));
    }
    engine::cuda_engine_options options = f.cuda;
    options.model_dir = f.options.cpu.model_dir;
    options.block_size = f.options.cpu.block_size;
    options.engine = f.options.cpu.engine;
    options.tp = p.tp;
    options.comm_timeout_s = f.options.comm_timeout_s;
    built_engine out;
    out.engine = engine::make_cuda_engine(options);
    return out;
}

} // namespace

void add_engine_flags(CLI::App* sub, engine_flags& f) {
    engine::cpu_engine_options& o = f.options.cpu;
    sub->add_option("--model", o.model_dir, "Hugging Face model directory")->required();
    sub->add_option("--device", f.device, "Backend: cpu (f32, OpenBLAS) or cuda (bf16 on one NVIDIA GPU)")
        ->capture_default_str();
    sub->add_option("--kv-cache-gib", o.kv_cache_gib, "KV pool size (per rank; --device cpu)")->capture_default_str();
    sub->add_option("--gpu", f.cuda.device, "CUDA device index (--device cuda)")->capture_default_str();
    sub->add_option("--gpu-memory-fraction", f.cuda.gpu_memory_fraction,
                    "Share of the GPU's memory this engine holds: weights, activations and the KV pool (--device cuda)")
        ->capture_default_str();
    sub->add_flag("--no-cuda-graphs{false}", f.cuda.cuda_graphs, "Launch every decode step eagerly (--device cuda)");
    sub->add_option("--block-size", o.block_size, "Tokens per KV block")->capture_default_str();
    sub->add_option("--max-num-batched-tokens", o.engine.scheduling.max_num_batched_tokens, "Token budget per step")
        ->capture_default_str();
    sub->add_option("--max-num-seqs", o.engine.scheduling.max_num_seqs, "Running sequences at most")
        ->capture_default_str();
    sub->add_option("--max-model-len", o.engine.max_model_len, "Context length (default: the model's)");
    sub->add_flag("--no-prefix-caching{false}", o.engine.enable_prefix_caching, "Disable the prefix cache");
    sub->add_flag("--no-chunked-prefill{false}", o.engine.scheduling.enable_chunked_prefill,
                  "Admit prompts only whole");
    sub->add_option("--threads", o.n_threads,
                    "CPU threads per rank (default: the host's threads, or LLMFLEET_THREADS, shared by its ranks)");
    parallel::parallel_config& p = f.options.parallel;
    sub->add_option("--tp", p.tp, "Tensor-parallel degree (ranks per stage)")->capture_default_str();
    sub->add_option("--pp", p.pp, "Pipeline-parallel stages")->capture_default_str();
    sub->add_option("--pp-layers", f.pp_layers, "Layers per stage, e.g. 10,14 (default: as even as possible)");
    sub->add_option("--pp-micro-batches", p.n_micro_batches, "Micro-batches per step with --pp > 1 (default: pp)");
    sub->add_option("--comm", f.comm, "Communicator for --tp/--pp: threads (one process), mpi (under mpirun), nccl")
        ->capture_default_str();
    sub->add_option("--comm-timeout-s", f.options.comm_timeout_s,
                    "A rank that does not answer within this long fails the engine")
        ->capture_default_str();
}

built_engine build_engine(const engine_flags& f) {
    if (f.device == "cuda") {
        return build_cuda_engine(f);
    }
    if (f.device != "cpu") {
        throw invalid_input(fmt::format("--device {}: expected cpu or cuda", f.device));
    }
    engine::parallel_engine_options options = f.options;
    options.parallel.pp_layers = parse_pp_layers(f.pp_layers);
    const parallel::comm_backend comm = parallel::parse_comm_backend(f.comm);
    if (!parallel::comm_backend_built(comm)) {
        throw error(status_code::unavailable,
                    fmt::format("--comm {}: this build does not include it (see the cmake summary: `llmfleet: mpi`, "
                                "`llmfleet: nccl`)",
                                f.comm));
    }
    built_engine out;
    if (comm == parallel::comm_backend::threads) {
        if (parallel::launched_by_mpirun()) {
            throw invalid_input("started by mpirun with --comm threads: every process would run a whole engine of "
                                "its own; pass --comm mpi (or run without mpirun)");
        }
        if (options.parallel.world_size() == 1) {
            out.engine = engine::make_cpu_engine(options.cpu);
        } else {
            out.engine = engine::make_parallel_cpu_engine(options);
        }
        return out;
    }
    if (!parallel::launched_by_mpirun()) {
        throw invalid_input(fmt::format("--comm {} runs one rank per process: start it with mpirun -np {} "
                                        "(--allow-run-as-root as root), or use --comm threads",
                                        f.comm, options.parallel.world_size()));
    }
    out.mpi = std::make_unique<parallel::mpi_session>();
    std::unique_ptr<parallel::communicator> world = parallel::make_mpi_world(options.comm_timeout_s);
    if (options.cpu.n_threads <= 0) {
        options.cpu.n_threads = threads_per_mpi_rank();
    }
    std::unique_ptr<parallel::communicator> tp_world; // NCCL: the tp groups' all-reduces; MPI carries the rest
    if (comm == parallel::comm_backend::nccl) {
        tp_world = parallel::make_nccl_world(*world, -1, options.comm_timeout_s);
    }
    out.engine = engine::make_parallel_cpu_engine(options, std::move(world), std::move(tp_world));
    return out;
}

} // namespace llmfleet::tools
