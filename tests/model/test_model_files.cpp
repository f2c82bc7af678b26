// model/: dtype conversions, config.json parsing, safetensors parsing (valid and corrupted), weight
// validation against the config, and make-model (determinism, shards, dtypes).
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/text.h"
#include "model/config.h"
#include "model/make_model.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "tests/test_support.h"

namespace llmfleet::model {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
    const fs::path p = fs::path(LLMFLEET_BINARY_DIR) / "tests" / ("model_files." + name);
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

using test::error_of;

TEST(dtype, bf16_rounds_to_nearest_even) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
    EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3F80); // exactly halfway, even stays
    EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3F82); // halfway above an odd mantissa rounds up
    EXPECT_EQ(f32_to_bf16(-2.0f), 0xC000);
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
    EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
}

TEST(dtype, f16_known_values_and_round_trip) {
    EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);                // rounds to infinity
    EXPECT_EQ(f32_to_f16(5.9604644775390625e-08f), 0x0001); // 2^-24, smallest subnormal
    EXPECT_EQ(f32_to_f16(0.1f), 0x2E66);
    EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
    // Every finite half converts to f32 and back unchanged.
    for (uint32_t h = 0; h < 0x10000; ++h) {
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) {
            continue; // NaN payloads
        }
        ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h) << std::hex << h;
    }
}

const char* qwen_config = R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 896, "intermediate_size": 4864,
    "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2, "vocab_size": 151936,
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "tie_word_embeddings": true,
    "bos_token_id": 151643, "eos_token_id": 151643, "torch_dtype": "bfloat16", "rope_scaling": null})";

TEST(config, qwen2_and_generation_config) {
    model_config c = parse_config(qwen_config, "config.json");
    EXPECT_EQ(c.arch, architecture::qwen2);
    EXPECT_EQ(c.head_dim, 64);
    EXPECT_TRUE(c.attention_bias);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
    EXPECT_FALSE(c.rope_scaling);
    EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151643});
    apply_generation_config(c, R"({"eos_token_id": [151645, 151643], "bos_token_id": 151643})", "gen.json");
    EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{151645, 151643}));
}

TEST(config, llama3_rope_scaling) {
    const model_config c = parse_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
        "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
        "vocab_size": 128256, "max_position_embeddings": 131072, "rope_theta": 500000.0,
        "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "eos_token_id": [128001, 128008, 128009]})",
                                        "config.json");
    ASSERT_TRUE(c.rope_scaling);
    EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 8.0);
    EXPECT_EQ(c.rope_scaling->original_max_position_embeddings, 8192);
    EXPECT_FALSE(c.attention_bias);
    EXPECT_EQ(c.eos_token_ids.size(), 3u);
}

TEST(config, errors_name_the_field) {
    EXPECT_NE(error_of([] {
                  parse_config(R"({"architectures": ["GPT2LMHeadModel"]})", "c.json");
              }).find("not supported; supported: Qwen2ForCausalLM, LlamaForCausalLM"),
              std::string::npos);
    std::string text = qwen_config;
    text.replace(text.find("\"hidden_size\": 896"), 18, "\"hidden_size\": -1");
    EXPECT_NE(error_of([&] { parse_config(text, "c.json"); }).find("c.json.hidden_size: expected an integer > 0"),
              std::string::npos);
    model_config c = parse_config(qwen_config, "c.json");
    EXPECT_NE(error_of([&] {
                  apply_generation_config(c, R"({"eos_token_id": 999999})", "g.json");
              }).find("999999 is outside the vocabulary"),
              std::string::npos);
    EXPECT_NE(error_of([] { load_config("/nonexistent/model"); }).find("does not exist"), std::string::npos);
}

// A valid two-tensor file, as bytes.
std::string valid_file(const std::string& dir) {
    const std::string path = dir + "/two.safetensors";
    std::vector<uint8_t> a(2 * 3 * 4, 0), b(4 * 2, 0);
    const float values[6] = {1, 2, 3, 4, 5, 6};
    std::memcpy(a.data(), values, sizeof values);
    write_safetensors(path, {{"a", dtype::f32, {2, 3}, a}, {"b", dtype::bf16, {4}, b}});
    return path;
}

