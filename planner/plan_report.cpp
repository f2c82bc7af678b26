// See plan_report.h.
#include "planner/plan_report.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace llmfleet::planner {

namespace {

std::string mode_label(const plan& p) {
    return p.mode == plan_mode::slices ? fmt::format("slices (slice factor {})", p.slice_factor) : "fractional";
}

std::string slo_label(const plan_context& c) {
    if (!c.tpot_ms) {
        return "from the given throughputs";
    }
    return fmt::format("TPOT {} ms{}", *c.tpot_ms, c.ttft_ms ? fmt::format(", TTFT {} ms", *c.ttft_ms) : "");
}

void append_assignment(std::string& out, const plan_problem& problem, const plan& p) {
    out += "\nrouting (bucket → share of its traffic per GPU type):\n";
    const double total = problem.total_rate_rps();
    for (int64_t b = 0; b < problem.n_buckets(); ++b) {
        if (problem.rate_rps[b] <= 0) {
            continue;
        }
        std::string routes;
        for (int64_t g = 0; g < problem.n_gpus(); ++g) {
            if (p.share[b][g] > 0) {
                routes +=
                    fmt::format("{}{} {:.1f}%", routes.empty() ? "" : ", ", problem.gpus[g].name, 100 * p.share[b][g]);
            }
        }
        out += fmt::format("  {:<34} {:>8.3f} req/s {:>5.1f}%  → {}\n", problem.grid.label(b), problem.rate_rps[b],
                           total > 0 ? 100 * problem.rate_rps[b] / total : 0.0, routes);
    }
}

} // namespace

std::string format_plan_table(const plan_problem& problem, const plan_report& r) {
    const plan& p = r.result;
    std::string out;
    out += fmt::format("llmfleet plan: {}{}, {:.3f} req/s, SLO {}\n",
                       r.context.model.empty() ? "" : r.context.model + " on ", r.context.workload_source,
                       problem.total_rate_rps(), slo_label(r.context));
    out += fmt::format("throughputs: {}; prices: {}; max utilisation {}\n", r.context.profile_source,
                       r.context.price_set, problem.max_utilisation);
    out += fmt::format("mode: {}   status: {}   solve: {:.1f} ms", mode_label(p), to_string(p.status), p.solve_ms);
    if (p.status == plan_status::feasible_with_gap) {
        out += fmt::format("   gap: {:.2f}% (bound {:.2f} $/h)", 100 * p.gap(), p.bound_usd_per_hour);
    }
    out += "\n";
    if (!p.has_solution()) {
        out += fmt::format("no plan: {}\n", p.reason);
        return out;
    }
    // Units are GPUs for plain offers; a joint plan's deployment unit spans gpus_per_unit GPUs.
    size_t width = 12;
    for (const gpu_offer& o : problem.gpus) {
        width = std::max(width, o.name.size() + 1);
    }
    out += fmt::format("\n{:<{}} {:>6} {:>6} {:>10} {:>10} {:>12}\n", "GPU / deployment", width, "units", "GPUs",
                       "$/h each", "$/h total", "utilisation");
    int64_t n_units = 0, n_gpus = 0;
    for (int64_t g = 0; g < problem.n_gpus(); ++g) {
        if (p.gpu_count[g] == 0) {
            continue;
        }
        n_units += p.gpu_count[g];
        n_gpus += p.gpu_count[g] * problem.gpus[g].gpus_per_unit();
        out += fmt::format(
            "{:<{}} {:>6} {:>6} {:>10.3f} {:>10.3f} {:>11.1f}%\n", problem.gpus[g].name, width, p.gpu_count[g],
            p.gpu_count[g] * problem.gpus[g].gpus_per_unit(), problem.gpus[g].price_usd_per_hour,
            static_cast<double>(p.gpu_count[g]) * problem.gpus[g].price_usd_per_hour, 100 * p.utilisation(problem, g));
    }
    out +=
        fmt::format("{:<{}} {:>6} {:>6} {:>10} {:>10.3f}\n", "total", width, n_units, n_gpus, "", p.cost_usd_per_hour);
    if (r.baseline.gpu >= 0) {
        const double base = r.baseline.cost_usd_per_hour;
        out += fmt::format("savings: {:.1f}% vs the cheapest single-type plan ({} × {}, {:.3f} $/h)\n",
                           base > 0 ? 100 * (base - p.cost_usd_per_hour) / base : 0.0, r.baseline.count,
                           problem.gpus[r.baseline.gpu].name, base);
    } else {
        out += "savings: no single GPU type can serve the whole workload (within availability)\n";
    }
    if (r.plain_only) {
        const plan& m = *r.plain_only;
        if (m.has_solution()) {
            const double base = m.cost_usd_per_hour;
            out += fmt::format("joint: {:.1f}% cheaper than the best plan with one engine per GPU and no parallelism "
                               "(Mélange's space: {:.3f} $/h)\n",
                               base > 0 ? 100 * (base - p.cost_usd_per_hour) / base : 0.0, base);
        } else {
            out += fmt::format("joint: no plan exists with one engine per GPU and no parallelism ({})\n", m.reason);
        }
    }
    if (r.alternative) {
        const plan& a = *r.alternative;
        out += fmt::format("compare: {} {} {:.3f} $/h ({:.1f} ms) vs {} {} {:.3f} $/h ({:.1f} ms)\n", mode_label(p),
                           to_string(p.status), p.cost_usd_per_hour, p.solve_ms, mode_label(a), to_string(a.status),
                           a.cost_usd_per_hour, a.solve_ms);
    }
    append_assignment(out, problem, p);
    return out;
}

