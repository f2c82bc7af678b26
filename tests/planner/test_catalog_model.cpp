// GPU catalog (built-in data, overrides, malformed files) and model architectures (parameter counts
// against the published sizes, config.json parsing and its errors).
#include <functional>

#include <gtest/gtest.h>

#include "common/error.h"
#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"
#include "tests/test_support.h"

namespace llmfleet::planner {
namespace {

using test::error_of;

TEST(catalog, builtin_has_every_gpu_priced_twice_with_sources) {
    const gpu_catalog c = builtin_gpu_catalog();
    const std::vector<std::string> names = {"A10G",      "L4",       "L40S",      "A100-40GB",
                                            "A100-80GB", "H100-SXM", "H100-PCIe", "H200"};
    for (const std::string& n : names) {
        const gpu_spec* g = c.find(n);
        ASSERT_NE(g, nullptr) << n;
        EXPECT_GT(g->memory_gib, 0);
        EXPECT_GT(g->memory_bandwidth_gb_per_s, 0);
        EXPECT_GT(g->bf16_dense_tflops, 0);
        for (const char* set : {"hyperscaler", "neocloud"}) {
            const auto& prices = c.price_sets.at(set).prices;
            ASSERT_EQ(prices.count(n), 1u) << set << " " << n;
            EXPECT_GT(prices.at(n).usd_per_hour, 0);
            EXPECT_FALSE(prices.at(n).source.empty());
            EXPECT_FALSE(prices.at(n).date.empty());
        }
    }
    // Datasheet values: H100 SXM 80 GiB, 3350 GB/s, 989 dense BF16 TFLOP/s.
    EXPECT_EQ(c.find("H100-SXM")->memory_bandwidth_gb_per_s, 3350);
    EXPECT_EQ(c.find("H100-SXM")->bf16_dense_tflops, 989);
}

TEST(catalog, overrides_and_their_errors) {
    gpu_catalog c = builtin_gpu_catalog();
    set_gpu_field(c, "H100-SXM.memory_gib=94");
    EXPECT_EQ(c.find("H100-SXM")->memory_gib, 94);
    EXPECT_NE(error_of([&] { set_gpu_field(c, "H100-SXM.memory_gib=-1"); }).find("expected a number > 0"),
              std::string::npos);
    EXPECT_NE(error_of([&] { set_gpu_field(c, "B200.memory_gib=180"); }).find("unknown GPU type 'B200'"),
              std::string::npos);
    EXPECT_NE(error_of([&] { set_gpu_field(c, "H100-SXM.colour=green"); }).find("unknown GPU field 'colour'"),
              std::string::npos);
    EXPECT_NE(error_of([&] { set_gpu_field(c, "H100-SXM"); }).find("expected KEY=VALUE"), std::string::npos);
}

TEST(catalog, malformed_files_name_the_field) {
    EXPECT_NE(error_of([] { parse_gpu_catalog("{\"gpus\": [}", "c.json"); }).find("malformed JSON"), std::string::npos);
    const std::string missing = error_of([] {
        parse_gpu_catalog(R"({"gpus": [{"name": "X", "memory_gib": 24, "bf16_dense_tflops": 1,
                              "interconnect": "PCIe", "interconnect_gb_per_s": 1}]})",
                          "c.json");
    });
    EXPECT_NE(missing.find("gpus.X: missing required field 'memory_bandwidth_gb_per_s'"), std::string::npos) << missing;
    const std::string price = error_of([] {
        parse_gpu_catalog(R"({"gpus": [{"name": "X", "memory_gib": 24, "memory_bandwidth_gb_per_s": 1,
                              "bf16_dense_tflops": 1, "interconnect": "PCIe", "interconnect_gb_per_s": 1}],
                              "price_sets": {"p": {"prices": {"X": {"usd_per_hour": -2, "source": "s",
                              "date": "d"}}}}})",
                          "c.json");
    });
    EXPECT_NE(price.find("price_sets.p.prices.X.usd_per_hour: expected a number > 0, got -2"), std::string::npos)
        << price;
}

// Published sizes: Llama-3-8B 8.03B, Llama-2-7B 6.74B, Qwen2.5-7B 7.62B, Qwen2.5-0.5B 0.49B parameters.
TEST(model_arch, parameter_counts_match_published_sizes) {
    EXPECT_NEAR(find_builtin_model("llama-3-8b").n_params_total() / 1e9, 8.03, 0.01);
    EXPECT_NEAR(find_builtin_model("Llama-2-7B").n_params_total() / 1e9, 6.74, 0.01);
    EXPECT_NEAR(find_builtin_model("Qwen2.5-7B").n_params_total() / 1e9, 7.62, 0.01);
    EXPECT_NEAR(find_builtin_model("Qwen2.5-0.5B").n_params_total() / 1e9, 0.494, 0.001);
    EXPECT_NEAR(find_builtin_model("Qwen2.5-1.5B").n_params_total() / 1e9, 1.54, 0.01);
    EXPECT_NEAR(find_builtin_model("Qwen2.5-3B").n_params_total() / 1e9, 3.09, 0.01);
    // Llama-3-8B KV: 2 × 32 layers × 8 heads × 128 = 65536 elements (128 KiB in bf16) per token.
    EXPECT_EQ(find_builtin_model("Llama-3-8B").kv_elements_per_token(), 65536);
    EXPECT_NE(error_of([] { find_builtin_model("gpt-5"); }).find("built in: Qwen2.5-0.5B"), std::string::npos);
}

TEST(model_arch, hf_config) {
    const model_arch m = parse_hf_config(R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 896,
        "intermediate_size": 4864, "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
        "vocab_size": 151936, "tie_word_embeddings": true})",
                                         "config.json");
    EXPECT_EQ(m.head_dim, 64);
    EXPECT_TRUE(m.attention_bias);
    EXPECT_EQ(m.n_params_total(), find_builtin_model("Qwen2.5-0.5B").n_params_total());
    EXPECT_NE(error_of([] {
                  parse_hf_config(R"({"architectures": ["GPT2LMHeadModel"]})", "c.json");
              }).find("supported: Qwen2ForCausalLM, LlamaForCausalLM"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": "big"})", "c.json");
              }).find("c.json: missing required field 'num_hidden_layers'"),
              std::string::npos);
}

} // namespace
} // namespace llmfleet::planner
