// CUDA engine benchmark (issue 6), printed as a table; run next to bench/engine/hf_generate_bench.py (transformers'
// batched generate on the same model and GPU) by scripts/gpu/bench_cuda.sh:
//   - the two ceilings, measured in this run: HBM bandwidth (device-to-device copy of 2 GiB: read + write, best of
//     10) and the bf16 matrix rate (cuBLASLt 8192³, bf16 in, f32 accumulate, best of 10);
//   - offline throughput: 1000 requests × (128 in, 128 out) and × (1024 in, 128 out), greedy, fixed length;
//   - decode tok/s at batch 1, 32 and 256 (128-token prompts; only steps with no prefill are timed);
//   - prefill tok/s (64 prompts × 1024 tokens, one output token).
// Each row is also given as a fraction of its roofline: the larger of (bytes moved: weights per step + KV read and
// written) / bandwidth and FLOPs (2 per weight per token + attention) / matrix rate, over the measured time.
// Usage: bench_cuda_engine [--model DIR] [--preset qwen2.5-0.5b|qwen2.5-1.5b] [--fraction F]
#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>

#include "bench/engine/bench_support.h"
#include "engine/cuda_engine.h"
#include "engine/cuda_model_runner.h"
#include "engine/engine.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/gemm.h"
#include "model/make_model.h"

using namespace llmfleet;
using llmfleet::bench::now_s;
using llmfleet::bench::prompt;
using llmfleet::engine::cuda_engine_options;
using llmfleet::engine::cuda_model_runner;
using llmfleet::engine::request_output;
using llmfleet::engine::sampling_params;

namespace {

struct ceilings {
    double hbm_gbps = 0;
    double bf16_tflops = 0;
};

ceilings measure_ceilings() {
    ceilings c;
    const int64_t bytes = 2LL << 30;
    kernels::cuda::device_buffer<std::byte> a(bytes), b(bytes);
    LLMFLEET_CUDA_CHECK(cudaMemset(a.data(), 1, a.bytes()));
    double best_s = 1e9;
    for (int pass = 0; pass < 11; ++pass) { // the first pass warms up
        LLMFLEET_CUDA_CHECK(cudaDeviceSynchronize());
        const double t0 = now_s();
        LLMFLEET_CUDA_CHECK(cudaMemcpy(b.data(), a.data(), a.bytes(), cudaMemcpyDeviceToDevice));
        LLMFLEET_CUDA_CHECK(cudaDeviceSynchronize());
        best_s = pass > 0 ? std::min(best_s, now_s() - t0) : best_s;
    }
    c.hbm_gbps = 2.0 * static_cast<double>(bytes) / best_s / 1e9;
    const int64_t n = 8192;
    kernels::cuda::device_buffer<__nv_bfloat16> x(n * n), w(n * n), y(n * n);
    LLMFLEET_CUDA_CHECK(cudaMemset(x.data(), 0, x.bytes()));
    LLMFLEET_CUDA_CHECK(cudaMemset(w.data(), 0, w.bytes()));
    kernels::cuda::gemm_runner gemm;
    best_s = 1e9;
    for (int pass = 0; pass < 11; ++pass) {
        LLMFLEET_CUDA_CHECK(cudaDeviceSynchronize());
        const double t0 = now_s();
        gemm.linear(x.data(), w.data(), y.data(), kernels::cuda::gemm_out::bf16, n, n, n, false, nullptr);
        LLMFLEET_CUDA_CHECK(cudaDeviceSynchronize());
        best_s = pass > 0 ? std::min(best_s, now_s() - t0) : best_s;
    }
    c.bf16_tflops = 2.0 * n * n * n / best_s / 1e12;
    return c;
}

// Work a run did, for its roofline: bytes moved and FLOPs.
struct work {
    double bytes = 0, flops = 0;
};

struct model_costs {
    double weight_bytes = 0;       // read once per step
    double flops_per_token = 0;    // 2 × matrix weights (lm_head included)
    double kv_bytes_per_token = 0; // K and V, all layers, bf16
    double attn_flops_per_ctx = 0; // per query token per context token: 4 × q width × layers
};

model_costs costs_of(const model::model_config& c, int64_t weight_bytes) {
    model_costs m;
    m.weight_bytes = static_cast<double>(weight_bytes);
    m.flops_per_token = static_cast<double>(weight_bytes); // bf16: 2 bytes per weight, 2 FLOPs per weight
    m.kv_bytes_per_token = static_cast<double>(engine::kv_bytes_per_token(c, 2));
    m.attn_flops_per_ctx = 4.0 * static_cast<double>(c.q_size() * c.n_layers);
    return m;
}

struct run_stats {
    double seconds = 0;
    int64_t n_in = 0, n_out = 0, n_steps = 0;
    work w;
};

// Runs n requests of (in, out) tokens to completion; the roofline's work assumes each decode step reads the weights
// once and every request's whole context.
run_stats offline(engine::engine& e, const model_costs& m, int32_t n, int32_t in, int32_t out) {
    for (int32_t i = 0; i < n; ++i) {
        e.add_request(prompt(in, i), sampling_params::fixed_length_greedy(out));
    }
    const int64_t steps0 = e.stats().n_steps;
    const double t0 = now_s();
    while (e.has_unfinished()) {
        e.step();
    }
    run_stats r;
    r.seconds = now_s() - t0;
    r.n_in = static_cast<int64_t>(n) * in;
    r.n_out = static_cast<int64_t>(n) * out;
    r.n_steps = e.stats().n_steps - steps0;
    const double ctx_sum =
        static_cast<double>(n) * (static_cast<double>(in) * in / 2.0 + static_cast<double>(out) * (in + out / 2.0));
    r.w.bytes = static_cast<double>(r.n_steps) * m.weight_bytes + ctx_sum * m.kv_bytes_per_token +
                static_cast<double>(r.n_in + r.n_out) * m.kv_bytes_per_token;
    r.w.flops = static_cast<double>(r.n_in + r.n_out) * m.flops_per_token + ctx_sum * m.attn_flops_per_ctx;
    return r;
}

// Decode steps at batch b (after the prompts' prefill): seconds per step and the work of one step.
run_stats decode_at(engine::engine& e, const model_costs& m, int32_t b, int32_t in, int32_t out) {
    for (int32_t i = 0; i < b; ++i) {
        e.add_request(prompt(in, 1000 + i), sampling_params::fixed_length_greedy(out));
    }
    run_stats r;
    double ctx_sum = 0;
    while (e.has_unfinished()) {
        const int64_t prefill0 = e.stats().n_prefill_tokens;
        const double t0 = now_s();
        const auto& outputs = e.step();
        const double dt = now_s() - t0;
        if (e.stats().n_prefill_tokens == prefill0 && static_cast<int32_t>(outputs.size()) == b) {
            r.seconds += dt;
            ++r.n_steps;
            r.n_out += b;
            for (const request_output& o : outputs) {
                ctx_sum += o.n_prompt_tokens + o.n_generated;
            }
        }
    }
    r.w.bytes = static_cast<double>(r.n_steps) * m.weight_bytes + ctx_sum * m.kv_bytes_per_token;
    r.w.flops = static_cast<double>(r.n_out) * m.flops_per_token + ctx_sum * m.attn_flops_per_ctx;
    return r;
}

double roofline_fraction(const run_stats& r, const ceilings& c) {
    const double t_roof = std::max(r.w.bytes / (c.hbm_gbps * 1e9), r.w.flops / (c.bf16_tflops * 1e12));
    return t_roof / r.seconds;
}

} // namespace

