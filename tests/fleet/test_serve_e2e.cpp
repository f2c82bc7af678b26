// `llmfleet serve --engines N` end to end on a CPU host (real processes, tiny model): requests through the router
// (also with the official openai client when installed), kill -9 of one engine under a stream of non-streamed
// requests (restarted, none lost), SIGTERM (exit 0, no process left), kill -9 of the supervisor (the engines die
// too), and bad flags (exit 1 with a clear message). The fake nvidia-smi on PATH makes the host GPU-less everywhere.
#include <gtest/gtest.h>

#include "tests/fleet/fleet_test_support.h"
#include "tests/fleet/serve_e2e_support.h"

namespace llmfleet {
namespace {

const std::string tag = "test_serve_e2e";

test::http_reply post_completion(const test::server_process& s) {
    return test::curl(tag, "POST", s.url("/v1/completions"), R"({"prompt":"hi","max_tokens":3})");
}

TEST(serve_e2e, two_cpu_engines_serve_through_the_router_and_stop_cleanly) {
    const auto path = test::fake_path(tag);
    test::serve_process s(tag, "--engines 2 --served-model-name tiny");
    ASSERT_GT(s.port, 0) << s.stderr_text();
    EXPECT_NE(s.stdout_text().find("2 engines [cpu: 2 engines]"), std::string::npos) << s.stdout_text();
    EXPECT_NE(s.stdout_text().find("MPS not applicable (CPU engines)"), std::string::npos) << s.stdout_text();

    const nlohmann::json status = test::fleet_status(tag, s);
    ASSERT_EQ(status["engines"].size(), 2u) << status.dump();
    for (const auto& e : status["engines"]) {
        EXPECT_EQ(e["state"], "ready") << e.dump();
        EXPECT_GT(e["pid"].get<int>(), 0);
        EXPECT_TRUE(e["mps_attached"].is_null()) << "MPS is not applicable to CPU engines";
    }
    for (int i = 0; i < 4; ++i) {
        const test::http_reply r = post_completion(s);
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_NE(r.body.find("\"text_completion\""), std::string::npos) << r.body;
    }
    const std::string m = test::curl(tag, "GET", s.url("/metrics"), "").body;
    EXPECT_EQ(test::metric(m, "llmfleet_fleet_engines{state=\"ready\"}"), 2) << m;
    EXPECT_EQ(test::metric(m, "llmfleet_fleet_restarts_total"), 0);
    EXPECT_NE(m.find("llmfleet_router_backend_up{pool=\"cpu\""), std::string::npos) << "the router's own metrics too";
    if (test::openai_client_available()) {
        test::expect_openai_client_works(tag, s.url("/v1"), "tiny");
    } else {
        std::cout << "[  SKIP    ] the openai client part: node or tests/reference/node_modules/openai missing\n";
    }

    const std::vector<pid_t> engines = test::engine_pids(tag, s);
    const std::set<pid_t> children = test::children_of(s.pid());
    EXPECT_EQ(children, std::set<pid_t>(engines.begin(), engines.end())) << "the engines are its only children";
    ::kill(s.pid(), SIGTERM);
    EXPECT_EQ(s.wait_exit(45), 0) << "SIGTERM → graceful exit 0: " << s.stderr_text();
    for (const pid_t pid : children) {
        EXPECT_FALSE(test::alive(pid)) << "left behind: " << pid;
    }
}

TEST(serve_e2e, kill_9_of_one_engine_is_restarted_and_no_request_is_lost) {
    const auto path = test::fake_path(tag);
    test::serve_process s(tag, "--engines 2");
    ASSERT_GT(s.port, 0) << s.stderr_text();
    test::completion_load load(s.port, 4, 30);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    const pid_t victim = test::engine_pids(tag, s).at(1);
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    const std::string restarts = "llmfleet_fleet_engine_restarts_total{engine=\"cpu-1\",pool=\"cpu\"}";
    const std::string ready = "llmfleet_fleet_engine_state{engine=\"cpu-1\",pool=\"cpu\",state=\"ready\"}";
    EXPECT_TRUE(test::wait_until(
        [&] { return test::fleet_metric(tag, s, restarts) == 1 && test::fleet_metric(tag, s, ready) == 1; }, 20))
        << test::curl(tag, "GET", s.url("/metrics"), "").body;
    std::this_thread::sleep_for(std::chrono::milliseconds(400)); // traffic reaches the restarted engine too
    load.join();
    EXPECT_GT(load.n_ok.load(), 8);
    EXPECT_EQ(load.n_failed.load(), 0) << "every non-streamed request was retried on a live engine; last failure: "
                                       << load.last_failure;
    const nlohmann::json e = test::fleet_status(tag, s)["engines"][1];
    EXPECT_EQ(e["state"], "ready");
    EXPECT_EQ(e["restarts"], 1);
    EXPECT_NE(e["pid"].get<pid_t>(), victim);
    EXPECT_FALSE(test::alive(victim));
    EXPECT_EQ(post_completion(s).status, 200);
    EXPECT_EQ(s.stop(), 0);
}

TEST(serve_e2e, kill_9_of_the_supervisor_takes_its_engines_down) {
    const auto path = test::fake_path(tag);
    test::serve_process s(tag, "--engines 2");
    ASSERT_GT(s.port, 0) << s.stderr_text();
    const std::vector<pid_t> engines = test::engine_pids(tag, s);
    ASSERT_EQ(engines.size(), 2u);
    s.kill9();
    EXPECT_TRUE(test::wait_until([&] { return !test::alive(engines[0]) && !test::alive(engines[1]); }, 15))
        << "PR_SET_PDEATHSIG: the engines must not outlive their supervisor";
    // Nobody was left to remove the run directory (engine logs): the startup line names it.
    const std::string out = s.stdout_text();
    const size_t at = out.find("run dir /tmp/llmfleet-serve-");
    ASSERT_NE(at, std::string::npos) << out;
    std::filesystem::remove_all(out.substr(at + 8, out.find(')', at) - at - 8));
}

TEST(serve_e2e, bad_flags_exit_1_with_a_clear_message) {
    const auto path = test::fake_path(tag); // nvidia-smi: "No devices were found"
    const std::string model = test::tiny_model_dir(tag);
    const auto expect_error = [](const std::string& args, const std::string& message) {
        const test::cli_result r = test::run_cli(tag, "serve --port 0 " + args);
        EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
        EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
    };
    expect_error("--model " + model + " --engines 0", "--engines 0: expected ≥ 1 engine");
    expect_error("--model " + model + " --mps on",
                 "--mps on: this host has no NVIDIA GPU (nvidia-smi failed (exit code 6): No devices were found)");
    expect_error("--model " + model + " --engines 2 --mps on", "--mps on needs NVIDIA GPUs");
    expect_error("--model " + model + " --mps sometimes", "--mps sometimes: expected auto, on or off");
    expect_error("--model /nonexistent/model --engines 2", "--model /nonexistent/model: no such directory");
    expect_error("--model " + model + " --gpus 0", "--gpus 0: this host has no NVIDIA GPU");
    expect_error("--model " + model + " --plan " + std::string(LLMFLEET_SOURCE_DIR) + "/tests/data/plan_two_pools.json",
                 "wants 1× A10G, 5× A100-80GB; this host has no NVIDIA GPU");
}

} // namespace
} // namespace llmfleet
