// `llmfleet router` in front of fixed-reply backends (bench/e2e/fixed_backend, real processes): each policy's
// distribution, least-tokens vs least-requests on a load they disagree on, retries of 5xx, the circuit breaker's
// 429, and size-aware routing that follows a plan's routing table, learns output lengths, and falls back (with a
// metric) when a pool is down. Which backend and pool answered is read from x-llmfleet-backend / x-llmfleet-pool.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "serve/http/http_client.h"
#include "tests/serve/e2e_support.h"

namespace llmfleet {
namespace {

const std::string tag = "test_router_routing_e2e";
using serve::http_client;

bool fixtures_built() {
    return std::filesystem::exists(std::string(LLMFLEET_BINARY_DIR) + "/bin/fixed_backend");
}

struct backend_process : test::server_process {
    explicit backend_process(const std::string& args)
        : test::server_process(tag, "--port 0 " + args, "fixed_backend") {}
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port); }
};

struct router_process : test::server_process {
    explicit router_process(const std::string& args) : test::server_process(tag, "router --port 0 " + args) {}
};

struct reply {
    int status = 0;
    std::string body;
    std::string backend; // x-llmfleet-backend
    std::string pool;    // x-llmfleet-pool
};

reply post(http_client& client, int port, const std::string& body, const std::string& path = "/v1/completions") {
    const serve::http_client_result r =
        client.fetch({"127.0.0.1", static_cast<uint16_t>(port)},
                     {"POST", path, {{"content-type", "application/json"}}, body}, std::chrono::seconds(20));
    EXPECT_EQ(r.error, serve::http_client_error::ok) << r.detail;
    return {r.status, r.body, r.headers.get("x-llmfleet-backend"), r.headers.get("x-llmfleet-pool")};
}

std::string get(http_client& client, int port, const std::string& path) {
    return client.fetch({"127.0.0.1", static_cast<uint16_t>(port)}, {"GET", path, {}, ""}).body;
}

std::string label(const backend_process& b) {
    return "127.0.0.1:" + std::to_string(b.port);
}

// Waits until the router's /metrics has `name` at `value` (the health checker runs in the background).
bool wait_for_metric(http_client& client, int port, const std::string& name, double value) {
    for (int i = 0; i < 200; ++i) {
        if (test::metric(get(client, port, "/metrics"), name) == value) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
}

class router_routing_e2e : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fixtures_built()) {
            GTEST_SKIP() << "bench/e2e/fixed_backend is not built (LLMFLEET_BUILD_BENCH=OFF)";
        }
    }
    http_client client;
};

TEST_F(router_routing_e2e, round_robin_is_exact_and_skips_a_failing_backend) {
    backend_process a("--name a"), b("--name b"), c("--name c");
    router_process router("--policy round-robin --backend " + a.endpoint() + " --backend " + b.endpoint() +
                          " --backend " + c.endpoint());
    ASSERT_GT(router.port, 0);
    std::map<std::string, int> count;
    for (int i = 0; i < 300; ++i) {
        const reply r = post(client, router.port, R"({"prompt":[1,2,3],"max_tokens":4})");
        ASSERT_EQ(r.status, 200) << r.body;
        ++count[r.backend];
    }
    EXPECT_EQ(count[label(a)], 100);
    EXPECT_EQ(count[label(b)], 100);
    EXPECT_EQ(count[label(c)], 100);
}

TEST_F(router_routing_e2e, a_5xx_is_retried_on_another_backend_and_counts_against_the_backend) {
    backend_process good("--name good"), bad("--name bad --status 500");
    router_process router("--policy round-robin --eject-after 1000 --backend " + good.endpoint() + " --backend " +
                          bad.endpoint());
    ASSERT_GT(router.port, 0);
    for (int i = 0; i < 20; ++i) {
        const reply r = post(client, router.port, R"({"prompt":[1],"max_tokens":4})");
        EXPECT_EQ(r.status, 200) << "retried on the good backend: " << r.body;
        EXPECT_EQ(r.backend, label(good));
    }
    const std::string m = get(client, router.port, "/metrics");
    EXPECT_EQ(test::metric(m, "llmfleet_router_retries_total{reason=\"status 500\"}"), 10) << m;
    EXPECT_EQ(
        test::metric(m, "llmfleet_router_backend_failures_total{pool=\"default\",backend=\"" + label(bad) + "\"}"), 10);
}

TEST_F(router_routing_e2e, every_backend_failing_passes_the_last_answer_on) {
    backend_process bad1("--name x --status 503"), bad2("--name y --status 503");
    router_process router("--max-attempts 2 --eject-after 1000 --backend " + bad1.endpoint() + " --backend " +
                          bad2.endpoint());
    ASSERT_GT(router.port, 0);
    const reply r = post(client, router.port, R"({"prompt":[1],"max_tokens":4})");
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("fixed backend"), std::string::npos) << "the backend's own error: " << r.body;
}

