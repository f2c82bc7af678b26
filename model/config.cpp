// See config.h.
#include "model/config.h"

#include <filesystem>

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::model {

namespace jr = json_read;

std::string_view to_string(architecture arch) {
    return arch == architecture::qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
}

namespace {

int64_t positive_int(const jr::json& doc, std::string_view key, const std::string& root) {
    const int64_t v = jr::integer(jr::member(doc, key, root), jr::child(root, key));
    if (v <= 0) {
        throw invalid_input(fmt::format("{}.{}: expected an integer > 0, got {}", root, key, v));
    }
    return v;
}

// eos_token_id may be an int or a list of ints.
std::vector<int64_t> token_ids(const jr::json& value, const std::string& path) {
    std::vector<int64_t> ids;
    if (value.is_array()) {
        for (size_t i = 0; i < value.size(); ++i) {
            ids.push_back(jr::integer(value[i], jr::index(path, i)));
        }
    } else if (!value.is_null()) {
        ids.push_back(jr::integer(value, path));
    }
    return ids;
}

} // namespace

model_config parse_config(std::string_view config_json, std::string_view origin) {
    const jr::json doc = jr::parse(config_json, origin);
    const std::string root(origin);
    model_config c;
    const jr::json& archs = jr::member(doc, "architectures", root);
    const std::string arch =
        archs.is_array() && !archs.empty() && archs[0].is_string() ? archs[0].get<std::string>() : archs.dump();
    if (arch == "Qwen2ForCausalLM") {
        c.arch = architecture::qwen2;
    } else if (arch == "LlamaForCausalLM") {
        c.arch = architecture::llama;
    } else {
        throw invalid_input(fmt::format("{}.architectures: {} is not supported; supported: Qwen2ForCausalLM, "
                                        "LlamaForCausalLM",
                                        root, arch));
    }
    c.hidden_size = positive_int(doc, "hidden_size", root);
    c.intermediate_size = positive_int(doc, "intermediate_size", root);
    c.n_layers = positive_int(doc, "num_hidden_layers", root);
    c.n_heads = positive_int(doc, "num_attention_heads", root);
    c.n_kv_heads = jr::optional_member(doc, "num_key_value_heads", root) != nullptr
                       ? positive_int(doc, "num_key_value_heads", root)
                       : c.n_heads;
    const jr::json* head_dim = jr::optional_member(doc, "head_dim", root);
    c.head_dim =
        head_dim != nullptr && !head_dim->is_null() ? positive_int(doc, "head_dim", root) : c.hidden_size / c.n_heads;
    if (head_dim == nullptr && c.hidden_size % c.n_heads != 0) {
        throw invalid_input(fmt::format("{}: hidden_size {} is not a multiple of num_attention_heads {} and no "
                                        "head_dim is given",
                                        root, c.hidden_size, c.n_heads));
    }
    if (c.n_heads % c.n_kv_heads != 0) {
        throw invalid_input(fmt::format("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", root,
                                        c.n_heads, c.n_kv_heads));
    }
    if (c.head_dim % 2 != 0) {
        throw invalid_input(fmt::format("{}: head_dim {} must be even for rotary embeddings", root, c.head_dim));
    }
    c.vocab_size = positive_int(doc, "vocab_size", root);
    c.max_position_embeddings = positive_int(doc, "max_position_embeddings", root);
    if (const jr::json* eps = jr::optional_member(doc, "rms_norm_eps", root)) {
        c.rms_norm_eps = jr::positive(*eps, jr::child(root, "rms_norm_eps"));
    }
    if (const jr::json* theta = jr::optional_member(doc, "rope_theta", root)) {
        c.rope_theta = jr::positive(*theta, jr::child(root, "rope_theta"));
    }
    if (const jr::json* rs = jr::optional_member(doc, "rope_scaling", root); rs != nullptr && !rs->is_null()) {
        const std::string p = jr::child(root, "rope_scaling");
        const jr::json* type = jr::optional_member(*rs, "rope_type", p);
        if (type == nullptr) {
            type = jr::optional_member(*rs, "type", p);
        }
        const std::string kind = type != nullptr ? jr::string(*type, jr::child(p, "rope_type")) : "(none)";
        if (kind != "llama3") {
            throw invalid_input(fmt::format("{}.rope_type: '{}' is not supported; supported: llama3 (or no "
                                            "rope_scaling)",
                                            p, kind));
        }
        rope_scaling_llama3 s;
        s.factor = jr::positive(jr::member(*rs, "factor", p), jr::child(p, "factor"));
        s.low_freq_factor = jr::positive(jr::member(*rs, "low_freq_factor", p), jr::child(p, "low_freq_factor"));
        s.high_freq_factor = jr::positive(jr::member(*rs, "high_freq_factor", p), jr::child(p, "high_freq_factor"));
        s.original_max_position_embeddings = jr::integer(jr::member(*rs, "original_max_position_embeddings", p),
                                                         jr::child(p, "original_max_position_embeddings"));
        if (s.high_freq_factor <= s.low_freq_factor || s.original_max_position_embeddings <= 0) {
            throw invalid_input(fmt::format("{}: need high_freq_factor > low_freq_factor and "
                                            "original_max_position_embeddings > 0",
                                            p));
        }
        c.rope_scaling = s;
    }
    if (const jr::json* tie = jr::optional_member(doc, "tie_word_embeddings", root)) {
        c.tie_word_embeddings = jr::boolean(*tie, jr::child(root, "tie_word_embeddings"));
    }
    c.attention_bias = c.arch == architecture::qwen2;
    if (const jr::json* bias = jr::optional_member(doc, "attention_bias", root)) {
        c.attention_bias = jr::boolean(*bias, jr::child(root, "attention_bias"));
    }
    if (const jr::json* bos = jr::optional_member(doc, "bos_token_id", root); bos != nullptr && !bos->is_null()) {
        c.bos_token_id = jr::integer(*bos, jr::child(root, "bos_token_id"));
    }
    if (const jr::json* eos = jr::optional_member(doc, "eos_token_id", root)) {
        c.eos_token_ids = token_ids(*eos, jr::child(root, "eos_token_id"));
    }
    if (const jr::json* dt = jr::optional_member(doc, "torch_dtype", root); dt != nullptr && dt->is_string()) {
        c.torch_dtype = dt->get<std::string>();
    }
    for (int64_t id : c.eos_token_ids) {
        if (id < 0 || id >= c.vocab_size) {
            throw invalid_input(
                fmt::format("{}.eos_token_id: {} is outside the vocabulary [0, {})", root, id, c.vocab_size));
        }
    }
    return c;
}

void apply_generation_config(model_config& c, std::string_view json_text, std::string_view origin) {
    const jr::json doc = jr::parse(json_text, origin);
    const std::string root(origin);
    if (const jr::json* eos = jr::optional_member(doc, "eos_token_id", root)) {
        std::vector<int64_t> ids = token_ids(*eos, jr::child(root, "eos_token_id"));
        for (int64_t id : ids) {
            if (id < 0 || id >= c.vocab_size) {
                throw invalid_input(
                    fmt::format("{}.eos_token_id: {} is outside the vocabulary [0, {})", root, id, c.vocab_size));
            }
        }
        if (!ids.empty()) {
            c.eos_token_ids = std::move(ids);
        }
    }
    if (const jr::json* bos = jr::optional_member(doc, "bos_token_id", root); bos != nullptr && !bos->is_null()) {
        c.bos_token_id = jr::integer(*bos, jr::child(root, "bos_token_id"));
    }
}

model_config load_config(const std::string& model_dir) {
    const std::filesystem::path dir(model_dir);
    if (!std::filesystem::is_directory(dir)) {
        throw not_found(fmt::format("model directory '{}' does not exist; give a Hugging Face model directory "
                                    "(config.json + *.safetensors) or make one with `llmfleet make-model`",
                                    model_dir));
    }
    const std::string config_path = (dir / "config.json").string();
    model_config c = parse_config(read_file(config_path, "model config"), config_path);
    const std::filesystem::path gen = dir / "generation_config.json";
    if (std::filesystem::exists(gen)) {
        apply_generation_config(c, read_file(gen.string(), "generation config"), gen.string());
    }
    return c;
}

} // namespace llmfleet::model
