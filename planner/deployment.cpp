// deployment labels (deployment.h).
#include "planner/deployment.h"

#include <fmt/core.h>

namespace llmfleet::planner {

std::string deployment::label() const {
    std::string out = gpu;
    if (tp > 1) {
        out += fmt::format(" tp{}", tp);
    }
    if (pp > 1) {
        out += fmt::format(" pp{}", pp);
    }
    if (engines_per_gpu > 1) {
        out += fmt::format(" ×{} engines", engines_per_gpu);
    }
    return out;
}

} // namespace llmfleet::planner
