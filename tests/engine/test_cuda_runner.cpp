// The CUDA runner end to end against the CPU runner (the oracle) on Qwen2.5-0.5B- and 1.5B-shaped random models cut
// to 2 layers (head_dim 64 and 128; Qwen2 with q/k/v biases and tied embeddings, and Llama without), in bf16 files
// so both backends see the same weights: prefill logits of prompts of several lengths (chunked too), greedy decode
// steps (the decode kernel, CUDA graphs), a mixed batch, graphs vs eager, tensor parallelism (2 ranks sharing the
// GPU over the threads communicator), and device sampling vs host sampling.
// Reports the max relative error (max |cuda − cpu| / max |cpu| over a logits row). gpu-labelled: skipped (77)
// without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "engine/cpu_model_runner.h"
#include "engine/cuda_engine.h"
#include "engine/engine.h"
#include "model/make_model.h"
#include "tests/test_support.h"

namespace llmfleet::engine {
namespace {

namespace fs = std::filesystem;

std::string make(model::architecture arch, const std::string& preset) {
    const std::string name =
        fmt::format("engine.cuda.{}.{}", arch == model::architecture::qwen2 ? "qwen2" : "llama", preset);
    const std::string dir = (fs::path(test::scratch_dir()) / name).string();
    if (!fs::exists(dir + "/config.json")) {
        model::make_model_options o{arch, preset, 5, model::dtype::bf16, 1, dir};
        o.n_layers = 2;
        model::make_model(o);
    }
    return dir;
}

std::vector<int32_t> prompt(int32_t n, uint32_t seed) {
    std::vector<int32_t> ids;
    uint32_t x = seed;
    for (int32_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        ids.push_back(static_cast<int32_t>((x >> 8) % 150000u));
    }
    return ids;
}

engine_config small_engine(int32_t budget) {
    engine_config c;
    c.scheduling.max_num_batched_tokens = budget;
    c.scheduling.max_num_seqs = 64;
    c.max_model_len = 4096;
    c.enable_prefix_caching = false;
    return c;
}

std::unique_ptr<engine> cpu_engine(const std::string& dir, int32_t budget) {
    cpu_engine_options o;
    o.model_dir = dir;
    o.kv_cache_gib = 0.5;
    o.engine = small_engine(budget);
    return make_cpu_engine(o);
}

std::unique_ptr<engine> cuda_engine(const std::string& dir, int32_t budget, bool graphs, int32_t tp = 1) {
    cuda_engine_options o;
    o.tp = tp;
    o.model_dir = dir;
    o.gpu_memory_fraction = 0.3;
    o.cuda_graphs = graphs;
    o.engine = small_engine(budget);
    return make_cuda_engine(o);
}

struct generation {
    std::vector<int32_t> tokens;
    std::vector<std::vector<float>> logits;
};

std::vector<generation> run(engine& e, const std::vector<std::vector<int32_t>>& prompts, int32_t n_out, bool logits) {
    std::map<int64_t, size_t> index;
    for (size_t i = 0; i < prompts.size(); ++i) {
        index[e.add_request(prompts[i], sampling_params::fixed_length_greedy(n_out), {.return_logits = logits})] = i;
    }
    std::vector<generation> out(prompts.size());
    while (e.has_unfinished()) {
        for (const request_output& o : e.step()) {
            generation& g = out[index.at(o.request_id)];
            g.tokens.insert(g.tokens.end(), o.new_token_ids.begin(), o.new_token_ids.end());
            if (logits) {
                g.logits.push_back(o.new_logits);
            }
        }
    }
    return out;
}

double max_rel_error(const std::vector<float>& got, const std::vector<float>& want) {
    double max_diff = 0, max_ref = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_FALSE(std::isnan(got[i])) << "NaN logit at " << i;
        max_diff = std::max(max_diff, static_cast<double>(std::abs(got[i] - want[i])));
        max_ref = std::max(max_ref, static_cast<double>(std::abs(want[i])));
    }
    return max_diff / max_ref;
}

// The gap between the two largest logits: where it is tiny, bf16 may legitimately flip a greedy choice.
double top2_margin(const std::vector<float>& row) {
    std::vector<float> sorted = row;
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
    return sorted[0] - sorted[1];
}

// Compares each request's steps while the two backends' tokens agree; a disagreement must sit on a near-tie.
void compare(const std::vector<generation>& got, const std::vector<generation>& want, double tol, const char* what) {
    double worst = 0;
    for (size_t r = 0; r < want.size(); ++r) {
        for (size_t k = 0; k < want[r].tokens.size(); ++k) {
            worst = std::max(worst, max_rel_error(got[r].logits[k], want[r].logits[k]));
            if (got[r].tokens[k] != want[r].tokens[k]) {
                EXPECT_LT(top2_margin(want[r].logits[k]), 0.05) << what << ": request " << r << " step " << k;
                break; // the contexts differ from here on
            }
        }
    }
    std::printf("%s: max relative logits error %.4f (tolerance %.3f)\n", what, worst, tol);
    EXPECT_LT(worst, tol) << what;
}

class cuda_runner_test : public ::testing::TestWithParam<std::pair<model::architecture, std::string>> {};

TEST_P(cuda_runner_test, logits_match_the_cpu_runner_in_prefill_decode_and_mixed_batches) {
    const std::string dir = make(GetParam().first, GetParam().second);
    // Lengths around block (16) and decode-partition (512) boundaries; 700 > budget 512: chunked prefill.
    const std::vector<std::vector<int32_t>> prompts = {prompt(1, 1), prompt(17, 2), prompt(100, 3), prompt(700, 4),
                                                       prompt(33, 5)};
    const auto want = run(*cpu_engine(dir, 512), prompts, 8, true);
    compare(run(*cuda_engine(dir, 512, true), prompts, 8, true), want, 0.03, "graphs");
    compare(run(*cuda_engine(dir, 512, false), prompts, 8, true), want, 0.03, "eager");
}

TEST_P(cuda_runner_test, tensor_parallel_ranks_on_one_gpu_match_the_cpu_runner) {
    const std::string dir = make(GetParam().first, GetParam().second);
    const std::vector<std::vector<int32_t>> prompts = {prompt(3, 9), prompt(150, 10), prompt(40, 11)};
    const auto want = run(*cpu_engine(dir, 512), prompts, 6, true);
    compare(run(*cuda_engine(dir, 512, true, /*tp=*/2), prompts, 6, true), want, 0.03, "tp 2");
}

TEST_P(cuda_runner_test, device_sampled_greedy_tokens_equal_the_host_logits_argmax) {
    const std::string dir = make(GetParam().first, GetParam().second);
    const std::vector<std::vector<int32_t>> prompts = {prompt(5, 6), prompt(64, 7), prompt(300, 8)};
    auto e = cuda_engine(dir, 512, true);
    const auto with_logits = run(*e, prompts, 12, true); // return_logits: sampled on the host
    const auto on_device = run(*e, prompts, 12, false);  // greedy rows: sampled on the device
    for (size_t r = 0; r < prompts.size(); ++r) {
        EXPECT_EQ(on_device[r].tokens, with_logits[r].tokens) << "request " << r;
    }
}

INSTANTIATE_TEST_SUITE_P(shapes, cuda_runner_test,
                         ::testing::Values(std::pair{model::architecture::qwen2, std::string("qwen2.5-0.5b")},
                                           std::pair{model::architecture::qwen2, std::string("qwen2.5-1.5b")},
                                           std::pair{model::architecture::llama, std::string("qwen2.5-0.5b")}));

} // namespace
} // namespace llmfleet::engine
