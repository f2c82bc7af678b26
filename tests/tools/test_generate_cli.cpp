// `llmfleet generate` end to end through the real binary on tiny random models: greedy ids and dumped
// logits against the reference forward pass (and against torch when Debian's python3-torch is there),
// several --prompt-ids as one batch, text prompts and chat through tokenizer.json, and bad input
// (ids ≥ vocab, prompt longer than the context, KV pool too small, missing or corrupt files) → exit 1 with a
// clear message.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/npy.h"
#include "engine/reference_model.h"
#include "model/make_model.h"
#include "tests/test_support.h"

namespace llmfleet {
namespace {

namespace fs = std::filesystem;
const std::string tag = "test_generate_cli";

test::cli_result run(const std::string& args) {
    return test::run_cli(tag, args);
}

std::string make(const std::string& name, model::architecture arch, model::dtype type) {
    const std::string dir = test::temp_path(tag, name);
    fs::remove_all(dir);
    model::make_model({arch, "tiny", 11, type, 1, dir});
    return dir;
}

std::string join(const std::vector<int32_t>& ids) {
    std::string s;
    for (const int32_t id : ids) {
        s += (s.empty() ? "" : ",") + std::to_string(id);
    }
    return s;
}

// Greedy continuation and its logits [steps, vocab] by the reference forward pass, one sequence at a time.
std::pair<std::vector<int32_t>, std::vector<float>> reference_greedy(const std::string& dir, std::vector<int32_t> ids,
                                                                     int n) {
    const engine::reference_model ref(dir);
    const int64_t vocab = ref.config().vocab_size;
    std::vector<int32_t> out;
    std::vector<float> logits;
    for (int k = 0; k < n; ++k) {
        const std::vector<float> all = ref.forward(ids);
        const auto last = all.end() - vocab;
        logits.insert(logits.end(), last, all.end());
        ids.push_back(static_cast<int32_t>(std::max_element(last, all.end()) - last));
        out.push_back(ids.back());
    }
    return {out, logits};
}

TEST(generate_cli, greedy_ids_and_logits_match_the_reference_across_a_batch) {
    for (const auto& [arch, type] : {std::pair{model::architecture::qwen2, model::dtype::bf16},
                                     std::pair{model::architecture::llama, model::dtype::f32}}) {
        const std::string dir = make(std::string(to_string(arch)) + "." + std::string(to_string(type)), arch, type);
        const std::vector<std::vector<int32_t>> prompts = {{5, 17, 99, 3}, {400, 2}, {7, 7, 7, 7, 7, 7, 7, 7, 7}};
        const std::string npy = test::temp_path(tag, "logits.npy");
        std::string args = "generate --model " + dir +
                           " --temperature 0 --ignore-eos --max-tokens 5 --output json "
                           "--dump-logits " +
                           npy;
        for (const auto& p : prompts) {
            args += " --prompt-ids " + join(p);
        }
        const test::cli_result r = run(args);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const auto j = nlohmann::json::parse(r.out);
        ASSERT_EQ(j["results"].size(), prompts.size());
        const npy_array dumped = read_npy_f32(npy);
        ASSERT_EQ(dumped.shape, (std::vector<int64_t>{15, 512})) << "[3 prompts × 5 steps, vocab]";
        for (size_t i = 0; i < prompts.size(); ++i) {
            const auto& res = j["results"][i];
            const auto [want_ids, want_logits] = reference_greedy(dir, prompts[i], 5);
            EXPECT_EQ(res["token_ids"].get<std::vector<int32_t>>(), want_ids) << dir << " prompt " << i;
            EXPECT_EQ(res["prompt_token_ids"].get<std::vector<int32_t>>(), prompts[i]);
            EXPECT_EQ(res["finish_reason"], "length");
            const std::vector<float> got(dumped.data.begin() + static_cast<ptrdiff_t>(i * 5 * 512),
                                         dumped.data.begin() + static_cast<ptrdiff_t>((i + 1) * 5 * 512));
            EXPECT_LE(test::max_rel_diff(got, want_logits), 1e-4) << dir << " prompt " << i;
        }
    }
}

TEST(generate_cli, dumped_logits_match_torch) {
    if (std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0) {
        GTEST_SKIP() << "/usr/bin/python3 lacks torch: apt-get install python3-torch (scripts/setup.sh --test does)";
    }
    const std::string dir = make("torch.qwen2", model::architecture::qwen2, model::dtype::bf16);
    const std::string npy = test::temp_path(tag, "torch_engine.npy");
    const test::cli_result r = run("generate --model " + dir +
                                   " --temperature 0 --ignore-eos --max-tokens 4 --output json --prompt-ids "
                                   "11,22,33,44,55 --dump-logits " +
                                   npy);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<int32_t> ids = {11, 22, 33, 44, 55};
    const auto generated = nlohmann::json::parse(r.out)["token_ids"].get<std::vector<int32_t>>();
    ids.insert(ids.end(), generated.begin(), generated.end() - 1);
    const std::string torch_npy = test::temp_path(tag, "torch_ref.npy");
    std::string cmd = "/usr/bin/python3 " + std::string(LLMFLEET_SOURCE_DIR) +
                      "/tests/reference/reference_forward.py " + dir + " " + torch_npy;
    for (const int32_t id : ids) {
        cmd += " " + std::to_string(id);
    }
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const npy_array torch_all = read_npy_f32(torch_npy); // [ids, vocab]: rows 4..7 produced the 4 tokens
    const std::vector<float> want(torch_all.data.end() - 4 * 512, torch_all.data.end());
    EXPECT_LE(test::max_rel_diff(read_npy_f32(npy).data, want), 1e-4);
    for (int k = 0; k < 4; ++k) {
        const auto row = want.begin() + k * 512;
        EXPECT_EQ(generated[k], std::max_element(row, row + 512) - row)
            << "greedy token " << k << " differs from torch";
    }
}

TEST(generate_cli, text_prompt_and_chat_through_the_tokenizer) {
    const std::string dir = make("text.qwen2", model::architecture::qwen2, model::dtype::bf16);
    test::cli_result r = run("generate --model " + dir +
                             " --prompt 'Hello there' --temperature 0 --max-tokens 6 "
                             "--ignore-eos --output json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["token_ids"].size(), 6u);
    EXPECT_TRUE(j["text"].is_string());
    EXPECT_GT(j["prompt_token_ids"].size(), 0u);

    r = run("generate --model " + dir +
            " --chat '[{\"role\":\"user\",\"content\":\"hi\"}]' --temperature 0 "
            "--max-tokens 3 --output json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    j = nlohmann::json::parse(r.out);
    const auto prompt = j["prompt_token_ids"].get<std::vector<int32_t>>();
    // ChatML: <|im_start|>system ... <|im_end|> ... <|im_start|>assistant\n — starts with the im_start token.
    EXPECT_GE(prompt.size(), 10u);

    fs::remove(dir + "/tokenizer.json");
    r = run("generate --model " + dir + " --prompt hello");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("need tokenizer.json"), std::string::npos) << r.err;
    r = run("generate --model " + dir + " --prompt-ids 1,2 --max-tokens 2 --output json");
    EXPECT_EQ(r.exit_code, 0) << "token ids need no tokenizer: " << r.err;
    EXPECT_TRUE(nlohmann::json::parse(r.out)["text"].is_null());
}

TEST(generate_cli, bad_input_exits_1_with_a_clear_message) {
    const std::string dir = make("bad.qwen2", model::architecture::qwen2, model::dtype::bf16);
    auto expect_error = [&](const std::string& args, const std::string& message) {
        const test::cli_result r = run("generate --model " + args);
        EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
        EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
    };
    expect_error(dir + " --prompt-ids 1,512", "prompt token 512 at index 1 is outside the vocabulary [0, 512)");
    expect_error(dir + " --prompt-ids 1,x", "--prompt-ids");
    expect_error(dir + " --max-model-len 4 --prompt-ids 1,2,3,4,5", "the prompt has 5 tokens but the context is 4");
    expect_error(dir + " --kv-cache-gib 0.00000001 --prompt-ids 1", "raise --kv-cache-gib");
    expect_error(dir + " --prompt-ids 1 --top-p 2", "top_p");
    expect_error(dir, "give a prompt");
    expect_error(test::temp_path(tag, "missing") + " --prompt-ids 1", "config.json");
    expect_error(dir + " --prompt-ids 1 --device tpu", "--device tpu: expected cpu or cuda");
    expect_error(dir + " --prompt-ids 1 --device cuda --pp 2", "pipeline parallelism");
    // The tiny model's head_dim 16 (CUDA builds), or no CUDA in this build: either way a clear refusal.
    const test::cli_result cuda = run("generate --model " + dir + " --prompt-ids 1 --device cuda");
    EXPECT_EQ(cuda.exit_code, 1) << cuda.err;
    EXPECT_TRUE(cuda.err.find("head_dim 16 is not supported") != std::string::npos ||
                cuda.err.find("built without CUDA") != std::string::npos)
        << cuda.err;

    // A truncated safetensors file: the loader names the file; nothing crashes.
    const std::string blob = test::slurp(dir + "/model.safetensors");
    std::ofstream(dir + "/model.safetensors", std::ios::binary).write(blob.data(), 1000);
    expect_error(dir + " --prompt-ids 1", "model.safetensors");
}

} // namespace
} // namespace llmfleet
