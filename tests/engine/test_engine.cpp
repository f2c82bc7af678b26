// The engine (CPU runner, paged KV, continuous batching) against the reference forward pass, and against
// itself under every scheduling path: batched vs alone, chunked vs whole prefill, preempted vs uninterrupted,
// prefix-cache hit vs miss, bf16/f16/f32 weight files. Plus the request errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "engine/cpu_model_runner.h"
#include "engine/engine.h"
#include "engine/reference_model.h"
#include "model/make_model.h"
#include "tests/engine/scripted_runner.h"
#include "tests/test_support.h"

namespace llmfleet::engine {
namespace {

namespace fs = std::filesystem;

std::string make(const std::string& name, model::architecture arch, model::dtype type) {
    const std::string dir = (fs::path(LLMFLEET_BINARY_DIR) / "tests" / ("engine." + name)).string();
    if (!fs::exists(dir + "/config.json")) {
        model::make_model({arch, "tiny", 7, type, 1, dir});
    }
    return dir;
}

std::vector<int32_t> prompt(int64_t n, uint32_t seed) {
    std::vector<int32_t> ids;
    uint32_t x = seed;
    for (int64_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        ids.push_back(static_cast<int32_t>((x >> 8) % 500u)); // below the tiny model's special ids
    }
    return ids;
}

struct generation {
    std::vector<int32_t> tokens;
    std::string text;
    std::string stop_string;
    std::vector<std::vector<float>> logits; // per generated token, [vocab]
    finish_reason reason = finish_reason::none;
    int32_t n_cached_tokens = 0;
};

struct setup {
    double kv_cache_gib = 0.01;
    int32_t block_size = 16;
    int32_t budget = 2048;
    bool prefix_caching = true;
};

std::unique_ptr<engine> make_engine(const std::string& dir, const setup& s) {
    cpu_engine_options o;
    o.model_dir = dir;
    o.kv_cache_gib = s.kv_cache_gib;
    o.block_size = s.block_size;
    o.n_threads = 2;
    o.engine.scheduling.max_num_batched_tokens = s.budget;
    o.engine.enable_prefix_caching = s.prefix_caching;
    return make_cpu_engine(o);
}

// Runs every prompt (added together) to completion; results by request order.
std::vector<generation> run(engine& e, const std::vector<std::vector<int32_t>>& prompts,
                            const sampling_params& params) {
    std::map<int64_t, size_t> index;
    for (size_t i = 0; i < prompts.size(); ++i) {
        index[e.add_request(prompts[i], params, {.return_logits = true})] = i;
    }
    std::vector<generation> out(prompts.size());
    while (e.has_unfinished()) {
        for (const request_output& o : e.step()) {
            generation& g = out[index.at(o.request_id)];
            const auto vocab = o.new_logits.size() / o.new_token_ids.size();
            for (size_t k = 0; k < o.new_token_ids.size(); ++k) {
                g.tokens.push_back(o.new_token_ids[k]);
                g.logits.emplace_back(o.new_logits.begin() + static_cast<ptrdiff_t>(k * vocab),
                                      o.new_logits.begin() + static_cast<ptrdiff_t>((k + 1) * vocab));
            }
            g.text += o.new_text;
            g.reason = o.reason;
            g.stop_string = o.stop_string;
            g.n_cached_tokens = o.n_cached_tokens;
        }
    }
    return out;
}

void expect_same(const std::vector<generation>& a, const std::vector<generation>& b, const std::string& what) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].tokens, b[i].tokens) << what << ": request " << i;
        ASSERT_EQ(a[i].logits.size(), b[i].logits.size());
        for (size_t k = 0; k < a[i].logits.size(); ++k) {
            EXPECT_LE(test::max_rel_diff(a[i].logits[k], b[i].logits[k]), 1e-5)
                << what << ": request " << i << " token " << k;
        }
    }
}

const std::vector<std::vector<int32_t>>& prompts() {
    static const std::vector<std::vector<int32_t>> p = {prompt(1, 1), prompt(5, 2), prompt(37, 3), prompt(90, 4)};
    return p;
}

