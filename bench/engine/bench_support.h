// Pieces shared by the engine benchmarks: a monotonic clock, this machine's streaming read bandwidth (the decode
// roofline), deterministic prompts, and the random Qwen2.5-0.5B-shaped model they run on.
#pragma once

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "kernels/cpu/ops.h"
#include "model/make_model.h"

namespace llmfleet::bench {

inline double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Streaming read bandwidth: every thread sums its slice of a 1 GiB buffer in wide vectors (best of 5).
inline double measure_read_bandwidth_gbps(int32_t n_threads) {
    const size_t n = (1ULL << 30) / sizeof(float);
    std::vector<float> buf(n, 1.0f);
    thread_pool pool(n_threads);
    double best_s = 1e9;
    std::atomic<double> sink{0};
    for (int pass = 0; pass < 5; ++pass) {
        const double t0 = now_s();
        pool.parallel_for(static_cast<int64_t>(n), 1 << 20,
                          [&](int64_t b, int64_t e) { sink = sink + kernels::cpu::stream_sum(buf.data() + b, e - b); });
        best_s = std::min(best_s, now_s() - t0);
    }
    return static_cast<double>(n * sizeof(float)) / best_s / 1e9;
}

// n token ids below min(vocab, 150000), different per salt.
inline std::vector<int32_t> prompt(int32_t n, int32_t salt, int64_t vocab = 150000) {
    std::vector<int32_t> ids(n);
    for (int32_t i = 0; i < n; ++i) {
        ids[i] = static_cast<int32_t>((i * 7919LL + salt * 104729LL) % std::min<int64_t>(vocab, 150000));
    }
    return ids;
}

// model_dir, or (empty) a random Qwen2.5-0.5B-shaped bf16 model in the temp directory, written once.
inline std::string qwen_05b_model(std::string model_dir) {
    if (!model_dir.empty()) {
        return model_dir;
    }
    model_dir = (std::filesystem::temp_directory_path() / "llmfleet-bench-qwen2.5-0.5b").string();
    if (!std::filesystem::exists(model_dir + "/config.json")) {
        fmt::print("writing a random Qwen2.5-0.5B-shaped model to {} ...\n", model_dir);
        model::make_model({model::architecture::qwen2, "qwen2.5-0.5b", 1, model::dtype::bf16, 1, model_dir});
    }
    return model_dir;
}

} // namespace llmfleet::bench
