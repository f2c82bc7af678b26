// `llmfleet bench`: a load generator like `vllm bench serve`. Flags → bench_config → lengths (synthetic or from a
// trace parsed by the planner) and arrival offsets → request bodies → GET /v1/models probe → optional warmup →
// the measured run (progress bar on a terminal) → the report as a table or JSON on stdout, JSON to --out.
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "common/error.h"
#include "common/log.h"
#include "common/text.h"
#include "planner/trace.h"
#include "serve/loadgen/arrivals.h"
#include "serve/loadgen/report.h"
#include "serve/loadgen/runner.h"
#include "serve/loadgen/workload.h"
#include "tools/commands.h"

namespace llmfleet::tools {

namespace {

using namespace llmfleet::loadgen;

struct bench_flags {
    bench_config config;
    std::string endpoint = "completions";
    std::string request_rate = "inf";
    std::string arrivals = "poisson";
    std::string dataset = "random";
    std::string output = "text";
    std::string out_path;
    bool no_progress = false;
};

double parse_rate(const std::string& text) {
    if (text == "inf" || text == "infinity") {
        return unlimited_rate_rps;
    }
    return parse_double(text, "--request-rate");
}

// Each request holds a socket: raise the soft open-file limit to the hard one so that an open loop with
// thousands in flight does not fail on EMFILE, and say so when even the hard limit is too low.
void raise_open_file_limit(int64_t max_in_flight) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return;
    }
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur != RLIM_INFINITY && static_cast<int64_t>(limit.rlim_cur) < max_in_flight + 64) {
        LLMFLEET_LOG_WARN("up to {} requests may be in flight but only {} files may be open: the excess fail with "
                          "connect_failed; hint: set --max-concurrency or raise `ulimit -n`",
                          max_in_flight, limit.rlim_cur);
    }
}

// "[######......] 120/1000 done, 3 failed, 12.3 s" on stderr, redrawn in place.
void draw_progress(const run_progress& p) {
    constexpr int width = 30;
    const int filled = p.n_total > 0 ? static_cast<int>(width * p.n_done / p.n_total) : width;
    fmt::print(stderr, "\r[{}{}] {}/{} done, {} in flight, {} failed, {:.1f} s ", std::string(filled, '#'),
               std::string(width - filled, '.'), p.n_done, p.n_total, p.n_sent - p.n_done, p.n_failed, p.elapsed_s);
    std::fflush(stderr);
}

std::string failure_summary(const std::vector<request_record>& records) {
    std::map<std::string, int64_t> by_reason;
    for (const request_record& r : records) {
        if (!r.ok) {
            ++by_reason[r.error_reason];
        }
    }
    std::string text;
    for (const auto& [reason, count] : by_reason) {
        text += fmt::format("{}{} ×{}", text.empty() ? "" : ", ", reason, count);
    }
    return text;
}

int run_bench(bench_flags& f) {
    bench_config& c = f.config;
    c.endpoint = parse_api_endpoint(f.endpoint);
    c.arrivals = parse_arrival_kind(f.arrivals);
    c.dataset = parse_dataset_kind(f.dataset);
    c.request_rate_rps = parse_rate(f.request_rate);
    if (f.output != "text" && f.output != "json") {
        throw invalid_input(fmt::format("--output: expected text or json, got `{}`", f.output));
    }
    if (c.api_key.empty()) {
        if (const char* key = std::getenv("OPENAI_API_KEY"); key != nullptr) {
            c.api_key = key;
        }
    }
    validate(c);
    const auto n = static_cast<size_t>(c.n_requests);

    // Lengths and arrival times. The trace (when one is used) is parsed here, so loadgen stays free of planner.
    std::vector<request_lengths> trace_source;
    std::vector<double> trace_arrivals_s;
    if (!c.trace_path.empty()) {
        const planner::trace t = planner::load_trace(c.trace_path, std::nullopt);
        for (const planner::trace_request& r : t.requests) {
            trace_source.push_back({r.input_tokens, r.output_tokens});
            trace_arrivals_s.push_back(r.arrival_s);
        }
    }
    const auto lengths_for = [&](size_t count, uint64_t seed) {
        return c.dataset == dataset_kind::trace
                   ? trace_lengths(trace_source, count, c.max_input_len, c.max_output_len)
                   : synthetic_lengths(c.input_len, c.output_len, c.range_ratio, count, seed);
    };
    const std::vector<double> offsets_s =
        arrival_offsets_s({c.arrivals, c.request_rate_rps, c.burstiness, c.seed}, n, trace_arrivals_s);

    runner_options ro;
    ro.url = c.url;
    ro.endpoint = c.endpoint;
    ro.stream = c.stream;
    ro.api_key = c.api_key;
    ro.max_concurrency = c.max_concurrency;
    ro.timeout_s = c.timeout_s;
    ro.n_io_threads = c.n_io_threads;
    bench_runner runner(ro);
    const server_probe probe = runner.probe(); // throws (exit 1) when the server cannot be reached
    if (c.model.empty()) {
        if (probe.model_ids.empty()) {
            throw invalid_input(fmt::format("GET {}/v1/models answered {} without a model id ({}); hint: pass --model "
                                            "NAME",
                                            c.url, probe.status, probe.detail));
        }
        c.model = probe.model_ids.front();
    }
    raise_open_file_limit(c.max_concurrency > 0 ? c.max_concurrency : c.n_requests);

    request_body_options bo;
    bo.endpoint = c.endpoint;
    bo.model = c.model;
    bo.stream = c.stream;
    bo.ignore_eos = c.ignore_eos;
    bo.vocab_size = c.vocab_size;
    const std::vector<prepared_request> requests = build_requests(lengths_for(n, c.seed), bo, c.seed);
    fmt::print(stderr,
               "llmfleet bench: {} requests to {}{} (model `{}`), arrivals {} at {} req/s, max concurrency {}, "
               "dataset {}, stream {}, seed {}, {} io thread(s)\n",
               c.n_requests, c.url, api_path(c.endpoint), c.model, to_string(c.arrivals),
               std::isinf(c.request_rate_rps) ? "inf" : fmt::format("{:g}", c.request_rate_rps),
               c.max_concurrency > 0 ? std::to_string(c.max_concurrency) : "unlimited", to_string(c.dataset),
               c.stream ? "on" : "off", c.seed, c.n_io_threads);

    if (c.n_warmup > 0) {
        // Other prompt contents (seed + 1), so the measured requests get no prefix-cache hits from the warmup.
        const std::vector<prepared_request> warm =
            build_requests(lengths_for(static_cast<size_t>(c.n_warmup), c.seed + 1), bo, c.seed + 1);
        const std::vector<request_record> records = runner.warmup(warm);
        const std::string failures = failure_summary(records);
        if (!failures.empty()) {
            LLMFLEET_LOG_WARN("warmup: requests failed ({}); the measured run goes on", failures);
        }
    }

    const bool show_progress = !f.no_progress && isatty(STDERR_FILENO) == 1;
    const run_result result =
        runner.run(requests, offsets_s, show_progress ? progress_callback(draw_progress) : nullptr);
    if (show_progress) {
        fmt::print(stderr, "\n");
    }
    const bench_report report = make_report(c, c.model, result.records, result.duration_s, result.peak_in_flight);
    const std::string json = to_json_text(report);
    if (!f.out_path.empty()) {
        std::ofstream out(f.out_path);
        if (!(out << json)) {
            throw error(status_code::unavailable, fmt::format("--out: cannot write '{}'", f.out_path));
        }
    }
    fmt::print("{}", f.output == "json" ? json : to_text(report));
    if (report.n_failed > 0) {
        LLMFLEET_LOG_WARN("{} of {} requests failed: {}", report.n_failed, c.n_requests,
                          failure_summary(result.records));
    }
    return 0;
}

} // namespace

