// A Hugging Face model's config.json (+ generation_config.json) for the architectures the engine runs:
// Qwen2ForCausalLM and LlamaForCausalLM (rope_scaling of type llama3 included).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmfleet::model {

enum class architecture { qwen2, llama };
std::string_view to_string(architecture arch); // "Qwen2ForCausalLM", "LlamaForCausalLM"

// Llama 3.1-style frequency-dependent RoPE scaling.
struct rope_scaling_llama3 {
    double factor = 8.0;
    double low_freq_factor = 1.0;
    double high_freq_factor = 4.0;
    int64_t original_max_position_embeddings = 8192;
};

struct model_config {
    architecture arch = architecture::qwen2;
    int64_t hidden_size = 0;
    int64_t intermediate_size = 0;
    int64_t n_layers = 0;
    int64_t n_heads = 0;
    int64_t n_kv_heads = 0;
    int64_t head_dim = 0; // config's head_dim, else hidden_size / n_heads
    int64_t vocab_size = 0;
    int64_t max_position_embeddings = 0;
    double rms_norm_eps = 1e-6;
    double rope_theta = 10000.0;
    std::optional<rope_scaling_llama3> rope_scaling;
    bool tie_word_embeddings = false;
    bool attention_bias = false; // q/k/v biases (always for Qwen2)
    std::optional<int64_t> bos_token_id;
    std::vector<int64_t> eos_token_ids; // generation_config.json's when present, else config.json's
    std::string torch_dtype;            // as declared ("bfloat16"); the weights' own dtype is what counts

    int64_t q_size() const { return n_heads * head_dim; }
    int64_t kv_size() const { return n_kv_heads * head_dim; }
};

// Throws invalid_argument naming the field (and listing the supported architectures when that is wrong).
model_config parse_config(std::string_view config_json, std::string_view origin);
// Applies generation_config.json: eos_token_id (int or list) and bos_token_id.
void apply_generation_config(model_config& config, std::string_view json_text, std::string_view origin);
// Reads DIR/config.json and, when present, DIR/generation_config.json.
model_config load_config(const std::string& model_dir);

} // namespace llmfleet::model
