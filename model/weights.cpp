// See weights.h.
#include "model/weights.h"

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::model {

std::vector<expected_tensor> expected_tensors(const model_config& c) {
    std::vector<expected_tensor> t;
    t.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}});
    for (int64_t i = 0; i < c.n_layers; ++i) {
        const std::string p = fmt::format("model.layers.{}.", i);
        t.push_back({p + "input_layernorm.weight", {c.hidden_size}});
        t.push_back({p + "self_attn.q_proj.weight", {c.q_size(), c.hidden_size}});
        t.push_back({p + "self_attn.k_proj.weight", {c.kv_size(), c.hidden_size}});
        t.push_back({p + "self_attn.v_proj.weight", {c.kv_size(), c.hidden_size}});
        if (c.attention_bias) {
            t.push_back({p + "self_attn.q_proj.bias", {c.q_size()}});
            t.push_back({p + "self_attn.k_proj.bias", {c.kv_size()}});
            t.push_back({p + "self_attn.v_proj.bias", {c.kv_size()}});
        }
        t.push_back({p + "self_attn.o_proj.weight", {c.hidden_size, c.q_size()}});
        t.push_back({p + "post_attention_layernorm.weight", {c.hidden_size}});
        t.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}});
        t.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}});
        t.push_back({p + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}});
    }
    t.push_back({"model.norm.weight", {c.hidden_size}});
    if (!c.tie_word_embeddings) {
        t.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
    }
    return t;
}

void validate_weights(const weight_store& store, const model_config& c, const std::string& model_dir) {
    for (const expected_tensor& e : expected_tensors(c)) {
        const tensor_info* t = store.find(e.name);
        if (t == nullptr) {
            throw invalid_input(fmt::format("{}: tensor '{}' is missing (expected {} for {}); the weights do not "
                                            "match config.json",
                                            model_dir, e.name, format_shape(e.shape), to_string(c.arch)));
        }
        if (t->shape != e.shape) {
            throw invalid_input(fmt::format("{}: tensor '{}': expected {} from config.json, got {} {}; the weights "
                                            "and config.json disagree (re-run llmfleet make-model or fix the config)",
                                            model_dir, e.name, format_shape(e.shape), to_string(t->type),
                                            t->shape_string()));
        }
    }
}

} // namespace llmfleet::model
