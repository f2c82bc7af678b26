// CPU engine benchmark, printed as a table (issue 3's list):
//   - this machine's memory bandwidth (a threaded streaming read of 1 GiB, best of 5), the roofline;
//   - prefill tok/s (one 512-token prompt) and decode tok/s at batch 1/8/32 on a Qwen2.5-0.5B-shaped random
//     model, with decode as a fraction of the bandwidth roofline (bytes read per step = f32 weights + KV);
//   - engine CPU time per step at 256 running sequences with the forward pass replaced by a no-op
//     (scheduler + batch building + sampling; vocab 16 so that sampling is the engine's loop, not a scan of
//     a 152k-entry row), next to the same with a 151936 vocab and greedy sampling.
// Usage: bench_engine [--model DIR] [--threads N] [--decode-steps N] [--skip-model]
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "bench/engine/bench_support.h"
#include "common/thread_pool.h"
#include "engine/cpu_model_runner.h"
#include "engine/engine.h"
#include "kernels/cpu/ops.h"
#include "model/make_model.h"

using namespace llmfleet;
using namespace llmfleet::engine;
using llmfleet::bench::measure_read_bandwidth_gbps;
using llmfleet::bench::now_s;
using llmfleet::bench::prompt;

namespace {

// Achievable f32 GEMM rate: OpenBLAS sgemm on 2048³ (best of 3), the compute roof of prefill.
double measure_sgemm_gflops() {
    const int64_t n = 2048;
    std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
    double best_s = 1e9;
    for (int pass = 0; pass < 3; ++pass) {
        const double t0 = now_s();
        kernels::cpu::linear_blas(a.data(), b.data(), nullptr, c.data(), n, n, n);
        best_s = std::min(best_s, now_s() - t0);
    }
    return 2.0 * n * n * n / best_s / 1e9;
}

// A forward pass that does nothing (logits stay as they are): the engine's own CPU cost.
class null_runner final : public model_runner {
public:
    explicit null_runner(int64_t vocab) {
        _config.vocab_size = vocab;
        _config.max_position_embeddings = 1 << 20;
        _config.n_layers = 1;
        _config.n_kv_heads = 1;
        _config.head_dim = 2;
    }
    const model::model_config& config() const override { return _config; }
    int32_t n_kv_blocks() const override { return 1 << 16; }
    int32_t block_size() const override { return 16; }
    void forward(const forward_batch& batch, std::span<float> logits) override {
        if (!logits.empty()) {
            logits[batch.n_tokens() % logits.size()] = 1.0f; // touch the output so nothing is elided
        }
    }
    std::string describe() const override { return "null"; }

private:
    model::model_config _config;
};

// Engine CPU µs per step with 256 sequences decoding (after their prompts are in).
double engine_overhead_us(int64_t vocab, int32_t n_threads) {
    engine_config c;
    c.scheduling.max_num_seqs = 256;
    c.scheduling.max_num_batched_tokens = 1 << 16;
    c.n_sampler_threads = n_threads;
    engine::engine e(c, std::make_unique<null_runner>(vocab));
    for (int32_t i = 0; i < 256; ++i) {
        e.add_request(prompt(512, i, vocab), sampling_params::fixed_length_greedy(1 << 20));
    }
    e.step();                                     // all prefills
    const int n_steps = vocab > 1000 ? 20 : 2000; // 256 × (512 + 2000) tokens fit the pool: no preemption
    const double t0 = now_s();
    for (int s = 0; s < n_steps; ++s) {
        e.step();
    }
    return (now_s() - t0) / n_steps * 1e6;
}

} // namespace

