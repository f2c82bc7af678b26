// What `serve` decides before anything starts: plan.json's GPU entries and deployments, the plan matched against
// this host's GPUs (a clear error for GPU types the host lacks), the engines' layout (names, ports, command lines,
// GPU domains) and the checks of serve's options.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "common/text.h"
#include "fleet/fleet_layout.h"
#include "fleet/fleet_plan.h"
#include "fleet/serve_setup.h"
#include "tests/serve/e2e_support.h"

namespace llmfleet::fleet {
namespace {

const std::string tag = "test_fleet_plan";

gpu_info gpu(int32_t index, const std::string& name, int64_t mib) {
    return {index, "GPU-" + std::to_string(index) + "aaaa", name, mib, gpu_type_of(name, mib)};
}

bool has_args(const std::vector<std::string>& args, const std::vector<std::string>& seq) {
    return std::search(args.begin(), args.end(), seq.begin(), seq.end()) != args.end();
}

constexpr std::string_view plan_with_deployments = R"({
  "status": "optimal",
  "gpus": [
    {"name": "A10G", "count": 2, "price_usd_per_hour": 1.0},
    {"name": "H100-SXM tp2 ×3 engines", "count": 2, "deployment": {"gpu": "H100-SXM", "tp": 2, "engines_per_gpu": 3}},
    {"name": "L4", "count": 0}
  ]
})";

TEST(fleet_plan, gpu_entries_and_deployments_parse) {
    const std::vector<plan_gpu_entry> e = parse_plan_gpus(plan_with_deployments, "plan.json");
    ASSERT_EQ(e.size(), 2u) << "count 0 entries are dropped";
    EXPECT_EQ(e[0].type, "A10G");
    EXPECT_EQ(e[0].pool, "A10G");
    EXPECT_EQ(e[0].count, 2);
    EXPECT_EQ(e[1].pool, "H100-SXM tp2 ×3 engines") << "a joint plan's pool is the entry's name";
    EXPECT_EQ(e[1].type, "H100-SXM") << "and its GPU type the deployment's gpu";
    EXPECT_EQ(e[0].deployment.tp, 1) << "no deployment: tp = pp = engines_per_gpu = 1";
    EXPECT_EQ(e[0].deployment.engines_per_gpu, 1);
    EXPECT_EQ(e[1].deployment.tp, 2);
    EXPECT_EQ(e[1].deployment.pp, 1);
    EXPECT_EQ(e[1].deployment.engines_per_gpu, 3);
    EXPECT_EQ(e[1].deployment.gpus_per_engine(), 2);
}

TEST(fleet_plan, bad_entries_name_the_field) {
    std::string e = test::error_of(
        [] { parse_plan_gpus(R"({"gpus":[{"name":"A10G","count":1,"deployment":{"tp":0}}]})", "p.json"); });
    EXPECT_NE(e.find("p.json gpus[0].deployment.tp"), std::string::npos) << e;
    EXPECT_NE(e.find("≥ 1"), std::string::npos) << e;
    e = test::error_of(
        [] { parse_plan_gpus(R"({"gpus":[{"name":"A10G","count":1,"deployment":{"gpu":""}}]})", "p.json"); });
    EXPECT_NE(e.find("p.json gpus[0].deployment.gpu: expected a GPU type name"), std::string::npos) << e;
    e = test::error_of(
        [] { parse_plan_gpus(R"({"gpus":[{"name":"A10G","count":1,"deployment":{"ep":2}}]})", "p.json"); });
    EXPECT_NE(e.find("unknown key `ep`"), std::string::npos) << e;
    e = test::error_of([] { parse_plan_gpus(R"({"status":"infeasible","gpus":[]})", "p.json"); });
    EXPECT_NE(e.find("no solution"), std::string::npos) << e;
    e = test::error_of([] { parse_plan_gpus(R"({"gpus":[{"name":"A10G","count":0}]})", "p.json"); });
    EXPECT_NE(e.find("buys no GPU"), std::string::npos) << e;
}

TEST(fleet_plan, matches_the_hosts_gpus_by_type) {
    const auto plan = parse_plan_gpus(plan_with_deployments, "plan.json");
    const std::vector<gpu_info> host = {gpu(0, "NVIDIA A10G", 23028), gpu(1, "NVIDIA H100 80GB HBM3", 81559),
                                        gpu(2, "NVIDIA H100 80GB HBM3", 81559), gpu(3, "NVIDIA H100 80GB HBM3", 81559),
                                        gpu(4, "NVIDIA A10G", 23028)};
    const std::vector<pool_request> pools = match_plan_to_host(plan, host, "(host)", "plan.json");
    ASSERT_EQ(pools.size(), 2u);
    EXPECT_EQ(pools[0].name, "A10G");
    ASSERT_EQ(pools[0].gpus.size(), 2u);
    EXPECT_EQ(pools[0].gpus[1].index, 4);
    EXPECT_EQ(pools[0].n_engines(), 2);
    EXPECT_EQ(pools[1].name, "H100-SXM tp2 ×3 engines");
    EXPECT_EQ(pools[1].gpus.size(), 2u) << "3 H100s make one whole tp-2 engine group; the third stays idle";
    EXPECT_EQ(pools[1].n_engines(), 3) << "one 2-GPU group × 3 engines";
}

