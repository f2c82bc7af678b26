// One `llmfleet profile` run over the bucket grid: the rate search for every (input bucket × output bucket) at
// the buckets' representative lengths, then the planner profile (llmfleet.profile.v1), the calibration points and
// the text table. The probe is a callback, so a whole grid is tested against a fake server.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "planner/profile.h"
#include "serve/profiler/calibration.h"
#include "serve/profiler/profile_config.h"
#include "serve/profiler/rate_search.h"

namespace llmfleet::profiler {

struct bucket_result {
    int64_t i_input = 0;       // input bucket index
    int64_t i_output = 0;      // output bucket index
    int64_t input_tokens = 0;  // the prompt length probed (representative_length)
    int64_t output_tokens = 0; // the output length probed (max_tokens, ignore_eos)
    search_result search;
};

// Measures one probe of requests with these exact lengths.
using bucket_probe_function =
    std::function<probe_measurement(int64_t input_tokens, int64_t output_tokens, const probe_point& point)>;
// Sees every probe as soon as it is judged (progress lines).
using bucket_probe_observer =
    std::function<void(int64_t input_tokens, int64_t output_tokens, const probe_record& record)>;

// The search for every bucket, input-major (bucket [i][j] at index i · n_output + j).
// note: config as validate() accepts it.
std::vector<bucket_result> profile_buckets(const profile_config& config, const bucket_probe_function& probe,
                                           const bucket_probe_observer& observe = {});

// The planner's profile: the grid of config's edges and max_rps[config.gpu_name][i][j] = bucket [i][j]'s max rate.
// note: results as profile_buckets returned them for this config.
planner::throughput_profile make_profile(const profile_config& config, std::span<const bucket_result> results,
                                         std::string source);

// Every probe of every bucket, in order.
std::vector<calibration_point> calibration_points(std::span<const bucket_result> results);

// One row per bucket: lengths, max req/s, TPOT and TTFT at the SLO's percentile at that rate, probes, outcome.
std::string results_table(const profile_config& config, std::span<const bucket_result> results);

} // namespace llmfleet::profiler
