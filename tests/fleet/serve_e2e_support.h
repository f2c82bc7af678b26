// What the `llmfleet serve` end-to-end tests share: the serve process, its engines as /fleet/engines lists them,
// the processes whose parent it is, waiting for a condition, and a stream of non-streamed completions.
#pragma once

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "serve/http/http_client.h"
#include "tests/serve/completion_load.h"
#include "tests/serve/e2e_support.h"

namespace llmfleet::test {

// `llmfleet serve --port 0 --model <tiny> --kv-cache-gib 0.05 <args>` (fast restarts for the tests).
struct serve_process : server_process {
    serve_process(const std::string& tag, const std::string& args)
        : server_process(tag, "serve --port 0 --model " + tiny_model_dir(tag) +
                                  " --kv-cache-gib 0.05 --restart-backoff-s 0.2 --health-interval-s 0.2 " + args) {}
};

// GET /fleet/engines, parsed.
inline nlohmann::json fleet_status(const std::string& tag, const server_process& s) {
    const http_reply r = curl(tag, "GET", s.url("/fleet/engines"), "");
    EXPECT_EQ(r.status, 200) << r.body;
    return nlohmann::json::parse(r.body, nullptr, false);
}

inline std::vector<pid_t> engine_pids(const std::string& tag, const server_process& s) {
    std::vector<pid_t> pids;
    const nlohmann::json status = fleet_status(tag, s); // not a temporary: the loop iterates a part of it
    for (const auto& e : status["engines"]) {
        pids.push_back(e["pid"].get<pid_t>());
    }
    return pids;
}

// The processes whose parent is `parent` (from /proc).
inline std::set<pid_t> children_of(pid_t parent) {
    std::set<pid_t> out;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const std::string stat = slurp(entry.path().string() + "/stat");
        const size_t paren = stat.rfind(')');
        if (paren == std::string::npos) {
            continue;
        }
        // After the command: " S PPID ..."
        if (std::atoi(stat.c_str() + paren + 4) == parent) {
            out.insert(std::stoi(name));
        }
    }
    return out;
}

// Running and not a zombie.
inline bool alive(pid_t pid) {
    const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    const size_t paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// Polls `done` every 50 ms for up to timeout_s.
inline bool wait_until(const std::function<bool()>& done, double timeout_s) {
    for (int i = 0; i < static_cast<int>(timeout_s * 20); ++i) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
}

inline double fleet_metric(const std::string& tag, const server_process& s, const std::string& name) {
    return metric(curl(tag, "GET", s.url("/metrics"), "").body, name);
}

} // namespace llmfleet::test
