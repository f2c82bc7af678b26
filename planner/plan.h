// The planning problem (GPU offers × buckets with rates and profiled capacities) and its solution,
// the plan: GPU counts per type and each bucket's traffic split across types (the routing table).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "planner/bucket_grid.h"
#include "planner/deployment.h"

namespace llmfleet::planner {

// What the program buys in whole units. Mélange's offers are GPU types (a unit is one GPU running one engine);
// in a joint plan an offer is a deployment (GPU type × tp × pp × engines per GPU) and a unit is the
// deployment's GPUs, priced at their sum.
struct gpu_offer {
    gpu_offer() = default;
    gpu_offer(std::string name_, double price, int64_t max_units = -1, deployment deployed = {})
        : name(std::move(name_)), price_usd_per_hour(price), max_count(max_units), config(std::move(deployed)) {}

    std::string name;              // the pool name: the GPU type, or the deployment's label in a joint plan
    double price_usd_per_hour = 0; // per unit
    int64_t max_count = -1;        // units at most; -1 = unlimited
    deployment config;             // config.gpu empty: a plain GPU type (unit = 1 GPU, tp = pp = 1, 1 engine)

    const std::string& gpu_type() const { return config.gpu.empty() ? name : config.gpu; }
    int64_t gpus_per_unit() const { return config.gpus_per_unit(); }
};

// An availability limit shared by every offer of one GPU type (C3b): Σ units × gpus_per_unit ≤ max_gpus.
struct gpu_type_limit {
    std::string gpu_type;
    int64_t max_gpus = 0;
};

struct plan_problem {
    std::vector<gpu_offer> gpus;
    bucket_grid grid;
    std::vector<double> rate_rps;             // [n_buckets] requests/s per bucket, flat index grid.flat(i, j)
    std::vector<std::vector<double>> max_rps; // [n_gpus][n_buckets] one GPU's max req/s; 0 = cannot serve
    double max_utilisation = 1.0;             // capacity headroom: load <= max_utilisation × count
    std::vector<gpu_type_limit> gpu_limits;   // per GPU type, across its offers (joint plans); may be empty

    int64_t n_gpus() const { return static_cast<int64_t>(gpus.size()); }
    int64_t n_buckets() const { return static_cast<int64_t>(rate_rps.size()); }
    // GPUs of type g needed to carry all of bucket b: rate / max rate (only where max_rps > 0).
    double load(int64_t g, int64_t b) const { return rate_rps[b] / max_rps[g][b]; }
    bool can_serve(int64_t g, int64_t b) const { return max_rps[g][b] > 0 && gpus[g].max_count != 0; }
    double total_rate_rps() const;
};

// Throws invalid_argument when sizes disagree or a value is negative / not finite / out of range.
void check_problem(const plan_problem& problem);

enum class plan_mode {
    fractional, // a bucket's traffic may split across GPU types in any proportion (default)
    slices,     // the Mélange program: each bucket cut into slice_factor equal slices, each on one type
};
std::string_view to_string(plan_mode mode);

// How the slice program is written down. Both have the same optimum.
enum class slice_encoding {
    per_bucket_count, // n[b][g] ∈ {0..S}: how many of bucket b's S interchangeable slices go to type g
    per_slice_binary, // Mélange's own: one binary per (slice, type); symmetric, slow to prove optimal
};

// Outcome of a solve.
//
//   solve ──► optimal              proven cheapest
//        ├──► feasible_with_gap    time limit hit with a plan in hand (gap > 0)
//        ├──► time_limit           time limit hit before any plan was found
//        ├──► infeasible           no plan exists (reason says why)
//        └──► error                the solver failed (reason holds its words)
enum class plan_status { optimal, feasible_with_gap, infeasible, time_limit, error };
std::string_view to_string(plan_status status);

struct plan {
    plan_status status = plan_status::error;
    std::string reason; // why infeasible / time_limit / error; empty otherwise
    plan_mode mode = plan_mode::fractional;
    int64_t slice_factor = 1;               // slices mode only
    std::vector<int64_t> gpu_count;         // [n_gpus]
    std::vector<std::vector<double>> share; // [n_buckets][n_gpus] fraction of the bucket's rate on each type
    double cost_usd_per_hour = 0;           // Σ price × count
    double bound_usd_per_hour = 0;          // proven lower bound on the optimum
    double solve_ms = 0;

    bool has_solution() const { return status == plan_status::optimal || status == plan_status::feasible_with_gap; }
    double gap() const; // (cost - bound) / cost, 0 when optimal
    // Load of type g (in GPUs' worth of work) and its utilisation load / count.
    double load(const plan_problem& problem, int64_t g) const;
    double utilisation(const plan_problem& problem, int64_t g) const;
    // GPUs of `gpu_type` the plan uses, across every offer of that type.
    int64_t gpus_of_type(const plan_problem& problem, const std::string& gpu_type) const;
};

// GPUs of `gpu_type` that unit counts [n_gpus] occupy, across every offer of that type.
int64_t gpus_of_type(const plan_problem& problem, const std::vector<int64_t>& counts, const std::string& gpu_type);
// Whether unit counts [n_gpus] respect every per-type limit (C3b).
bool within_type_limits(const plan_problem& problem, const std::vector<int64_t>& counts);
// The same problem with only the offers `keep` accepts (e.g. the plain ones: Mélange's space inside a joint plan).
plan_problem with_offers(const plan_problem& problem, const std::function<bool(const gpu_offer&)>& keep);

// The cheapest plan that uses one offer for everything (the savings baseline); gpu = -1 when no
// single type can serve every bucket within its availability.
struct single_type_plan {
    int64_t gpu = -1;
    int64_t count = 0;
    double cost_usd_per_hour = 0;
};
single_type_plan cheapest_single_type(const plan_problem& problem);

} // namespace llmfleet::planner
