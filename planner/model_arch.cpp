// Built-in architectures (from each model's Hugging Face config.json) and the config.json reader.
#include "planner/model_arch.h"

#include <algorithm>
#include <cctype>

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::planner {

int64_t model_arch::n_params_per_layer() const {
    const int64_t q = hidden_size * n_heads * head_dim;
    const int64_t kv = 2 * hidden_size * n_kv_heads * head_dim;
    const int64_t o = n_heads * head_dim * hidden_size;
    const int64_t mlp = 3 * hidden_size * intermediate_size;
    const int64_t bias = attention_bias ? (n_heads + 2 * n_kv_heads) * head_dim : 0;
    const int64_t norms = 2 * hidden_size;
    return q + kv + o + mlp + bias + norms;
}

int64_t model_arch::n_params_matmul() const {
    return n_layers * n_params_per_layer() + n_params_lm_head();
}

int64_t model_arch::n_params_total() const {
    const int64_t embedding = vocab_size * hidden_size;
    return n_layers * n_params_per_layer() + embedding + (tie_word_embeddings ? 0 : n_params_lm_head()) + hidden_size;
}

const std::vector<model_arch>& builtin_models() {
    // name, layers, hidden, heads, kv heads, head dim, intermediate, vocab, tied, qkv bias
    static const std::vector<model_arch> models = {
        {"Qwen2.5-0.5B", 24, 896, 14, 2, 64, 4864, 151936, true, true},
        {"Qwen2.5-1.5B", 28, 1536, 12, 2, 128, 8960, 151936, true, true},
        {"Qwen2.5-3B", 36, 2048, 16, 2, 128, 11008, 151936, true, true},
        {"Qwen2.5-7B", 28, 3584, 28, 4, 128, 18944, 152064, false, true},
        {"Llama-2-7B", 32, 4096, 32, 32, 128, 11008, 32000, false, false},
        {"Llama-3-8B", 32, 4096, 32, 8, 128, 14336, 128256, false, false},
    };
    return models;
}

namespace {
std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}
} // namespace

model_arch find_builtin_model(std::string_view name) {
    std::string known;
    for (const model_arch& m : builtin_models()) {
        if (lower(m.name) == lower(name)) {
            return m;
        }
        known += (known.empty() ? "" : ", ") + m.name;
    }
    throw invalid_input(fmt::format("--model: unknown model '{}'; built in: {}; or give a Hugging Face config.json "
                                    "with --model-config",
                                    name, known));
}

model_arch parse_hf_config(std::string_view json_text, std::string_view origin) {
    namespace jr = json_read;
    const jr::json doc = jr::parse(json_text, origin);
    const std::string root = fmt::format("{}", origin);
    static const std::vector<std::string> supported = {"Qwen2ForCausalLM", "LlamaForCausalLM", "MistralForCausalLM"};
    const jr::json& archs = jr::member(doc, "architectures", root);
    const std::string arch =
        archs.is_array() && !archs.empty() ? jr::string(archs[0], root + ".architectures[0]") : std::string("(none)");
    if (std::find(supported.begin(), supported.end(), arch) == supported.end()) {
        throw invalid_input(fmt::format("{}.architectures: '{}' is not supported; supported: Qwen2ForCausalLM, "
                                        "LlamaForCausalLM, MistralForCausalLM",
                                        root, arch));
    }
    auto positive_int = [&](std::string_view key) {
        const int64_t v = jr::integer(jr::member(doc, key, root), jr::child(root, key));
        if (v <= 0) {
            throw invalid_input(fmt::format("{}.{}: expected an integer > 0, got {}", root, key, v));
        }
        return v;
    };
    model_arch m;
    m.name = arch;
    if (const jr::json* t = jr::optional_member(doc, "_name_or_path", root); t != nullptr && t->is_string()) {
        m.name = t->get<std::string>();
    }
    m.n_layers = positive_int("num_hidden_layers");
    m.hidden_size = positive_int("hidden_size");
    m.n_heads = positive_int("num_attention_heads");
    m.n_kv_heads =
        jr::optional_member(doc, "num_key_value_heads", root) ? positive_int("num_key_value_heads") : m.n_heads;
    const jr::json* hd = jr::optional_member(doc, "head_dim", root);
    m.head_dim = (hd != nullptr && !hd->is_null()) ? positive_int("head_dim") : m.hidden_size / m.n_heads;
    m.intermediate_size = positive_int("intermediate_size");
    m.vocab_size = positive_int("vocab_size");
    if (const jr::json* tie = jr::optional_member(doc, "tie_word_embeddings", root)) {
        m.tie_word_embeddings = jr::boolean(*tie, jr::child(root, "tie_word_embeddings"));
    }
    m.attention_bias = arch == "Qwen2ForCausalLM";
    if (const jr::json* bias = jr::optional_member(doc, "attention_bias", root)) {
        m.attention_bias = jr::boolean(*bias, jr::child(root, "attention_bias"));
    }
    if (m.n_heads % m.n_kv_heads != 0) {
        throw invalid_input(fmt::format("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", root,
                                        m.n_heads, m.n_kv_heads));
    }
    return m;
}

model_arch load_hf_config(const std::string& path) {
    return parse_hf_config(read_file(path, "model config"), path);
}

} // namespace llmfleet::planner
