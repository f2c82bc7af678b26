// See cpu_model_runner.h.
#include "engine/cpu_model_runner.h"

#include <fmt/core.h>

#include <filesystem>

#include "common/error.h"
#include "common/log.h"
#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"
#include "model/safetensors.h"
#include "model/weights.h"

namespace llmfleet::engine {

namespace cpu = kernels::cpu;

namespace {

std::vector<float> concat(std::vector<std::vector<float>> parts) {
    std::vector<float> out;
    for (const auto& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

} // namespace

cpu_model_runner::cpu_model_runner(const std::string& model_dir, cpu_runner_options options)
    : _config(model::load_config(model_dir)), _n_kv_blocks(options.n_kv_blocks), _block_size(options.block_size),
      _pool(options.n_threads > 0 ? options.n_threads : default_thread_count()) {
    if (_n_kv_blocks <= 0 || _block_size <= 0) {
        throw invalid_input(fmt::format("KV pool of {} blocks × {} tokens: both must be positive; raise --kv-cache-gib",
                                        _n_kv_blocks, _block_size));
    }
    const model::weight_store store(model_dir);
    model::validate_weights(store, _config, model_dir);
    auto get = [&](const std::string& name) { return store.to_f32(*store.find(name)); };
    _embed = get("model.embed_tokens.weight");
    const auto kv_floats = static_cast<size_t>(_n_kv_blocks * _block_size * _config.kv_size());
    for (int64_t i = 0; i < _config.n_layers; ++i) {
        const std::string p = fmt::format("model.layers.{}.", i);
        layer l;
        l.input_norm = get(p + "input_layernorm.weight");
        l.w_qkv = concat({get(p + "self_attn.q_proj.weight"), get(p + "self_attn.k_proj.weight"),
                          get(p + "self_attn.v_proj.weight")});
        if (_config.attention_bias) {
            l.b_qkv = concat(
                {get(p + "self_attn.q_proj.bias"), get(p + "self_attn.k_proj.bias"), get(p + "self_attn.v_proj.bias")});
        }
        l.wo = get(p + "self_attn.o_proj.weight");
        l.post_norm = get(p + "post_attention_layernorm.weight");
        l.w_gate_up = concat({get(p + "mlp.gate_proj.weight"), get(p + "mlp.up_proj.weight")});
        l.w_down = get(p + "mlp.down_proj.weight");
        l.k_cache = std::make_unique_for_overwrite<float[]>(kv_floats);
        l.v_cache = std::make_unique_for_overwrite<float[]>(kv_floats);
        _layers.push_back(std::move(l));
    }
    _norm = get("model.norm.weight");
    if (!_config.tie_word_embeddings) {
        _lm_head = get("lm_head.weight");
    }
    _inv_freq = rope_inv_freq(_config);
}

int64_t cpu_model_runner::weight_bytes() const {
    int64_t n = static_cast<int64_t>(_embed.size() + _norm.size() + _lm_head.size());
    for (const layer& l : _layers) {
        n += static_cast<int64_t>(l.input_norm.size() + l.w_qkv.size() + l.b_qkv.size() + l.wo.size() +
                                  l.post_norm.size() + l.w_gate_up.size() + l.w_down.size());
    }
    return n * static_cast<int64_t>(sizeof(float));
}

std::string cpu_model_runner::describe() const {
    const double kv_gib = static_cast<double>(_n_kv_blocks * _block_size * kv_bytes_per_token(_config, 4)) /
                          static_cast<double>(1LL << 30);
    return fmt::format("backend cpu (f32, OpenBLAS), {} threads, weights {:.2f} GiB, KV pool {} blocks × {} tokens "
                       "= {:.2f} GiB",
                       _pool.n_threads(), static_cast<double>(weight_bytes()) / static_cast<double>(1LL << 30),
                       _n_kv_blocks, _block_size, kv_gib);
}

void cpu_model_runner::forward(const forward_batch& batch, std::span<float> logits) {
    const model::model_config& c = _config;
    const int64_t n = batch.n_tokens(), h = c.hidden_size, q_size = c.q_size(), kv_size = c.kv_size();
    const int64_t qkv_cols = q_size + 2 * kv_size, inter = c.intermediate_size, half = c.head_dim / 2;
    const auto n_logits = static_cast<int64_t>(batch.logits_indices.size());
    LLMFLEET_CHECK(static_cast<int64_t>(logits.size()) == n_logits * c.vocab_size,
                   "logits buffer has {} floats, expected {} × {}", logits.size(), n_logits, c.vocab_size);
    auto fit = [](std::vector<float>& v, int64_t size) {
        if (static_cast<int64_t>(v.size()) < size) {
            v.resize(static_cast<size_t>(size));
        }
    };
    fit(_s.x, n * h);
    fit(_s.normed, n * h);
    fit(_s.qkv, n * qkv_cols);
    fit(_s.attn, n * q_size);
    fit(_s.proj, n * h);
    fit(_s.gate_up, n * 2 * inter);
    fit(_s.act, n * inter);
    fit(_s.cos, n * half);
    fit(_s.sin, n * half);
    fit(_s.last_normed, n_logits * h);

    kernels::ref::embedding(_embed.data(), batch.token_ids.data(), _s.x.data(), n, h);
    cpu::rope_table(batch.positions.data(), _inv_freq.data(), _s.cos.data(), _s.sin.data(), n, half);
    const cpu::attention_batch attn_batch{batch.positions.data(), batch.token_seq.data(), batch.block_tables.data(), n};
    const auto eps = static_cast<float>(c.rms_norm_eps);
    for (layer& l : _layers) {
        const cpu::kv_layer_view kv{l.k_cache.get(), l.v_cache.get(), _block_size, c.n_kv_heads, c.head_dim};
        cpu::rms_norm(_s.x.data(), l.input_norm.data(), _s.normed.data(), n, h, eps);
        cpu::linear(_s.normed.data(), l.w_qkv.data(), l.b_qkv.empty() ? nullptr : l.b_qkv.data(), _s.qkv.data(), n, h,
                    qkv_cols, _pool);
        cpu::rope(_s.qkv.data(), qkv_cols, _s.cos.data(), _s.sin.data(), n, c.n_heads, c.head_dim);
        cpu::rope(_s.qkv.data() + q_size, qkv_cols, _s.cos.data(), _s.sin.data(), n, c.n_kv_heads, c.head_dim);
        cpu::store_kv(_s.qkv.data(), qkv_cols, q_size, q_size + kv_size, batch.slot_mapping.data(), n, kv);
        cpu::paged_attention(_s.qkv.data(), qkv_cols, _s.attn.data(), attn_batch, kv, c.n_heads, _pool);
        cpu::linear(_s.attn.data(), l.wo.data(), nullptr, _s.proj.data(), n, q_size, h, _pool);
        cpu::add_inplace(_s.x.data(), _s.proj.data(), n * h);
        cpu::rms_norm(_s.x.data(), l.post_norm.data(), _s.normed.data(), n, h, eps);
        cpu::linear(_s.normed.data(), l.w_gate_up.data(), nullptr, _s.gate_up.data(), n, h, 2 * inter, _pool);
        cpu::silu_mul_fused(_s.gate_up.data(), _s.act.data(), n, inter);
        cpu::linear(_s.act.data(), l.w_down.data(), nullptr, _s.proj.data(), n, inter, h, _pool);
        cpu::add_inplace(_s.x.data(), _s.proj.data(), n * h);
    }
    for (int64_t i = 0; i < n_logits; ++i) {
        cpu::rms_norm(_s.x.data() + batch.logits_indices[i] * h, _norm.data(), _s.last_normed.data() + i * h, 1, h,
                      eps);
    }
    const float* head = _lm_head.empty() ? _embed.data() : _lm_head.data();
    cpu::linear(_s.last_normed.data(), head, nullptr, logits.data(), n_logits, h, c.vocab_size, _pool);
}

std::unique_ptr<engine> make_cpu_engine(const cpu_engine_options& options, const clock_source* clock) {
    const model::model_config config = model::load_config(options.model_dir);
    if (options.kv_cache_gib <= 0 || options.block_size <= 0) {
        throw invalid_input(fmt::format("--kv-cache-gib {} and --block-size {} must be positive", options.kv_cache_gib,
                                        options.block_size));
    }
    const int64_t block_bytes = kv_bytes_per_token(config, 4) * options.block_size;
    const auto n_blocks = static_cast<int64_t>(options.kv_cache_gib * static_cast<double>(1LL << 30)) / block_bytes;
    if (n_blocks < 1) {
        throw error(status_code::resource_exhausted,
                    fmt::format("--kv-cache-gib {} holds no KV block of {} bytes ({} tokens); raise --kv-cache-gib",
                                options.kv_cache_gib, block_bytes, options.block_size));
    }
    auto runner = std::make_unique<cpu_model_runner>(
        options.model_dir, cpu_runner_options{n_blocks, options.block_size, options.n_threads});
    std::shared_ptr<const model::tokenizer> tok;
    if (std::filesystem::exists(std::filesystem::path(options.model_dir) / "tokenizer.json")) {
        tok = std::make_shared<const model::tokenizer>(model::tokenizer::load(options.model_dir));
    } else {
        LLMFLEET_LOG_INFO("{}: no tokenizer.json; prompts must be token ids and outputs have no text",
                          options.model_dir);
    }
    return std::make_unique<engine>(options.engine, std::move(runner), std::move(tok), clock);
}

} // namespace llmfleet::engine
