// `llmfleet serve` on a pretend GPU host: the fake nvidia-smi lists GPUs and the fake nvidia-cuda-mps-control
// (tests/fleet/fake_bin) plays the MPS daemon, while the engines are CPU engines. Checks the whole MPS path without a
// GPU: one daemon per GPU with its own directories, the engines' MPS environment and attachment, a daemon death
// handled as an MPS fault (daemon and engines restarted), `--mps on` failing clearly, `--mps auto` falling back, the
// daemons quit on SIGTERM, and `serve --plan` starting the plan's pools on a host with its GPU types.
#include <gtest/gtest.h>

#include <map>

#include "common/text.h"
#include "tests/fleet/fleet_test_support.h"
#include "tests/fleet/serve_e2e_support.h"

namespace llmfleet {
namespace {

const std::string tag = "test_serve_mps_e2e";

std::map<std::string, std::string> environment_of(pid_t pid) {
    std::map<std::string, std::string> env;
    const std::string text = test::slurp("/proc/" + std::to_string(pid) + "/environ");
    for (const std::string_view entry : split(text, '\0')) {
        const size_t eq = entry.find('=');
        if (eq != std::string_view::npos) {
            env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
        }
    }
    return env;
}

int count_of(const std::string& text, const std::string& needle) {
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

struct fake_gpu_host : test::fake_gpu_host {
    explicit fake_gpu_host(const std::string& csv) : test::fake_gpu_host(tag, csv) {}
};

const std::string one_a10g = "0, GPU-e2e0, NVIDIA A10G, 23028 MiB\n";
const std::string daemon_up = "llmfleet_fleet_mps_daemon_up{gpus=\"GPU 0 (GPU-e2e0)\",pool=\"A10G\"}";

TEST(serve_mps_e2e, engines_share_a_gpu_under_its_daemon_which_is_restarted_after_a_fault) {
    const fake_gpu_host host(one_a10g);
    const test::scoped_env no_fail("FAKE_MPS_FAIL_START", std::nullopt);
    const std::string run = test::short_run_dir("mps");
    test::serve_process s(tag, "--gpus 0 --engines-per-gpu 2 --mps on --run-dir " + run);
    ASSERT_GT(s.port, 0) << s.stderr_text();
    EXPECT_NE(s.stdout_text().find("MPS on (1 GPU domain)"), std::string::npos) << s.stdout_text();
    const std::string pipe = run + "/mps/GPU-e2e0/pipe";
    const std::string commands = run + "/mps/GPU-e2e0/log/fake-commands.log";

    nlohmann::json status = test::fleet_status(tag, s);
    ASSERT_EQ(status["engines"].size(), 2u) << status.dump();
    EXPECT_EQ(status["gpu_domains"][0]["mps_running"], true) << status.dump();
    for (const auto& e : status["engines"]) {
        EXPECT_EQ(e["state"], "ready");
        EXPECT_EQ(e["mps_attached"], true) << "its PID is in the daemon's client list: " << e.dump();
        const auto env = environment_of(e["pid"].get<pid_t>());
        EXPECT_EQ(env.at("CUDA_VISIBLE_DEVICES"), "GPU-e2e0");
        EXPECT_EQ(env.at("CUDA_MPS_PIPE_DIRECTORY"), pipe);
        EXPECT_EQ(env.at("CUDA_MPS_LOG_DIRECTORY"), run + "/mps/GPU-e2e0/log");
        EXPECT_EQ(env.at("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"), "0=10362MB") << "23028 MiB × 0.9 / 2 engines";
        EXPECT_EQ(env.at("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), "100");
    }
    EXPECT_EQ(count_of(test::slurp(commands), "start GPU-e2e0"), 1) << test::slurp(commands);
    EXPECT_EQ(test::fleet_metric(tag, s, daemon_up), 1);
    EXPECT_EQ(test::curl(tag, "POST", s.url("/v1/completions"), R"({"prompt":"hi","max_tokens":3})").status, 200);

    // The daemon dies: every engine of its GPU is ended and restarted under a fresh daemon.
    const pid_t first_daemon = std::stoi(test::slurp(pipe + "/nvidia-cuda-mps-control.pid"));
    ASSERT_EQ(::kill(first_daemon, SIGKILL), 0);
    const std::string faults = "llmfleet_fleet_mps_faults_total{gpus=\"GPU 0 (GPU-e2e0)\",pool=\"A10G\"}";
    EXPECT_TRUE(test::wait_until(
        [&] {
            return test::fleet_metric(tag, s, faults) == 1 && test::fleet_metric(tag, s, daemon_up) == 1 &&
                   test::fleet_metric(tag, s, "llmfleet_fleet_engines{state=\"ready\"}") == 2;
        },
        20))
        << test::curl(tag, "GET", s.url("/metrics"), "").body;
    status = test::fleet_status(tag, s);
    for (const auto& e : status["engines"]) {
        EXPECT_EQ(e["restarts"], 1) << e.dump();
        EXPECT_EQ(e["mps_attached"], true) << e.dump();
    }
    EXPECT_EQ(count_of(test::slurp(commands), "start GPU-e2e0"), 2) << test::slurp(commands);
    const pid_t second_daemon = std::stoi(test::slurp(pipe + "/nvidia-cuda-mps-control.pid"));
    EXPECT_NE(second_daemon, first_daemon);
    EXPECT_EQ(test::curl(tag, "POST", s.url("/v1/completions"), R"({"prompt":"hi","max_tokens":3})").status, 200);

    const std::vector<pid_t> engines = test::engine_pids(tag, s);
    ::kill(s.pid(), SIGTERM);
    EXPECT_EQ(s.wait_exit(45), 0) << s.stderr_text();
    EXPECT_NE(test::slurp(commands).find("quit"), std::string::npos) << "the daemon is quit on shutdown";
    EXPECT_FALSE(test::alive(second_daemon));
    for (const pid_t pid : engines) {
        EXPECT_FALSE(test::alive(pid));
    }
    std::filesystem::remove_all(run);
}

TEST(serve_mps_e2e, mps_on_fails_clearly_when_the_daemon_cannot_start) {
    const fake_gpu_host host(one_a10g);
    const test::scoped_env fail("FAKE_MPS_FAIL_START", "1");
    const std::string run = test::short_run_dir("on");
    const test::cli_result r = test::run_cli(tag, "serve --port 0 --model " + test::tiny_model_dir(tag) +
                                                      " --gpus 0 --mps on --kv-cache-gib 0.05 --run-dir " + run);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("--mps on: MPS cannot run on GPU 0 (GPU-e2e0)"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("fake failure: the MPS control daemon cannot start"), std::string::npos) << r.err;
    std::filesystem::remove_all(run);
}

TEST(serve_mps_e2e, mps_auto_falls_back_to_time_slicing_with_a_warning) {
    const fake_gpu_host host(one_a10g);
    const test::scoped_env fail("FAKE_MPS_FAIL_START", "1");
    const std::string run = test::short_run_dir("auto");
    test::serve_process s(tag, "--gpus 0 --engines-per-gpu 2 --mps auto --run-dir " + run);
    ASSERT_GT(s.port, 0) << s.stderr_text();
    EXPECT_NE(s.stderr_text().find("--mps auto: MPS does not run on GPU 0 (GPU-e2e0)"), std::string::npos)
        << s.stderr_text();
    EXPECT_EQ(test::fleet_metric(tag, s, daemon_up), 0);
    for (const pid_t pid : test::engine_pids(tag, s)) {
        const auto env = environment_of(pid);
        EXPECT_EQ(env.at("CUDA_VISIBLE_DEVICES"), "GPU-e2e0");
        EXPECT_FALSE(env.contains("CUDA_MPS_PIPE_DIRECTORY")) << "no daemon: time-sliced";
    }
    EXPECT_EQ(test::curl(tag, "POST", s.url("/v1/completions"), R"({"prompt":"hi","max_tokens":3})").status, 200);
    EXPECT_EQ(s.stop(), 0);
    std::filesystem::remove_all(run);
}

TEST(serve_mps_e2e, a_plan_starts_its_pools_on_a_host_with_its_gpu_types) {
    const fake_gpu_host host("0, GPU-p0, NVIDIA A100-SXM4-80GB, 81920 MiB\n1, GPU-p1, NVIDIA A10G, 23028 MiB\n");
    const std::string plan = std::string(LLMFLEET_SOURCE_DIR) + "/tests/data/plan_two_pools.json";
    test::serve_process s(tag, "--mps off --plan " + plan);
    ASSERT_GT(s.port, 0) << s.stderr_text();
    EXPECT_NE(s.stdout_text().find("[A10G: 1 GPU × 1 engine; A100-80GB: 1 GPU × 1 engine]"), std::string::npos)
        << s.stdout_text();
    EXPECT_NE(s.stderr_text().find("A100-80GB: the plan has 5 A100-80GB GPUs in this pool across the fleet; this "
                                   "host serves with 1"),
              std::string::npos)
        << s.stderr_text();
    const nlohmann::json status = test::fleet_status(tag, s);
    ASSERT_EQ(status["engines"].size(), 2u);
    EXPECT_EQ(status["engines"][0]["pool"], "A10G");
    EXPECT_EQ(status["engines"][1]["pool"], "A100-80GB");
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(test::curl(tag, "POST", s.url("/v1/completions"), R"({"prompt":"hi","max_tokens":3})").status, 200);
    }
    const std::string m = test::curl(tag, "GET", s.url("/metrics"), "").body;
    EXPECT_NE(m.find("llmfleet_router_backend_up{pool=\"A10G\""), std::string::npos) << m;
    EXPECT_NE(m.find("llmfleet_router_routed_total"), std::string::npos) << "size-aware routing by the plan";
    EXPECT_EQ(s.stop(), 0);
}

} // namespace
} // namespace llmfleet
