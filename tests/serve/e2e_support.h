// What the end-to-end tests of the servers share: `llmfleet` subcommands as child processes on ephemeral ports
// (the port read from the startup line), curl as the HTTP client, a raw socket that holds a stream open, and
// Prometheus text lookup.
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/make_model.h"
#include "tests/test_support.h"

namespace llmfleet::test {

// `<build>/bin/<program> <args>` (default: llmfleet) as a child process; the port comes from the first
// "http://127.0.0.1:PORT" on its stdout. `tag` names the temp folder for its stdout/stderr.
class server_process {
public:
    server_process(const std::string& tag, const std::string& args, const std::string& program = "llmfleet") {
        _out = temp_path(tag, "server.stdout." + std::to_string(++_count));
        _pid = fork();
        if (_pid == 0) {
            // program: a binary of build/bin, or an absolute path (e.g. mpirun, with llmfleet in args).
            const std::string path =
                program.starts_with('/') ? program : std::string(LLMFLEET_BINARY_DIR) + "/bin/" + program;
            const std::string cmd = "exec " + path + " " + args + " >" + _out + " 2>" + _out + ".err";
            execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
            _exit(127);
        }
        for (int i = 0; i < 300 && port == 0; ++i) { // up to 30 s for the startup line
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            const std::string text = slurp(_out);
            const size_t at = text.find("http://127.0.0.1:");
            if (at != std::string::npos) {
                port = std::stoi(text.substr(at + 17));
            }
            if (port == 0 && waitpid(_pid, nullptr, WNOHANG) == _pid) {
                _pid = -1;
                ADD_FAILURE() << "`" << program << " " << args << "` exited early: " << slurp(_out + ".err");
                break;
            }
        }
    }
    ~server_process() {
        if (_pid > 0) {
            stop();
        }
    }
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    // SIGTERM, then the exit code (-1 when killed by a signal).
    int stop() { return signal_and_wait(SIGTERM); }
    // SIGKILL (a crash), then wait.
    void kill9() { signal_and_wait(SIGKILL); }
    bool running() const { return _pid > 0; }
    pid_t pid() const { return _pid; }
    // Waits up to timeout_s for the process to exit by itself; its exit code, or -1 when killed by a signal, or
    // -2 when it is still running.
    int wait_exit(double timeout_s) {
        for (int i = 0; i < static_cast<int>(timeout_s * 10) && _pid > 0; ++i) {
            int status = 0;
            if (waitpid(_pid, &status, WNOHANG) == _pid) {
                _pid = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return _pid > 0 ? -2 : -1;
    }
    std::string stdout_text() const { return slurp(_out); }
    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
    std::string stderr_text() const { return slurp(_out + ".err"); }
    int port = 0;

private:
    int signal_and_wait(int sig) {
        if (_pid <= 0) {
            return -1;
        }
        kill(_pid, sig);
        int status = 0;
        waitpid(_pid, &status, 0);
        _pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    pid_t _pid = -1;
    std::string _out;
    static inline int _count = 0;
};

struct http_reply {
    int status = 0;
    std::string body;
    std::string headers; // the response head as curl dumps it
};

// One request with curl (GET when body is empty); `extra` adds curl flags (headers).
inline http_reply curl(const std::string& tag, const std::string& method, const std::string& url,
                       const std::string& body, const std::string& extra = "") {
    static int count = 0;
    const std::string id = std::to_string(++count);
    const std::string body_file = write_temp(tag, "request.json." + id, body);
    const std::string out = temp_path(tag, "curl.body." + id);
    const std::string cmd = "curl -s -o " + out + " -D " + out + ".head -w '%{http_code}' -X " + method + " " + extra +
                            (body.empty() ? "" : " -H 'content-type: application/json' --data-binary @" + body_file) +
                            " '" + url + "' > " + out + ".code";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return {std::atoi(slurp(out + ".code").c_str()), slurp(out), slurp(out + ".head")};
}

// A connected socket to 127.0.0.1:port, or -1 with a test failure.
inline int connect_local(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ADD_FAILURE() << "connect to port " << port << " failed";
        close(fd);
        return -1;
    }
    return fd;
}

// Sends POST `path` with `body` on a new socket and returns it without reading (the request stays in flight
// until the caller closes the socket), or -1 with a test failure.
inline int send_request(int port, const std::string& body, const std::string& path = "/v1/completions") {
    const int fd = connect_local(port);
    if (fd < 0) {
        return -1;
    }
    const std::string req = "POST " + path + " HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" +
                            "content-length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
        ADD_FAILURE() << "short write";
        close(fd);
        return -1;
    }
    return fd;
}

// Sends `body` to POST `path` on a raw socket and reads until the first SSE `data:` event; returns the open socket
// (the stream stays in flight until the caller closes it), or -1 with a test failure.
inline int open_stream(int port, const std::string& body, const std::string& path = "/v1/completions",
                       std::string* head = nullptr) {
    const int fd = send_request(port, body, path);
    if (fd < 0) {
        return -1;
    }
    std::string got;
    char buf[4096];
    while (got.find("data:") == std::string::npos) {
        const ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) {
            ADD_FAILURE() << "the stream ended before its first event: " << got;
            close(fd);
            return -1;
        }
        got.append(buf, static_cast<size_t>(n));
    }
    if (head != nullptr) {
        *head = got;
    }
    return fd;
}

// The value of the first sample whose line starts with `name` (name includes labels), or -1 when absent.
inline double metric(const std::string& text, const std::string& name) {
    const size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + 1 + name.size() + 1));
}