// Each generated token's logits equal the reference forward pass over prompt + the tokens before it.
void expect_matches_reference(const std::string& dir) {
    auto e = make_engine(dir, {});
    const auto got = run(*e, prompts(), sampling_params::fixed_length_greedy(6));
    const reference_model ref(dir);
    const int64_t vocab = ref.config().vocab_size;
    for (size_t i = 0; i < prompts().size(); ++i) {
        ASSERT_EQ(got[i].tokens.size(), 6u);
        std::vector<int32_t> ids = prompts()[i];
        ids.insert(ids.end(), got[i].tokens.begin(), got[i].tokens.end() - 1);
        const std::vector<float> all = ref.forward(ids);
        for (size_t k = 0; k < got[i].tokens.size(); ++k) {
            const size_t row = prompts()[i].size() - 1 + k;
            const std::vector<float> expected(all.begin() + static_cast<ptrdiff_t>(row * vocab),
                                              all.begin() + static_cast<ptrdiff_t>((row + 1) * vocab));
            EXPECT_LE(test::max_rel_diff(got[i].logits[k], expected), 1e-4)
                << dir << " request " << i << " token " << k;
            const auto argmax = std::max_element(expected.begin(), expected.end()) - expected.begin();
            EXPECT_EQ(got[i].tokens[k], argmax) << "greedy token differs from the reference";
        }
    }
}

TEST(engine, matches_the_reference_forward_bf16_qwen2) {
    expect_matches_reference(make("qwen2.bf16", model::architecture::qwen2, model::dtype::bf16));
}
TEST(engine, matches_the_reference_forward_f16_llama) {
    expect_matches_reference(make("llama.f16", model::architecture::llama, model::dtype::f16));
}
TEST(engine, matches_the_reference_forward_f32_qwen2) {
    expect_matches_reference(make("qwen2.f32", model::architecture::qwen2, model::dtype::f32));
}

TEST(engine, batched_equals_one_at_a_time) {
    const std::string dir = make("qwen2.bf16", model::architecture::qwen2, model::dtype::bf16);
    auto batched = make_engine(dir, {});
    const auto together = run(*batched, prompts(), sampling_params::fixed_length_greedy(8));
    std::vector<generation> alone;
    for (const auto& p : prompts()) {
        auto e = make_engine(dir, {});
        alone.push_back(run(*e, {p}, sampling_params::fixed_length_greedy(8))[0]);
    }
    expect_same(together, alone, "batched vs alone");
}

TEST(engine, chunked_prefill_equals_whole_prefill) {
    const std::string dir = make("qwen2.bf16", model::architecture::qwen2, model::dtype::bf16);
    auto chunked = make_engine(dir, {.budget = 7});
    auto whole = make_engine(dir, {});
    expect_same(run(*chunked, prompts(), sampling_params::fixed_length_greedy(8)),
                run(*whole, prompts(), sampling_params::fixed_length_greedy(8)), "chunked vs whole");
}

TEST(engine, preempted_and_resumed_equals_uninterrupted) {
    const std::string dir = make("llama.f16", model::architecture::llama, model::dtype::f16);
    // Tiny: 512 bytes of KV per token (2 layers × 2 × 2 heads × 16 × 4 B); 16 blocks of 4 tokens = 32 KiB.
    auto small = make_engine(dir, {.kv_cache_gib = 32.0 * 1024 / (1 << 30), .block_size = 4, .prefix_caching = false});
    auto large = make_engine(dir, {.block_size = 4, .prefix_caching = false});
    const std::vector<std::vector<int32_t>> p = {prompt(20, 5), prompt(18, 6), prompt(15, 7)};
    const auto a = run(*small, p, sampling_params::fixed_length_greedy(20));
    EXPECT_GT(small->stats().n_preemptions, 0) << "the pool was meant to force preemption";
    expect_same(a, run(*large, p, sampling_params::fixed_length_greedy(20)), "preempted vs uninterrupted");
}

TEST(engine, prefix_cache_hit_equals_miss) {
    const std::string dir = make("qwen2.bf16", model::architecture::qwen2, model::dtype::bf16);
    std::vector<int32_t> shared = prompt(40, 8);
    std::vector<int32_t> second = shared;
    second.push_back(3);
    second.push_back(4);
    auto cached = make_engine(dir, {.block_size = 8});
    run(*cached, {shared}, sampling_params::fixed_length_greedy(2));
    const auto hit = run(*cached, {second}, sampling_params::fixed_length_greedy(6));
    EXPECT_EQ(hit[0].n_cached_tokens, 40) << "five full blocks of 8 shared";
    EXPECT_EQ(cached->stats().prefix_cache.n_hit_tokens, 40);
    auto uncached = make_engine(dir, {.block_size = 8, .prefix_caching = false});
    const auto miss = run(*uncached, {second}, sampling_params::fixed_length_greedy(6));
    EXPECT_EQ(miss[0].n_cached_tokens, 0);
    expect_same(hit, miss, "prefix hit vs miss");
}

