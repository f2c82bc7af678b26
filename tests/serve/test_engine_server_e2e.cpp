// `llmfleet engine` end to end, as real processes on a tiny random model: the official OpenAI Node client
// (completions, chat, streaming with include_usage, error cases), every error status at the HTTP level with
// curl, a client that disconnects mid-stream (its request is aborted and its KV blocks freed), /metrics, and
// a graceful exit 0 on SIGTERM.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

#include "tests/serve/e2e_support.h"

namespace llmfleet {
namespace {

const std::string tag = "test_engine_server_e2e";

// `llmfleet engine --port 0 ARGS` as a child process.
struct engine_process : test::server_process {
    explicit engine_process(const std::string& args) : test::server_process(tag, "engine --port 0 " + args) {}
};

std::string model_dir() {
    return test::tiny_model_dir(tag);
}

test::http_reply curl(const std::string& method, const std::string& url, const std::string& body,
                      const std::string& extra = "") {
    return test::curl(tag, method, url, body, extra);
}

TEST(engine_server_e2e, official_openai_client) {
    if (!test::openai_client_available()) {
        GTEST_SKIP() << "node or tests/reference/node_modules/openai missing: run scripts/setup.sh --test";
    }
    engine_process engine("--model " + model_dir() + " --served-model-name tiny");
    ASSERT_GT(engine.port, 0);
    test::expect_openai_client_works(tag, engine.url("/v1"), "tiny");
    EXPECT_EQ(engine.stop(), 0) << "SIGTERM → graceful exit 0";
}

TEST(engine_server_e2e, error_statuses) {
    engine_process engine("--model " + model_dir() +
                          " --served-model-name tiny --api-key sekret --max-model-len 64 "
                          "--max-body-bytes 4096");
    ASSERT_GT(engine.port, 0);
    const std::string key = "-H 'Authorization: Bearer sekret'";
    const std::string url = engine.url("/v1/completions");
    EXPECT_EQ(curl("POST", url, R"({"prompt":"hi","max_tokens":1})").status, 401);
    EXPECT_EQ(curl("POST", url, R"({"prompt":"hi","max_tokens":1})", "-H 'Authorization: Bearer wrong'").status, 401);
    test::http_reply r = curl("POST", url, R"({"prompt":"hi","max_tokens":2})", key);
    EXPECT_EQ(r.status, 200) << r.body;
    r = curl("POST", url, R"({"prompt": "hi", )", key);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("\"type\":\"invalid_request_error\""), std::string::npos) << r.body;
    r = curl("POST", url, R"({"prompt":"hi","max_tokens":"many"})", key);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("\"param\":\"max_tokens\""), std::string::npos) << r.body;
    r = curl("POST", url, "{\"prompt\":\"\xff\xfe\"}", key);
    EXPECT_EQ(r.status, 400) << "invalid UTF-8: " << r.body;
    r = curl("POST", url, R"({"model":"gpt-9","prompt":"hi"})", key);
    EXPECT_EQ(r.status, 404);
    std::string long_prompt = "[";
    for (int i = 0; i < 80; ++i) {
        long_prompt += (i ? "," : "") + std::to_string(i + 1);
    }
    r = curl("POST", url, R"({"prompt":)" + long_prompt + "]}", key);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("context_length_exceeded"), std::string::npos) << r.body;
    EXPECT_EQ(curl("POST", url, "{\"prompt\":\"" + std::string(5000, 'a') + "\"}", key).status, 413);
    EXPECT_EQ(curl("GET", url, "", key).status, 405);
    EXPECT_EQ(curl("GET", engine.url("/v1/nothing"), "", key).status, 404);
    EXPECT_EQ(curl("GET", engine.url("/health"), "").status, 200);
    r = curl("POST", engine.url("/tokenize"), R"({"prompt":"hello world"})", key);
    EXPECT_EQ(r.status, 200) << r.body;
    const auto tokens = nlohmann::json::parse(r.body)["tokens"];
    r = curl("POST", engine.url("/detokenize"), nlohmann::json({{"tokens", tokens}}).dump(), key);
    EXPECT_EQ(nlohmann::json::parse(r.body)["prompt"], "hello world") << r.body;
    EXPECT_EQ(engine.stop(), 0);
}

using test::metric;

TEST(engine_server_e2e, a_client_that_disconnects_aborts_its_request) {
    engine_process engine("--model " + model_dir() + " --served-model-name m");
    ASSERT_GT(engine.port, 0);
    const int fd = test::open_stream(
        engine.port, R"({"prompt":[1,2,3],"max_tokens":2000,"ignore_eos":true,"temperature":0,"stream":true})");
    close(fd);
    std::string text;
    for (int i = 0; i < 100; ++i) {
        text = curl("GET", engine.url("/metrics"), "").body;
        if (metric(text, "vllm:request_success_total{model_name=\"m\",finished_reason=\"abort\"}") == 1) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(metric(text, "vllm:request_success_total{model_name=\"m\",finished_reason=\"abort\"}"), 1) << text;
    EXPECT_LT(metric(text, "vllm:generation_tokens_total{model_name=\"m\"}"), 2000);
    EXPECT_EQ(metric(text, "vllm:kv_cache_usage_perc{model_name=\"m\"}"), 0) << "its KV blocks were freed";
    EXPECT_EQ(metric(text, "vllm:num_requests_running{model_name=\"m\"}"), 0);
    EXPECT_EQ(engine.stop(), 0);
}

// 429 from the pending bound (with retry-after) and 503 from the connection cap, each while another client holds a
// stream open; the server keeps serving once the stream ends.
TEST(engine_server_e2e, overload_statuses) {
    engine_process engine("--model " + model_dir() +
                          " --served-model-name m --max-pending-requests 1 --max-connections 2");
    ASSERT_GT(engine.port, 0);
    const std::string body = R"({"prompt":[1,2,3],"max_tokens":2000,"ignore_eos":true,"stream":true})";
    const int fd = test::open_stream(engine.port, body);
    ASSERT_GE(fd, 0);
    test::http_reply r = curl("POST", engine.url("/v1/completions"), R"({"prompt":[1],"max_tokens":1})");
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_NE(r.headers.find("retry-after:"), std::string::npos) << r.headers;
    EXPECT_NE(r.body.find("max_pending_requests"), std::string::npos) << "names the limit: " << r.body;
    const int idle = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(engine.port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ASSERT_EQ(connect(idle, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0); // holds the second slot
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = curl("GET", engine.url("/health"), "");
    EXPECT_EQ(r.status, 503) << "over --max-connections: " << r.body;
    close(idle);
    close(fd); // the stream's client leaves: its request is aborted
    for (int i = 0; i < 100 && r.status != 200; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        r = curl("POST", engine.url("/v1/completions"), R"({"prompt":[1],"max_tokens":1})");
    }
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(engine.stop(), 0);
}

} // namespace
} // namespace llmfleet
