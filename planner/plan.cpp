// See plan.h.
#include "planner/plan.h"

#include <cmath>
#include <numeric>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::planner {

double plan_problem::total_rate_rps() const {
    return std::accumulate(rate_rps.begin(), rate_rps.end(), 0.0);
}

void check_problem(const plan_problem& p) {
    if (p.gpus.empty()) {
        throw invalid_input("plan: no GPU types to choose from; give at least one (--gpus or the catalog)");
    }
    if (p.n_buckets() != p.grid.n_buckets()) {
        throw invalid_input(
            fmt::format("plan: {} bucket rates for a {}x{} grid", p.n_buckets(), p.grid.n_input, p.grid.n_output));
    }
    if (!(p.max_utilisation > 0 && p.max_utilisation <= 1)) {
        throw invalid_input(fmt::format("--max-utilisation: expected a fraction in (0, 1], got {}", p.max_utilisation));
    }
    for (int64_t b = 0; b < p.n_buckets(); ++b) {
        if (!std::isfinite(p.rate_rps[b]) || p.rate_rps[b] < 0) {
            throw invalid_input(
                fmt::format("workload {}: rate must be >= 0 req/s, got {}", p.grid.label(b), p.rate_rps[b]));
        }
    }
    if (static_cast<int64_t>(p.max_rps.size()) != p.n_gpus()) {
        throw invalid_input(fmt::format("plan: {} throughput rows for {} GPU types", p.max_rps.size(), p.n_gpus()));
    }
    for (int64_t g = 0; g < p.n_gpus(); ++g) {
        const gpu_offer& o = p.gpus[g];
        if (!std::isfinite(o.price_usd_per_hour) || o.price_usd_per_hour < 0) {
            throw invalid_input(fmt::format("GPU {}: price must be >= 0 $/h, got {}", o.name, o.price_usd_per_hour));
        }
        if (o.max_count < -1) {
            throw invalid_input(fmt::format("GPU {}: --max-gpus must be >= 0, got {}", o.name, o.max_count));
        }
        if (static_cast<int64_t>(p.max_rps[g].size()) != p.n_buckets()) {
            throw invalid_input(fmt::format("GPU {}: throughput has {} buckets, the workload {} ({}x{})", o.name,
                                            p.max_rps[g].size(), p.n_buckets(), p.grid.n_input, p.grid.n_output));
        }
        if (o.config.tp < 1 || o.config.pp < 1 || o.config.engines_per_gpu < 1) {
            throw invalid_input(fmt::format("offer {}: tp, pp and engines per GPU must be >= 1, got {}, {}, {}", o.name,
                                            o.config.tp, o.config.pp, o.config.engines_per_gpu));
        }
        for (int64_t b = 0; b < p.n_buckets(); ++b) {
            if (!std::isfinite(p.max_rps[g][b]) || p.max_rps[g][b] < 0) {
                throw invalid_input(fmt::format("GPU {} {}: max throughput must be >= 0 req/s, got {}", o.name,
                                                p.grid.label(b), p.max_rps[g][b]));
            }
        }
    }
    for (const gpu_type_limit& limit : p.gpu_limits) {
        if (limit.max_gpus < 0) {
            throw invalid_input(fmt::format("GPU {}: --max-gpus must be >= 0, got {}", limit.gpu_type, limit.max_gpus));
        }
    }
}

std::string_view to_string(plan_mode mode) {
    return mode == plan_mode::fractional ? "fractional" : "slices";
}

std::string_view to_string(plan_status status) {
    switch (status) {
    case plan_status::optimal:
        return "optimal";
    case plan_status::feasible_with_gap:
        return "feasible_with_gap";
    case plan_status::infeasible:
        return "infeasible";
    case plan_status::time_limit:
        return "time_limit";
    case plan_status::error:
        return "error";
    }
    return "unknown";
}

double plan::gap() const {
    if (!has_solution() || cost_usd_per_hour <= 0) {
        return 0;
    }
    return std::max(0.0, (cost_usd_per_hour - bound_usd_per_hour) / cost_usd_per_hour);
}

double plan::load(const plan_problem& problem, int64_t g) const {
    double total = 0;
    for (int64_t b = 0; b < problem.n_buckets(); ++b) {
        if (share[b][g] > 0) {
            total += share[b][g] * problem.load(g, b);
        }
    }
    return total;
}

double plan::utilisation(const plan_problem& problem, int64_t g) const {
    return gpu_count[g] > 0 ? load(problem, g) / static_cast<double>(gpu_count[g]) : 0.0;
}

int64_t gpus_of_type(const plan_problem& problem, const std::vector<int64_t>& counts, const std::string& gpu_type) {
    int64_t total = 0;
    for (int64_t g = 0; g < problem.n_gpus() && g < static_cast<int64_t>(counts.size()); ++g) {
        if (problem.gpus[g].gpu_type() == gpu_type) {
            total += counts[g] * problem.gpus[g].gpus_per_unit();
        }
    }
    return total;
}

int64_t plan::gpus_of_type(const plan_problem& problem, const std::string& gpu_type) const {
    return planner::gpus_of_type(problem, gpu_count, gpu_type);
}

bool within_type_limits(const plan_problem& problem, const std::vector<int64_t>& counts) {
    for (const gpu_type_limit& limit : problem.gpu_limits) {
        if (gpus_of_type(problem, counts, limit.gpu_type) > limit.max_gpus) {
            return false;
        }
    }
    return true;
}

plan_problem with_offers(const plan_problem& problem, const std::function<bool(const gpu_offer&)>& keep) {
    plan_problem out = problem;
    out.gpus.clear();
    out.max_rps.clear();
    for (int64_t g = 0; g < problem.n_gpus(); ++g) {
        if (keep(problem.gpus[g])) {
            out.gpus.push_back(problem.gpus[g]);
            out.max_rps.push_back(problem.max_rps[g]);
        }
    }
    return out;
}

single_type_plan cheapest_single_type(const plan_problem& p) {
    single_type_plan best;
    for (int64_t g = 0; g < p.n_gpus(); ++g) {
        double load = 0;
        bool serves_all = true;
        for (int64_t b = 0; b < p.n_buckets(); ++b) {
            if (p.rate_rps[b] <= 0) {
                continue;
            }
            if (!p.can_serve(g, b)) {
                serves_all = false;
                break;
            }
            load += p.load(g, b);
        }
        if (!serves_all) {
            continue;
        }
        // 1e-9 absorbs rounding in load sums that land exactly on an integer.
        const auto count = static_cast<int64_t>(std::ceil(load / p.max_utilisation - 1e-9));
        if (p.gpus[g].max_count >= 0 && count > p.gpus[g].max_count) {
            continue;
        }
        std::vector<int64_t> counts(p.n_gpus(), 0);
        counts[g] = count;
        if (!within_type_limits(p, counts)) {
            continue;
        }
        const double cost = static_cast<double>(count) * p.gpus[g].price_usd_per_hour;
        if (best.gpu < 0 || cost < best.cost_usd_per_hour) {
            best = {g, count, cost};
        }
    }
    return best;
}

} // namespace llmfleet::planner
