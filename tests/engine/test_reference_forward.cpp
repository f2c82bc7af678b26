// The reference forward pass against an independent torch implementation (tests/reference/
// reference_forward.py, run by Debian's /usr/bin/python3) on the same safetensors: logits within 1e-4
// of the logits' scale, identical greedy tokens. Models: Qwen2 tiny in bf16, Llama tiny (llama3 RoPE
// scaling, untied head) in f32 over 3 shards, Qwen2 tiny in f16. Plus bad-input errors.
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/npy.h"
#include "engine/reference_model.h"
#include "model/make_model.h"

namespace llmfleet::engine {
namespace {

namespace fs = std::filesystem;

bool torch_available() {
    return std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") == 0;
}

std::string make(const std::string& name, model::architecture arch, model::dtype type, int64_t shards) {
    const std::string dir = (fs::path(LLMFLEET_BINARY_DIR) / "tests" / ("reference." + name)).string();
    fs::remove_all(dir);
    model::make_model({arch, "tiny", 42, type, shards, dir});
    return dir;
}

npy_array torch_logits(const std::string& dir, const std::vector<int32_t>& ids) {
    const std::string out = dir + "/torch_logits.npy";
    std::string cmd = "/usr/bin/python3 " + std::string(LLMFLEET_SOURCE_DIR) +
                      "/tests/reference/reference_forward.py " + dir + " " + out;
    for (int32_t id : ids) {
        cmd += " " + std::to_string(id);
    }
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return read_npy_f32(out);
}

std::vector<int32_t> prompt(int64_t n, uint32_t seed, int32_t vocab) {
    std::vector<int32_t> ids;
    uint32_t x = seed;
    for (int64_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        ids.push_back(static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(vocab)));
    }
    return ids;
}

void expect_matches_torch(const std::string& dir) {
    const reference_model m(dir);
    const int64_t vocab = m.config().vocab_size;
    for (const auto& ids : {prompt(1, 1, static_cast<int32_t>(vocab)), prompt(7, 2, static_cast<int32_t>(vocab)),
                            prompt(64, 3, static_cast<int32_t>(vocab)), prompt(300, 4, static_cast<int32_t>(vocab))}) {
        const std::vector<float> ours = m.forward(ids);
        const npy_array theirs = torch_logits(dir, ids);
        ASSERT_EQ(theirs.shape, (std::vector<int64_t>{static_cast<int64_t>(ids.size()), vocab}));
        double max_ref = 0, max_diff = 0;
        for (size_t i = 0; i < ours.size(); ++i) {
            ASSERT_FALSE(std::isnan(ours[i])) << i;
            max_ref = std::max(max_ref, std::abs(static_cast<double>(theirs.data[i])));
            max_diff = std::max(max_diff, std::abs(static_cast<double>(ours[i]) - theirs.data[i]));
        }
        EXPECT_LE(max_diff, 1e-4 * max_ref)
            << dir << " n=" << ids.size() << " max |diff| " << max_diff << " max |ref| " << max_ref;
        for (size_t t = 0; t < ids.size(); ++t) {
            const auto row = [&](const float* p) {
                return std::max_element(p + t * vocab, p + (t + 1) * vocab) - (p + t * vocab);
            };
            EXPECT_EQ(row(ours.data()), row(theirs.data.data())) << "greedy token differs at position " << t;
        }
    }
}

// Skips (does not pass) when Debian's torch is missing; scripts/setup.sh --test installs it.
class against_torch : public ::testing::Test {
protected:
    void SetUp() override {
        if (!torch_available()) {
            GTEST_SKIP()
                << "/usr/bin/python3 lacks torch: apt-get install python3-torch (scripts/setup.sh --test does)";
        }
    }
};

TEST_F(against_torch, matches_torch_qwen2_bf16) {
    expect_matches_torch(make("qwen2_bf16", model::architecture::qwen2, model::dtype::bf16, 1));
}

TEST_F(against_torch, matches_torch_llama_f32_sharded_rope_scaling) {
    expect_matches_torch(make("llama_f32", model::architecture::llama, model::dtype::f32, 3));
}

TEST_F(against_torch, matches_torch_qwen2_f16) {
    expect_matches_torch(make("qwen2_f16", model::architecture::qwen2, model::dtype::f16, 1));
}

TEST(reference_forward, bad_input_is_rejected) {
    const reference_model m(make("bad", model::architecture::qwen2, model::dtype::bf16, 1));
    EXPECT_THROW(m.forward({1, 512}), error);                      // id == vocab
    EXPECT_THROW(m.forward({-1}), error);                          // negative id
    EXPECT_THROW(m.forward({}), error);                            // empty prompt
    EXPECT_THROW(m.forward(std::vector<int32_t>(2049, 1)), error); // beyond max_position_embeddings (2048)
}

} // namespace
} // namespace llmfleet::engine
