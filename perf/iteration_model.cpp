// Iteration-time model; equations and the meaning of each term in docs/perfmodel.md ("Iteration model").
#include "perf/iteration_model.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "common/check.h"
#include "common/error.h"

namespace llmfleet::perf {

namespace {

constexpr double activation_bytes = 2.0; // bf16 activations
constexpr double logits_bytes = 4.0;     // fp32 logits

int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

} // namespace

std::string deployment_problem(const planner::model_arch& m, const deployment& d) {
    if (d.tp < 1 || d.pp < 1 || d.engines_per_gpu < 1) {
        return fmt::format("tp {}, pp {}, engines_per_gpu {}: each must be ≥ 1", d.tp, d.pp, d.engines_per_gpu);
    }
    if (m.n_heads % d.tp != 0) {
        return fmt::format("{} attention heads do not divide by tp {}", m.n_heads, d.tp);
    }
    if (m.n_kv_heads % d.tp != 0 && d.tp % m.n_kv_heads != 0) {
        return fmt::format("{} KV heads neither divide by tp {} nor divide it (for replication)", m.n_kv_heads, d.tp);
    }
    if (m.n_layers < d.pp) {
        return fmt::format("{} layers are fewer than pp {} stages", m.n_layers, d.pp);
    }
    if (d.engines_per_gpu > 1 && (d.tp > 1 || d.pp > 1)) {
        return fmt::format("{} engines per GPU need tp = pp = 1 (got tp {}, pp {})", d.engines_per_gpu, d.tp, d.pp);
    }
    return "";
}

iteration_shape split_shape(const iteration_shape& s, int32_t parts) {
    LLMFLEET_CHECK(parts >= 1, "parts {}", parts);
    if (parts == 1) {
        return s;
    }
    iteration_shape out;
    out.n_prefill_seqs = ceil_div(s.n_prefill_seqs, parts);
    out.n_prefill_tokens = ceil_div(s.n_prefill_tokens, parts);
    out.prefill_attention_pairs = s.prefill_attention_pairs / parts;
    out.n_decode_seqs = ceil_div(s.n_decode_seqs, parts);
    out.decode_context_tokens = ceil_div(s.decode_context_tokens, parts);
    return out;
}

iteration_model::iteration_model(planner::model_arch model, planner::gpu_spec gpu, deployment d, perf_params params,
                                 engine_limits limits)
    : _model(std::move(model)), _gpu(std::move(gpu)), _deployment(std::move(d)), _params(std::move(params)),
      _limits(limits) {
    const std::string problem = deployment_problem(_model, _deployment);
    if (!problem.empty()) {
        throw invalid_input(fmt::format("deployment {} of {}: {}; choose a tp that divides the head counts, "
                                        "pp ≤ layers, and engines_per_gpu > 1 only with tp = pp = 1",
                                        _deployment.label(), _model.name, problem));
    }
    const planner::model_arch& m = _model;
    const int64_t tp = _deployment.tp;
    const int32_t pp = _deployment.pp;
    _kv_heads_per_gpu = ceil_div(m.n_kv_heads, tp);
    _layer_ops = decoder_layer_ops(m, _deployment.tp, _params.kv_bytes_per_element);
    const double heads_per_gpu = static_cast<double>(m.n_heads / tp);
    const double h = static_cast<double>(m.hidden_size);
    const double hd = static_cast<double>(m.head_dim);
    const double inter = static_cast<double>(m.intermediate_size) / tp;
    const double kvh = static_cast<double>(_kv_heads_per_gpu);
    // One layer's parameters on one GPU: column-parallel QKV and gate/up, row-parallel O and down, norms
    // replicated, KV projections replicated when tp > n_kv_heads.
    const double layer_params = h * heads_per_gpu * hd + 2.0 * h * kvh * hd + heads_per_gpu * hd * h + 3.0 * h * inter +
                                (m.attention_bias ? (heads_per_gpu + 2.0 * kvh) * hd : 0.0) + 2.0 * h;
    const double vocab_shard = static_cast<double>(m.vocab_size) / tp;
    // Layers split as evenly as possible; the first stages take the remainder.
    for (int32_t i = 0; i < pp; ++i) {
        stage_layout s;
        s.n_layers = m.n_layers / pp + (i < m.n_layers % pp ? 1 : 0);
        s.has_embedding = i == 0;
        s.has_lm_head = i == pp - 1;
        double n_params = static_cast<double>(s.n_layers) * layer_params;
        if (s.has_embedding) {
            n_params += vocab_shard * h;
        }
        if (s.has_lm_head && !(m.tie_word_embeddings && pp == 1)) {
            n_params += vocab_shard * h; // a tied LM head on another stage holds its own copy
        }
        if (s.has_lm_head) {
            n_params += h; // final norm
        }
        s.weight_bytes = n_params * _params.weight_bytes_per_param;
        s.kv_bytes_per_token = 2.0 * static_cast<double>(s.n_layers) * kvh * hd * _params.kv_bytes_per_element;
        _stages.push_back(s);
    }
    // Activation peak of the largest step (vLLM profiles it before sizing the KV cache): the hidden state,
    // residual and QKV/MLP intermediates of max_batched_tokens, plus fp32 logits of max_num_seqs sequences.
    const double per_token = 4.0 * h + (heads_per_gpu + 2.0 * kvh) * hd + 3.0 * inter;
    _activation_reserve_bytes = static_cast<double>(_limits.max_batched_tokens) * per_token * activation_bytes +
                                static_cast<double>(_limits.max_num_seqs) * vocab_shard * logits_bytes;
}

step_breakdown iteration_model::stage_gpu(const stage_layout& stage, const iteration_shape& s) const {
    const planner::model_arch& m = _model;
    const perf_params& p = _params;
    const int32_t tp = _deployment.tp;
    const double tokens = static_cast<double>(s.n_tokens());
    step_breakdown b;
    if (tokens <= 0) {
        return b;
    }
    const double h = static_cast<double>(m.hidden_size);
    const double hd = static_cast<double>(m.head_dim);
    const double heads = static_cast<double>(m.n_heads / tp);
    const double kvh = static_cast<double>(_kv_heads_per_gpu);
    const double layers = static_cast<double>(stage.n_layers);
    using ek = elementwise_kind;

    // GEMMs and element-wise operators of one layer (op_costs.h: the shapes the calibration matched).
    double layer_gemm = 0;
    double layer_elementwise = 0;
    for (const layer_op& op : _layer_ops) {
        (op.is_gemm ? layer_gemm : layer_elementwise) += layer_op_ms(p, _gpu, op, tokens);
    }
    // Attention: prefill FLOPs (QKᵀ and PV, 2 FLOPs per multiply-add each) over the causal pairs; decode reads
    // the K and V of every context token of this GPU's KV heads.
    const double prefill_flops = 4.0 * s.prefill_attention_pairs * heads * hd;
    const double decode_kv_bytes =
        static_cast<double>(s.decode_context_tokens) * 2.0 * kvh * hd * p.kv_bytes_per_element;
    const double layer_attention =
        attention_prefill_ms(p, _gpu, prefill_flops) + attention_decode_ms(p, _gpu, decode_kv_bytes);
    // TP: after O and after down, an all-reduce of the hidden state.
    const double layer_allreduce = 2.0 * allreduce_ms(p, tp, tokens * h * activation_bytes);

    b.gemm_ms = layers * layer_gemm;
    b.attention_ms = layers * layer_attention;
    b.elementwise_ms = layers * layer_elementwise;
    b.allreduce_ms = layers * layer_allreduce;
    if (stage.has_embedding) {
        b.elementwise_ms += elementwise_ms(p, _gpu, ek::norm, tokens, 2.0 * h * activation_bytes);
    }
    if (stage.has_lm_head) {
        // Logits only for the sequences that sample: every decode, and each prefill chunk (an upper bound:
        // only a prompt's last chunk samples).
        const double n_logits = static_cast<double>(s.n_decode_seqs + s.n_prefill_seqs);
        const double vocab_shard = static_cast<double>(m.vocab_size) / tp;
        b.elementwise_ms += elementwise_ms(p, _gpu, ek::norm, tokens, 2.0 * h * activation_bytes);
        b.gemm_ms += gemm_ms(p, _gpu, n_logits, h, vocab_shard);
        // Vocab-parallel logits gathered on one rank: a ring all-gather moves half an all-reduce's bytes.
        b.allreduce_ms += 0.5 * allreduce_ms(p, tp, n_logits * static_cast<double>(m.vocab_size) * activation_bytes);
    }
    b.total_ms = b.gemm_ms + b.attention_ms + b.elementwise_ms + b.allreduce_ms;
    return b;
}

step_breakdown iteration_model::breakdown(const iteration_shape& shape) const {
    step_breakdown out;
    if (shape.n_tokens() <= 0) {
        return out;
    }
    const int32_t pp = _deployment.pp;
    const int32_t n_engines = _deployment.engines_per_gpu;
    const double overhead_ms = _params.iteration_overhead_ms;
    if (pp == 1) {
        out = stage_gpu(_stages[0], shape);
        const double gpu_ms = out.total_ms;
        if (n_engines == 1) {
            out.overhead_ms = overhead_ms;
            out.total_ms = overhead_ms + gpu_ms;
            return out;
        }
        // MPS hypothesis (uncalibrated): N symmetric engines; the GPU does N engines' work per period,
        // stretched by contention; one engine's CPU overhead overlaps the others' GPU work.
        const double shared_ms = n_engines * _params.mps_contention_factor * gpu_ms;
        out.total_ms = std::max(overhead_ms + gpu_ms, shared_ms);
        out.overhead_ms = out.total_ms - shared_ms > 0 ? overhead_ms : 0.0;
        return out;
    }
    // Pipeline: pp micro-batches in flight; see iteration_ms() in the header.
    const iteration_shape micro = split_shape(shape, pp);
    const double act_bytes = static_cast<double>(micro.n_tokens()) * static_cast<double>(_model.hidden_size) * 2.0;
    const double hop_ms = p2p_ms(_params, act_bytes);
    double sum_ms = 0;
    step_breakdown slowest;
    for (const stage_layout& st : _stages) {
        const step_breakdown b = stage_gpu(st, micro);
        sum_ms += b.total_ms;
        if (b.total_ms > slowest.total_ms) {
            slowest = b;
        }
    }
    const double latency_ms = overhead_ms + sum_ms + pp * hop_ms; // the last hop returns sampled tokens
    const double throughput_bound_ms = pp * (slowest.total_ms + hop_ms);
    out = slowest;
    out.p2p_ms = hop_ms;
    out.overhead_ms = overhead_ms;
    out.total_ms = std::max(latency_ms, throughput_bound_ms);
    return out;
}

double iteration_model::iteration_ms(const iteration_shape& shape) const {
    return breakdown(shape).total_ms;
}

double iteration_model::step_latency_ms(const iteration_shape& shape) const {
    if (shape.n_tokens() <= 0) {
        return 0.0;
    }
    double ms = _params.iteration_overhead_ms;
    for (const stage_layout& st : _stages) {
        ms += stage_gpu(st, shape).total_ms;
    }
    const double act_bytes = static_cast<double>(shape.n_tokens()) * static_cast<double>(_model.hidden_size) * 2.0;
    return ms + (_deployment.pp - 1) * p2p_ms(_params, act_bytes);
}

int64_t iteration_model::kv_cache_tokens() const {
    // Per GPU: memory × (1 − reserve) − N engines × (weights + activation reserve), shared by the N engines;
    // the replica holds as many tokens as its most constrained stage.
    const double usable_bytes = _gpu.memory_gib * 1073741824.0 * (1.0 - _params.memory_reserve_fraction);
    const double n_engines = static_cast<double>(_deployment.engines_per_gpu);
    int64_t tokens = -1;
    for (const stage_layout& st : _stages) {
        const double free_bytes = usable_bytes - n_engines * (st.weight_bytes + _activation_reserve_bytes);
        const int64_t t =
            free_bytes <= 0 ? 0 : static_cast<int64_t>(std::floor(free_bytes / n_engines / st.kv_bytes_per_token));
        tokens = tokens < 0 ? t : std::min(tokens, t);
    }
    return std::max<int64_t>(tokens, 0);
}

std::string iteration_model::describe() const {
    std::string out = fmt::format("roofline {} {} ({})", _model.name, _deployment.label(),
                                  _params.calibrated ? "calibrated 2026-11-21: " + _params.source
                                                     : "uncalibrated: " + _params.source);
    if (_deployment.engines_per_gpu > 1) {
        out += fmt::format("; {} engines per GPU under MPS: uncalibrated hypothesis (contention ×{})",
                           _deployment.engines_per_gpu, _params.mps_contention_factor);
    }
    if (_deployment.pp > 1) {
        out += "; pipeline send/recv costs uncalibrated";
    }
    return out;
}

} // namespace llmfleet::perf
