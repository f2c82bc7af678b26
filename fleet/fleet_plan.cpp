// See fleet_plan.h.
#include "fleet/fleet_plan.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/log.h"

namespace llmfleet::fleet {

namespace jr = json_read;

namespace {

int32_t positive_int(const jr::json& obj, std::string_view key, const std::string& path) {
    const jr::json* v = jr::optional_member(obj, key, path);
    if (v == nullptr) {
        return 1;
    }
    const std::string field = jr::child(path, key);
    const int64_t n = jr::integer(*v, field);
    if (n < 1 || n > 4096) {
        throw invalid_input(fmt::format("{}: expected an integer ≥ 1, got {}", field, n));
    }
    return static_cast<int32_t>(n);
}

deployment_shape parse_deployment(const jr::json& d, const std::string& path, std::string& type) {
    if (!d.is_object()) {
        throw invalid_input(fmt::format("{}: expected an object {{\"gpu\", \"tp\", \"pp\", \"engines_per_gpu\"}}, "
                                        "got {}",
                                        path, d.dump()));
    }
    for (const auto& [key, value] : d.items()) {
        if (key != "gpu" && key != "tp" && key != "pp" && key != "engines_per_gpu") {
            throw invalid_input(fmt::format("{}: unknown key `{}`; expected gpu, tp, pp, engines_per_gpu", path, key));
        }
    }
    if (const jr::json* gpu = jr::optional_member(d, "gpu", path)) {
        type = jr::string(*gpu, jr::child(path, "gpu"));
        if (type.empty()) {
            throw invalid_input(fmt::format("{}.gpu: expected a GPU type name, got \"\"", path));
        }
    }
    deployment_shape s;
    s.tp = positive_int(d, "tp", path);
    s.pp = positive_int(d, "pp", path);
    s.engines_per_gpu = positive_int(d, "engines_per_gpu", path);
    return s;
}

} // namespace

int32_t pool_request::n_engines() const {
    if (gpus.empty()) {
        return n_cpu_engines;
    }
    return static_cast<int32_t>(gpus.size()) / deployment.gpus_per_engine() * deployment.engines_per_gpu;
}

std::vector<plan_gpu_entry> parse_plan_gpus(std::string_view plan_json, std::string_view origin) {
    const std::string root(origin.empty() ? "plan.json" : origin);
    const jr::json doc = jr::parse(plan_json, root);
    if (!doc.is_object()) {
        throw invalid_input(
            fmt::format("{}: expected a plan object from `llmfleet plan --json`, got {}", root, doc.type_name()));
    }
    if (const jr::json* status = jr::optional_member(doc, "status", root)) {
        const std::string s = jr::string(*status, root + " status");
        if (s != "optimal" && s != "feasible_with_gap") {
            throw invalid_input(fmt::format("{} status: \"{}\" — the plan has no solution to serve; re-run "
                                            "`llmfleet plan` with more GPUs or a looser SLO",
                                            root, s));
        }
    }
    const std::string gpus_path = root + " gpus";
    const jr::json& gpus = jr::member(doc, "gpus", root);
    if (!gpus.is_array()) {
        throw invalid_input(
            fmt::format("{}: expected an array of {{\"name\", \"count\", ...}}, got {}", gpus_path, gpus.type_name()));
    }
    std::vector<plan_gpu_entry> out;
    for (size_t i = 0; i < gpus.size(); ++i) {
        const std::string path = jr::index(gpus_path, i);
        if (!gpus[i].is_object()) {
            throw invalid_input(fmt::format("{}: expected an object {{\"name\", \"count\", ...}}", path));
        }
        plan_gpu_entry e;
        e.pool = jr::string(jr::member(gpus[i], "name", path), jr::child(path, "name"));
        e.type = e.pool;
        e.count = jr::integer(jr::member(gpus[i], "count", path), jr::child(path, "count"));
        if (e.type.empty() || e.count < 0) {
            throw invalid_input(
                fmt::format("{}: expected a non-empty name and a count ≥ 0, got \"{}\" and {}", path, e.pool, e.count));
        }
        if (const jr::json* d = jr::optional_member(gpus[i], "deployment", path)) {
            e.deployment = parse_deployment(*d, jr::child(path, "deployment"), e.type);
        }
        if (e.count > 0) {
            out.push_back(std::move(e));
        }
    }
    if (out.empty()) {
        throw invalid_input(fmt::format("{}: the plan buys no GPU (every count is 0); nothing to serve", gpus_path));
    }
    return out;
}

std::vector<pool_request> match_plan_to_host(const std::vector<plan_gpu_entry>& plan, const std::vector<gpu_info>& host,
                                             const std::string& host_description, std::string_view origin) {
    std::vector<pool_request> pools;
    std::vector<std::string> wants, missing;
    std::vector<bool> taken(host.size(), false); // a GPU serves one entry (one pool)
    for (const plan_gpu_entry& e : plan) {
        const int32_t per_engine = e.deployment.gpus_per_engine();
        const int64_t n_wanted = e.count * per_engine;
        wants.push_back(fmt::format(
            "{}× {}{}", n_wanted, e.type,
            per_engine > 1 ? fmt::format(" (tp {} × pp {} per engine)", e.deployment.tp, e.deployment.pp) : ""));
        pool_request p{e.pool, {}, e.deployment, 0};
        for (size_t k = 0; k < host.size(); ++k) {
            if (!taken[k] && host[k].type == e.type && static_cast<int64_t>(p.gpus.size()) < n_wanted) {
                p.gpus.push_back(host[k]);
                taken[k] = true;
            }
        }
        const size_t usable = p.gpus.size() / static_cast<size_t>(per_engine) * static_cast<size_t>(per_engine);
        if (usable == 0) {
            missing.push_back(e.pool == e.type ? e.type : fmt::format("{} ({})", e.pool, e.type));
            continue;
        }
        if (usable < p.gpus.size()) {
            LLMFLEET_LOG_WARN("{}: {} of this host's {} GPUs do not make a whole {}-GPU engine; leaving them idle",
                              e.type, p.gpus.size() - usable, p.gpus.size(), per_engine);
            p.gpus.resize(usable);
        }
        if (static_cast<int64_t>(usable) < n_wanted) {
            LLMFLEET_LOG_WARN("{}: the plan has {} {} GPUs in this pool across the fleet; this host serves with {}",
                              e.pool, n_wanted, e.type, usable);
        }
        pools.push_back(std::move(p));
    }
    if (!missing.empty()) {
        throw invalid_input(fmt::format("{} wants {}; this host has {}, so it cannot serve {} (its routing table "
                                        "sends traffic there); hint: run `serve --plan` on a host with those GPUs, "
                                        "re-plan with --gpus limited to this host's types, or map a differently "
                                        "named GPU with --gpu-type",
                                        origin, fmt::join(wants, ", "), host_description, fmt::join(missing, ", ")));
    }
    return pools;
}

} // namespace llmfleet::fleet