TEST(fleet_plan, a_plan_for_gpus_this_host_lacks_is_a_clear_error) {
    const auto plan = parse_plan_gpus(plan_with_deployments, "plan.json");
    const std::vector<gpu_info> host = {gpu(0, "NVIDIA A10G", 23028)};
    const std::string e = test::error_of([&] { match_plan_to_host(plan, host, "1× A10G (GPU 0)", "plan.json"); });
    EXPECT_NE(e.find("plan.json wants 2× A10G, 4× H100-SXM (tp 2 × pp 1 per engine)"), std::string::npos) << e;
    EXPECT_NE(e.find("this host has 1× A10G (GPU 0)"), std::string::npos) << e;
    EXPECT_NE(e.find("cannot serve H100-SXM tp2 ×3 engines (H100-SXM)"), std::string::npos) << e;
}

// Two pools of one GPU type (a joint plan: plain and two engines per GPU) take disjoint GPUs, count × tp·pp each.
TEST(fleet_plan, pools_of_one_gpu_type_take_disjoint_gpus) {
    const auto plan = parse_plan_gpus(R"({"gpus": [
        {"name": "L4", "count": 1},
        {"name": "L4 ×2 engines", "count": 2, "deployment": {"gpu": "L4", "tp": 1, "pp": 1, "engines_per_gpu": 2}}]})",
                                      "plan.json");
    const std::vector<gpu_info> host = {gpu(0, "NVIDIA L4", 23034), gpu(1, "NVIDIA L4", 23034),
                                        gpu(2, "NVIDIA L4", 23034), gpu(3, "NVIDIA L4", 23034)};
    const std::vector<pool_request> pools = match_plan_to_host(plan, host, "(host)", "plan.json");
    ASSERT_EQ(pools.size(), 2u);
    ASSERT_EQ(pools[0].gpus.size(), 1u);
    EXPECT_EQ(pools[0].gpus[0].index, 0);
    ASSERT_EQ(pools[1].gpus.size(), 2u);
    EXPECT_EQ(pools[1].gpus[0].index, 1);
    EXPECT_EQ(pools[1].gpus[1].index, 2);
    EXPECT_EQ(pools[1].n_engines(), 4);
}

TEST(fleet_layout, cpu_engines_get_names_ports_and_command_lines) {
    layout_options o;
    o.program = "/bin/llmfleet";
    o.engine_args = {"--model", "/m"};
    o.ports = {9001, 9002};
    o.run_dir = "/run/x";
    o.threads_per_engine = 3;
    o.per_pool = {{{"--kv-cache-gib", "0.5"}, {}}};
    const fleet_layout l = make_layout({pool_request{"cpu", {}, {}, 2}}, o);
    ASSERT_EQ(l.engines.size(), 2u);
    EXPECT_TRUE(l.domains.empty());
    EXPECT_EQ(l.engines[1].name, "cpu-1");
    EXPECT_EQ(l.engines[1].domain, -1);
    EXPECT_EQ(l.engines[1].endpoint.port, 9002);
    EXPECT_EQ(l.engines[1].process.program, "/bin/llmfleet");
    const auto& args = l.engines[1].process.args;
    EXPECT_EQ(args.front(), "engine");
    EXPECT_TRUE(has_args(args, {"--model", "/m"}));
    EXPECT_TRUE(has_args(args, {"--kv-cache-gib", "0.5"}));
    EXPECT_TRUE(has_args(args, {"--threads", "3"}));
    EXPECT_TRUE(has_args(args, {"--host", "127.0.0.1", "--port", "9002"}));
    EXPECT_EQ(l.engines[1].process.log_path, "/run/x/cpu-1.log");
    EXPECT_NE(test::error_of([&] {
                  layout_options short_ports = o;
                  short_ports.ports = {9001};
                  make_layout({pool_request{"cpu", {}, {}, 2}}, short_ports);
              }).find("1 ports for 2 engines"),
              std::string::npos);
}

