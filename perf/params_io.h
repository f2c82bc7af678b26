// The fitted parameters as JSON (schema llmfleet.perf_params.v1, data/perf_params.json) and the built-in
// parameters per GPU type: the calibration's output compiled into the binary, or documented defaults.
// One source of truth: perfmodel_validation --write-params writes the file from the fit, and a test checks
// that the fit on data/profiling reproduces it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "perf/calibration.h"
#include "perf/op_costs.h"
#include "planner/gpu_catalog.h"

namespace llmfleet::perf {

std::string params_to_json(const std::vector<perf_params>& params);
// Throws invalid_input naming the field on a malformed file.
std::vector<perf_params> parse_params_json(std::string_view text, std::string_view origin);
void write_params_file(const std::string& path, const std::vector<perf_params>& params);

// The calibrated parameters compiled in from data/perf_params.json.
const std::vector<perf_params>& builtin_calibrated_params();
// The built-in parameters of `gpu`: calibrated when the data cover its type, else default_params(gpu).
perf_params builtin_params(const planner::gpu_spec& gpu);
// "" when `params` equal the built-in ones (relative tolerance 1e-6), else which GPU and field differ and the
// hint to re-run perfmodel_validation --write-params.
std::string compare_with_builtin(const std::vector<perf_params>& params);

// Validation rows and parameters as one JSON document (perfmodel_validation --json).
std::string calibration_to_json(const calibration_result& c);

} // namespace llmfleet::perf
