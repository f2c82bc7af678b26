// Tensor and pipeline parallelism over the threads communicator: for tp = 2, pp = 2, tp 2 × pp 2, tp 4 (KV heads
// replicated), uneven stages with more micro-batches than stages, the greedy tokens equal tp = 1, pp = 1's and
// the logits agree within 1e-4 relative, for a batch of requests with chunked prefill (Qwen2 with tied embeddings,
// Llama with its own LM head). Plus per-rank KV sizing, layout errors, a failing rank and a silent one.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <thread>

#include "engine/cpu_model_runner.h"
#include "engine/parallel_runner.h"
#include "model/make_model.h"
#include "parallel/thread_comm.h"
#include "tests/test_support.h"

namespace llmfleet::engine {
namespace {

namespace fs = std::filesystem;

// tiny (hidden 64, 4 heads, 2 KV heads, intermediate 176, vocab 512) with 4 layers, so that stages can be uneven.
std::string make(model::architecture arch) {
    const std::string name = arch == model::architecture::qwen2 ? "qwen2" : "llama";
    const std::string dir = (fs::path(LLMFLEET_BINARY_DIR) / "tests" / ("parallel." + name)).string();
    if (!fs::exists(dir + "/config.json")) {
        model::make_model({.arch = arch, .preset = "tiny", .seed = 11, .out_dir = dir, .n_layers = 4});
    }
    return dir;
}

std::vector<int32_t> prompt(int64_t n, uint32_t seed) {
    std::vector<int32_t> ids;
    uint32_t x = seed;
    for (int64_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        ids.push_back(static_cast<int32_t>((x >> 8) % 500u));
    }
    return ids;
}

struct generation {
    std::vector<int32_t> tokens;
    std::vector<float> logits; // [tokens, vocab]
};

parallel_engine_options options_for(const std::string& dir, parallel::parallel_config pc) {
    parallel_engine_options o;
    o.cpu.model_dir = dir;
    o.cpu.kv_cache_gib = 0.01;
    o.cpu.n_threads = 1;
    o.cpu.engine.scheduling.max_num_batched_tokens = 24; // prompts of 37 and 90 tokens are prefilled in chunks
    o.parallel = std::move(pc);
    o.comm_timeout_s = 30;
    return o;
}

std::vector<generation> run(engine& e) {
    const std::vector<std::vector<int32_t>> prompts = {prompt(1, 1), prompt(5, 2), prompt(37, 3), prompt(90, 4),
                                                       prompt(12, 5)};
    std::map<int64_t, size_t> index;
    for (size_t i = 0; i < prompts.size(); ++i) {
        index[e.add_request(prompts[i], sampling_params::fixed_length_greedy(6), {.return_logits = true})] = i;
    }
    std::vector<generation> out(prompts.size());
    while (e.has_unfinished()) {
        for (const request_output& o : e.step()) {
            generation& g = out[index.at(o.request_id)];
            g.tokens.insert(g.tokens.end(), o.new_token_ids.begin(), o.new_token_ids.end());
            g.logits.insert(g.logits.end(), o.new_logits.begin(), o.new_logits.end());
        }
    }
    return out;
}

const std::vector<generation>& single_device(model::architecture arch) {
    static std::map<model::architecture, std::vector<generation>> cache;
    if (!cache.contains(arch)) {
        cache[arch] = run(*make_cpu_engine(options_for(make(arch), {}).cpu));
    }
    return cache[arch];
}

void expect_matches_single_device(model::architecture arch, const parallel::parallel_config& pc) {
    const std::vector<generation>& want = single_device(arch);
    auto e = make_parallel_cpu_engine(options_for(make(arch), pc));
    const std::vector<generation> got = run(*e);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].tokens, want[i].tokens) << "request " << i;
        EXPECT_LE(test::max_rel_diff(got[i].logits, want[i].logits), 1e-4) << "request " << i;
    }
}

TEST(ParallelEngine, Tp2MatchesSingleDevice) {
    expect_matches_single_device(model::architecture::qwen2, {.tp = 2});
    expect_matches_single_device(model::architecture::llama, {.tp = 2});
}

TEST(ParallelEngine, Pp2MatchesSingleDevice) {
    expect_matches_single_device(model::architecture::qwen2, {.pp = 2});
    expect_matches_single_device(model::architecture::llama, {.pp = 2});
}

TEST(ParallelEngine, Tp2Pp2MatchesSingleDevice) {
    expect_matches_single_device(model::architecture::qwen2, {.tp = 2, .pp = 2});
    expect_matches_single_device(model::architecture::llama, {.tp = 2, .pp = 2});
}

TEST(ParallelEngine, Tp4ReplicatesKvHeads) {
    expect_matches_single_device(model::architecture::qwen2, {.tp = 4}); // 2 KV heads over 4 ranks
}

