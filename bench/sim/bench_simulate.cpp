// bench_simulate: how fast the simulator runs. The Azure conversation trace repeated back to back to N requests
// (default 1M) and rescaled to a rate the pool can serve, on a pool of replicas of a real model (perf's calibrated
// replica model) or of a fixed affine step time (--affine: isolates the simulator's own cost from the perf model).
// Prints a table (requests, wall s, requests/min, events/s) plus the simulated outcome, or JSON.
#include <chrono>
#include <ctime>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "perf/affine_model.h"
#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"
#include "planner/trace.h"
#include "sim/arrivals.h"
#include "sim/simulator.h"

namespace {

using namespace llmfleet;

using perf::affine_model; // a fixed affine step time, to time the simulator alone

struct bench_flags {
    std::string trace_path = std::string(LLMFLEET_SOURCE_DIR) + "/data/traces/AzureLLMInferenceTrace_conv.csv";
    int64_t n_requests = 1'000'000;
    double rate_per_replica_rps = 8; // ~99.8% SLO attainment at TPOT 50 ms for Llama-3-8B on H100
    int32_t n_replicas = 4;
    std::string model = "Llama-3-8B";
    std::string gpu = "H100-SXM";
    int32_t tp = 1;
    bool affine = false;
    std::string output = "text";
};

int run(const bench_flags& f) {
    const auto t0 = std::chrono::steady_clock::now();
    const planner::trace base = planner::load_trace(f.trace_path, std::nullopt);
    const planner::trace big = sim::repeat_trace(base, f.n_requests);
    const double rate_rps = f.rate_per_replica_rps * f.n_replicas;
    const sim::arrivals input = sim::arrivals_from_trace(big, {rate_rps, {}});
    const double prepare_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::shared_ptr<const perf::replica_model> model;
    std::string model_label;
    if (f.affine) {
        model = std::make_shared<affine_model>(8.0, 0.05, 500'000);
        model_label = model->describe();
    } else {
        const planner::gpu_catalog catalog = planner::builtin_gpu_catalog();
        perf::deployment d;
        d.gpu = f.gpu;
        d.tp = f.tp;
        model = perf::make_replica_model(planner::find_builtin_model(f.model), catalog.get(f.gpu, "--gpu"), d);
        model_label = fmt::format("{} on {}: {}", f.model, d.label(), model->describe());
    }
    sim::cluster_spec cluster;
    cluster.pools.push_back(sim::make_pool(f.gpu, model, f.n_replicas));
    cluster.model_name = f.model;
    // CPU time too: on a shared 2-vCPU VM, wall time depends on the neighbours; the simulation is one thread.
    const std::clock_t cpu_start = std::clock();
    const sim::sim_report r = sim::simulate(cluster, input, sim::simulator_options{});
    const double cpu_s = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;

    const double per_min = r.requests_per_wall_s * 60;
    const double per_cpu_min = cpu_s > 0 ? static_cast<double>(r.n_requests) / cpu_s * 60 : 0;
    if (f.output == "json") {
        nlohmann::ordered_json j;
        j["requests"] = r.n_requests;
        j["replicas"] = f.n_replicas;
        j["rate_rps"] = rate_rps;
        j["model"] = model_label;
        j["prepare_s"] = prepare_s;
        j["wall_s"] = r.wall_s;
        j["requests_per_min"] = per_min;
        j["cpu_s"] = cpu_s;
        j["requests_per_cpu_min"] = per_cpu_min;
        j["events"] = r.n_events;
        j["events_per_s"] = r.events_per_wall_s;
        j["slo_attainment"] = r.slo_attainment;
        j["utilisation"] = r.pools[0].utilisation;
        j["mean_batch_size"] = r.pools[0].mean_batch_size;
        fmt::print("{}\n", j.dump(2));
        return 0;
    }
    fmt::print("bench_simulate: {} ×{} replicas, {} requests at {:.1f} req/s ({})\n", f.gpu, f.n_replicas, r.n_requests,
               rate_rps, input.source);
    fmt::print("model: {}\n", model_label);
    fmt::print("trace load + repeat: {:.2f} s (not counted below)\n\n", prepare_s);
    fmt::print("{:>10} {:>9} {:>14} {:>8} {:>16} {:>12} {:>12} {:>12}\n", "requests", "wall s", "requests/min", "CPU s",
               "requests/CPU min", "events", "events/s", "steps");
    fmt::print("{:>10} {:>9.2f} {:>14.0f} {:>8.2f} {:>16.0f} {:>12} {:>12.0f} {:>12}\n", r.n_requests, r.wall_s,
               per_min, cpu_s, per_cpu_min, r.n_events, r.events_per_wall_s, r.pools[0].n_steps);
    fmt::print("\nsimulated: {:.0f} s, SLO attainment {:.2f}%, utilisation {:.1f}%, mean batch {:.1f}, {} rejected, "
               "{} preemptions, TTFT p99 {:.0f} ms, TPOT p99 {:.1f} ms\n",
               r.span_s, 100 * r.slo_attainment, 100 * r.pools[0].utilisation, r.pools[0].mean_batch_size, r.n_rejected,
               r.pools[0].n_preemptions, r.ttft.p99_ms, r.tpot.p99_ms);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"bench_simulate: simulator speed on the Azure conversation trace repeated to N requests"};
    bench_flags f;
    app.add_option("--trace", f.trace_path, "Trace to repeat")->capture_default_str();
    app.add_option("--requests", f.n_requests, "Requests to simulate")->capture_default_str();
    app.add_option("--rate-per-replica", f.rate_per_replica_rps, "Arrival rate per replica, req/s")
        ->capture_default_str();
    app.add_option("--replicas", f.n_replicas, "Replicas in the pool")->capture_default_str();
    app.add_option("--model", f.model, "Built-in model")->capture_default_str();
    app.add_option("--gpu", f.gpu, "GPU type from the built-in catalog")->capture_default_str();
    app.add_option("--tp", f.tp, "Tensor-parallel degree")->capture_default_str();
    app.add_flag("--affine", f.affine, "Fixed affine step time instead of the perf model");
    app.add_option("--output", f.output, "text | json")->check(CLI::IsMember({"text", "json"}));
    CLI11_PARSE(app, argc, argv);
    try {
        return run(f);
    } catch (const llmfleet::error& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 1;
    }
}
