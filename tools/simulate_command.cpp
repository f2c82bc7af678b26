// `llmfleet simulate`: plan.json + model + GPU catalog → pools of simulated replicas (sim/plan_cluster.h); a trace
// or a Poisson process → arrivals (sim/arrivals.h); the discrete-event simulation (sim/simulator.h) → the report as
// a table or JSON (schema llmfleet.simulate.v1). See docs/simulate.md.
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/core.h>

#include "common/error.h"
#include "common/log.h"
#include "common/text.h"
#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"
#include "planner/trace.h"
#include "serve/router/routing_policy.h"
#include "sim/arrivals.h"
#include "sim/plan_cluster.h"
#include "sim/simulator.h"
#include "tools/commands.h"

namespace llmfleet::tools {

namespace {

struct simulate_flags {
    std::string plan_path;
    std::optional<std::string> trace_path;
    std::string trace_format;
    std::optional<double> poisson_rate_rps;
    std::optional<int32_t> input_len;
    std::optional<int32_t> output_len;
    std::optional<int64_t> n_requests;
    std::optional<double> rate_rps;
    std::optional<int64_t> max_requests;
    std::optional<std::string> model;
    std::optional<std::string> model_config_path;
    std::optional<double> slo_tpot_ms;
    std::optional<double> slo_ttft_ms;
    std::string policy = "least-tokens";
    uint64_t seed = 0;
    std::string output = "text";
    std::optional<std::string> catalog_path;
    std::vector<std::string> calibration_paths;
    int64_t max_outstanding_per_backend = 256;
    int32_t max_model_len = 0;
    bool max_tokens_known = false;
    std::optional<std::string> out_path;
};

planner::model_arch resolve_model(const simulate_flags& f, const sim::plan_summary& plan) {
    if (f.model_config_path) {
        return planner::load_hf_config(*f.model_config_path);
    }
    if (f.model) {
        return planner::find_builtin_model(*f.model);
    }
    if (plan.model.empty()) {
        throw invalid_input(fmt::format("{}: the plan names no model (inputs.model); hint: pass --model NAME or "
                                        "--model-config config.json",
                                        f.plan_path));
    }
    try {
        return planner::find_builtin_model(plan.model);
    } catch (const error& e) {
        throw e.with_context(
            fmt::format("{}: inputs.model (hint: pass --model-config for a custom model)", f.plan_path));
    }
}

sim::arrivals make_arrivals(const simulate_flags& f) {
    std::optional<planner::trace_format> format;
    if (!f.trace_format.empty()) {
        format = planner::parse_trace_format(f.trace_format);
    }
    if (!f.poisson_rate_rps) {
        if (!f.trace_path) {
            throw invalid_input("no arrivals: expected --trace FILE, or --poisson-rate R with --n-requests K and "
                                "either --input-len N --output-len M or --trace FILE (lengths sampled from it)");
        }
        if (f.input_len || f.output_len || f.n_requests) {
            throw invalid_input("--input-len / --output-len / --n-requests apply to --poisson-rate; with --trace alone "
                                "the trace gives lengths and times (use --max-requests to shorten it)");
        }
        const planner::trace t = planner::load_trace(*f.trace_path, format);
        return sim::arrivals_from_trace(t, {f.rate_rps, f.max_requests});
    }
    if (f.rate_rps || f.max_requests) {
        throw invalid_input("--rate / --max-requests rescale and cut a trace's own timestamps; with --poisson-rate "
                            "give the rate there and the count with --n-requests");
    }
    if (!f.n_requests) {
        throw invalid_input("--poisson-rate needs --n-requests K (how many requests to simulate)");
    }
    sim::poisson_options p;
    p.rate_rps = *f.poisson_rate_rps;
    p.n_requests = *f.n_requests;
    p.seed = f.seed;
    std::optional<planner::trace> lengths;
    if (f.trace_path) {
        if (f.input_len || f.output_len) {
            throw invalid_input("--input-len / --output-len and --trace both give lengths: pass one of them");
        }
        lengths = planner::load_trace(*f.trace_path, format);
        p.length_source = &*lengths;
    } else {
        p.input_tokens = f.input_len.value_or(0);
        p.output_tokens = f.output_len.value_or(0);
    }
    return sim::poisson_arrivals(p);
}

int run_simulate(const simulate_flags& f) {
    const std::string plan_text = read_file(f.plan_path, "plan (plan.json)");
    const sim::plan_summary plan = sim::parse_plan_summary(plan_text, f.plan_path);
    const planner::model_arch model = resolve_model(f, plan);
    const planner::gpu_catalog catalog =
        f.catalog_path ? planner::load_gpu_catalog(*f.catalog_path) : planner::builtin_gpu_catalog();
    perf::params_overrides params;
    for (const std::string& path : f.calibration_paths) {
        params.add_file(path, catalog);
    }
    const sim::cluster_spec cluster = sim::cluster_from_plan(plan_text, f.plan_path, model, catalog, &params);
    const sim::arrivals input = make_arrivals(f);

    sim::simulator_options o;
    o.replica.max_model_len = f.max_model_len;
    o.routing.policy = serve::parse_routing_policy(f.policy);
    o.routing.max_outstanding_per_backend = f.max_outstanding_per_backend;
    o.max_tokens_known = f.max_tokens_known;
    o.slo_tpot_ms = f.slo_tpot_ms.value_or(plan.tpot_ms.value_or(50));
    o.slo_ttft_ms = f.slo_ttft_ms ? f.slo_ttft_ms : plan.ttft_ms;
    int64_t n_replicas = 0;
    for (const sim::pool_spec& p : cluster.pools) {
        n_replicas += p.n_replicas;
    }
    LLMFLEET_LOG_INFO("llmfleet simulate: {} on {} ({} pools, {} replicas), {} requests from {}, policy {}, seed {}",
                      model.name, f.plan_path, cluster.pools.size(), n_replicas, input.requests.size(), input.source,
                      f.policy, f.seed);
    const sim::sim_report report = sim::simulate(cluster, input, o);
    const std::string json = sim::report_to_json(report);
    if (f.out_path) {
        std::ofstream out(*f.out_path);
        if (!(out << json << "\n")) {
            throw error(status_code::unavailable, fmt::format("--out: cannot write '{}'", *f.out_path));
        }
    }
    if (f.output == "json") {
        fmt::print("{}\n", json);
    } else {
        fmt::print("{}", sim::format_report_text(report));
    }
    return 0;
}

} // namespace

command add_simulate_command(CLI::App& app) {
    auto f = std::make_shared<simulate_flags>();
    CLI::App* sub =
        app.add_subcommand("simulate", "Discrete-event simulation of a plan's fleet (the engine's scheduler "
                                       "and the router's policies, step times from the performance "
                                       "model): SLO attainment, latency percentiles, utilisation, cost");
    sub->add_option("--plan", f->plan_path, "plan.json from `llmfleet plan` (pools, counts, prices, routing table)")
        ->required();
    sub->add_option("--trace", f->trace_path,
                    "Trace (Azure CSV or Mooncake JSONL): arrival times and lengths, or only lengths with "
                    "--poisson-rate");
    sub->add_option("--trace-format", f->trace_format, "azure | mooncake (default: from the file)");
    sub->add_option("--poisson-rate", f->poisson_rate_rps, "Synthetic Poisson arrivals at this rate, req/s");
    sub->add_option("--input-len", f->input_len, "Poisson: prompt tokens of every request");
    sub->add_option("--output-len", f->output_len, "Poisson: output tokens of every request");
    sub->add_option("--n-requests", f->n_requests, "Poisson: number of requests");
    sub->add_option("--rate", f->rate_rps, "Trace: rescale timestamps to this mean rate, req/s");
    sub->add_option("--max-requests", f->max_requests, "Trace: simulate only the first N requests");
    auto* model = sub->add_option("--model", f->model, "Built-in model (default: the plan's inputs.model)");
    sub->add_option("--model-config", f->model_config_path, "Hugging Face config.json instead of --model")
        ->excludes(model);
    sub->add_option("--slo-tpot-ms", f->slo_tpot_ms, "SLO: time per output token, ms (default: the plan's, else 50)");
    sub->add_option("--slo-ttft-ms", f->slo_ttft_ms, "SLO: time to first token, ms (default: the plan's, else none)");
    sub->add_option("--policy", f->policy, "Backend choice within a pool: round-robin | least-requests | least-tokens")
        ->check(CLI::IsMember({"round-robin", "least-requests", "least-tokens"}))
        ->capture_default_str();
    sub->add_option("--max-outstanding-per-backend", f->max_outstanding_per_backend,
                    "The router's circuit breaker: a replica with this many requests in flight is skipped (429 "
                    "when all are)")
        ->capture_default_str();
    sub->add_option("--max-model-len", f->max_model_len, "Tokens per request at most (0: the replica's KV pool)")
        ->capture_default_str();
    sub->add_flag("--max-tokens-known", f->max_tokens_known,
                  "Clients send max_tokens = the output length (caps the router's output prediction)");
    sub->add_option("--seed", f->seed, "Seed of the Poisson process")->capture_default_str();
    sub->add_option("--catalog", f->catalog_path, "GPU catalog JSON replacing the built-in one");
    sub->add_option("--calibration", f->calibration_paths,
                    "Measured calibration from `llmfleet profile --calibration-out` (repeatable, one per GPU type)");
    sub->add_option("--output", f->output, "text | json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    sub->add_option("--out", f->out_path, "Also write the JSON report to this file");
    return command{sub, [f] { return run_simulate(*f); }};
}

} // namespace llmfleet::tools
