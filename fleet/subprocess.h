// Child processes for the fleet: long-running children (engines) that die with their parent, and short commands
// whose output is read back (nvidia-smi, nvidia-cuda-mps-control) under a time limit. POSIX fork/exec only.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmfleet::fleet {

using env_list = std::vector<std::pair<std::string, std::string>>; // name → value, set on top of the parent's

// The path of `name` on PATH ("" when not found); a name with a '/' is returned as is when it is executable.
std::string find_program(std::string_view name);

// What run_program saw.
struct run_result {
    bool started = false;   // false: the program was not found or could not be executed (`error` says why)
    bool timed_out = false; // killed after the time limit
    int exit_code = -1;     // ≥ 0 on a normal exit; −signal when killed by a signal
    std::string out;        // stdout
    std::string err;        // stderr, or why it did not start
    bool ok() const { return started && !timed_out && exit_code == 0; }
};

// Runs `program` (looked up on PATH) with `args`, the parent's environment plus `env`, `stdin_text` on its
// stdin, and waits at most timeout_s for it to exit (then SIGKILL). Thread-safe.
run_result run_program(const std::string& program, const std::vector<std::string>& args, const env_list& env,
                       std::string_view stdin_text, double timeout_s);

struct spawn_spec {
    std::string program;           // absolute path (or a name on PATH)
    std::vector<std::string> args; // without argv[0]
    env_list env;                  // set on top of the parent's environment
    std::string log_path;          // stdout and stderr are appended here; empty: inherit the parent's
};

// Starts a long-running child in its own process group (so a terminal's Ctrl-C reaches only the supervisor),
// with stdin from /dev/null and every other inherited descriptor closed. The child gets SIGTERM when the thread
// that spawned it dies (PR_SET_PDEATHSIG, set after fork and checked against the race in which the parent died
// first, via getppid()), so spawn only from a thread that lives as long as the children should. Throws
// error(unavailable) when fork or exec fails, naming the program and errno's text.
pid_t spawn_process(const spawn_spec& spec);

// Reaps `pid` when it exited: its exit code (≥ 0) or −signal; nullopt while it runs. note: pid is our child.
std::optional<int> try_reap(pid_t pid);

// True while `pid` exists and is not a zombie (any process, not only our children).
bool process_alive(pid_t pid);

// "exit code 1", "killed by signal 9 (SIGKILL)".
std::string describe_exit(int code);

// The last `max_lines` lines of a text file ("" when it cannot be read): for logging why a child died.
std::string tail_of_file(const std::string& path, int max_lines);

} // namespace llmfleet::fleet
