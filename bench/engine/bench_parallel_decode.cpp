// Decode throughput of a Qwen2.5-0.5B-shaped model under tensor and pipeline parallelism on the CPU, printed as a
// table: for each tp × pp layout (threads communicator; the host's threads split between the ranks, so every row
// uses the same cores), decode tok/s at each batch size, the ratio to tp 1 × pp 1 measured in the same run, the
// fraction of the memory-bandwidth roofline (weights + KV read once per step over the host's measured streaming
// bandwidth: the ranks share one memory system), and the KV blocks a rank gets from the same per-rank budget.
// Under mpirun with --comm mpi it runs the one layout --tp × --pp as MPI processes (rank 0 prints).
// Usage: bench_parallel_decode [--model DIR] [--layouts 1x1,2x1,1x2,2x2] [--batches 1,8] [--decode-steps N]
//                              [--threads N] [--kv-cache-gib G] [--comm threads|mpi --tp T --pp P]
#include <fmt/core.h>

#include <map>
#include <string>
#include <vector>

#include "bench/engine/bench_support.h"
#include "common/text.h"
#include "engine/cpu_model_runner.h"
#include "engine/parallel_runner.h"
#include "parallel/mpi_comm.h"

using namespace llmfleet;
using namespace llmfleet::engine;

namespace {

struct flags {
    std::string model_dir;
    std::vector<std::pair<int32_t, int32_t>> layouts = {{1, 1}, {2, 1}, {1, 2}, {2, 2}};
    std::vector<int32_t> batches = {1, 8};
    int32_t decode_steps = 8;
    int32_t n_threads = default_thread_count(); // for the whole host
    double kv_cache_gib = 0.5;                  // per rank
    std::string comm = "threads";
    int32_t tp = 1, pp = 1;
};

std::vector<int32_t> parse_list(const std::string& text) {
    std::vector<int32_t> out;
    for (std::string_view part : split(text, ',')) {
        out.push_back(static_cast<int32_t>(parse_int(part, "list")));
    }
    return out;
}

flags parse(int argc, char** argv) {
    flags f;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--model") {
            f.model_dir = v;
        } else if (a == "--layouts") {
            f.layouts.clear();
            for (std::string_view part : split(v, ',')) {
                const auto x = part.find('x');
                f.layouts.emplace_back(static_cast<int32_t>(parse_int(part.substr(0, x), "--layouts tp")),
                                       static_cast<int32_t>(parse_int(part.substr(x + 1), "--layouts pp")));
            }
        } else if (a == "--batches") {
            f.batches = parse_list(v);
        } else if (a == "--decode-steps") {
            f.decode_steps = static_cast<int32_t>(parse_int(v, a));
        } else if (a == "--threads") {
            f.n_threads = static_cast<int32_t>(parse_int(v, a));
        } else if (a == "--kv-cache-gib") {
            f.kv_cache_gib = std::stod(v);
        } else if (a == "--comm") {
            f.comm = v;
        } else if (a == "--tp") {
            f.tp = static_cast<int32_t>(parse_int(v, a));
        } else if (a == "--pp") {
            f.pp = static_cast<int32_t>(parse_int(v, a));
        } else {
            throw invalid_input(
                fmt::format("unknown flag {}; see the usage at the top of bench_parallel_decode.cpp", a));
        }
    }
    return f;
}

struct row {
    std::string layout;
    std::map<int32_t, double> tok_s; // by batch
    int64_t kv_blocks = 0;
    std::string rank0;
};

// Decode tok/s at batch b: b prompts of 64 tokens prefilled, then decode_steps steps timed.
double decode_tok_s(engine::engine& e, int32_t batch, int32_t decode_steps) {
    for (int32_t i = 0; i < batch; ++i) {
        e.add_request(bench::prompt(64, i + 10), sampling_params::fixed_length_greedy(decode_steps + 1));
    }
    e.step();
    const double t0 = bench::now_s();
    for (int32_t s = 0; s < decode_steps; ++s) {
        e.step();
    }
    const double step_s = (bench::now_s() - t0) / decode_steps;
    while (e.has_unfinished()) {
        e.step();
    }
    return batch / step_s;
}

parallel_engine_options options_for(const flags& f, int32_t tp, int32_t pp, int32_t threads_per_rank) {
    parallel_engine_options o;
    o.cpu.model_dir = f.model_dir;
    o.cpu.kv_cache_gib = f.kv_cache_gib;
    o.cpu.n_threads = threads_per_rank;
    o.parallel.tp = tp;
    o.parallel.pp = pp;
    return o;
}

