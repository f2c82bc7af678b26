// See simulator.h. The event queue is a binary min-heap of replica events (at most one per replica: its next
// step_start or step_end) merged with the arrival vector, which is already sorted: an arrival never enters the heap.
#include "sim/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>

#include <fmt/core.h>

#include "common/check.h"
#include "common/clock.h"
#include "common/error.h"

namespace llmfleet::sim {

std::string_view to_string(event_kind kind) {
    switch (kind) {
    case event_kind::step_end:
        return "step_end";
    case event_kind::arrival:
        return "arrival";
    case event_kind::step_start:
        return "step_start";
    }
    return "?";
}

namespace {

// The simulated time every replica's scheduler reads. not thread-safe.
class sim_clock final : public clock_source {
public:
    double now_s() const override { return _now_s; }
    void advance_to(double t_s) {
        LLMFLEET_CHECK(t_s >= _now_s, "the simulated clock would go backwards: {} s → {} s", _now_s, t_s);
        _now_s = t_s;
    }

private:
    double _now_s = 0;
};

struct replica_event {
    double time_s = 0;
    event_kind kind = event_kind::step_start;
    int32_t replica = 0;
    // Heap order: the earliest first; at equal times by kind, then by replica index (deterministic tie-break).
    bool after(const replica_event& o) const {
        if (time_s != o.time_s) {
            return time_s > o.time_s;
        }
        if (kind != o.kind) {
            return kind > o.kind;
        }
        return replica > o.replica;
    }
};

struct event_after {
    bool operator()(const replica_event& a, const replica_event& b) const { return a.after(b); }
};

void check_inputs(const cluster_spec& cluster, const arrivals& input, const simulator_options& options) {
    if (!(options.slo_tpot_ms > 0)) {
        throw invalid_input(fmt::format("--slo-tpot-ms: expected > 0 ms, got {}", options.slo_tpot_ms));
    }
    if (options.slo_ttft_ms && !(*options.slo_ttft_ms > 0)) {
        throw invalid_input(fmt::format("--slo-ttft-ms: expected > 0 ms, got {}", *options.slo_ttft_ms));
    }
    int64_t n_replicas = 0;
    for (size_t i = 0; i < cluster.pools.size(); ++i) {
        const pool_spec& p = cluster.pools[i];
        if (p.model == nullptr || p.n_replicas < 0) {
            throw invalid_input(
                fmt::format("pool `{}`: expected a replica model and ≥ 0 replicas, got {}", p.name, p.n_replicas));
        }
        for (size_t k = 0; k < i; ++k) {
            if (cluster.pools[k].name == p.name) {
                throw invalid_input(fmt::format("pool `{}` is listed twice", p.name));
            }
        }
        n_replicas += p.n_replicas;
    }
    if (n_replicas < 1) {
        throw invalid_input("the cluster has no replicas; hint: a plan with a solution (some GPU count ≥ 1)");
    }
    double last_s = 0;
    for (size_t i = 0; i < input.requests.size(); ++i) {
        const request_spec& r = input.requests[i];
        if (!(r.arrival_s >= last_s) || !std::isfinite(r.arrival_s) || r.input_tokens < 1 || r.output_tokens < 1) {
            throw invalid_input(fmt::format("arrivals[{}]: expected arrival ≥ {} s and lengths ≥ 1, got {} s, {} "
                                            "input and {} output tokens",
                                            i, last_s, r.arrival_s, r.input_tokens, r.output_tokens));
        }
        last_s = r.arrival_s;
    }
}

class event_loop {
public:
    event_loop(const cluster_spec& cluster, const arrivals& input, const simulator_options& options)
        : _cluster(cluster), _input(input), _options(options) {
        std::vector<std::string> names;
        std::vector<int32_t> replica_pool;
        for (size_t p = 0; p < cluster.pools.size(); ++p) {
            const pool_spec& pool = cluster.pools[p];
            names.push_back(pool.name);
            if (pool.n_replicas == 0) {
                continue;
            }
            const int32_t n_blocks = replica_kv_blocks(*pool.model, options.replica.block_size, pool.name);
            for (int32_t k = 0; k < pool.n_replicas; ++k) {
                _replicas.push_back(std::make_unique<replica>(*pool.model, n_blocks, options.replica, _clock));
                replica_pool.push_back(static_cast<int32_t>(p));
            }
        }
        _pool_of = replica_pool;
        std::unique_ptr<serve::routing_table> table;
        if (cluster.plan_json) {
            table = std::make_unique<serve::routing_table>(
                serve::routing_table::from_plan_json(*cluster.plan_json, cluster.plan_origin));
        }
        _router =
            std::make_unique<router>(std::move(names), std::move(replica_pool), std::move(table), options.routing);
        _pending.assign(_replicas.size(), 0);
        _pool_rejected.assign(cluster.pools.size(), 0);
        _outcome.assign(input.requests.size(), 0);
        const size_t n = input.requests.size();
        _ttft_ms.reserve(n);
        _tpot_ms.reserve(n);
        _e2e_ms.reserve(n);
        _queueing_ms.reserve(n);
        if (options.request_log != nullptr) {
            options.request_log->assign(n, request_outcome{});
        }
    }

