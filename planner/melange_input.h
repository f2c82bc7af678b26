// Mélange's own solver input (github: tyler-griggs/melange-release, melange/config/example.json), taken
// unchanged: {"gpu_info": {"A10G": {"cost": 1.01, "tputs": [[..]]}}, "workload_distribution": [[..]],
//             "total_request_rate": 30, "slice_factor": 1}
#pragma once

#include <string>
#include <string_view>

#include "planner/plan.h"

namespace llmfleet::planner {

struct melange_input {
    plan_problem problem; // grid without edges; max_utilisation 1 (Mélange has none)
    int64_t slice_factor = 1;
};

melange_input parse_melange_input(std::string_view json_text, std::string_view origin);
melange_input load_melange_input(const std::string& path);

} // namespace llmfleet::planner
