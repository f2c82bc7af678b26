// See make_model.h.
#include "model/make_model.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/thread_pool.h"
#include "model/make_tokenizer.h"
#include "model/safetensors.h"
#include "model/weights.h"

namespace llmfleet::model {

architecture parse_architecture(std::string_view text) {
    if (text == "qwen2") {
        return architecture::qwen2;
    }
    if (text == "llama") {
        return architecture::llama;
    }
    throw invalid_input(fmt::format("--arch: expected qwen2 or llama, got '{}'", text));
}

dtype parse_dtype_flag(std::string_view text) {
    if (text == "bf16") {
        return dtype::bf16;
    }
    if (text == "f16") {
        return dtype::f16;
    }
    if (text == "f32") {
        return dtype::f32;
    }
    throw invalid_input(fmt::format("--dtype: expected bf16, f16 or f32, got '{}'", text));
}

model_config preset_config(architecture arch, std::string_view preset) {
    model_config c;
    c.arch = arch;
    c.attention_bias = arch == architecture::qwen2;
    c.rms_norm_eps = 1e-6;
    c.torch_dtype = "bfloat16";
    if (preset == "tiny") {
        c.hidden_size = 64;
        c.intermediate_size = 176;
        c.n_layers = 2;
        c.n_heads = 4;
        c.n_kv_heads = 2;
        c.head_dim = 16;
        c.vocab_size = 512;
        c.max_position_embeddings = 2048;
        c.tie_word_embeddings = arch == architecture::qwen2;
        c.rope_theta = arch == architecture::qwen2 ? 1e6 : 500000.0;
        if (arch == architecture::llama) {
            c.rope_scaling = rope_scaling_llama3{8.0, 1.0, 4.0, 512};
        }
    } else if (preset == "qwen2.5-0.5b" || preset == "qwen2.5-1.5b" || preset == "qwen2.5-3b") {
        // Qwen2.5's published config.json dimensions (all three tie the LM head to the embedding).
        struct dims {
            int64_t hidden, ffn, layers, heads, head_dim;
        };
        const dims d = preset == "qwen2.5-0.5b"   ? dims{896, 4864, 24, 14, 64}
                       : preset == "qwen2.5-1.5b" ? dims{1536, 8960, 28, 12, 128}
                                                  : dims{2048, 11008, 36, 16, 128};
        c.hidden_size = d.hidden;
        c.intermediate_size = d.ffn;
        c.n_layers = d.layers;
        c.n_heads = d.heads;
        c.n_kv_heads = 2;
        c.head_dim = d.head_dim;
        c.vocab_size = 151936;
        c.max_position_embeddings = 32768;
        c.tie_word_embeddings = true;
        c.rope_theta = 1e6;
    } else {
        throw invalid_input(fmt::format(
            "--preset: unknown preset '{}'; expected tiny, qwen2.5-0.5b, qwen2.5-1.5b or qwen2.5-3b", preset));
    }
    // The ids of the tokenizer make_model writes (make_tokenizer.h): qwen2 tiny bos 509 <|endoftext|>, eos
    // [511 <|im_end|>, 509]; llama tiny bos 507 <|begin_of_text|>, eos [511 <|eot_id|>, 508 <|end_of_text|>];
    // the 151936-token presets use Qwen2.5's / Llama-3's real ids.
    const special_token_layout tokens = special_token_layout_for(arch, c.vocab_size);
    c.bos_token_id = tokens.bos_id;
    c.eos_token_ids.assign(tokens.eos_ids.begin(), tokens.eos_ids.end());
    return c;
}

namespace {

// Standard normals by Box–Muller on 53-bit uniforms from mt19937_64 (fully specified by the standard,
// unlike std::normal_distribution): each pair of draws gives r·cos θ, then r·sin θ.
class normal_stream {
public:
    explicit normal_stream(uint64_t seed) : _rng(seed) {}