// A tiny random Qwen2 model (with its tokenizer) for this test binary, made once on first use.
inline std::string tiny_model_dir(const std::string& tag) {
    static const std::string dir = [&tag] {
        const std::string d = temp_path(tag, "tiny");
        std::filesystem::remove_all(d);
        model::make_model({model::architecture::qwen2, "tiny", 5, model::dtype::bf16, 1, d});
        return d;
    }();
    return dir;
}

// True when node and the pinned official openai package (tests/reference) are installed.
inline bool openai_client_available() {
    return std::system("node --version >/dev/null 2>&1") == 0 &&
           std::filesystem::exists(std::string(LLMFLEET_SOURCE_DIR) +
                                   "/tests/reference/node_modules/openai/package.json");
}

// Runs tests/reference/openai_client.mjs (completions, chat, both streamed with include_usage, error cases,
// models) against base_url (".../v1") and checks what the official client saw from a tiny model served as `model`.
inline void expect_openai_client_works(const std::string& tag, const std::string& base_url, const std::string& model,
                                       const std::string& api_key = "") {
    const std::string out = temp_path(tag, "openai.json");
    const std::string cmd = "node " + std::string(LLMFLEET_SOURCE_DIR) + "/tests/reference/openai_client.mjs " +
                            base_url + " " + model + " " + api_key + " > " + out;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto j = nlohmann::json::parse(slurp(out));
    EXPECT_EQ(j["completion"]["object"], "text_completion");
    EXPECT_EQ(j["completion"]["usage"]["completion_tokens"], 6);
    EXPECT_EQ(j["completion_stream"]["text"], j["completion"]["text"]) << "greedy: streamed = whole";
    EXPECT_EQ(j["chat"]["role"], "assistant");
    EXPECT_EQ(j["chat"]["finish_reason"], "length");
    EXPECT_EQ(j["chat_stream"]["content"], j["chat"]["content"]);
    EXPECT_EQ(j["chat_stream"]["roles"], nlohmann::json::array({"assistant"}));
    EXPECT_EQ(j["chat_stream"]["finish_reasons"], nlohmann::json::array({"length"}));
    EXPECT_EQ(j["chat_stream"]["usage"], j["chat"]["usage"]) << "the include_usage chunk";
    EXPECT_EQ(j["unknown_model"]["status"], 404);
    EXPECT_EQ(j["unknown_model"]["code"], "model_not_found");
    EXPECT_EQ(j["bad_temperature"]["status"], 400);
    EXPECT_EQ(j["bad_temperature"]["param"], "temperature");
    EXPECT_EQ(j["models"], nlohmann::json::array({model}));
}

} // namespace llmfleet::test
