// Parameter JSON I/O and the built-in parameters (params_io.h).
#include "perf/params_io.h"

#include <cmath>
#include <fstream>
#include <utility>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_read.h"

namespace llmfleet::embedded {
extern const std::string_view perf_params_json;
}

namespace llmfleet::perf {

namespace {

namespace jr = json_read;

// Every numeric field, by its JSON name (the same as the C++ member). `transferable`: an efficiency or a
// software cost that an uncalibrated GPU type takes from the calibrated ones (their mean); the others
// (collectives, memory) follow the GPU's own specs.
struct numeric_field {
    const char* name;
    double perf_params::*member;
    bool transferable;
};

const std::vector<numeric_field>& numeric_fields() {
    static const std::vector<numeric_field> fields = {
        {"gemm_compute_efficiency", &perf_params::gemm_compute_efficiency, true},
        {"gemm_ramp_tokens", &perf_params::gemm_ramp_tokens, true},
        {"gemm_bandwidth_efficiency", &perf_params::gemm_bandwidth_efficiency, true},
        {"gemm_launch_us", &perf_params::gemm_launch_us, true},
        {"norm_bandwidth_efficiency", &perf_params::norm_bandwidth_efficiency, true},
        {"rope_bandwidth_efficiency", &perf_params::rope_bandwidth_efficiency, true},
        {"activation_bandwidth_efficiency", &perf_params::activation_bandwidth_efficiency, true},
        {"add_bandwidth_efficiency", &perf_params::add_bandwidth_efficiency, true},
        {"elementwise_launch_us", &perf_params::elementwise_launch_us, true},
        {"elementwise_row_gb_per_s", &perf_params::elementwise_row_gb_per_s, true},
        {"attention_compute_efficiency", &perf_params::attention_compute_efficiency, true},
        {"attention_bandwidth_efficiency", &perf_params::attention_bandwidth_efficiency, true},
        {"attention_launch_us", &perf_params::attention_launch_us, true},
        {"iteration_overhead_ms", &perf_params::iteration_overhead_ms, true},
        {"p2p_alpha_us", &perf_params::p2p_alpha_us, false},
        {"p2p_gb_per_s", &perf_params::p2p_gb_per_s, false},
        {"mps_contention_factor", &perf_params::mps_contention_factor, false},
        {"memory_reserve_fraction", &perf_params::memory_reserve_fraction, false},
        {"weight_bytes_per_param", &perf_params::weight_bytes_per_param, false},
        {"kv_bytes_per_element", &perf_params::kv_bytes_per_element, false},
    };
    return fields;
}

nlohmann::json to_json(const perf_params& p) {
    nlohmann::json j;
    j["gpu"] = p.gpu;
    j["calibrated"] = p.calibrated;
    j["source"] = p.source;
    for (const numeric_field& f : numeric_fields()) {
        j[f.name] = p.*f.member;
    }
    j["allreduce"] = nlohmann::json::array();
    for (const allreduce_cost& c : p.allreduce) {
        j["allreduce"].push_back({{"tp", c.tp}, {"alpha_us", c.alpha_us}, {"bus_gb_per_s", c.bus_gb_per_s}});
    }
    return j;
}

bool close(double a, double b) {
    return std::abs(a - b) <= 1e-6 * std::max(std::abs(a), std::abs(b));
}

} // namespace

std::string params_to_json(const std::vector<perf_params>& params) {
    nlohmann::json doc;
    doc["schema"] = "llmfleet.perf_params.v1";
    doc["description"] = "Performance-model parameters fitted by bench/perf/perfmodel_validation on data/profiling "
                         "(docs/perfmodel.md). Regenerate with perfmodel_validation --write-params.";
    doc["gpus"] = nlohmann::json::array();
    for (const perf_params& p : params) {
        doc["gpus"].push_back(to_json(p));
    }
    return doc.dump(2);
}

std::vector<perf_params> parse_params_json(std::string_view text, std::string_view origin) {
    const jr::json doc = jr::parse(text, origin);
    const std::string root(origin);
    const std::string schema = jr::string(jr::member(doc, "schema", root), jr::child(root, "schema"));
    if (schema != "llmfleet.perf_params.v1") {
        throw invalid_input(fmt::format("{}.schema: expected llmfleet.perf_params.v1, got '{}'", root, schema));
    }
    std::vector<perf_params> out;
    const jr::json& gpus = jr::member(doc, "gpus", root);
    for (size_t i = 0; i < gpus.size(); ++i) {
        const std::string path = jr::index(jr::child(root, "gpus"), i);
        const jr::json& g = gpus[i];
        perf_params p;
        p.gpu = jr::string(jr::member(g, "gpu", path), jr::child(path, "gpu"));
        p.calibrated = jr::boolean(jr::member(g, "calibrated", path), jr::child(path, "calibrated"));
        p.source = jr::string(jr::member(g, "source", path), jr::child(path, "source"));
        for (const numeric_field& f : numeric_fields()) {
            p.*f.member = jr::positive(jr::member(g, f.name, path), jr::child(path, f.name));
        }
        const jr::json& ar = jr::member(g, "allreduce", path);
        for (size_t k = 0; k < ar.size(); ++k) {
            const std::string ap = jr::index(jr::child(path, "allreduce"), k);
            allreduce_cost c;
            c.tp = static_cast<int32_t>(jr::integer(jr::member(ar[k], "tp", ap), jr::child(ap, "tp")));
            c.alpha_us = jr::positive(jr::member(ar[k], "alpha_us", ap), jr::child(ap, "alpha_us"));
            c.bus_gb_per_s = jr::positive(jr::member(ar[k], "bus_gb_per_s", ap), jr::child(ap, "bus_gb_per_s"));
            p.allreduce.push_back(c);
        }
        out.push_back(std::move(p));
    }
    return out;
}

void write_params_file(const std::string& path, const std::vector<perf_params>& params) {
    std::ofstream f(path);
    if (!f) {
        throw error(status_code::not_found, fmt::format("--write-params {}: cannot open for writing", path));
    }
    f << params_to_json(params) << "\n";
}

const std::vector<perf_params>& builtin_calibrated_params() {
    static const std::vector<perf_params> params =
        parse_params_json(embedded::perf_params_json, "built-in data/perf_params.json");
    return params;
}

perf_params builtin_params(const planner::gpu_spec& gpu) {
    const std::vector<perf_params>& calibrated = builtin_calibrated_params();
    for (const perf_params& p : calibrated) {
        if (p.gpu == gpu.name) {
            return p;
        }
    }
    perf_params p = default_params(gpu);
    if (calibrated.empty()) {
        return p;
    }
    // Efficiencies and software costs: the mean of the calibrated GPU types (so that every GPU type pays the
    // same per-step overhead); collectives and memory from this GPU's specs.
    std::string names;
    for (const numeric_field& f : numeric_fields()) {
        if (f.transferable) {
            double sum = 0;
            for (const perf_params& c : calibrated) {
                sum += c.*f.member;
            }
            p.*f.member = sum / static_cast<double>(calibrated.size());
        }
    }
    for (const perf_params& c : calibrated) {
        names += (names.empty() ? "" : " and ") + c.gpu;
    }
    p.source = fmt::format("efficiencies and overhead: mean of the {} fits; collectives from the catalog's "
                           "interconnect",
                           names);
    return p;
}

std::string compare_with_builtin(const std::vector<perf_params>& params) {
    const std::vector<perf_params>& builtin = builtin_calibrated_params();
    const std::string hint = "; re-run perfmodel_validation --write-params data/perf_params.json and rebuild";
    if (builtin.size() != params.size()) {
        return fmt::format("{} GPU types built in, {} fitted{}", builtin.size(), params.size(), hint);
    }
    for (size_t i = 0; i < params.size(); ++i) {
        const perf_params& a = params[i];
        const perf_params& b = builtin[i];
        if (a.gpu != b.gpu || a.allreduce.size() != b.allreduce.size()) {
            return fmt::format("entry {}: fitted {} ({} all-reduce sizes), built in {} ({}){}", i, a.gpu,
                               a.allreduce.size(), b.gpu, b.allreduce.size(), hint);
        }
        for (const numeric_field& f : numeric_fields()) {
            if (!close(a.*f.member, b.*f.member)) {
                return fmt::format("{}.{}: fitted {}, built in {}{}", a.gpu, f.name, a.*f.member, b.*f.member, hint);
            }
        }
        for (size_t k = 0; k < a.allreduce.size(); ++k) {
            const allreduce_cost& x = a.allreduce[k];
            const allreduce_cost& y = b.allreduce[k];
            if (x.tp != y.tp || !close(x.alpha_us, y.alpha_us) || !close(x.bus_gb_per_s, y.bus_gb_per_s)) {
                return fmt::format("{}.allreduce[{}]: fitted tp {} α {} µs β {} GB/s, built in tp {} α {} β {}{}",
                                   a.gpu, k, x.tp, x.alpha_us, x.bus_gb_per_s, y.tp, y.alpha_us, y.bus_gb_per_s, hint);
            }
        }
    }
    return "";
}

std::string calibration_to_json(const calibration_result& c) {
    nlohmann::json doc;
    doc["schema"] = "llmfleet.perfmodel_validation.v1";
    doc["rows"] = nlohmann::json::array();
    for (const validation_row& r : c.rows) {
        doc["rows"].push_back({{"gpu", r.gpu},
                               {"dataset", r.dataset},
                               {"role", r.role},
                               {"n_points", r.errors.n_points},
                               {"median_abs_error", r.errors.median},
                               {"p90_abs_error", r.errors.p90},
                               {"worst_abs_error", r.errors.worst},
                               {"worst_point", r.worst_point}});
    }
    doc["params"] = nlohmann::json::array();
    for (const perf_params& p : c.params) {
        doc["params"].push_back(to_json(p));
    }
    return doc.dump(2);
}

} // namespace llmfleet::perf
