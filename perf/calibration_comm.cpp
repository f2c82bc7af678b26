// All-reduce α/β fits on Vidur's NCCL timings and the per-step overhead fit on Splitwise's measured steps
// (calibration_parts.h).
#include <algorithm>
#include <map>

#include <fmt/core.h>

#include "perf/calibration_parts.h"
#include "perf/iteration_model.h"

namespace llmfleet::perf::detail {

validation_row make_row(std::string gpu, std::string dataset, std::string role, const std::vector<double>& predicted,
                        const std::vector<double>& measured, const std::function<std::string(size_t)>& label) {
    validation_row r{std::move(gpu), std::move(dataset), std::move(role), relative_errors(predicted, measured), ""};
    if (r.errors.worst_index >= 0) {
        const auto i = static_cast<size_t>(r.errors.worst_index);
        r.worst_point = fmt::format("{}: measured {:.4g} ms, predicted {:.4g} ms", label(i), measured[i], predicted[i]);
    }
    return r;
}

namespace {

std::string file_name(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

void fit_allreduce(perf_params& p, const allreduce_table& t, std::vector<validation_row>& rows, bool use) {
    // Single-node groups only (n_workers == devices_per_node): a TP group never spans nodes here.
    std::map<int32_t, std::vector<allreduce_sample>> by_tp;
    for (const allreduce_sample& s : t.samples) {
        if (s.n_workers >= 2 && s.n_workers == s.devices_per_node) {
            by_tp[s.n_workers].push_back(s);
        }
    }
    std::vector<allreduce_cost> costs;
    std::vector<double> fit_pred, fit_meas, val_pred, val_meas;
    std::vector<std::string> fit_label, val_label;
    std::string tps;
    for (auto& [tp, samples] : by_tp) {
        std::sort(samples.begin(), samples.end(),
                  [](const allreduce_sample& a, const allreduce_sample& b) { return a.size_bytes < b.size_bytes; });
        std::vector<allreduce_sample> fit;
        std::vector<allreduce_sample> val;
        for (size_t i = 0; i < samples.size(); ++i) {
            (i % 2 == 0 ? fit : val).push_back(samples[i]);
        }
        const int32_t n = tp;
        auto predict = [n](const allreduce_cost& c, const std::vector<allreduce_sample>& pts) {
            perf_params q;
            q.allreduce = {c};
            std::vector<double> out;
            for (const allreduce_sample& s : pts) {
                out.push_back(allreduce_ms(q, n, s.size_bytes));
            }
            return out;
        };
        std::vector<double> measured;
        for (const allreduce_sample& s : fit) {
            measured.push_back(s.time_ms);
        }
        const std::vector<double> x = minimize_log_space(
            [&](const std::vector<double>& v) {
                return mean_squared_log_error(predict({n, v[0], v[1]}, fit), measured);
            },
            {{20, 0.1, 1000}, {100, 0.1, 5000}});
        const allreduce_cost c{n, x[0], x[1]};
        costs.push_back(c);
        tps += fmt::format("{}{}", tps.empty() ? "" : ",", tp);
        for (const auto& [pts, pred, meas, label] :
             {std::tie(fit, fit_pred, fit_meas, fit_label), std::tie(val, val_pred, val_meas, val_label)}) {
            const std::vector<double> pr = predict(c, pts);
            for (size_t i = 0; i < pts.size(); ++i) {
                pred.push_back(pr[i]);
                meas.push_back(pts[i].time_ms);
                label.push_back(fmt::format("tp {}, {} bytes", tp, pts[i].size_bytes));
            }
        }
    }
    const std::string name = fmt::format("nccl {} tp {}", file_name(t.path), tps);
    rows.push_back(
        make_row(t.gpu, name + " (even sizes)", "fit", fit_pred, fit_meas, [&](size_t i) { return fit_label[i]; }));
    rows.push_back(
        make_row(t.gpu, name + " (odd sizes)", "validate", val_pred, val_meas, [&](size_t i) { return val_label[i]; }));
    if (use) {
        p.allreduce = costs;
    }
}

void fit_overhead(perf_params& p, const planner::gpu_spec& g, const std::vector<splitwise_sample>& samples,
                  std::vector<validation_row>& rows) {
    // GPU time of each step with no overhead; the prediction is gpu_ms + overhead.
    struct step_point {
        const splitwise_sample* sample;
        double decode_gpu_ms;
        double prefill_gpu_ms;
    };
    perf_params no_overhead = p;
    no_overhead.iteration_overhead_ms = 0;
    std::vector<step_point> fit;
    std::vector<step_point> val;
    std::vector<step_point> prefill_points;
    int64_t n_impossible = 0;
    for (const splitwise_sample& s : samples) {
        if (s.gpu != g.name) {
            continue;
        }
        const planner::model_arch arch = splitwise_model(s.model);
        const iteration_model m(arch, g, deployment{g.name, s.tp, 1, 1}, no_overhead);
        iteration_shape decode;
        decode.n_decode_seqs = s.batch_size;
        decode.decode_context_tokens = s.batch_size * (s.prompt_tokens + s.output_tokens / 2);
        iteration_shape prefill;
        prefill.n_prefill_seqs = s.batch_size;
        prefill.n_prefill_tokens = s.batch_size * s.prompt_tokens;
        const double pt = static_cast<double>(s.prompt_tokens);
        prefill.prefill_attention_pairs = static_cast<double>(s.batch_size) * pt * (pt + 1.0) / 2.0;
        const step_point pt_{&s, m.iteration_ms(decode), m.iteration_ms(prefill)};
        // Fit on Llama-2-70B (TP 2, 4, 8); validate on BLOOM-176B (another model: 70 layers, MHA, 250k vocab).
        (s.model == "llama2-70b" ? fit : val).push_back(pt_);
        // A prefill faster than the GPUs' peak FLOP/s on its matmuls alone is a measurement error (Splitwise's
        // llama2-70b TP 2 batch 64 rows): left out of the prefill validation, and counted.
        const double min_prefill_ms = 1e3 * 2.0 * static_cast<double>(arch.n_params_matmul()) *
                                      static_cast<double>(prefill.n_prefill_tokens) /
                                      (s.tp * g.bf16_dense_tflops * 1e12);
        if (s.prompt_time_ms < min_prefill_ms) {
            ++n_impossible;
        } else {
            prefill_points.push_back(pt_);
        }
    }
    if (fit.empty()) {
        return;
    }
    auto decode_pred = [](const std::vector<step_point>& pts, double overhead_ms) {
        std::vector<double> out;
        for (const step_point& pt : pts) {
            out.push_back(pt.decode_gpu_ms + overhead_ms);
        }
        return out;
    };
    std::vector<double> fit_meas;
    for (const step_point& pt : fit) {
        fit_meas.push_back(pt.sample->token_time_ms);
    }
    const std::vector<double> x = minimize_log_space(
        [&](const std::vector<double>& v) { return mean_squared_log_error(decode_pred(fit, v[0]), fit_meas); },
        {{3, 0.01, 200}});
    p.iteration_overhead_ms = x[0];
    auto label = [](const std::vector<step_point>& pts) {
        return [&pts](size_t i) {
            const splitwise_sample& s = *pts[i].sample;
            return fmt::format("{} tp {}, batch {}, prompt {}", s.model, s.tp, s.batch_size, s.prompt_tokens);
        };
    };
    std::vector<double> val_meas;
    for (const step_point& pt : val) {
        val_meas.push_back(pt.sample->token_time_ms);
    }
    rows.push_back(make_row(g.name, "splitwise decode step, llama2-70b tp2,4,8", "fit",
                            decode_pred(fit, p.iteration_overhead_ms), fit_meas, label(fit)));
    rows.push_back(make_row(g.name, "splitwise decode step, bloom-176b tp8", "validate",
                            decode_pred(val, p.iteration_overhead_ms), val_meas, label(val)));
    // Prefill: nothing is fitted on it (the attention efficiency is a default), so every point validates.
    std::vector<double> pre_pred;
    std::vector<double> pre_meas;
    for (const step_point& pt : prefill_points) {
        pre_pred.push_back(pt.prefill_gpu_ms + p.iteration_overhead_ms);
        pre_meas.push_back(pt.sample->prompt_time_ms);
    }
    rows.push_back(make_row(g.name,
                            fmt::format("splitwise prefill step, both models ({} impossible left out)", n_impossible),
                            "validate", pre_pred, pre_meas, label(prefill_points)));
}

} // namespace llmfleet::perf::detail
