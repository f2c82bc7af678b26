// `llmfleet plan`: flags → scenario_options (or a Mélange input) → solve → validate → table / plan.json.
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/core.h>

#include "common/error.h"
#include "common/log.h"
#include "perf/joint_scenario.h"
#include "planner/melange_input.h"
#include "planner/plan_report.h"
#include "planner/plan_validator.h"
#include "planner/scenario.h"
#include "planner/solver.h"
#include "tools/commands.h"

namespace llmfleet::tools {

namespace {

using namespace llmfleet::planner;

struct plan_flags {
    scenario_options scenario;
    std::optional<double> ttft_ms;
    std::string trace_format;
    std::optional<int64_t> slices;
    bool compare = false;
    double time_limit_s = 60;
    std::optional<std::string> melange_path;
    std::string output = "table";
    std::optional<std::string> out_path;
    std::optional<std::string> write_profile_path;
    std::string capacity_model = "perf";
    bool joint = false;
    perf::deployment_options search;
    bool explain = false;
    std::vector<std::string> calibration_paths;
};

// Exit codes (documented in commands.h and docs/planner.md).
constexpr int exit_no_plan = 2;

plan solve_checked(const plan_problem& problem, const solve_options& options) {
    plan result = solve_plan(problem, options);
    const std::vector<std::string> violations = validate_plan(problem, result);
    if (!violations.empty()) {
        std::string text;
        for (const std::string& v : violations) {
            text += "\n  " + v;
        }
        throw error(status_code::internal, fmt::format("the plan validator rejected the solver's {} plan (a bug; "
                                                       "please report it with the inputs):{}",
                                                       to_string(options.mode), text));
    }
    return result;
}

int run_plan(const plan_flags& f) {
    plan_problem problem;
    plan_report report;
    solve_options options;
    options.time_limit_s = f.time_limit_s;
    if (f.melange_path) {
        melange_input in = load_melange_input(*f.melange_path);
        problem = std::move(in.problem);
        options.mode = plan_mode::slices;
        options.slice_factor = f.slices.value_or(in.slice_factor);
        report.context = {"", *f.melange_path, "Mélange gpu_info tputs", "Mélange gpu_info cost", {}, {}};
    } else {
        scenario_options so = f.scenario;
        so.target.ttft_ms = f.ttft_ms;
        if (!f.trace_format.empty()) {
            so.trace_format_override = parse_trace_format(f.trace_format);
        }
        scenario s;
        if (!f.calibration_paths.empty() && !f.joint && f.capacity_model != "perf") {
            throw invalid_input("--calibration applies to the performance model; drop --capacity-model roofline");
        }
        if (f.joint || f.capacity_model == "perf") {
            perf::joint_options jo;
            jo.search = f.joint ? f.search : perf::plain_search();
            const planner::gpu_catalog catalog =
                so.catalog_path ? load_gpu_catalog(*so.catalog_path) : builtin_gpu_catalog();
            for (const std::string& path : f.calibration_paths) {
                jo.params.add_file(path, catalog);
            }
            perf::joint_scenario js = perf::build_joint_scenario(so, jo);
            if (f.explain) {
                fmt::print("deployments considered: {} feasible of {}; rejected:\n{}", js.base.problem.n_gpus(),
                           js.candidates.size(), perf::explain_candidates(js.candidates));
            }
            s = std::move(js.base);
        } else {
            s = build_scenario(so);
        }
        if (f.write_profile_path) {
            std::ofstream(*f.write_profile_path) << profile_to_json(s.profile) << "\n";
        }
        problem = std::move(s.problem);
        report.context = {s.model_name, s.demand.source,  s.profile.source,
                          s.price_set,  s.target.tpot_ms, s.target.ttft_ms};
        if (f.slices) {
            options.mode = plan_mode::slices;
            options.slice_factor = *f.slices;
        }
    }
    report.result = solve_checked(problem, options);
    report.baseline = cheapest_single_type(problem);
    if (f.joint) {
        const plan_problem plain = with_offers(problem, [](const gpu_offer& o) { return o.config.gpu.empty(); });
        if (plain.n_gpus() > 0) {
            report.plain_only = solve_checked(plain, options);
        }
    }
    if (f.compare) {
        solve_options other = options;
        other.mode = options.mode == plan_mode::fractional ? plan_mode::slices : plan_mode::fractional;
        other.slice_factor = options.mode == plan_mode::fractional ? f.slices.value_or(4) : options.slice_factor;
        report.alternative = solve_checked(problem, other);
    }
    const std::string json = plan_to_json(problem, report);
    if (f.out_path) {
        std::ofstream out(*f.out_path);
        if (!(out << json << "\n")) {
            throw error(status_code::unavailable, fmt::format("--out: cannot write '{}'", *f.out_path));
        }
    }
    if (f.output == "json") {
        fmt::print("{}\n", json);
    } else {
        fmt::print("{}", format_plan_table(problem, report));
    }
    if (!report.result.has_solution()) {
        if (f.output == "json") { // the table already says why; JSON readers also get it on stderr
            LLMFLEET_LOG_ERROR("no plan: {}: {}", to_string(report.result.status), report.result.reason);
        }
        return exit_no_plan;
    }
    return 0;
}

} // namespace

command add_plan_command(CLI::App& app) {
    auto f = std::make_shared<plan_flags>();
    CLI::App* sub = app.add_subcommand("plan", "Pick the cheapest mix of GPU types for a workload under an SLO "
                                               "(Mélange method; fractional routing by default)");
    scenario_options& s = f->scenario;
    auto* model = sub->add_option("--model", s.model, "Built-in model architecture")->capture_default_str();
    sub->add_option("--model-config", s.model_config_path, "Hugging Face config.json instead of --model")
        ->excludes(model);
    auto* trace = sub->add_option("--trace", s.trace_path,
                                  "Trace: Azure LLM inference CSV or Mooncake JSONL "
                                  "(default: the built-in Azure conversation trace)");
    sub->add_option("--trace-format", f->trace_format, "azure | mooncake (default: from the file)");
    sub->add_option("--workload", s.workload_path, "Workload JSON: edges + distribution + total_rate_rps")
        ->excludes(trace);
    sub->add_option("--rate", s.rate_rps, "Total request rate, req/s (default: from the trace's timestamps)");
    sub->add_option("--input-edges", s.input_edges, "Input-length bucket edges, e.g. 1,25,100,250,500,1000");
    sub->add_option("--output-edges", s.output_edges, "Output-length bucket edges");
    sub->add_option("--tpot-ms", s.target.tpot_ms, "SLO: time per output token, ms")->capture_default_str();
    sub->add_option("--ttft-ms", f->ttft_ms, "SLO: time to first token, ms (optional)");
    sub->add_option("--profile", s.profile_path,
                    "Measured throughput profile JSON (`llmfleet profile`); default: the performance model");
    sub->add_option("--capacity-model", f->capacity_model,
                    "Throughputs without --profile: perf (the calibrated performance model, docs/perfmodel.md) | "
                    "roofline (the datasheet estimate, tunable with --bandwidth-efficiency ...)")
        ->check(CLI::IsMember({"perf", "roofline"}))
        ->capture_default_str();
    sub->add_flag("--joint", f->joint,
                  "Joint planning: choose GPU type × tensor/pipeline degree × engines per GPU (docs/planner.md)");
    sub->add_option("--tp", f->search.tp, "Joint: tensor-parallel degrees to consider")
        ->delimiter(',')
        ->capture_default_str();
    sub->add_option("--pp", f->search.pp, "Joint: pipeline-parallel degrees to consider")
        ->delimiter(',')
        ->capture_default_str();
    sub->add_option("--engines-per-gpu", f->search.engines_per_gpu, "Joint: engines per GPU (MPS) to consider")
        ->delimiter(',')
        ->capture_default_str();
    sub->add_flag("--explain", f->explain, "Joint: list every deployment rejected, with the reason");
    sub->add_option("--calibration", f->calibration_paths,
                    "Measured calibration from `llmfleet profile --calibration-out` (repeatable, one per GPU type): "
                    "its per-step overhead replaces the performance model's for that GPU type");
    sub->add_option("--write-profile", f->write_profile_path, "Write the profile used to this file");
    sub->add_option("--catalog", s.catalog_path, "GPU catalog JSON replacing the built-in one");
    sub->add_option("--prices", s.price_set, "Price set: neocloud | hyperscaler")->capture_default_str();
    sub->add_option("--price", s.price_overrides, "Override a price: GPU=USD_PER_HOUR (repeatable)");
    sub->add_option("--max-gpus", s.max_gpus, "Availability limit: GPU=COUNT (repeatable)");
    sub->add_option("--set", s.spec_overrides, "Override a GPU spec: GPU.FIELD=VALUE (repeatable)");
    sub->add_option("--gpus", s.gpu_names, "GPU types to consider (default: every type with a price)")->delimiter(',');
    sub->add_option("--max-utilisation", s.max_utilisation, "Capacity headroom: load <= this × GPUs")
        ->capture_default_str();
    sub->add_option("--bandwidth-efficiency", s.roofline.bandwidth_efficiency, "Roofline: achieved HBM fraction")
        ->capture_default_str();
    sub->add_option("--compute-efficiency", s.roofline.compute_efficiency, "Roofline: achieved BF16 fraction")
        ->capture_default_str();
    sub->add_option("--iteration-overhead-ms", s.roofline.iteration_overhead_ms, "Roofline: per-step overhead")
        ->capture_default_str();
    sub->add_option("--slices", f->slices, "Use Mélange's slice program with this slice factor");
    sub->add_flag("--compare", f->compare, "Also solve the other mode and print both costs");
    sub->add_option("--time-limit", f->time_limit_s, "Solver time limit, s")->capture_default_str();
    sub->add_option("--melange", f->melange_path, "Mélange's own input JSON (gpu_info, workload_distribution, ...)")
        ->excludes(trace)
        ->excludes(model);
    sub->add_option("--output", f->output, "table | json")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    sub->add_option("--out", f->out_path, "Also write plan.json to this file");
    return command{sub, [f] { return run_plan(*f); }};
}

} // namespace llmfleet::tools
