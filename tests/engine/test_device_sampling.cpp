// The engine's device-sampling path (model_runner::forward_sample), on the CPU: a runner that "samples on the
// device" with the CPU reference of the device sampler (kernels::ref::sample_row) stands in for the CUDA runner.
// Checks which rows go where (logprobs, penalties, return_logits and the min_tokens mask stay on the host), that
// greedy tokens equal the host path's, and that a seeded request gets the same tokens alone and in a batch.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "engine/cpu_model_runner.h"
#include "engine/engine.h"
#include "model/make_model.h"

namespace llmfleet::engine {
namespace {

namespace fs = std::filesystem;

std::string tiny_model() {
    const std::string dir = (fs::path(LLMFLEET_BINARY_DIR) / "tests" / "engine.device_sampling").string();
    if (!fs::exists(dir + "/config.json")) {
        model::make_model({model::architecture::qwen2, "tiny", 11, model::dtype::bf16, 1, dir});
    }
    return dir;
}

// The CPU runner, sampling rows with device parameters through kernels::ref::sample_row.
class device_sampling_runner final : public model_runner {
public:
    explicit device_sampling_runner(const std::string& dir) : _inner(dir, cpu_runner_options{128, 16, 2}) {}
    const model::model_config& config() const override { return _inner.config(); }
    int32_t n_kv_blocks() const override { return _inner.n_kv_blocks(); }
    int32_t block_size() const override { return _inner.block_size(); }
    void forward(const forward_batch& batch, std::span<float> logits) override { _inner.forward(batch, logits); }
    std::string describe() const override { return "device-sampling test runner"; }
    bool samples_on_device() const override { return true; }
    void forward_sample(const forward_batch& batch, std::span<const std::optional<kernels::ref::sampling_row>> rows,
                        std::span<int32_t> tokens, std::span<float> logits) override {
        const int64_t vocab = config().vocab_size;
        std::vector<float> all(rows.size() * static_cast<size_t>(vocab));
        _inner.forward(batch, all);
        for (size_t i = 0; i < rows.size(); ++i) {
            const std::span<const float> row = std::span<const float>(all).subspan(i * vocab, vocab);
            if (rows[i].has_value()) {
                tokens[i] = kernels::ref::sample_row(row, *rows[i]);
                ++n_device_rows;
            } else {
                std::copy(row.begin(), row.end(), logits.begin() + static_cast<int64_t>(i) * vocab);
                tokens[i] = -1;
                ++n_host_rows;
            }
        }
    }
    int64_t n_device_rows = 0, n_host_rows = 0;

private:
    cpu_model_runner _inner;
};

struct run_result {
    std::map<int64_t, std::vector<int32_t>> tokens;
    std::map<int64_t, std::vector<sample_result>> samples;
};

run_result run_all(engine& e) {
    run_result r;
    while (e.has_unfinished()) {
        for (const request_output& o : e.step()) {
            r.tokens[o.request_id].insert(r.tokens[o.request_id].end(), o.new_token_ids.begin(), o.new_token_ids.end());
            r.samples[o.request_id].insert(r.samples[o.request_id].end(), o.new_samples.begin(), o.new_samples.end());
        }
    }
    return r;
}

const std::vector<std::vector<int32_t>> prompts = {{1, 2, 3, 4, 5}, {40, 41, 42}, {7, 8, 9, 10, 11, 12, 13}};

TEST(device_sampling, greedy_tokens_equal_the_host_path_and_rows_go_to_the_device) {
    auto runner = std::make_unique<device_sampling_runner>(tiny_model());
    device_sampling_runner& dev = *runner;
    engine device_engine({}, std::move(runner));
    engine host_engine({}, std::make_unique<cpu_model_runner>(tiny_model(), cpu_runner_options{128, 16, 2}));
    for (const auto& p : prompts) {
        device_engine.add_request(p, sampling_params::fixed_length_greedy(6));
        host_engine.add_request(p, sampling_params::fixed_length_greedy(6));
    }
    EXPECT_EQ(run_all(device_engine).tokens, run_all(host_engine).tokens);
    EXPECT_EQ(dev.n_device_rows, 3 * 6);
    EXPECT_EQ(dev.n_host_rows, 0);
}

TEST(device_sampling, logprobs_penalties_logits_and_min_tokens_stay_on_the_host) {
    auto runner = std::make_unique<device_sampling_runner>(tiny_model());
    device_sampling_runner& dev = *runner;
    engine e({}, std::move(runner));
    sampling_params with_logprobs = sampling_params::fixed_length_greedy(4);
    with_logprobs.logprobs = 2;
    sampling_params penalized = sampling_params::fixed_length_greedy(4);
    penalized.repetition_penalty = 1.3;
    sampling_params min_tokens;
    min_tokens.temperature = 0.8;
    min_tokens.seed = 5;
    min_tokens.max_tokens = 5;
    min_tokens.min_tokens = 3; // the eos mask holds for the first 3 tokens: host; the last 2: device
    const int64_t a = e.add_request(prompts[0], with_logprobs);
    e.add_request(prompts[1], penalized);
    e.add_request(prompts[2], sampling_params::fixed_length_greedy(4), {.return_logits = true});
    e.add_request(prompts[0], min_tokens);
    const run_result r = run_all(e);
    EXPECT_EQ(dev.n_host_rows, 4 + 4 + 4 + 3);
    EXPECT_EQ(dev.n_device_rows, 2);
    for (const sample_result& s : r.samples.at(a)) { // the host sampler filled the logprobs
        ASSERT_EQ(s.top.size(), 2u);
        EXPECT_EQ(s.top[0].token, s.token); // greedy: the most likely token
    }
}

TEST(device_sampling, a_seeded_request_gets_the_same_tokens_alone_and_in_a_batch) {
    sampling_params seeded;
    seeded.temperature = 1.5;
    seeded.top_k = 50;
    seeded.top_p = 0.9;
    seeded.seed = 1234;
    seeded.max_tokens = 8;
    seeded.ignore_eos = true;
    engine alone({}, std::make_unique<device_sampling_runner>(tiny_model()));
    const int64_t solo = alone.add_request(prompts[2], seeded);
    const std::vector<int32_t> solo_tokens = run_all(alone).tokens.at(solo);

    engine batched({}, std::make_unique<device_sampling_runner>(tiny_model()));
    sampling_params other = seeded;
    other.seed = 99;
    batched.add_request(prompts[0], other);
    const int64_t mine = batched.add_request(prompts[2], seeded);
    batched.add_request(prompts[1], sampling_params::fixed_length_greedy(3));
    EXPECT_EQ(run_all(batched).tokens.at(mine), solo_tokens);
    ASSERT_EQ(solo_tokens.size(), 8u);
}

} // namespace
} // namespace llmfleet::engine