    // Writes the stream's next n normals z, n = out.size() / size of `type`, as `type`(float(offset + scale · z)):
    // bit for bit what as many calls of a sequential next() would give, a sine left over carried to the next fill.
    // The raw draws stay in order on this thread (mt19937_64 costs ~2 ns a draw); the transforms (log, sqrt, sin,
    // cos: most of the time) and the first touch of `out`'s pages run on the pool.
    void fill(std::span<uint8_t> out, dtype type, double offset, double scale, thread_pool& pool) {
        const size_t n = out.size() / dtype_size_bytes(type);
        const auto put = [&](size_t i, double z) { store(out, type, i, static_cast<float>(offset + scale * z)); };
        size_t i = 0;
        if (_has_spare && n > 0) {
            put(0, _spare);
            _has_spare = false;
            i = 1;
        }
        constexpr size_t max_pairs_per_batch = size_t{1} << 22; // 64 MiB of draws at a time
        while (i < n) {
            const size_t n_pairs = std::min((n - i + 1) / 2, max_pairs_per_batch);
            _draws.resize(2 * n_pairs);
            for (uint64_t& d : _draws) {
                d = _rng();
            }
            const size_t base = i;
            pool.parallel_for(static_cast<int64_t>(n_pairs), 4096, [&](int64_t begin, int64_t end) {
                for (auto k = static_cast<size_t>(begin); k < static_cast<size_t>(end); ++k) {
                    const auto [c, s] = box_muller(_draws[2 * k], _draws[2 * k + 1]);
                    put(base + 2 * k, c);
                    if (base + 2 * k + 1 < n) {
                        put(base + 2 * k + 1, s);
                    }
                }
            });
            if (base + 2 * n_pairs > n) { // an odd count: the last pair's sine is the next value
                _spare = box_muller(_draws[2 * n_pairs - 2], _draws[2 * n_pairs - 1]).second;
                _has_spare = true;
            }
            i = std::min(n, base + 2 * n_pairs);
        }
    }

private:
    static std::pair<double, double> box_muller(uint64_t a, uint64_t b) {
        const double u1 = (static_cast<double>(a >> 11) + 1.0) * 0x1.0p-53; // (0, 1]
        const double u2 = static_cast<double>(b >> 11) * 0x1.0p-53;         // [0, 1)
        const double r = std::sqrt(-2.0 * std::log(u1));
        return {r * std::cos(2.0 * M_PI * u2), r * std::sin(2.0 * M_PI * u2)};
    }

    static void store(std::span<uint8_t> out, dtype type, size_t i, float v) {
        if (type == dtype::f32) {
            std::memcpy(out.data() + 4 * i, &v, 4);
        } else {
            const uint16_t h = type == dtype::bf16 ? f32_to_bf16(v) : f32_to_f16(v);
            std::memcpy(out.data() + 2 * i, &h, 2);
        }
    }

    std::mt19937_64 _rng;
    double _spare = 0;
    bool _has_spare = false;
    std::vector<uint64_t> _draws; // reused: its pages are touched once
};

nlohmann::json config_json(const model_config& c) {
    nlohmann::json j;
    j["architectures"] = {std::string(to_string(c.arch))};
    j["model_type"] = c.arch == architecture::qwen2 ? "qwen2" : "llama";
    j["hidden_act"] = "silu";
    j["hidden_size"] = c.hidden_size;
    j["intermediate_size"] = c.intermediate_size;
    j["num_hidden_layers"] = c.n_layers;
    j["num_attention_heads"] = c.n_heads;
    j["num_key_value_heads"] = c.n_kv_heads;
    j["head_dim"] = c.head_dim;
    j["vocab_size"] = c.vocab_size;
    j["max_position_embeddings"] = c.max_position_embeddings;
    j["rms_norm_eps"] = c.rms_norm_eps;
    j["rope_theta"] = c.rope_theta;
    j["tie_word_embeddings"] = c.tie_word_embeddings;
    j["torch_dtype"] = c.torch_dtype;
    j["bos_token_id"] = c.bos_token_id.value_or(0);
    j["eos_token_id"] = c.eos_token_ids.front();
    if (c.arch == architecture::llama) {
        j["attention_bias"] = c.attention_bias;
        j["mlp_bias"] = false;
    }
    if (c.rope_scaling) {
        j["rope_scaling"] = {{"rope_type", "llama3"},
                             {"factor", c.rope_scaling->factor},
                             {"low_freq_factor", c.rope_scaling->low_freq_factor},
                             {"high_freq_factor", c.rope_scaling->high_freq_factor},
                             {"original_max_position_embeddings", c.rope_scaling->original_max_position_embeddings}};
    } else {
        j["rope_scaling"] = nullptr;
    }
    return j;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path);
    if (!(out << text << "\n")) {
        throw error(status_code::unavailable, fmt::format("cannot write '{}'", path.string()));
    }
}

} // namespace

