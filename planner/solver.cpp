// The planning MILP (docs/planner.md, "The program"). Variables:
//   y[g]     integer >= 0, <= max_count[g]: GPUs of type g                     objective Σ price[g] × y[g]
//   fractional: x[b][g] ∈ [0, 1], share of bucket b's traffic on type g
//   slices:     n[b][g] ∈ {0..S}, slices of bucket b on type g (per_bucket_count), or
//               z[b][s][g] ∈ {0, 1} for each slice s (per_slice_binary, Mélange's own form)
// Only pairs where type g can serve bucket b (max_rps > 0, availability > 0) get a variable, and only
// buckets with traffic appear at all.
#include "planner/solver.h"

#include <cmath>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::planner {

namespace {

struct layout {
    std::vector<int> y;                                   // [n_gpus] column of y[g]
    std::vector<std::vector<int>> col;                    // [n_buckets][n_gpus] column of x / n; -1 = none
    std::vector<std::vector<std::vector<int>>> slice_col; // per_slice_binary: [b][s][g]
};

bool slices_binary(const solve_options& o) {
    return o.mode == plan_mode::slices && o.encoding == slice_encoding::per_slice_binary;
}

// Greedy feasible start: each bucket whole on the type with the lowest price × load; counts rounded up.
// Empty when availability limits break it.
std::vector<int64_t> greedy_choice(const plan_problem& p) {
    std::vector<int64_t> choice(p.n_buckets(), -1);
    for (int64_t b = 0; b < p.n_buckets(); ++b) {
        if (p.rate_rps[b] <= 0) {
            continue;
        }
        double best = 0;
        for (int64_t g = 0; g < p.n_gpus(); ++g) {
            if (p.can_serve(g, b)) {
                const double c = p.gpus[g].price_usd_per_hour * p.load(g, b);
                if (choice[b] < 0 || c < best) {
                    choice[b] = g;
                    best = c;
                }
            }
        }
    }
    return choice;
}

layout add_variables(milp_model& m, const plan_problem& p, const solve_options& o) {
    layout l;
    for (int64_t g = 0; g < p.n_gpus(); ++g) {
        const double upper = p.gpus[g].max_count < 0 ? milp_infinity : static_cast<double>(p.gpus[g].max_count);
        l.y.push_back(m.add_col(fmt::format("y_{}", g), 0, upper, p.gpus[g].price_usd_per_hour, true));
    }
    const bool integer = o.mode == plan_mode::slices;
    const double upper = o.mode == plan_mode::slices ? static_cast<double>(o.slice_factor) : 1.0;
    l.col.assign(p.n_buckets(), std::vector<int>(p.n_gpus(), -1));
    l.slice_col.assign(p.n_buckets(), {});
    for (int64_t b = 0; b < p.n_buckets(); ++b) {
        if (p.rate_rps[b] <= 0) {
            continue;
        }
        if (slices_binary(o)) {
            l.slice_col[b].assign(o.slice_factor, std::vector<int>(p.n_gpus(), -1));
        }
        for (int64_t g = 0; g < p.n_gpus(); ++g) {
            if (!p.can_serve(g, b)) {
                continue;
            }
            if (slices_binary(o)) {
                for (int64_t s = 0; s < o.slice_factor; ++s) {
                    l.slice_col[b][s][g] = m.add_col(fmt::format("z_{}_{}_{}", b, s, g), 0, 1, 0, true);
                }
            } else {
                l.col[b][g] = m.add_col(fmt::format("x_{}_{}", b, g), 0, upper, 0, integer);
            }
        }
    }
    return l;
}

void add_constraints(milp_model& m, const plan_problem& p, const solve_options& o, const layout& l) {
    const double slice_fraction = o.mode == plan_mode::slices ? 1.0 / static_cast<double>(o.slice_factor) : 1.0;
    // C1 assignment: every bucket's traffic is placed exactly once.
    for (int64_t b = 0; b < p.n_buckets(); ++b) {
        if (p.rate_rps[b] <= 0) {
            continue;
        }
        if (slices_binary(o)) {
            for (int64_t s = 0; s < o.slice_factor; ++s) {
                std::vector<int> cols;
                for (int c : l.slice_col[b][s]) {
                    if (c >= 0) {
                        cols.push_back(c);
                    }
                }
                m.add_row(fmt::format("C1_assign_{}_{}", b, s), cols, std::vector<double>(cols.size(), 1.0), 1, 1);
            }
            continue;
        }
        std::vector<int> cols;
        for (int c : l.col[b]) {
            if (c >= 0) {
                cols.push_back(c);
            }
        }
        const double whole = o.mode == plan_mode::slices ? static_cast<double>(o.slice_factor) : 1.0;
        m.add_row(fmt::format("C1_assign_{}", b), cols, std::vector<double>(cols.size(), 1.0), whole, whole);
    }
    // C2 capacity: the load placed on type g fits in max_utilisation × y[g] GPUs.
    for (int64_t g = 0; g < p.n_gpus(); ++g) {
        std::vector<int> cols;
        std::vector<double> coefs;
        for (int64_t b = 0; b < p.n_buckets(); ++b) {
            if (p.rate_rps[b] <= 0 || !p.can_serve(g, b)) {
                continue;
            }
            const double load = p.load(g, b) * slice_fraction;
            if (slices_binary(o)) {
                for (int64_t s = 0; s < o.slice_factor; ++s) {
                    cols.push_back(l.slice_col[b][s][g]);
                    coefs.push_back(load);
                }
            } else {
                cols.push_back(l.col[b][g]);
                coefs.push_back(load);
            }
        }
        cols.push_back(l.y[g]);
        coefs.push_back(-p.max_utilisation);
        m.add_row(fmt::format("C2_capacity_{}", g), cols, coefs, -milp_infinity, 0);
    }
    // C3 availability is the upper bound on y[g] (set in add_variables); C3b: a GPU type's limit shared by its
    // offers, Σ gpus_per_unit[g] × y[g] ≤ max_gpus.
    for (const gpu_type_limit& limit : p.gpu_limits) {
        std::vector<int> cols;
        std::vector<double> coefs;
        for (int64_t g = 0; g < p.n_gpus(); ++g) {
            if (p.gpus[g].gpu_type() == limit.gpu_type) {
                cols.push_back(l.y[g]);
                coefs.push_back(static_cast<double>(p.gpus[g].gpus_per_unit()));
            }
        }
        if (!cols.empty()) {
            m.add_row(fmt::format("C3b_type_{}", limit.gpu_type), cols, coefs, -milp_infinity,
                      static_cast<double>(limit.max_gpus));
        }
    }
}

void add_start(milp_model& m, const plan_problem& p, const solve_options& o, const layout& l) {
    const std::vector<int64_t> choice = greedy_choice(p);
    std::vector<double> start(m.n_cols(), 0.0);
    std::vector<double> load(p.n_gpus(), 0.0);
    for (int64_t b = 0; b < p.n_buckets(); ++b) {
        const int64_t g = choice[b];
        if (g < 0) {
            continue;
        }
        load[g] += p.load(g, b);
        if (slices_binary(o)) {
            for (int64_t s = 0; s < o.slice_factor; ++s) {
                start[l.slice_col[b][s][g]] = 1;
            }
        } else {
            start[l.col[b][g]] = o.mode == plan_mode::slices ? static_cast<double>(o.slice_factor) : 1.0;
        }
    }
    std::vector<int64_t> counts(p.n_gpus(), 0);
    for (int64_t g = 0; g < p.n_gpus(); ++g) {
        counts[g] = static_cast<int64_t>(std::ceil(load[g] / p.max_utilisation - 1e-9));
        if (p.gpus[g].max_count >= 0 && counts[g] > p.gpus[g].max_count) {
            return; // the greedy start breaks availability: no start
        }
        start[l.y[g]] = static_cast<double>(counts[g]);
    }
    if (!within_type_limits(p, counts)) {
        return;
    }
    m.start = std::move(start);
}

// Buckets with traffic that no GPU type can serve; the reason names them (first five) and the types.
std::string unservable_reason(const plan_problem& p) {
    std::vector<int64_t> bad;
    for (int64_t b = 0; b < p.n_buckets(); ++b) {
        bool served = false;
        for (int64_t g = 0; g < p.n_gpus(); ++g) {
            served = served || p.can_serve(g, b);
        }
        if (p.rate_rps[b] > 0 && !served) {
            bad.push_back(b);
        }
    }
    if (bad.empty()) {
        return "";
    }
    std::string types;
    for (const gpu_offer& o : p.gpus) {
        types += (types.empty() ? "" : ", ") + o.name + (o.max_count == 0 ? " (max 0)" : "");
    }
    std::string which;
    for (size_t k = 0; k < bad.size() && k < 5; ++k) {
        which += fmt::format("{}{} ({:.3g} req/s)", k ? "; " : "", p.grid.label(bad[k]), p.rate_rps[bad[k]]);
    }
    return fmt::format("{} bucket(s) with traffic have zero throughput on every GPU type ({}): {}{}; the model "
                       "does not fit or the SLO cannot be met there: relax the SLO, add larger GPU types, or "
                       "drop those requests from the workload",
                       bad.size(), types, which, bad.size() > 5 ? "; ..." : "");
}

// CBC proved infeasibility after the per-bucket check passed. With unlimited counts every instance is
// feasible, so availability limits are the cause; without limits the numbers are out of range.
std::string infeasible_reason(const plan_problem& p) {
    std::string limits;
    for (const gpu_offer& o : p.gpus) {
        if (o.max_count >= 0) {
            limits += fmt::format("{}{}={}", limits.empty() ? "" : ", ", o.name, o.max_count);
        }
    }
    for (const gpu_type_limit& limit : p.gpu_limits) {
        limits += fmt::format("{}{}={}", limits.empty() ? "" : ", ", limit.gpu_type, limit.max_gpus);
    }
    if (limits.empty()) {
        return fmt::format("the solver reports no plan although no availability limit is set; the numbers are "
                           "probably out of range for it (total rate {:.6g} req/s); check --rate and the profile",
                           p.total_rate_rps());
    }
    return fmt::format("the availability limits (--max-gpus {}) cannot carry the workload ({:.6g} req/s): even every "
                       "allowed GPU together lacks the capacity at --max-utilisation {}; raise the limits, allow "
                       "more GPU types, or lower the request rate",
                       limits, p.total_rate_rps(), p.max_utilisation);
}

plan extract(const plan_problem& p, const solve_options& o, const layout& l, const milp_result& r) {
    plan out;
    out.mode = o.mode;
    out.slice_factor = o.mode == plan_mode::slices ? o.slice_factor : 1;
    out.solve_ms = r.solve_ms;
    out.gpu_count.assign(p.n_gpus(), 0);
    out.share.assign(p.n_buckets(), std::vector<double>(p.n_gpus(), 0.0));
    for (int64_t g = 0; g < p.n_gpus(); ++g) {
        out.gpu_count[g] = std::llround(r.x[l.y[g]]);
        out.cost_usd_per_hour += static_cast<double>(out.gpu_count[g]) * p.gpus[g].price_usd_per_hour;
    }
    const double whole = o.mode == plan_mode::slices ? static_cast<double>(o.slice_factor) : 1.0;
    for (int64_t b = 0; b < p.n_buckets(); ++b) {
        for (int64_t g = 0; g < p.n_gpus(); ++g) {
            double v = 0;
            if (slices_binary(o)) {
                for (int64_t s = 0; s < o.slice_factor && !l.slice_col[b].empty(); ++s) {
                    v += l.slice_col[b][s][g] >= 0 ? std::round(r.x[l.slice_col[b][s][g]]) : 0.0;
                }
            } else if (l.col[b][g] >= 0) {
                v = r.x[l.col[b][g]];
                v = o.mode == plan_mode::slices ? std::round(v) : v;
            }
            // Solver noise below 1e-9 of a bucket is not a route worth keeping.
            out.share[b][g] = v / whole < 1e-9 ? 0.0 : std::min(1.0, v / whole);
        }
    }
    out.bound_usd_per_hour = std::min(out.cost_usd_per_hour, std::max(0.0, r.best_bound));
    out.status = r.status == milp_status::optimal ? plan_status::optimal : plan_status::feasible_with_gap;
    if (out.status == plan_status::optimal) {
        out.bound_usd_per_hour = out.cost_usd_per_hour;
    }
    return out;
}

milp_model build(const plan_problem& p, const solve_options& o, layout& l) {
    milp_model m;
    l = add_variables(m, p, o);
    add_constraints(m, p, o, l);
    if (o.warm_start) {
        add_start(m, p, o, l);
    }
    return m;
}

} // namespace

