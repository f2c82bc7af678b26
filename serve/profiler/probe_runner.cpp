// Probes through serve/loadgen and their summaries; see probe_runner.h.
#include "serve/profiler/probe_runner.h"

#include <algorithm>
#include <limits>
#include <vector>

#include <fmt/core.h>

#include "common/error.h"
#include "serve/loadgen/arrivals.h"
#include "serve/loadgen/report.h"
#include "serve/loadgen/stats.h"
#include "serve/loadgen/workload.h"

namespace llmfleet::profiler {

namespace {

constexpr double ms_per_s = 1000;

std::optional<double> if_sampled(int64_t n, double value) {
    return n > 0 ? std::optional<double>(value) : std::nullopt;
}

} // namespace

probe_measurement summarize_probe(const probe_point& point, std::span<const loadgen::request_record> records,
                                  double duration_s, double percentile) {
    probe_measurement m;
    m.point = point;
    m.n_requests = static_cast<int64_t>(records.size());
    m.duration_s = duration_s;
    // loadgen's report does the counting and the p50 / p90 summaries; its settings are not used here.
    const loadgen::bench_report report = loadgen::make_report(loadgen::bench_config{}, "", records, duration_s, 0);
    m.n_failed = report.n_failed;
    for (const loadgen::request_record& r : records) {
        if (!r.ok) {
            m.first_failure = fmt::format("{}: {}", r.error_reason, r.error_detail);
            break;
        }
    }
    m.ttft_p50_ms = report.ttft_ms.p50;
    m.ttft_p90_ms = report.ttft_ms.p90;
    m.tpot_mean_ms = if_sampled(report.tpot_ms.n, report.tpot_ms.mean);
    m.tpot_p50_ms = if_sampled(report.tpot_ms.n, report.tpot_ms.p50);
    m.tpot_p90_ms = if_sampled(report.tpot_ms.n, report.tpot_ms.p90);

    double first_send = std::numeric_limits<double>::infinity(), last_send = -first_send;
    double first_done = first_send, last_done = -first_send;
    double sum_e2e_s = 0, sum_decode_s = 0;
    std::vector<double> ttft_s, tpot_s;
    for (const loadgen::request_record& r : records) {
        first_send = std::min(first_send, r.send_s);
        last_send = std::max(last_send, r.send_s);
        sum_e2e_s += r.e2e_s;
        if (!r.ok) {
            continue;
        }
        first_done = std::min(first_done, r.send_s + r.e2e_s);
        last_done = std::max(last_done, r.send_s + r.e2e_s);
        sum_decode_s += r.e2e_s - r.ttft_s;
        ttft_s.push_back(r.ttft_s);
        if (const auto t = r.tpot_s()) {
            tpot_s.push_back(*t);
        }
    }
    const auto n_ok = static_cast<int64_t>(ttft_s.size());
    if (m.n_requests >= 2 && last_send > first_send) {
        m.sent_rps = static_cast<double>(m.n_requests - 1) / (last_send - first_send);
    }
    // Completions spread like the sends when every request takes about as long; a growing queue stretches them.
    if (n_ok >= 2 && last_done > first_done) {
        m.achieved_rps = static_cast<double>(n_ok - 1) / (last_done - first_done);
    } else if (n_ok >= 1 && duration_s > 0) {
        m.achieved_rps = static_cast<double>(n_ok) / duration_s;
    }
    if (duration_s > 0) {
        m.mean_in_flight = sum_e2e_s / duration_s;
    }
    if (n_ok > 0) {
        m.mean_decode_s = sum_decode_s / static_cast<double>(n_ok);
        std::sort(ttft_s.begin(), ttft_s.end());
        m.ttft_slo_ms = loadgen::percentile_sorted(ttft_s, percentile) * ms_per_s;
    }
    if (!tpot_s.empty()) {
        std::sort(tpot_s.begin(), tpot_s.end());
        m.tpot_slo_ms = loadgen::percentile_sorted(tpot_s, percentile) * ms_per_s;
    }
    return m;
}

loadgen_prober::loadgen_prober(const profile_config& config) : _config(config) {
    loadgen::runner_options ro;
    ro.url = config.url;
    ro.endpoint = config.endpoint;
    ro.stream = true;
    ro.api_key = config.api_key;
    ro.timeout_s = config.timeout_s;
    ro.max_concurrency = 0;
    _open_loop = std::make_unique<loadgen::bench_runner>(ro);
    ro.max_concurrency = 1;
    _closed_loop = std::make_unique<loadgen::bench_runner>(ro);
}

loadgen_prober::~loadgen_prober() = default;

std::string loadgen_prober::connect() {
    const loadgen::server_probe probe = _open_loop->probe(); // throws when the server cannot be reached
    _model = _config.model;
    if (_model.empty()) {
        if (probe.model_ids.empty()) {
            throw invalid_input(fmt::format("GET {}/v1/models answered {} without a model id ({}); hint: pass "
                                            "--model NAME",
                                            _config.url, probe.status, probe.detail));
        }
        _model = probe.model_ids.front();
    }
    return _model;
}

probe_measurement loadgen_prober::measure(int64_t input_tokens, int64_t output_tokens, const probe_point& point) {
    LLMFLEET_CHECK(!_model.empty(), "loadgen_prober::measure before connect()");
    LLMFLEET_CHECK(point.closed_loop || point.rate_rps > 0, "open-loop probe at rate {}", point.rate_rps);
    // Each probe its own seed: other prompt contents (no prefix-cache hits across probes), other arrival draws.
    const uint64_t seed = _config.seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(++_n_probes);
    const int64_t n = point.closed_loop ? _config.closed_loop_requests : open_loop_requests(_config, point.rate_rps);
    const std::vector<loadgen::request_lengths> lengths(static_cast<size_t>(n), {input_tokens, output_tokens});
    loadgen::request_body_options bo;
    bo.endpoint = _config.endpoint;
    bo.model = _model;
    bo.stream = true;
    bo.ignore_eos = true;
    bo.vocab_size = _config.vocab_size;
    const std::vector<loadgen::prepared_request> requests = loadgen::build_requests(lengths, bo, seed);
    const std::vector<double> offsets_s =
        point.closed_loop ? std::vector<double>(static_cast<size_t>(n), 0.0) // max concurrency 1 makes it a closed loop
                          : loadgen::arrival_offsets_s({loadgen::arrival_kind::poisson, point.rate_rps, 1.0, seed},
                                                       static_cast<size_t>(n));
    loadgen::bench_runner& runner = point.closed_loop ? *_closed_loop : *_open_loop;
    const loadgen::run_result result = runner.run(requests, offsets_s);
    return summarize_probe(point, result.records, result.duration_s, _config.slo.percentile);
}

} // namespace llmfleet::profiler
