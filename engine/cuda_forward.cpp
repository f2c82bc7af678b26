// See cuda_model_runner.h: the forward pass (metadata upload, layers, final norm, LM head), decode steps replayed
// from CUDA graphs, and the two ways results come back (logits for the host sampler, or token ids sampled on the
// device).
//
// A decode step (one new token per sequence, every sequence sampling, contexts ≤ _graph_max_seq_len) is padded to
// the smallest bucket ≥ its batch size: padding rows have slot −1 (no KV write) and length 0 (zero attention output),
// and their logits are never read. The first step of a bucket runs eagerly (which also plans its GEMMs), then the
// same launches are captured into a graph that later steps of that bucket replay. Every kernel reads the step's
// metadata from fixed device addresses that each step refreshes from pinned host memory, and the split-K decode grid
// is sized from _graph_max_seq_len, so one graph serves every such step.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "engine/cuda_model_runner.h"
#include "engine/cuda_step_plan.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/layer_ops.cuh"
#include "kernels/cuda/sampling.cuh"

namespace llmfleet::engine {

namespace cuda = kernels::cuda;

cuda_model_runner::step_meta cuda_model_runner::meta_view(int32_t* base) const {
    const int64_t t = _max_tokens, s = _max_seqs;
    step_meta m{};
    m.token_ids = base;
    m.positions = base + t;
    m.slot_mapping = base + 2 * t;
    m.seq_token_starts = base + 3 * t;
    m.seq_lens = m.seq_token_starts + s + 1;
    m.logits_rows = m.seq_lens + s;
    m.block_tables = m.logits_rows + s;
    return m;
}

cuda_model_runner::step_shape cuda_model_runner::stage_batch(const forward_batch& b, int32_t padded) {
    step_shape shape;
    shape.n_tokens = b.n_tokens();
    shape.n_seqs = b.n_seqs();
    shape.n_logits = static_cast<int32_t>(b.logits_indices.size());
    if (shape.n_tokens > _max_tokens || shape.n_seqs > _max_seqs || shape.n_logits > _max_seqs) {
        throw error(status_code::internal,
                    fmt::format("CUDA runner: a step of {} tokens, {} sequences and {} logits rows exceeds the {} "
                                "tokens / {} sequences its activations were sized for",
                                shape.n_tokens, shape.n_seqs, shape.n_logits, _max_tokens, _max_seqs));
    }
    const step_meta m = meta_view(_meta_host.data());
    const auto n = static_cast<size_t>(shape.n_tokens);
    std::memcpy(m.token_ids, b.token_ids.data(), n * sizeof(int32_t));
    std::memcpy(m.positions, b.positions.data(), n * sizeof(int32_t));
    std::memcpy(m.slot_mapping, b.slot_mapping.data(), n * sizeof(int32_t));
    std::memcpy(m.logits_rows, b.logits_indices.data(), b.logits_indices.size() * sizeof(int32_t));
    for (int32_t s = 0; s <= shape.n_seqs; ++s) {
        m.seq_token_starts[s] = b.seq_token_starts[static_cast<size_t>(s)];
    }
    for (int32_t s = 0; s < shape.n_seqs; ++s) {
        const int32_t begin = b.seq_token_starts[static_cast<size_t>(s)];
        const int32_t end = b.seq_token_starts[static_cast<size_t>(s) + 1];
        m.seq_lens[s] = b.positions[static_cast<size_t>(end) - 1] + 1;
        shape.max_seq_len = std::max(shape.max_seq_len, m.seq_lens[s]);
        shape.max_q_len = std::max(shape.max_q_len, end - begin);
        const std::span<const int32_t> table = b.block_tables[static_cast<size_t>(s)];
        const int32_t needed = (m.seq_lens[s] + _block_size - 1) / _block_size;
        if (static_cast<int32_t>(table.size()) < needed || needed > _max_blocks_per_seq) {
            throw error(status_code::internal,
                        fmt::format("CUDA runner: sequence {} has {} tokens in {} KV blocks (needs {}, at most {})", s,
                                    m.seq_lens[s], table.size(), needed, _max_blocks_per_seq));
        }
        std::memcpy(m.block_tables + static_cast<int64_t>(s) * _max_blocks_per_seq, table.data(),
                    static_cast<size_t>(needed) * sizeof(int32_t));
    }
    shape.decode = shape.n_tokens == shape.n_seqs;
    if (padded > 0) {
        for (int32_t r = shape.n_seqs; r < padded; ++r) {
            m.token_ids[r] = 0;
            m.positions[r] = 0;
            m.slot_mapping[r] = -1;
            m.seq_token_starts[r + 1] = r + 1;
            m.seq_lens[r] = 0;
            m.logits_rows[r] = r;
        }
        shape.n_tokens = shape.n_seqs = shape.n_logits = padded;
        shape.max_seq_len = _graph_max_seq_len;
    }
    return shape;
}

void cuda_model_runner::upload_meta(const step_shape& shape) {
    const step_meta host = meta_view(_meta_host.data()), dev = meta_view(_meta_device.data());
    auto copy = [&](int32_t* dst, const int32_t* src, int64_t n) {
        LLMFLEET_CUDA_CHECK(
            cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * sizeof(int32_t), cudaMemcpyHostToDevice, _stream));
    };
    copy(dev.token_ids, host.token_ids, shape.n_tokens);
    copy(dev.positions, host.positions, shape.n_tokens);
    copy(dev.slot_mapping, host.slot_mapping, shape.n_tokens);
    copy(dev.seq_token_starts, host.seq_token_starts, shape.n_seqs + 1);
    copy(dev.seq_lens, host.seq_lens, shape.n_seqs);
    copy(dev.logits_rows, host.logits_rows, shape.n_logits);
    copy(dev.block_tables, host.block_tables, static_cast<int64_t>(shape.n_seqs) * _max_blocks_per_seq);
}

