// See scheduler.h. The policy follows vLLM v1's unified scheduler: no separate prefill and decode phases,
// every sequence just asks for the tokens it has not computed yet.
#include "engine/scheduler.h"

#include <algorithm>

#include "common/check.h"

namespace llmfleet::engine {

std::string_view to_string(sequence_status status) {
    switch (status) {
    case sequence_status::waiting:
        return "waiting";
    case sequence_status::running:
        return "running";
    case sequence_status::finished:
        return "finished";
    }
    return "?";
}

scheduler::scheduler(scheduler_config config, block_manager& blocks, const clock_source& clock)
    : _config(config), _blocks(blocks), _clock(clock) {
    LLMFLEET_CHECK(config.max_num_batched_tokens > 0 && config.max_num_seqs > 0,
                   "max_num_batched_tokens {} and max_num_seqs {} must be positive", config.max_num_batched_tokens,
                   config.max_num_seqs);
    _running.reserve(config.max_num_seqs);
}

void scheduler::add(sequence* seq) {
    LLMFLEET_CHECK(seq->block_table.empty() && seq->n_tokens() > 0, "sequence {} must be new and non-empty", seq->id);
    seq->status = sequence_status::waiting;
    seq->arrival_s = _clock.now_s();
    _waiting.push_back(seq);
}

void scheduler::insert_running(sequence* seq) {
    seq->status = sequence_status::running;
    if (_running.empty() || _running.back()->arrival_s <= seq->arrival_s) {
        _running.push_back(seq); // the common case: admissions arrive in order
        return;
    }
    const auto at = std::upper_bound(_running.begin(), _running.end(), seq->arrival_s,
                                     [](double t, const sequence* s) { return t < s->arrival_s; });
    _running.insert(at, seq);
}

void scheduler::preempt(sequence* seq) {
    _blocks.release(*seq);
    seq->n_computed_tokens = 0;
    seq->n_cached_tokens = 0;
    seq->status = sequence_status::waiting;
    ++seq->n_preemptions;
    ++_n_preemptions;
    _waiting.push_front(seq);
    _output.preempted_ids.push_back(seq->id);
}

const scheduler_output& scheduler::schedule() {
    _output.scheduled.clear();
    _output.preempted_ids.clear();
    int32_t budget = _config.max_num_batched_tokens;

    // 1. Running sequences, oldest first: decodes (1 token) and unfinished prefill chunks.
    for (size_t i = 0; i < _running.size() && budget > 0; ++i) {
        sequence* seq = _running[i];
        const int32_t n_new = std::min(seq->n_uncomputed(), budget);
        LLMFLEET_CHECK(n_new > 0, "running sequence {} has nothing to compute", seq->id);
        bool self_preempted = false;
        while (!_blocks.can_grow(*seq, n_new)) {
            sequence* victim = _running.back();
            _running.pop_back();
            preempt(victim);
            if (victim == seq) {
                self_preempted = true;
                break;
            }
        }
        if (self_preempted) {
            break;
        }
        _blocks.grow(*seq, n_new);
        _output.scheduled.push_back({seq, n_new, seq->n_computed_tokens + n_new == seq->n_tokens()});
        budget -= n_new;
    }

    // 2. Waiting sequences in FCFS order; none after a preemption (the pool is full).
    const double now_s = _clock.now_s();
    while (_output.preempted_ids.empty() && !_waiting.empty() && budget > 0 &&
           static_cast<int32_t>(_running.size()) < _config.max_num_seqs) {
        sequence* seq = _waiting.front();
        const int32_t n_cached = _blocks.n_cached_prefix_tokens(*seq);
        int32_t n_new = seq->n_tokens() - n_cached;
        if (n_new > budget) {
            if (!_config.enable_chunked_prefill) {
                break;
            }
            n_new = budget;
        }
        if (!_blocks.can_admit(*seq, n_cached, n_new)) {
            break;
        }
        _waiting.pop_front();
        _blocks.admit(*seq, n_cached, n_new);
        if (seq->first_scheduled_s < 0) {
            seq->first_scheduled_s = now_s;
        }
        insert_running(seq);
        _output.scheduled.push_back({seq, n_new, seq->n_computed_tokens + n_new == seq->n_tokens()});
        budget -= n_new;
    }
    _output.n_tokens = _config.max_num_batched_tokens - budget;
    return _output;
}

void scheduler::on_step_done() {
    for (const scheduled_sequence& s : _output.scheduled) {
        const int32_t before = s.seq->n_computed_tokens;
        s.seq->n_computed_tokens += s.n_new_tokens;
        _blocks.on_computed(*s.seq, before);
    }
}

void scheduler::finish(sequence* seq) {
    LLMFLEET_CHECK(seq->status != sequence_status::finished, "sequence {} finished twice", seq->id);
    if (seq->status == sequence_status::running) {
        const auto it = std::find(_running.begin(), _running.end(), seq);
        LLMFLEET_CHECK(it != _running.end(), "running sequence {} is not in the running list", seq->id);
        _running.erase(it);
    } else {
        const auto it = std::find(_waiting.begin(), _waiting.end(), seq);
        LLMFLEET_CHECK(it != _waiting.end(), "waiting sequence {} is not in the queue", seq->id);
        _waiting.erase(it);
    }
    _blocks.release(*seq);
    seq->status = sequence_status::finished;
}

} // namespace llmfleet::engine
