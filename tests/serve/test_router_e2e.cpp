// `llmfleet router` in front of real `llmfleet engine` processes on a tiny random model: the official OpenAI Node
// client through the router, every error status at the HTTP level, and kill -9 of one engine under load (no
// non-streamed request lost, the stream on the dead engine ends with an error event, the engine is ejected, and
// re-admitted once it is back on its port).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "serve/http/http_client.h"
#include "tests/serve/completion_load.h"
#include "tests/serve/e2e_support.h"

namespace llmfleet {
namespace {

const std::string tag = "test_router_e2e";

std::string model_dir() {
    return test::tiny_model_dir(tag);
}

struct engine_process : test::server_process {
    explicit engine_process(const std::string& args = "", int port_flag = 0)
        : test::server_process(tag,
                               "engine --port " + std::to_string(port_flag) + " --model " + model_dir() + " " + args) {}
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port); }
};

struct router_process : test::server_process {
    explicit router_process(const std::string& args) : test::server_process(tag, "router --port 0 " + args) {}
};

test::http_reply curl(const std::string& method, const std::string& url, const std::string& body,
                      const std::string& extra = "") {
    return test::curl(tag, method, url, body, extra);
}

// The router learns model ids from its backends' /v1/models in the background: wait for them.
bool wait_for_models(const router_process& router, const std::string& extra = "") {
    for (int i = 0; i < 200; ++i) {
        if (curl("GET", router.url("/v1/models"), "", extra).body.find("\"id\"") != std::string::npos) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
}

TEST(router_e2e, official_openai_client_through_the_router) {
    if (!test::openai_client_available()) {
        GTEST_SKIP() << "node or tests/reference/node_modules/openai missing: run scripts/setup.sh --test";
    }
    engine_process a("--served-model-name tiny"), b("--served-model-name tiny");
    router_process router("--api-key sekret --backend " + a.endpoint() + " --backend " + b.endpoint());
    ASSERT_GT(router.port, 0);
    ASSERT_TRUE(wait_for_models(router, "-H 'Authorization: Bearer sekret'"));
    test::expect_openai_client_works(tag, router.url("/v1"), "tiny", "sekret");
    EXPECT_EQ(router.stop(), 0) << "SIGTERM → graceful exit 0";
}

TEST(router_e2e, error_statuses) {
    engine_process engine("--served-model-name tiny --max-model-len 64");
    router_process router(
        "--api-key sekret --max-body-bytes 4096 --eject-after 1 --health-interval-ms 60000 --backend " +
        engine.endpoint());
    ASSERT_GT(router.port, 0);
    const std::string key = "-H 'Authorization: Bearer sekret'";
    ASSERT_TRUE(wait_for_models(router, key));
    const std::string url = router.url("/v1/completions");
    EXPECT_EQ(curl("POST", url, R"({"prompt":"hi","max_tokens":1})").status, 401);
    test::http_reply r = curl("POST", url, R"({"prompt":"hi","max_tokens":2})", key);
    EXPECT_EQ(r.status, 200) << r.body;
    r = curl("POST", url, R"({"prompt": "hi", )", key);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("\"type\":\"invalid_request_error\""), std::string::npos) << r.body;
    r = curl("POST", url, R"({"prompt":"hi","max_tokens":"many"})", key);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("\"param\":\"max_tokens\""), std::string::npos) << r.body;
    EXPECT_EQ(curl("POST", url, "{\"prompt\":\"\xff\xfe\"}", key).status, 400) << "invalid UTF-8";
    r = curl("POST", url, R"({"model":"gpt-9","prompt":"hi"})", key);
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.body.find("model_not_found"), std::string::npos) << r.body;
    std::string long_prompt = "[";
    for (int i = 0; i < 80; ++i) {
        long_prompt += (i ? "," : "") + std::to_string(i + 1);
    }
    r = curl("POST", url, R"({"prompt":)" + long_prompt + "]}", key);
    EXPECT_EQ(r.status, 400) << "the engine's error passes through unchanged";
    EXPECT_NE(r.body.find("context_length_exceeded"), std::string::npos) << r.body;
    EXPECT_EQ(curl("POST", url, "{\"prompt\":\"" + std::string(5000, 'a') + "\"}", key).status, 413);
    EXPECT_EQ(curl("GET", url, "", key).status, 405);
    EXPECT_EQ(curl("GET", router.url("/v1/nothing"), "", key).status, 404);
    EXPECT_EQ(curl("GET", router.url("/health"), "").status, 200);
    engine.kill9();
    r = curl("POST", url, R"({"prompt":"hi","max_tokens":2})", key);
    EXPECT_EQ(r.status, 502) << "the only backend died: " << r.body;
    EXPECT_NE(r.body.find("connect_failed"), std::string::npos) << r.body;
    r = curl("POST", url, R"({"prompt":"hi","max_tokens":2})", key);
    EXPECT_EQ(r.status, 503) << "now ejected: " << r.body;
    EXPECT_NE(r.headers.find("retry-after:"), std::string::npos) << r.headers;
    EXPECT_EQ(curl("GET", router.url("/health"), "").status, 503);
    EXPECT_EQ(router.stop(), 0);
}

