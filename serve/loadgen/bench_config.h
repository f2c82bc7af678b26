// The settings of one `llmfleet bench` run (flags, as plain data) and their enums: which API to call, how
// requests arrive, where prompt lengths come from. Shared by the workload builder, the runner and the report,
// which echoes them (without the API key) so that a result file says how it was produced.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace llmfleet::loadgen {

enum class api_endpoint {
    completions, // POST /v1/completions with "prompt": [token ids]
    chat,        // POST /v1/chat/completions with one user message of N words
};
std::string_view to_string(api_endpoint endpoint);
api_endpoint parse_api_endpoint(std::string_view text); // throws invalid_argument naming --endpoint
std::string_view api_path(api_endpoint endpoint);       // "/v1/completions" or "/v1/chat/completions"

enum class arrival_kind {
    poisson, // gamma-distributed gaps with shape `burstiness` (1: exponential, i.e. a Poisson process)
    fixed,   // exactly 1 / rate apart
    trace,   // the trace's own timestamps, rescaled to the requested rate when one is given
};
std::string_view to_string(arrival_kind kind);
arrival_kind parse_arrival_kind(std::string_view text); // throws invalid_argument naming --arrivals

enum class dataset_kind {
    random, // synthetic lengths around --input-len / --output-len
    trace,  // the lengths of the trace's requests, in order
};
std::string_view to_string(dataset_kind kind);
dataset_kind parse_dataset_kind(std::string_view text); // throws invalid_argument naming --dataset

inline constexpr double unlimited_rate_rps = std::numeric_limits<double>::infinity();

struct bench_config {
    std::string url = "http://127.0.0.1:8000";
    api_endpoint endpoint = api_endpoint::completions;
    std::string model;                            // empty: the first id of GET /v1/models
    int64_t n_requests = 1000;                    // measured requests (warmup ones not included)
    double request_rate_rps = unlimited_rate_rps; // inf: every request is due at once
    arrival_kind arrivals = arrival_kind::poisson;
    double burstiness = 1.0;     // gamma shape of the gaps; < 1 burstier, > 1 more regular than Poisson
    int64_t max_concurrency = 0; // requests in flight at most (0: no limit); with inf rate a closed loop
    dataset_kind dataset = dataset_kind::random;
    std::string trace_path;     // Azure CSV or Mooncake JSONL (dataset or arrivals trace)
    int64_t input_len = 128;    // tokens (random dataset)
    int64_t output_len = 128;   // tokens = max_tokens (random dataset)
    double range_ratio = 0.0;   // lengths uniform in [len·(1−r), len·(1+r)], r in [0, 1)
    int64_t max_input_len = 0;  // clip trace prompt lengths to this many tokens (0: no clip)
    int64_t max_output_len = 0; // clip trace output lengths (0: no clip)
    uint64_t seed = 0;          // arrivals, lengths and prompt contents
    int32_t vocab_size = 256;   // prompt token ids are uniform in [0, vocab_size)
    bool stream = true;         // SSE streaming (TTFT / ITL measured); false: TTFT = end-to-end
    bool ignore_eos = true;     // generate exactly max_tokens
    std::string api_key;        // sent as `Authorization: Bearer KEY` when not empty; never reported
    double timeout_s = 600;     // longest silence while waiting for response bytes
    int64_t n_warmup = 0;       // requests sent one at a time before the measured run, not reported
    int32_t n_io_threads = 1;   // client io threads (1 or 2 keep the client cheap)
};

// Checks ranges and combinations; throws invalid_argument naming the flag, the expected range and the value.
void validate(const bench_config& config);

} // namespace llmfleet::loadgen
