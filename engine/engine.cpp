// See engine.h. One step: schedule → build the flat batch → forward → advance the computed counts →
// sample every sequence whose chunk reached its last token (in parallel; each sequence has its own RNG) →
// append, check stop conditions, free finished sequences.
#include "engine/engine.h"

#include <fmt/core.h>

#include <algorithm>
#include <optional>

#include "common/error.h"
#include "common/hash.h"
#include "common/log.h"
#include "model/stream_decoder.h"

namespace llmfleet::engine {

std::string_view to_string(finish_reason reason) {
    switch (reason) {
    case finish_reason::none:
        return "none";
    case finish_reason::stop:
        return "stop";
    case finish_reason::length:
        return "length";
    case finish_reason::abort:
        return "abort";
    }
    return "?";
}

// A request is its scheduler sequence plus sampling and text state, so the scheduler's sequence* leads
// straight back to it (no lookup per token).
struct engine::request : sequence {
    sequence_sampler sampler;
    request_options options;
    std::optional<model::stream_decoder> decoder; // with a tokenizer
    std::string text;                             // generated text so far (stop strings are searched here)
    size_t n_text_emitted = 0;                    // bytes of text already returned
    request(sequence s, const sampling_params& params, uint64_t unseeded_seed, request_options o)
        : sequence(std::move(s)), sampler(params, std::span(tokens).first(n_prompt_tokens), unseeded_seed), options(o) {
    }
};

namespace {

uint64_t mix_seed(uint64_t seed, int64_t id) {
    return mix64(seed ^ (static_cast<uint64_t>(id) * golden_gamma));
}

int32_t resolve_max_model_len(const engine_config& config, const model_runner& runner) {
    const int64_t pool_tokens = static_cast<int64_t>(runner.n_kv_blocks()) * runner.block_size();
    const int64_t model_max = runner.config().max_position_embeddings;
    if (config.max_model_len > 0) {
        if (config.max_model_len > model_max) {
            throw invalid_input(fmt::format("max_model_len {} exceeds the model's max_position_embeddings {}",
                                            config.max_model_len, model_max));
        }
        if (config.max_model_len > pool_tokens) {
            throw error(status_code::resource_exhausted,
                        fmt::format("max_model_len {} tokens does not fit the KV pool of {} tokens ({} blocks × {}); "
                                    "raise --kv-cache-gib or lower --max-model-len",
                                    config.max_model_len, pool_tokens, runner.n_kv_blocks(), runner.block_size()));
        }
        return config.max_model_len;
    }
    if (pool_tokens < model_max) {
        LLMFLEET_LOG_WARN("max_model_len capped to {} tokens (the KV pool) from max_position_embeddings {}; raise "
                          "--kv-cache-gib for longer contexts",
                          pool_tokens, model_max);
        return static_cast<int32_t>(pool_tokens);
    }
    return static_cast<int32_t>(model_max);
}

} // namespace

engine::engine(engine_config config, std::unique_ptr<model_runner> runner,
               std::shared_ptr<const model::tokenizer> tokenizer, const clock_source* clock)
    : _config(config), _runner(std::move(runner)), _tokenizer(std::move(tokenizer)),
      _clock(clock != nullptr ? *clock : _steady_clock),
      _blocks(_runner->n_kv_blocks(), _runner->block_size(), config.enable_prefix_caching),
      _scheduler(config.scheduling, _blocks, _clock),
      _pool(config.n_sampler_threads > 0 ? config.n_sampler_threads : default_thread_count()) {
    _max_model_len = resolve_max_model_len(config, *_runner);
    for (const int64_t id : _runner->config().eos_token_ids) {
        _eos_ids.push_back(static_cast<int32_t>(id));
    }
}

engine::~engine() = default;

int64_t engine::add_request(std::vector<int32_t> prompt, const sampling_params& params, request_options options) {
    const int64_t vocab = _runner->config().vocab_size;
    const auto n_prompt = static_cast<int64_t>(prompt.size());
    if (prompt.empty()) {
        throw invalid_input("the prompt is empty; give at least one token");
    }
    for (size_t i = 0; i < prompt.size(); ++i) {
        if (prompt[i] < 0 || prompt[i] >= vocab) {
            throw invalid_input(
                fmt::format("prompt token {} at index {} is outside the vocabulary [0, {})", prompt[i], i, vocab));
        }
    }
    if (n_prompt >= _max_model_len) {
        const bool pool_limits =
            _config.max_model_len <= 0 && _max_model_len < _runner->config().max_position_embeddings;
        const std::string limit =
            pool_limits
                ? fmt::format("max_model_len, limited by the KV pool of {} blocks × {} tokens: raise --kv-cache-gib, "
                              "or ",
                              _blocks.n_blocks(), _blocks.block_size())
                : "max_model_len: ";
        throw invalid_input(fmt::format("the prompt has {} tokens but the context is {} tokens ({}shorten the prompt "
                                        "to at most {} tokens so that one can be generated)",
                                        n_prompt, _max_model_len, limit, _max_model_len - 1));
    }
    if (!_config.scheduling.enable_chunked_prefill && n_prompt > _config.scheduling.max_num_batched_tokens) {
        throw invalid_input(fmt::format("the prompt has {} tokens, more than max_num_batched_tokens {} with chunked "
                                        "prefill off; enable chunked prefill or raise the budget",
                                        n_prompt, _config.scheduling.max_num_batched_tokens));
    }
    params.validate(vocab);
    if (!params.stop.empty() && _tokenizer == nullptr) {
        throw invalid_input("stop strings need a tokenizer and this model directory has no tokenizer.json; use "
                            "stop_token_ids");
    }
    // max_model_len never exceeds the pool, so one sequence always fits; more may need preemption.
    LLMFLEET_CHECK(_blocks.blocks_for(_max_model_len) <= _blocks.n_blocks(), "max_model_len {} exceeds the KV pool",
                   _max_model_len);
    const int64_t id = _next_id++;
    sequence seq;
    seq.id = id;
    seq.n_prompt_tokens = static_cast<int32_t>(n_prompt);
    seq.tokens = std::move(prompt);
    auto req = std::make_unique<request>(std::move(seq), params, mix_seed(_config.seed, id), options);
    if (_tokenizer != nullptr) {
        req->decoder.emplace(*_tokenizer, /*skip_special_tokens=*/true);
    }
    _scheduler.add(req.get());
    _requests.emplace(id, std::move(req));
    return id;
}

void engine::build_batch(const scheduler_output& plan) {
    forward_batch& b = _batch;
    b.clear();
    const int32_t bs = _blocks.block_size();
    for (size_t i = 0; i < plan.scheduled.size(); ++i) {
        const sequence& seq = *plan.scheduled[i].seq;
        const int32_t begin = seq.n_computed_tokens, end = begin + plan.scheduled[i].n_new_tokens;
        for (int32_t j = begin; j < end; ++j) {
            b.token_ids.push_back(seq.tokens[j]);
            b.positions.push_back(j);
            b.slot_mapping.push_back(seq.block_table[j / bs] * bs + j % bs);
            b.token_seq.push_back(static_cast<int32_t>(i));
        }
        b.block_tables.emplace_back(seq.block_table);
        if (plan.scheduled[i].samples) {
            b.logits_indices.push_back(b.n_tokens() - 1);
        }
        b.seq_token_starts.push_back(b.n_tokens());
    }
}

const std::vector<request_output>& engine::step() {
    const scheduler_output& plan = _scheduler.schedule();
    if (plan.empty()) {
        _outputs.clear();
        return _outputs;
    }
    build_batch(plan);
    const int64_t vocab = _runner->config().vocab_size;
    _logits.resize(_batch.logits_indices.size() * static_cast<size_t>(vocab));
    if (_runner->samples_on_device()) {
        forward_device_sampled(plan);
    } else {
        _device_rows.clear();
        _runner->forward(_batch, _logits);
    }
    _scheduler.on_step_done();
    ++_stats.n_steps;
    _stats.n_prefill_tokens += _batch.n_tokens() - static_cast<int64_t>(_batch.logits_indices.size());
    sample_all(plan);
    return _outputs;
}

void engine::forward_device_sampled(const scheduler_output& plan) {
    _device_rows.clear();
    for (const scheduled_sequence& s : plan.scheduled) {
        if (s.samples) {
            const auto& req = *static_cast<const request*>(s.seq);
            _device_rows.push_back(req.options.return_logits ? std::nullopt : req.sampler.device_row(_eos_ids));
        }
    }
    _device_tokens.resize(_device_rows.size());
    _runner->forward_sample(_batch, _device_rows, _device_tokens, _logits);
}

void engine::sample_all(const scheduler_output& plan) {
    const int64_t vocab = _runner->config().vocab_size;
    _sampling.clear();
    for (const scheduled_sequence& s : plan.scheduled) {
        if (s.samples) {
            _sampling.push_back(static_cast<request*>(s.seq));
        }
    }
    const auto n = static_cast<int64_t>(_sampling.size());
    _samples.resize(_sampling.size());
    _sample_errors.resize(_sampling.size());
    auto sample_range = [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            _sample_errors[i].clear();
            try {
                if (!_device_rows.empty() && _device_rows[i].has_value()) { // sampled on the device
                    if (_device_tokens[i] < 0) {
                        throw error(status_code::internal, "the device sampler found NaN or +inf logits, or every "
                                                           "logit −inf, in this request's row");
                    }
                    _samples[i].token = _device_tokens[i];
                    _samples[i].top.clear();
                    _sampling[i]->sampler.accept(_device_tokens[i]);
                    continue;
                }
                _samples[i] = _sampling[i]->sampler.sample(std::span(_logits).subspan(i * vocab, vocab), _eos_ids);
            } catch (const error& e) {
                _sample_errors[i] = e.what(); // this request fails; the others go on
            }
        }
    };
    if (n * vocab >= (1 << 16)) { // threads only pay off past ~64k logits
        _pool.parallel_for(n, 1, sample_range);
    } else {
        sample_range(0, n);
    }
    _stats.n_decode_tokens += n;
    // Outputs are reused between steps: their vectors keep their capacity, so a steady decode step allocates
    // nothing here.
    _outputs.resize(_sampling.size());
    for (int64_t i = 0; i < n; ++i) {
        request& req = *_sampling[i];
        if (!_sample_errors[i].empty()) {
            fail_request(req, _sample_errors[i], _outputs[i]);
            continue;
        }
        const sampling_params& p = req.sampler.params();
        const int32_t token = _samples[i].token;
        req.tokens.push_back(token);
        request_output& out = _outputs[i];
        out.request_id = req.id;
        out.new_token_ids.assign(1, token);
        out.new_samples.resize(1);
        std::swap(out.new_samples[0], _samples[i]);
        out.new_logits.clear();
        if (req.options.return_logits) {
            const float* row = _logits.data() + i * vocab;
            out.new_logits.assign(row, row + vocab);
        }
        out.new_text.clear();
        out.finished = false;
        out.reason = finish_reason::none;
        out.stop_token_id = -1;
        out.stop_string.clear();
        out.error.clear();
        out.n_prompt_tokens = req.n_prompt_tokens;
        out.n_cached_tokens = req.n_cached_tokens;
        out.n_generated = req.n_generated();
        const bool is_stop_token = std::ranges::find(p.stop_token_ids, token) != p.stop_token_ids.end();
        const bool is_eos = !p.ignore_eos && std::ranges::find(_eos_ids, token) != _eos_ids.end();
        if (is_stop_token || is_eos) {
            out.reason = finish_reason::stop;
            out.stop_token_id = token;
        } else if (req.n_generated() >= p.max_tokens || req.n_tokens() >= _max_model_len) {
            out.reason = finish_reason::length;
        }
        if (req.decoder) {
            detokenize(req, token, out);
        }
        if (out.reason != finish_reason::none) {
            out.finished = true;
            _scheduler.finish(&req);
            _requests.erase(req.id); // destroys req
        }
    }
}

