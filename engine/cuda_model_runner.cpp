// See cuda_model_runner.h: construction (weights, memory plan, KV pool, pinned staging) and the startup line. The
// forward pass and the CUDA graphs are in cuda_forward.cpp.
#include "engine/cuda_model_runner.h"

#include <fmt/core.h>

#include <algorithm>

#include "common/error.h"
#include "common/log.h"
#include "engine/cpu_model_runner.h"
#include "engine/cuda_step_plan.h"
#include "engine/shard_weights.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/sampling.cuh"
#include "model/config.h"

namespace llmfleet::engine {

namespace cuda = kernels::cuda;

namespace {

constexpr int64_t graph_reserve_bytes = 256LL << 20; // CUDA graphs' and cuBLASLt's own allocations

double gib(int64_t bytes) {
    return static_cast<double>(bytes) / static_cast<double>(1LL << 30);
}

// Rounds f32 weights to bf16 (round to nearest even) and uploads them.
cuda::device_buffer<cuda::bf16> upload_bf16(const std::vector<float>& host, int64_t& counted_bytes) {
    std::vector<cuda::bf16> converted(host.size());
    for (size_t i = 0; i < host.size(); ++i) {
        converted[i] = __float2bfloat16_rn(host[i]);
    }
    cuda::device_buffer<cuda::bf16> d(static_cast<int64_t>(converted.size()));
    d.upload(converted);
    counted_bytes += static_cast<int64_t>(d.bytes());
    return d;
}

void check_model(const model::model_config& c, const std::string& model_dir) {
    if (c.head_dim != 32 && c.head_dim != 64 && c.head_dim != 128) {
        throw invalid_input(fmt::format("{}: head_dim {} is not supported by the CUDA attention kernels (32, 64 or "
                                        "128); use --device cpu",
                                        model_dir, c.head_dim));
    }
    if (c.n_heads % c.n_kv_heads != 0) {
        throw invalid_input(fmt::format("{}: {} attention heads are not a multiple of {} KV heads", model_dir,
                                        c.n_heads, c.n_kv_heads));
    }
}

} // namespace

bool cuda_backend_built() {
    return true;
}

cuda_model_runner::cuda_model_runner(const cuda_engine_options& options)
    : cuda_model_runner(options,
                        parallel::make_rank_layout(parallel::parallel_config{}, model::load_config(options.model_dir),
                                                   /*rank=*/0),
                        /*tp_comm=*/nullptr) {}

cuda_model_runner::cuda_model_runner(const cuda_engine_options& options, const parallel::rank_layout& layout,
                                     parallel::communicator* tp_comm)
    : _config(model::load_config(options.model_dir)), _layout(layout), _tp_comm(tp_comm), _device(options.device),
      _block_size(options.block_size), _use_graphs(options.cuda_graphs && layout.tp == 1) {
    check_model(_config, options.model_dir);
    LLMFLEET_CHECK(_layout.pp == 1, "the CUDA runner holds every layer (pp {} was asked for)", _layout.pp);
    LLMFLEET_CHECK((_layout.tp == 1) == (tp_comm == nullptr) &&
                       (tp_comm == nullptr || (tp_comm->size() == _layout.tp && tp_comm->rank() == _layout.tp_rank)),
                   "tp {} rank {} needs a tp communicator of that size and rank exactly when tp > 1", _layout.tp,
                   _layout.tp_rank);
    _n_heads = static_cast<int32_t>(_layout.heads.size());
    _n_kv_heads = static_cast<int32_t>(_layout.kv_heads.size());
    _q = _layout.heads.size() * _config.head_dim;
    _kv = _layout.kv_heads.size() * _config.head_dim;
    _ffn = _layout.ffn.size();
    const int32_t n_devices = cuda::device_count();
    if (n_devices == 0) {
        throw error(status_code::unavailable, "--device cuda: no CUDA device is visible (check nvidia-smi and "
                                              "CUDA_VISIBLE_DEVICES), or use --device cpu");
    }
    if (_device < 0 || _device >= n_devices) {
        throw invalid_input(
            fmt::format("--gpu {}: this process sees {} CUDA device(s) [0, {})", _device, n_devices, n_devices));
    }
    if (options.gpu_memory_fraction <= 0 || options.gpu_memory_fraction > 1) {
        throw invalid_input(fmt::format("--gpu-memory-fraction {} must be in (0, 1]", options.gpu_memory_fraction));
    }
    if (_block_size != 8 && _block_size != 16 && _block_size != 32) {
        throw invalid_input(fmt::format("--block-size {}: the CUDA backend takes 8, 16 or 32", _block_size));
    }
    LLMFLEET_CUDA_CHECK(cudaSetDevice(_device));
    LLMFLEET_CUDA_CHECK(cudaFree(nullptr)); // creates the context, so that the free memory below excludes it
    LLMFLEET_CUDA_CHECK(cudaStreamCreateWithFlags(&_stream, cudaStreamNonBlocking));
    _gemm = std::make_unique<cuda::gemm_runner>();
    const scheduler_config& sched = options.engine.scheduling;
    _max_seqs = sched.max_num_seqs;
    _max_tokens = std::max(sched.max_num_batched_tokens, sched.max_num_seqs);
    _max_model_len = static_cast<int32_t>(options.engine.max_model_len > 0 ? options.engine.max_model_len
                                                                           : _config.max_position_embeddings);
    load_weights(options.model_dir);
    plan_memory(options);
    if (_layout.tp_rank == 0) {
        LLMFLEET_LOG_INFO("{}", describe());
    }
}

cuda_model_runner::~cuda_model_runner() {
    if (_stream != nullptr) {
        cudaStreamSynchronize(_stream);
    }
    for (auto& [bucket, exec] : _graphs) {
        cudaGraphExecDestroy(exec);
    }
    if (_stream != nullptr) {
        cudaStreamDestroy(_stream);
    }
}

void cuda_model_runner::load_weights(const std::string& model_dir) {
    const parallel::rank_layout& layout = _layout;
    const shard_weight_reader reader(model_dir, _config, layout);
    int64_t& n = _weight_bytes;
    _embed = upload_bf16(reader.embed(), n);
    for (int64_t i = layout.layers.begin; i < layout.layers.end; ++i) {
        const layer_weights w = reader.layer(i); // one layer in host memory at a time
        layer l;
        l.input_norm = upload_bf16(w.input_norm, n);
        l.w_qkv = upload_bf16(w.w_qkv, n);
        l.b_qkv = upload_bf16(w.b_qkv, n);
        l.wo = upload_bf16(w.wo, n);
        l.post_norm = upload_bf16(w.post_norm, n);
        l.w_gate_up = upload_bf16(w.w_gate_up, n);
        l.w_down = upload_bf16(w.w_down, n);
        _layers.push_back(std::move(l));
    }
    _norm = upload_bf16(reader.final_norm(), n);
    _lm_head = upload_bf16(reader.lm_head(), n);
    const std::vector<float> inv_freq = rope_inv_freq(_config);
    _inv_freq = dbuf<float>(static_cast<int64_t>(inv_freq.size()));
    _inv_freq.upload(inv_freq);
}

void cuda_model_runner::plan_memory(const cuda_engine_options& options) {
    const model::model_config& c = _config;
    const int64_t h = c.hidden_size, q = _q, kv = _kv, ffn = _ffn;
    const int64_t t = _max_tokens, s = _max_seqs, vocab = c.vocab_size;
    _max_blocks_per_seq = (_max_model_len + _block_size - 1) / _block_size;
    _graph_max_seq_len = std::min(_max_model_len, 8192);
    _residual = dbuf<float>(t * h);
    _normed = dbuf<bf16>(t * h);
    _qkv = dbuf<bf16>(t * (q + 2 * kv));
    _attn = dbuf<bf16>(t * q);
    _gate_up = dbuf<bf16>(t * 2 * ffn);
    _act = dbuf<bf16>(t * ffn);
    _final_normed = dbuf<bf16>(s * h);
    _logits = dbuf<float>(s * vocab);
    _decode_ws = dbuf<float>(
        cuda::decode_workspace_floats(_max_seqs, _n_heads, static_cast<int32_t>(c.head_dim), _max_model_len));
    _sample_ws = dbuf<std::byte>(cuda::sampling_workspace_bytes(_max_seqs, static_cast<int32_t>(vocab)));
    _sample_rows = dbuf<kernels::ref::sampling_row>(s);
    _tokens = dbuf<int32_t>(s);
    if (_layout.tp > 1) {
        _delta = dbuf<float>(t * h);
        _local_logits = dbuf<float>(s * _layout.vocab_shard);
        _gathered = dbuf<float>(_layout.tp * s * _layout.vocab_shard);
    }
    _meta_ints = 3 * t + (s + 1) + 2 * s + s * _max_blocks_per_seq;
    _meta_device = dbuf<int32_t>(_meta_ints);
    _meta_host = cuda::pinned_buffer<int32_t>(_meta_ints);
    _rows_host = cuda::pinned_buffer<kernels::ref::sampling_row>(s);
    _tokens_host = cuda::pinned_buffer<int32_t>(s);
    _activation_bytes = static_cast<int64_t>(
        _residual.bytes() + _normed.bytes() + _qkv.bytes() + _attn.bytes() + _gate_up.bytes() + _act.bytes() +
        _final_normed.bytes() + _logits.bytes() + _delta.bytes() + _local_logits.bytes() + _gathered.bytes() +
        _decode_ws.bytes() + _sample_ws.bytes() + _sample_rows.bytes() + _tokens.bytes() + _meta_device.bytes());

    size_t free_bytes = 0, total_bytes = 0;
    LLMFLEET_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const int64_t gemm_ws = _gemm->workspace_bytes();
    const int64_t fixed = _weight_bytes + _activation_bytes + gemm_ws + graph_reserve_bytes;
    const int64_t kv_bytes_per_slot = static_cast<int64_t>(_layers.size()) * 2 * kv * 2; // this rank's, bf16
    const int64_t kv_block_bytes = kv_bytes_per_slot * _block_size;
    const kv_memory_plan plan = plan_kv_memory(static_cast<int64_t>(total_bytes), static_cast<int64_t>(free_bytes),
                                               options.gpu_memory_fraction, fixed, graph_reserve_bytes, kv_block_bytes);
    const int64_t budget = plan.budget_bytes;
    _n_kv_blocks = plan.n_blocks;
    agree_on_kv_blocks();
    _memory_line = fmt::format(
        "GPU memory: {:.2f} GiB total, {:.2f} GiB free at start; budget {:.2f} × total = {:.2f} GiB = weights {:.2f} + "
        "activations {:.2f} (max {} tokens, {} logits rows) + cuBLASLt {:.2f} + graphs reserve {:.2f} + KV {:.2f} GiB "
        "({} blocks × {} tokens × {} B/token)",
        gib(static_cast<int64_t>(total_bytes)), gib(static_cast<int64_t>(free_bytes)), options.gpu_memory_fraction,
        gib(budget), gib(_weight_bytes), gib(_activation_bytes), t, s, gib(gemm_ws), gib(graph_reserve_bytes),
        gib(_n_kv_blocks * kv_block_bytes), _n_kv_blocks, _block_size, kv_bytes_per_slot);
    if (_n_kv_blocks < 1) {
        throw error(status_code::resource_exhausted,
                    fmt::format("{}: no room for a KV block of {} bytes; raise --gpu-memory-fraction, lower "
                                "--max-num-batched-tokens / --max-num-seqs, or free GPU memory",
                                _memory_line, kv_block_bytes));
    }
    const int64_t kv_elems = _n_kv_blocks * _block_size * kv;
    for (layer& l : _layers) {
        l.k_cache = dbuf<bf16>(kv_elems);
        l.v_cache = dbuf<bf16>(kv_elems);
    }
    const int64_t pool_tokens = _n_kv_blocks * _block_size;
    if (pool_tokens < _max_model_len) {
        _max_model_len = static_cast<int32_t>(pool_tokens); // what the engine's max_model_len will be capped to too
        _graph_max_seq_len = std::min(_graph_max_seq_len, _max_model_len);
    }
    _buckets = decode_graph_buckets(_max_seqs);
}

void cuda_model_runner::agree_on_kv_blocks() {
    if (_tp_comm == nullptr) {
        return;
    }
    std::vector<int64_t> blocks(static_cast<size_t>(_layout.tp));
    _tp_comm->all_gather(&_n_kv_blocks, blocks.data(), sizeof(int64_t));
    _n_kv_blocks = *std::min_element(blocks.begin(), blocks.end());
}

std::string cuda_model_runner::describe() const {
    const std::string tp = _layout.tp > 1 ? fmt::format("tp {} over {}, rank {}: ", _layout.tp,
                                                        to_string(_tp_comm->backend()), _layout.describe())
                                          : std::string();
    return fmt::format("backend cuda (bf16, cuBLASLt, paged attention, {}), {}device {}: {}; {}",
                       _use_graphs ? fmt::format("CUDA graphs for decode batches ≤ {} and contexts ≤ {}",
                                                 _buckets.empty() ? 0 : _buckets.back(), _graph_max_seq_len)
                                   : std::string("CUDA graphs off"),
                       tp, _device, cuda::describe_device(_device), _memory_line);
}

std::unique_ptr<engine> make_cuda_engine(const cuda_engine_options& options, const clock_source* clock) {
    return std::make_unique<engine>(options.engine, make_cuda_runner(options),
                                    load_optional_tokenizer(options.model_dir), clock);
}

} // namespace llmfleet::engine