int main(int argc, char** argv) {
    std::string model_dir;
    int32_t n_threads = default_thread_count();
    int32_t decode_steps = 16;
    bool skip_model = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--model" && i + 1 < argc) {
            model_dir = argv[++i];
        } else if (a == "--threads" && i + 1 < argc) {
            n_threads = std::stoi(argv[++i]);
        } else if (a == "--decode-steps" && i + 1 < argc) {
            decode_steps = std::stoi(argv[++i]);
        } else if (a == "--skip-model") {
            skip_model = true;
        } else {
            fmt::print(stderr, "usage: bench_engine [--model DIR] [--threads N] [--decode-steps N] [--skip-model]\n");
            return 2;
        }
    }
    if (const char* only = std::getenv("LLMFLEET_BENCH_OVERHEAD_ONLY"); only != nullptr) { // for profiling
        fmt::print("{:.1f} µs/step\n", engine_overhead_us(16, n_threads));
        return 0;
    }
    const double bw_gbps = measure_read_bandwidth_gbps(n_threads);
    const double peak_gflops = measure_sgemm_gflops();
    fmt::print("machine: {} threads, streaming read bandwidth {:.1f} GB/s (1 GiB, best of 5), OpenBLAS sgemm "
               "{:.0f} GFLOP/s (2048³)\n\n",
               n_threads, bw_gbps, peak_gflops);

    fmt::print("engine CPU time per step, 256 running sequences, forward = no-op\n");
    fmt::print("  vocab 16 (scheduler + batch building + sampling loop): {:8.1f} µs/step  (goal ≤ 20)\n",
               engine_overhead_us(16, n_threads));
    fmt::print("  vocab 151936, greedy (adds a 256 × 152k argmax scan): {:8.1f} µs/step\n\n",
               engine_overhead_us(151936, n_threads));
    if (skip_model) {
        return 0;
    }

    model_dir = bench::qwen_05b_model(model_dir);
    cpu_engine_options o;
    o.model_dir = model_dir;
    o.kv_cache_gib = 2.0;
    o.n_threads = n_threads;
    auto make = [&] { return make_cpu_engine(o); };
    auto e = make();
    auto& runner = dynamic_cast<cpu_model_runner&>(e->runner());
    fmt::print("{}\n", runner.describe());
    const model::model_config& c = e->model_config();

    // Prefill: one 512-token prompt in one step.
    e->add_request(prompt(512, 1), sampling_params::fixed_length_greedy(1));
    double t0 = now_s();
    while (e->has_unfinished()) {
        e->step();
    }
    const double prefill_tps = 512 / (now_s() - t0);

    // FLOPs per token: 2 per weight of the layers (the LM head runs for the last token only) plus attention
    // (QKᵀ and PV: 4 · position · q_size per layer; position averages n/2 over a prompt).
    const double weight_gb = static_cast<double>(runner.weight_bytes()) / 1e9;
    const double layer_params = static_cast<double>(runner.weight_bytes()) / 4 -
                                static_cast<double>(c.vocab_size * c.hidden_size) * (c.tie_word_embeddings ? 1 : 2);
    auto flops_per_token = [&](double position) {
        return 2 * layer_params + 4.0 * position * static_cast<double>(c.q_size() * c.n_layers);
    };
    const double prefill_roof = peak_gflops * 1e9 / flops_per_token(256);
    fmt::print("\n{:<22} {:>10} {:>12} {:>14} {:>10}  {}\n", "phase", "tok/s", "ms/step", "roofline tok/s", "% of roof",
               "bound");
    fmt::print("{:<22} {:>10.1f} {:>12.1f} {:>14.1f} {:>9.0f}%  compute\n", "prefill 512 tokens", prefill_tps,
               512 / prefill_tps * 1e3, prefill_roof, 100 * prefill_tps / prefill_roof);
    for (const int32_t batch : {1, 8, 32}) {
        auto eng = make();
        const int32_t n_prompt = 64;
        for (int32_t i = 0; i < batch; ++i) {
            eng->add_request(prompt(n_prompt, i + 10), sampling_params::fixed_length_greedy(decode_steps + 1));
        }
        eng->step(); // prefill all and sample the first token
        t0 = now_s();
        for (int32_t s = 0; s < decode_steps; ++s) {
            eng->step();
        }
        const double step_s = (now_s() - t0) / decode_steps;
        const double tps = batch / step_s;
        const double kv_gb = static_cast<double>(batch) * (n_prompt + decode_steps / 2.0) *
                             static_cast<double>(kv_bytes_per_token(c, 4)) / 1e9;
        // Decode is bound by reading the weights and KV once per step, or by the GEMM rate, whichever is lower.
        const double bw_roof = batch * bw_gbps / (weight_gb + kv_gb);
        const double compute_roof =
            peak_gflops * 1e9 / (flops_per_token(n_prompt) + 2.0 * c.vocab_size * c.hidden_size);
        const double roof_tps = std::min(bw_roof, compute_roof);
        fmt::print("{:<22} {:>10.1f} {:>12.1f} {:>14.1f} {:>9.0f}%  {}\n", fmt::format("decode batch {}", batch), tps,
                   step_s * 1e3, roof_tps, 100 * tps / roof_tps, bw_roof < compute_roof ? "memory" : "compute");
    }
    return 0;
}
