// The pure parts of MPS and GPU handling: the daemon's and the engines' command lines and environment for a GPU,
// the per-engine memory share and KV budget, parsing of nvidia-smi output and of the daemon's server, client and ps
// lists, and the GPU type names the planner uses.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "fleet/gpu_inventory.h"
#include "fleet/mps.h"
#include "tests/test_support.h"

namespace llmfleet::fleet {
namespace {

std::map<std::string, std::string> as_map(const env_list& env) {
    std::map<std::string, std::string> m;
    for (const auto& [k, v] : env) {
        EXPECT_TRUE(m.emplace(k, v).second) << "set twice: " << k;
    }
    return m;
}

TEST(mps, modes_parse_and_print) {
    EXPECT_EQ(parse_mps_mode("auto"), mps_mode::automatic);
    EXPECT_EQ(parse_mps_mode("on"), mps_mode::on);
    EXPECT_EQ(parse_mps_mode("off"), mps_mode::off);
    EXPECT_EQ(to_string(mps_mode::automatic), "auto");
    EXPECT_NE(test::error_of([] { parse_mps_mode("yes"); }).find("expected auto, on or off"), std::string::npos);
}

TEST(mps, each_gpu_domain_gets_its_own_directories) {
    const mps_paths one = mps_paths_for("/run/lf", {"GPU-aaaa"});
    EXPECT_EQ(one.pipe_dir, "/run/lf/mps/GPU-aaaa/pipe");
    EXPECT_EQ(one.log_dir, "/run/lf/mps/GPU-aaaa/log");
    EXPECT_EQ(one.pid_file(), "/run/lf/mps/GPU-aaaa/pipe/nvidia-cuda-mps-control.pid");
    EXPECT_EQ(mps_paths_for("/run/lf", {"GPU-aaaa", "GPU-bbbb"}).pipe_dir, "/run/lf/mps/GPU-aaaa+1/pipe");
    EXPECT_NE(mps_paths_for("/run/lf", {"GPU-bbbb"}).pipe_dir, one.pipe_dir);
    const std::string long_dir = "/tmp/" + std::string(80, 'x');
    const std::string e = test::error_of([&] { mps_paths_for(long_dir, {"GPU-0123456789abcdef"}); });
    EXPECT_NE(e.find("Unix socket limit"), std::string::npos) << e;
    EXPECT_NE(e.find("--run-dir"), std::string::npos) << e;
}

TEST(mps, daemon_command_line_and_environment) {
    const mps_paths p = mps_paths_for("/r", {"GPU-a", "GPU-b"});
    const command_line c = mps_daemon_start_command({"GPU-a", "GPU-b"}, p);
    EXPECT_EQ(c.program, "nvidia-cuda-mps-control");
    EXPECT_EQ(c.args, std::vector<std::string>{"-d"});
    const auto env = as_map(c.env);
    EXPECT_EQ(env.at("CUDA_VISIBLE_DEVICES"), "GPU-a,GPU-b") << "by UUID: the server renumbers devices";
    EXPECT_EQ(env.at("CUDA_MPS_PIPE_DIRECTORY"), p.pipe_dir);
    EXPECT_EQ(env.at("CUDA_MPS_LOG_DIRECTORY"), p.log_dir);
    const auto control = as_map(mps_control_env(p));
    EXPECT_EQ(control.size(), 2u);
    EXPECT_EQ(control.at("CUDA_MPS_PIPE_DIRECTORY"), p.pipe_dir);
}

TEST(mps, engine_environment_with_and_without_mps) {
    const mps_paths p = mps_paths_for("/r", {"GPU-a", "GPU-b"});
    const auto with = as_map(gpu_client_env({"GPU-a", "GPU-b"}, &p, {10240, 50}));
    EXPECT_EQ(with.at("CUDA_VISIBLE_DEVICES"), "GPU-a,GPU-b");
    EXPECT_EQ(with.at("CUDA_MPS_PIPE_DIRECTORY"), p.pipe_dir);
    EXPECT_EQ(with.at("CUDA_MPS_LOG_DIRECTORY"), p.log_dir);
    EXPECT_EQ(with.at("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"), "0=10240MB,1=10240MB") << "the client's own numbering";
    EXPECT_EQ(with.at("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), "50");
    const auto unlimited = as_map(gpu_client_env({"GPU-a"}, &p, {}));
    EXPECT_FALSE(unlimited.contains("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"));
    EXPECT_FALSE(unlimited.contains("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"));
    const auto without = as_map(gpu_client_env({"GPU-a"}, nullptr, {10240, 50}));
    EXPECT_EQ(without.size(), 1u) << "time-sliced: only the GPU";
    EXPECT_EQ(without.at("CUDA_VISIBLE_DEVICES"), "GPU-a");
}

TEST(mps, thread_percentage_over_provisions_as_nvidia_advises) {
    // 100 / (0.5 n), capped at 100, rounded up.
    EXPECT_EQ(default_active_thread_percentage(1), 100);
    EXPECT_EQ(default_active_thread_percentage(2), 100);
    EXPECT_EQ(default_active_thread_percentage(3), 67);
    EXPECT_EQ(default_active_thread_percentage(4), 50);
    EXPECT_EQ(default_active_thread_percentage(8), 25);
}

TEST(mps, kv_budget_accounts_for_the_other_engines_on_the_gpu) {
    const int64_t gib = 1024LL * 1024 * 1024;
    // 80 GiB × 0.9 / 2 = 36 GiB per engine; 16 GiB weights, 1 GiB reserve → 19 GiB of KV.
    kv_budget b = plan_kv_budget({80 * 1024, 0.9, 2, 1, 16 * gib, 1.0});
    EXPECT_EQ(b.engine_memory_mib, 36864);
    EXPECT_DOUBLE_EQ(b.weights_gib, 16.0);
    EXPECT_DOUBLE_EQ(b.kv_cache_gib, 19.0);
    // A third engine shrinks everyone's share: 24 GiB − 16 − 1 = 7 GiB.
    EXPECT_DOUBLE_EQ(plan_kv_budget({80 * 1024, 0.9, 3, 1, 16 * gib, 1.0}).kv_cache_gib, 7.0);
    // tp 2 halves the weights on each GPU: 36 − 8 − 1 = 27 GiB.
    EXPECT_DOUBLE_EQ(plan_kv_budget({80 * 1024, 0.9, 2, 2, 16 * gib, 1.0}).kv_cache_gib, 27.0);
    const std::string e = test::error_of([&] { plan_kv_budget({24 * 1024, 0.9, 4, 1, 16 * gib, 1.0}); });
    EXPECT_NE(e.find("no GPU memory left for the KV cache"), std::string::npos) << e;
    EXPECT_NE(e.find("5529 MiB"), std::string::npos) << "24576 × 0.9 / 4: " << e;
    EXPECT_NE(e.find("--engines-per-gpu"), std::string::npos) << e;
    EXPECT_NE(test::error_of([] { plan_kv_budget({1024, 1.5, 1, 1, 0, 0}); }).find("utilisation"), std::string::npos);
}

TEST(mps, server_and_client_lists_parse) {
    EXPECT_EQ(parse_pid_list("1234\n5678\n\n", "get_client_list"), (std::vector<pid_t>{1234, 5678}));
    EXPECT_TRUE(parse_pid_list("", "get_server_list").empty()) << "no server yet";
    EXPECT_TRUE(parse_pid_list("  \n", "get_server_list").empty());
    const std::string e =
        test::error_of([] { parse_pid_list("1234\nCannot find MPS control daemon\n", "get_server_list"); });
    EXPECT_NE(e.find("get_server_list"), std::string::npos) << e;
    EXPECT_NE(e.find("Cannot find MPS control daemon"), std::string::npos) << e;
    EXPECT_NE(test::error_of([] { parse_pid_list("-3", "get_client_list"); }).find("PIDs > 0"), std::string::npos);
}

TEST(mps, ps_rows_parse_with_spaces_in_the_command) {
    const std::vector<mps_client_row> rows = parse_mps_ps("PID ID SERVER DEVICE NAMESPACE COMMAND\n"
                                                          "9741 0 6472 GPU-cb1213a3-d6a4-be7f 4026531836 ./app --x 1\n"
                                                          "9743 1   6472 GPU-cb1213a3 4026531836\n");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].pid, 9741);
    EXPECT_EQ(rows[0].id, 0);
    EXPECT_EQ(rows[0].server_pid, 6472);
    EXPECT_EQ(rows[0].device, "GPU-cb1213a3-d6a4-be7f");
    EXPECT_EQ(rows[0].name_space, "4026531836");
    EXPECT_EQ(rows[0].command, "./app --x 1");
    EXPECT_EQ(rows[1].server_pid, 6472);
    EXPECT_EQ(rows[1].command, "");
    EXPECT_NE(test::error_of([] { parse_mps_ps("9741 0 6472\n"); }).find("PID ID SERVER"), std::string::npos);
    EXPECT_NE(test::error_of([] { parse_mps_ps("x 0 6472 GPU-a 1 cmd\n"); }).find("PID"), std::string::npos);
}

TEST(gpu_inventory, nvidia_smi_csv_parses) {
    const std::vector<gpu_info> gpus = parse_nvidia_smi_csv("0, GPU-8f7d1a2b, NVIDIA A100-SXM4-80GB, 81920 MiB\n"
                                                            "1, GPU-11112222, NVIDIA A10G, 23028 MiB\n"
                                                            "\n"
                                                            "2, GPU-33334444, NVIDIA L4, 23034\n");
    ASSERT_EQ(gpus.size(), 3u);
    EXPECT_EQ(gpus[0].index, 0);
    EXPECT_EQ(gpus[0].uuid, "GPU-8f7d1a2b");
    EXPECT_EQ(gpus[0].name, "NVIDIA A100-SXM4-80GB");
    EXPECT_EQ(gpus[0].memory_total_mib, 81920);
    EXPECT_EQ(gpus[0].type, "A100-80GB");
    EXPECT_EQ(gpus[1].type, "A10G");
    EXPECT_EQ(gpus[2].memory_total_mib, 23034) << "the unit is optional (nounits)";
    EXPECT_EQ(gpus[2].type, "L4");
    std::string e = test::error_of([] { parse_nvidia_smi_csv("0, GPU-a, NVIDIA A10G\n"); });
    EXPECT_NE(e.find("line 1"), std::string::npos) << e;
    EXPECT_NE(e.find("3 fields"), std::string::npos) << e;
    e = test::error_of([] { parse_nvidia_smi_csv("0, GPU-a, NVIDIA A10G, [N/A]\n"); });
    EXPECT_NE(e.find("memory.total"), std::string::npos) << e;
    EXPECT_TRUE(parse_nvidia_smi_csv("").empty());
}

TEST(gpu_inventory, names_map_to_the_planners_gpu_types) {
    EXPECT_EQ(gpu_type_of("NVIDIA A100-SXM4-40GB", 40960), "A100-40GB");
    EXPECT_EQ(gpu_type_of("NVIDIA A100 80GB PCIe", 81920), "A100-80GB");
    EXPECT_EQ(gpu_type_of("NVIDIA H100 80GB HBM3", 81559), "H100-SXM");
    EXPECT_EQ(gpu_type_of("NVIDIA H100 PCIe", 81559), "H100-PCIe");
    EXPECT_EQ(gpu_type_of("NVIDIA H100 NVL", 95830), "H100-NVL");
    EXPECT_EQ(gpu_type_of("NVIDIA H200", 143771), "H200");
    EXPECT_EQ(gpu_type_of("NVIDIA L40S", 46068), "L40S");
    EXPECT_EQ(gpu_type_of("NVIDIA L4", 23034), "L4");
    EXPECT_EQ(gpu_type_of("NVIDIA A10G", 23028), "A10G");
    EXPECT_EQ(gpu_type_of("Tesla T4", 15360), "Tesla-T4") << "unknown: the name itself";
}

TEST(gpu_inventory, gpus_flag_selects_by_index) {
    const std::vector<gpu_info> gpus = parse_nvidia_smi_csv("0, GPU-a, NVIDIA L4, 23034\n1, GPU-b, NVIDIA L4, 23034\n");
    EXPECT_EQ(select_gpus(gpus, "1")[0].uuid, "GPU-b");
    EXPECT_EQ(select_gpus(gpus, "all").size(), 2u);
    EXPECT_EQ(select_gpus(gpus, "1,0")[1].uuid, "GPU-a") << "in the order given";
    std::string e = test::error_of([&] { select_gpus(gpus, "0,2"); });
    EXPECT_NE(e.find("no GPU 2"), std::string::npos) << e;
    EXPECT_NE(e.find("GPUs: 0,1"), std::string::npos) << e;
    EXPECT_NE(test::error_of([&] { select_gpus(gpus, "0,0"); }).find("twice"), std::string::npos);
    EXPECT_NE(test::error_of([&] { select_gpus(gpus, "zero"); }).find("comma-separated"), std::string::npos);
    EXPECT_EQ(describe_host({gpus, ""}), "2× L4 (GPU 0: NVIDIA L4, 23034 MiB; GPU 1: NVIDIA L4, 23034 MiB)");
    EXPECT_EQ(describe_host({{}, "nvidia-smi not found on PATH"}), "no NVIDIA GPU (nvidia-smi not found on PATH)");
}

} // namespace
} // namespace llmfleet::fleet
