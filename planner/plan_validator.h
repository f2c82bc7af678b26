// Independent re-check of a plan against its problem, run before any plan is printed. It shares no
// code with the solver's extraction: it recomputes loads and cost from the problem's raw numbers.
#pragma once

#include <string>
#include <vector>

#include "planner/plan.h"

namespace llmfleet::planner {

// Violations, one sentence each; empty when the plan is valid. Checks: shapes; shares in [0, 1] and
// only on types that can serve the bucket; each bucket with traffic assigned exactly once (slices mode:
// whole slices); counts integral, >= 0, within availability; capacity load <= max_utilisation × count;
// cost = Σ price × count; bound <= cost; an infeasible plan carries a reason.
std::vector<std::string> validate_plan(const plan_problem& problem, const plan& candidate);

} // namespace llmfleet::planner