TEST(safetensors, round_trip) {
    const std::string dir = temp_dir("round_trip");
    const safetensors_file f(valid_file(dir));
    const tensor_info* a = f.find("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(f.bytes(*a).size(), 24u);
    float x;
    std::memcpy(&x, f.bytes(*a).data() + 20, 4);
    EXPECT_EQ(x, 6.0f);
    EXPECT_EQ(f.header().metadata.at("format"), "pt");
    EXPECT_EQ(f.header().data_offset % 8, 0u); // header padded to 8 bytes
}

TEST(safetensors, block_reads_only_the_asked_rows_and_columns) {
    const std::string dir = temp_dir("block");
    valid_file(dir);
    fs::rename(dir + "/two.safetensors", dir + "/model.safetensors");
    const weight_store store(dir);
    const tensor_info& a = *store.find("a");                                                 // [[1, 2, 3], [4, 5, 6]]
    EXPECT_EQ(store.to_f32_block(a, 0, 2, 1, 3), (std::vector<float>{2, 3, 5, 6}));          // a column shard
    EXPECT_EQ(store.to_f32_block(a, 1, 2, 0, 3), (std::vector<float>{4, 5, 6}));             // a row shard
    EXPECT_EQ(store.to_f32_block(*store.find("b"), 1, 3, 0, 1), (std::vector<float>{0, 0})); // 1-D, bf16
    EXPECT_NE(error_of([&] { store.to_f32_block(a, 0, 3, 0, 1); }).find("rows [0, 3) × columns [0, 1) is outside it"),
              std::string::npos);
}

// Builds a file from a header text and a data section size.
std::vector<uint8_t> raw_file(const std::string& header, size_t data_bytes) {
    std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
    for (int i = 0; i < 8; ++i) {
        out[i] = static_cast<uint8_t>((header.size() >> (8 * i)) & 0xff);
    }
    std::memcpy(out.data() + 8, header.data(), header.size());
    return out;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
    return error_of([&] { parse_safetensors_header(bytes.data(), bytes.size(), "f.safetensors"); });
}

TEST(safetensors, corrupt_headers_are_named) {
    EXPECT_NE(parse_error({1, 2, 3}).find("too short"), std::string::npos);
    std::vector<uint8_t> huge = raw_file("{}", 0);
    huge[5] = 0x7f; // header length far beyond the file
    EXPECT_NE(parse_error(huge).find("exceeds the file"), std::string::npos);
    EXPECT_NE(parse_error(raw_file("{\"a\": ", 0)).find("not valid JSON"), std::string::npos);
    EXPECT_NE(parse_error(raw_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}})", 8))
                  .find("fall outside the data section of 8 bytes"),
              std::string::npos);
    EXPECT_NE(parse_error(raw_file(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 16))
                  .find("F32 [3] needs 12 bytes but data_offsets span 8"),
              std::string::npos);
    EXPECT_NE(parse_error(raw_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                                   16))
                  .find("overlap"),
              std::string::npos);
    EXPECT_NE(parse_error(raw_file(R"({"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})", 8))
                  .find("tensor 'a': dtype \"F64\" is not supported"),
              std::string::npos);
    EXPECT_NE(parse_error(raw_file(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 16],
                                            "data_offsets": [0, 8]}})",
                                   8))
                  .find("needs more bytes than the file's data section"),
              std::string::npos);
    EXPECT_NE(parse_error(raw_file(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}})", 8))
                  .find("not a size >= 0"),
              std::string::npos);
}

// Property: random corruption of a valid file either parses or throws llmfleet::error; under ASan this
// also shows no out-of-bounds read (the fuzz target in fuzz/ explores further).
TEST(safetensors, mutated_files_never_crash) {
    const std::string dir = temp_dir("mutate");
    const std::string text = read_file(valid_file(dir), "test");
    const std::vector<uint8_t> good(text.begin(), text.end());
    std::mt19937 rng(11);
    int n_rejected = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        std::vector<uint8_t> bytes = good;
        const int n_flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < n_flips; ++k) {
            bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
        }
        if (rng() % 4 == 0) {
            bytes.resize(rng() % bytes.size());
        }
        try {
            const safetensors_header h = parse_safetensors_header(bytes.data(), bytes.size(), "m");
            for (const tensor_info& t : h.tensors) {
                EXPECT_LE(h.data_offset + t.data_end, bytes.size());
            }
        } catch (const error&) {
            ++n_rejected;
        }
    }
    EXPECT_GT(n_rejected, 100); // the mutations do hit the validation paths
}

TEST(make_model, loads_validates_and_is_deterministic) {
    const std::string a = temp_dir("a"), b = temp_dir("b"), c = temp_dir("c");
    make_model({architecture::qwen2, "tiny", 7, dtype::bf16, 1, a});
    make_model({architecture::qwen2, "tiny", 7, dtype::bf16, 1, b});
    make_model({architecture::qwen2, "tiny", 8, dtype::bf16, 1, c});
    EXPECT_EQ(read_file(a + "/model.safetensors", "t"), read_file(b + "/model.safetensors", "t"));
    EXPECT_NE(read_file(a + "/model.safetensors", "t"), read_file(c + "/model.safetensors", "t"));
    const model_config cfg = load_config(a);
    const weight_store store(a);
    validate_weights(store, cfg, a);
    EXPECT_EQ(store.names().size(), expected_tensors(cfg).size());
    // Qwen2 tiny: tied embeddings, q/k/v biases.
    EXPECT_EQ(store.find("lm_head.weight"), nullptr);
    EXPECT_NE(store.find("model.layers.1.self_attn.k_proj.bias"), nullptr);
}

uint64_t fnv1a_of_file(const std::string& path) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : read_file(path, "t")) {
        h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
    }
    return h;
}

