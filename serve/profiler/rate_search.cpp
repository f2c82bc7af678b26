// The SLO check and the capacity search; see rate_search.h.
#include "serve/profiler/rate_search.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/core.h>

#include "common/check.h"

namespace llmfleet::profiler {

std::string_view to_string(search_outcome outcome) {
    switch (outcome) {
    case search_outcome::cannot_serve:
        return "cannot_serve";
    case search_outcome::converged:
        return "converged";
    case search_outcome::reached_max_rate:
        return "reached_max_rate";
    case search_outcome::below_min_rate:
        return "below_min_rate";
    case search_outcome::probe_limit:
        return "probe_limit";
    }
    return "unknown";
}

slo_verdict slo_holds(const probe_measurement& m, const slo_target& slo) {
    const auto fail = [](std::string reason) { return slo_verdict{false, std::move(reason)}; };
    if (m.n_requests <= 0) {
        return fail("no requests were measured");
    }
    if (m.n_failed > 0) {
        return fail(fmt::format("{} of {} requests failed ({})", m.n_failed, m.n_requests, m.first_failure));
    }
    if (m.tpot_slo_ms && *m.tpot_slo_ms > slo.tpot_ms) {
        return fail(fmt::format("TPOT p{:g} {:.2f} ms > {:g} ms", slo.percentile, *m.tpot_slo_ms, slo.tpot_ms));
    }
    if (slo.ttft_ms > 0 && m.ttft_slo_ms > slo.ttft_ms) {
        return fail(fmt::format("TTFT p{:g} {:.2f} ms > {:g} ms", slo.percentile, m.ttft_slo_ms, slo.ttft_ms));
    }
    if (!m.point.closed_loop && m.achieved_rps < slo.min_throughput_ratio * m.sent_rps) {
        return fail(fmt::format("served {:.3g} req/s < {:g} × the {:.3g} req/s sent: the queue grows", m.achieved_rps,
                                slo.min_throughput_ratio, m.sent_rps));
    }
    return {true, "held"};
}

namespace {

// The search's state; one per call.
class searcher {
public:
    searcher(const probe_function& probe, const slo_target& slo, const search_options& options,
             const probe_observer& observe)
        : _probe(probe), _slo(slo), _options(options), _observe(observe) {}

    search_result run() {
        const probe_record& first = measure({true, 0});
        _result.at_max = first.measurement;
        if (!first.verdict.held) {
            return finish(search_outcome::cannot_serve);
        }
        // The closed loop's rate (one request at a time) is a natural first guess: batching serves more.
        const double serial_rps = first.measurement.achieved_rps;
        double rate = std::clamp(std::isfinite(serial_rps) && serial_rps > 0 ? serial_rps : 1.0, _options.min_rate_rps,
                                 _options.max_rate_rps);
        // Bracket: a rate that held (_held > 0) and one that failed (_failed < inf).
        while (_held == 0 || std::isinf(_failed)) {
            if (out_of_probes()) {
                return finish(search_outcome::probe_limit);
            }
            if (measure({false, rate}).verdict.held) {
                if (rate >= _options.max_rate_rps) {
                    return finish(search_outcome::reached_max_rate);
                }
                rate = std::min(rate * _options.growth_factor, _options.max_rate_rps);
            } else {
                if (_held > 0) {
                    break;
                }
                rate /= _options.growth_factor;
                if (rate < _options.min_rate_rps) {
                    return finish(search_outcome::below_min_rate);
                }
            }
        }
        // Bisect [held, failed]; the SLO is assumed to hold below a rate that held.
        while (_failed - _held > _options.tolerance * _held) {
            if (out_of_probes()) {
                return finish(search_outcome::probe_limit);
            }
            measure({false, 0.5 * (_held + _failed)});
        }
        return finish(search_outcome::converged);
    }

private:
    bool out_of_probes() const { return static_cast<int64_t>(_result.probes.size()) >= _options.max_probes; }

    const probe_record& measure(const probe_point& point) {
        probe_record record;
        record.measurement = _probe(point);
        record.measurement.point = point;
        record.verdict = slo_holds(record.measurement, _slo);
        if (!point.closed_loop) {
            if (record.verdict.held && point.rate_rps > _held) {
                _held = point.rate_rps;
                _result.at_max = record.measurement;
            } else if (!record.verdict.held) {
                _failed = std::min(_failed, point.rate_rps);
            }
        }
        _result.probes.push_back(std::move(record));
        if (_observe) {
            _observe(_result.probes.back());
        }
        return _result.probes.back();
    }

    search_result finish(search_outcome outcome) {
        _result.outcome = outcome;
        _result.max_rps = _held;
        _result.failed_rps = std::isinf(_failed) ? 0 : _failed;
        LLMFLEET_CHECK(outcome != search_outcome::converged || _held > 0, "converged without a rate that held");
        return std::move(_result);
    }

    const probe_function& _probe;
    const slo_target& _slo;
    const search_options& _options;
    const probe_observer& _observe;
    double _held = 0;                                         // the highest open-loop rate that held
    double _failed = std::numeric_limits<double>::infinity(); // the lowest open-loop rate that failed
    search_result _result;
};

} // namespace

search_result search_max_rate(const probe_function& probe, const slo_target& slo, const search_options& options,
                              const probe_observer& observe) {
    LLMFLEET_CHECK(options.max_probes >= 2 && options.growth_factor > 1 && options.tolerance > 0 &&
                       options.min_rate_rps > 0 && options.min_rate_rps < options.max_rate_rps,
                   "search options not validated: max_probes {}, growth {}, tolerance {}, rates [{}, {}]",
                   options.max_probes, options.growth_factor, options.tolerance, options.min_rate_rps,
                   options.max_rate_rps);
    return searcher(probe, slo, options, observe).run();
}

} // namespace llmfleet::profiler