TEST(ParallelEngine, UnevenStagesAndMoreMicroBatches) {
    expect_matches_single_device(model::architecture::llama, {.pp = 3, .pp_layers = {1, 2, 1}, .n_micro_batches = 4});
}

TEST(ParallelEngine, KvBlocksPerRankGrowWithTp) {
    // Same per-rank budget: a tp = 2 rank holds one of the two KV heads, so its pool has twice the blocks.
    const std::string dir = make(model::architecture::qwen2);
    auto one = make_cpu_engine(options_for(dir, {}).cpu);
    auto two = make_parallel_cpu_engine(options_for(dir, {.tp = 2}));
    EXPECT_EQ(two->runner().n_kv_blocks(), 2 * one->runner().n_kv_blocks());
    auto staged = make_parallel_cpu_engine(options_for(dir, {.pp = 2})); // half the layers per stage
    EXPECT_EQ(staged->runner().n_kv_blocks(), 2 * one->runner().n_kv_blocks());
}

TEST(ParallelEngine, BadLayoutsAreRefusedWithWhatWorks) {
    const std::string dir = make(model::architecture::qwen2);
    EXPECT_NE(test::error_of([&] {
                  make_parallel_cpu_engine(options_for(dir, {.tp = 3}));
              }).find("--tp values that work for this model: 1, 2, 4"),
              std::string::npos);
    EXPECT_NE(test::error_of([&] { make_parallel_cpu_engine(options_for(dir, {.pp = 5})); }).find("only 4 layers"),
              std::string::npos);
}

// Ranks 1.. run by hand so that one of them can misbehave; rank 0 is a real parallel_runner.
struct hand_world {
    std::vector<std::unique_ptr<parallel::communicator>> comms;
    std::vector<std::thread> threads;
};

forward_batch one_token_batch(const std::vector<int32_t>& table) {
    forward_batch b;
    b.clear();
    b.token_ids = {7};
    b.positions = {0};
    b.slot_mapping = {table[0] * 16};
    b.token_seq = {0};
    b.seq_token_starts = {0, 1};
    b.block_tables = {std::span<const int32_t>(table)};
    b.logits_indices = {0};
    return b;
}

TEST(ParallelEngine, AFailingRankSurfacesOnRankZero) {
    const parallel_engine_options o = options_for(make(model::architecture::qwen2), {.tp = 2, .pp = 2});
    auto comms = parallel::make_thread_world(4, o.comm_timeout_s);
    std::vector<std::thread> followers;
    for (int32_t r = 1; r < 4; ++r) {
        followers.emplace_back([&o, r, comm = std::move(comms[static_cast<size_t>(r)])] {
            if (r != 2) {
                try {
                    run_follower(o, *comm);
                } catch (const std::exception&) {
                }
                return;
            }
            rank_worker w(o, *comm, nullptr);
            (void)comm->recv_message(0, 1, parallel::wait_forever_s); // the first forward command
            comm->abort("injected fault");
        });
    }
    parallel_runner runner(o, std::move(comms[0]), nullptr, std::move(followers));
    const std::vector<int32_t> table = {0};
    std::vector<float> logits(static_cast<size_t>(runner.config().vocab_size));
    const std::string why = test::error_of([&] { runner.forward(one_token_batch(table), logits); });
    EXPECT_NE(why.find("rank 2 failed: injected fault"), std::string::npos) << why;
    EXPECT_NE(test::error_of([&] { runner.forward(one_token_batch(table), logits); }).find("failed earlier"),
              std::string::npos);
}

TEST(ParallelEngine, ASilentRankTimesOut) {
    parallel_engine_options o = options_for(make(model::architecture::qwen2), {.tp = 2});
    o.comm_timeout_s = 1; // setup of the tiny model takes milliseconds
    auto comms = parallel::make_thread_world(2, o.comm_timeout_s);
    std::vector<std::thread> followers;
    followers.emplace_back([&o, comm = std::move(comms[1])] {
        rank_worker w(o, *comm, nullptr);
        try { // never answers a step; leaves when rank 0 gives up and fails the world
            (void)comm->recv_message(0, 999, parallel::wait_forever_s);
        } catch (const error&) {
        }
    });
    parallel_runner runner(o, std::move(comms[0]), nullptr, std::move(followers));
    const std::vector<int32_t> table = {0};
    std::vector<float> logits(static_cast<size_t>(runner.config().vocab_size));
    try {
        runner.forward(one_token_batch(table), logits);
        ADD_FAILURE() << "a step without rank 1 finished";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), status_code::deadline_exceeded) << e.what();
        EXPECT_NE(std::string(e.what()).find("rank 1"), std::string::npos) << e.what();
    }
}

} // namespace
} // namespace llmfleet::engine
