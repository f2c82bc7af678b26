// The supervisor's read side (supervisor.h): status snapshots and the fleet's /metrics families, appended by
// `llmfleet serve` to the router's own.
#include <array>
#include <map>

#include "common/prometheus.h"
#include "fleet/supervisor_internal.h"

namespace llmfleet::fleet {

namespace {

constexpr std::array all_states = {engine_state::starting, engine_state::ready,  engine_state::draining,
                                   engine_state::stopped,  engine_state::failed, engine_state::restarting};

} // namespace

std::vector<engine_status> supervisor::engines() const {
    std::vector<engine_status> out;
    for (const engine& e : _engines) {
        engine_status s;
        s.name = e.slot->name;
        s.pool = e.slot->pool;
        s.gpus = e.slot->domain >= 0 ? _domains[static_cast<size_t>(e.slot->domain)].spec->label() : "";
        s.endpoint = e.slot->endpoint;
        s.state = e.sm.state();
        s.reason = e.sm.reason();
        s.pid = e.pid;
        s.n_restarts = e.n_restarts;
        s.mps_attached = e.mps_attached;
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<domain_status> supervisor::domains() const {
    std::vector<domain_status> out;
    for (const domain& d : _domains) {
        out.push_back(
            {d.spec->label(), d.spec->pool, d.mps_running, d.recovering, d.n_faults, d.n_daemon_starts, d.problem});
    }
    return out;
}

std::string supervisor::metrics_text() const {
    prometheus_text p;
    std::map<engine_state, int64_t> by_state;
    int64_t n_restarts = 0;
    for (const engine& e : _engines) {
        ++by_state[e.sm.state()];
        n_restarts += e.n_restarts;
    }
    p.family("llmfleet_fleet_engines", "gauge", "Supervised engines by state.");
    for (const engine_state s : all_states) {
        p.sample("llmfleet_fleet_engines", {{"state", std::string(to_string(s))}}, static_cast<double>(by_state[s]));
    }
    p.family("llmfleet_fleet_restarts_total", "counter", "Engine respawns after failures, all engines.");
    p.sample("llmfleet_fleet_restarts_total", {}, static_cast<double>(n_restarts));

    const auto labels = [](const engine& e) {
        return prometheus_labels{{"engine", e.slot->name}, {"pool", e.slot->pool}};
    };
    p.family("llmfleet_fleet_engine_state", "gauge", "The engine's supervision state (1 for the current one).");
    for (const engine& e : _engines) {
        for (const engine_state s : all_states) {
            prometheus_labels l = labels(e);
            l.emplace_back("state", std::string(to_string(s)));
            p.sample("llmfleet_fleet_engine_state", l, e.sm.state() == s ? 1 : 0);
        }
    }
    p.family("llmfleet_fleet_engine_restarts_total", "counter", "Respawns of the engine after failures.");
    for (const engine& e : _engines) {
        p.sample("llmfleet_fleet_engine_restarts_total", labels(e), static_cast<double>(e.n_restarts));
    }
    p.family("llmfleet_fleet_engine_pid", "gauge", "The engine's process id (0 while none runs).");
    for (const engine& e : _engines) {
        p.sample("llmfleet_fleet_engine_pid", labels(e), static_cast<double>(e.pid));
    }
    p.family("llmfleet_fleet_engine_mps_attached", "gauge",
             "1 when the engine's PID is in its MPS daemon's client list, 0 when it is not (engines without MPS are "
             "not listed).");
    for (const engine& e : _engines) {
        if (e.mps_attached >= 0) {
            p.sample("llmfleet_fleet_engine_mps_attached", labels(e), e.mps_attached);
        }
    }
    if (_domains.empty()) {
        return p.text(); // a CPU host: MPS is not applicable
    }
    const auto domain_labels = [](const domain& d) {
        return prometheus_labels{{"gpus", d.spec->label()}, {"pool", d.spec->pool}};
    };
    p.family("llmfleet_fleet_mps_daemon_up", "gauge",
             "1 while the GPU domain's MPS control daemon runs and serves its engines, 0 otherwise (off, fallen "
             "back, or recovering from a fault).");
    for (const domain& d : _domains) {
        p.sample("llmfleet_fleet_mps_daemon_up", domain_labels(d), d.mps_running && !d.recovering ? 1 : 0);
    }
    p.family("llmfleet_fleet_mps_faults_total", "counter",
             "MPS server faults handled (every client terminated, daemon and engines restarted).");
    for (const domain& d : _domains) {
        p.sample("llmfleet_fleet_mps_faults_total", domain_labels(d), static_cast<double>(d.n_faults));
    }
    p.family("llmfleet_fleet_mps_daemon_starts_total", "counter", "MPS control daemons started for the GPU domain.");
    for (const domain& d : _domains) {
        p.sample("llmfleet_fleet_mps_daemon_starts_total", domain_labels(d), static_cast<double>(d.n_daemon_starts));
    }
    return p.text();
}

} // namespace llmfleet::fleet
