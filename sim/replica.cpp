// See replica.h. The per-step work is one pass over the scheduler's output to build the shape, and one pass at the
// step's end to append tokens: both O(batch), no allocation once the sequences' vectors have grown.
#include "sim/replica.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/core.h>

#include "common/check.h"
#include "common/error.h"

namespace llmfleet::sim {

int32_t replica_kv_blocks(const perf::replica_model& model, int32_t block_size, std::string_view pool) {
    LLMFLEET_CHECK(block_size > 0, "block_size {} must be positive", block_size);
    const int64_t tokens = model.kv_cache_tokens();
    const int64_t blocks = tokens / block_size;
    if (blocks < 1) {
        throw invalid_input(fmt::format("pool `{}`: the replica model ({}) leaves {} KV token slots, fewer than one "
                                        "block of {}: the weights do not fit; hint: a GPU with more memory, or a "
                                        "deployment with more tensor/pipeline parallelism",
                                        pool, model.describe(), tokens, block_size));
    }
    return static_cast<int32_t>(std::min<int64_t>(blocks, std::numeric_limits<int32_t>::max() / block_size));
}

replica::replica(const perf::replica_model& model, int32_t n_kv_blocks, const replica_config& config,
                 const clock_source& clock)
    : _model(model), _clock(clock), _blocks(n_kv_blocks, config.block_size, config.enable_prefix_caching),
      _scheduler(config.scheduling, _blocks, clock) {
    const int32_t pool_tokens = n_kv_blocks * config.block_size;
    _max_model_len = config.max_model_len > 0 ? std::min(config.max_model_len, pool_tokens) : pool_tokens;
}

void replica::add(sim_request* r) {
    LLMFLEET_CHECK(r->n_prompt_tokens + r->n_output_tokens <= _max_model_len,
                   "request {}: {} prompt + {} output tokens exceed max_model_len {}", r->index, r->n_prompt_tokens,
                   r->n_output_tokens, _max_model_len);
    _scheduler.add(r);
    ++_stats.n_requests;
}

double replica::begin_step() {
    LLMFLEET_CHECK(_step == nullptr, "begin_step while a step is in flight");
    const engine::scheduler_output& out = _scheduler.schedule();
    if (out.empty()) {
        // With prompt + output ≤ max_model_len ≤ the pool, the scheduler always finds work while it has some.
        LLMFLEET_CHECK(!_scheduler.has_unfinished(),
                       "the scheduler planned an empty step with {} running and {} "
                       "waiting sequences",
                       _scheduler.n_running(), _scheduler.n_waiting());
        return 0;
    }
    perf::iteration_shape shape;
    for (const engine::scheduled_sequence& s : out.scheduled) {
        const int32_t before = s.seq->n_computed_tokens;
        if (s.n_new_tokens > 1 || !s.samples) {
            const double chunk = s.n_new_tokens;
            ++shape.n_prefill_seqs;
            shape.n_prefill_tokens += s.n_new_tokens;
            shape.prefill_attention_pairs += chunk * (before + (chunk + 1) / 2);
        } else {
            ++shape.n_decode_seqs;
            shape.decode_context_tokens += before + 1; // the new token attends to itself and everything before
        }
    }
    const double ms = _model.iteration_ms(shape);
    LLMFLEET_CHECK(ms > 0 && std::isfinite(ms),
                   "replica model {} gave a step of {} ms for {} prefill tokens and {} "
                   "decodes",
                   _model.describe(), ms, shape.n_prefill_tokens, shape.n_decode_seqs);
    _step = &out;
    const double s = ms / 1000;
    ++_stats.n_steps;
    _stats.busy_s += s;
    _stats.n_scheduled_seqs += static_cast<int64_t>(out.scheduled.size());
    _stats.n_prefill_tokens += shape.n_prefill_tokens;
    _stats.n_decode_tokens += shape.n_decode_seqs;
    return s;
}

void replica::end_step(std::vector<sim_request*>& finished) {
    LLMFLEET_CHECK(_step != nullptr, "end_step without a step in flight");
    _scheduler.on_step_done();
    const double now_s = _clock.now_s();
    for (const engine::scheduled_sequence& s : _step->scheduled) {
        if (!s.samples) {
            continue;
        }
        auto* r = static_cast<sim_request*>(s.seq);
        if (r->first_token_s < 0) {
            r->first_token_s = now_s;
        }
        r->tokens.push_back(r->tokens.front()); // any id: only the count matters without prefix caching
        ++_stats.n_sampled_tokens;
        if (r->n_generated() >= r->n_output_tokens) {
            _scheduler.finish(r);
            ++_stats.n_finished;
            finished.push_back(r);
        }
    }
    _step = nullptr;
}

} // namespace llmfleet::sim