void make_model(const make_model_options& o) {
    namespace fs = std::filesystem;
    if (o.out_dir.empty()) {
        throw invalid_input("--out: give the directory to write the model to");
    }
    if (o.n_shards < 1) {
        throw invalid_input(fmt::format("--shards: expected >= 1, got {}", o.n_shards));
    }
    model_config c = preset_config(o.arch, o.preset);
    if (o.n_layers < 0) {
        throw invalid_input(
            fmt::format("--layers: expected >= 1 (or 0 for the preset's {}), got {}", c.n_layers, o.n_layers));
    }
    if (o.n_layers > 0) {
        c.n_layers = o.n_layers;
    }
    c.torch_dtype = o.type == dtype::bf16 ? "bfloat16" : (o.type == dtype::f16 ? "float16" : "float32");
    fs::create_directories(o.out_dir);
    const fs::path dir(o.out_dir);
    write_text(dir / "config.json", config_json(c).dump(2));
    nlohmann::json gen = {{"bos_token_id", c.bos_token_id.value_or(0)}, {"eos_token_id", c.eos_token_ids}};
    write_text(dir / "generation_config.json", gen.dump(2));
    write_tokenizer_files(c.arch, c.vocab_size, c.max_position_embeddings, o.out_dir);

    normal_stream normal(o.seed);
    thread_pool pool(default_thread_count());
    const std::vector<expected_tensor> specs = expected_tensors(c);
    const auto n_shards = static_cast<size_t>(std::min<int64_t>(o.n_shards, static_cast<int64_t>(specs.size())));
    const size_t per_shard = (specs.size() + n_shards - 1) / n_shards;
    nlohmann::json weight_map = nlohmann::json::object();
    uint64_t total_bytes = 0;
    for (size_t shard = 0; shard < n_shards; ++shard) {
        std::vector<tensor_to_write> tensors;
        for (size_t k = shard * per_shard; k < std::min(specs.size(), (shard + 1) * per_shard); ++k) {
            const expected_tensor& e = specs[k];
            int64_t n = 1;
            for (int64_t d : e.shape) {
                n *= d;
            }
            const bool norm = e.name.find("norm.weight") != std::string::npos;
            std::vector<uint8_t> bytes(static_cast<size_t>(n) * dtype_size_bytes(o.type));
            normal.fill(bytes, o.type, norm ? 1.0 : 0.0, 0.02, pool);
            tensors.push_back({e.name, o.type, e.shape, std::move(bytes)});
            total_bytes += tensors.back().bytes.size();
        }
        const std::string file = n_shards == 1 ? "model.safetensors"
                                               : fmt::format("model-{:05d}-of-{:05d}.safetensors", shard + 1, n_shards);
        for (const tensor_to_write& t : tensors) {
            weight_map[t.name] = file;
        }
        write_safetensors((dir / file).string(), tensors);
    }
    if (n_shards > 1) {
        nlohmann::json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
        write_text(dir / "model.safetensors.index.json", index.dump(2));
    }
}

} // namespace llmfleet::model
