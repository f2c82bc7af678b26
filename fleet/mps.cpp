// See mps.h.
#include "fleet/mps.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/text.h"

namespace llmfleet::fleet {

namespace {

constexpr double mib_per_gib = 1024.0;
constexpr size_t max_unix_socket_path = 107; // sun_path is 108 bytes with the terminating NUL

std::vector<std::string_view> fields_of(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) {
            ++i;
        }
        const size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
            ++i;
        }
        if (i > start) {
            out.push_back(line.substr(start, i - start));
        }
    }
    return out;
}

} // namespace

std::string_view to_string(mps_mode mode) {
    switch (mode) {
    case mps_mode::off:
        return "off";
    case mps_mode::automatic:
        return "auto";
    case mps_mode::on:
        return "on";
    }
    return "unknown";
}

mps_mode parse_mps_mode(std::string_view text) {
    for (const mps_mode m : {mps_mode::off, mps_mode::automatic, mps_mode::on}) {
        if (text == to_string(m)) {
            return m;
        }
    }
    throw invalid_input(fmt::format("--mps {}: expected auto, on or off", text));
}

mps_paths mps_paths_for(const std::string& run_dir, const std::vector<std::string>& gpu_uuids) {
    LLMFLEET_CHECK(!gpu_uuids.empty(), "an MPS domain needs at least one GPU");
    std::string name = gpu_uuids.front();
    if (gpu_uuids.size() > 1) {
        name += fmt::format("+{}", gpu_uuids.size() - 1);
    }
    const std::string base = fmt::format("{}/mps/{}", run_dir, name);
    mps_paths p{base + "/pipe", base + "/log"};
    const std::string control_socket = p.pipe_dir + "/control";
    if (control_socket.size() > max_unix_socket_path) {
        throw invalid_input(fmt::format("the MPS control socket {} is {} bytes long, over the {}-byte Unix socket "
                                        "limit; hint: pass a shorter --run-dir (e.g. /tmp/lf)",
                                        control_socket, control_socket.size(), max_unix_socket_path));
    }
    return p;
}

command_line mps_daemon_start_command(const std::vector<std::string>& gpu_uuids, const mps_paths& paths) {
    command_line c;
    c.program = std::string(mps_control_program);
    c.args = {"-d"};
    c.env = {{"CUDA_VISIBLE_DEVICES", fmt::format("{}", fmt::join(gpu_uuids, ","))},
             {"CUDA_MPS_PIPE_DIRECTORY", paths.pipe_dir},
             {"CUDA_MPS_LOG_DIRECTORY", paths.log_dir}};
    return c;
}

env_list mps_control_env(const mps_paths& paths) {
    return {{"CUDA_MPS_PIPE_DIRECTORY", paths.pipe_dir}, {"CUDA_MPS_LOG_DIRECTORY", paths.log_dir}};
}

env_list gpu_client_env(const std::vector<std::string>& gpu_uuids, const mps_paths* paths,
                        const mps_client_limits& limits) {
    env_list env = {{"CUDA_VISIBLE_DEVICES", fmt::format("{}", fmt::join(gpu_uuids, ","))}};
    if (paths == nullptr) {
        return env;
    }
    env.emplace_back("CUDA_MPS_PIPE_DIRECTORY", paths->pipe_dir);
    env.emplace_back("CUDA_MPS_LOG_DIRECTORY", paths->log_dir);
    if (limits.pinned_mem_limit_mib > 0) {
        std::vector<std::string> per_device;
        for (size_t i = 0; i < gpu_uuids.size(); ++i) {
            per_device.push_back(fmt::format("{}={}MB", i, limits.pinned_mem_limit_mib));
        }
        env.emplace_back("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", fmt::format("{}", fmt::join(per_device, ",")));
    }
    if (limits.active_thread_percentage > 0) {
        env.emplace_back("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", std::to_string(limits.active_thread_percentage));
    }
    return env;
}

int32_t default_active_thread_percentage(int32_t engines_per_gpu) {
    LLMFLEET_CHECK(engines_per_gpu >= 1, "engines_per_gpu must be ≥ 1, got {}", engines_per_gpu);
    return std::min<int32_t>(100, (200 + engines_per_gpu - 1) / engines_per_gpu); // ceil(100 / (0.5 n))
}

