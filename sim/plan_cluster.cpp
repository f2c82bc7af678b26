// See plan_cluster.h.
#include "sim/plan_cluster.h"

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "perf/iteration_model.h"
#include "serve/router/routing_table.h"
#include "sim/replica.h"

namespace llmfleet::sim {

namespace jr = json_read;

namespace {

constexpr std::string_view plan_schema = "llmfleet.plan.v1";

int32_t degree(const jr::json& d, std::string_view key, const std::string& path) {
    const jr::json* value = jr::optional_member(d, key, path);
    if (value == nullptr) {
        return 1;
    }
    const int64_t x = jr::integer(*value, jr::child(path, key));
    if (x < 1 || x > 1024) {
        throw invalid_input(fmt::format("{}: expected an integer in [1, 1024], got {}", jr::child(path, key), x));
    }
    return static_cast<int32_t>(x);
}

plan_gpu_entry parse_gpu(const jr::json& g, const std::string& path) {
    plan_gpu_entry e;
    e.name = jr::string(jr::member(g, "name", path), jr::child(path, "name"));
    if (e.name.empty()) {
        throw invalid_input(fmt::format("{}: expected a GPU type name, got \"\"", jr::child(path, "name")));
    }
    e.count = jr::integer(jr::member(g, "count", path), jr::child(path, "count"));
    if (e.count < 0) {
        throw invalid_input(fmt::format("{}: expected a count ≥ 0, got {}", jr::child(path, "count"), e.count));
    }
    e.price_usd_per_hour =
        jr::non_negative(jr::member(g, "price_usd_per_hour", path), jr::child(path, "price_usd_per_hour"));
    e.deployment.gpu = e.name;
    if (const jr::json* d = jr::optional_member(g, "deployment", path)) {
        const std::string dpath = jr::child(path, "deployment");
        if (const jr::json* gpu = jr::optional_member(*d, "gpu", dpath)) {
            e.deployment.gpu = jr::string(*gpu, jr::child(dpath, "gpu"));
        }
        e.deployment.tp = degree(*d, "tp", dpath);
        e.deployment.pp = degree(*d, "pp", dpath);
        e.deployment.engines_per_gpu = degree(*d, "engines_per_gpu", dpath);
    }
    return e;
}

} // namespace

plan_summary parse_plan_summary(std::string_view text, std::string_view origin) {
    const std::string root = "plan.json";
    try {
        const jr::json doc = jr::parse(text, "");
        const std::string schema = jr::string(jr::member(doc, "schema", root), root + " schema");
        if (schema != plan_schema) {
            throw invalid_input(fmt::format("{} schema: expected \"{}\", got \"{}\"; hint: pass a plan written by "
                                            "`llmfleet plan --output json --out plan.json`",
                                            root, plan_schema, schema));
        }
        const std::string status = jr::string(jr::member(doc, "status", root), root + " status");
        if (status != "optimal" && status != "feasible_with_gap") {
            const jr::json* reason = jr::optional_member(doc, "reason", root);
            throw invalid_input(fmt::format(
                "{} status: expected optimal or feasible_with_gap (a plan with a "
                "solution), got \"{}\"{}; hint: re-plan with a looser SLO, more GPUs "
                "available or a longer time limit",
                root, status,
                reason != nullptr && reason->is_string() ? fmt::format(" ({})", reason->get<std::string>()) : ""));
        }
        plan_summary out;
        const jr::json& gpus = jr::member(doc, "gpus", root);
        if (!gpus.is_array() || gpus.empty()) {
            throw invalid_input(fmt::format("{} gpus: expected a non-empty array of {{name, count, "
                                            "price_usd_per_hour}}, got {}",
                                            root, gpus.is_array() ? "[]" : gpus.type_name()));
        }
        for (size_t i = 0; i < gpus.size(); ++i) {
            plan_gpu_entry e = parse_gpu(gpus[i], jr::index(root + " gpus", i));
            for (const plan_gpu_entry& seen : out.gpus) {
                if (seen.name == e.name) {
                    throw invalid_input(
                        fmt::format("{}.name: `{}` is listed twice", jr::index(root + " gpus", i), e.name));
                }
            }
            out.gpus.push_back(std::move(e));
        }
        if (const jr::json* cost = jr::optional_member(doc, "cost_usd_per_hour", root)) {
            out.cost_usd_per_hour = jr::non_negative(*cost, root + " cost_usd_per_hour");
        }
        if (const jr::json* inputs = jr::optional_member(doc, "inputs", root)) {
            if (const jr::json* model = jr::optional_member(*inputs, "model", root + " inputs")) {
                out.model = jr::string(*model, root + " inputs.model");
            }
            if (const jr::json* slo = jr::optional_member(*inputs, "slo", root + " inputs")) {
                const std::string slo_path = root + " inputs.slo";
                if (const jr::json* tpot = jr::optional_member(*slo, "tpot_ms", slo_path)) {
                    out.tpot_ms = jr::positive(*tpot, jr::child(slo_path, "tpot_ms"));
                }
                if (const jr::json* ttft = jr::optional_member(*slo, "ttft_ms", slo_path)) {
                    out.ttft_ms = jr::positive(*ttft, jr::child(slo_path, "ttft_ms"));
                }
            }
        }
        return out;
    } catch (const error& e) {
        throw e.with_context(origin.empty() ? "plan.json" : origin);
    }
}

cluster_spec cluster_from_plan(const std::string& plan_text, const std::string& origin,
                               const planner::model_arch& model, const planner::gpu_catalog& catalog,
                               const perf::params_overrides* params) {
    const plan_summary plan = parse_plan_summary(plan_text, origin);
    // The router's own parser: refuses what the real router would refuse, with its messages.
    const serve::routing_table table = serve::routing_table::from_plan_json(plan_text, origin);
    cluster_spec cluster;
    cluster.plan_json = plan_text;
    cluster.plan_origin = origin;
    cluster.model_name = model.name;
    for (size_t i = 0; i < plan.gpus.size(); ++i) {
        const plan_gpu_entry& e = plan.gpus[i];
        if (e.count == 0) {
            continue;
        }
        const std::string field = fmt::format("{}: gpus[{}] ({})", origin, i, e.name);
        const planner::gpu_spec* gpu = catalog.find(e.deployment.gpu);
        if (gpu == nullptr) {
            throw invalid_input(fmt::format("{}: GPU type `{}` is not in the {} catalog (known: {}); hint: pass "
                                            "--catalog FILE with its specs, or re-plan with this catalog",
                                            field, e.deployment.gpu, catalog.origin, catalog.names()));
        }
        pool_spec pool;
        pool.name = e.name;
        pool.deployment = e.deployment;
        try {
            pool.model = params != nullptr
                             ? perf::make_replica_model(model, *gpu, e.deployment, params->params_for(*gpu))
                             : perf::make_replica_model(model, *gpu, e.deployment);
        } catch (const error& err) {
            throw err.with_context(field);
        }
        // Early, with the file and entry in the message: the weights must leave room for KV blocks.
        replica_kv_blocks(*pool.model, replica_config{}.block_size, field);
        pool.n_units = e.count;
        const int64_t n_replicas = e.count * e.deployment.replicas_per_unit();
        if (n_replicas > 1'000'000) {
            throw invalid_input(fmt::format("{}: {} replicas: expected at most 1,000,000", field, n_replicas));
        }
        pool.n_replicas = static_cast<int32_t>(n_replicas);
        pool.price_usd_per_unit_hour = e.price_usd_per_hour;
        cluster.pools.push_back(std::move(pool));
    }
    if (cluster.pools.empty()) {
        throw invalid_input(
            fmt::format("{}: every gpus[] entry has count 0: nothing to simulate; hint: re-plan", origin));
    }
    for (const std::string& routed : table.pools()) {
        bool found = false;
        for (const pool_spec& p : cluster.pools) {
            found = found || p.name == routed;
        }
        if (!found) {
            throw invalid_input(fmt::format("{}: the routing table routes to `{}`, which has no gpus[] entry with "
                                            "count ≥ 1; hint: re-plan, or fix the plan's gpus",
                                            origin, routed));
        }
    }
    return cluster;
}

} // namespace llmfleet::sim
