// Planning-time benchmark: prints a table of solve times for the fractional program, the aggregated slice
// program (per-bucket slice counts) and Mélange's own per-slice binary program, on
//   (a) 8 GPU types × 10 × 10 buckets (dense random distribution) at slice factors 1, 4, 8, 16;
//   (b) the hard case: 6 × 6 buckets, 4 GPU types, 128 req/s, slice factor 4, five random seeds.
// Every plan is re-checked by the validator before its time is reported; costs must agree across
// encodings of the same program. Usage: bench_plan [--baseline-time-limit S] [--repeats N]
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

#include <fmt/core.h>

#include "planner/capacity_model.h"
#include "planner/gpu_catalog.h"
#include "planner/model_arch.h"
#include "planner/plan_validator.h"
#include "planner/solver.h"

using namespace llmfleet::planner;

namespace {

// Profiles from the roofline model (Llama-3-8B, TPOT 50 ms) and a seeded random distribution that puts
// traffic in every bucket (harder than a real trace, where many buckets are empty).
plan_problem make_instance(const std::vector<std::string>& gpu_names, const bucket_grid& grid, double rate_rps,
                           uint32_t seed) {
    const gpu_catalog catalog = builtin_gpu_catalog();
    const auto& prices = catalog.price_sets.at("hyperscaler").prices;
    std::vector<gpu_spec> specs;
    plan_problem p;
    for (const std::string& n : gpu_names) {
        specs.push_back(catalog.get(n, "bench"));
        p.gpus.push_back(gpu_offer{n, prices.at(n).usd_per_hour, -1, {}});
    }
    const throughput_profile prof =
        estimate_profile(find_builtin_model("Llama-3-8B"), specs, grid, slo{50, {}}, roofline_params{});
    p.grid = grid;
    std::mt19937 rng(seed);
    std::exponential_distribution<double> weight(1.0);
    double total = 0;
    for (int64_t b = 0; b < grid.n_buckets(); ++b) {
        p.rate_rps.push_back(weight(rng));
        total += p.rate_rps.back();
    }
    for (double& r : p.rate_rps) {
        r *= rate_rps / total;
    }
    // Keep only buckets some GPU can serve (the longest ones fit on none under a 50 ms TPOT).
    for (const std::string& n : gpu_names) {
        p.max_rps.push_back(prof.max_rps.at(n).data);
    }
    for (int64_t b = 0; b < grid.n_buckets(); ++b) {
        bool served = false;
        for (const auto& row : p.max_rps) {
            served = served || row[b] > 0;
        }
        if (!served) {
            p.rate_rps[b] = 0;
        }
    }
    return p;
}

struct timing {
    plan result;
    double best_ms = 0;
};

timing time_solve(const plan_problem& p, const solve_options& o, int repeats) {
    timing t;
    t.best_ms = 1e300;
    for (int r = 0; r < repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        plan result = solve_plan(p, o);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        const std::vector<std::string> violations = validate_plan(p, result);
        if (!violations.empty()) {
            fmt::print(stderr, "validator rejected a plan: {}\n", violations[0]);
            std::exit(1);
        }
        t.best_ms = std::min(t.best_ms, ms);
        t.result = std::move(result);
    }
    return t;
}

void row(const std::string& instance, const std::string& program, int64_t s, const timing& t) {
    fmt::print("| {} | {} | {} | {} | {:.2f} | {:.3f} | {:.3f}% |\n", instance, program,
               s == 0 ? "-" : std::to_string(s), to_string(t.result.status), t.best_ms, t.result.cost_usd_per_hour,
               100 * t.result.gap());
}

solve_options options(plan_mode mode, int64_t s, slice_encoding e, double limit_s) {
    solve_options o;
    o.mode = mode;
    o.slice_factor = s;
    o.encoding = e;
    o.time_limit_s = limit_s;
    // Mélange's program as Mélange hands it to CBC: no starting solution.
    o.warm_start = e == slice_encoding::per_bucket_count;
    return o;
}

} // namespace

int main(int argc, char** argv) {
    double baseline_limit_s = 60;
    int repeats = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--baseline-time-limit") {
            baseline_limit_s = std::atof(argv[i + 1]);
        } else if (flag == "--repeats") {
            repeats = std::atoi(argv[i + 1]);
        }
    }
    fmt::print("| instance | program | slice factor | status | solve ms (best of {}) | $/h | gap |\n", repeats);
    fmt::print("|---|---|---|---|---|---|---|\n");

    const std::vector<std::string> all8 = {"A10G",      "L4",       "L40S",      "A100-40GB",
                                           "A100-80GB", "H100-SXM", "H100-PCIe", "H200"};
    const bucket_grid g10 = make_grid(default_bucket_edges(), default_bucket_edges());
    const plan_problem big = make_instance(all8, g10, 128, 1);
    const std::string big_name = "8 GPUs × 10×10, 128 req/s";
    row(big_name, "fractional (default)", 0,
        time_solve(big, options(plan_mode::fractional, 1, slice_encoding::per_bucket_count, 60), repeats));
    for (int64_t s : {1, 4, 8, 16}) {
        row(big_name, "slices, per-bucket counts", s,
            time_solve(big, options(plan_mode::slices, s, slice_encoding::per_bucket_count, 60), repeats));
    }
    for (int64_t s : {1, 4, 8}) {
        row(big_name, "slices, Mélange per-slice binary", s,
            time_solve(big, options(plan_mode::slices, s, slice_encoding::per_slice_binary, baseline_limit_s), 1));
    }

    const bucket_grid g6 = make_grid(make_bucket_edges({1, 25, 100, 250, 500, 1000, 2000}, "in"),
                                     make_bucket_edges({1, 25, 100, 250, 500, 1000, 2000}, "out"));
    fmt::print("\n| 4 GPUs × 6×6, 128 req/s, slice factor 4 | fractional ms | per-bucket counts ms | $/h | "
               "Mélange per-slice binary ms | status | $/h | same optimum |\n|---|---|---|---|---|---|---|---|\n");
    for (uint32_t seed = 1; seed <= 5; ++seed) {
        const plan_problem hard = make_instance({"A10G", "L4", "A100-80GB", "H100-SXM"}, g6, 128, seed);
        const timing frac =
            time_solve(hard, options(plan_mode::fractional, 1, slice_encoding::per_bucket_count, 60), repeats);
        const timing ours =
            time_solve(hard, options(plan_mode::slices, 4, slice_encoding::per_bucket_count, 60), repeats);
        const timing theirs =
            time_solve(hard, options(plan_mode::slices, 4, slice_encoding::per_slice_binary, baseline_limit_s), 1);
        const bool same = std::abs(ours.result.cost_usd_per_hour - theirs.result.cost_usd_per_hour) <
                          1e-6 * ours.result.cost_usd_per_hour;
        fmt::print("| seed {} | {:.1f} | {:.1f} | {:.3f} | {:.1f} | {} | {:.3f} | {} |\n", seed, frac.best_ms,
                   ours.best_ms, ours.result.cost_usd_per_hour, theirs.best_ms, to_string(theirs.result.status),
                   theirs.result.cost_usd_per_hour,
                   same ? "yes" : (theirs.result.status == plan_status::optimal ? "NO" : "not proven (time limit)"));
    }
    return 0;
}
