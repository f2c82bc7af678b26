// See serve_setup.h.
#include "fleet/serve_setup.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/log.h"
#include "common/text.h"
#include "model/config.h"

namespace llmfleet::fleet {

namespace {

void check_options(const serve_options& o) {
    const auto at_least_one = [](int32_t v, std::string_view flag, std::string_view what) {
        if (v < 1) {
            throw invalid_input(fmt::format("{} {}: expected ≥ 1 {}", flag, v, what));
        }
    };
    if (o.n_cpu_engines != -1) {
        at_least_one(o.n_cpu_engines, "--engines", "engine");
    }
    at_least_one(o.engines_per_gpu, "--engines-per-gpu", "engine per GPU");
    at_least_one(o.tp, "--tp", "rank per stage");
    at_least_one(o.pp, "--pp", "pipeline stage");
    if (!(o.gpu_memory_utilization > 0 && o.gpu_memory_utilization <= 1)) {
        throw invalid_input(
            fmt::format("--gpu-memory-utilization {}: expected a fraction in (0, 1]", o.gpu_memory_utilization));
    }
    if (!(o.engine_reserve_gib >= 0) || !(o.kv_cache_gib >= 0)) {
        throw invalid_input(fmt::format("--engine-reserve-gib {} / --kv-cache-gib {}: expected ≥ 0 GiB",
                                        o.engine_reserve_gib, o.kv_cache_gib));
    }
    if (o.mps_thread_percentage < -1 || o.mps_thread_percentage > 100) {
        throw invalid_input(fmt::format("--mps-thread-percentage {}: expected 1..100, or 0 to leave it unset",
                                        o.mps_thread_percentage));
    }
    if (o.threads_per_engine < 0) {
        throw invalid_input(fmt::format("--threads {}: expected ≥ 1 (or 0: the host's threads shared by the engines)",
                                        o.threads_per_engine));
    }
    if (o.model_dir.empty()) {
        throw invalid_input("--model DIR is required: a Hugging Face model directory (config.json, safetensors)");
    }
    if (!std::filesystem::is_directory(o.model_dir)) {
        throw not_found(fmt::format("--model {}: no such directory; hint: make a test model with `llmfleet "
                                    "make-model` or pass a Hugging Face model directory",
                                    o.model_dir));
    }
    try {
        model::load_config(o.model_dir);
    } catch (const error& e) {
        throw e.with_context(fmt::format("--model {}", o.model_dir));
    }
}

// The host's GPUs that --gpus selects, with --gpu-type applied.
std::vector<gpu_info> selected_gpus(const serve_options& o, const gpu_detection& host) {
    if (host.gpus.empty()) {
        if (!o.gpus.empty()) {
            throw invalid_input(fmt::format("--gpus {}: this host has {}", o.gpus, describe_host(host)));
        }
        return {};
    }
    std::vector<gpu_info> gpus = select_gpus(host.gpus, o.gpus.empty() ? "all" : o.gpus);
    if (!o.gpu_type.empty()) {
        for (gpu_info& g : gpus) {
            g.type = o.gpu_type;
        }
    }
    return gpus;
}

std::vector<pool_request> pools_for(const serve_options& o, const gpu_detection& host, mps_mode mode,
                                    std::shared_ptr<serve::routing_table>& table) {
    const deployment_shape shape{o.tp, o.pp, o.engines_per_gpu};
    if (!o.plan_path.empty()) {
        if (o.n_cpu_engines != -1 || o.tp != 1 || o.pp != 1 || o.engines_per_gpu != 1) {
            throw invalid_input("--plan chooses the engines (plan.json gpus[].deployment); drop --engines, --tp, --pp "
                                "and --engines-per-gpu");
        }
        const std::string text = read_file(o.plan_path, "plan (--plan)");
        table = std::make_shared<serve::routing_table>(serve::routing_table::from_plan_json(text, o.plan_path));
        const std::vector<plan_gpu_entry> plan = parse_plan_gpus(text, o.plan_path);
        gpu_detection chosen = host;
        chosen.gpus = selected_gpus(o, host);
        return match_plan_to_host(plan, chosen.gpus, describe_host(chosen), o.plan_path);
    }
    if (o.n_cpu_engines != -1) {
        if (!o.gpus.empty() || o.engines_per_gpu != 1) {
            throw invalid_input("--engines N runs N CPU engines; --gpus and --engines-per-gpu place engines on GPUs: "
                                "pass one or the other");
        }
        if (mode == mps_mode::on) {
            throw invalid_input("--mps on needs NVIDIA GPUs, and --engines N runs CPU engines (MPS is not applicable "
                                "to them); hint: drop --mps on, or pass --gpus with --engines-per-gpu");
        }
        return {pool_request{"cpu", {}, shape, o.n_cpu_engines}};
    }
    const std::vector<gpu_info> gpus = selected_gpus(o, host);
    if (gpus.empty()) {
        if (mode == mps_mode::on) {
            throw invalid_input(fmt::format("--mps on: this host has {}; hint: use --mps auto or off, or --engines N "
                                            "for CPU engines",
                                            describe_host(host)));
        }
        LLMFLEET_LOG_INFO("this host has {}: running 1 CPU engine (pass --engines N for more)", describe_host(host));
        return {pool_request{"cpu", {}, shape, 1}};
    }
    std::vector<pool_request> pools; // one per GPU type, in the order the GPUs were given
    for (const gpu_info& g : gpus) {
        auto it = std::find_if(pools.begin(), pools.end(), [&](const pool_request& p) { return p.name == g.type; });
        if (it == pools.end()) {
            pools.push_back(pool_request{g.type, {}, shape, 0});
            it = pools.end() - 1;
        }
        it->gpus.push_back(g);
    }
    return pools;
}

pool_settings settings_for(const pool_request& pool, const serve_options& o, int64_t weights_bytes) {
    pool_settings s;
    if (pool.gpus.empty()) {
        if (o.kv_cache_gib > 0) {
            s.engine_args = {"--kv-cache-gib", fmt::format("{}", o.kv_cache_gib)};
        }
        return s;
    }
    const auto smallest =
        std::min_element(pool.gpus.begin(), pool.gpus.end(),
                         [](const gpu_info& a, const gpu_info& b) { return a.memory_total_mib < b.memory_total_mib; });
    kv_budget budget;
    try {
        budget = plan_kv_budget({smallest->memory_total_mib, o.gpu_memory_utilization, pool.deployment.engines_per_gpu,
                                 pool.deployment.gpus_per_engine(), weights_bytes, o.engine_reserve_gib});
    } catch (const error& e) {
        throw e.with_context(fmt::format("pool {} ({})", pool.name, smallest->name));
    }
    double kv_gib = budget.kv_cache_gib;
    if (o.kv_cache_gib > 0) {
        if (o.kv_cache_gib > budget.kv_cache_gib) {
            throw invalid_input(fmt::format("--kv-cache-gib {}: pool {} has room for {:.2f} GiB of KV per engine ({} "
                                            "MiB per engine of {} MiB, minus {:.2f} GiB of weights and {} GiB "
                                            "reserve); hint: lower it, or lower --engines-per-gpu",
                                            o.kv_cache_gib, pool.name, budget.kv_cache_gib, budget.engine_memory_mib,
                                            smallest->memory_total_mib, budget.weights_gib, o.engine_reserve_gib));
        }
        kv_gib = o.kv_cache_gib;
    }
    if (o.cuda_engines) {
        // The engine sizes its KV pool from its fraction of the GPU: weights, reserve (activations, context) and KV.
        const double engine_gib = budget.weights_gib + o.engine_reserve_gib + kv_gib;
        const double fraction = engine_gib * 1024.0 / static_cast<double>(smallest->memory_total_mib);
        s.engine_args = {"--device", "cuda", "--gpu-memory-fraction", fmt::format("{:.4f}", fraction)};
    } else {
        LLMFLEET_LOG_WARN("pool {}: running CPU engines on a GPU host (this build has no CUDA backend, or no CUDA "
                          "device is visible to this process); they get --kv-cache-gib {:.3f}",
                          pool.name, kv_gib);
        s.engine_args = {"--kv-cache-gib", fmt::format("{:.3f}", kv_gib)};
    }
    s.limits.pinned_mem_limit_mib = o.mps_memory_limit ? budget.engine_memory_mib : 0;
    s.limits.active_thread_percentage = o.mps_thread_percentage == -1
                                            ? default_active_thread_percentage(pool.deployment.engines_per_gpu)
                                            : o.mps_thread_percentage;
    LLMFLEET_LOG_INFO("pool {}: {} engine{} per GPU, each with {} MiB of each GPU ({:.2f} GiB weights, {:.3f} GiB KV)",
                      pool.name, pool.deployment.engines_per_gpu, pool.deployment.engines_per_gpu == 1 ? "" : "s",
                      budget.engine_memory_mib, budget.weights_gib, kv_gib);
    return s;
}

} // namespace

int64_t model_weights_bytes(const std::string& model_dir) {
    int64_t total = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(model_dir, ec)) {
        if (entry.is_regular_file(ec) && entry.path().extension() == ".safetensors") {
            total += static_cast<int64_t>(entry.file_size(ec));
        }
    }
    return total;
}

