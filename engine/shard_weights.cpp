// See shard_weights.h.
#include "engine/shard_weights.h"

#include <fmt/core.h>

namespace llmfleet::engine {

namespace {

std::vector<float> concat(std::vector<std::vector<float>> parts) {
    std::vector<float> out;
    for (const auto& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

} // namespace

int64_t layer_weights::n_floats() const {
    return static_cast<int64_t>(input_norm.size() + w_qkv.size() + b_qkv.size() + wo.size() + post_norm.size() +
                                w_gate_up.size() + w_down.size());
}

shard_weight_reader::shard_weight_reader(const std::string& model_dir, const model::model_config& config,
                                         const parallel::rank_layout& layout)
    : _config(config), _layout(layout), _store(model_dir) {
    model::validate_weights(_store, config, model_dir); // headers only: shapes and dtypes of every tensor
}

std::vector<float> shard_weight_reader::whole(const std::string& name) const {
    return _store.to_f32(*_store.find(name));
}

// Rows [begin, end) (a 1-D tensor: elements).
std::vector<float> shard_weight_reader::rows(const std::string& name, int64_t begin, int64_t end) const {
    const model::tensor_info& t = *_store.find(name);
    return _store.to_f32_block(t, begin, end, 0, t.shape.size() == 2 ? t.shape[1] : 1);
}

// Columns [begin, end) of every row.
std::vector<float> shard_weight_reader::cols(const std::string& name, int64_t begin, int64_t end) const {
    const model::tensor_info& t = *_store.find(name);
    return _store.to_f32_block(t, 0, t.shape[0], begin, end);
}

bool shard_weight_reader::has_embed() const {
    return _layout.first_stage() || (_layout.last_stage() && _config.tie_word_embeddings);
}

std::vector<float> shard_weight_reader::embed() const {
    return rows("model.embed_tokens.weight", _layout.vocab.begin, _layout.vocab.end);
}

layer_weights shard_weight_reader::layer(int64_t i) const {
    const int64_t hd = _config.head_dim;
    const int64_t q0 = _layout.heads.begin * hd, q1 = _layout.heads.end * hd;
    const int64_t kv0 = _layout.kv_heads.begin * hd, kv1 = _layout.kv_heads.end * hd;
    const int64_t f0 = _layout.ffn.begin, f1 = _layout.ffn.end;
    const std::string p = fmt::format("model.layers.{}.", i);
    layer_weights l;
    l.input_norm = whole(p + "input_layernorm.weight");
    l.w_qkv = concat({rows(p + "self_attn.q_proj.weight", q0, q1), rows(p + "self_attn.k_proj.weight", kv0, kv1),
                      rows(p + "self_attn.v_proj.weight", kv0, kv1)});
    if (_config.attention_bias) {
        l.b_qkv = concat({rows(p + "self_attn.q_proj.bias", q0, q1), rows(p + "self_attn.k_proj.bias", kv0, kv1),
                          rows(p + "self_attn.v_proj.bias", kv0, kv1)});
    }
    l.wo = cols(p + "self_attn.o_proj.weight", q0, q1);
    l.post_norm = whole(p + "post_attention_layernorm.weight");
    l.w_gate_up = concat({rows(p + "mlp.gate_proj.weight", f0, f1), rows(p + "mlp.up_proj.weight", f0, f1)});
    l.w_down = cols(p + "mlp.down_proj.weight", f0, f1);
    return l;
}

std::vector<float> shard_weight_reader::final_norm() const {
    return whole("model.norm.weight");
}

std::vector<float> shard_weight_reader::lm_head() const {
    if (_config.tie_word_embeddings) {
        return {};
    }
    return rows("lm_head.weight", _layout.vocab.begin, _layout.vocab.end);
}

} // namespace llmfleet::engine
