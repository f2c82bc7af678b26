// solve_milp() when built with LLMFLEET_SOLVER=none: a clear error at the call, never a silent plan.
#include "common/error.h"
#include "planner/milp.h"

namespace llmfleet::planner {

milp_result solve_milp(const milp_model&, const milp_options&) {
    throw error(status_code::unavailable, "llmfleet was built with LLMFLEET_SOLVER=none, so it cannot solve plans; "
                                          "rebuild with -DLLMFLEET_SOLVER=cbc (apt-get install coinor-libcbc-dev)");
}

} // namespace llmfleet::planner
