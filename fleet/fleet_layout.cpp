// See fleet_layout.h.
#include "fleet/fleet_layout.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"

namespace llmfleet::fleet {

namespace {

// A listening-capable socket bound to host:port (0: any), or -1 with errno set.
int bind_probe(const std::string& host, uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); // as the engine's own server binds
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

} // namespace

std::vector<std::string> gpu_domain::uuids() const {
    std::vector<std::string> out;
    for (const gpu_info& g : gpus) {
        out.push_back(g.uuid);
    }
    return out;
}

std::string gpu_domain::label() const {
    std::vector<int32_t> indices;
    for (const gpu_info& g : gpus) {
        indices.push_back(g.index);
    }
    if (gpus.size() == 1) {
        return fmt::format("GPU {} ({})", gpus[0].index, gpus[0].uuid);
    }
    return fmt::format("GPUs {}", fmt::join(indices, ","));
}

int32_t count_engines(const std::vector<pool_request>& pools) {
    int32_t n = 0;
    for (const pool_request& p : pools) {
        n += p.n_engines();
    }
    return n;
}

fleet_layout make_layout(const std::vector<pool_request>& pools, const layout_options& o) {
    LLMFLEET_CHECK(o.per_pool.empty() || o.per_pool.size() == pools.size(), "per_pool: {} entries for {} pools",
                   o.per_pool.size(), pools.size());
    fleet_layout layout;
    size_t next_port = 0;
    const auto add_engine = [&](const pool_request& pool, size_t pool_index, int32_t domain, int32_t n_in_pool) {
        if (next_port >= o.ports.size()) {
            throw invalid_input(fmt::format("{} ports for {} engines", o.ports.size(), count_engines(pools)));
        }
        engine_slot e;
        e.name = fmt::format("{}-{}", pool.name, n_in_pool);
        e.pool = pool.name;
        e.domain = domain;
        e.endpoint = {o.host, o.ports[next_port++]};
        e.process.program = o.program;
        e.process.args = {"engine"};
        e.process.args.insert(e.process.args.end(), o.engine_args.begin(), o.engine_args.end());
        if (!o.per_pool.empty()) {
            const pool_settings& s = o.per_pool[pool_index];
            e.process.args.insert(e.process.args.end(), s.engine_args.begin(), s.engine_args.end());
            e.limits = s.limits;
        }
        const deployment_shape& d = pool.deployment;
        if (d.tp > 1 || d.pp > 1) {
            e.process.args.insert(e.process.args.end(), {"--tp", std::to_string(d.tp), "--pp", std::to_string(d.pp)});
        }
        if (o.threads_per_engine > 0) {
            e.process.args.insert(e.process.args.end(), {"--threads", std::to_string(o.threads_per_engine)});
        }
        e.process.args.insert(e.process.args.end(), {"--host", o.host, "--port", std::to_string(e.endpoint.port)});
        e.process.log_path = fmt::format("{}/{}.log", o.run_dir, e.name);
        layout.engines.push_back(std::move(e));
    };
    for (size_t pi = 0; pi < pools.size(); ++pi) {
        const pool_request& pool = pools[pi];
        layout.pools.push_back(pool.name);
        if (pool.n_engines() < 1) {
            throw invalid_input(fmt::format("pool `{}`: no engine to start ({} GPUs, {} CPU engines)", pool.name,
                                            pool.gpus.size(), pool.n_cpu_engines));
        }
        if (pool.gpus.empty()) {
            for (int32_t i = 0; i < pool.n_cpu_engines; ++i) {
                add_engine(pool, pi, -1, i);
            }
            continue;
        }
        const size_t group = static_cast<size_t>(pool.deployment.gpus_per_engine());
        if (pool.gpus.size() % group != 0) {
            throw invalid_input(fmt::format("pool `{}`: {} GPUs do not split into engines of tp {} × pp {} = {} GPUs; "
                                            "hint: pass a multiple of {} GPUs with --gpus",
                                            pool.name, pool.gpus.size(), pool.deployment.tp, pool.deployment.pp, group,
                                            group));
        }
        int32_t n_in_pool = 0;
        for (size_t first = 0; first < pool.gpus.size(); first += group) {
            gpu_domain d;
            d.pool = pool.name;
            d.gpus.assign(pool.gpus.begin() + static_cast<std::ptrdiff_t>(first),
                          pool.gpus.begin() + static_cast<std::ptrdiff_t>(first + group));
            if (o.mps) {
                d.paths = mps_paths_for(o.run_dir, d.uuids());
            }
            const int32_t domain = static_cast<int32_t>(layout.domains.size());
            layout.domains.push_back(std::move(d));
            for (int32_t k = 0; k < pool.deployment.engines_per_gpu; ++k) {
                add_engine(pool, pi, domain, n_in_pool++);
            }
        }
    }
    if (next_port != o.ports.size()) {
        throw invalid_input(fmt::format("{} ports for {} engines", o.ports.size(), next_port));
    }
    return layout;
}

std::vector<uint16_t> pick_engine_ports(int32_t n, const std::string& host, uint16_t first) {
    std::vector<uint16_t> ports;
    std::vector<int> held;
    const auto release = [&held] {
        for (const int fd : held) {
            ::close(fd);
        }
    };
    for (int32_t i = 0; i < n; ++i) {
        const int64_t wanted = first == 0 ? 0 : static_cast<int64_t>(first) + i;
        if (wanted > 65535) {
            release();
            throw invalid_input(fmt::format("--engine-base-port {}: {} engines need ports up to {}, past 65535", first,
                                            n, static_cast<int64_t>(first) + n - 1));
        }
        const int fd = bind_probe(host, static_cast<uint16_t>(wanted));
        if (fd < 0) {
            const int e = errno;
            release();
            throw invalid_input(fmt::format("engine port {} on {} is not free ({}); hint: pick other ports with "
                                            "--engine-base-port, or 0 for any free ones",
                                            wanted, host, std::strerror(e)));
        }
        sockaddr_in addr{};
        socklen_t len = sizeof(addr);
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        ports.push_back(ntohs(addr.sin_port));
        held.push_back(fd);
    }
    release();
    return ports;
}

} // namespace llmfleet::fleet