command add_bench_command(CLI::App& app) {
    auto f = std::make_shared<bench_flags>();
    bench_config& c = f->config;
    CLI::App* sub = app.add_subcommand("bench", "Load-test an OpenAI-compatible server (like `vllm bench serve`): "
                                                "req/s, tok/s, TTFT / TPOT / ITL / end-to-end percentiles");
    sub->add_option("--url", c.url, "Server base URL, http://HOST:PORT")->capture_default_str();
    sub->add_option("--endpoint", f->endpoint, "completions | chat")->capture_default_str();
    sub->add_option("--model", c.model, "Model id to send (default: the first id of GET /v1/models)");
    sub->add_option("--num-requests", c.n_requests, "Measured requests")->capture_default_str();
    sub->add_option("--request-rate", f->request_rate, "Mean arrival rate, req/s, or inf (all due at once)")
        ->capture_default_str();
    sub->add_option("--arrivals", f->arrivals, "poisson | fixed | trace (the trace's timestamps)")
        ->capture_default_str();
    sub->add_option("--burstiness", c.burstiness, "Gamma shape of the gaps (1: Poisson; < 1 burstier)")
        ->capture_default_str();
    sub->add_option("--max-concurrency", c.max_concurrency,
                    "Requests in flight at most (0: no limit; with "
                    "--request-rate inf a closed loop)")
        ->capture_default_str();
    sub->add_option("--dataset", f->dataset, "random | trace (prompt / output lengths)")->capture_default_str();
    sub->add_option("--trace", c.trace_path,
                    "Azure LLM inference CSV or Mooncake JSONL (for --dataset / "
                    "--arrivals trace)");
    sub->add_option("--input-len", c.input_len, "Prompt tokens (random dataset)")->capture_default_str();
    sub->add_option("--output-len", c.output_len, "Output tokens = max_tokens (random dataset)")->capture_default_str();
    sub->add_option("--range-ratio", c.range_ratio, "Lengths uniform in [len·(1−r), len·(1+r)]")->capture_default_str();
    sub->add_option("--max-input-len", c.max_input_len, "Clip trace prompt lengths (0: no clip)")
        ->capture_default_str();
    sub->add_option("--max-output-len", c.max_output_len, "Clip trace output lengths (0: no clip)")
        ->capture_default_str();
    sub->add_option("--seed", c.seed, "Seed of arrivals, lengths and prompts")->capture_default_str();
    sub->add_option("--vocab-size", c.vocab_size, "Prompt token ids are uniform below this")->capture_default_str();
    sub->add_flag("--stream,!--no-stream", c.stream, "Stream (SSE) and measure TTFT / ITL (default on)");
    sub->add_flag("--ignore-eos,!--no-ignore-eos", c.ignore_eos, "Generate exactly max_tokens (default on)");
    sub->add_option("--api-key", c.api_key, "Send `Authorization: Bearer KEY` (default: $OPENAI_API_KEY)");
    sub->add_option("--timeout-s", c.timeout_s, "Longest wait for the next response byte")->capture_default_str();
    sub->add_option("--warmup", c.n_warmup, "Requests sent one at a time before the run, not measured")
        ->capture_default_str();
    sub->add_option("--io-threads", c.n_io_threads, "HTTP client io threads")->capture_default_str();
    sub->add_option("--output", f->output, "text | json (stdout)")->capture_default_str();
    sub->add_option("--out", f->out_path, "Also write the JSON report to this file");
    sub->add_flag("--no-progress", f->no_progress, "No progress bar (it is drawn only when stderr is a terminal)");
    return command{sub, [f] { return run_bench(*f); }};
}

} // namespace llmfleet::tools