serve_setup prepare_serve(const serve_options& o, const gpu_detection& host, const std::string& program,
                          const std::string& run_dir) {
    const mps_mode mode = parse_mps_mode(o.mps);
    check_options(o);
    serve_setup setup;
    const std::vector<pool_request> pools = pools_for(o, host, mode, setup.table);
    const bool on_gpus = std::any_of(pools.begin(), pools.end(), [](const pool_request& p) { return !p.gpus.empty(); });

    layout_options lo;
    lo.program = program;
    lo.engine_args = {"--model", o.model_dir};
    lo.host = o.host;
    lo.run_dir = run_dir;
    lo.mps = on_gpus && mode != mps_mode::off;
    const int32_t n_engines = count_engines(pools);
    const int32_t n_threads = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
    lo.threads_per_engine = o.threads_per_engine > 0 ? o.threads_per_engine : std::max(1, n_threads / n_engines);
    const int64_t weights_bytes = on_gpus ? model_weights_bytes(o.model_dir) : 0;
    for (const pool_request& p : pools) {
        lo.per_pool.push_back(settings_for(p, o, weights_bytes));
        lo.per_pool.back().engine_args.insert(lo.per_pool.back().engine_args.end(), o.engine_args.begin(),
                                              o.engine_args.end());
    }
    lo.ports = pick_engine_ports(n_engines, o.host, o.engine_base_port);
    setup.layout = make_layout(pools, lo);

    setup.supervisor = o.supervisor;
    setup.supervisor.mps = mode;
    std::vector<std::string> described;
    for (const pool_request& p : pools) {
        serve::pool_config pc{p.name, {}};
        for (const engine_slot& e : setup.layout.engines) {
            if (e.pool == p.name) {
                pc.backends.push_back(e.endpoint);
            }
        }
        described.push_back(p.gpus.empty()
                                ? fmt::format("{}: {} engine{}", p.name, p.n_engines(), p.n_engines() == 1 ? "" : "s")
                                : fmt::format("{}: {} GPU{} × {} engine{}", p.name, p.gpus.size(),
                                              p.gpus.size() == 1 ? "" : "s", p.deployment.engines_per_gpu,
                                              p.deployment.engines_per_gpu == 1 ? "" : "s"));
        setup.router_pools.push_back(std::move(pc));
    }
    setup.description = fmt::format("{}", fmt::join(described, "; "));
    if (!on_gpus) {
        setup.mps_description = "not applicable (CPU engines)";
    } else {
        setup.mps_description = mode == mps_mode::off
                                    ? "off"
                                    : fmt::format("{} ({} GPU domain{})", to_string(mode), setup.layout.domains.size(),
                                                  setup.layout.domains.size() == 1 ? "" : "s");
    }
    return setup;
}

} // namespace llmfleet::fleet