// With tp == 1 the o_proj and down_proj GEMMs add into the residual (beta = 1). With tp > 1 each rank's GEMM gives
// a partial sum (its heads' or ffn columns' share) into _delta, all-reduced, then added by the next norm.
void cuda_model_runner::run_layers(const step_shape& shape) {
    const model::model_config& c = _config;
    const auto h = static_cast<int32_t>(c.hidden_size), q = static_cast<int32_t>(_q);
    const auto kv = static_cast<int32_t>(_kv), ffn = static_cast<int32_t>(_ffn);
    const int32_t n = shape.n_tokens;
    const auto eps = static_cast<float>(c.rms_norm_eps);
    const bool split = _tp_comm != nullptr;
    float* row_parallel_out = split ? _delta.data() : _residual.data();
    const step_meta d = meta_view(_meta_device.data());
    const cuda::block_table_view tables{d.block_tables, _max_blocks_per_seq};
    const cuda::attention_io io{_qkv.data(), q + 2 * kv, _attn.data(), _n_heads,
                                1.0F / std::sqrt(static_cast<float>(c.head_dim))};
    bool pending = false; // _delta holds the previous MLP's all-reduced output, not yet added
    for (layer& l : _layers) {
        const cuda::kv_cache_view cache{l.k_cache.data(), l.v_cache.data(), _block_size, _n_kv_heads,
                                        static_cast<int32_t>(c.head_dim)};
        cuda::add_rms_norm(_residual.data(), pending ? _delta.data() : nullptr, l.input_norm.data(), _normed.data(), n,
                           h, eps, _stream);
        _gemm->linear(_normed.data(), l.w_qkv.data(), _qkv.data(), cuda::gemm_out::bf16, n, h, q + 2 * kv, false,
                      _stream);
        cuda::rope_store_kv(_qkv.data(), l.b_qkv.empty() ? nullptr : l.b_qkv.data(), d.positions, d.slot_mapping,
                            _inv_freq.data(), n, _n_heads, cache, _stream);
        if (shape.decode) {
            cuda::paged_attention_decode(io, cache, tables, d.seq_lens, shape.n_seqs, shape.max_seq_len,
                                         _decode_ws.data(), _stream);
        } else {
            cuda::paged_attention_prefill(io, cache, tables, d.seq_token_starts, d.positions, shape.n_seqs,
                                          shape.max_q_len, _stream);
        }
        _gemm->linear(_attn.data(), l.wo.data(), row_parallel_out, cuda::gemm_out::f32, n, q, h, !split, _stream);
        if (split) {
            all_reduce(_delta.data(), static_cast<int64_t>(n) * h);
        }
        cuda::add_rms_norm(_residual.data(), split ? _delta.data() : nullptr, l.post_norm.data(), _normed.data(), n, h,
                           eps, _stream);
        _gemm->linear(_normed.data(), l.w_gate_up.data(), _gate_up.data(), cuda::gemm_out::bf16, n, h, 2 * ffn, false,
                      _stream);
        cuda::silu_mul(_gate_up.data(), _act.data(), n, ffn, _stream);
        _gemm->linear(_act.data(), l.w_down.data(), row_parallel_out, cuda::gemm_out::f32, n, ffn, h, !split, _stream);
        if (split) {
            all_reduce(_delta.data(), static_cast<int64_t>(n) * h);
            pending = true;
        }
    }
    if (pending) { // the last MLP's output: added here (the norm's output is not used)
        cuda::add_rms_norm(_residual.data(), _delta.data(), _norm.data(), _normed.data(), n, h, eps, _stream);
    }
}

