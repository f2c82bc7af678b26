// Measured calibrations (`llmfleet profile --calibration-out`, schema llmfleet.calibration.v1) applied to the
// performance model: the fitted per-step overhead of a real engine replaces the built-in one of that GPU type.
// Used alike by `plan` (profiles of every deployment) and `simulate` (step times), so both see the same model.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "perf/op_costs.h"
#include "planner/gpu_catalog.h"

namespace llmfleet::perf {

// Parameters per GPU type: the built-in ones, except where a measured calibration was loaded.
class params_overrides {
public:
    // builtin_params(gpu), with the measured overhead when a calibration for gpu.name was added.
    perf_params params_for(const planner::gpu_spec& gpu) const;
    // Reads a calibration file; its source.gpu names the GPU type (must be in `catalog`). Throws invalid_input naming
    // the file and field for a malformed file, a GPU type not in the catalog, a degenerate fit or a negative
    // overhead (no silent fallback: the hint says to re-run `llmfleet profile` with more load).
    void add_file(const std::string& path, const planner::gpu_catalog& catalog);
    void add(std::string_view json_text, std::string_view origin, const planner::gpu_catalog& catalog);
    bool empty() const { return _overhead_ms.empty(); }
    // "H100-SXM: measured overhead 4.2 ms (calibration.json)" lines, for reports.
    std::vector<std::string> describe() const;

private:
    std::map<std::string, double> _overhead_ms; // by GPU type
    std::map<std::string, std::string> _origin; // by GPU type
};

} // namespace llmfleet::perf
