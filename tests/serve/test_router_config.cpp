// serve/router router_config: --pool flag parsing, the strict JSON config file, and the cross-checks against
// the routing table (missing pools, duplicates).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/text.h"
#include "serve/router/router_config.h"
#include "tests/test_support.h"

namespace llmfleet::serve {
namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(router_config, pool_flag) {
    const pool_config pool = parse_pool_flag("A10G=http://127.0.0.1:8001,127.0.0.1:8002/, http://[::1]:8003");
    EXPECT_EQ(pool.name, "A10G");
    ASSERT_EQ(pool.backends.size(), 3u);
    EXPECT_EQ(pool.backends[0], (http_endpoint{"127.0.0.1", 8001}));
    EXPECT_EQ(pool.backends[1], (http_endpoint{"127.0.0.1", 8002}));
    EXPECT_EQ(pool.backends[2], (http_endpoint{"::1", 8003}));
}

TEST(router_config, pool_flag_errors_show_the_expected_form) {
    for (const char* bad : {"A10G", "=http://127.0.0.1:8001", "A10G=", "A10G=http://127.0.0.1:8001,,127.0.0.1:2",
                            "A 10G=http://127.0.0.1:8001"}) {
        const std::string message = test::error_of([&] { parse_pool_flag(bad); });
        EXPECT_TRUE(contains(message, "NAME=URL[,URL...]")) << bad << ": " << message;
        EXPECT_TRUE(contains(message, std::string("`") + bad + "`")) << bad << ": " << message;
    }
    const std::string https = test::error_of([] { parse_pool_flag("A10G=https://10.0.0.1:8001"); });
    EXPECT_TRUE(contains(https, "--pool A10G: endpoint `https://10.0.0.1:8001`")) << https;
    const std::string port = test::error_of([] { parse_pool_flag("L4=127.0.0.1:99999"); });
    EXPECT_TRUE(contains(port, "--pool L4")) << port;
    EXPECT_TRUE(contains(port, "outside 1..65535")) << port;
}

TEST(router_config, json_config_resolves_the_table_against_the_config_directory) {
    const std::string text = R"({"pools": {"L4": ["http://127.0.0.1:8003"],
                                           "A10G": ["http://127.0.0.1:8001", "127.0.0.1:8002"]},
                                 "routing_table": "plans/plan.json"})";
    const router_file_config config = parse_router_config(text, "conf/router.json", "conf");
    ASSERT_EQ(config.pools.size(), 2u);
    EXPECT_EQ(config.pools[0].name, "A10G"); // sorted by name
    EXPECT_EQ(config.pools[0].backends, (std::vector<http_endpoint>{{"127.0.0.1", 8001}, {"127.0.0.1", 8002}}));
    EXPECT_EQ(config.pools[1].name, "L4");
    EXPECT_EQ(config.routing_table_path, "conf/plans/plan.json");
    EXPECT_EQ(parse_router_config(R"({"pools": {"A": ["h:1"]}, "routing_table": "/abs/plan.json"})", "r", "conf")
                  .routing_table_path,
              "/abs/plan.json");
    EXPECT_EQ(
        parse_router_config(R"({"pools": {"A": ["h:1"]}, "routing_table": "plan.json"})", "r", "").routing_table_path,
        "plan.json");
    EXPECT_TRUE(parse_router_config(R"({"pools": {"A": ["h:1"]}})", "r", "conf").routing_table_path.empty());
}

