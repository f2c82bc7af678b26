// Calibration and validation (calibration.h); the fit/validate split of each dataset is documented in
// docs/perfmodel.md ("Calibration") and printed by bench/perf/perfmodel_validation.
#include "perf/calibration.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <map>

#include <fmt/core.h>

#include "common/check.h"
#include "common/error.h"
#include "perf/calibration_parts.h"
#include "perf/iteration_model.h"

namespace llmfleet::perf {

using detail::make_row;

namespace {

// One measured operator with its shape resolved (count 1: one kernel).
struct op_point {
    layer_op op;
    double n_tokens = 0;
    int32_t tp = 1;
    double measured_ms = 0;
};

using tp_filter = std::function<bool(int32_t tp)>;

std::vector<op_point> op_points(const op_table& t, bool gemm, const tp_filter& keep) {
    std::map<int32_t, std::vector<layer_op>> ops_by_tp;
    std::vector<op_point> out;
    for (const op_sample& s : t.samples) {
        if (!keep(s.tp)) {
            continue;
        }
        auto [it, inserted] = ops_by_tp.try_emplace(s.tp);
        if (inserted) {
            it->second = decoder_layer_ops(t.model, s.tp, 2.0);
        }
        for (layer_op op : it->second) {
            if (op.name == s.op && op.is_gemm == gemm) {
                op.count = 1;
                out.push_back({op, static_cast<double>(s.n_tokens), s.tp, s.time_ms});
            }
        }
    }
    return out;
}

std::vector<double> predict_ops(const perf_params& p, const planner::gpu_spec& g, const std::vector<op_point>& pts) {
    std::vector<double> out;
    out.reserve(pts.size());
    for (const op_point& pt : pts) {
        out.push_back(layer_op_ms(p, g, pt.op, pt.n_tokens));
    }
    return out;
}

std::vector<double> measured_of(const std::vector<op_point>& pts) {
    std::vector<double> out;
    for (const op_point& pt : pts) {
        out.push_back(pt.measured_ms);
    }
    return out;
}

validation_row op_row(const std::string& gpu, const std::string& dataset, const std::string& role, const perf_params& p,
                      const planner::gpu_spec& g, const std::vector<op_point>& pts) {
    return make_row(gpu, dataset, role, predict_ops(p, g, pts), measured_of(pts), [&](size_t i) {
        return fmt::format("{} tp {}, {} tokens", pts[i].op.name, pts[i].tp, pts[i].n_tokens);
    });
}

// GEMM efficiencies and launch cost: least squares on log time.
void fit_gemm(perf_params& p, const planner::gpu_spec& g, const std::vector<op_point>& pts) {
    const std::vector<double> measured = measured_of(pts);
    const std::vector<double> x = minimize_log_space(
        [&](const std::vector<double>& v) {
            perf_params q = p;
            q.gemm_compute_efficiency = v[0];
            q.gemm_ramp_tokens = v[1];
            q.gemm_bandwidth_efficiency = v[2];
            q.gemm_launch_us = v[3];
            return mean_squared_log_error(predict_ops(q, g, pts), measured);
        },
        {{0.7, 0.05, 1.0}, {32, 0.01, 8192}, {0.8, 0.05, 1.0}, {4, 0.01, 200}});
    p.gemm_compute_efficiency = x[0];
    p.gemm_ramp_tokens = x[1];
    p.gemm_bandwidth_efficiency = x[2];
    p.gemm_launch_us = x[3];
}

void fit_elementwise(perf_params& p, const planner::gpu_spec& g, const std::vector<op_point>& pts) {
    const std::vector<double> measured = measured_of(pts);
    auto apply = [](perf_params& q, const std::vector<double>& v) {
        q.norm_bandwidth_efficiency = v[0];
        q.rope_bandwidth_efficiency = v[1];
        q.activation_bandwidth_efficiency = v[2];
        q.add_bandwidth_efficiency = v[3];
        q.elementwise_launch_us = v[4];
        q.elementwise_row_gb_per_s = v[5];
    };
    const std::vector<double> x = minimize_log_space(
        [&](const std::vector<double>& v) {
            perf_params q = p;
            apply(q, v);
            return mean_squared_log_error(predict_ops(q, g, pts), measured);
        },
        {{0.5, 0.02, 1.0}, {0.5, 0.02, 1.0}, {0.5, 0.02, 1.0}, {0.5, 0.02, 1.0}, {3, 0.01, 100}, {20, 0.1, 1000}});
    apply(p, x);
}

// Per-operator layer sums: Σ of the measured operators at one (tp, tokens) vs Σ of their predictions.
validation_row layer_row(const std::string& gpu, const std::string& dataset, const perf_params& p,
                         const planner::gpu_spec& g, const std::vector<op_point>& gemms,
                         const std::vector<op_point>& elementwise) {
    std::map<std::pair<int32_t, double>, std::pair<double, double>> sums; // (tp, tokens) → (measured, predicted)
    for (const auto* pts : {&gemms, &elementwise}) {
        for (const op_point& pt : *pts) {
            auto& [m, pr] = sums[{pt.tp, pt.n_tokens}];
            m += pt.measured_ms;
            pr += layer_op_ms(p, g, pt.op, pt.n_tokens);
        }
    }
    std::vector<double> measured;
    std::vector<double> predicted;
    std::vector<std::pair<int32_t, double>> keys;
    for (const auto& [k, v] : sums) {
        keys.push_back(k);
        measured.push_back(v.first);
        predicted.push_back(v.second);
    }
    return make_row(gpu, dataset, "validate", predicted, measured, [&](size_t i) {
        return fmt::format("layer (GEMMs + element-wise) tp {}, {} tokens", keys[i].first, keys[i].second);
    });
}

} // namespace

const std::vector<std::string>& calibrated_gpus() {
    static const std::vector<std::string> gpus = {"A100-80GB", "H100-SXM"};
    return gpus;
}

calibration_result calibrate(const profiling_data& data, const planner::gpu_catalog& catalog) {
    calibration_result out;
    auto find_ops = [&](const std::string& gpu, const std::string& model) -> const op_table& {
        for (const op_table& t : data.ops) {
            if (t.gpu == gpu && t.model.name == model) {
                return t;
            }
        }
        throw invalid_input(fmt::format("profiling data in {}: no operator table for {} on {}", data.dir, model, gpu));
    };
    const tp_filter all = [](int32_t) { return true; };
    for (const std::string& gpu : calibrated_gpus()) {
        const planner::gpu_spec& g = catalog.get(gpu, "calibration");
        perf_params p = default_params(g);
        p.calibrated = true;
        std::vector<op_point> gemm_fit, gemm_val, ew_fit, ew_val;
        std::string fit_name, val_name;
        if (gpu == "A100-80GB") {
            // Fit on Llama-2-7B's shapes, validate on Llama-3-8B (GQA, larger MLP, up to 32k tokens).
            const op_table& fit = find_ops(gpu, "Llama-2-7B");
            const op_table& val = find_ops(gpu, "Llama-3-8B");
            gemm_fit = op_points(fit, true, all);
            gemm_val = op_points(val, true, all);
            ew_fit = op_points(fit, false, all);
            ew_val = op_points(val, false, all);
            fit_name = "vidur Llama-2-7B";
            val_name = "vidur Llama-3-8B";
        } else {
            // One model measured: fit on the TP 1 and 4 shards, validate on the TP 2 and 8 shards.
            const op_table& t = find_ops(gpu, "Llama-2-7B");
            const tp_filter fit_tp = [](int32_t tp) { return tp == 1 || tp == 4; };
            const tp_filter val_tp = [](int32_t tp) { return tp == 2 || tp == 8; };
            gemm_fit = op_points(t, true, fit_tp);
            gemm_val = op_points(t, true, val_tp);
            ew_fit = op_points(t, false, fit_tp);
            ew_val = op_points(t, false, val_tp);
            fit_name = "vidur Llama-2-7B tp1,4";
            val_name = "vidur Llama-2-7B tp2,8";
        }
        fit_gemm(p, g, gemm_fit);
        fit_elementwise(p, g, ew_fit);
        out.rows.push_back(op_row(gpu, fit_name + " GEMMs", "fit", p, g, gemm_fit));
        out.rows.push_back(op_row(gpu, val_name + " GEMMs", "validate", p, g, gemm_val));
        out.rows.push_back(op_row(gpu, fit_name + " element-wise", "fit", p, g, ew_fit));
        out.rows.push_back(op_row(gpu, val_name + " element-wise", "validate", p, g, ew_val));
        // The data's timer resolution is 1 µs: most of the error above comes from 1-5 µs kernels.
        std::vector<op_point> ew_val_large;
        std::copy_if(ew_val.begin(), ew_val.end(), std::back_inserter(ew_val_large),
                     [](const op_point& pt) { return pt.measured_ms >= 0.010; });
        out.rows.push_back(op_row(gpu, val_name + " element-wise >= 10 us", "validate", p, g, ew_val_large));
        out.rows.push_back(layer_row(gpu, val_name + " layer sum", p, g, gemm_val, ew_val));
        for (const allreduce_table& t : data.allreduce) {
            if (t.gpu == gpu) {
                detail::fit_allreduce(p, t, out.rows, true);
            }
        }
        detail::fit_overhead(p, g, data.splitwise, out.rows);
        p.source = fmt::format("GEMM/element-wise: {} ({} points), all-reduce: vidur NCCL, overhead: Splitwise",
                               fit_name, gemm_fit.size() + ew_fit.size());
        out.params.push_back(std::move(p));
    }
    // Reference only (no catalog GPU has this topology): A100 pairs joined by NVLink bridges.
    for (const allreduce_table& t : data.allreduce) {
        if (std::find(calibrated_gpus().begin(), calibrated_gpus().end(), t.gpu) == calibrated_gpus().end()) {
            perf_params scratch;
            detail::fit_allreduce(scratch, t, out.rows, false);
        }
    }
    return out;
}

} // namespace llmfleet::perf