kv_budget plan_kv_budget(const kv_budget_inputs& in) {
    if (in.gpu_memory_mib <= 0 || !(in.memory_utilization > 0 && in.memory_utilization <= 1) ||
        in.engines_per_gpu < 1 || in.gpus_per_engine < 1 || in.weights_bytes < 0 || !(in.reserve_gib >= 0)) {
        throw invalid_input(fmt::format("KV budget: expected GPU memory > 0 MiB, utilisation in (0, 1], ≥ 1 engine "
                                        "per GPU, ≥ 1 GPU per engine, weights ≥ 0 and a reserve ≥ 0; got {} MiB, {}, "
                                        "{}, {}, {} bytes, {} GiB",
                                        in.gpu_memory_mib, in.memory_utilization, in.engines_per_gpu,
                                        in.gpus_per_engine, in.weights_bytes, in.reserve_gib));
    }
    kv_budget b;
    b.engine_memory_mib = static_cast<int64_t>(
        std::floor(static_cast<double>(in.gpu_memory_mib) * in.memory_utilization / in.engines_per_gpu));
    b.weights_gib = static_cast<double>(in.weights_bytes) / (1024.0 * 1024.0 * 1024.0) / in.gpus_per_engine;
    b.kv_cache_gib = static_cast<double>(b.engine_memory_mib) / mib_per_gib - b.weights_gib - in.reserve_gib;
    if (b.kv_cache_gib <= 0) {
        throw invalid_input(fmt::format(
            "no GPU memory left for the KV cache: each of {} engines per GPU gets {} MiB ({} MiB × {} / {}), of "
            "which the weights take {:.2f} GiB (split over {} GPU{}) and the reserve {:.2f} GiB; hint: lower "
            "--engines-per-gpu, raise --tp, or raise --gpu-memory-utilization",
            in.engines_per_gpu, b.engine_memory_mib, in.gpu_memory_mib, in.memory_utilization, in.engines_per_gpu,
            b.weights_gib, in.gpus_per_engine, in.gpus_per_engine == 1 ? "" : "s", in.reserve_gib));
    }
    return b;
}

std::vector<pid_t> parse_pid_list(std::string_view text, std::string_view what) {
    std::vector<pid_t> pids;
    for (const std::string_view raw : split(text, '\n')) {
        const std::string_view line = trim(raw);
        if (line.empty()) {
            continue;
        }
        int64_t pid = 0;
        try {
            pid = parse_int(line, what);
        } catch (const error&) {
            throw invalid_input(fmt::format("{}: expected one PID per line, got `{}`", what, line));
        }
        if (pid <= 0) {
            throw invalid_input(fmt::format("{}: expected PIDs > 0, got {}", what, pid));
        }
        pids.push_back(static_cast<pid_t>(pid));
    }
    return pids;
}

std::vector<mps_client_row> parse_mps_ps(std::string_view text) {
    std::vector<mps_client_row> rows;
    for (const std::string_view raw : split(text, '\n')) {
        const std::string_view line = trim(raw);
        if (line.empty() || line.starts_with("PID")) {
            continue;
        }
        const std::vector<std::string_view> f = fields_of(line);
        if (f.size() < 5) {
            throw invalid_input(
                fmt::format("MPS ps: expected `PID ID SERVER DEVICE NAMESPACE COMMAND`, got `{}`", line));
        }
        mps_client_row row;
        try {
            row.pid = static_cast<pid_t>(parse_int(f[0], "PID"));
            row.id = parse_int(f[1], "ID");
            row.server_pid = static_cast<pid_t>(parse_int(f[2], "SERVER"));
        } catch (const error& e) {
            throw invalid_input(fmt::format("MPS ps line `{}`: {}", line, e.what()));
        }
        row.device = std::string(f[3]);
        row.name_space = std::string(f[4]);
        if (f.size() > 5) {
            row.command = std::string(line.substr(static_cast<size_t>(f[5].data() - line.data())));
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

} // namespace llmfleet::fleet
