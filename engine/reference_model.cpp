// See reference_model.h.
#include "engine/reference_model.h"

#include <fmt/core.h>

#include "common/error.h"
#include "engine/model_runner.h"
#include "kernels/ref/ops.h"
#include "model/safetensors.h"
#include "model/weights.h"

namespace llmfleet::engine {

namespace ref = kernels::ref;

reference_model::reference_model(const std::string& model_dir) : _config(model::load_config(model_dir)) {
    const model::weight_store store(model_dir);
    model::validate_weights(store, _config, model_dir);
    auto get = [&](const std::string& name) { return store.to_f32(*store.find(name)); };
    _embed = get("model.embed_tokens.weight");
    for (int64_t i = 0; i < _config.n_layers; ++i) {
        const std::string p = fmt::format("model.layers.{}.", i);
        layer l;
        l.input_norm = get(p + "input_layernorm.weight");
        l.wq = get(p + "self_attn.q_proj.weight");
        l.wk = get(p + "self_attn.k_proj.weight");
        l.wv = get(p + "self_attn.v_proj.weight");
        if (_config.attention_bias) {
            l.bq = get(p + "self_attn.q_proj.bias");
            l.bk = get(p + "self_attn.k_proj.bias");
            l.bv = get(p + "self_attn.v_proj.bias");
        }
        l.wo = get(p + "self_attn.o_proj.weight");
        l.post_norm = get(p + "post_attention_layernorm.weight");
        l.w_gate = get(p + "mlp.gate_proj.weight");
        l.w_up = get(p + "mlp.up_proj.weight");
        l.w_down = get(p + "mlp.down_proj.weight");
        _layers.push_back(std::move(l));
    }
    _norm = get("model.norm.weight");
    if (!_config.tie_word_embeddings) {
        _lm_head = get("lm_head.weight");
    }
    _inv_freq = rope_inv_freq(_config);
}

std::vector<float> reference_model::forward(const std::vector<int32_t>& ids) const {
    const model::model_config& c = _config;
    const auto n = static_cast<int64_t>(ids.size());
    if (n == 0 || n > c.max_position_embeddings) {
        throw invalid_input(fmt::format("prompt has {} tokens; expected 1..{} (max_position_embeddings)", n,
                                        c.max_position_embeddings));
    }
    for (int64_t t = 0; t < n; ++t) {
        if (ids[t] < 0 || ids[t] >= c.vocab_size) {
            throw invalid_input(
                fmt::format("token id {} at position {} is outside the vocabulary [0, {})", ids[t], t, c.vocab_size));
        }
    }
    const int64_t h = c.hidden_size, q_size = c.q_size(), kv_size = c.kv_size(), inter = c.intermediate_size;
    std::vector<int64_t> positions(n);
    for (int64_t t = 0; t < n; ++t) {
        positions[t] = t;
    }
    std::vector<float> x(n * h), normed(n * h), q(n * q_size), k(n * kv_size), v(n * kv_size), attn(n * q_size),
        proj(n * h), gate(n * inter), up(n * inter), act(n * inter);
    ref::embedding(_embed.data(), ids.data(), x.data(), n, h);
    const float eps = static_cast<float>(c.rms_norm_eps);
    for (const layer& l : _layers) {
        ref::rms_norm(x.data(), l.input_norm.data(), normed.data(), n, h, eps);
        ref::linear(normed.data(), l.wq.data(), l.bq.empty() ? nullptr : l.bq.data(), q.data(), n, h, q_size);
        ref::linear(normed.data(), l.wk.data(), l.bk.empty() ? nullptr : l.bk.data(), k.data(), n, h, kv_size);
        ref::linear(normed.data(), l.wv.data(), l.bv.empty() ? nullptr : l.bv.data(), v.data(), n, h, kv_size);
        ref::rope(q.data(), positions.data(), n, c.n_heads, c.head_dim, _inv_freq.data());
        ref::rope(k.data(), positions.data(), n, c.n_kv_heads, c.head_dim, _inv_freq.data());
        ref::attention(q.data(), k.data(), v.data(), attn.data(), positions.data(), n, n, c.n_heads, c.n_kv_heads,
                       c.head_dim);
        ref::linear(attn.data(), l.wo.data(), nullptr, proj.data(), n, q_size, h);
        ref::add(x.data(), proj.data(), x.data(), n * h);
        ref::rms_norm(x.data(), l.post_norm.data(), normed.data(), n, h, eps);
        ref::linear(normed.data(), l.w_gate.data(), nullptr, gate.data(), n, h, inter);
        ref::linear(normed.data(), l.w_up.data(), nullptr, up.data(), n, h, inter);
        ref::silu_mul(gate.data(), up.data(), act.data(), n * inter);
        ref::linear(act.data(), l.w_down.data(), nullptr, proj.data(), n, inter, h);
        ref::add(x.data(), proj.data(), x.data(), n * h);
    }
    ref::rms_norm(x.data(), _norm.data(), normed.data(), n, h, eps);
    std::vector<float> logits(n * c.vocab_size);
    const std::vector<float>& head = _lm_head.empty() ? _embed : _lm_head;
    ref::linear(normed.data(), head.data(), nullptr, logits.data(), n, h, c.vocab_size);
    return logits;
}

} // namespace llmfleet::engine