TEST(router_config, json_config_errors_name_the_field) {
    const auto error_for = [](const std::string& text) {
        return test::error_of([&] { parse_router_config(text, "router.json", "."); });
    };
    std::string m = error_for(R"({"pools": {"A": ["h:1"]}, "routing": "plan.json"})");
    EXPECT_TRUE(contains(m, "router.json: unknown key `routing`")) << m;
    EXPECT_TRUE(contains(m, "`pools` and `routing_table`")) << m;
    m = error_for(R"({"routing_table": "plan.json"})");
    EXPECT_TRUE(contains(m, "missing required field 'pools'")) << m;
    m = error_for(R"({"pools": {}})");
    EXPECT_TRUE(contains(m, "router.json pools: expected a non-empty object")) << m;
    m = error_for(R"({"pools": {"A10G": []}})");
    EXPECT_TRUE(contains(m, "router.json pools.A10G: expected a non-empty array")) << m;
    m = error_for(R"({"pools": {"A10G": ["h:1", "http://h/x"]}})");
    EXPECT_TRUE(contains(m, "router.json pools.A10G[1]: endpoint `http://h/x`")) << m;
    m = error_for(R"({"pools": {"A10G": ["h:1", 8002]}})");
    EXPECT_TRUE(contains(m, "router.json pools.A10G[1]: expected a string")) << m;
    m = error_for(R"({"pools": {"A10G": ["h:1"]}, "routing_table": 5})");
    EXPECT_TRUE(contains(m, "router.json routing_table: expected a string")) << m;
    m = error_for(R"({"pools": {"A10G": ["h:1"]}, "routing_table": ""})");
    EXPECT_TRUE(contains(m, "router.json routing_table: expected a path")) << m;
    m = error_for(R"(["A10G"])");
    EXPECT_TRUE(contains(m, "router.json: expected an object")) << m;
    m = error_for(R"({"pools": )");
    EXPECT_TRUE(contains(m, "router.json: malformed JSON")) << m;
}

routing_table fixture_table() {
    return routing_table::from_plan_json(
        read_file(std::string(LLMFLEET_SOURCE_DIR) + "/tests/data/plan_two_pools.json", "fixture"), "fixture");
}

TEST(router_config, cross_checks_against_the_table) {
    const routing_table table = fixture_table(); // routes to A10G and A100-80GB
    const pool_config a10g = parse_pool_flag("A10G=127.0.0.1:8001,127.0.0.1:8002");
    const pool_config a100 = parse_pool_flag("A100-80GB=127.0.0.1:8003");
    const pool_config l4 = parse_pool_flag("L4=127.0.0.1:8004");
    check_router_config({a10g, a100}, &table);
    check_router_config({a10g, a100, l4}, &table); // an unused pool only warns
    check_router_config({l4}, nullptr);            // no table: nothing to cross-check

    std::string m = test::error_of([&] { check_router_config({a10g, l4}, &table); });
    EXPECT_TRUE(contains(m, "routes to pool `A100-80GB`, which is not configured")) << m;
    EXPECT_TRUE(contains(m, "pools configured: A10G, L4")) << m;
    EXPECT_TRUE(contains(m, "hint: add --pool A100-80GB=")) << m;

    m = test::error_of([&] { check_router_config({a10g, a100, a10g}, &table); });
    EXPECT_TRUE(contains(m, "pool `A10G` is configured twice")) << m;

    m = test::error_of([&] {
        check_router_config({a10g, parse_pool_flag("A100-80GB=http://127.0.0.1:8002/")}, &table);
    });
    EXPECT_TRUE(contains(m, "endpoint 127.0.0.1:8002 is listed twice (pool `A10G` and pool `A100-80GB`)")) << m;
    m = test::error_of([&] { check_router_config({parse_pool_flag("L4=127.0.0.1:1,127.0.0.1:1")}, nullptr); });
    EXPECT_TRUE(contains(m, "endpoint 127.0.0.1:1 is listed twice")) << m;

    m = test::error_of([&] { check_router_config({}, &table); });
    EXPECT_TRUE(contains(m, "no pools configured")) << m;
    m = test::error_of([&] { check_router_config({pool_config{"A10G", {}}}, nullptr); });
    EXPECT_TRUE(contains(m, "pool `A10G` has no engine endpoints")) << m;
}

} // namespace
} // namespace llmfleet::serve
