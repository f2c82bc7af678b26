// Replica capacity under an SLO (replica_capacity.h); the analysis is written out in docs/perfmodel.md.
#include "perf/replica_capacity.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace llmfleet::perf {

namespace {

int64_t ceil_count(double x) {
    return static_cast<int64_t>(std::ceil(x - 1e-9));
}

// One steady-state step with a mean of `batch` decoding sequences (fractional: a time average) and the amortised
// prefill of the requests arriving meanwhile. Counts are rounded UP, so the step never gets cheaper when the
// batch, the input or the output grows: this keeps the capacity monotone (docs/perfmodel.md, "Capacity").
iteration_shape steady_step(double batch, double input_tokens, double output_tokens) {
    iteration_shape s;
    s.n_decode_seqs = ceil_count(batch);
    s.decode_context_tokens = ceil_count(batch * (input_tokens + 0.5 * output_tokens));
    // λ × T = batch / O requests start per step, each bringing its prompt.
    const double starts_per_step = batch / output_tokens;
    s.n_prefill_tokens = ceil_count(starts_per_step * input_tokens);
    s.n_prefill_seqs = s.n_prefill_tokens > 0 ? ceil_count(starts_per_step) : 0;
    s.prefill_attention_pairs = starts_per_step * input_tokens * (input_tokens + 1.0) / 2.0;
    return s;
}

// Time to first token of a request arriving into a replica running `batch` decodes: half a step of waiting for
// the next step boundary, then its prompt in chunks of (max_batched_tokens − batch) tokens, one per step.
double ttft_estimate_ms(const replica_model& m, double batch, double input_tokens, double output_tokens, double step_ms,
                        const capacity_options& o) {
    const auto decodes = static_cast<double>(ceil_count(batch));
    const double chunk_budget = std::max(1.0, static_cast<double>(o.max_batched_tokens) - decodes);
    double ms = 0.5 * step_ms;
    double done = 0;
    while (done < input_tokens) {
        const double chunk = std::min(chunk_budget, input_tokens - done);
        iteration_shape s;
        s.n_decode_seqs = ceil_count(batch);
        s.decode_context_tokens = ceil_count(batch * (input_tokens + 0.5 * output_tokens));
        s.n_prefill_seqs = 1;
        s.n_prefill_tokens = ceil_count(chunk);
        s.prefill_attention_pairs = chunk * (done + (chunk + 1.0) / 2.0);
        ms += m.iteration_ms(s);
        done += chunk;
    }
    return std::max(ms, step_ms);
}

// The step at a mean batch and which SLO or limit it breaks ("" when it meets them all).
struct batch_eval {
    double step_ms = 0;
    double ttft_ms = 0;
    std::string violation;
};

batch_eval evaluate(const replica_model& m, double batch, double input_tokens, double output_tokens,
                    const planner::slo& target, const capacity_options& o) {
    batch_eval e;
    const iteration_shape step = steady_step(batch, input_tokens, output_tokens);
    if (step.n_tokens() > o.max_batched_tokens) {
        e.violation = "token budget";
        return e;
    }
    e.step_ms = m.iteration_ms(step);
    if (e.step_ms > target.tpot_ms) {
        e.violation = "tpot";
        return e;
    }
    e.ttft_ms = ttft_estimate_ms(m, batch, input_tokens, output_tokens, e.step_ms, o);
    if (target.ttft_ms && e.ttft_ms > *target.ttft_ms) {
        e.violation = "ttft";
    }
    return e;
}

} // namespace

capacity_point replica_capacity(const replica_model& m, double input_tokens, double output_tokens,
                                const planner::slo& target, const capacity_options& o) {
    LLMFLEET_CHECK(input_tokens >= 0 && output_tokens >= 1, "shape ({}, {})", input_tokens, output_tokens);
    capacity_point best;
    const auto kv_tokens = static_cast<double>(m.kv_cache_tokens());
    if (kv_tokens <= 0) {
        best.limit = "weights do not fit";
        return best;
    }
    if (input_tokens + output_tokens > kv_tokens) {
        best.limit = "one request does not fit";
        return best;
    }
    // Mean KV occupancy of a decoding sequence: its prompt, half its output, half a block of padding.
    const double occupancy = input_tokens + 0.5 * output_tokens + 0.5 * static_cast<double>(o.kv_block_tokens);
    best.batch_memory_limit = static_cast<int64_t>(std::floor(kv_tokens / occupancy));
    const double batch_max = std::min(kv_tokens / occupancy, static_cast<double>(o.max_num_seqs));
    // Every constraint only tightens as the mean batch grows (the step, the TTFT and the token count grow with
    // it), so the largest feasible batch is found by bisection; the rate B / (O × T) grows with B.
    constexpr double batch_min = 0.01;
    batch_eval at = evaluate(m, batch_max, input_tokens, output_tokens, target, o);
    double lo = batch_max;
    if (!at.violation.empty()) {
        best.limit = at.violation;
        const batch_eval low = evaluate(m, batch_min, input_tokens, output_tokens, target, o);
        if (!low.violation.empty()) {
            best.limit = low.violation;
            return best;
        }
        lo = batch_min;
        double hi = batch_max;
        while (hi - lo > 1e-4 * hi) {
            const double mid = 0.5 * (lo + hi);
            (evaluate(m, mid, input_tokens, output_tokens, target, o).violation.empty() ? lo : hi) = mid;
        }
        at = evaluate(m, lo, input_tokens, output_tokens, target, o);
    } else {
        best.limit = batch_max == static_cast<double>(o.max_num_seqs) ? "max_num_seqs" : "memory";
    }
    best.batch = lo;
    best.iteration_ms = at.step_ms;
    best.ttft_ms = at.ttft_ms;
    best.max_rps = lo / (output_tokens * at.step_ms * 1e-3);
    return best;
}

planner::matrix deployment_profile(const planner::model_arch& model, const planner::gpu_spec& gpu, const deployment& d,
                                   const planner::bucket_grid& grid, const planner::slo& target,
                                   const capacity_options& options) {
    return deployment_profile(*make_replica_model(model, gpu, d), d, grid, target, options);
}

planner::matrix deployment_profile(const replica_model& replica, const deployment& d, const planner::bucket_grid& grid,
                                   const planner::slo& target, const capacity_options& options) {
    LLMFLEET_CHECK(grid.has_edges(), "deployment_profile needs bucket edges");
    planner::matrix rates(grid.n_input, grid.n_output);
    for (int64_t i = 0; i < grid.n_input; ++i) {
        for (int64_t j = 0; j < grid.n_output; ++j) {
            const double in = grid.input.representative_tokens(i);
            const double out = std::max(1.0, grid.output.representative_tokens(j));
            rates.at(i, j) = d.replicas_per_unit() * replica_capacity(replica, in, out, target, options).max_rps;
        }
    }
    return rates;
}

} // namespace llmfleet::perf
