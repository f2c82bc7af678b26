// Assembles a planning problem from user-facing inputs: catalog + price set + overrides, workload
// (trace, matrix file or the built-in Azure conversation trace), model, SLO and profile (file or the
// roofline capacity model). The CLI only parses flags into scenario_options.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "planner/capacity_model.h"
#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"
#include "planner/plan.h"
#include "planner/profile.h"
#include "planner/trace.h"
#include "planner/workload.h"

namespace llmfleet::planner {

struct scenario_options {
    std::optional<std::string> catalog_path; // replaces the built-in catalog
    std::vector<std::string> spec_overrides; // "GPU.field=value"
    std::string price_set = "neocloud";
    std::vector<std::string> price_overrides; // "GPU=usd_per_hour"
    std::vector<std::string> max_gpus;        // "GPU=count"
    std::vector<std::string> gpu_names;       // subset of the catalog; empty = every GPU with a price
    std::optional<std::string> trace_path;
    std::optional<trace_format> trace_format_override;
    std::optional<std::string> workload_path;
    std::optional<double> rate_rps;         // rescales the workload's total rate
    std::optional<std::string> input_edges; // "1,25,100,..."
    std::optional<std::string> output_edges;
    std::string model = "Llama-3-8B";
    std::optional<std::string> model_config_path;
    slo target;
    roofline_params roofline;
    std::optional<std::string> profile_path;
    double max_utilisation = 1.0;
};

struct scenario {
    plan_problem problem;
    workload demand;
    throughput_profile profile;
    std::string model_name;
    model_arch model;           // the model's dimensions (for performance models of other deployments)
    std::vector<gpu_spec> gpus; // [n_gpus] spec of each planned GPU type, in offer order
    std::string price_set;
    slo target;
};

scenario build_scenario(const scenario_options& options);

// The built-in default workload trace (Azure LLM inference 2023, conversation), compiled in.
trace builtin_azure_conv_trace();

// Problem from a workload and a profile over the same grid (throws on mismatched shapes or a GPU
// missing from the profile).
plan_problem make_problem(const workload& demand, const throughput_profile& profile,
                          const std::vector<gpu_offer>& offers, double max_utilisation);

} // namespace llmfleet::planner
