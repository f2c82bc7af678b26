// The supervisor stepped by hand (tick with a test-chosen time) over fake processes and a fake MPS daemon: start-up
// and readiness, crash → restart with backoff, lost health, start-up timeout, graceful shutdown with the SIGKILL
// fallback, staggered starts on one GPU, MPS attachment checks, an MPS server fault (terminate every client, restart
// the daemon and all its engines), and the --mps on / auto behaviour when the daemon cannot start.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <map>
#include <set>

#include "fleet/supervisor.h"
#include "tests/serve/e2e_support.h"

namespace llmfleet::fleet {
namespace {

// Processes that exist only in this map. SIGTERM ends one with exit 0 unless it ignores SIGTERM; SIGKILL always ends
// it. An engine is healthy once the test says so.
struct fake_world {
    struct proc {
        spawn_spec spec;
        std::optional<int> exit_code; // set: exited, not yet reaped
        bool reaped = false;
        bool ignores_sigterm = false;
    };
    std::map<pid_t, proc> procs;
    std::set<uint16_t> healthy_ports;
    std::vector<std::pair<pid_t, int>> signals;
    pid_t next_pid = 1000;
    bool fail_spawn = false;

    pid_t live_pid_on(uint16_t port) const {
        for (const auto& [pid, p] : procs) {
            if (!p.exit_code && p.spec.args.back() == std::to_string(port)) {
                return pid;
            }
        }
        return 0;
    }
    std::map<std::string, std::string> env_of(pid_t pid) const {
        std::map<std::string, std::string> m;
        for (const auto& [k, v] : procs.at(pid).spec.env) {
            m[k] = v;
        }
        return m;
    }
    int n_signals(pid_t pid, int sig) const {
        return static_cast<int>(std::count(signals.begin(), signals.end(), std::pair<pid_t, int>{pid, sig}));
    }
};

class fake_ops final : public process_ops {
public:
    explicit fake_ops(fake_world& w) : _w(w) {}
    pid_t spawn(const spawn_spec& spec) override {
        if (_w.fail_spawn) {
            throw error(status_code::unavailable, "cannot start /bin/llmfleet: Permission denied");
        }
        _w.procs[++_w.next_pid] = {spec, std::nullopt, false, false};
        return _w.next_pid;
    }
    std::optional<int> try_reap(pid_t pid) override {
        fake_world::proc& p = _w.procs.at(pid);
        EXPECT_FALSE(p.reaped) << "reaped twice: " << pid;
        if (!p.exit_code) {
            return std::nullopt;
        }
        p.reaped = true;
        return p.exit_code;
    }
    void signal(pid_t pid, int sig) override {
        _w.signals.emplace_back(pid, sig);
        fake_world::proc& p = _w.procs.at(pid);
        if (!p.exit_code && (sig == SIGKILL || (sig == SIGTERM && !p.ignores_sigterm))) {
            p.exit_code = sig == SIGKILL ? -SIGKILL : 0;
        }
    }
    bool healthy(const serve::http_endpoint& e) override {
        return _w.healthy_ports.contains(e.port) && _w.live_pid_on(e.port) != 0;
    }

private:
    fake_world& _w;
};

// One fake daemon per GPU domain; its clients are the live processes whose environment names its pipe directory.
struct fake_mps_state {
    bool fail_start = false;
    bool attach = true; // engines started with the MPS environment show up as clients
    int n_starts = 0;
    int n_quits = 0;
    bool alive = false;
    std::vector<pid_t> terminated;
};

class fake_mps final : public mps_control {
public:
    fake_mps(fake_mps_state& s, fake_world& w, std::string pipe) : _s(s), _w(w), _pipe(std::move(pipe)) {}
    void start() override {
        if (_s.fail_start) {
            throw error(status_code::unavailable, "fake daemon: cannot start");
        }
        ++_s.n_starts;
        _s.alive = true;
    }
    bool alive() override { return _s.alive; }
    result<std::vector<pid_t>> client_pids() override {
        std::vector<pid_t> out;
        for (const auto& [pid, p] : _w.procs) {
            if (!p.exit_code && _s.attach && _w.env_of(pid)["CUDA_MPS_PIPE_DIRECTORY"] == _pipe) {
                out.push_back(pid);
            }
        }
        return out;
    }
    bool terminate_client(pid_t client) override {
        _s.terminated.push_back(client);
        return true;
    }
    void quit() override {
        ++_s.n_quits;
        _s.alive = false;
    }
    std::string describe() const override { return "fake MPS daemon"; }

private:
    fake_mps_state& _s;
    fake_world& _w;
    std::string _pipe;
};

fleet_layout cpu_layout(int n) {
    layout_options o;
    o.program = "/bin/llmfleet";
    o.run_dir = "/nonexistent-run-dir";
    for (int i = 0; i < n; ++i) {
        o.ports.push_back(static_cast<uint16_t>(9000 + i));
    }
    return make_layout({pool_request{"cpu", {}, {}, n}}, o);
}

fleet_layout gpu_layout(int engines_per_gpu) {
    layout_options o;
    o.program = "/bin/llmfleet";
    o.run_dir = "/r";
    o.mps = true;
    for (int i = 0; i < engines_per_gpu; ++i) {
        o.ports.push_back(static_cast<uint16_t>(9100 + i));
    }
    o.per_pool = {{{}, {4096, 67}}};
    const gpu_info g{0, "GPU-zero", "NVIDIA L4", 23034, "L4"};
    return make_layout({pool_request{"L4", {g}, {1, 1, engines_per_gpu}, 0}}, o);
}

struct harness {
    fake_world world;
    fake_mps_state mps;
    std::unique_ptr<supervisor> sup;

