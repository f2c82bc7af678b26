// cpu::linear_small_m (ours) vs cpu::linear_blas (OpenBLAS sgemm, the baseline) on Qwen2.5-0.5B's fused
// gate/up projection (896 → 9728, 35 MB of f32 weights), at 1–32 tokens. Calls cycle over 8 copies of the
// weights (279 MB) so that, as in a real forward pass, they come from DRAM and not the last-level cache.
// Counters: weight GB/s (weights are read once per call: compare with the machine's streaming bandwidth,
// which bench_engine prints) and GFLOP/s.
// Both run on the same 2-thread budget (the small-m kernel on our pool, OpenBLAS on its own threads).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "common/thread_pool.h"
#include "kernels/cpu/ops.h"

namespace {

using namespace llmfleet;

constexpr int64_t in = 896, out = 9728, n_copies = 8;

struct data {
    std::vector<float> w, x, y; // w [n_copies, out, in]
    int64_t next = 0;
    const float* weights() {
        next = (next + 1) % n_copies;
        return w.data() + next * in * out;
    }
    data() : w(static_cast<size_t>(n_copies * in * out)), x(32 * in), y(32 * out) {
        std::mt19937 rng(1);
        std::uniform_real_distribution<float> d(-1, 1);
        for (float& v : w) {
            v = d(rng);
        }
        for (float& v : x) {
            v = d(rng);
        }
    }
};

data& shared_data() {
    static data d;
    return d;
}

void set_counters(benchmark::State& state, int64_t m) {
    const auto bytes = static_cast<double>(in * out * 4);
    state.counters["weight_GBps"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GFLOPps"] = benchmark::Counter(2.0 * static_cast<double>(m * in * out) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

void bm_small_m(benchmark::State& state) {
    const int64_t m = state.range(0);
    data& d = shared_data();
    thread_pool pool(default_thread_count());
    for (auto _ : state) {
        kernels::cpu::linear_small_m(d.x.data(), d.weights(), nullptr, d.y.data(), m, in, out, pool);
        benchmark::ClobberMemory();
    }
    set_counters(state, m);
}

void bm_openblas(benchmark::State& state) {
    const int64_t m = state.range(0);
    data& d = shared_data();
    for (auto _ : state) {
        kernels::cpu::linear_blas(d.x.data(), d.weights(), nullptr, d.y.data(), m, in, out);
        benchmark::ClobberMemory();
    }
    set_counters(state, m);
}

BENCHMARK(bm_small_m)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(bm_openblas)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->UseRealTime()->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
