// Communicator all-reduce benchmark (threads or MPI), printed as an nccl-tests-style table: per message size (4 B …
// 64 MiB in powers of 4, plus the tensor-parallel messages of Qwen2.5-0.5B: 1, 16 and 128 tokens × 896 hidden × 4 B
// = 3.5 KiB, 56 KiB, 448 KiB) the iterations, median / p10 / p90 latency, algorithm bandwidth (bytes / time) and bus
// bandwidth (2(n-1)/n · bytes / time: what each rank moves in a ring all-reduce, nccl-tests' definition). Then the
// α-β cost model latency_us = α + bytes / β fitted by least squares over the sizes (relative error, so that small
// messages count as much as large ones), which the planner uses for tensor-parallel communication cost.
// Each size is validated (the first all-reduce against the exact expected sum on every rank) before timing.
//   bench_comm --comm threads --ranks 4
//   mpirun -n 4 bench_comm --comm mpi              (rank 0 prints)
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.h"
#include "parallel/communicator.h"
#include "parallel/mpi_comm.h"
#include "parallel/thread_comm.h"

using namespace llmfleet;
using namespace llmfleet::parallel;

namespace {

constexpr int64_t qwen_hidden_bytes = 896 * 4; // one token's activations, f32

struct options {
    std::string comm = "threads";
    int32_t n_ranks = 2;
    int64_t min_bytes = 4;
    int64_t max_bytes = 64 << 20;
    int32_t max_iters = 1000;
    double seconds_per_size = 0.2;
    std::string json_path;
};

struct size_result {
    int64_t bytes = 0;
    int32_t iters = 0;
    double p10_us = 0, median_us = 0, p90_us = 0;
};

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<int64_t> message_sizes(const options& o) {
    std::vector<int64_t> sizes;
    for (int64_t b = 4; b <= (int64_t{64} << 20); b *= 4) {
        sizes.push_back(b);
    }
    for (int64_t tokens : {1, 16, 128}) {
        sizes.push_back(tokens * qwen_hidden_bytes);
    }
    std::sort(sizes.begin(), sizes.end());
    std::erase_if(sizes, [&](int64_t b) { return b < o.min_bytes || b > o.max_bytes; });
    return sizes;
}

std::string human_bytes(int64_t bytes) {
    if (bytes < 1024) {
        return fmt::format("{} B", bytes);
    }
    if (bytes < (1 << 20)) {
        return fmt::format("{:g} KiB", bytes / 1024.0);
    }
    return fmt::format("{:g} MiB", bytes / 1048576.0);
}

// Checks one all-reduce of n floats: rank r holds (r + 1) · (1 + i % 7), so element i sums to (1 + i % 7) ·
// n_ranks (n_ranks + 1) / 2, exact in f32. Every rank checks; the verdict is all-reduced.
void validate(communicator& c, std::vector<float>& buf) {
    const int64_t n = static_cast<int64_t>(buf.size());
    for (int64_t i = 0; i < n; ++i) {
        buf[i] = static_cast<float>((c.rank() + 1) * (1 + i % 7));
    }
    c.all_reduce_sum(buf.data(), n);
    int64_t n_wrong = 0;
    const int64_t rank_sum = int64_t{c.size()} * (c.size() + 1) / 2;
    for (int64_t i = 0; i < n; ++i) {
        n_wrong += buf[i] != static_cast<float>(rank_sum * (1 + i % 7)) ? 1 : 0;
    }
    float any_wrong = n_wrong > 0 ? 1.0f : 0.0f;
    c.all_reduce_sum(&any_wrong, 1);
    if (any_wrong > 0) {
        throw error(status_code::internal,
                    fmt::format("all_reduce_sum of {} floats is wrong ({} wrong elements on rank {}); not timing it", n,
                                n_wrong, c.rank()));
    }
}

// Runs the benchmark on one rank (every rank calls it); rank 0 returns the table.
std::vector<size_result> run_rank(communicator& c, const options& o) {
    std::vector<size_result> table;
    for (int64_t bytes : message_sizes(o)) {
        std::vector<float> buf(static_cast<size_t>(bytes / 4));
        const int64_t n = static_cast<int64_t>(buf.size());
        validate(c, buf);
        std::fill(buf.begin(), buf.end(), 0.0f); // repeated sums stay finite
        // Calibrate on rank 0 (one warm-up, then one timed) and share the iteration count.
        c.all_reduce_sum(buf.data(), n);
        c.barrier();
        const double t0 = now_s();
        c.all_reduce_sum(buf.data(), n);
        int32_t iters = static_cast<int32_t>(
            std::clamp(o.seconds_per_size / std::max(now_s() - t0, 1e-7), 5.0, static_cast<double>(o.max_iters)));
        c.broadcast(&iters, sizeof(iters), 0);
        std::vector<double> samples_us;
        for (int32_t it = 0; it < iters; ++it) {
            c.barrier(); // every iteration starts with the ranks aligned
            const double start_s = now_s();
            c.all_reduce_sum(buf.data(), n);
            samples_us.push_back((now_s() - start_s) * 1e6);
        }
        std::sort(samples_us.begin(), samples_us.end());
        const auto at = [&](double q) { return samples_us[static_cast<size_t>(q * (samples_us.size() - 1) + 0.5)]; };
        table.push_back({bytes, iters, at(0.1), at(0.5), at(0.9)});
    }
    return c.rank() == 0 ? table : std::vector<size_result>{};
}

struct alpha_beta {
    double alpha_us = 0;
    double beta_gbps = 0;
    double max_rel_error = 0; // of the fit over the measured sizes
    int64_t worst_bytes = 0;  // the size where it is
};

// Least squares of median_us = a + b · bytes, each size weighted by 1 / median² (relative error).
alpha_beta fit(const std::vector<size_result>& table) {
    double s = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (const size_result& r : table) {
        const double x = static_cast<double>(r.bytes), y = r.median_us, w = 1 / (y * y);
        s += w;
        sx += w * x;
        sy += w * y;
        sxx += w * x * x;
        sxy += w * x * y;
    }
    alpha_beta f;
    const double b = (s * sxy - sx * sy) / (s * sxx - sx * sx);
    f.alpha_us = (sy - b * sx) / s;
    f.beta_gbps = 1e-3 / b; // bytes per µs → GB/s
    for (const size_result& r : table) {
        const double model_us = f.alpha_us + static_cast<double>(r.bytes) * b;
        const double rel_error = std::abs(model_us - r.median_us) / r.median_us;
        if (rel_error > f.max_rel_error) {
            f.max_rel_error = rel_error;
            f.worst_bytes = r.bytes;
        }
    }
    return f;
}

void report(const options& o, int32_t n_ranks, const std::string& library, const std::vector<size_result>& table) {
    fmt::print("bench_comm: all_reduce_sum (f32, sum) over {} with {} ranks{}; {} hardware threads\n\n", o.comm,
               n_ranks, library.empty() ? "" : " (" + library + ")", std::thread::hardware_concurrency());
    fmt::print("{:>10} {:>10} {:>6} {:>11} {:>11} {:>11} {:>11} {:>11}\n", "size", "floats", "iters", "median_us",
               "p10_us", "p90_us", "algbw_GB/s", "busbw_GB/s");
    const double bus_factor = 2.0 * (n_ranks - 1) / n_ranks;
    nlohmann::json rows = nlohmann::json::array();
    for (const size_result& r : table) {
        const double algbw_gbps = static_cast<double>(r.bytes) / (r.median_us * 1e-6) / 1e9;
        fmt::print("{:>10} {:>10} {:>6} {:>11.1f} {:>11.1f} {:>11.1f} {:>11.3f} {:>11.3f}\n", human_bytes(r.bytes),
                   r.bytes / 4, r.iters, r.median_us, r.p10_us, r.p90_us, algbw_gbps, algbw_gbps * bus_factor);
        rows.push_back({{"bytes", r.bytes},
                        {"iters", r.iters},
                        {"median_us", r.median_us},
                        {"p10_us", r.p10_us},
                        {"p90_us", r.p90_us},
                        {"algbw_gbps", algbw_gbps},
                        {"busbw_gbps", algbw_gbps * bus_factor}});
    }
    nlohmann::json doc = {{"comm", o.comm}, {"n_ranks", n_ranks}, {"rows", rows}};
    if (table.size() >= 2) {
        const alpha_beta f = fit(table);
        fmt::print("\nα-β model (least squares on relative error over {} sizes): latency_us = α + bytes / β with "
                   "α = {:.2f} µs, β = {:.3f} GB/s (worst fit: {} off by {:.0f}%)\n",
                   table.size(), f.alpha_us, f.beta_gbps, human_bytes(f.worst_bytes), f.max_rel_error * 100);
        doc["fit"] = {{"alpha_us", f.alpha_us}, {"beta_gbps", f.beta_gbps}, {"max_rel_error", f.max_rel_error}};
    }
    if (!o.json_path.empty()) {
        std::ofstream(o.json_path) << doc.dump(2) << "\n";
    }
}

std::vector<size_result> run_threads(const options& o) {
    std::vector<std::unique_ptr<communicator>> comms = make_thread_world(o.n_ranks);
    std::vector<size_result> table;
    std::vector<std::exception_ptr> errors(comms.size());
    std::vector<std::thread> threads;
    for (size_t r = 0; r < comms.size(); ++r) {
        threads.emplace_back([&, r] {
            try {
                std::vector<size_result> mine = run_rank(*comms[r], o);
                if (r == 0) {
                    table = std::move(mine);
                }
            } catch (...) {
                errors[r] = std::current_exception();
                comms[r]->abort("benchmark rank failed"); // the others stop waiting for it
            }
        });
    }
    for (std::thread& t : threads) {
        t.join();
    }
    for (const std::exception_ptr& e : errors) {
        if (e) {
            std::rethrow_exception(e);
        }
    }
    return table;
}

} // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app{"All-reduce latency and bandwidth of a communicator, with an α-β fit"};
    app.add_option("--comm", o.comm, "threads | mpi (mpi: run under mpirun)")->capture_default_str();
    app.add_option("--ranks", o.n_ranks, "Ranks (threads)")->capture_default_str()->check(CLI::Range(1, 1024));
    app.add_option("--min-bytes", o.min_bytes)->capture_default_str();
    app.add_option("--max-bytes", o.max_bytes)->capture_default_str();
    app.add_option("--iters", o.max_iters, "Most iterations per size")->capture_default_str();
    app.add_option("--seconds-per-size", o.seconds_per_size, "Time budget per size (≥ 5 iterations)")
        ->capture_default_str();
    app.add_option("--json", o.json_path, "Also write the table and the fit to FILE");
    CLI11_PARSE(app, argc, argv);
    try {
        const comm_backend backend = parse_comm_backend(o.comm);
        if (backend == comm_backend::threads) {
            report(o, o.n_ranks, "", run_threads(o));
        } else if (backend == comm_backend::mpi) {
            mpi_session session;
            std::unique_ptr<communicator> world = make_mpi_world();
            try {
                const std::vector<size_result> table = run_rank(*world, o);
                if (world->rank() == 0) {
                    report(o, world->size(), session.library_version(), table);
                }
            } catch (const error& e) {
                fmt::print(stderr, "bench_comm: rank {}: {}\n", world->rank(), e.what());
                world->abort(e.what()); // ends the job: the other ranks would wait for this one
            }
        } else {
            throw error(status_code::invalid_argument, "--comm nccl: not measured by this benchmark (threads, mpi)");
        }
    } catch (const error& e) {
        fmt::print(stderr, "bench_comm: {}\n", e.what());
        return 1;
    }
    return 0;
}
