// sequence_sampler::sample() per sequence per step at Qwen2's vocabulary (151936), Google Benchmark.
// Configurations: greedy, greedy + penalties, temperature + top_p 0.9 (peaked and flat logits),
// temperature + top_k 50; each also with logprobs 5. Every configuration is checked before it is timed.
// Napkin math: one pass over the logits row reads 151936 × 4 B = 608 KB; the GB/s counter is that row size
// over the time per call (an "effective" rate: the paths make 1 to 5 passes over the row, and the exp pass
// is bound by arithmetic, not memory). A new sampler (512-token prompt) starts every 256 calls, outside the
// timing, so the penalty state stays that of a realistic generation.
#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "engine/sampler.h"

using namespace llmfleet::engine;

namespace {

constexpr int32_t k_vocab = 151936;
constexpr int k_calls_per_sequence = 256;

enum class shape {
    peaked, // 20 head tokens 14..4.5 above a N(0, 2) tail: top-1 p ≈ 0.4, top_p 0.9 keeps a few tokens
    flat,   // N(0, 1) alone: top_p 0.9 keeps ~85% of the vocabulary (the worst case for top-p)
};

std::vector<float> make_logits(shape s) {
    std::mt19937 gen(1234);
    std::normal_distribution<float> normal(0.0f, s == shape::peaked ? 2.0f : 1.0f);
    std::vector<float> x(k_vocab);
    for (float& v : x) {
        v = normal(gen);
    }
    if (s == shape::peaked) {
        for (int j = 0; j < 20; ++j) {
            x[(j * 7919 + 101) % k_vocab] = 18.0f - 0.5f * static_cast<float>(j);
        }
    }
    return x;
}

std::vector<int32_t> make_prompt() {
    std::mt19937 gen(99);
    std::vector<int32_t> prompt(512);
    for (int32_t& t : prompt) {
        t = static_cast<int32_t>(gen() % k_vocab);
    }
    return prompt;
}

// Validate before timing: greedy gives the argmax, top_k only its k best, logprobs a sorted list.
bool check(const sampling_params& p, const std::vector<float>& x, const std::vector<int32_t>& eos) {
    sequence_sampler s(p, {}, 7);
    const int32_t argmax = static_cast<int32_t>(std::max_element(x.begin(), x.end()) - x.begin());
    std::vector<float> sorted = x;
    std::sort(sorted.begin(), sorted.end(), std::greater<float>());
    for (int i = 0; i < 50; ++i) {
        const sample_result r = s.sample(x, eos);
        if (p.temperature == 0 && p.repetition_penalty == 1 && p.frequency_penalty == 0 && i == 0 &&
            r.token != argmax) {
            return false;
        }
        if (p.top_k > 0 && x[r.token] < sorted[p.top_k - 1]) {
            return false;
        }
        if (p.logprobs > 0 && (static_cast<int32_t>(r.top.size()) != p.logprobs || r.top[0].token != argmax)) {
            return false;
        }
    }
    return true;
}

void bm_sample(benchmark::State& state, sampling_params p, shape s) {
    p.logprobs = static_cast<int32_t>(state.range(0));
    const std::vector<float> logits = make_logits(s);
    const std::vector<int32_t> prompt = make_prompt();
    const std::vector<int32_t> eos = {151643, 151645};
    if (!check(p, logits, eos)) {
        state.SkipWithError("validation failed: the sampler's output breaks its configuration");
        return;
    }
    std::optional<sequence_sampler> sampler;
    int64_t n_calls = 0;
    for (auto _ : state) {
        if (n_calls % k_calls_per_sequence == 0) {
            state.PauseTiming();
            sampler.emplace(p, prompt, static_cast<uint64_t>(n_calls));
            sampler->sample(logits, eos); // grows the scratch buffers, as the sequence's first step would
            state.ResumeTiming();
        }
        benchmark::DoNotOptimize(sampler->sample(logits, eos));
        ++n_calls;
    }
    const double row_bytes = static_cast<double>(k_vocab) * sizeof(float);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(row_bytes));
    state.counters["row_GB/s"] =
        benchmark::Counter(row_bytes * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

sampling_params greedy() {
    sampling_params p;
    p.temperature = 0;
    return p;
}

sampling_params greedy_penalties() {
    sampling_params p = greedy();
    p.repetition_penalty = 1.1;
    p.frequency_penalty = 0.5;
    p.presence_penalty = 0.5;
    return p;
}

sampling_params top_p() {
    sampling_params p;
    p.temperature = 0.8;
    p.top_p = 0.9;
    return p;
}

sampling_params top_k() {
    sampling_params p;
    p.temperature = 0.8;
    p.top_k = 50;
    return p;
}

} // namespace

// Arg: logprobs (-1 none, 5). temperature_*: temperature 0.8 with top_p 0.9 or top_k 50.
BENCHMARK_CAPTURE(bm_sample, greedy, greedy(), shape::peaked)->Arg(-1)->Arg(5);
BENCHMARK_CAPTURE(bm_sample, greedy_penalties, greedy_penalties(), shape::peaked)->Arg(-1)->Arg(5);
BENCHMARK_CAPTURE(bm_sample, temperature_top_p_peaked, top_p(), shape::peaked)->Arg(-1)->Arg(5);
BENCHMARK_CAPTURE(bm_sample, temperature_top_p_flat, top_p(), shape::flat)->Arg(-1)->Arg(5);
BENCHMARK_CAPTURE(bm_sample, temperature_top_k50, top_k(), shape::peaked)->Arg(-1)->Arg(5);

BENCHMARK_MAIN();