void cuda_model_runner::run_model(const step_shape& shape) {
    const model::model_config& c = _config;
    const auto h = static_cast<int32_t>(c.hidden_size), vocab = static_cast<int32_t>(c.vocab_size);
    const auto v0 = static_cast<int32_t>(_layout.vocab.begin), v_local = static_cast<int32_t>(_layout.vocab.size());
    upload_meta(shape);
    const step_meta d = meta_view(_meta_device.data());
    cuda::embedding(_embed.data(), d.token_ids, _residual.data(), shape.n_tokens, h, v0, v_local, _stream);
    if (_tp_comm != nullptr) { // vocab-parallel: each rank filled its rows, zeros elsewhere
        all_reduce(_residual.data(), static_cast<int64_t>(shape.n_tokens) * h);
    }
    run_layers(shape);
    cuda::rms_norm_rows(_residual.data(), d.logits_rows, _norm.data(), _final_normed.data(), shape.n_logits, h,
                        static_cast<float>(c.rms_norm_eps), _stream);
    const bf16* head = _lm_head.empty() ? _embed.data() : _lm_head.data();
    if (_tp_comm == nullptr) {
        _gemm->linear(_final_normed.data(), head, _logits.data(), cuda::gemm_out::f32, shape.n_logits, h, vocab, false,
                      _stream);
        return;
    }
    if (v_local > 0) { // [n_logits, v_local] dense, in the padded buffer's first columns by a 2-D copy below
        _gemm->linear(_final_normed.data(), head, _gathered.data(), cuda::gemm_out::f32, shape.n_logits, h, v_local,
                      false, _stream);
        LLMFLEET_CUDA_CHECK(cudaMemcpy2DAsync(_local_logits.data(), _layout.vocab_shard * sizeof(float),
                                              _gathered.data(), static_cast<size_t>(v_local) * sizeof(float),
                                              static_cast<size_t>(v_local) * sizeof(float), shape.n_logits,
                                              cudaMemcpyDeviceToDevice, _stream));
    }
    gather_logits(shape.n_logits);
}

