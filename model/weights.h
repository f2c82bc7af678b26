// The tensors a Qwen2/Llama checkpoint must hold (Hugging Face names and shapes from the config), and the
// check of a weight store against them: every tensor present, the right shape, a supported dtype.
#pragma once

#include <string>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"

namespace llmfleet::model {

struct expected_tensor {
    std::string name;           // "model.layers.3.self_attn.q_proj.weight"
    std::vector<int64_t> shape; // HF layout: linear weights are [out_features, in_features]
};

std::vector<expected_tensor> expected_tensors(const model_config& config);

// Throws invalid_argument on the first problem, naming the tensor, expected vs actual and a hint:
// "tensor 'model.layers.3.self_attn.q_proj.weight': expected [896, 896], got [896, 128]; ...".
// Tensors the engine does not use (e.g. rotary_emb.inv_freq) are ignored.
void validate_weights(const weight_store& store, const model_config& config, const std::string& model_dir);

} // namespace llmfleet::model
