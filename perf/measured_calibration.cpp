// See measured_calibration.h.
#include "perf/measured_calibration.h"

#include <cmath>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/text.h"
#include "perf/params_io.h"

namespace llmfleet::perf {

perf_params params_overrides::params_for(const planner::gpu_spec& gpu) const {
    perf_params p = builtin_params(gpu);
    const auto it = _overhead_ms.find(gpu.name);
    if (it != _overhead_ms.end()) {
        p.iteration_overhead_ms = it->second;
        p.source += fmt::format("; per-step overhead measured by llmfleet profile ({})", _origin.at(gpu.name));
    }
    return p;
}

void params_overrides::add_file(const std::string& path, const planner::gpu_catalog& catalog) {
    add(read_file(path, "--calibration (from `llmfleet profile --calibration-out`)"), path, catalog);
}

void params_overrides::add(std::string_view json_text, std::string_view origin, const planner::gpu_catalog& catalog) {
    const nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        throw invalid_input(fmt::format("{}: expected a JSON object (llmfleet.calibration.v1)", origin));
    }
    if (doc.value("schema", std::string()) != "llmfleet.calibration.v1") {
        throw invalid_input(fmt::format("{}: schema: expected \"llmfleet.calibration.v1\", got {}", origin,
                                        doc.contains("schema") ? doc["schema"].dump() : "none"));
    }
    const nlohmann::json* gpu = doc.contains("source") ? &doc["source"] : nullptr;
    if (gpu == nullptr || !gpu->contains("gpu") || !(*gpu)["gpu"].is_string()) {
        throw invalid_input(
            fmt::format("{}: source.gpu: expected the GPU type name (llmfleet profile --gpu-name)", origin));
    }
    const std::string name = (*gpu)["gpu"].get<std::string>();
    catalog.get(name, fmt::format("{}: source.gpu", origin));
    const nlohmann::json fit = doc.value("fit", nlohmann::json::object());
    const nlohmann::json step = fit.value("decode_step", nlohmann::json::object());
    if (!step.contains("overhead_ms") || !step["overhead_ms"].is_number()) {
        throw invalid_input(fmt::format("{}: fit.decode_step.overhead_ms: expected a number", origin));
    }
    const double overhead_ms = step["overhead_ms"].get<double>();
    if (step.value("degenerate", false) || !std::isfinite(overhead_ms) || overhead_ms < 0) {
        throw invalid_input(fmt::format("{}: fit.decode_step is not usable (overhead {} ms{}); hint: re-run `llmfleet "
                                        "profile` with more requests per probe so that batch sizes vary",
                                        origin, overhead_ms, step.value("degenerate", false) ? ", degenerate" : ""));
    }
    _overhead_ms[name] = overhead_ms;
    _origin[name] = std::string(origin);
}

std::vector<std::string> params_overrides::describe() const {
    std::vector<std::string> out;
    for (const auto& [gpu, ms] : _overhead_ms) {
        out.push_back(fmt::format("{}: measured per-step overhead {:.3g} ms ({})", gpu, ms, _origin.at(gpu)));
    }
    return out;
}

} // namespace llmfleet::perf
