// The supervisor's real process operations (supervisor.h): fork/exec through subprocess.h, signals, and
// GET /health with the pooled HTTP client; and the factory of real MPS daemons.
#include <signal.h>

#include <chrono>

#include "fleet/supervisor.h"
#include "serve/http/http_client.h"

namespace llmfleet::fleet {

namespace {

class system_process_ops final : public process_ops {
public:
    explicit system_process_ops(double health_timeout_s)
        : _timeout(static_cast<int64_t>(health_timeout_s * 1000)), _client(client_options(_timeout)) {}

    pid_t spawn(const spawn_spec& spec) override { return spawn_process(spec); }
    std::optional<int> try_reap(pid_t pid) override { return fleet::try_reap(pid); }
    void signal(pid_t pid, int sig) override { ::kill(pid, sig); }
    bool healthy(const serve::http_endpoint& endpoint) override {
        const serve::http_client_result r = _client.fetch(endpoint, {"GET", "/health", {}, ""}, _timeout);
        return r.error == serve::http_client_error::ok && r.status == 200;
    }

private:
    static serve::http_client_options client_options(std::chrono::milliseconds timeout) {
        serve::http_client_options o;
        o.connect_timeout = timeout;
        o.idle_timeout = timeout;
        o.max_idle_connections_per_endpoint = 1;
        return o;
    }

    std::chrono::milliseconds _timeout;
    serve::http_client _client;
};

} // namespace

std::unique_ptr<process_ops> make_system_process_ops(double health_timeout_s) {
    return std::make_unique<system_process_ops>(health_timeout_s);
}

mps_factory system_mps_factory() {
    return [](const gpu_domain& d) -> std::unique_ptr<mps_control> {
        return std::make_unique<mps_daemon>(d.uuids(), d.paths);
    };
}

} // namespace llmfleet::fleet