// The weights do not depend on the thread count (the transforms run on a pool, the draws stay in order), and the
// stream is the one the sequential generator wrote before it was parallel (FNV-1a of those files, pinned).
TEST(make_model, weights_are_the_same_with_any_thread_count) {
    const std::string one = temp_dir("threads1"), three = temp_dir("threads3");
    for (const auto& [dir, threads] : {std::pair{one, "1"}, std::pair{three, "3"}}) {
        ::setenv("LLMFLEET_THREADS", threads, 1);
        make_model({architecture::qwen2, "tiny", 7, dtype::f16, 2, dir});
    }
    ::unsetenv("LLMFLEET_THREADS");
    for (const char* file : {"/model-00001-of-00002.safetensors", "/model-00002-of-00002.safetensors"}) {
        EXPECT_EQ(read_file(one + file, "t"), read_file(three + file, "t")) << file;
    }
    EXPECT_EQ(fnv1a_of_file(one + "/model-00001-of-00002.safetensors"), 0xb69018cc55e4e4ccull);
    EXPECT_EQ(fnv1a_of_file(one + "/model-00002-of-00002.safetensors"), 0xf5e329c677e2973dull);
}

// The presets' tensors add up to the parameter counts of the published checkpoints (the sizes of Qwen2.5-0.5B,
// 1.5B and 3B on their model cards: 0.49B, 1.54B, 3.09B; exact totals of their safetensors).
TEST(make_model, presets_have_the_published_parameter_counts) {
    const std::pair<const char*, int64_t> published[] = {
        {"qwen2.5-0.5b", 494'032'768}, {"qwen2.5-1.5b", 1'543'714'304}, {"qwen2.5-3b", 3'085'938'688}};
    for (const auto& [preset, n_params] : published) {
        int64_t n = 0;
        for (const expected_tensor& t : expected_tensors(preset_config(architecture::qwen2, preset))) {
            int64_t size = 1;
            for (const int64_t d : t.shape) {
                size *= d;
            }
            n += size;
        }
        EXPECT_EQ(n, n_params) << preset;
    }
    EXPECT_NE(error_of([] { preset_config(architecture::qwen2, "qwen2.5-7b"); }).find("qwen2.5-3b"), std::string::npos);
}

TEST(make_model, dtypes_hold_the_same_values_and_shards_load) {
    const std::string f32 = temp_dir("f32"), bf16 = temp_dir("bf16"), f16 = temp_dir("f16");
    make_model({architecture::llama, "tiny", 3, dtype::f32, 1, f32});
    make_model({architecture::llama, "tiny", 3, dtype::bf16, 3, bf16});
    make_model({architecture::llama, "tiny", 3, dtype::f16, 2, f16});
    const weight_store s32(f32), s16b(bf16), s16(f16);
    EXPECT_EQ(s16b.n_files(), 3u);
    const model_config cfg = load_config(bf16);
    ASSERT_TRUE(cfg.rope_scaling);
    validate_weights(s16b, cfg, bf16);
    validate_weights(s16, cfg, f16);
    for (const std::string name : {"model.layers.0.mlp.down_proj.weight", "lm_head.weight", "model.norm.weight"}) {
        const std::vector<float> x = s32.to_f32(*s32.find(name));
        const std::vector<float> y = s16b.to_f32(*s16b.find(name));
        const std::vector<float> z = s16.to_f32(*s16.find(name));
        for (size_t i = 0; i < x.size(); ++i) {
            ASSERT_NEAR(y[i], x[i], std::abs(x[i]) * 0x1.0p-8 + 1e-30) << name << "[" << i << "]";
            ASSERT_NEAR(z[i], x[i], std::abs(x[i]) * 0x1.0p-11 + 0x1.0p-25) << name << "[" << i << "]";
        }
    }
}

TEST(weights, mismatches_name_the_tensor) {
    const std::string dir = temp_dir("mismatch");
    make_model({architecture::qwen2, "tiny", 1, dtype::bf16, 2, dir});
    model_config cfg = load_config(dir);
    const weight_store store(dir);
    model_config wider = cfg;
    wider.intermediate_size = 200;
    EXPECT_NE(error_of([&] { validate_weights(store, wider, dir); })
                  .find("tensor 'model.layers.0.mlp.gate_proj.weight': expected [200, 64] from config.json, got "
                        "BF16 [176, 64]"),
              std::string::npos);
    model_config untied = cfg;
    untied.tie_word_embeddings = false;
    EXPECT_NE(error_of([&] { validate_weights(store, untied, dir); }).find("tensor 'lm_head.weight' is missing"),
              std::string::npos);
    // An index that points a tensor at the wrong shard.
    std::string index = read_file(dir + "/model.safetensors.index.json", "t");
    const size_t pos = index.find("\"model.norm.weight\": \"model-00002-of-00002.safetensors\"");
    ASSERT_NE(pos, std::string::npos) << index;
    index.replace(index.find("00002-of", pos), 5, "00001");
    std::ofstream(dir + "/model.safetensors.index.json") << index;
    EXPECT_NE(error_of([&] { weight_store broken(dir); }).find("does not hold it"), std::string::npos);
    EXPECT_NE(error_of([] { weight_store none("/tmp"); }).find("expected model.safetensors"), std::string::npos);
}

} // namespace
} // namespace llmfleet::model