// A stream with a 2000-token prompt holds backend X, then a stream with a 1-token prompt holds backend Y (both
// policies: Y has nothing in flight). The next request: least-tokens picks Y (17 < 2016 tokens in flight);
// least-requests sees a tie (1 and 1) and rotates, which after picking Y means X.
TEST_F(router_routing_e2e, least_tokens_and_least_requests_disagree_as_they_should) {
    for (const std::string policy : {"least-requests", "least-tokens"}) {
        backend_process a("--name a --first-token-delay-ms 5000"), b("--name b --first-token-delay-ms 5000");
        router_process router("--policy " + policy + " --backend " + a.endpoint() + " --backend " + b.endpoint());
        ASSERT_GT(router.port, 0);
        std::string big = "[";
        for (int i = 0; i < 2000; ++i) {
            big += (i ? "," : "") + std::to_string(i % 100 + 1);
        }
        big += "]";
        std::vector<int> held;
        held.push_back(test::send_request(router.port, R"({"prompt":)" + big + R"(,"max_tokens":16,"stream":true})"));
        ASSERT_TRUE(
            wait_for_metric(client, router.port, "llmfleet_router_pool_outstanding_requests{pool=\"default\"}", 1));
        const std::string metrics = get(client, router.port, "/metrics");
        const bool big_on_a = test::metric(metrics, "llmfleet_router_backend_outstanding_requests{pool=\"default\","
                                                    "backend=\"" +
                                                        label(a) + "\"}") == 1;
        const std::string x = big_on_a ? label(a) : label(b);
        const std::string y = big_on_a ? label(b) : label(a);
        EXPECT_EQ(
            test::metric(metrics, "llmfleet_router_backend_outstanding_tokens{pool=\"default\",backend=\"" + x + "\"}"),
            2016)
            << "prompt + max_tokens (the predictor's guess capped by max_tokens)";
        held.push_back(test::send_request(router.port, R"({"prompt":[1],"max_tokens":16,"stream":true})"));
        ASSERT_TRUE(
            wait_for_metric(client, router.port, "llmfleet_router_pool_outstanding_requests{pool=\"default\"}", 2));
        ASSERT_EQ(test::metric(get(client, router.port, "/metrics"),
                               "llmfleet_router_backend_outstanding_tokens{pool=\"default\",backend=\"" + y + "\"}"),
                  17)
            << policy;
        const reply r = post(client, router.port, R"({"prompt":[1],"max_tokens":16})");
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.backend, policy == "least-requests" ? x : y) << policy;
        for (const int fd : held) {
            close(fd);
        }
    }
}

TEST_F(router_routing_e2e, the_circuit_breaker_answers_429_when_every_backend_is_full) {
    backend_process a("--name a --first-token-delay-ms 5000");
    router_process router("--max-outstanding-per-backend 1 --backend " + a.endpoint());
    ASSERT_GT(router.port, 0);
    const int fd = test::send_request(router.port, R"({"prompt":[1],"max_tokens":16,"stream":true})");
    ASSERT_TRUE(wait_for_metric(client, router.port, "llmfleet_router_pool_outstanding_requests{pool=\"default\"}", 1));
    const test::http_reply r = test::curl(tag, "POST", router.url("/v1/completions"), R"({"prompt":[1]})");
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_NE(r.headers.find("retry-after:"), std::string::npos) << r.headers;
    EXPECT_NE(r.body.find("max-outstanding-per-backend"), std::string::npos) << r.body;
    close(fd);
}

// A 2 × 2 plan: input edges [1, 100, 10000), output edges [1, 64, 4096). Short in / short out → "small";
// short in / long out and long in / short out → "large"; long / long split 50/50.
std::string two_pool_plan() {
    const auto route = [](const char* gpu, double share) { return nlohmann::json{{"gpu", gpu}, {"share", share}}; };
    const auto bucket = [](int i, int o, nlohmann::json routes) {
        const int in_edges[] = {1, 100, 10000};
        const int out_edges[] = {1, 64, 4096};
        return nlohmann::json{{"input_bucket", i},
                              {"output_bucket", o},
                              {"input_tokens", {in_edges[i], in_edges[i + 1]}},
                              {"output_tokens", {out_edges[o], out_edges[o + 1]}},
                              {"rate_rps", 1.0},
                              {"routes", std::move(routes)}};
    };
    nlohmann::json plan = {
        {"schema", "llmfleet.plan.v1"},
        {"status", "optimal"},
        {"inputs", {{"input_edges", {1, 100, 10000}}, {"output_edges", {1, 64, 4096}}}},
        {"buckets",
         {bucket(0, 0, {route("small", 1.0)}), bucket(0, 1, {route("large", 1.0)}), bucket(1, 0, {route("large", 1.0)}),
          bucket(1, 1, {route("small", 0.5), route("large", 0.5)})}}};
    return test::write_temp(tag, "plan.json", plan.dump(2));
}

