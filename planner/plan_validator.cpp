// See plan_validator.h. Tolerances: 1e-6 absolute on shares and per-GPU load, 1e-9 relative on cost.
#include "planner/plan_validator.h"

#include <cmath>

#include <fmt/core.h>

namespace llmfleet::planner {

namespace {
constexpr double share_tolerance = 1e-6;

void check_assignment(const plan_problem& p, const plan& c, std::vector<std::string>& out) {
    for (int64_t b = 0; b < p.n_buckets(); ++b) {
        double total = 0;
        for (int64_t g = 0; g < p.n_gpus(); ++g) {
            const double s = c.share[b][g];
            if (!std::isfinite(s) || s < 0 || s > 1 + share_tolerance) {
                out.push_back(fmt::format("{} on {}: share {} outside [0, 1]", p.grid.label(b), p.gpus[g].name, s));
                continue;
            }
            if (s > 0 && (p.max_rps[g][b] <= 0 || p.rate_rps[b] <= 0)) {
                out.push_back(fmt::format("{} routed to {} which {}", p.grid.label(b), p.gpus[g].name,
                                          p.rate_rps[b] <= 0 ? "is pointless: the bucket has no traffic"
                                                             : "cannot serve it (throughput 0)"));
            }
            if (c.mode == plan_mode::slices) {
                const double slices = s * static_cast<double>(c.slice_factor);
                if (std::abs(slices - std::round(slices)) > share_tolerance * c.slice_factor) {
                    out.push_back(fmt::format("{} on {}: {} slices is not a whole number", p.grid.label(b),
                                              p.gpus[g].name, slices));
                }
            }
            total += s;
        }
        if (p.rate_rps[b] > 0 && std::abs(total - 1.0) > share_tolerance) {
            out.push_back(
                fmt::format("{}: shares sum to {:.9g}, expected 1 (each request routed once)", p.grid.label(b), total));
        }
    }
}

void check_capacity_and_cost(const plan_problem& p, const plan& c, std::vector<std::string>& out) {
    double cost = 0;
    for (int64_t g = 0; g < p.n_gpus(); ++g) {
        const int64_t n = c.gpu_count[g];
        if (n < 0) {
            out.push_back(fmt::format("{}: negative GPU count {}", p.gpus[g].name, n));
        }
        if (p.gpus[g].max_count >= 0 && n > p.gpus[g].max_count) {
            out.push_back(
                fmt::format("{}: {} GPUs exceed the availability limit {}", p.gpus[g].name, n, p.gpus[g].max_count));
        }
        double load = 0;
        for (int64_t b = 0; b < p.n_buckets(); ++b) {
            if (c.share[b][g] > 0 && p.max_rps[g][b] > 0) {
                load += c.share[b][g] * p.rate_rps[b] / p.max_rps[g][b];
            }
        }
        const double capacity = p.max_utilisation * static_cast<double>(n);
        if (load > capacity + share_tolerance) {
            out.push_back(fmt::format("{}: load {:.6f} GPUs exceeds capacity {} × {} = {:.6f}", p.gpus[g].name, load, n,
                                      p.max_utilisation, capacity));
        }
        cost += static_cast<double>(n) * p.gpus[g].price_usd_per_hour;
    }
    for (const gpu_type_limit& limit : p.gpu_limits) {
        const int64_t used = c.gpus_of_type(p, limit.gpu_type);
        if (used > limit.max_gpus) {
            out.push_back(fmt::format("{}: {} GPUs across its deployments exceed the availability limit {}",
                                      limit.gpu_type, used, limit.max_gpus));
        }
    }
    if (std::abs(cost - c.cost_usd_per_hour) > 1e-9 * std::max(1.0, cost)) {
        out.push_back(
            fmt::format("cost: plan says {:.6f} $/h, counts × prices give {:.6f} $/h", c.cost_usd_per_hour, cost));
    }
    if (c.bound_usd_per_hour > c.cost_usd_per_hour + 1e-9 * std::max(1.0, cost)) {
        out.push_back(
            fmt::format("bound {:.6f} $/h is above the cost {:.6f} $/h", c.bound_usd_per_hour, c.cost_usd_per_hour));
    }
}
} // namespace

std::vector<std::string> validate_plan(const plan_problem& p, const plan& c) {
    std::vector<std::string> out;
    if (!c.has_solution()) {
        if (c.status != plan_status::optimal && c.reason.empty()) {
            out.push_back(fmt::format("status {} without a reason", to_string(c.status)));
        }
        return out;
    }
    if (static_cast<int64_t>(c.gpu_count.size()) != p.n_gpus() ||
        static_cast<int64_t>(c.share.size()) != p.n_buckets()) {
        out.push_back(fmt::format("shape: {} counts and {} bucket rows for {} GPU types and {} buckets",
                                  c.gpu_count.size(), c.share.size(), p.n_gpus(), p.n_buckets()));
        return out;
    }
    for (const std::vector<double>& row : c.share) {
        if (static_cast<int64_t>(row.size()) != p.n_gpus()) {
            out.push_back(fmt::format("shape: a bucket row has {} shares for {} GPU types", row.size(), p.n_gpus()));
            return out;
        }
    }
    if (c.mode == plan_mode::slices && c.slice_factor < 1) {
        out.push_back(fmt::format("slices mode with slice factor {}", c.slice_factor));
        return out;
    }
    check_assignment(p, c, out);
    check_capacity_and_cost(p, c, out);
    return out;
}

} // namespace llmfleet::planner
