// The pure parts of serve_matrix (issue 7's benchmark: 1 engine vs 2 and 3 engines with MPS vs 2 engines without,
// per model and workload, all through `llmfleet serve` and measured with `llmfleet bench`): the matrix spec, the
// command lines of serve and bench for one cell, a bench report read back into the figures the table shows, and the
// table with each row's gain over the one-engine row of its model and workload. No process, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace llmfleet::bench {

// How many engines share the host's one GPU (or its CPU), and whether under MPS.
struct fleet_shape {
    int64_t n_engines = 1;
    bool mps = false;
    std::string label() const; // "1 engine", "2 engines + MPS", "2 engines, no MPS"
};

// "1,2:mps,3:mps,2:nomps" (a bare count means no MPS). Throws invalid_input naming the bad item.
std::vector<fleet_shape> parse_fleet_shapes(std::string_view csv);

// One load: a closed loop of `concurrency` users sending n_requests requests of input_len prompt tokens and exactly
// output_len output tokens (ignore_eos).
struct workload_shape {
    int64_t input_len = 128;
    int64_t output_len = 128;
    int64_t concurrency = 64;
    std::string label() const; // "128/128"
};

// "128x128,1024x16@32": input x output [@ concurrency], default_concurrency where @ is absent.
std::vector<workload_shape> parse_workloads(std::string_view csv, int64_t default_concurrency);

// Where the engines run: `gpu` starts `serve --gpus <gpu> --engines-per-gpu N --mps on|off`, `cpu` starts
// `serve --engines N` (an MPS shape is refused there).
enum class host_kind { cpu, gpu };
std::string_view to_string(host_kind kind);
host_kind parse_host_kind(std::string_view text); // "cpu" | "gpu"

struct cell_settings {
    host_kind host = host_kind::gpu;
    std::string gpu = "0";               // --gpus
    std::vector<std::string> serve_args; // passed to every serve as is (e.g. --kv-cache-gib 0.05)
    int64_t n_requests = 256;            // measured requests per workload
    int64_t n_warmup = 8;                // unmeasured requests first (CUDA graphs, allocator, connections)
    uint64_t seed = 0;
    double bench_timeout_s = 600; // longest silence per request (bench --timeout-s)
};

// Throws invalid_input for a shape this host cannot run (MPS on a CPU host).
void check_fleet_shape(host_kind host, const fleet_shape& shape);

// `llmfleet serve` arguments (without the program) for a model and a shape; the router takes a free port and the
// run directory is kept for the logs. Throws invalid_input for an MPS shape on a CPU host (check_fleet_shape).
std::vector<std::string> serve_command(const cell_settings& s, const std::string& model_dir, const fleet_shape& shape,
                                       const std::string& run_dir);
// `llmfleet bench` arguments (without the program) for one workload against `url`, JSON on stdout.
std::vector<std::string> bench_command(const cell_settings& s, const std::string& url, const workload_shape& w);

// The router's address from serve's start-up line ("... behind the router on http://HOST:PORT (MPS ..."); nullopt
// until the line is there.
std::optional<std::string> router_url_of(std::string_view serve_output);

// Why serve stopped, from its output: its final "error: ..." line, else its last [error] log line, else its last line
// (at most 400 characters).
std::string serve_failure_of(std::string_view serve_output);

// Engines GET /fleet/engines reports attached to their MPS daemon; -1 when none reports attachment (no MPS).
int64_t count_mps_attached(const nlohmann::json& fleet_engines);

// What the table shows of one `llmfleet bench --output json` report (schema llmfleet.bench.v1).
struct bench_figures {
    int64_t n_completed = 0;
    int64_t n_failed = 0;
    std::string failures; // "http_503 ×3, timeout ×1" (empty: none)
    double duration_s = 0;
    double request_throughput_rps = 0;
    double output_token_throughput_tps = 0;
    double total_token_throughput_tps = 0;
    double ttft_p50_ms = 0, ttft_p99_ms = 0;
    double tpot_p50_ms = 0, tpot_p99_ms = 0;
};
// Throws invalid_input when the JSON is not a llmfleet.bench.v1 report (common/json_read: the field's path).
bench_figures read_bench_report(const nlohmann::json& report);

// One cell of the matrix: a model, a fleet shape and a workload, and what came of it.
struct matrix_row {
    std::string model; // label (the model directory's name)
    fleet_shape shape;
    workload_shape workload;
    std::optional<bench_figures> figures; // nullopt: the cell failed (`error` says why)
    std::string error;                    // serve did not start, bench failed, ...
    int64_t n_mps_attached = -1;          // engines in the daemon's client list (-1: not an MPS shape or unknown)
    double serve_start_s = 0;             // launch → the router's start-up line (all engines ready)
};

// Gain in % of a row's request throughput over the one-engine row of the same model and workload (the first such
// row with figures); nullopt for that row itself or when there is none. Same workload, so the same gain in tokens.
std::optional<double> gain_pct(const std::vector<matrix_row>& rows, size_t i);

// The Markdown table: model | in/out | fleet | req/s | output tok/s | TTFT p50 / p99 | TPOT p50 / p99 | gain | notes.
std::string to_markdown(const std::vector<matrix_row>& rows);
// Rows as JSON (figures flattened, gain included), for --out.
nlohmann::ordered_json to_json(const std::vector<matrix_row>& rows);

} // namespace llmfleet::bench