std::string ids(int n) {
    std::string s = "[";
    for (int i = 0; i < n; ++i) {
        s += (i ? "," : "") + std::to_string(i % 50 + 1);
    }
    return s + "]";
}

// The backends answer 1000 tokens and the predictor starts at 1000, so every prediction is 1000 capped by the
// request's max_tokens: the bucket is set by the request alone.
TEST_F(router_routing_e2e, size_aware_routing_follows_the_plan) {
    backend_process small("--name s --reply-tokens 1000"), large("--name l --reply-tokens 1000");
    router_process router("--routing-table " + two_pool_plan() + " --default-output-tokens 1000 --pool small=" +
                          small.endpoint() + " --pool large=" + large.endpoint());
    ASSERT_GT(router.port, 0);
    const auto pool_of = [&](int n_in, int max_tokens) {
        return post(client, router.port,
                    R"({"prompt":)" + ids(n_in) + R"(,"max_tokens":)" + std::to_string(max_tokens) + "}")
            .pool;
    };
    EXPECT_EQ(pool_of(10, 10), "small") << "bucket (0, 0)";
    EXPECT_EQ(pool_of(10, 500), "large") << "bucket (0, 1)";
    EXPECT_EQ(pool_of(500, 10), "large") << "bucket (1, 0)";
    std::map<std::string, int> split;
    for (int i = 0; i < 100; ++i) {
        ++split[pool_of(5000, 3000)];
    }
    EXPECT_EQ(split["small"], 50) << "bucket (1, 1): smooth weighted round-robin splits exactly";
    EXPECT_EQ(split["large"], 50);
    const std::string m = get(client, router.port, "/metrics");
    EXPECT_EQ(test::metric(m, "llmfleet_router_routed_total{input_bucket=\"1\",output_bucket=\"1\",pool=\"small\"}"),
              50)
        << m;
    EXPECT_EQ(test::metric(m, "llmfleet_router_routed_total{input_bucket=\"0\",output_bucket=\"0\",pool=\"small\"}"),
              1);
    EXPECT_EQ(test::metric(m, "llmfleet_router_predictor_observations_total"), 103);
    EXPECT_EQ(test::metric(m, "llmfleet_router_fallbacks_total{from=\"small\",to=\"large\"}"), -1) << "none";
}

// Chat requests without max_tokens: the first is predicted at the default (1000 → long-output bucket → large);
// once the backends' 16-token answers are observed, the same request is predicted short (→ small).
TEST_F(router_routing_e2e, the_output_length_predictor_learns_from_answers) {
    backend_process small("--name s --reply-tokens 16"), large("--name l --reply-tokens 16");
    router_process router("--routing-table " + two_pool_plan() + " --default-output-tokens 1000 --pool small=" +
                          small.endpoint() + " --pool large=" + large.endpoint());
    ASSERT_GT(router.port, 0);
    const std::string chat = R"({"messages":[{"role":"user","content":"hello there"}]})";
    EXPECT_EQ(post(client, router.port, chat, "/v1/chat/completions").pool, "large");
    EXPECT_EQ(post(client, router.port, chat, "/v1/chat/completions").pool, "small");
    const std::string m = get(client, router.port, "/metrics");
    EXPECT_EQ(test::metric(m, "llmfleet_router_predictor_observations_total"), 2) << m;
    EXPECT_EQ(test::metric(m, "llmfleet_router_predictor_bucket_hit_ratio"), 0.5) << "the first guess was wrong";
    EXPECT_EQ(test::metric(m, "llmfleet_router_predictor_mean_abs_error_tokens"), (1000 - 16) / 2.0);
}

TEST_F(router_routing_e2e, a_pool_that_is_down_falls_back_with_a_metric_never_a_drop) {
    backend_process large("--name l");
    std::string small_endpoint;
    {
        backend_process small("--name s");
        small_endpoint = small.endpoint();
    } // stopped: nothing listens there now
    router_process router("--routing-table " + two_pool_plan() + " --pool small=" + small_endpoint +
                          " --pool large=" + large.endpoint());
    ASSERT_GT(router.port, 0);
    for (int i = 0; i < 5; ++i) {
        const reply r = post(client, router.port, R"({"prompt":[1,2,3],"max_tokens":8})");
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.pool, "large");
    }
    const std::string m = get(client, router.port, "/metrics");
    EXPECT_EQ(test::metric(m, "llmfleet_router_fallbacks_total{from=\"small\",to=\"large\"}"), 5) << m;
    EXPECT_EQ(test::metric(m, "llmfleet_router_pool_backends_up{pool=\"small\"}"), 0);
    EXPECT_NE(router.stderr_text().find("served by pool large"), std::string::npos) << "a warning, not silence";
}

} // namespace
} // namespace llmfleet
