// The per-bucket capacity search of `llmfleet profile`, as a pure function over a probe callback (rate → what
// was measured), so that it is tested against fake servers without a network: a closed-loop probe first (one
// request at a time; if even that breaks the SLO the bucket cannot be served), then Poisson rates growing
// geometrically until one fails, then bisection down to a relative tolerance. The answer is the highest rate
// at which the SLO held.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/profiler/profile_config.h"

namespace llmfleet::profiler {

struct probe_point {
    bool closed_loop = false; // one request at a time (max concurrency 1), no arrival schedule
    double rate_rps = 0;      // the Poisson rate offered (open loop); 0 for the closed loop
};

// What one probe (one loadgen run of identical requests) measured. Latencies are over completed requests.
struct probe_measurement {
    probe_point point;
    int64_t n_requests = 0;
    int64_t n_failed = 0;
    std::string first_failure; // "reason: detail" of the first failed request (empty when none failed)
    double duration_s = 0;     // first send → last response byte
    double sent_rps = 0;       // (n − 1) / (last send − first send): the rate actually offered (draws vary)
    double achieved_rps = 0;   // (n_completed − 1) / (last completion − first completion): the rate served
    double mean_in_flight = 0; // Σ e2e / duration: the mean concurrency (Little's law)
    double mean_decode_s = 0;  // mean (e2e − ttft): time from the first token to the last
    double ttft_p50_ms = 0;
    double ttft_p90_ms = 0;
    double ttft_slo_ms = 0; // at the SLO's percentile
    // TPOT needs streamed requests with ≥ 2 output tokens: none for 1-token outputs.
    std::optional<double> tpot_mean_ms, tpot_p50_ms, tpot_p90_ms, tpot_slo_ms;

    int64_t n_completed() const { return n_requests - n_failed; }
};

struct slo_verdict {
    bool held = false;
    std::string reason; // why it failed ("TPOT p90 61.2 ms > 50 ms"), or "held"
};

// The SLO holds when every request succeeded, TPOT (when measured) and TTFT (when slo.ttft_ms > 0) at the
// percentile are within bounds, and (open loop only) achieved_rps ≥ min_throughput_ratio · sent_rps.
slo_verdict slo_holds(const probe_measurement& m, const slo_target& slo);

//   closed loop ──held──▶ grow ×g until a rate fails (or max_rate holds: reached_max_rate)
//        │ failed            │ the first open-loop rate failed: shrink ÷g until one holds
//        ▼                   ▼                      (none down to min_rate_rps: below_min_rate)
//   cannot_serve          bisect [held, failed] until (failed − held) ≤ tolerance · held: converged
//                         (any stage may run out of probes: probe_limit)
enum class search_outcome {
    cannot_serve,     // the closed-loop probe broke the SLO: max rate 0
    converged,        // bracketed to the tolerance
    reached_max_rate, // the SLO held at max_rate_rps
    below_min_rate,   // the closed loop held but no open-loop rate down to min_rate_rps did: max rate 0
    probe_limit,      // max_probes ran out first (max rate: the best rate that held, maybe 0)
};
std::string_view to_string(search_outcome outcome);

struct probe_record {
    probe_measurement measurement;
    slo_verdict verdict;
};

struct search_result {
    double max_rps = 0; // the highest open-loop rate at which the SLO held; 0 when none did
    search_outcome outcome = search_outcome::cannot_serve;
    std::optional<probe_measurement> at_max; // the probe at max_rps (the closed loop's when max_rps is 0)
    std::vector<probe_record> probes;        // every probe, in order
    double failed_rps = 0;                   // the lowest open-loop rate that failed (0: none failed)
};

using probe_function = std::function<probe_measurement(const probe_point&)>;
using probe_observer = std::function<void(const probe_record&)>;

// note: options as validate() accepts them. `observe` (optional) sees each probe as soon as it is judged.
search_result search_max_rate(const probe_function& probe, const slo_target& slo, const search_options& options,
                              const probe_observer& observe = {});

} // namespace llmfleet::profiler
