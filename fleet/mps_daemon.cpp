// See mps_daemon.h. Every command is one run of `nvidia-cuda-mps-control` with the domain's pipe directory in its
// environment and the command on its stdin, as an administrator would type `echo ps | nvidia-cuda-mps-control`.
#include "fleet/mps_daemon.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/log.h"
#include "common/text.h"

namespace llmfleet::fleet {

namespace {

constexpr double start_timeout_s = 10;

void sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

} // namespace

mps_daemon::mps_daemon(std::vector<std::string> gpu_uuids, mps_paths paths)
    : _gpu_uuids(std::move(gpu_uuids)), _paths(std::move(paths)) {}

std::string mps_daemon::describe() const {
    return fmt::format("MPS daemon for {} (pipe {})", fmt::join(_gpu_uuids, ","), _paths.pipe_dir);
}

pid_t mps_daemon::read_pid_file() const {
    std::error_code ec;
    if (!std::filesystem::exists(_paths.pid_file(), ec)) {
        return 0;
    }
    try {
        const int64_t pid = parse_int(trim(read_file(_paths.pid_file(), "MPS PID file")), "MPS PID file");
        return pid > 0 ? static_cast<pid_t>(pid) : 0;
    } catch (const error&) {
        return 0; // being written, or garbage: treated as absent
    }
}

bool mps_daemon::wait_gone(pid_t pid, double timeout_s) {
    for (int i = 0; i < static_cast<int>(timeout_s * 100); ++i) {
        if (!process_alive(pid)) {
            return true;
        }
        sleep_ms(10);
    }
    return !process_alive(pid);
}

result<std::string> mps_daemon::command(const std::string& line, double timeout_s) const {
    const run_result r =
        run_program(std::string(mps_control_program), {}, mps_control_env(_paths), line + "\n", timeout_s);
    if (!r.ok()) {
        return status(status_code::unavailable,
                      fmt::format("{}: `{}` failed ({}{}): {}", describe(), line, r.timed_out ? "timed out, " : "",
                                  r.started ? describe_exit(r.exit_code) : "not started", trim(r.out + " " + r.err)));
    }
    return r.out;
}

void mps_daemon::start() {
    std::error_code ec;
    std::filesystem::create_directories(_paths.pipe_dir, ec);
    std::filesystem::create_directories(_paths.log_dir, ec);
    if (ec) {
        throw error(status_code::unavailable,
                    fmt::format("{}: cannot create its directories: {}", describe(), ec.message()));
    }
    // A daemon left by an earlier run that was killed (-9) still owns this pipe directory: quit it first.
    if (const pid_t stale = read_pid_file(); stale > 0 && process_alive(stale)) {
        LLMFLEET_LOG_WARN("{}: a daemon (PID {}) from an earlier run is still running; quitting it", describe(), stale);
        _pid = stale;
        quit();
    }
    std::filesystem::remove(_paths.pid_file(), ec);
    const command_line c = mps_daemon_start_command(_gpu_uuids, _paths);
    const run_result r = run_program(c.program, c.args, c.env, "", start_timeout_s);
    const auto failure = [&](const std::string& why) {
        const std::string log = tail_of_file(_paths.log_dir + "/control.log", 5);
        return error(status_code::unavailable,
                     fmt::format("{}: {}{}", describe(), why, log.empty() ? "" : "; control.log ends with: " + log));
    };
    if (!r.ok()) {
        const std::string said(trim(r.out + " " + r.err));
        throw failure(fmt::format("`{} -d` failed ({}{}){}", c.program, r.timed_out ? "timed out, " : "",
                                  r.started ? describe_exit(r.exit_code) : "not started",
                                  said.empty() ? "" : ": " + said));
    }
    for (int i = 0; i < static_cast<int>(start_timeout_s * 100); ++i) {
        if (const pid_t pid = read_pid_file(); pid > 0 && process_alive(pid)) {
            _pid = pid;
            break;
        }
        sleep_ms(10);
    }
    if (_pid == 0) {
        throw failure(fmt::format("`{} -d` returned but no daemon runs ({} holds no live PID after {} s)", c.program,
                                  _paths.pid_file(), start_timeout_s));
    }
    // Start this user's server now rather than lazily at the first client, so that engines started together do
    // not race the server's start-up. A daemon that refuses only costs that optimisation.
    if (const result<std::string> s = command(fmt::format("start_server -uid {}", ::getuid())); !s.is_ok()) {
        LLMFLEET_LOG_WARN("{}: start_server failed (the server starts with the first engine instead): {}", describe(),
                          s.error_status().message());
    }
}

bool mps_daemon::alive() {
    return _pid > 0 && process_alive(_pid);
}

result<std::vector<pid_t>> mps_daemon::client_pids() {
    const result<std::string> servers = command("get_server_list");
    if (!servers.is_ok()) {
        return servers.error_status();
    }
    std::vector<pid_t> clients;
    try {
        for (const pid_t server : parse_pid_list(servers.value(), "get_server_list")) {
            const result<std::string> list = command(fmt::format("get_client_list {}", server));
            if (!list.is_ok()) {
                return list.error_status();
            }
            for (const pid_t c : parse_pid_list(list.value(), "get_client_list")) {
                clients.push_back(c);
            }
        }
    } catch (const error& e) {
        return status(status_code::unavailable, fmt::format("{}: {}", describe(), e.what()));
    }
    return clients;
}

bool mps_daemon::terminate_client(pid_t client) {
    const result<std::string> servers = command("get_server_list");
    if (!servers.is_ok()) {
        return false;
    }
    try {
        for (const pid_t server : parse_pid_list(servers.value(), "get_server_list")) {
            const result<std::string> list = command(fmt::format("get_client_list {}", server));
            if (!list.is_ok()) {
                continue;
            }
            for (const pid_t c : parse_pid_list(list.value(), "get_client_list")) {
                if (c == client) {
                    return command(fmt::format("terminate_client {} {}", server, client)).is_ok();
                }
            }
        }
    } catch (const error& e) {
        LLMFLEET_LOG_WARN("{}: terminate_client {}: {}", describe(), client, e.what());
    }
    return false;
}

void mps_daemon::quit() {
    if (_pid <= 0) {
        return;
    }
    if (process_alive(_pid)) {
        if (const result<std::string> q = command("quit"); !q.is_ok()) {
            LLMFLEET_LOG_WARN("{}", q.error_status().message());
        }
        if (!wait_gone(_pid, 5)) {
            LLMFLEET_LOG_WARN("{}: still running 5 s after quit; sending SIGKILL to PID {}", describe(), _pid);
            ::kill(_pid, SIGKILL);
            wait_gone(_pid, 2);
        }
    }
    _pid = 0;
}

} // namespace llmfleet::fleet
