// What the simulator serves with: pools of identical replicas (one per plan GPU entry, or given explicitly in tests
// and benchmarks), each with its performance model, deployment and price, and optionally the plan whose routing
// table picks a pool per request. Copyable: each simulation builds its own router state from it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "perf/replica_model.h"

namespace llmfleet::sim {

struct pool_spec {
    std::string name;                                 // router pool name (the plan's gpus[].name)
    perf::deployment deployment;                      // GPU type, tp, pp, engines per GPU
    std::shared_ptr<const perf::replica_model> model; // shared by the pool's replicas (const: iteration_ms only)
    int64_t n_units = 0;                              // plan count: units of deployment.gpus_per_unit() GPUs
    int32_t n_replicas = 0;                           // n_units × deployment.replicas_per_unit()
    double price_usd_per_unit_hour = 0;               // the plan's price_usd_per_hour for one counted unit
};

struct cluster_spec {
    std::vector<pool_spec> pools;
    std::optional<std::string> plan_json; // plan.json text: its routing table picks pools; none → one pool of all
    std::string plan_origin;              // the plan's path, for messages
    std::string model_name;               // for reports
    // Σ n_units × price: the fleet's cost per hour.
    double cost_usd_per_hour() const {
        double total = 0;
        for (const pool_spec& p : pools) {
            total += static_cast<double>(p.n_units) * p.price_usd_per_unit_hour;
        }
        return total;
    }
};

// A pool of n_replicas replicas of `model`, one per unit (plan-free mode for tests and benchmarks).
inline pool_spec make_pool(std::string name, std::shared_ptr<const perf::replica_model> model, int32_t n_replicas,
                           double price_usd_per_unit_hour = 0) {
    pool_spec p;
    p.deployment.gpu = name;
    p.name = std::move(name);
    p.model = std::move(model);
    p.n_units = n_replicas;
    p.n_replicas = n_replicas;
    p.price_usd_per_unit_hour = price_usd_per_unit_hour;
    return p;
}

} // namespace llmfleet::sim
