// See cpu_shard.h.
#include "engine/cpu_shard.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "engine/shard_weights.h"
#include "kernels/cpu/ops.h"

namespace llmfleet::engine {

namespace cpu = kernels::cpu;

namespace {

void fit(std::vector<float>& v, int64_t size) {
    if (static_cast<int64_t>(v.size()) < size) {
        v.resize(static_cast<size_t>(size));
    }
}

double gib(int64_t bytes) {
    return static_cast<double>(bytes) / static_cast<double>(1LL << 30);
}

} // namespace

int64_t cpu_shard::kv_bytes_per_block(const model::model_config& config, const parallel::rank_layout& layout,
                                      int32_t block_size) {
    return layout.layers.size() * 2 * layout.kv_heads.size() * config.head_dim * block_size *
           static_cast<int64_t>(sizeof(float));
}

cpu_shard::cpu_shard(const std::string& model_dir, const parallel::rank_layout& layout, cpu_shard_options options,
                     parallel::communicator* tp_comm)
    : _config(model::load_config(model_dir)), _layout(layout), _tp_comm(tp_comm), _n_kv_blocks(options.n_kv_blocks),
      _block_size(options.block_size), _pool(options.n_threads > 0 ? options.n_threads : default_thread_count()) {
    if (_n_kv_blocks <= 0 || _block_size <= 0) {
        throw invalid_input(fmt::format("KV pool of {} blocks × {} tokens: both must be positive; raise --kv-cache-gib",
                                        _n_kv_blocks, _block_size));
    }
    LLMFLEET_CHECK((_layout.tp == 1) == (tp_comm == nullptr), "tp {} needs a tp communicator exactly when tp > 1",
                   _layout.tp);
    LLMFLEET_CHECK(tp_comm == nullptr || (tp_comm->size() == _layout.tp && tp_comm->rank() == _layout.tp_rank),
                   "tp communicator of size {} rank {} for tp {} rank {}", tp_comm ? tp_comm->size() : 0,
                   tp_comm ? tp_comm->rank() : 0, _layout.tp, _layout.tp_rank);
    const model::model_config& c = _config;
    const int64_t hd = c.head_dim;
    _q_local = _layout.heads.size() * hd;
    _kv_local = _layout.kv_heads.size() * hd;
    _ffn_local = _layout.ffn.size();

    const shard_weight_reader reader(model_dir, c, _layout);
    if (reader.has_embed()) {
        _embed = reader.embed();
    }
    const auto kv_floats = static_cast<size_t>(_n_kv_blocks * _block_size * _kv_local);
    for (int64_t i = _layout.layers.begin; i < _layout.layers.end; ++i) {
        layer l;
        l.w = reader.layer(i);
        l.k_cache = std::make_unique_for_overwrite<float[]>(kv_floats);
        l.v_cache = std::make_unique_for_overwrite<float[]>(kv_floats);
        _layers.push_back(std::move(l));
    }
    if (_layout.last_stage()) {
        _norm = reader.final_norm();
        _lm_head = reader.lm_head();
    }
    _inv_freq = rope_inv_freq(c);
}

int64_t cpu_shard::weight_bytes() const {
    auto n = static_cast<int64_t>(_embed.size() + _norm.size() + _lm_head.size());
    for (const layer& l : _layers) {
        n += l.w.n_floats();
    }
    return n * static_cast<int64_t>(sizeof(float));
}

int64_t cpu_shard::kv_pool_bytes() const {
    return _n_kv_blocks * kv_bytes_per_block(_config, _layout, _block_size);
}

std::string cpu_shard::describe() const {
    return fmt::format("{} threads, weights {:.2f} GiB, KV pool {} blocks × {} tokens = {:.2f} GiB", _pool.n_threads(),
                       gib(weight_bytes()), _n_kv_blocks, _block_size, gib(kv_pool_bytes()));
}

void cpu_shard::all_reduce(float* buf, int64_t n) {
    if (_tp_comm != nullptr) {
        _tp_comm->all_reduce_sum(buf, n);
    }
}

void cpu_shard::embed(std::span<const int32_t> token_ids, float* x) {
    const int64_t h = _config.hidden_size, v0 = _layout.vocab.begin, v1 = _layout.vocab.end;
    for (size_t t = 0; t < token_ids.size(); ++t) {
        const int64_t id = token_ids[t];
        float* row = x + static_cast<int64_t>(t) * h;
        if (id >= v0 && id < v1) {
            std::memcpy(row, _embed.data() + (id - v0) * h, static_cast<size_t>(h) * sizeof(float));
        } else {
            std::fill(row, row + h, 0.0F); // another tp rank holds this row
        }
    }
    all_reduce(x, static_cast<int64_t>(token_ids.size()) * h);
}

void cpu_shard::layers(const forward_batch& batch, float* x) {
    const model::model_config& c = _config;
    const int64_t n = batch.n_tokens(), h = c.hidden_size, q = _q_local, kv = _kv_local, ffn = _ffn_local;
    const int64_t qkv_cols = q + 2 * kv, half = c.head_dim / 2;
    const int64_t n_heads = _layout.heads.size(), n_kv_heads = _layout.kv_heads.size();
    fit(_s.normed, n * h);
    fit(_s.qkv, n * qkv_cols);
    fit(_s.attn, n * q);
    fit(_s.proj, n * h);
    fit(_s.gate_up, n * 2 * ffn);
    fit(_s.act, n * ffn);
    fit(_s.cos, n * half);
    fit(_s.sin, n * half);
    cpu::rope_table(batch.positions.data(), _inv_freq.data(), _s.cos.data(), _s.sin.data(), n, half);
    const cpu::attention_batch attn_batch{batch.positions.data(), batch.token_seq.data(), batch.block_tables.data(), n};
    const auto eps = static_cast<float>(c.rms_norm_eps);
    for (layer& l : _layers) {
        const cpu::kv_layer_view kv_view{l.k_cache.get(), l.v_cache.get(), _block_size, n_kv_heads, c.head_dim};
        cpu::rms_norm(x, l.w.input_norm.data(), _s.normed.data(), n, h, eps);
        cpu::linear(_s.normed.data(), l.w.w_qkv.data(), l.w.b_qkv.empty() ? nullptr : l.w.b_qkv.data(), _s.qkv.data(),
                    n, h, qkv_cols, _pool);
        cpu::rope(_s.qkv.data(), qkv_cols, _s.cos.data(), _s.sin.data(), n, n_heads, c.head_dim);
        cpu::rope(_s.qkv.data() + q, qkv_cols, _s.cos.data(), _s.sin.data(), n, n_kv_heads, c.head_dim);
        cpu::store_kv(_s.qkv.data(), qkv_cols, q, q + kv, batch.slot_mapping.data(), n, kv_view);
        cpu::paged_attention(_s.qkv.data(), qkv_cols, _s.attn.data(), attn_batch, kv_view, n_heads, _pool);
        cpu::linear(_s.attn.data(), l.w.wo.data(), nullptr, _s.proj.data(), n, q, h, _pool);
        all_reduce(_s.proj.data(), n * h); // row-parallel: sum the ranks' partial products
        cpu::add_inplace(x, _s.proj.data(), n * h);
        cpu::rms_norm(x, l.w.post_norm.data(), _s.normed.data(), n, h, eps);
        cpu::linear(_s.normed.data(), l.w.w_gate_up.data(), nullptr, _s.gate_up.data(), n, h, 2 * ffn, _pool);
        cpu::silu_mul_fused(_s.gate_up.data(), _s.act.data(), n, ffn);
        cpu::linear(_s.act.data(), l.w.w_down.data(), nullptr, _s.proj.data(), n, ffn, h, _pool);
        all_reduce(_s.proj.data(), n * h);
        cpu::add_inplace(x, _s.proj.data(), n * h);
    }
}

void cpu_shard::logits(const float* x, std::span<const int32_t> rows, float* logits) {
    const model::model_config& c = _config;
    const int64_t h = c.hidden_size, n_rows = static_cast<int64_t>(rows.size()), vocab = c.vocab_size;
    const int64_t v_local = _layout.vocab.size(), shard = _layout.vocab_shard;
    fit(_s.last_normed, n_rows * h);
    for (int64_t i = 0; i < n_rows; ++i) {
        cpu::rms_norm(x + rows[static_cast<size_t>(i)] * h, _norm.data(), _s.last_normed.data() + i * h, 1, h,
                      static_cast<float>(c.rms_norm_eps));
    }
    const float* head = _lm_head.empty() ? _embed.data() : _lm_head.data();
    if (_tp_comm == nullptr) {
        cpu::linear(_s.last_normed.data(), head, nullptr, logits, n_rows, h, vocab, _pool);
        return;
    }
    // Each rank computes its vocabulary slice [n_rows, shard] (zero-padded past the vocabulary); the all-gather
    // gives [tp, n_rows, shard], transposed into [n_rows, vocab].
    fit(_s.local_logits, n_rows * shard);
    fit(_s.gathered, _layout.tp * n_rows * shard);
    std::fill(_s.local_logits.begin(), _s.local_logits.begin() + n_rows * shard, 0.0F);
    if (v_local == shard) {
        cpu::linear(_s.last_normed.data(), head, nullptr, _s.local_logits.data(), n_rows, h, shard, _pool);
    } else if (v_local > 0) { // the last rank's short slice: compute densely, then spread into padded rows
        std::vector<float> dense(static_cast<size_t>(n_rows * v_local));
        cpu::linear(_s.last_normed.data(), head, nullptr, dense.data(), n_rows, h, v_local, _pool);
        for (int64_t i = 0; i < n_rows; ++i) {
            std::copy_n(dense.data() + i * v_local, v_local, _s.local_logits.data() + i * shard);
        }
    }
    _tp_comm->all_gather(_s.local_logits.data(), _s.gathered.data(),
                         n_rows * shard * static_cast<int64_t>(sizeof(float)));
    for (int64_t r = 0; r < _layout.tp; ++r) {
        const int64_t v0 = r * shard, width = std::clamp<int64_t>(vocab - v0, 0, shard);
        for (int64_t i = 0; i < n_rows; ++i) {
            std::copy_n(_s.gathered.data() + (r * n_rows + i) * shard, width, logits + i * vocab + v0);
        }
    }
}

} // namespace llmfleet::engine