TEST(fleet_layout, gpu_engines_share_their_domain_and_its_mps_directories) {
    layout_options o;
    o.program = "/bin/llmfleet";
    o.ports = {1, 2, 3, 4};
    o.run_dir = "/r";
    o.mps = true;
    pool_request p{"L4", {gpu(0, "NVIDIA L4", 23034), gpu(1, "NVIDIA L4", 23034)}, {1, 1, 2}, 0};
    const fleet_layout l = make_layout({p}, o);
    ASSERT_EQ(l.domains.size(), 2u);
    ASSERT_EQ(l.engines.size(), 4u);
    EXPECT_EQ(l.engines[0].domain, 0);
    EXPECT_EQ(l.engines[1].domain, 0);
    EXPECT_EQ(l.engines[2].domain, 1);
    EXPECT_EQ(l.engines[3].name, "L4-3");
    EXPECT_EQ(l.domains[1].paths.pipe_dir, "/r/mps/GPU-1aaaa/pipe");
    EXPECT_EQ(l.domains[0].label(), "GPU 0 (GPU-0aaaa)");

    pool_request tp2{"L4", {gpu(0, "NVIDIA L4", 23034), gpu(1, "NVIDIA L4", 23034)}, {2, 1, 1}, 0};
    o.ports = {1};
    const fleet_layout t = make_layout({tp2}, o);
    ASSERT_EQ(t.domains.size(), 1u) << "a tp-2 engine spans both GPUs: one daemon for the pair";
    EXPECT_EQ(t.domains[0].uuids(), (std::vector<std::string>{"GPU-0aaaa", "GPU-1aaaa"}));
    EXPECT_TRUE(has_args(t.engines[0].process.args, {"--tp", "2", "--pp", "1"}));

    pool_request odd{
        "L4", {gpu(0, "NVIDIA L4", 23034), gpu(1, "NVIDIA L4", 23034), gpu(2, "NVIDIA L4", 23034)}, {2, 1, 1}, 0};
    const std::string e = test::error_of([&] { make_layout({odd}, o); });
    EXPECT_NE(e.find("3 GPUs do not split into engines of tp 2 × pp 1 = 2 GPUs"), std::string::npos) << e;
}

TEST(fleet_layout, engine_ports_are_free_and_distinct) {
    const std::vector<uint16_t> ports = pick_engine_ports(3, "127.0.0.1", 0);
    ASSERT_EQ(ports.size(), 3u);
    EXPECT_NE(ports[0], ports[1]);
    EXPECT_NE(ports[1], ports[2]);
    EXPECT_NE(ports[0], 0);
    // A port somebody else listens on.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    const int busy = ntohs(addr.sin_port);
    const std::string e = test::error_of([&] { pick_engine_ports(2, "127.0.0.1", static_cast<uint16_t>(busy - 1)); });
    ::close(fd);
    EXPECT_NE(e.find("engine port " + std::to_string(busy) + " on 127.0.0.1 is not free"), std::string::npos) << e;
    EXPECT_NE(e.find("--engine-base-port"), std::string::npos) << e;
}

serve_options cpu_options() {
    serve_options o;
    o.model_dir = test::tiny_model_dir(tag);
    return o;
}

TEST(serve_setup, cpu_engines_with_the_hosts_threads_shared) {
    serve_options o = cpu_options();
    o.n_cpu_engines = 2;
    o.kv_cache_gib = 0.25;
    o.threads_per_engine = 2;
    o.engine_args = {"--max-model-len", "64"};
    const serve_setup s = prepare_serve(o, {{}, "nvidia-smi not found on PATH"}, "/bin/llmfleet", "/run/t");
    ASSERT_EQ(s.layout.engines.size(), 2u);
    ASSERT_EQ(s.router_pools.size(), 1u);
    EXPECT_EQ(s.router_pools[0].name, "cpu");
    EXPECT_EQ(s.router_pools[0].backends[1], s.layout.engines[1].endpoint);
    EXPECT_EQ(s.table, nullptr);
    EXPECT_EQ(s.mps_description, "not applicable (CPU engines)");
    const auto& args = s.layout.engines[0].process.args;
    EXPECT_TRUE(has_args(args, {"--kv-cache-gib", "0.25", "--max-model-len", "64"}));
    EXPECT_TRUE(has_args(args, {"--threads", "2"}));
}

