// Model architecture dimensions the capacity model needs: built in for common Qwen2.5 / Llama models,
// or read from a Hugging Face config.json (Qwen2ForCausalLM, LlamaForCausalLM, MistralForCausalLM).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmfleet::planner {

struct model_arch {
    std::string name;
    int64_t n_layers = 0;
    int64_t hidden_size = 0;
    int64_t n_heads = 0;
    int64_t n_kv_heads = 0;
    int64_t head_dim = 0;
    int64_t intermediate_size = 0;
    int64_t vocab_size = 0;
    bool tie_word_embeddings = false;
    bool attention_bias = false; // Qwen2: q/k/v projections carry a bias

    // Parameters in one decoder layer's matrices (q, k, v, o, gate, up, down), biases and norms.
    int64_t n_params_per_layer() const;
    // Parameters multiplied per token by matmuls: all layers + LM head (the embedding is a gather).
    int64_t n_params_matmul() const;
    int64_t n_params_lm_head() const { return hidden_size * vocab_size; }
    // Everything stored: layers + embedding + (untied) LM head + final norm.
    int64_t n_params_total() const;
    // K and V for one token in all layers, in elements: 2 × layers × kv_heads × head_dim.
    int64_t kv_elements_per_token() const { return 2 * n_layers * n_kv_heads * head_dim; }
};

const std::vector<model_arch>& builtin_models();
// Case-insensitive lookup ("llama-3-8b"); the error lists the built-in names and suggests --model-config.
model_arch find_builtin_model(std::string_view name);
// Reads the dimensions from a Hugging Face config.json; errors name the field.
model_arch parse_hf_config(std::string_view json_text, std::string_view origin);
model_arch load_hf_config(const std::string& path);

} // namespace llmfleet::planner
