// mps_daemon against a fake nvidia-cuda-mps-control (tests/fleet/fake_bin, first on PATH): start with its own
// pipe and log directories, the client list (who attached), terminate_client, quit, a stale daemon from an earlier
// run, and a daemon that cannot start. Also the child-process helpers the supervisor and the daemon rely on.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "fleet/gpu_inventory.h"
#include "fleet/mps_daemon.h"
#include "fleet/subprocess.h"
#include "tests/fleet/fleet_test_support.h"

namespace llmfleet::fleet {
namespace {

const std::string tag = "test_fleet_daemon";

bool contains(const std::vector<pid_t>& v, pid_t x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

// A `sleep 30` child, optionally as a client of `paths`' daemon (its environment names the pipe directory).
pid_t sleeper(const mps_paths* paths) {
    spawn_spec s{"sleep", {"30"}, {}, ""};
    if (paths != nullptr) {
        s.env = gpu_client_env({"GPU-test"}, paths, {});
    }
    return spawn_process(s);
}

void kill_and_reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    while (!try_reap(pid)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

TEST(subprocess, run_program_feeds_stdin_and_reads_both_outputs) {
    const run_result r = run_program("sh", {"-c", "cat; echo oops >&2; exit 3"}, {{"X", "1"}}, "hello\n", 10);
    EXPECT_TRUE(r.started);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "hello\n");
    EXPECT_EQ(r.err, "oops\n");
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(run_program("sh", {"-c", "echo $FLEET_X"}, {{"FLEET_X", "set here"}}, "", 10).out, "set here\n");
    const run_result slow = run_program("sleep", {"10"}, {}, "", 0.2);
    EXPECT_TRUE(slow.timed_out);
    EXPECT_EQ(slow.exit_code, -SIGKILL);
    const run_result missing = run_program("no-such-program-here", {}, {}, "", 1);
    EXPECT_FALSE(missing.started);
    EXPECT_NE(missing.err.find("not found on PATH"), std::string::npos) << missing.err;
}

TEST(subprocess, spawned_children_log_to_a_file_and_report_their_exit) {
    const std::string log = test::temp_path(tag, "child.log");
    std::filesystem::remove(log);
    const pid_t pid = spawn_process({"sh", {"-c", "echo line one; echo line two >&2; exit 7"}, {}, log});
    std::optional<int> code;
    for (int i = 0; i < 500 && !code; ++i) {
        code = try_reap(pid);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 7);
    EXPECT_EQ(describe_exit(*code), "exit code 7");
    EXPECT_EQ(describe_exit(-9), "killed by signal 9 (SIGKILL)");
    EXPECT_EQ(tail_of_file(log, 1), "line two");
    EXPECT_EQ(tail_of_file(log, 5), "line one\nline two");
    const std::string e = test::error_of([] { spawn_process({"/nonexistent/engine", {}, {}, ""}); });
    EXPECT_NE(e.find("cannot start `/nonexistent/engine`"), std::string::npos) << e;
    const pid_t alive = spawn_process({"sleep", {"30"}, {}, ""});
    EXPECT_TRUE(process_alive(alive));
    EXPECT_EQ(::getpgid(alive), alive) << "its own process group: a terminal's Ctrl-C reaches only the supervisor";
    kill_and_reap(alive);
    EXPECT_FALSE(process_alive(alive));
}

TEST(gpu_detection, reads_the_fake_nvidia_smi_or_says_why_there_is_no_gpu) {
    const auto path = test::fake_path(tag);
    {
        const test::scoped_env csv("FAKE_NVIDIA_SMI_CSV", std::nullopt);
        const gpu_detection none = detect_gpus();
        EXPECT_TRUE(none.gpus.empty());
        EXPECT_NE(none.problem.find("No devices were found"), std::string::npos) << none.problem;
    }
    const std::string file = test::write_temp(tag, "smi.csv", "0, GPU-abc, NVIDIA L4, 23034 MiB\n");
    const test::scoped_env csv("FAKE_NVIDIA_SMI_CSV", file);
    const gpu_detection one = detect_gpus();
    ASSERT_EQ(one.gpus.size(), 1u) << one.problem;
    EXPECT_EQ(one.gpus[0].uuid, "GPU-abc");
    EXPECT_EQ(one.gpus[0].type, "L4");
}

TEST(mps_daemon, starts_lists_its_clients_terminates_and_quits) {
    const auto path = test::fake_path(tag);
    const std::string run = test::short_run_dir("daemon");
    const mps_paths paths = mps_paths_for(run, {"GPU-test"});
    mps_daemon d({"GPU-test"}, paths);
    d.start();
    ASSERT_TRUE(d.alive());
    const pid_t daemon_pid = d.pid();
    EXPECT_GT(daemon_pid, 0);
    const std::string commands = paths.log_dir + "/fake-commands.log";
    EXPECT_NE(test::slurp(commands).find("start GPU-test"), std::string::npos) << "CUDA_VISIBLE_DEVICES by UUID";
    EXPECT_NE(test::slurp(commands).find("start_server -uid " + std::to_string(::getuid())), std::string::npos);

    const pid_t client = sleeper(&paths);
    const pid_t stranger = sleeper(nullptr);
    const result<std::vector<pid_t>> clients = d.client_pids();
    ASSERT_TRUE(clients.is_ok()) << clients.error_status().message();
    EXPECT_TRUE(contains(clients.value(), client)) << "its environment names the daemon's pipe directory";
    EXPECT_FALSE(contains(clients.value(), stranger)) << "no MPS environment: not attached";

    EXPECT_TRUE(d.terminate_client(client));
    EXPECT_NE(
        test::slurp(commands).find("terminate_client " + std::to_string(daemon_pid) + " " + std::to_string(client)),
        std::string::npos)
        << test::slurp(commands);
    EXPECT_FALSE(d.terminate_client(stranger)) << "no server lists it";
    kill_and_reap(client);
    kill_and_reap(stranger);

    d.quit();
    EXPECT_FALSE(d.alive());
    EXPECT_FALSE(process_alive(daemon_pid));
    EXPECT_FALSE(std::filesystem::exists(paths.pid_file()));
    EXPECT_NE(test::slurp(commands).find("quit"), std::string::npos);
    d.quit(); // idempotent
    std::filesystem::remove_all(run);
}

TEST(mps_daemon, quits_a_stale_daemon_left_in_its_pipe_directory) {
    const auto path = test::fake_path(tag);
    const std::string run = test::short_run_dir("stale");
    const mps_paths paths = mps_paths_for(run, {"GPU-test"});
    mps_daemon first({"GPU-test"}, paths);
    first.start();
    const pid_t stale = first.pid();
    mps_daemon second({"GPU-test"}, paths); // as after a kill -9 of the supervisor: the old daemon still runs
    second.start();
    EXPECT_FALSE(process_alive(stale));
    EXPECT_TRUE(second.alive());
    EXPECT_NE(second.pid(), stale);
    second.quit();
    std::filesystem::remove_all(run);
}

TEST(mps_daemon, a_daemon_that_cannot_start_says_why) {
    const auto path = test::fake_path(tag);
    const test::scoped_env fail("FAKE_MPS_FAIL_START", "1");
    const std::string run = test::short_run_dir("fail");
    mps_daemon d({"GPU-test"}, mps_paths_for(run, {"GPU-test"}));
    const std::string e = test::error_of([&] { d.start(); });
    EXPECT_NE(e.find("nvidia-cuda-mps-control -d` failed (exit code 1)"), std::string::npos) << e;
    EXPECT_NE(e.find("fake failure"), std::string::npos) << "the program's own words: " << e;
    EXPECT_FALSE(d.alive());
    std::filesystem::remove_all(run);
}

TEST(mps_daemon, without_the_program_start_fails_clearly) {
    const test::scoped_env path("PATH", "/nonexistent");
    const std::string run = test::short_run_dir("none");
    mps_daemon d({"GPU-test"}, mps_paths_for(run, {"GPU-test"}));
    const std::string e = test::error_of([&] { d.start(); });
    EXPECT_NE(e.find("not found on PATH"), std::string::npos) << e;
    std::filesystem::remove_all(run);
}

} // namespace
} // namespace llmfleet::fleet