int main(int argc, char** argv) {
    std::string model_dir, preset = "qwen2.5-0.5b";
    double fraction = 0.85;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--model") {
            model_dir = argv[i + 1];
        } else if (flag == "--preset") {
            preset = argv[i + 1];
        } else if (flag == "--fraction") {
            fraction = std::stod(argv[i + 1]);
        }
    }
    if (model_dir.empty()) {
        model_dir = (std::filesystem::temp_directory_path() / ("llmfleet-bench-" + preset)).string();
        if (!std::filesystem::exists(model_dir + "/config.json")) {
            model::make_model({model::architecture::qwen2, preset, 1, model::dtype::bf16, 1, model_dir});
        }
    }
    const ceilings c = measure_ceilings();
    fmt::print("ceilings: HBM {:.0f} GB/s (device copy), bf16 matrix {:.0f} TFLOP/s (cuBLASLt 8192³)\n", c.hbm_gbps,
               c.bf16_tflops);
    auto make = [&](int32_t max_seqs) {
        cuda_engine_options o;
        o.model_dir = model_dir;
        o.gpu_memory_fraction = fraction;
        o.engine.scheduling.max_num_seqs = max_seqs;
        o.engine.scheduling.max_num_batched_tokens = 8192;
        o.engine.enable_prefix_caching = false;
        return engine::make_cuda_engine(o);
    };
    auto e = make(256);
    const auto* runner = dynamic_cast<const cuda_model_runner*>(&e->runner());
    const model_costs m = costs_of(e->model_config(), runner != nullptr ? runner->weight_bytes() : 0);
    fmt::print("model {} ({:.2f} GiB of bf16 weights)\n\n", model_dir, m.weight_bytes / (1 << 30));
    fmt::print("{:<34} {:>12} {:>12} {:>10} {:>10}\n", "workload", "tok/s out", "tok/s total", "s", "roofline");
    auto row = [&](const std::string& name, const run_stats& r) {
        fmt::print("{:<34} {:>12.0f} {:>12.0f} {:>10.2f} {:>9.0f}%\n", name, r.n_out / r.seconds,
                   (r.n_in + r.n_out) / r.seconds, r.seconds, 100 * roofline_fraction(r, c));
    };
    offline(*e, m, 16, 128, 8); // warm-up: graphs and GEMM plans
    row("offline 1000 × (128 in, 128 out)", offline(*e, m, 1000, 128, 128));
    row("offline 1000 × (1024 in, 128 out)", offline(*e, m, 1000, 1024, 128));
    run_stats prefill = offline(*e, m, 64, 1024, 1);
    row("prefill 64 × 1024 (1 out)", prefill);
    for (const int32_t b : {1, 32, 256}) {
        row(fmt::format("decode batch {}", b), decode_at(*e, m, b, 128, 128));
    }
    return 0;
}
