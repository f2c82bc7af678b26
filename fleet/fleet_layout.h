// The engines `llmfleet serve` runs on this host, decided before any is started: for each router pool, its GPU
// domains (the tp · pp GPUs one engine spans: one MPS daemon each) and its engines, each with a fixed port (kept
// across restarts, so the router's backend list never changes) and its `llmfleet engine` command line. Pure except
// pick_engine_ports, which asks the kernel which ports are free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fleet/fleet_plan.h"
#include "fleet/mps.h"
#include "fleet/subprocess.h"
#include "serve/http/http_endpoint.h"

namespace llmfleet::fleet {

// The GPUs one engine spans (one GPU without tensor or pipeline parallelism) and, with MPS, its daemon's
// directories. Every engine of the domain shares those GPUs.
struct gpu_domain {
    std::string pool;
    std::vector<gpu_info> gpus;
    mps_paths paths; // empty without MPS
    std::vector<std::string> uuids() const;
    std::string label() const; // "GPU 0 (GPU-…)" or "GPUs 0,1"
};

// One supervised engine. Its GPU environment (CUDA_VISIBLE_DEVICES, the MPS variables) is added at each spawn,
// since whether its daemon runs can change (an `auto` fallback, a daemon restart).
struct engine_slot {
    std::string name;    // "cpu-0", "A10G-1": unique, a metrics label
    std::string pool;    // router pool
    int32_t domain = -1; // index into fleet_layout::domains; -1 on the CPU
    serve::http_endpoint endpoint;
    spawn_spec process;       // `llmfleet engine ...` with its port; stdout/stderr to <run_dir>/<name>.log
    mps_client_limits limits; // applied when its domain's daemon runs
};

struct fleet_layout {
    std::vector<std::string> pools; // in the order given
    std::vector<gpu_domain> domains;
    std::vector<engine_slot> engines; // by pool, then domain, then engine within the domain
};

// What every engine of a pool gets beyond the common flags.
struct pool_settings {
    std::vector<std::string> engine_args; // e.g. --kv-cache-gib for this GPU type's memory
    mps_client_limits limits;
};

struct layout_options {
    std::string program;                  // the llmfleet binary the engines run
    std::vector<std::string> engine_args; // after `engine`: --model DIR and the flags every engine gets
    std::string host = "127.0.0.1";       // engines bind here; the router reaches them here
    std::vector<uint16_t> ports;          // one per engine, in layout order
    std::string run_dir;                  // engine logs; MPS directories under <run_dir>/mps
    int32_t threads_per_engine = 0;       // --threads for each engine; 0: not passed
    bool mps = false;                     // give each GPU domain its MPS directories
    std::vector<pool_settings> per_pool;  // parallel to the pools; may be empty
};

// Total engines of `pools`: how many ports make_layout needs.
int32_t count_engines(const std::vector<pool_request>& pools);

// The layout for `pools`. Throws invalid_input when a pool's GPUs do not split into whole tp · pp groups (naming
// the pool, the GPU count and the group size), when a pool has no engine, or when the ports do not match the
// engine count. note: per_pool is empty or has one entry per pool (checked).
fleet_layout make_layout(const std::vector<pool_request>& pools, const layout_options& options);

// `n` TCP ports on `host` to give the engines: first, first + 1, ... (each checked free, else invalid_input naming
// the port and the flag to change), or with first == 0 ports the kernel picks (held open together while
// picking, so they are distinct).
std::vector<uint16_t> pick_engine_ports(int32_t n, const std::string& host, uint16_t first);

} // namespace llmfleet::fleet