TEST(engine, seeded_sampling_is_independent_of_the_batch) {
    const std::string dir = make("qwen2.bf16", model::architecture::qwen2, model::dtype::bf16);
    sampling_params p;
    p.temperature = 1.0;
    p.top_p = 0.95;
    p.seed = 1234;
    p.max_tokens = 12;
    p.ignore_eos = true;
    auto batched = make_engine(dir, {});
    const auto together = run(*batched, prompts(), p);
    auto e = make_engine(dir, {});
    const auto alone = run(*e, {prompts()[2]}, p);
    EXPECT_EQ(together[2].tokens, alone[0].tokens);
}

TEST(engine, stops_on_max_tokens_stop_ids_and_eos) {
    const std::string dir = make("qwen2.bf16", model::architecture::qwen2, model::dtype::bf16);
    auto e = make_engine(dir, {});
    const auto free_run = run(*e, {prompts()[1]}, sampling_params::fixed_length_greedy(10))[0];
    EXPECT_EQ(free_run.reason, finish_reason::length);
    sampling_params stop_at = sampling_params::fixed_length_greedy(10);
    stop_at.stop_token_ids = {free_run.tokens[3]};
    const auto stopped = run(*e, {prompts()[1]}, stop_at)[0];
    const auto first = std::find(free_run.tokens.begin(), free_run.tokens.end(), free_run.tokens[3]);
    EXPECT_EQ(stopped.tokens, std::vector<int32_t>(free_run.tokens.begin(), first + 1)) << "the stop token is kept";
    EXPECT_EQ(stopped.reason, finish_reason::stop);
}

TEST(engine, eos_stops_unless_ignored) {
    engine e({}, std::make_unique<scripted_runner>(6));
    const auto stopped = run(e, {{1, 2, 3}}, [] {
        sampling_params p = sampling_params::fixed_length_greedy(10);
        p.ignore_eos = false;
        return p;
    }())[0];
    EXPECT_EQ(stopped.tokens, (std::vector<int32_t>{3, 4, 5, 14})) << "eos id 14 (the second eos) ends it, kept";
    EXPECT_EQ(stopped.reason, finish_reason::stop);
    const auto ignored = run(e, {{1, 2, 3}}, sampling_params::fixed_length_greedy(5))[0];
    EXPECT_EQ(ignored.tokens, (std::vector<int32_t>{3, 4, 5, 14, 14}));
    EXPECT_EQ(ignored.reason, finish_reason::length);
    sampling_params min_tokens = sampling_params::fixed_length_greedy(10);
    min_tokens.ignore_eos = false;
    min_tokens.min_tokens = 5;
    const auto held = run(e, {{1, 2, 3}}, min_tokens)[0];
    EXPECT_EQ(held.tokens, (std::vector<int32_t>{3, 4, 5, 0, 0, 14}))
        << "eos masked for 5 tokens (all-zero logits → id 0)";
}

TEST(engine, a_broken_logits_row_fails_only_its_request) {
    auto runner = std::make_unique<scripted_runner>(100);
    runner->nan_after_token = 9; // the prompt ending in 9 gets NaN logits
    engine e({}, std::move(runner));
    const int64_t bad = e.add_request({1, 9}, sampling_params::fixed_length_greedy(4));
    const int64_t good = e.add_request({1, 2}, sampling_params::fixed_length_greedy(4));
    std::map<int64_t, request_output> last;
    std::map<int64_t, int> n_tokens;
    while (e.has_unfinished()) {
        for (const request_output& o : e.step()) {
            last[o.request_id] = o;
            n_tokens[o.request_id] += static_cast<int>(o.new_token_ids.size());
        }
    }
    EXPECT_EQ(last[bad].reason, finish_reason::abort);
    EXPECT_NE(last[bad].error.find("NaN"), std::string::npos) << last[bad].error;
    EXPECT_EQ(n_tokens[bad], 0);
    EXPECT_EQ(last[good].reason, finish_reason::length);
    EXPECT_EQ(n_tokens[good], 4);
    EXPECT_EQ(e.stats().kv_blocks_free, e.stats().kv_blocks_total);
}

TEST(engine, stops_at_max_model_len) {
    engine_config c;
    c.max_model_len = 8;
    engine e(c, std::make_unique<scripted_runner>(100));
    const auto g = run(e, {{1, 2, 3}}, sampling_params::fixed_length_greedy(50))[0];
    EXPECT_EQ(g.tokens.size(), 5u) << "3 prompt + 5 generated = max_model_len 8";
    EXPECT_EQ(g.reason, finish_reason::length);
}

