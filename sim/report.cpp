// See report.h.
#include "sim/report.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace llmfleet::sim {

namespace {

// Nearest rank: the index of the ⌈q·n⌉-th smallest (1-based) of n values, at least the first.
size_t rank_index(size_t n, double q) {
    const auto k = static_cast<size_t>(std::max(1.0, std::ceil(q * static_cast<double>(n))));
    return std::min(k, n) - 1;
}

nlohmann::ordered_json latency_json(const latency_summary& s) {
    return {{"n", s.n}, {"mean", s.mean_ms}, {"p50", s.p50_ms}, {"p90", s.p90_ms}, {"p99", s.p99_ms}};
}

std::string latency_row(std::string_view name, const latency_summary& s) {
    return fmt::format("  {:<14} {:>10.1f} {:>10.1f} {:>10.1f} {:>10.1f} {:>10}\n", name, s.p50_ms, s.p90_ms, s.p99_ms,
                       s.mean_ms, s.n);
}

} // namespace

latency_summary summarize(std::vector<float>& values_ms) {
    latency_summary s;
    s.n = static_cast<int64_t>(values_ms.size());
    if (values_ms.empty()) {
        return s;
    }
    double sum = 0;
    for (const float v : values_ms) {
        sum += v;
    }
    s.mean_ms = sum / static_cast<double>(values_ms.size());
    // Three selections instead of a sort (O(n)): each one partitions the range the next one looks in.
    const size_t n = values_ms.size();
    const size_t k99 = rank_index(n, 0.99), k90 = rank_index(n, 0.9), k50 = rank_index(n, 0.5);
    const auto at = [&](size_t k) { return values_ms.begin() + static_cast<std::ptrdiff_t>(k); };
    std::nth_element(values_ms.begin(), at(k99), values_ms.end());
    std::nth_element(values_ms.begin(), at(k90), at(k99));
    std::nth_element(values_ms.begin(), at(k50), at(k90));
    s.p99_ms = values_ms[k99];
    s.p90_ms = values_ms[k90];
    s.p50_ms = values_ms[k50];
    return s;
}

std::string format_report_text(const sim_report& r) {
    std::string out;
    out += fmt::format("llmfleet simulate: {} on {}\n", r.model.empty() ? "model" : r.model, r.plan);
    out += fmt::format("arrivals: {}\n", r.arrivals_source);
    out += fmt::format("policy: {}   SLO: TPOT ≤ {} ms{}\n", r.policy, r.slo_tpot_ms,
                       r.slo_ttft_ms ? fmt::format(", TTFT ≤ {} ms", *r.slo_ttft_ms) : "");
    out += fmt::format("\nrequests: {} arrived, {} finished, {} rejected", r.n_requests, r.n_finished, r.n_rejected);
    for (int i = 0; i < n_reject_reasons; ++i) {
        if (r.rejected_by_reason[i] > 0) {
            out += fmt::format(" ({} {})", r.rejected_by_reason[i], to_string(static_cast<reject_reason>(i)));
        }
    }
    out += "\n";
    if (r.n_input_clamped + r.n_output_clamped > 0) {
        out += fmt::format("clamped to 1 token: {} empty prompts, {} empty outputs (trace rows with 0)\n",
                           r.n_input_clamped, r.n_output_clamped);
    }
    out +=
        fmt::format("SLO attainment: {:.2f}% ({} of {} requests)\n", 100 * r.slo_attainment, r.n_slo_met, r.n_requests);
    out += fmt::format("\n  {:<14} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "latency (ms)", "p50", "p90", "p99", "mean",
                       "n");
    out += latency_row("TTFT", r.ttft);
    out += latency_row("TPOT", r.tpot);
    out += latency_row("end to end", r.e2e);
    out += latency_row("queueing", r.queueing);
    out += fmt::format("\n{:<14} {:<22} {:>8} {:>9} {:>9} {:>7} {:>10} {:>8} {:>10}\n", "pool", "deployment",
                       "replicas", "requests", "rejected", "util", "mean batch", "preempt", "KV tokens");
    for (const pool_report& p : r.pools) {
        out += fmt::format("{:<14} {:<22} {:>8} {:>9} {:>9} {:>6.1f}% {:>10.1f} {:>8} {:>10}\n", p.name, p.deployment,
                           p.n_replicas, p.n_requests, p.n_rejected, 100 * p.utilisation, p.mean_batch_size,
                           p.n_preemptions, p.kv_tokens_per_replica);
    }
    if (r.n_fallbacks + r.n_unrouted > 0) {
        out += fmt::format("routing: {} requests served outside their bucket's first pool, {} in unrouted buckets\n",
                           r.n_fallbacks, r.n_unrouted);
    }
    out += fmt::format("\nsimulated span: {:.1f} s; throughput {:.2f} req/s, {:.0f} output tokens/s\n", r.span_s,
                       r.span_s > 0 ? static_cast<double>(r.n_finished) / r.span_s : 0.0,
                       r.span_s > 0 ? static_cast<double>(r.n_output_tokens) / r.span_s : 0.0);
    out += fmt::format("cost: {:.3f} $/h, {:.4f} $ over the span\n", r.cost_usd_per_hour, r.cost_usd);
    out += fmt::format("simulator: {} events in {:.3f} s wall ({:.0f} requests/s, {:.0f} events/s)\n", r.n_events,
                       r.wall_s, r.requests_per_wall_s, r.events_per_wall_s);
    for (const pool_report& p : r.pools) {
        out += fmt::format("model [{}]: {}\n", p.name, p.model);
    }
    return out;
}

