// See subprocess.h. Everything the child runs between fork and exec is async-signal-safe: argv, envp and the
// descriptors are prepared before fork, since the parent has other threads (the router's, the health checks').
#include "fleet/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "common/error.h"
#include "common/text.h"

extern char** environ;

namespace llmfleet::fleet {

namespace {

bool is_executable(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// argv and envp as exec wants them, built before fork.
struct exec_args {
    std::vector<std::string> argv_storage;
    std::vector<std::string> envp_storage;
    std::vector<char*> argv;
    std::vector<char*> envp;

    exec_args(const std::string& program, const std::vector<std::string>& args, const env_list& env) {
        argv_storage.push_back(program);
        argv_storage.insert(argv_storage.end(), args.begin(), args.end());
        for (char** e = environ; *e != nullptr; ++e) {
            const std::string_view entry(*e);
            const std::string_view name = entry.substr(0, entry.find('='));
            bool overridden = false;
            for (const auto& [n, v] : env) {
                overridden = overridden || n == name;
            }
            if (!overridden) {
                envp_storage.emplace_back(entry);
            }
        }
        for (const auto& [name, value] : env) {
            envp_storage.push_back(name + "=" + value);
        }
        for (std::string& a : argv_storage) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        for (std::string& e : envp_storage) {
            envp.push_back(e.data());
        }
        envp.push_back(nullptr);
    }
};

// Closes every descriptor ≥ 3 except `keep` (async-signal-safe).
void close_other_fds(int keep, int max_fd) {
    const auto close_span = [max_fd](int first, int last) {
        if (first > last) {
            return;
        }
        if (::syscall(SYS_close_range, static_cast<unsigned>(first), static_cast<unsigned>(last), 0) == 0) {
            return;
        }
        for (int fd = first; fd <= last && fd < max_fd; ++fd) { // kernels before 5.9: no close_range
            ::close(fd);
        }
    };
    if (keep >= 3) {
        close_span(3, keep - 1);
        close_span(keep + 1, ~0u >> 1);
    } else {
        close_span(3, ~0u >> 1);
    }
}

int max_fd_limit() {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY && r.rlim_cur < 65536) {
        return static_cast<int>(r.rlim_cur);
    }
    return 65536;
}

// The child side after fork: dies with its parent, wires stdin/stdout/stderr, closes the rest, execs. Reports
// an exec failure's errno through `error_fd` (close-on-exec, so a successful exec closes it unwritten).
[[noreturn]] void exec_child(const exec_args& a, pid_t parent, int in_fd, int out_fd, int err_fd, int error_fd,
                             int max_fd, bool new_group) {
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent) {
        ::_exit(127); // the parent already died between fork and prctl: nobody would ever stop us
    }
    if (new_group) {
        ::setpgid(0, 0);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr); // the parent's threads may block signals; the child must not
    for (const int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) {
        ::signal(sig, SIG_DFL); // an ignored signal stays ignored across exec
    }
    if ((in_fd >= 0 && ::dup2(in_fd, 0) < 0) || (out_fd >= 0 && ::dup2(out_fd, 1) < 0) ||
        (err_fd >= 0 && ::dup2(err_fd, 2) < 0)) {
        const int e = errno;
        (void)!::write(error_fd, &e, sizeof(e));
        ::_exit(127);
    }
    close_other_fds(error_fd, max_fd);
    ::execve(a.argv[0], a.argv.data(), a.envp.data());
    const int e = errno;
    (void)!::write(error_fd, &e, sizeof(e));
    ::_exit(127);
}

// Forks and execs; returns the pid, or -1 with the errno of the failed fork/exec in *exec_errno.
pid_t fork_exec(const exec_args& a, int in_fd, int out_fd, int err_fd, bool new_group, int* exec_errno) {
    int error_pipe[2];
    if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
        *exec_errno = errno;
        return -1;
    }
    const int max_fd = max_fd_limit();
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        exec_child(a, parent, in_fd, out_fd, err_fd, error_pipe[1], max_fd, new_group);
    }
    ::close(error_pipe[1]);
    if (pid < 0) {
        *exec_errno = errno;
        ::close(error_pipe[0]);
        return -1;
    }
    int e = 0;
    ssize_t n;
    do {
        n = ::read(error_pipe[0], &e, sizeof(e));
    } while (n < 0 && errno == EINTR);
    ::close(error_pipe[0]);
    if (n == static_cast<ssize_t>(sizeof(e))) {
        ::waitpid(pid, nullptr, 0);
        *exec_errno = e;
        return -1;
    }
    return pid;
}

} // namespace

std::string find_program(std::string_view name) {
    if (name.empty()) {
        return "";
    }
    if (name.find('/') != std::string_view::npos) {
        return is_executable(std::string(name)) ? std::string(name) : "";
    }
    const char* path = std::getenv("PATH");
    for (const std::string_view dir : split(path != nullptr ? path : "/usr/bin:/bin", ':')) {
        const std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
        if (is_executable(candidate)) {
            return candidate;
        }
    }
    return "";
}

