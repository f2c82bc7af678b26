// See supervisor.h. Engines of one GPU domain are started one after another (the next spawns once the previous
// one is ready or failed): loading several models onto one GPU at once races for memory, and measured MPS gains
// relied on staggered starts. CPU engines start together.
#include "fleet/supervisor.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/log.h"
#include "fleet/supervisor_internal.h"

namespace llmfleet::fleet {

namespace {

constexpr int log_tail_lines = 8;
constexpr double daemon_retry_s = 5; // mode on: a daemon that does not come back is retried this often

} // namespace

supervisor::supervisor(fleet_layout layout, supervisor_options options, std::unique_ptr<process_ops> ops,
                       mps_factory mps)
    : _layout(std::move(layout)), _options(options), _ops(std::move(ops)), _mps_factory(std::move(mps)) {
    check_backoff_options(_options.backoff);
    LLMFLEET_CHECK(_ops != nullptr, "the supervisor needs process operations");
    for (const gpu_domain& d : _layout.domains) {
        _domains.emplace_back(d);
    }
    for (const engine_slot& s : _layout.engines) {
        LLMFLEET_CHECK(s.domain < static_cast<int32_t>(_domains.size()), "engine {}: domain {} of {}", s.name, s.domain,
                       _domains.size());
        _engines.emplace_back(s, _options.backoff);
    }
}

supervisor::~supervisor() {
    for (engine& e : _engines) {
        if (e.pid > 0) {
            stop_process(e, SIGKILL);
        }
    }
    for (engine& e : _engines) {
        for (int i = 0; i < 200 && e.pid > 0; ++i) {
            if (_ops->try_reap(e.pid)) {
                e.pid = 0;
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
    }
    for (domain& d : _domains) {
        if (d.daemon) {
            d.daemon->quit();
        }
    }
}

void supervisor::move(engine& e, engine_state to, const std::string& reason) {
    const status s = e.sm.transition(to, reason);
    LLMFLEET_CHECK(s.is_ok(), "engine {}: {}", e.slot->name, s.message());
}

void supervisor::start_daemon(domain& d, double now_s) {
    d.daemon = _mps_factory(*d.spec);
    try {
        d.daemon->start();
        d.mps_running = true;
        d.problem.clear();
        ++d.n_daemon_starts;
        d.next_check_s = now_s + _options.mps_check_interval_s;
        LLMFLEET_LOG_INFO("MPS: {} runs for {}", d.daemon->describe(), d.spec->label());
    } catch (const error& ex) {
        d.daemon.reset();
        d.mps_running = false;
        d.problem = ex.what();
        if (_options.mps == mps_mode::on) {
            throw error(status_code::unavailable,
                        fmt::format("--mps on: MPS cannot run on {}: {}; hint: check that the NVIDIA driver's "
                                    "nvidia-cuda-mps-control is installed and that no other MPS daemon owns the GPU, "
                                    "or pass --mps auto (fall back to time-slicing) or --mps off",
                                    d.spec->label(), ex.what()));
        }
        LLMFLEET_LOG_WARN("--mps auto: MPS does not run on {} ({}); its engines share the GPU time-sliced",
                          d.spec->label(), ex.what());
    }
}

void supervisor::start(double now_s) {
    LLMFLEET_CHECK(!_started, "supervisor::start called twice");
    _started = true;
    if (_options.mps != mps_mode::off) {
        for (domain& d : _domains) {
            start_daemon(d, now_s);
        }
    }
    tick(now_s); // spawns the engines (the first of each GPU domain; its siblings follow once it is ready)
}

void supervisor::spawn(engine& e, double now_s) {
    spawn_spec spec = e.slot->process;
    if (e.slot->domain >= 0) {
        const domain& d = _domains[static_cast<size_t>(e.slot->domain)];
        const env_list gpu_env =
            gpu_client_env(d.spec->uuids(), d.mps_running ? &d.spec->paths : nullptr, e.slot->limits);
        spec.env.insert(spec.env.end(), gpu_env.begin(), gpu_env.end());
    }
    const std::string why = e.n_spawns == 0 ? "spawned" : fmt::format("respawned (restart {})", e.n_restarts);
    ++e.n_spawns;
    e.kill_at_s = -1;
    e.killed = false;
    e.mps_attached = -1;
    e.spawned_at_s = now_s;
    try {
        e.pid = _ops->spawn(spec);
    } catch (const error& ex) {
        e.pid = 0;
        move(e, engine_state::starting, why);
        fail(e, now_s, fmt::format("cannot start: {}", ex.what()), true);
        return;
    }
    move(e, engine_state::starting, why);
    LLMFLEET_LOG_INFO("engine {}: {} as PID {} on {}", e.slot->name, why, e.pid, e.slot->endpoint.to_string());
}

void supervisor::stop_process(engine& e, int sig) {
    if (e.pid <= 0) {
        return;
    }
    if (e.slot->domain >= 0 && sig == SIGKILL) {
        domain& d = _domains[static_cast<size_t>(e.slot->domain)];
        // A signal that lands while the client has GPU work in flight can break the MPS server for every
        // client; terminate_client first makes its CUDA calls fail cleanly.
        if (d.mps_running && d.daemon && d.daemon->alive()) {
            d.daemon->terminate_client(e.pid);
        }
    }
    _ops->signal(e.pid, sig);
    if (sig == SIGKILL) {
        e.killed = true;
    }
}

void supervisor::fail(engine& e, double now_s, const std::string& reason, bool exited) {
    move(e, engine_state::failed, reason);
    const double delay_s = e.backoff.on_failure(now_s);
    e.restart_at_s = now_s + delay_s;
    if (!exited && e.pid > 0) {
        domain* d = e.slot->domain >= 0 ? &_domains[static_cast<size_t>(e.slot->domain)] : nullptr;
        if (d != nullptr && d->mps_running && d->daemon && d->daemon->alive()) {
            d->daemon->terminate_client(e.pid);
        }
        _ops->signal(e.pid, SIGTERM);
        e.kill_at_s = now_s + _options.kill_grace_s;
    }
    const std::string tail = tail_of_file(e.slot->process.log_path, log_tail_lines);
    LLMFLEET_LOG_WARN("engine {} failed: {}; {}{}", e.slot->name, reason,
                      _shutting_down ? "not restarted (shutting down)"
                                     : fmt::format("restart in {:.1f} s (failure {} in a row)", delay_s,
                                                   e.backoff.n_consecutive_failures()),
                      tail.empty() ? "" : fmt::format("; its log ({}) ends with:\n{}", e.slot->process.log_path, tail));
    if (e.slot->domain < 0) {
        return;
    }
    domain& d = _domains[static_cast<size_t>(e.slot->domain)];
    if (!d.mps_running || d.recovering) {
        return;
    }
    // A fatal GPU fault is reported to every client of the MPS server, which then refuses new clients until all
    // of them exited: several engines of one GPU failing together is handled as that, not as separate crashes.
    d.recent_failures.emplace_back(e.slot->name, now_s);
    std::vector<std::string> names;
    for (const auto& [name, at_s] : d.recent_failures) {
        if (now_s - at_s <= _options.fault_window_s && std::find(names.begin(), names.end(), name) == names.end()) {
            names.push_back(name);
        }
    }
    if (names.size() >= 2) {
        mps_fault(d, now_s,
                  fmt::format("engines {} failed within {} s", fmt::join(names, ", "), _options.fault_window_s));
    }
}

void supervisor::mps_fault(domain& d, double now_s, const std::string& why) {
    if (d.recovering) {
        return;
    }
    d.recovering = true;
    ++d.n_faults;
    d.recent_failures.clear();
    LLMFLEET_LOG_ERROR("MPS fault on {}: {}; terminating every client of its server, then restarting the daemon and "
                       "all its engines (the router sends their traffic to the other engines meanwhile)",
                       d.spec->label(), why);
    for (engine& e : _engines) {
        if (e.slot->domain < 0 || &_domains[static_cast<size_t>(e.slot->domain)] != &d) {
            continue;
        }
        const engine_state s = e.sm.state();
        if (s == engine_state::starting || s == engine_state::ready) {
            fail(e, now_s, fmt::format("MPS fault on {}: {}", d.spec->label(), why), false);
        } else if (s == engine_state::failed && e.pid > 0 && d.daemon && d.daemon->alive()) {
            d.daemon->terminate_client(e.pid);
        }
    }
}

bool supervisor::domain_idle(const domain& d) const {
    for (const engine& e : _engines) {
        if (e.slot->domain >= 0 && &_domains[static_cast<size_t>(e.slot->domain)] == &d && e.pid > 0) {
            return false;
        }
    }
    return true;
}

void supervisor::tick_domain(domain& d, double now_s) {
    d.recent_failures.erase(std::remove_if(d.recent_failures.begin(), d.recent_failures.end(),
                                           [&](const auto& f) { return now_s - f.second > _options.fault_window_s; }),
                            d.recent_failures.end());
    if (d.mps_running && !d.recovering && now_s >= d.next_check_s) {
        d.next_check_s = now_s + _options.mps_check_interval_s;
        if (!d.daemon->alive()) {
            d.mps_running = false; // its clients cannot be reached through it any more
            d.problem = "the control daemon exited";
            mps_fault(d, now_s, "the control daemon exited");
        }
    }
    if (!d.recovering || _shutting_down || !domain_idle(d) || now_s < d.retry_start_at_s) {
        return;
    }
    // Every client of the faulted server is gone: the server recovers, and a fresh daemon makes sure of it.
    if (d.daemon) {
        d.daemon->quit();
        d.daemon.reset();
    }
    d.mps_running = false;
    try {
        start_daemon(d, now_s);
        d.recovering = false;
    } catch (const error& ex) {
        d.problem = ex.what();
        d.retry_start_at_s = now_s + daemon_retry_s;
        LLMFLEET_LOG_ERROR("{}; retrying in {} s (its engines wait)", ex.what(), daemon_retry_s);
    }
}

void supervisor::check_attachment(engine& e) {
    if (e.slot->domain < 0) {
        return;
    }
    domain& d = _domains[static_cast<size_t>(e.slot->domain)];
    if (!d.mps_running) {
        return;
    }
    const result<std::vector<pid_t>> clients = d.daemon->client_pids();
    const bool attached =
        clients.is_ok() && std::find(clients.value().begin(), clients.value().end(), e.pid) != clients.value().end();
    e.mps_attached = attached ? 1 : 0;
    if (attached) {
        return;
    }
    const std::string message = fmt::format(
        "engine {} (PID {}) is not a client of the MPS daemon of {} ({}): it runs time-sliced beside the MPS server; "
        "a CUDA process joins MPS at cuInit through CUDA_MPS_PIPE_DIRECTORY={}",
        e.slot->name, e.pid, d.spec->label(),
        clients.is_ok() ? fmt::format("its clients: [{}]", fmt::join(clients.value(), ", "))
                        : clients.error_status().message(),
        d.spec->paths.pipe_dir);
    if (_options.mps == mps_mode::on && e.n_spawns == 1 && _fatal_problem.empty()) {
        _fatal_problem = "--mps on: " + message;
    }
    LLMFLEET_LOG_WARN("{}", message);
}

void supervisor::tick_engine(engine& e, double now_s) {
    const auto sibling_starting = [&] {
        return e.slot->domain >= 0 && std::any_of(_engines.begin(), _engines.end(), [&](const engine& o) {
                   return &o != &e && o.slot->domain == e.slot->domain && o.sm.state() == engine_state::starting;
               });
    };
    const auto domain_recovering = [&] {
        return e.slot->domain >= 0 && _domains[static_cast<size_t>(e.slot->domain)].recovering;
    };
    const auto reap = [&]() -> std::optional<int> {
        std::optional<int> code = e.pid > 0 ? _ops->try_reap(e.pid) : std::nullopt;
        if (code) {
            e.pid = 0;
        }
        return code;
    };
    switch (e.sm.state()) {
    case engine_state::stopped:
        if (!_shutting_down && e.n_spawns == 0 && !sibling_starting() && !domain_recovering()) {
            spawn(e, now_s);
        }
        break;
    case engine_state::starting:
        if (const std::optional<int> code = reap()) {
            fail(e, now_s, fmt::format("exited during start-up ({})", describe_exit(*code)), true);
        } else if (_ops->healthy(e.slot->endpoint)) {
            check_attachment(e);
            move(e, engine_state::ready, "GET /health answered 200");
            e.backoff.on_ready(now_s);
            e.health_failures = 0;
            e.next_health_s = now_s + _options.health_interval_s;
            LLMFLEET_LOG_INFO("engine {} (PID {}) is ready after {:.1f} s", e.slot->name, e.pid,
                              now_s - e.spawned_at_s);
        } else if (now_s - e.spawned_at_s > _options.startup_timeout_s) {
            fail(e, now_s, fmt::format("not ready {} s after its start", _options.startup_timeout_s), false);
        }
        break;
    case engine_state::ready:
        if (const std::optional<int> code = reap()) {
            fail(e, now_s, fmt::format("exited ({})", describe_exit(*code)), true);
        } else if (now_s >= e.next_health_s) {
            e.next_health_s = now_s + _options.health_interval_s;
            e.health_failures = _ops->healthy(e.slot->endpoint) ? 0 : e.health_failures + 1;
            if (e.health_failures >= _options.health_failures_to_fail) {
                fail(e, now_s, fmt::format("GET /health failed {} times in a row", e.health_failures), false);
            }
        }
        break;
    case engine_state::draining:
        if (const std::optional<int> code = reap()) {
            move(e, engine_state::stopped, fmt::format("drained ({})", describe_exit(*code)));
        } else if (e.kill_at_s >= 0 && now_s >= e.kill_at_s && !e.killed) {
            LLMFLEET_LOG_WARN("engine {} (PID {}) still runs {} s after SIGTERM; sending SIGKILL", e.slot->name, e.pid,
                              _options.drain_timeout_s);
            stop_process(e, SIGKILL);
        }
        break;
    case engine_state::failed:
        if (e.pid > 0 && !reap() && e.kill_at_s >= 0 && now_s >= e.kill_at_s && !e.killed) {
            stop_process(e, SIGKILL);
        }
        if (e.pid == 0) {
            if (_shutting_down) {
                move(e, engine_state::stopped, "reaped during shutdown");
            } else {
                move(e, engine_state::restarting, fmt::format("restart at +{:.1f} s", e.restart_at_s - now_s));
            }
        }
        break;
    case engine_state::restarting:
        if (_shutting_down) {
            move(e, engine_state::stopped, "shutdown while waiting to restart");
        } else if (now_s >= e.restart_at_s && !sibling_starting() && !domain_recovering()) {
            ++e.n_restarts;
            spawn(e, now_s);
        }
        break;
    }
}

void supervisor::tick(double now_s) {
    LLMFLEET_CHECK(_started, "supervisor::tick before start");
    for (engine& e : _engines) {
        tick_engine(e, now_s);
    }
    for (domain& d : _domains) {
        tick_domain(d, now_s);
    }
    if (_shutting_down && !_finished && std::all_of(_engines.begin(), _engines.end(), [](const engine& e) {
            return e.sm.state() == engine_state::stopped;
        })) {
        for (domain& d : _domains) {
            if (d.daemon) {
                d.daemon->quit();
                d.daemon.reset();
                d.mps_running = false;
            }
        }
        _finished = true;
        LLMFLEET_LOG_INFO("every engine stopped{}", _domains.empty() ? "" : " and the MPS daemons quit");
    }
}

void supervisor::begin_shutdown(double now_s) {
    if (_shutting_down) {
        return;
    }
    _shutting_down = true;
    for (engine& e : _engines) {
        const engine_state s = e.sm.state();
        if (s == engine_state::starting || s == engine_state::ready) {
            move(e, engine_state::draining, "shutdown");
            _ops->signal(e.pid, SIGTERM);
            e.kill_at_s = now_s + _options.drain_timeout_s;
        }
    }
    tick(now_s);
}

bool supervisor::all_ready() const {
    return std::all_of(_engines.begin(), _engines.end(),
                       [](const engine& e) { return e.sm.state() == engine_state::ready; });
}

} // namespace llmfleet::fleet
