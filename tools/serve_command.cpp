// `llmfleet serve`: several engines behind the router in one process. On a GPU host, engines_per_gpu engines per
// GPU (or per tp · pp GPU group) under one NVIDIA MPS daemon each; on a CPU host, --engines N CPU engines; with
// --plan, what plan.json chose for this host's GPU types (pools, deployments, routing table). The fleet supervisor
// (fleet/) starts and restarts the engines; the router (serve/router) serves the OpenAI API over them, with the
// fleet's state in its /metrics and at GET /fleet/engines. SIGTERM/SIGINT drain the router and the engines, quit the
// MPS daemons and exit 0.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/log.h"
#include "common/text.h"
#include "engine/cuda_engine.h"
#include "fleet/fleet_runner.h"
#include "fleet/gpu_inventory.h"
#include "fleet/serve_setup.h"
#include "model/config.h"
#include "model/tokenizer.h"
#include "parallel/nccl_comm.h"
#include "serve/router/router_server.h"
#include "tools/commands.h"

namespace llmfleet::tools {

namespace {

// GET /fleet/engines: the supervisor's view as JSON (the same facts as the llmfleet_fleet_* metrics).
std::string fleet_json(const fleet::fleet_runner& runner) {
    nlohmann::ordered_json engines = nlohmann::ordered_json::array();
    for (const fleet::engine_status& e : runner.engines()) {
        engines.push_back({{"name", e.name},
                           {"pool", e.pool},
                           {"gpus", e.gpus},
                           {"endpoint", e.endpoint.to_string()},
                           {"state", std::string(to_string(e.state))},
                           {"reason", e.reason},
                           {"pid", e.pid},
                           {"restarts", e.n_restarts},
                           {"mps_attached", e.mps_attached < 0 ? nlohmann::ordered_json()
                                                               : nlohmann::ordered_json(e.mps_attached == 1)}});
    }
    nlohmann::ordered_json domains = nlohmann::ordered_json::array();
    for (const fleet::domain_status& d : runner.domains()) {
        domains.push_back({{"gpus", d.label},
                           {"pool", d.pool},
                           {"mps_running", d.mps_running},
                           {"recovering", d.recovering},
                           {"faults", d.n_faults},
                           {"daemon_starts", d.n_daemon_starts},
                           {"problem", d.problem}});
    }
    return nlohmann::ordered_json{{"engines", engines}, {"gpu_domains", domains}}.dump();
}

// What the router's /metrics and GET /fleet/engines read: the fleet while its runner lives. The mutex keeps the
// runner alive during a read (which only copies its latest snapshot).
class fleet_view {
public:
    std::string metrics() const {
        std::lock_guard lock(_mutex);
        return _runner != nullptr ? _runner->metrics_text() : std::string();
    }
    std::string json() const {
        std::lock_guard lock(_mutex);
        return _runner != nullptr ? fleet_json(*_runner) : "{}";
    }
    // Shows `runner` for the attachment's scope (declare it after the runner: it detaches before the runner dies).
    class attachment {
    public:
        attachment(std::shared_ptr<fleet_view> view, const fleet::fleet_runner& runner) : _view(std::move(view)) {
            std::lock_guard lock(_view->_mutex);
            _view->_runner = &runner;
        }
        ~attachment() {
            std::lock_guard lock(_view->_mutex);
            _view->_runner = nullptr;
        }
        attachment(const attachment&) = delete;
        attachment& operator=(const attachment&) = delete;