run_result run_program(const std::string& program, const std::vector<std::string>& args, const env_list& env,
                       std::string_view stdin_text, double timeout_s) {
    run_result r;
    const std::string path = find_program(program);
    if (path.empty()) {
        r.err = fmt::format("`{}` not found on PATH", program);
        return r;
    }
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
        r.err = fmt::format("pipe: {}", std::strerror(errno));
        return r;
    }
    const exec_args a(path, args, env);
    int exec_errno = 0;
    const pid_t pid = fork_exec(a, in[0], out[1], err[1], false, &exec_errno);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (pid < 0) {
        ::close(in[1]);
        ::close(out[0]);
        ::close(err[0]);
        r.err = fmt::format("cannot run {}: {}", path, std::strerror(exec_errno));
        return r;
    }
    r.started = true;
    // Feed stdin and drain both outputs together, so neither side blocks on a full pipe.
    ::fcntl(in[1], F_SETFL, O_NONBLOCK);
    size_t written = 0;
    int stdin_fd = in[1];
    if (stdin_text.empty()) {
        ::close(stdin_fd);
        stdin_fd = -1;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    bool out_open = true, err_open = true;
    char buf[4096];
    while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
        pollfd fds[3] = {
            {out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}, {stdin_fd, POLLOUT, 0}};
        const auto left_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (::poll(fds, 3, static_cast<int>(std::max<int64_t>(1, left_ms))) < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
                const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
                if (n > 0) {
                    (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
                } else if (n == 0 || errno != EINTR) {
                    (i == 0 ? out_open : err_open) = false;
                }
            }
        }
        if (stdin_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
            const ssize_t n = ::write(stdin_fd, stdin_text.data() + written, stdin_text.size() - written);
            if (n > 0) {
                written += static_cast<size_t>(n);
            }
            if (written == stdin_text.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                ::close(stdin_fd);
                stdin_fd = -1;
            }
        }
    }
    if (stdin_fd >= 0) {
        ::close(stdin_fd);
    }
    ::close(out[0]);
    ::close(err[0]);
    while (true) {
        if (const std::optional<int> code = try_reap(pid)) {
            r.exit_code = *code;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            r.timed_out = true;
            ::kill(pid, SIGKILL);
            int status = 0;
            ::waitpid(pid, &status, 0);
            r.exit_code = -SIGKILL;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return r;
}

pid_t spawn_process(const spawn_spec& spec) {
    const std::string path = find_program(spec.program);
    if (path.empty()) {
        throw error(status_code::unavailable,
                    fmt::format("cannot start `{}`: not found or not executable", spec.program));
    }
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int log_fd = -1;
    if (!spec.log_path.empty()) {
        log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            const int e = errno;
            ::close(null_fd);
            throw error(status_code::unavailable,
                        fmt::format("cannot open the log file {}: {}", spec.log_path, std::strerror(e)));
        }
    }
    const exec_args a(path, spec.args, spec.env);
    int exec_errno = 0;
    const pid_t pid = fork_exec(a, null_fd, log_fd, log_fd, true, &exec_errno);
    ::close(null_fd);
    if (log_fd >= 0) {
        ::close(log_fd);
    }
    if (pid < 0) {
        throw error(status_code::unavailable, fmt::format("cannot start {}: {}", path, std::strerror(exec_errno)));
    }
    return pid;
}

std::optional<int> try_reap(pid_t pid) {
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
        return std::nullopt;
    }
    if (r < 0) {
        return -SIGKILL; // not our child any more (reaped elsewhere): report it gone
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

bool process_alive(pid_t pid) {
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) {
        return false;
    }
    std::ifstream stat(fmt::format("/proc/{}/stat", pid));
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t paren = text.rfind(')');
    if (paren == std::string::npos || paren + 2 >= text.size()) {
        return ::kill(pid, 0) == 0 || errno == EPERM; // no /proc: trust kill()
    }
    return text[paren + 2] != 'Z' && text[paren + 2] != 'X';
}

std::string describe_exit(int code) {
    if (code >= 0) {
        return fmt::format("exit code {}", code);
    }
    const char* name = ::sigabbrev_np(-code);
    return fmt::format("killed by signal {} (SIG{})", -code, name != nullptr ? name : "?");
}

std::string tail_of_file(const std::string& path, int max_lines) {
    std::ifstream in(path);
    std::deque<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        lines.push_back(std::move(line));
        if (static_cast<int>(lines.size()) > max_lines) {
            lines.pop_front();
        }
    }
    std::string out;
    for (const std::string& l : lines) {
        out += (out.empty() ? "" : "\n") + l;
    }
    return out;
}

} // namespace llmfleet::fleet