    harness(fleet_layout layout, supervisor_options o) {
        sup = std::make_unique<supervisor>(
            std::move(layout), o, std::make_unique<fake_ops>(world),
            [this](const gpu_domain& d) { return std::make_unique<fake_mps>(mps, world, d.paths.pipe_dir); });
    }
    engine_status engine(size_t i) const { return sup->engines().at(i); }
    void make_healthy(size_t i) { world.healthy_ports.insert(engine(i).endpoint.port); }
    std::string metrics() const { return "\n" + sup->metrics_text(); }
};

supervisor_options options(mps_mode mode = mps_mode::off) {
    supervisor_options o;
    o.mps = mode;
    o.backoff = {0.5, 2.0, 30.0, 60.0};
    o.startup_timeout_s = 20;
    o.health_interval_s = 1;
    o.health_failures_to_fail = 3;
    o.kill_grace_s = 5;
    o.drain_timeout_s = 10;
    o.fault_window_s = 10;
    return o;
}

TEST(supervisor, cpu_engines_start_and_become_ready_on_health) {
    harness h(cpu_layout(2), options());
    h.sup->start(0);
    EXPECT_EQ(h.world.procs.size(), 2u) << "CPU engines start together";
    EXPECT_EQ(h.engine(0).state, engine_state::starting);
    EXPECT_EQ(h.engine(0).mps_attached, -1) << "MPS is not applicable to CPU engines";
    EXPECT_TRUE(h.world.env_of(h.engine(0).pid).empty()) << "no GPU environment";
    h.make_healthy(0);
    h.sup->tick(0.1);
    EXPECT_EQ(h.engine(0).state, engine_state::ready);
    EXPECT_EQ(h.engine(1).state, engine_state::starting);
    EXPECT_FALSE(h.sup->all_ready());
    h.make_healthy(1);
    h.sup->tick(0.2);
    EXPECT_TRUE(h.sup->all_ready());
    EXPECT_EQ(test::metric(h.metrics(), "llmfleet_fleet_engines{state=\"ready\"}"), 2);
    EXPECT_EQ(test::metric(h.metrics(), "llmfleet_fleet_restarts_total"), 0);
    EXPECT_EQ(h.metrics().find("llmfleet_fleet_mps_daemon_up"), std::string::npos) << "no GPU domain on a CPU host";
}

TEST(supervisor, a_crash_restarts_after_a_growing_backoff) {
    harness h(cpu_layout(1), options());
    h.sup->start(0);
    h.make_healthy(0);
    h.sup->tick(0.1);
    const pid_t first = h.engine(0).pid;
    h.world.procs[first].exit_code = -SIGKILL; // kill -9
    h.sup->tick(1.0);
    EXPECT_EQ(h.engine(0).state, engine_state::failed);
    EXPECT_NE(h.engine(0).reason.find("killed by signal 9"), std::string::npos) << h.engine(0).reason;
    h.sup->tick(1.1);
    EXPECT_EQ(h.engine(0).state, engine_state::restarting);
    h.sup->tick(1.4);
    EXPECT_EQ(h.world.procs.size(), 1u) << "0.5 s backoff not over";
    h.sup->tick(1.55);
    EXPECT_EQ(h.world.procs.size(), 2u);
    EXPECT_EQ(h.engine(0).state, engine_state::starting);
    EXPECT_EQ(h.engine(0).n_restarts, 1);
    EXPECT_EQ(h.engine(0).endpoint.port, 9000) << "same port: the router's backend list never changes";
    h.sup->tick(1.6);
    EXPECT_EQ(h.engine(0).state, engine_state::ready);
    EXPECT_EQ(test::metric(h.metrics(), "llmfleet_fleet_engine_restarts_total{engine=\"cpu-0\",pool=\"cpu\"}"), 1);
    EXPECT_EQ(test::metric(h.metrics(), "llmfleet_fleet_engine_state{engine=\"cpu-0\",pool=\"cpu\",state=\"ready\"}"),
              1);

    // It crashes again right away: the next delay is doubled (1 s).
    h.world.procs[h.engine(0).pid].exit_code = 1;
    h.sup->tick(2.0);
    h.sup->tick(2.1);
    h.sup->tick(2.9);
    EXPECT_EQ(h.world.procs.size(), 2u);
    h.sup->tick(3.05);
    EXPECT_EQ(h.world.procs.size(), 3u);
    EXPECT_EQ(h.engine(0).n_restarts, 2);
}

TEST(supervisor, lost_health_fails_the_engine_and_escalates_to_sigkill) {
    harness h(cpu_layout(1), options());
    h.sup->start(0);
    h.make_healthy(0);
    h.sup->tick(0.1);
    const pid_t pid = h.engine(0).pid;
    h.world.procs[pid].ignores_sigterm = true; // hung
    h.world.healthy_ports.clear();
    h.sup->tick(1.2);
    h.sup->tick(2.3);
    EXPECT_EQ(h.engine(0).state, engine_state::ready) << "2 failed checks of 3";
    h.sup->tick(3.4);
    EXPECT_EQ(h.engine(0).state, engine_state::failed);
    EXPECT_EQ(h.world.n_signals(pid, SIGTERM), 1);
    h.sup->tick(8.0);
    EXPECT_EQ(h.world.n_signals(pid, SIGKILL), 0) << "kill grace is 5 s";
    h.sup->tick(8.5);
    EXPECT_EQ(h.world.n_signals(pid, SIGKILL), 1);
    h.sup->tick(8.6);
    EXPECT_EQ(h.engine(0).state, engine_state::restarting);
}

TEST(supervisor, startup_timeout_and_spawn_failures_count_as_failures) {
    harness h(cpu_layout(1), options());
    h.sup->start(0);
    h.sup->tick(19);
    EXPECT_EQ(h.engine(0).state, engine_state::starting);
    h.sup->tick(20.5);
    EXPECT_EQ(h.engine(0).state, engine_state::failed);
    EXPECT_NE(h.engine(0).reason.find("not ready 20 s after its start"), std::string::npos) << h.engine(0).reason;
    h.world.fail_spawn = true;
    h.sup->tick(20.6);
    h.sup->tick(21.2);
    EXPECT_EQ(h.engine(0).state, engine_state::failed);
    EXPECT_NE(h.engine(0).reason.find("Permission denied"), std::string::npos) << h.engine(0).reason;
}

TEST(supervisor, shutdown_drains_and_kills_what_does_not_exit) {
    harness h(cpu_layout(2), options());
    h.sup->start(0);
    h.make_healthy(0);
    h.make_healthy(1);
    h.sup->tick(0.1);
    const pid_t stubborn = h.engine(1).pid;
    h.world.procs[stubborn].ignores_sigterm = true;
    h.sup->begin_shutdown(1);
    EXPECT_EQ(h.engine(0).state, engine_state::stopped) << "exited on SIGTERM";
    EXPECT_EQ(h.engine(1).state, engine_state::draining);
    EXPECT_FALSE(h.sup->stopped());
    h.sup->tick(10.5);
    EXPECT_EQ(h.world.n_signals(stubborn, SIGKILL), 0);
    h.sup->tick(11.1);
    EXPECT_EQ(h.world.n_signals(stubborn, SIGKILL), 1) << "after the 10 s drain";
    h.sup->tick(11.2);
    EXPECT_TRUE(h.sup->stopped());
    for (const auto& [pid, p] : h.world.procs) {
        EXPECT_TRUE(p.reaped) << "no process left behind: " << pid;
    }
}

TEST(supervisor, engines_on_one_gpu_start_one_after_another_with_the_mps_environment) {
    harness h(gpu_layout(3), options(mps_mode::on));
    h.sup->start(0);
    EXPECT_EQ(h.mps.n_starts, 1);
    ASSERT_EQ(h.world.procs.size(), 1u) << "the next engine of the GPU waits for this one";
    const auto env = h.world.env_of(h.engine(0).pid);
    EXPECT_EQ(env.at("CUDA_VISIBLE_DEVICES"), "GPU-zero");
    EXPECT_EQ(env.at("CUDA_MPS_PIPE_DIRECTORY"), "/r/mps/GPU-zero/pipe");
    EXPECT_EQ(env.at("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"), "0=4096MB");
    EXPECT_EQ(env.at("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), "67");
    for (size_t i = 0; i < 3; ++i) {
        h.make_healthy(i);
    }
    h.sup->tick(0.1);
    EXPECT_EQ(h.engine(0).state, engine_state::ready);
    EXPECT_EQ(h.engine(0).mps_attached, 1);
    h.sup->tick(0.2);
    h.sup->tick(0.3);
    h.sup->tick(0.4);
    EXPECT_TRUE(h.sup->all_ready());
    EXPECT_TRUE(h.sup->fatal_problem().empty());
    const std::string m = h.metrics();
    EXPECT_EQ(test::metric(m, "llmfleet_fleet_mps_daemon_up{gpus=\"GPU 0 (GPU-zero)\",pool=\"L4\"}"), 1);
    EXPECT_EQ(test::metric(m, "llmfleet_fleet_engine_mps_attached{engine=\"L4-2\",pool=\"L4\"}"), 1);
}

TEST(supervisor, an_mps_fault_terminates_every_client_and_restarts_the_daemon_and_engines) {
    harness h(gpu_layout(3), options(mps_mode::on));
    h.sup->start(0);
    for (size_t i = 0; i < 3; ++i) {
        h.make_healthy(i);
    }
    for (double t = 0.1; t < 0.5; t += 0.1) {
        h.sup->tick(t);
    }
    ASSERT_TRUE(h.sup->all_ready());
    const pid_t a = h.engine(0).pid, b = h.engine(1).pid, survivor = h.engine(2).pid;
    h.world.procs[a].exit_code = 1; // a GPU fault is reported to every client: they exit together
    h.sup->tick(2);
    EXPECT_EQ(h.sup->domains()[0].n_faults, 0) << "one failure alone is a crash, not a fault";
    h.world.procs[b].exit_code = 1;
    h.world.procs[survivor].ignores_sigterm = true; // still busy: it exits only once killed
    h.sup->tick(3);
    EXPECT_EQ(h.sup->domains()[0].n_faults, 1);
    EXPECT_TRUE(h.sup->domains()[0].recovering);
    EXPECT_EQ(h.engine(2).state, engine_state::failed) << "the third client is ended too";
    EXPECT_NE(std::find(h.mps.terminated.begin(), h.mps.terminated.end(), survivor), h.mps.terminated.end())
        << "terminate_client before the signal";
    EXPECT_EQ(h.world.n_signals(survivor, SIGTERM), 1);
    EXPECT_EQ(test::metric(h.metrics(), "llmfleet_fleet_mps_daemon_up{gpus=\"GPU 0 (GPU-zero)\",pool=\"L4\"}"), 0);
    h.sup->tick(4);
    EXPECT_EQ(h.mps.n_starts, 1) << "the server refuses new clients until every old one exited";
    EXPECT_EQ(h.world.procs.size(), 3u) << "so no engine is respawned meanwhile";
    h.sup->tick(8.1); // the kill grace (5 s) is over: SIGKILL
    EXPECT_EQ(h.world.n_signals(survivor, SIGKILL), 1);
    h.sup->tick(8.2); // every client reaped: the daemon is restarted
    EXPECT_EQ(h.mps.n_quits, 1);
    EXPECT_EQ(h.mps.n_starts, 2);
    EXPECT_FALSE(h.sup->domains()[0].recovering);
    for (double t = 8.3; t < 10; t += 0.1) {
        h.sup->tick(t);
    }
    EXPECT_TRUE(h.sup->all_ready());
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(h.engine(i).n_restarts, 1) << i;
        EXPECT_EQ(h.engine(i).mps_attached, 1) << i;
    }
    const std::string m = h.metrics();
    EXPECT_EQ(test::metric(m, "llmfleet_fleet_mps_faults_total{gpus=\"GPU 0 (GPU-zero)\",pool=\"L4\"}"), 1);
    EXPECT_EQ(test::metric(m, "llmfleet_fleet_mps_daemon_starts_total{gpus=\"GPU 0 (GPU-zero)\",pool=\"L4\"}"), 2);
}

TEST(supervisor, a_dead_daemon_is_an_mps_fault) {
    harness h(gpu_layout(2), options(mps_mode::on));
    h.sup->start(0);
    h.make_healthy(0);
    h.make_healthy(1);
    for (double t = 0.1; t < 0.4; t += 0.1) {
        h.sup->tick(t);
    }
    ASSERT_TRUE(h.sup->all_ready());
    h.mps.alive = false;
    h.sup->tick(2);
    EXPECT_EQ(h.sup->domains()[0].n_faults, 1);
    EXPECT_EQ(h.engine(0).state, engine_state::failed);
    EXPECT_EQ(h.engine(1).state, engine_state::failed);
    EXPECT_TRUE(h.mps.terminated.empty()) << "no daemon to ask: the engines are only signalled";
    for (double t = 2.1; t < 5; t += 0.1) {
        h.sup->tick(t);
    }
    EXPECT_EQ(h.mps.n_starts, 2);
    EXPECT_TRUE(h.sup->all_ready());
}

TEST(supervisor, mps_on_fails_when_the_daemon_cannot_start) {
    harness h(gpu_layout(2), options(mps_mode::on));
    h.mps.fail_start = true;
    const std::string e = test::error_of([&] { h.sup->start(0); });
    EXPECT_NE(e.find("--mps on: MPS cannot run on GPU 0 (GPU-zero): fake daemon: cannot start"), std::string::npos)
        << e;
    EXPECT_TRUE(h.world.procs.empty()) << "no engine started";
}

TEST(supervisor, mps_auto_falls_back_to_time_slicing) {
    harness h(gpu_layout(2), options(mps_mode::automatic));
    h.mps.fail_start = true;
    h.sup->start(0);
    ASSERT_EQ(h.world.procs.size(), 1u);
    const auto env = h.world.env_of(h.engine(0).pid);
    EXPECT_EQ(env.at("CUDA_VISIBLE_DEVICES"), "GPU-zero");
    EXPECT_FALSE(env.contains("CUDA_MPS_PIPE_DIRECTORY")) << "no daemon: the engine must not look for one";
    EXPECT_FALSE(h.sup->domains()[0].mps_running);
    EXPECT_NE(h.sup->domains()[0].problem.find("cannot start"), std::string::npos);
    h.make_healthy(0);
    h.make_healthy(1);
    h.sup->tick(0.1);
    h.sup->tick(0.2);
    h.sup->tick(0.3);
    EXPECT_TRUE(h.sup->all_ready());
    EXPECT_EQ(h.engine(0).mps_attached, -1);
    EXPECT_EQ(test::metric(h.metrics(), "llmfleet_fleet_mps_daemon_up{gpus=\"GPU 0 (GPU-zero)\",pool=\"L4\"}"), 0);
}

TEST(supervisor, mps_on_reports_an_engine_that_did_not_attach) {
    harness h(gpu_layout(1), options(mps_mode::on));
    h.mps.attach = false; // e.g. an engine without CUDA, or a wrong pipe directory: it runs time-sliced
    h.sup->start(0);
    h.make_healthy(0);
    h.sup->tick(0.1);
    EXPECT_EQ(h.engine(0).mps_attached, 0);
    EXPECT_NE(h.sup->fatal_problem().find("is not a client of the MPS daemon of GPU 0 (GPU-zero)"), std::string::npos)
        << h.sup->fatal_problem();
    EXPECT_EQ(test::metric(h.metrics(), "llmfleet_fleet_engine_mps_attached{engine=\"L4-0\",pool=\"L4\"}"), 0);
}

} // namespace
} // namespace llmfleet::fleet