row measure(const flags& f, engine::engine& e, const std::string& layout) {
    row r{layout, {}, e.runner().n_kv_blocks(), e.runner().describe()};
    for (const int32_t b : f.batches) {
        r.tok_s[b] = decode_tok_s(e, b, f.decode_steps);
    }
    return r;
}

void print_table(const flags& f, const std::vector<row>& rows, const model::model_config& c, double bw_gbps) {
    // Bytes one decode step reads: every f32 weight once (across all ranks) and each sequence's KV.
    const double weight_gb =
        4.0 *
        static_cast<double>(c.n_layers * (c.hidden_size * (c.q_size() + 2 * c.kv_size()) + c.q_size() * c.hidden_size +
                                          3 * c.hidden_size * c.intermediate_size) +
                            c.vocab_size * c.hidden_size * (c.tie_word_embeddings ? 1 : 2)) /
        1e9;
    fmt::print("\n{:<10}", "tp × pp");
    for (const int32_t b : f.batches) {
        fmt::print(" {:>14} {:>8} {:>8}", fmt::format("batch {} tok/s", b), "vs 1×1", "% roof");
    }
    fmt::print(" {:>16}\n", "KV blocks/rank");
    for (const row& r : rows) {
        fmt::print("{:<10}", r.layout);
        for (const int32_t b : f.batches) {
            const double kv_gb = b * (64 + f.decode_steps / 2.0) * static_cast<double>(kv_bytes_per_token(c, 4)) / 1e9;
            const double roof = b * bw_gbps / (weight_gb + kv_gb);
            // The ratio only where this run measured 1 × 1 (the first layout); an MPI run has one row.
            const std::string ratio =
                rows.front().layout == "1×1" ? fmt::format("{:.2f}×", r.tok_s.at(b) / rows.front().tok_s.at(b)) : "—";
            fmt::print(" {:>14.2f} {:>8} {:>7.0f}%", r.tok_s.at(b), ratio, 100 * r.tok_s.at(b) / roof);
        }
        fmt::print(" {:>16}\n", r.kv_blocks);
    }
}

} // namespace

int main(int argc, char** argv) {
    try {
        flags f = parse(argc, argv);
        f.model_dir = bench::qwen_05b_model(f.model_dir);
        const model::model_config c = model::load_config(f.model_dir);
        if (f.comm == "mpi") {
            parallel::mpi_session mpi;
            auto e = make_parallel_cpu_engine(options_for(f, f.tp, f.pp, std::max(1, f.n_threads / mpi.world_size())),
                                              parallel::make_mpi_world(), nullptr);
            if (e == nullptr) {
                return 0; // a follower rank
            }
            const double bw_gbps = bench::measure_read_bandwidth_gbps(f.n_threads);
            const std::vector<row> rows = {measure(f, *e, fmt::format("{}×{} mpi", f.tp, f.pp))};
            fmt::print("{}\nhost streaming read bandwidth {:.1f} GB/s (the roofline's denominator)\n", rows[0].rank0,
                       bw_gbps);
            print_table(f, rows, c, bw_gbps);
            return 0;
        }
        const double bw_gbps = bench::measure_read_bandwidth_gbps(f.n_threads);
        fmt::print("host: {} threads, streaming read bandwidth {:.1f} GB/s; per-rank KV budget {} GiB; decode {} "
                   "steps after 64-token prompts\n",
                   f.n_threads, bw_gbps, f.kv_cache_gib, f.decode_steps);
        std::vector<row> rows;
        for (const auto& [tp, pp] : f.layouts) {
            const int32_t ranks = tp * pp;
            const int32_t threads = std::max(1, f.n_threads / ranks);
            std::unique_ptr<engine::engine> e = ranks == 1 ? make_cpu_engine(options_for(f, 1, 1, threads).cpu)
                                                           : make_parallel_cpu_engine(options_for(f, tp, pp, threads));
            rows.push_back(measure(f, *e, fmt::format("{}×{}", tp, pp)));
            fmt::print("  {}: {}\n", rows.back().layout, rows.back().rank0);
        }
        print_table(f, rows, c, bw_gbps);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_parallel_decode: {}\n", e.what());
        return 1;
    }
}