TEST(serve_setup, gpu_engines_get_a_kv_budget_and_mps_limits) {
    serve_options o = cpu_options();
    o.engines_per_gpu = 2;
    o.mps = "on";
    const gpu_detection host{{gpu(0, "NVIDIA A10G", 23028), gpu(1, "NVIDIA L4", 23034)}, ""};
    const serve_setup s = prepare_serve(o, host, "/bin/llmfleet", "/tmp/lf");
    ASSERT_EQ(s.layout.engines.size(), 4u);
    ASSERT_EQ(s.router_pools.size(), 2u) << "one pool per GPU type";
    EXPECT_EQ(s.router_pools[1].name, "L4");
    EXPECT_EQ(s.supervisor.mps, mps_mode::on);
    EXPECT_EQ(s.mps_description, "on (2 GPU domains)");
    const engine_slot& e = s.layout.engines[0];
    EXPECT_EQ(e.limits.pinned_mem_limit_mib, 10362) << "23028 MiB × 0.9 / 2";
    EXPECT_EQ(e.limits.active_thread_percentage, 100);
    const double kv =
        parse_double(*(std::find(e.process.args.begin(), e.process.args.end(), "--kv-cache-gib") + 1), "kv");
    EXPECT_NEAR(kv, 10362.0 / 1024 - 1.0, 0.01) << "the share minus the reserve (the tiny model's weights are ~0)";

    o.kv_cache_gib = 50;
    const std::string e2 = test::error_of([&] { prepare_serve(o, host, "/bin/llmfleet", "/tmp/lf"); });
    EXPECT_NE(e2.find("--kv-cache-gib 50: pool A10G has room for"), std::string::npos) << e2;
}

TEST(serve_setup, bad_options_are_refused_with_the_flag) {
    const gpu_detection no_gpu{{}, "nvidia-smi not found on PATH"};
    serve_options o = cpu_options();
    o.n_cpu_engines = 0;
    EXPECT_NE(test::error_of([&] { prepare_serve(o, no_gpu, "x", "/r"); }).find("--engines 0: expected ≥ 1 engine"),
              std::string::npos);
    o = cpu_options();
    o.mps = "on";
    std::string e = test::error_of([&] { prepare_serve(o, no_gpu, "x", "/r"); });
    EXPECT_NE(e.find("--mps on: this host has no NVIDIA GPU (nvidia-smi not found on PATH)"), std::string::npos) << e;
    o.n_cpu_engines = 2;
    e = test::error_of([&] { prepare_serve(o, no_gpu, "x", "/r"); });
    EXPECT_NE(e.find("--mps on needs NVIDIA GPUs"), std::string::npos) << e;
    o = cpu_options();
    o.model_dir = "/nonexistent/model";
    e = test::error_of([&] { prepare_serve(o, no_gpu, "x", "/r"); });
    EXPECT_NE(e.find("--model /nonexistent/model: no such directory"), std::string::npos) << e;
    o = cpu_options();
    o.gpus = "0";
    EXPECT_NE(
        test::error_of([&] { prepare_serve(o, no_gpu, "x", "/r"); }).find("--gpus 0: this host has no NVIDIA GPU"),
        std::string::npos);
    o = cpu_options();
    o.mps = "maybe";
    EXPECT_NE(test::error_of([&] { prepare_serve(o, no_gpu, "x", "/r"); }).find("--mps maybe"), std::string::npos);
    o = cpu_options();
    o.plan_path = std::string(LLMFLEET_SOURCE_DIR) + "/tests/data/plan_two_pools.json";
    e = test::error_of([&] { prepare_serve(o, no_gpu, "x", "/r"); });
    EXPECT_NE(e.find("wants 1× A10G, 5× A100-80GB; this host has no NVIDIA GPU"), std::string::npos) << e;
    o.n_cpu_engines = 2;
    EXPECT_NE(test::error_of([&] { prepare_serve(o, no_gpu, "x", "/r"); }).find("--plan chooses the engines"),
              std::string::npos);
}

TEST(serve_setup, a_plan_starts_its_pools_with_its_routing_table) {
    serve_options o = cpu_options();
    o.plan_path = std::string(LLMFLEET_SOURCE_DIR) + "/tests/data/plan_two_pools.json";
    o.mps = "off";
    const gpu_detection host{{gpu(0, "NVIDIA A100-SXM4-80GB", 81920), gpu(1, "NVIDIA A10G", 23028)}, ""};
    const serve_setup s = prepare_serve(o, host, "/bin/llmfleet", "/r");
    ASSERT_NE(s.table, nullptr);
    ASSERT_EQ(s.router_pools.size(), 2u);
    EXPECT_EQ(s.router_pools[0].name, "A10G") << "plan order";
    EXPECT_EQ(s.router_pools[1].name, "A100-80GB");
    EXPECT_EQ(s.layout.engines.size(), 2u) << "the plan's 5 A100s: this host serves with its one";
    EXPECT_EQ(s.mps_description, "off");
    EXPECT_TRUE(s.layout.domains[0].paths.pipe_dir.empty()) << "no MPS directories with --mps off";
}

} // namespace
} // namespace llmfleet::fleet