// Non-streamed completions from 4 threads through the router over two engines; the engine behind a long stream is
// killed with SIGKILL mid-load.
TEST(router_e2e, kill_9_of_one_engine_under_load) {
    std::array<std::unique_ptr<engine_process>, 2> engines = {std::make_unique<engine_process>(),
                                                              std::make_unique<engine_process>()};
    ASSERT_GT(engines[0]->port, 0);
    ASSERT_GT(engines[1]->port, 0);
    router_process router("--policy least-requests --health-interval-ms 100 --ejection-ms 300 --backend " +
                          engines[0]->endpoint() + " --backend " + engines[1]->endpoint());
    ASSERT_GT(router.port, 0);
    test::completion_load load(router.port, 4, 40);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const std::string long_stream = R"({"prompt":[1,2,3],"max_tokens":2000,"ignore_eos":true,"stream":true})";
    std::string head;
    const int stream = test::open_stream(router.port, long_stream, "/v1/completions", &head);
    ASSERT_GE(stream, 0);
    const size_t victim =
        head.find("x-llmfleet-backend: 127.0.0.1:" + std::to_string(engines[1]->port)) != std::string::npos ? 1 : 0;
    const int victim_port = engines[victim]->port;
    engines[victim]->kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    load.join();
    EXPECT_GT(load.n_ok.load(), 8);
    EXPECT_EQ(load.n_failed.load(), 0) << "every non-streamed request was retried on the live engine";

    // The stream on the killed engine ends with an error event (then the chunked terminator), not [DONE].
    std::string rest;
    char buf[65536];
    for (ssize_t n; rest.find("\r\n0\r\n\r\n") == std::string::npos && (n = read(stream, buf, sizeof(buf))) > 0;) {
        rest.append(buf, static_cast<size_t>(n));
    }
    close(stream);
    const std::string tail = rest.substr(rest.size() > 600 ? rest.size() - 600 : 0);
    EXPECT_NE(rest.find("data: {\"error\""), std::string::npos) << tail;
    EXPECT_EQ(rest.find("data: [DONE]"), std::string::npos) << tail;

    const std::string up_metric =
        "llmfleet_router_backend_up{pool=\"default\",backend=\"127.0.0.1:" + std::to_string(victim_port) + "\"}";
    std::string m = curl("GET", router.url("/metrics"), "").body;
    EXPECT_EQ(test::metric(m, up_metric), 0) << "ejected";
    EXPECT_GE(test::metric(m, "llmfleet_router_stream_errors_total"), 1);

    // The engine comes back on its port: re-admitted by the health checker, and it gets requests again.
    engines[victim] = std::make_unique<engine_process>("", victim_port);
    ASSERT_EQ(engines[victim]->port, victim_port);
    bool readmitted = false;
    for (int i = 0; i < 200 && !readmitted; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        readmitted = test::metric(curl("GET", router.url("/metrics"), "").body, up_metric) == 1;
    }
    EXPECT_TRUE(readmitted);
    const std::string requests_metric =
        "llmfleet_router_backend_requests_total{pool=\"default\",backend=\"127.0.0.1:" + std::to_string(victim_port) +
        "\"}";
    const double before = test::metric(curl("GET", router.url("/metrics"), "").body, requests_metric);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(curl("POST", router.url("/v1/completions"), R"({"prompt":[1],"max_tokens":2})").status, 200);
    }
    EXPECT_GE(test::metric(curl("GET", router.url("/metrics"), "").body, requests_metric), before + 1);
    EXPECT_EQ(router.stop(), 0);
}

} // namespace
} // namespace llmfleet