TEST(engine, streamed_text_and_stop_strings) {
    const std::string dir = make("qwen2.bf16", model::architecture::qwen2, model::dtype::bf16);
    auto e = make_engine(dir, {});
    ASSERT_NE(e->tokenizer(), nullptr) << "make-model writes tokenizer.json";
    const std::vector<int32_t> p = e->tokenizer()->encode("The quick brown fox", false);
    const generation free_run = run(*e, {p}, sampling_params::fixed_length_greedy(24))[0];
    EXPECT_EQ(free_run.text, e->tokenizer()->decode(free_run.tokens, /*skip_special_tokens=*/true))
        << "the streamed deltas add up to the decoded text";
    ASSERT_GE(free_run.text.size(), 6u);

    // A stop string taken from the middle of the free-running text: generation ends at its first occurrence,
    // the text before it is returned, and no delta ever contained it.
    const std::string stop = free_run.text.substr(free_run.text.size() / 2, 3);
    const size_t first = free_run.text.find(stop);
    sampling_params with_stop = sampling_params::fixed_length_greedy(24);
    with_stop.stop = {"never-appears", stop};
    const generation stopped = run(*e, {p}, with_stop)[0];
    EXPECT_EQ(stopped.reason, finish_reason::stop);
    EXPECT_EQ(stopped.stop_string, stop);
    EXPECT_EQ(stopped.text, free_run.text.substr(0, first));
    EXPECT_LT(stopped.tokens.size(), free_run.tokens.size() + 1);
    with_stop.include_stop_str_in_output = true;
    EXPECT_EQ(run(*e, {p}, with_stop)[0].text, free_run.text.substr(0, first + stop.size()));
}

TEST(engine, abort_frees_the_request) {
    const std::string dir = make("qwen2.bf16", model::architecture::qwen2, model::dtype::bf16);
    auto e = make_engine(dir, {});
    const int64_t a = e->add_request(prompts()[3], sampling_params::fixed_length_greedy(50));
    const int64_t b = e->add_request(prompts()[2], sampling_params::fixed_length_greedy(3));
    e->step();
    EXPECT_TRUE(e->abort(a));
    EXPECT_FALSE(e->abort(a));
    while (e->has_unfinished()) {
        for (const auto& o : e->step()) {
            EXPECT_EQ(o.request_id, b);
        }
    }
    EXPECT_EQ(e->stats().kv_blocks_free, e->stats().kv_blocks_total);
}

TEST(engine, bad_requests_get_clear_errors) {
    const std::string dir = make("qwen2.bf16", model::architecture::qwen2, model::dtype::bf16);
    auto e = make_engine(dir, {});
    EXPECT_NE(test::error_of([&] {
                  e->add_request({1, 512, 3}, sampling_params::fixed_length_greedy(1));
              }).find("prompt token 512 at index 1 is outside the vocabulary [0, 512)"),
              std::string::npos);
    EXPECT_NE(test::error_of([&] {
                  e->add_request({}, sampling_params::fixed_length_greedy(1));
              }).find("the prompt is empty"),
              std::string::npos);
    EXPECT_NE(test::error_of([&] {
                  e->add_request(std::vector<int32_t>(2048, 1), sampling_params::fixed_length_greedy(1));
              }).find("the prompt has 2048 tokens but the context is 2048 tokens"),
              std::string::npos);
    sampling_params bad = sampling_params::fixed_length_greedy(1);
    bad.top_p = 1.5;
    EXPECT_NE(test::error_of([&] { e->add_request({1}, bad); }).find("top_p"), std::string::npos);
    // A pool of two 16-token blocks cannot hold a 40-token prompt.
    auto tiny = make_engine(dir, {.kv_cache_gib = 2.0 * 16 * 512 / (1 << 30), .block_size = 16});
    EXPECT_EQ(tiny->max_model_len(), 32);
    EXPECT_NE(test::error_of([&] { tiny->add_request(prompt(40, 1), sampling_params::fixed_length_greedy(20)); })
                  .find("the prompt has 40 tokens but the context is 32 tokens (max_model_len, limited by the KV pool "
                        "of 2 blocks × 16 tokens: raise --kv-cache-gib"),
              std::string::npos);
    EXPECT_NE(test::error_of([&] { make_engine(dir, {.kv_cache_gib = 1e-9}); }).find("raise --kv-cache-gib"),
              std::string::npos);
    EXPECT_FALSE(e->has_unfinished()) << "rejected requests leave nothing behind";
}

} // namespace
} // namespace llmfleet::engine