namespace {

nlohmann::json plan_body(const plan_problem& problem, const plan& p) {
    nlohmann::json j;
    j["status"] = to_string(p.status);
    j["mode"] = to_string(p.mode);
    if (p.mode == plan_mode::slices) {
        j["slice_factor"] = p.slice_factor;
    }
    j["cost_usd_per_hour"] = p.cost_usd_per_hour;
    j["bound_usd_per_hour"] = p.bound_usd_per_hour;
    j["gap"] = p.gap();
    j["solve_ms"] = p.solve_ms;
    if (!p.reason.empty()) {
        j["reason"] = p.reason;
    }
    if (!p.has_solution()) {
        return j;
    }
    j["gpus"] = nlohmann::json::array();
    for (int64_t g = 0; g < problem.n_gpus(); ++g) {
        const gpu_offer& o = problem.gpus[g];
        nlohmann::json entry = {{"name", o.name},
                                {"count", p.gpu_count[g]},
                                {"price_usd_per_hour", o.price_usd_per_hour},
                                {"load_gpus", p.load(problem, g)},
                                {"utilisation", p.utilisation(problem, g)}};
        if (!o.config.gpu.empty()) {
            // A joint plan's pool: `count` units of `gpus_per_unit` GPUs, each unit running `engines_per_gpu`
            // replicas; `serve --plan` and `simulate` start / model exactly this.
            entry["deployment"] = {{"gpu", o.config.gpu},
                                   {"tp", o.config.tp},
                                   {"pp", o.config.pp},
                                   {"engines_per_gpu", o.config.engines_per_gpu}};
            entry["gpus_per_unit"] = o.gpus_per_unit();
        }
        j["gpus"].push_back(std::move(entry));
    }
    j["buckets"] = nlohmann::json::array();
    for (int64_t b = 0; b < problem.n_buckets(); ++b) {
        if (problem.rate_rps[b] <= 0) {
            continue;
        }
        nlohmann::json bucket;
        bucket["input_bucket"] = b / problem.grid.n_output;
        bucket["output_bucket"] = b % problem.grid.n_output;
        if (problem.grid.has_edges()) {
            const int64_t i = b / problem.grid.n_output;
            const int64_t o = b % problem.grid.n_output;
            bucket["input_tokens"] = {problem.grid.input.edges[i], problem.grid.input.edges[i + 1]};
            bucket["output_tokens"] = {problem.grid.output.edges[o], problem.grid.output.edges[o + 1]};
        }
        bucket["rate_rps"] = problem.rate_rps[b];
        bucket["routes"] = nlohmann::json::array();
        for (int64_t g = 0; g < problem.n_gpus(); ++g) {
            if (p.share[b][g] > 0) {
                bucket["routes"].push_back({{"gpu", problem.gpus[g].name},
                                            {"share", p.share[b][g]},
                                            {"rate_rps", p.share[b][g] * problem.rate_rps[b]}});
            }
        }
        j["buckets"].push_back(bucket);
    }
    return j;
}

} // namespace

std::string plan_to_json(const plan_problem& problem, const plan_report& r) {
    nlohmann::json j = plan_body(problem, r.result);
    j["schema"] = "llmfleet.plan.v1";
    nlohmann::json in;
    in["model"] = r.context.model;
    in["workload"] = r.context.workload_source;
    in["profile"] = r.context.profile_source;
    in["price_set"] = r.context.price_set;
    in["total_rate_rps"] = problem.total_rate_rps();
    in["max_utilisation"] = problem.max_utilisation;
    if (r.context.tpot_ms) {
        in["slo"]["tpot_ms"] = *r.context.tpot_ms;
    }
    if (r.context.ttft_ms) {
        in["slo"]["ttft_ms"] = *r.context.ttft_ms;
    }
    if (problem.grid.has_edges()) {
        in["input_edges"] = problem.grid.input.edges;
        in["output_edges"] = problem.grid.output.edges;
    } else {
        in["grid"] = {problem.grid.n_input, problem.grid.n_output};
    }
    j["inputs"] = in;
    if (r.baseline.gpu >= 0) {
        j["baseline"] = {{"gpu", problem.gpus[r.baseline.gpu].name},
                         {"count", r.baseline.count},
                         {"cost_usd_per_hour", r.baseline.cost_usd_per_hour}};
        if (r.result.has_solution() && r.baseline.cost_usd_per_hour > 0) {
            j["savings_fraction"] =
                (r.baseline.cost_usd_per_hour - r.result.cost_usd_per_hour) / r.baseline.cost_usd_per_hour;
        }
    }
    if (r.plain_only && r.plain_only->has_solution()) {
        j["plain_only"] = {{"status", to_string(r.plain_only->status)},
                           {"cost_usd_per_hour", r.plain_only->cost_usd_per_hour}};
    }
    if (r.alternative) {
        j["alternative"] = plan_body(problem, *r.alternative);
    }
    return j.dump(2);
}

} // namespace llmfleet::planner