void cuda_model_runner::all_reduce(float* device_buf, int64_t n) {
    LLMFLEET_CUDA_CHECK(cudaStreamSynchronize(_stream)); // the communicator does not wait on our stream
    if (_tp_comm->backend() == parallel::comm_backend::nccl) {
        _tp_comm->all_reduce_sum(device_buf, n); // in place on the device
        return;
    }
    _host_stage.resize(static_cast<size_t>(n));
    LLMFLEET_CUDA_CHECK(
        cudaMemcpy(_host_stage.data(), device_buf, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToHost));
    _tp_comm->all_reduce_sum(_host_stage.data(), n);
    LLMFLEET_CUDA_CHECK(
        cudaMemcpy(device_buf, _host_stage.data(), static_cast<size_t>(n) * sizeof(float), cudaMemcpyHostToDevice));
}

// Every rank's [n_rows, vocab_shard] slice → _gathered [tp, n_rows, vocab_shard] → _logits [n_rows, vocab].
void cuda_model_runner::gather_logits(int32_t n_rows) {
    const int64_t shard = _layout.vocab_shard, vocab = _config.vocab_size;
    const int64_t slice_bytes = static_cast<int64_t>(n_rows) * shard * static_cast<int64_t>(sizeof(float));
    LLMFLEET_CUDA_CHECK(cudaStreamSynchronize(_stream));
    if (_tp_comm->backend() == parallel::comm_backend::nccl) {
        _tp_comm->all_gather(_local_logits.data(), _gathered.data(), slice_bytes);
    } else {
        std::vector<float> local(static_cast<size_t>(n_rows * shard));
        _host_stage.resize(static_cast<size_t>(_layout.tp * n_rows * shard));
        LLMFLEET_CUDA_CHECK(
            cudaMemcpy(local.data(), _local_logits.data(), static_cast<size_t>(slice_bytes), cudaMemcpyDeviceToHost));
        _tp_comm->all_gather(local.data(), _host_stage.data(), slice_bytes);
        LLMFLEET_CUDA_CHECK(cudaMemcpy(_gathered.data(), _host_stage.data(), _host_stage.size() * sizeof(float),
                                       cudaMemcpyHostToDevice));
    }
    for (int64_t r = 0; r < _layout.tp; ++r) {
        const int64_t width = std::clamp<int64_t>(vocab - r * shard, 0, shard);
        if (width > 0) {
            LLMFLEET_CUDA_CHECK(cudaMemcpy2DAsync(
                _logits.data() + r * shard, static_cast<size_t>(vocab) * sizeof(float),
                _gathered.data() + r * n_rows * shard, static_cast<size_t>(shard) * sizeof(float),
                static_cast<size_t>(width) * sizeof(float), n_rows, cudaMemcpyDeviceToDevice, _stream));
        }
    }
}

void cuda_model_runner::run_step(const forward_batch& batch) {
    compute_logits(batch);
    LLMFLEET_CUDA_CHECK(cudaStreamSynchronize(_stream));
}