    private:
        std::shared_ptr<fleet_view> _view;
    };

private:
    mutable std::mutex _mutex;
    const fleet::fleet_runner* _runner = nullptr; // guarded by _mutex
};

// Waits for every engine to be ready, a signal, or the start-up timeout. True when ready; false when a signal
// came first (a graceful stop). Throws when the fleet cannot start.
bool wait_for_fleet(fleet::fleet_runner& runner, std::future<int>& signalled, double timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (!runner.wait_ready(0.1)) {
        if (signalled.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
            LLMFLEET_LOG_INFO("signal {} while the engines start: stopping", signalled.get());
            return false;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            throw error(status_code::deadline_exceeded,
                        fmt::format("the engines are not ready after {} s: {}; hint: their logs are in the run "
                                    "directory; raise --startup-timeout-s for large models",
                                    timeout_s, runner.not_ready_summary()));
        }
    }
    return true;
}

struct serve_flags {
    fleet::serve_options fleet;
    serve::router_options router;
    std::string policy = "least-tokens";
    std::string run_dir;
    std::string served_model_name;
    int64_t router_health_interval_ms = 500;
    double health_interval_s = 1.0;
    double startup_timeout_s = 300;
    double drain_s = 30;
};

// The run directory (engine logs, MPS pipes and logs): --run-dir, or /tmp/llmfleet-serve-<pid>, which is removed
// after a clean exit.
struct run_directory {
    std::string path;
    bool owned = false;
    void remove_if_owned(bool clean) const {
        if (owned && clean) {
            std::error_code ec;
            std::filesystem::remove_all(path, ec);
        }
    }
};

// The run directory's absolute path; created only once the flags were checked (create()).
run_directory run_directory_for(const std::string& flag) {
    run_directory d{flag, flag.empty()};
    if (d.owned) {
        d.path = fmt::format("/tmp/llmfleet-serve-{}", ::getpid());
    }
    d.path = std::filesystem::absolute(d.path).string();
    return d;
}

void create(const run_directory& d) {
    std::error_code ec;
    std::filesystem::create_directories(d.path, ec);
    if (ec) {
        throw invalid_input(fmt::format("--run-dir {}: cannot create it: {}", d.path, ec.message()));
    }
}

// The llmfleet binary the engines run: this very one.
std::string self_program() {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) {
        throw error(status_code::unavailable,
                    fmt::format("cannot find the llmfleet binary (/proc/self/exe): {}", ec.message()));
    }
    return self.string();
}

int run_serve(serve_flags& f) {
    fleet::serve_options& fo = f.fleet;
    fo.supervisor.drain_timeout_s = f.drain_s;
    fo.supervisor.startup_timeout_s = f.startup_timeout_s;
    fo.supervisor.health_interval_s = f.health_interval_s;
    const fleet::gpu_detection host = fleet::detect_gpus();
    fo.cuda_engines = engine::cuda_backend_built() && parallel::cuda_device_count() > 0;
    if (!f.served_model_name.empty()) {
        fo.engine_args.insert(fo.engine_args.begin(), {"--served-model-name", f.served_model_name});
    }
    const run_directory run_dir = run_directory_for(f.run_dir);
    fleet::serve_setup setup = fleet::prepare_serve(fo, host, self_program(), run_dir.path);

    serve::router_options& o = f.router;
    if (o.api_key.empty()) {
        if (const char* key = std::getenv("LLMFLEET_API_KEY"); key != nullptr) {
            o.api_key = key;
        }
    }
    o.pools = setup.router_pools;
    o.table = setup.table;
    o.policy = serve::parse_routing_policy(f.policy);
    o.health_interval = std::chrono::milliseconds(f.router_health_interval_ms);
    if (std::filesystem::exists(std::filesystem::path(fo.model_dir) / "tokenizer.json")) {
        o.tokenizer = std::make_shared<const model::tokenizer>(model::tokenizer::load(fo.model_dir));
    }
    // The router binds (and takes the signals) before any engine starts: a busy port fails fast, and a signal
    // during the engines' start-up stops them cleanly.
    const auto view = std::make_shared<fleet_view>();
    o.extra_metrics = [view] { return view->metrics(); };
    const std::string host_address = o.http.host;
    serve::router_server router(std::move(o));
    std::future<int> signalled = first_signal(router.http());
    router.http().add_route("GET", "/fleet/engines",
                            [view](const serve::http_request&, std::shared_ptr<serve::http_responder> out) {
                                out->respond(200, "application/json", view->json());
                            });
    create(run_dir);

    const size_t n_engines = setup.layout.engines.size();
    fleet::fleet_runner runner(std::make_unique<fleet::supervisor>(
        std::move(setup.layout), setup.supervisor, fleet::make_system_process_ops(), fleet::system_mps_factory()));
    const fleet_view::attachment attached(view, runner);
    const double stop_timeout_s = f.drain_s + 15; // the drain, then SIGKILL and the daemons' quit
    bool ready = false;
    try {
        ready = wait_for_fleet(runner, signalled, f.startup_timeout_s);
    } catch (const error&) {
        runner.shutdown(stop_timeout_s);
        LLMFLEET_LOG_ERROR("the engines' logs are kept in {}", run_dir.path);
        throw;
    }
    if (!ready) {
        const bool clean = runner.shutdown(stop_timeout_s);
        run_dir.remove_if_owned(clean);
        return 0;
    }
    router.start();
    fmt::print("llmfleet serve: {} engine{} [{}] behind the router on http://{}:{} (MPS {}; policy {}; routing table "
               "{}; run dir {})\n",
               n_engines, n_engines == 1 ? "" : "s", setup.description, host_address, router.port(),
               setup.mps_description, f.policy, fo.plan_path.empty() ? "none" : fo.plan_path, run_dir.path);
    std::fflush(stdout);
    const int sig = signalled.get();
    LLMFLEET_LOG_INFO("signal {}: draining the router and the engines (up to {} s)", sig, f.drain_s);
    router.http().stop_accepting();
    router.http().shutdown(std::chrono::milliseconds(static_cast<int64_t>(f.drain_s * 1000)));
    const bool clean = runner.shutdown(stop_timeout_s);
    if (!clean) {
        LLMFLEET_LOG_ERROR("the fleet did not stop within {} s; killing what is left", stop_timeout_s);
    }
    run_dir.remove_if_owned(clean);
    return 0;
}

void add_serve_flags(CLI::App* sub, serve_flags& f) {
    fleet::serve_options& o = f.fleet;
    sub->add_option("--model", o.model_dir, "Hugging Face model directory (every engine serves it)")->required();
    sub->add_option("--engines", o.n_cpu_engines, "CPU engines to run (a host without GPUs, or to ignore them)");
    sub->add_option("--gpus", o.gpus, "GPU indices to use, e.g. 0,1, or all (default: all the host has)");
    sub->add_option("--engines-per-gpu", o.engines_per_gpu, "Engines sharing each GPU (under MPS)")
        ->capture_default_str();
    sub->add_option("--tp", o.tp, "Tensor-parallel degree of each engine (GPUs per stage)")->capture_default_str();
    sub->add_option("--pp", o.pp, "Pipeline stages of each engine")->capture_default_str();
    sub->add_option("--mps", o.mps, "auto | on | off: NVIDIA MPS for engines sharing a GPU")->capture_default_str();
    sub->add_option("--plan", o.plan_path,
                    "plan.json from `llmfleet plan`: start its GPU types' pools and deployments on this host and route "
                    "by its table");
    sub->add_option("--gpu-type", o.gpu_type,
                    "The plan's GPU type name for the selected GPUs (default: from "
                    "nvidia-smi's name)");
    sub->add_option("--host", f.router.http.host, "Address the router binds (default: loopback only)")
        ->capture_default_str();
    sub->add_option("--port", f.router.http.port, "Router port (0: any free port)")->capture_default_str();
    sub->add_option("--engine-base-port", o.engine_base_port,
                    "First engine port (loopback; engine i gets base + i; 0: free ports)")
        ->capture_default_str();
    sub->add_option("--run-dir", f.run_dir,
                    "Engine logs and MPS pipe/log directories (default: /tmp/llmfleet-serve-PID, removed on exit)");
    sub->add_option("--kv-cache-gib", o.kv_cache_gib,
                    "KV pool per engine rank (default: the engine's on CPU; on a GPU, what is left of the engine's "
                    "share after the weights)");
    sub->add_option("--gpu-memory-utilization", o.gpu_memory_utilization,
                    "Fraction of each GPU the engines sharing it use together")
        ->capture_default_str();
    sub->add_option("--engine-reserve-gib", o.engine_reserve_gib,
                    "Per engine and GPU, beyond weights and KV (CUDA context, activations)")
        ->capture_default_str();
    sub->add_option("--mps-thread-percentage", o.mps_thread_percentage,
                    "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE per engine (default: 100 / (0.5 x engines per GPU); 0: unset)");
    sub->add_flag("--no-mps-memory-limit{false}", o.mps_memory_limit,
                  "Do not set CUDA_MPS_PINNED_DEVICE_MEM_LIMIT (default: each engine's share of the GPU)");
    sub->add_option("--threads", o.threads_per_engine, "CPU threads per engine (default: the host's / engines)");
    sub->add_option("--served-model-name", f.served_model_name, "Model id for clients (default: the folder name)");
    sub->add_option("--engine-arg", o.engine_args,
                    "A flag passed to every `llmfleet engine` as is (repeatable), e.g. --engine-arg=--max-model-len "
                    "--engine-arg=4096");
    sub->add_option("--policy", f.policy, "Router policy: round-robin | least-requests | least-tokens")
        ->capture_default_str();
    sub->add_option("--api-key", f.router.api_key, "Require `Authorization: Bearer KEY` (or LLMFLEET_API_KEY)");
    sub->add_option("--startup-timeout-s", f.startup_timeout_s, "Time for every engine to become ready")
        ->capture_default_str();
    sub->add_option("--drain-s", f.drain_s, "On SIGTERM, let in-flight requests finish for this long")
        ->capture_default_str();
    sub->add_option("--health-interval-s", f.health_interval_s, "Supervisor health checks of ready engines")
        ->capture_default_str();
    sub->add_option("--restart-backoff-s", o.supervisor.backoff.initial_s, "First restart delay after a crash")
        ->capture_default_str();
    sub->add_option("--restart-backoff-max-s", o.supervisor.backoff.max_s, "Restart delay cap (doubling)")
        ->capture_default_str();
    sub->add_option("--restart-stable-s", o.supervisor.backoff.stable_s,
                    "Ready this long: the next crash restarts after the first delay again")
        ->capture_default_str();
    sub->add_option("--io-threads", f.router.http.n_io_threads, "Router threads")->capture_default_str();
}

} // namespace

command add_serve_command(CLI::App& app) {
    auto f = std::make_shared<serve_flags>();
    f->router.http.port = 8000;
    f->router.http.max_connections = 4096;
    CLI::App* sub = app.add_subcommand("serve", "Run several engines (per GPU under NVIDIA MPS, or N CPU engines) "
                                                "supervised, behind the router");
    add_serve_flags(sub, *f);
    return command{sub, [f] { return run_serve(*f); }};
}

} // namespace llmfleet::tools
