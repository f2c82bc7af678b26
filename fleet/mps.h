// NVIDIA MPS for the fleet, the pure part: the --mps mode, where a GPU's daemon keeps its pipe and log
// directories, the command line and environment of the daemon and of its clients (the engines), each engine's
// share of GPU memory and KV budget, and parsers for what the control daemon answers. No process is started here
// (mps_daemon.h does that). See /work/shared/notes/mps.md and docs/serve.md for the MPS facts relied on.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/subprocess.h"

namespace llmfleet::fleet {

// --mps: off (engines share the GPU time-sliced), automatic (MPS when the daemon starts, else a WARN and
// time-slicing), on (a daemon that cannot start, or an engine that did not attach, is an error).
enum class mps_mode { off, automatic, on };
std::string_view to_string(mps_mode mode);      // "off", "auto", "on"
mps_mode parse_mps_mode(std::string_view text); // throws invalid_input listing the values

inline constexpr std::string_view mps_control_program = "nvidia-cuda-mps-control";

// The directories of one control daemon. A client reaches its daemon through pipe_dir, so every GPU (domain) has
// its own; Unix socket paths are limited to 107 bytes, hence short names.
struct mps_paths {
    std::string pipe_dir; // CUDA_MPS_PIPE_DIRECTORY: the daemon's sockets and nvidia-cuda-mps-control.pid
    std::string log_dir;  // CUDA_MPS_LOG_DIRECTORY: control.log, server.log
    std::string pid_file() const { return pipe_dir + "/nvidia-cuda-mps-control.pid"; }
};

// <run_dir>/mps/<first GPU UUID>[+<n − 1>]/{pipe,log}. Throws invalid_input when the pipe directory's control
// socket path would pass the Unix limit (naming the path and suggesting a shorter --run-dir). note: uuids
// non-empty (checked).
mps_paths mps_paths_for(const std::string& run_dir, const std::vector<std::string>& gpu_uuids);

struct command_line {
    std::string program;
    std::vector<std::string> args;
    env_list env;
};

// `nvidia-cuda-mps-control -d` for the GPUs of one domain: CUDA_VISIBLE_DEVICES = their UUIDs, and the domain's
// pipe and log directories.
command_line mps_daemon_start_command(const std::vector<std::string>& gpu_uuids, const mps_paths& paths);

// The environment under which control commands (`echo get_server_list | nvidia-cuda-mps-control`) reach the
// domain's daemon.
env_list mps_control_env(const mps_paths& paths);

// Per-client limits (0: not set, the daemon's default applies).
struct mps_client_limits {
    int64_t pinned_mem_limit_mib = 0;     // CUDA_MPS_PINNED_DEVICE_MEM_LIMIT on every device of the client
    int32_t active_thread_percentage = 0; // CUDA_MPS_ACTIVE_THREAD_PERCENTAGE, 1..100
};

// An engine's GPU environment. With MPS: CUDA_VISIBLE_DEVICES (UUIDs), the pipe and log directories and the
// limits ("0=10240MB,1=10240MB": the client numbers its devices from 0). Without (paths == nullptr): only
// CUDA_VISIBLE_DEVICES.
env_list gpu_client_env(const std::vector<std::string>& gpu_uuids, const mps_paths* paths,
                        const mps_client_limits& limits);

// NVIDIA's advice is to over-provision thread percentages: 100 / (0.5 · n) per client, capped at 100.
// note: engines_per_gpu ≥ 1 (checked).
int32_t default_active_thread_percentage(int32_t engines_per_gpu);

// One engine's share of a GPU and the KV pool that is left in it once the weights and a reserve are counted.
struct kv_budget_inputs {
    int64_t gpu_memory_mib = 0;      // one GPU's memory (nvidia-smi memory.total)
    double memory_utilization = 0.9; // fraction of it the engines may use together
    int32_t engines_per_gpu = 1;     // engines sharing each GPU of the replica
    int32_t gpus_per_engine = 1;     // tp · pp: an engine's weights are split over this many GPUs
    int64_t weights_bytes = 0;       // the whole model's weights
    double reserve_gib = 1.0;        // per engine and GPU: CUDA context, activations, allocator slack
};
struct kv_budget {
    int64_t engine_memory_mib = 0; // each engine's share of each of its GPUs (its pinned memory limit)
    double weights_gib = 0;        // weights per GPU of the engine
    double kv_cache_gib = 0;       // KV pool per rank (the engine's --kv-cache-gib)
};
// share = gpu_memory · utilisation / engines_per_gpu; kv = share − weights / gpus_per_engine − reserve. Throws
// invalid_input with every number when nothing is left for the KV pool, with a hint (fewer engines per GPU,
// more tensor parallelism, a higher --gpu-memory-utilization).
kv_budget plan_kv_budget(const kv_budget_inputs& in);

// PIDs one per line (`get_server_list`, `get_client_list <server>`); blank lines are skipped. Throws
// invalid_input naming `what` and the line that is not a PID.
std::vector<pid_t> parse_pid_list(std::string_view text, std::string_view what);

// One row of the daemon's `ps`: PID ID SERVER DEVICE NAMESPACE COMMAND.
struct mps_client_row {
    pid_t pid = 0;          // the client's PID (in the daemon's PID namespace)
    int64_t id = 0;         // the daemon's client id
    pid_t server_pid = 0;   // the server it is attached to
    std::string device;     // the GPU UUID (may be shortened)
    std::string name_space; // PID namespace id
    std::string command;    // the client's command line (may hold spaces)
};
// Parses `ps` output: an optional header line starting with "PID", then one row per client. Throws
// invalid_input naming the line when a row has fewer than 5 fields or non-numeric PIDs.
std::vector<mps_client_row> parse_mps_ps(std::string_view text);

} // namespace llmfleet::fleet
