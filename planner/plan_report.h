// Plan output: the readable table and plan.json (schema llmfleet.plan.v1, documented in docs/planner.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "planner/plan.h"

namespace llmfleet::planner {

// What the plan was made from, echoed in both outputs.
struct plan_context {
    std::string model;           // "Llama-3-8B" or "" (Mélange input)
    std::string workload_source; // trace name, workload file, or Mélange input path
    std::string profile_source;
    std::string price_set;
    std::optional<double> tpot_ms;
    std::optional<double> ttft_ms;
};

// One solved plan with its baselines; `alternative` holds the other mode's plan when --compare is given.
struct plan_report {
    plan_context context;
    plan result;
    single_type_plan baseline;
    std::optional<plan> alternative;
    std::optional<plan> plain_only; // joint plans: the best plan with plain deployments only (Mélange's space)
};

std::string format_plan_table(const plan_problem& problem, const plan_report& report);
std::string plan_to_json(const plan_problem& problem, const plan_report& report);

} // namespace llmfleet::planner