milp_model build_milp(const plan_problem& problem, const solve_options& options) {
    layout l;
    return build(problem, options, l);
}

plan solve_plan(const plan_problem& p, const solve_options& o) {
    check_problem(p);
    if (o.mode == plan_mode::slices && o.slice_factor < 1) {
        throw invalid_input(fmt::format("--slices: expected a slice factor >= 1, got {}", o.slice_factor));
    }
    if (!(o.time_limit_s > 0)) {
        throw invalid_input(fmt::format("--time-limit: expected seconds > 0, got {}", o.time_limit_s));
    }
    plan out;
    out.mode = o.mode;
    out.slice_factor = o.mode == plan_mode::slices ? o.slice_factor : 1;
    out.gpu_count.assign(p.n_gpus(), 0);
    out.share.assign(p.n_buckets(), std::vector<double>(p.n_gpus(), 0.0));
    if (std::string reason = unservable_reason(p); !reason.empty()) {
        out.status = plan_status::infeasible;
        out.reason = std::move(reason);
        return out;
    }
    if (p.total_rate_rps() <= 0) {
        out.status = plan_status::optimal; // nothing to serve: zero GPUs, zero cost
        return out;
    }
    layout l;
    const milp_model m = build(p, o, l);
    const milp_result r = solve_milp(m, milp_options{o.time_limit_s, 1e-9});
    switch (r.status) {
    case milp_status::optimal:
    case milp_status::feasible:
        return extract(p, o, l, r);
    case milp_status::infeasible:
        out.status = plan_status::infeasible;
        out.reason = infeasible_reason(p);
        break;
    case milp_status::no_solution:
        out.status = plan_status::time_limit;
        out.reason = fmt::format("no plan found within the time limit of {} s; raise --time-limit", o.time_limit_s);
        break;
    case milp_status::unbounded:
    case milp_status::error:
        out.status = plan_status::error;
        out.reason = fmt::format("the MILP solver failed ({}): {}", to_string(r.status), r.message);
        break;
    }
    out.solve_ms = r.solve_ms;
    return out;
}

} // namespace llmfleet::planner
