// The only part of the load generator that touches the network: sends prepared requests at their due times over
// one serve::http_client (one or two io threads, keep-alive pools, no thread per request), caps the requests in
// flight, and turns each exchange into a request_record through a response_tracker. Errors never abort a run:
// every request ends as a record, failed ones with their reason.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "serve/loadgen/bench_config.h"
#include "serve/loadgen/response_tracker.h"
#include "serve/loadgen/workload.h"

namespace llmfleet::loadgen {

struct runner_options {
    std::string url = "http://127.0.0.1:8000"; // http://HOST:PORT (no path)
    api_endpoint endpoint = api_endpoint::completions;
    bool stream = true;          // must match how the bodies were built
    std::string api_key;         // `Authorization: Bearer KEY` when not empty
    int64_t max_concurrency = 0; // requests in flight at most (0: no limit)
    double timeout_s = 600;      // longest silence while waiting for response bytes (client idle timeout)
    int32_t n_io_threads = 1;    // the client's io threads
    double progress_interval_s = 0.1;
};

// What GET /v1/models answered.
struct server_probe {
    int status = 0;                     // HTTP status
    std::vector<std::string> model_ids; // data[].id when the body is an OpenAI model list
    std::string detail;                 // the error message or the start of the body when not a list
};

struct run_progress {
    int64_t n_total = 0;
    int64_t n_sent = 0;
    int64_t n_done = 0;   // completed or failed
    int64_t n_failed = 0; //
    double elapsed_s = 0; // since the first send
};
using progress_callback = std::function<void(const run_progress&)>;

struct run_result {
    std::vector<request_record> records; // one per request, in request order; send_s from the first send
    double duration_s = 0;               // first send → last response byte
    int64_t peak_in_flight = 0;          // most requests in flight at once
};

// not thread-safe: one run at a time, from one thread.
class bench_runner {
public:
    // Parses the URL (throws invalid_argument naming it) and starts the client.
    explicit bench_runner(runner_options options);
    ~bench_runner();
    bench_runner(const bench_runner&) = delete;
    bench_runner& operator=(const bench_runner&) = delete;

    // GET /v1/models. Throws error(unavailable) naming the URL and a hint when the server cannot be reached
    // (connect failed, timed out, or no HTTP answer); any HTTP answer, even an error status, is returned.
    server_probe probe();
    // Sends requests[i] at offsets_s[i] seconds after the start (later when max_concurrency requests are in
    // flight: then as soon as one finishes) and waits for every response. `progress` runs on the calling thread
    // every progress_interval_s and once at the end. note: offsets_s.size() == requests.size(), non-decreasing.
    run_result run(std::span<const prepared_request> requests, std::span<const double> offsets_s,
                   const progress_callback& progress = {});
    // Sends the requests one at a time (not measured) and returns their records, e.g. to report failures.
    std::vector<request_record> warmup(std::span<const prepared_request> requests);

private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

} // namespace llmfleet::loadgen