std::string report_to_json(const sim_report& r, bool include_wall) {
    nlohmann::ordered_json j;
    j["schema"] = "llmfleet.simulate.v1";
    j["model"] = r.model;
    j["plan"] = r.plan;
    j["arrivals"] = r.arrivals_source;
    j["policy"] = r.policy;
    j["slo"]["tpot_ms"] = r.slo_tpot_ms;
    if (r.slo_ttft_ms) {
        j["slo"]["ttft_ms"] = *r.slo_ttft_ms;
    }
    nlohmann::ordered_json requests;
    requests["arrived"] = r.n_requests;
    requests["finished"] = r.n_finished;
    requests["rejected"] = r.n_rejected;
    nlohmann::ordered_json by_reason = nlohmann::ordered_json::object();
    for (int i = 0; i < n_reject_reasons; ++i) {
        by_reason[std::string(to_string(static_cast<reject_reason>(i)))] = r.rejected_by_reason[i];
    }
    requests["rejected_by_reason"] = by_reason;
    requests["input_clamped"] = r.n_input_clamped;
    requests["output_clamped"] = r.n_output_clamped;
    j["requests"] = requests;
    j["slo_attainment"] = r.slo_attainment;
    j["slo_met"] = r.n_slo_met;
    j["latency_ms"] = {{"ttft", latency_json(r.ttft)},
                       {"tpot", latency_json(r.tpot)},
                       {"e2e", latency_json(r.e2e)},
                       {"queueing", latency_json(r.queueing)}};
    j["span_s"] = r.span_s;
    j["throughput"] = {{"requests_per_s", r.span_s > 0 ? static_cast<double>(r.n_finished) / r.span_s : 0.0},
                       {"output_tokens_per_s", r.span_s > 0 ? static_cast<double>(r.n_output_tokens) / r.span_s : 0.0},
                       {"output_tokens", r.n_output_tokens}};
    j["pools"] = nlohmann::ordered_json::array();
    for (const pool_report& p : r.pools) {
        j["pools"].push_back({{"name", p.name},
                              {"deployment", p.deployment},
                              {"model", p.model},
                              {"units", p.n_units},
                              {"replicas", p.n_replicas},
                              {"price_usd_per_unit_hour", p.price_usd_per_unit_hour},
                              {"kv_tokens_per_replica", p.kv_tokens_per_replica},
                              {"max_model_len", p.max_model_len},
                              {"requests", p.n_requests},
                              {"finished", p.n_finished},
                              {"rejected", p.n_rejected},
                              {"steps", p.n_steps},
                              {"busy_s", p.busy_s},
                              {"utilisation", p.utilisation},
                              {"mean_batch_size", p.mean_batch_size},
                              {"preemptions", p.n_preemptions},
                              {"prefill_tokens", p.n_prefill_tokens},
                              {"decode_tokens", p.n_decode_tokens}});
    }
    j["routing"] = {{"fallbacks", r.n_fallbacks}, {"unrouted", r.n_unrouted}};
    j["cost"] = {{"usd_per_hour", r.cost_usd_per_hour}, {"usd", r.cost_usd}};
    if (include_wall) {
        j["performance"] = {{"events", r.n_events},
                            {"wall_s", r.wall_s},
                            {"requests_per_wall_s", r.requests_per_wall_s},
                            {"events_per_wall_s", r.events_per_wall_s}};
    }
    return j.dump(2);
}

} // namespace llmfleet::sim