void cuda_model_runner::compute_logits(const forward_batch& batch) {
    LLMFLEET_CUDA_CHECK(cudaSetDevice(_device)); // the engine thread may not be the thread that built the runner
    const int32_t bucket = _use_graphs ? graph_bucket_for(batch, _buckets, _graph_max_seq_len) : 0;
    const step_shape shape = stage_batch(batch, bucket);
    _last_shape = shape;
    if (bucket == 0) {
        run_model(shape);
        return;
    }
    if (auto it = _graphs.find(bucket); it != _graphs.end()) {
        LLMFLEET_CUDA_CHECK(cudaGraphLaunch(it->second, _stream));
        return;
    }
    run_model(shape); // this step, eagerly: it also plans the bucket's GEMMs, which capture cannot do
    cudaGraph_t graph = nullptr;
    LLMFLEET_CUDA_CHECK(cudaStreamBeginCapture(_stream, cudaStreamCaptureModeThreadLocal));
    try {
        run_model(shape);
    } catch (...) {
        cudaStreamEndCapture(_stream, &graph);
        if (graph != nullptr) {
            cudaGraphDestroy(graph);
        }
        throw;
    }
    LLMFLEET_CUDA_CHECK(cudaStreamEndCapture(_stream, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    LLMFLEET_CUDA_CHECK(status);
    _graphs.emplace(bucket, exec);
}

void cuda_model_runner::forward(const forward_batch& batch, std::span<float> logits) {
    const int64_t vocab = _config.vocab_size;
    const auto n_logits = static_cast<int64_t>(batch.logits_indices.size());
    LLMFLEET_CHECK(static_cast<int64_t>(logits.size()) == n_logits * vocab,
                   "logits buffer has {} floats, expected {} × {}", logits.size(), n_logits, vocab);
    compute_logits(batch);
    LLMFLEET_CUDA_CHECK(
        cudaMemcpyAsync(logits.data(), _logits.data(), logits.size_bytes(), cudaMemcpyDeviceToHost, _stream));
    LLMFLEET_CUDA_CHECK(cudaStreamSynchronize(_stream));
}

void cuda_model_runner::forward_sample(const forward_batch& batch,
                                       std::span<const std::optional<kernels::ref::sampling_row>> rows,
                                       std::span<int32_t> tokens, std::span<float> logits) {
    const int64_t vocab = _config.vocab_size;
    const auto n_rows = static_cast<int32_t>(rows.size());
    LLMFLEET_CHECK(n_rows == static_cast<int32_t>(batch.logits_indices.size()) &&
                       static_cast<int32_t>(tokens.size()) == n_rows &&
                       static_cast<int64_t>(logits.size()) == n_rows * vocab,
                   "forward_sample: {} rows, {} tokens, {} logits floats for {} logits rows of {}", n_rows,
                   tokens.size(), logits.size(), batch.logits_indices.size(), vocab);
    compute_logits(batch);
    bool any_device = false;
    for (int32_t i = 0; i < n_rows; ++i) {
        // Host rows get a greedy row (cheap, never read back) so that one launch covers the batch.
        _rows_host.data()[i] = rows[static_cast<size_t>(i)].value_or(kernels::ref::sampling_row{.temperature = 0});
        any_device = any_device || rows[static_cast<size_t>(i)].has_value();
    }
    if (any_device) {
        LLMFLEET_CUDA_CHECK(cudaMemcpyAsync(_sample_rows.data(), _rows_host.data(),
                                            static_cast<size_t>(n_rows) * sizeof(kernels::ref::sampling_row),
                                            cudaMemcpyHostToDevice, _stream));
        cuda::sample(_logits.data(), _sample_rows.data(), n_rows, static_cast<int32_t>(vocab), _tokens.data(),
                     _sample_ws.data(), _stream);
        LLMFLEET_CUDA_CHECK(cudaMemcpyAsync(_tokens_host.data(), _tokens.data(),
                                            static_cast<size_t>(n_rows) * sizeof(int32_t), cudaMemcpyDeviceToHost,
                                            _stream));
    }
    for (int32_t i = 0; i < n_rows; ++i) {
        if (!rows[static_cast<size_t>(i)].has_value()) {
            LLMFLEET_CUDA_CHECK(cudaMemcpyAsync(logits.data() + i * vocab, _logits.data() + i * vocab,
                                                static_cast<size_t>(vocab) * sizeof(float), cudaMemcpyDeviceToHost,
                                                _stream));
        }
    }
    LLMFLEET_CUDA_CHECK(cudaStreamSynchronize(_stream));
    for (int32_t i = 0; i < n_rows; ++i) {
        tokens[static_cast<size_t>(i)] = rows[static_cast<size_t>(i)].has_value() ? _tokens_host.data()[i] : -1;
    }
}

} // namespace llmfleet::engine
