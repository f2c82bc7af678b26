// The settings of one `llmfleet profile` run (flags, as plain data): the server, the bucket grid, the SLO that
// decides whether a request rate "holds", the bounds of the rate search and of each probe, and the output files.
// validate() checks them with messages that name the flag, the expected range and the value.
#pragma once

#include <cstdint>
#include <string>

#include "planner/bucket_grid.h"
#include "serve/loadgen/bench_config.h"

namespace llmfleet::profiler {

// When a probe counts as "the SLO holds" (see rate_search.h, slo_holds()).
struct slo_target {
    double tpot_ms = 50;               // p`percentile` time per output token must be ≤ this
    double ttft_ms = 0;                // p`percentile` time to first token must be ≤ this (0: not checked)
    double percentile = 90;            // in (0, 100]
    double min_throughput_ratio = 0.9; // achieved / sent request rate must be ≥ this (else the queue grows)
};

// Bounds of the per-bucket rate search (see rate_search.h, search_max_rate()).
struct search_options {
    double max_rate_rps = 1000; // the search never offers more; reaching it ends the search ("capped")
    double min_rate_rps = 0.01; // nor less: shrinking below it ends the search with max rate 0
    double tolerance = 0.1;     // relative: bisect until (fail − held) ≤ tolerance · held
    double growth_factor = 2;   // geometric step while looking for the first failing (or holding) rate
    int64_t max_probes = 16;    // probes per bucket at most, the closed-loop one included
};

struct profile_config {
    std::string url = "http://127.0.0.1:8000";
    loadgen::api_endpoint endpoint = loadgen::api_endpoint::completions;
    std::string model;    // empty: the first id of GET /v1/models
    std::string gpu_name; // the profile's GPU key, e.g. "A10G" (what `llmfleet plan` matches to its catalog)
    planner::bucket_edges input_edges;
    planner::bucket_edges output_edges;
    slo_target slo;
    search_options search;
    int64_t requests_per_probe = 40;  // requests of one open-loop probe at most
    int64_t closed_loop_requests = 8; // requests of the closed-loop (one at a time) probe
    double max_probe_s = 30;          // an open-loop probe's arrivals span at most this long (fewer requests)
    double timeout_s = 60;            // longest silence while waiting for response bytes
    uint64_t seed = 0;                // arrivals and prompt contents (each probe derives its own)
    int32_t vocab_size = 256;         // prompt token ids are uniform in [0, vocab_size)
    std::string api_key;              // `Authorization: Bearer KEY` when not empty
    std::string out_path;             // the profile JSON (empty: not written)
    std::string calibration_out_path; // the calibration JSON (empty: not written)
};

// Checks ranges and combinations; throws invalid_argument naming the flag, the expected range and the value.
void validate(const profile_config& config);

// Requests of an open-loop probe at rate_rps: requests_per_probe, fewer when their arrivals would span more than
// max_probe_s (at least 2, so that a rate can be measured).
int64_t open_loop_requests(const profile_config& config, double rate_rps);

// The token count that stands for bucket i of `edges`: its midpoint (planner::bucket_edges::
// representative_tokens), rounded to the nearest integer, at least 1.
int64_t representative_length(const planner::bucket_edges& edges, int64_t i);

} // namespace llmfleet::profiler