void engine::fail_request(request& req, const std::string& why, request_output& out) {
    LLMFLEET_LOG_WARN("request {} failed: {}", req.id, why);
    out = request_output{};
    out.request_id = req.id;
    out.finished = true;
    out.reason = finish_reason::abort;
    out.error = why;
    out.n_prompt_tokens = req.n_prompt_tokens;
    out.n_cached_tokens = req.n_cached_tokens;
    out.n_generated = req.n_generated();
    _scheduler.finish(&req);
    _requests.erase(req.id); // destroys req
}

void engine::detokenize(request& req, int32_t token, request_output& out) {
    const sampling_params& p = req.sampler.params();
    const size_t searched = req.text.size();
    req.text += req.decoder->push(token);
    if (out.reason != finish_reason::stop && !p.stop.empty()) {
        // Only a match that ends in the new text is new; the earliest match wins.
        size_t best_at = std::string::npos;
        const std::string* best = nullptr;
        for (const std::string& stop : p.stop) {
            const size_t from = searched >= stop.size() ? searched - stop.size() + 1 : 0;
            const size_t at = req.text.find(stop, from);
            if (at < best_at) {
                best_at = at;
                best = &stop;
            }
        }
        if (best != nullptr) {
            req.text.resize(best_at + (p.include_stop_str_in_output ? best->size() : 0));
            out.reason = finish_reason::stop;
            out.stop_string = *best;
        }
    }
    size_t emit_end = req.text.size();
    if (out.reason == finish_reason::none) {
        // Hold back a tail that could be the start of a stop string.
        for (const std::string& stop : p.stop) {
            for (size_t n = std::min(stop.size() - 1, req.text.size()); n > 0; --n) {
                if (req.text.compare(req.text.size() - n, n, stop, 0, n) == 0) {
                    emit_end = std::min(emit_end, req.text.size() - n);
                    break;
                }
            }
        }
    } else if (out.stop_string.empty()) {
        req.text += req.decoder->flush(); // the last bytes of an unfinished character, made valid
        emit_end = req.text.size();
    }
    if (emit_end > req.n_text_emitted) {
        out.new_text = req.text.substr(req.n_text_emitted, emit_end - req.n_text_emitted);
        req.n_text_emitted = emit_end;
    }
}

bool engine::abort(int64_t request_id) {
    const auto it = _requests.find(request_id);
    if (it == _requests.end()) {
        return false;
    }
    _scheduler.finish(it->second.get());
    _requests.erase(it);
    return true;
}

engine_stats engine::stats() const {
    engine_stats s = _stats;
    s.n_preemptions = _scheduler.n_preemptions();
    s.prefix_cache = _blocks.stats();
    s.n_running = _scheduler.n_running();
    s.n_waiting = _scheduler.n_waiting();
    s.kv_blocks_free = _blocks.n_free_blocks();
    s.kv_blocks_total = _blocks.n_blocks();
    return s;
}

} // namespace llmfleet::engine