    sim_report run();

private:
    void on_arrival(size_t i);
    void on_step_end(int32_t k);
    void on_step_start(int32_t k);
    void finish_request(sim_request* r);
    void reject(size_t i, reject_reason why, int32_t replica);
    sim_request* take_slot();
    void push(double time_s, event_kind kind, int32_t k) {
        _heap.push_back({time_s, kind, k});
        std::push_heap(_heap.begin(), _heap.end(), event_after{});
    }
    void log(event_kind kind, int32_t k, int64_t request) {
        if (_options.event_log != nullptr) {
            _options.event_log->push_back({_clock.now_s(), kind, k, request});
        }
    }
    sim_report build_report(double wall_s) const;

    const cluster_spec& _cluster;
    const arrivals& _input;
    const simulator_options& _options;
    sim_clock _clock;
    std::vector<std::unique_ptr<replica>> _replicas;
    std::vector<int32_t> _pool_of; // [replica] pool index
    std::vector<uint8_t> _pending; // [replica] 1 while it has an event in the heap
    std::unique_ptr<router> _router;
    std::vector<replica_event> _heap;                   // min-heap under event_after
    std::vector<std::unique_ptr<sim_request>> _storage; // every request object ever made
    std::vector<sim_request*> _free;                    // finished ones, for reuse
    std::vector<sim_request*> _finished;                // scratch: one step's finished requests
    std::vector<uint8_t> _outcome;                      // [request] 0 pending, 1 finished, 2 rejected
    std::vector<float> _ttft_ms, _tpot_ms, _e2e_ms, _queueing_ms;
    std::vector<int64_t> _pool_rejected;
    std::array<int64_t, n_reject_reasons> _rejected{};
    int64_t _n_finished = 0, _n_rejected = 0, _n_slo_met = 0, _n_output_tokens = 0, _n_events = 0;
};

sim_request* event_loop::take_slot() {
    if (_free.empty()) {
        _storage.push_back(std::make_unique<sim_request>());
        return _storage.back().get();
    }
    sim_request* r = _free.back();
    _free.pop_back();
    return r;
}

void event_loop::reject(size_t i, reject_reason why, int32_t replica) {
    LLMFLEET_CHECK(_outcome[i] == 0, "request {} already had an outcome ({})", i, _outcome[i]);
    _outcome[i] = 2;
    ++_n_rejected;
    ++_rejected[static_cast<size_t>(why)];
    if (replica >= 0) {
        ++_pool_rejected[static_cast<size_t>(_pool_of[static_cast<size_t>(replica)])];
    }
    if (_options.request_log != nullptr) {
        request_outcome& o = (*_options.request_log)[i];
        o.rejected = why;
        o.replica = replica;
    }
}

void event_loop::on_arrival(size_t i) {
    const request_spec& spec = _input.requests[i];
    const routing_decision d = _router->route(
        spec.input_tokens, _options.max_tokens_known ? std::optional<int64_t>(spec.output_tokens) : std::nullopt);
    log(event_kind::arrival, d.replica, static_cast<int64_t>(i));
    if (d.rejected) {
        return reject(i, *d.rejected, -1);
    }
    replica& rep = *_replicas[static_cast<size_t>(d.replica)];
    // The engine's admission check (engine::add_request): a prompt must leave room for a token, and here the whole
    // output must fit (the engine would truncate it; the simulator refuses rather than report a shorter request).
    const bool prompt_too_long = spec.input_tokens >= rep.max_model_len();
    if (prompt_too_long || spec.input_tokens + spec.output_tokens > rep.max_model_len()) {
        _router->release(d.replica, d.cost_tokens);
        return reject(i,
                      prompt_too_long ? reject_reason::prompt_exceeds_context : reject_reason::request_exceeds_context,
                      d.replica);
    }
    sim_request* r = take_slot();
    // Token ids: the request's own id, unique per request, so that prefix caching (if on) never shares blocks across
    // requests. Without it the ids are never read: a reused slot keeps its old ones (no fill of every prompt).
    const auto id = static_cast<int32_t>(i % std::numeric_limits<int32_t>::max()) + 1;
    r->id = static_cast<int64_t>(i);
    if (_options.replica.enable_prefix_caching) {
        r->tokens.assign(static_cast<size_t>(spec.input_tokens), id);
    } else {
        r->tokens.resize(static_cast<size_t>(spec.input_tokens));
        r->tokens.front() = id;
    }
    r->n_prompt_tokens = spec.input_tokens;
    r->n_computed_tokens = 0;
    r->n_cached_tokens = 0;
    r->block_hashes.clear();
    r->first_scheduled_s = -1;
    r->n_preemptions = 0;
    r->index = static_cast<int64_t>(i);
    r->n_output_tokens = spec.output_tokens;
    r->first_token_s = -1;
    r->replica = d.replica;
    r->predicted_tokens = d.predicted_tokens;
    r->cost_tokens = d.cost_tokens;
    rep.add(r);
    if (_pending[static_cast<size_t>(d.replica)] == 0) {
        _pending[static_cast<size_t>(d.replica)] = 1;
        push(_clock.now_s(), event_kind::step_start, d.replica);
    }
}

void event_loop::on_step_start(int32_t k) {
    log(event_kind::step_start, k, -1);
    const double duration_s = _replicas[static_cast<size_t>(k)]->begin_step();
    if (duration_s > 0) {
        push(_clock.now_s() + duration_s, event_kind::step_end, k);
    } else {
        _pending[static_cast<size_t>(k)] = 0;
    }
}

void event_loop::on_step_end(int32_t k) {
    log(event_kind::step_end, k, -1);
    replica& rep = *_replicas[static_cast<size_t>(k)];
    _finished.clear();
    rep.end_step(_finished);
    for (sim_request* r : _finished) {
        finish_request(r);
    }
    if (rep.has_unfinished()) {
        push(_clock.now_s(), event_kind::step_start, k); // after this instant's arrivals (event order)
    } else {
        _pending[static_cast<size_t>(k)] = 0;
    }
}

void event_loop::finish_request(sim_request* r) {
    const auto i = static_cast<size_t>(r->index);
    LLMFLEET_CHECK(_outcome[i] == 0, "request {} finished twice (outcome {})", i, _outcome[i]);
    _outcome[i] = 1;
    const double now_s = _clock.now_s();
    const double ttft_s = r->first_token_s - r->arrival_s;
    const double e2e_s = now_s - r->arrival_s;
    const double queueing_s = r->first_scheduled_s - r->arrival_s;
    bool slo_met = !_options.slo_ttft_ms || ttft_s * 1000 <= *_options.slo_ttft_ms;
    if (r->n_output_tokens > 1) {
        const double tpot_s = (now_s - r->first_token_s) / (r->n_output_tokens - 1);
        _tpot_ms.push_back(static_cast<float>(tpot_s * 1000));
        slo_met = slo_met && tpot_s * 1000 <= _options.slo_tpot_ms;
    }
    _ttft_ms.push_back(static_cast<float>(ttft_s * 1000));
    _e2e_ms.push_back(static_cast<float>(e2e_s * 1000));
    _queueing_ms.push_back(static_cast<float>(queueing_s * 1000));
    _n_slo_met += slo_met ? 1 : 0;
    _n_output_tokens += r->n_output_tokens;
    ++_n_finished;
    _router->release(r->replica, r->cost_tokens);
    _router->observe(r->n_prompt_tokens, r->predicted_tokens, r->n_output_tokens);
    if (_options.request_log != nullptr) {
        request_outcome& o = (*_options.request_log)[i];
        o.finished = true;
        o.replica = r->replica;
        o.ttft_s = ttft_s;
        o.e2e_s = e2e_s;
        o.queueing_s = queueing_s;
    }
    _free.push_back(r);
}

sim_report event_loop::run() {
    const auto wall_start = std::chrono::steady_clock::now();
    const std::vector<request_spec>& requests = _input.requests;
    size_t next = 0;
    while (next < requests.size() || !_heap.empty()) {
        const bool arrival_first =
            next < requests.size() &&
            (_heap.empty() || requests[next].arrival_s < _heap.front().time_s ||
             (requests[next].arrival_s == _heap.front().time_s && _heap.front().kind == event_kind::step_start));
        ++_n_events;
        if (arrival_first) {
            _clock.advance_to(requests[next].arrival_s);
            on_arrival(next++);
            continue;
        }
        std::pop_heap(_heap.begin(), _heap.end(), event_after{});
        const replica_event e = _heap.back();
        _heap.pop_back();
        _clock.advance_to(e.time_s);
        if (e.kind == event_kind::step_end) {
            on_step_end(e.replica);
        } else {
            on_step_start(e.replica);
        }
    }
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    // Conservation: every request finished or was rejected, exactly once (each outcome is set once, checked there).
    LLMFLEET_CHECK(_n_finished + _n_rejected == static_cast<int64_t>(requests.size()),
                   "{} finished + {} rejected != {} requests", _n_finished, _n_rejected, requests.size());
    for (const auto& rep : _replicas) {
        LLMFLEET_CHECK(!rep->has_unfinished(), "a replica still holds requests after the last event");
    }
    return build_report(wall_s);
}

sim_report event_loop::build_report(double wall_s) const {
    sim_report r;
    r.arrivals_source = _input.source;
    r.plan = _cluster.plan_json ? _cluster.plan_origin : "explicit pools";
    r.model = _cluster.model_name;
    r.policy = std::string(serve::to_string(_options.routing.policy));
    r.slo_tpot_ms = _options.slo_tpot_ms;
    r.slo_ttft_ms = _options.slo_ttft_ms;
    r.n_requests = static_cast<int64_t>(_input.requests.size());
    r.n_finished = _n_finished;
    r.n_rejected = _n_rejected;
    r.rejected_by_reason = _rejected;
    r.n_input_clamped = _input.n_input_clamped;
    r.n_output_clamped = _input.n_output_clamped;
    r.n_slo_met = _n_slo_met;
    r.slo_attainment = r.n_requests > 0 ? static_cast<double>(_n_slo_met) / static_cast<double>(r.n_requests) : 0;
    auto ttft = _ttft_ms, tpot = _tpot_ms, e2e = _e2e_ms, queueing = _queueing_ms;
    r.ttft = summarize(ttft);
    r.tpot = summarize(tpot);
    r.e2e = summarize(e2e);
    r.queueing = summarize(queueing);
    r.n_output_tokens = _n_output_tokens;
    r.span_s = _clock.now_s();
    size_t k = 0;
    for (size_t p = 0; p < _cluster.pools.size(); ++p) {
        const pool_spec& spec = _cluster.pools[p];
        pool_report pr;
        pr.name = spec.name;
        pr.deployment = spec.deployment.label();
        pr.model = spec.model->describe();
        pr.n_units = spec.n_units;
        pr.n_replicas = spec.n_replicas;
        pr.price_usd_per_unit_hour = spec.price_usd_per_unit_hour;
        pr.n_rejected = _pool_rejected[p];
        int64_t n_scheduled = 0;
        for (int32_t j = 0; j < spec.n_replicas; ++j, ++k) {
            const replica& rep = *_replicas[k];
            const replica_stats& s = rep.stats();
            pr.kv_tokens_per_replica = rep.kv_pool_tokens();
            pr.max_model_len = rep.max_model_len();
            pr.n_requests += s.n_requests;
            pr.n_finished += s.n_finished;
            pr.n_steps += s.n_steps;
            pr.busy_s += s.busy_s;
            pr.n_preemptions += rep.n_preemptions();
            pr.n_prefill_tokens += s.n_prefill_tokens;
            pr.n_decode_tokens += s.n_decode_tokens;
            n_scheduled += s.n_scheduled_seqs;
        }
        pr.utilisation = r.span_s > 0 && spec.n_replicas > 0 ? pr.busy_s / (r.span_s * spec.n_replicas) : 0;
        pr.mean_batch_size = pr.n_steps > 0 ? static_cast<double>(n_scheduled) / static_cast<double>(pr.n_steps) : 0;
        r.pools.push_back(std::move(pr));
    }
    r.n_fallbacks = _router->n_fallbacks();
    r.n_unrouted = _router->n_unrouted();
    r.cost_usd_per_hour = _cluster.cost_usd_per_hour();
    r.cost_usd = r.cost_usd_per_hour * r.span_s / 3600;
    r.n_events = _n_events;
    r.wall_s = wall_s;
    r.requests_per_wall_s = wall_s > 0 ? static_cast<double>(r.n_requests) / wall_s : 0;
    r.events_per_wall_s = wall_s > 0 ? static_cast<double>(_n_events) / wall_s : 0;
    return r;
}

} // namespace

sim_report simulate(const cluster_spec& cluster, const arrivals& input, const simulator_options& options) {
    check_inputs(cluster, input, options);
    event_loop loop(cluster, input, options);
    return loop.run();
}

} // namespace llmfleet::sim
