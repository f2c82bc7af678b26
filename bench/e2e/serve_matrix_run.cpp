// See serve_matrix_run.h.
#include "bench/e2e/serve_matrix_run.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include <fmt/format.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/log.h"
#include "common/text.h"
#include "fleet/subprocess.h"
#include "serve/http/http_client.h"

namespace llmfleet::bench {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::string file_text(const std::string& path) {
    std::error_code ec;
    return std::filesystem::exists(path, ec) ? read_file(path, "serve log") : std::string();
}

// One `llmfleet serve`, its output in a log file; SIGTERM (then SIGKILL) when it goes out of scope.
class serve_process {
public:
    serve_process(const std::string& program, std::vector<std::string> args, std::string log_path)
        : _log_path(std::move(log_path)) {
        _pid = fleet::spawn_process({program, std::move(args), {}, _log_path});
    }
    ~serve_process() { stop(60); }
    serve_process(const serve_process&) = delete;
    serve_process& operator=(const serve_process&) = delete;

    // The router's URL once every engine is ready. Throws error naming serve's own failure when it exits first,
    // or deadline_exceeded.
    std::string wait_ready(double timeout_s) {
        const auto t0 = clock_type::now();
        while (seconds_since(t0) < timeout_s) {
            if (const std::optional<std::string> url = router_url_of(file_text(_log_path))) {
                return *url;
            }
            if (const std::optional<int> code = fleet::try_reap(_pid)) {
                _pid = -1;
                throw error(status_code::unavailable, fmt::format("serve exited ({}): {}", fleet::describe_exit(*code),
                                                                  serve_failure_of(file_text(_log_path))));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        throw error(status_code::deadline_exceeded, fmt::format("serve not ready after {} s (log {}): {}", timeout_s,
                                                                _log_path, serve_failure_of(file_text(_log_path))));
    }

    // SIGTERM: serve drains its router and engines and quits the MPS daemons; SIGKILL after timeout_s (the
    // engines still die with it: PR_SET_PDEATHSIG).
    void stop(double timeout_s) {
        if (_pid <= 0) {
            return;
        }
        ::kill(_pid, SIGTERM);
        const auto t0 = clock_type::now();
        while (!fleet::try_reap(_pid)) {
            if (seconds_since(t0) > timeout_s) {
                LLMFLEET_LOG_WARN("serve (pid {}) still runs {} s after SIGTERM: SIGKILL", _pid, timeout_s);
                ::kill(_pid, SIGKILL);
                while (!fleet::try_reap(_pid)) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                }
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        _pid = -1;
    }

private:
    std::string _log_path;
    pid_t _pid = -1;
};

// Engines attached to MPS per GET /fleet/engines (-1 when it cannot be read or nothing reports attachment).
int64_t mps_attached(const std::string& url) {
    serve::http_client client;
    serve::http_client_request request;
    request.method = "GET";
    request.target = "/fleet/engines";
    const serve::http_client_result r = client.fetch(serve::parse_endpoint(url), std::move(request));
    if (r.error != serve::http_client_error::ok || r.status != 200) {
        LLMFLEET_LOG_WARN("GET {}/fleet/engines: {} {}", url, r.status, r.detail);
        return -1;
    }
    return count_mps_attached(nlohmann::json::parse(r.body, nullptr, false));
}

// One bench run against `url`: its figures, or the failure as the row's error.
void run_bench(const matrix_spec& spec, const std::string& url, matrix_row& row) {
    const fleet::run_result r =
        fleet::run_program(spec.llmfleet, bench_command(spec.cell, url, row.workload), {}, "", spec.bench_wall_limit_s);
    if (!r.ok()) {
        row.error = fmt::format("bench {}: {}", r.timed_out ? "timed out" : fleet::describe_exit(r.exit_code),
                                serve_failure_of(r.err));
        return;
    }
    try {
        row.figures = read_bench_report(json_read::parse(r.out, "llmfleet bench's output"));
    } catch (const error& e) {
        row.error = e.what();
    }
}

// Short (MPS pipe sockets under it must fit sun_path's 108 bytes): "<model index>-<engines>[-mps]".
std::string run_dir_name(size_t model_index, const fleet_shape& shape) {
    return fmt::format("{}-{}{}", model_index, shape.n_engines, shape.mps ? "-mps" : "");
}

// The table's name for a model: its directory's name ("/models/qwen2.5-0.5b/" → "qwen2.5-0.5b").
std::string model_label(const std::string& dir) {
    std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
    if (p.filename().empty()) {
        p = p.parent_path();
    }
    return p.filename().string();
}

// One serve for rows[first, first + n) (one model, one shape, every workload): start, measure, stop; on_progress
// after every cell, or once when serve did not start.
void run_fleet(const matrix_spec& spec, size_t model_index, std::vector<matrix_row>& rows, size_t first, size_t n,
               const std::function<void()>& on_progress) {
    const std::string& model = rows[first].model;
    const fleet_shape& shape = rows[first].shape;
    const std::string run_dir = spec.run_root + "/" + run_dir_name(model_index, shape);
    std::filesystem::remove_all(run_dir);
    std::filesystem::create_directories(run_dir);
    std::vector<std::string> args = serve_command(spec.cell, spec.model_dirs[model_index], shape, run_dir);
    args.insert(args.end(), {"--startup-timeout-s", fmt::format("{}", spec.startup_timeout_s)});
    LLMFLEET_LOG_INFO("{}: {}: starting llmfleet {}", model, shape.label(), fmt::join(args, " "));
    const auto t0 = clock_type::now();
    serve_process serve(spec.llmfleet, args, run_dir + "/serve.log");
    std::string url;
    try {
        url = serve.wait_ready(spec.startup_timeout_s + 30);
    } catch (const error& e) {
        LLMFLEET_LOG_ERROR("{}: {}: {}", model, shape.label(), e.what());
        for (size_t i = first; i < first + n; ++i) {
            rows[i].error = e.what();
        }
        on_progress();
        return;
    }
    const double start_s = seconds_since(t0);
    const int64_t n_attached = shape.mps ? mps_attached(url) : -1;
    LLMFLEET_LOG_INFO("{}: {}: ready in {:.1f} s at {}{}", model, shape.label(), start_s, url,
                      shape.mps ? fmt::format(", {}/{} engines attached to MPS", n_attached, shape.n_engines) : "");
    for (size_t i = first; i < first + n; ++i) {
        matrix_row& row = rows[i];
        row.serve_start_s = start_s;
        row.n_mps_attached = n_attached;
        run_bench(spec, url, row);
        LLMFLEET_LOG_INFO("{}: {}: {} x{}: {}", model, shape.label(), row.workload.label(), row.workload.concurrency,
                          row.figures ? fmt::format("{:.2f} req/s, {} failed", row.figures->request_throughput_rps,
                                                    row.figures->n_failed)
                                      : row.error);
        on_progress();
    }
    serve.stop(120);
}

} // namespace

std::vector<matrix_row> run_matrix(const matrix_spec& spec,
                                   const std::function<void(const std::vector<matrix_row>&)>& on_progress) {
    std::vector<matrix_row> rows; // every cell up front: cells the budget leaves out are rows too
    for (const std::string& dir : spec.model_dirs) {
        for (const fleet_shape& shape : spec.shapes) {
            for (const workload_shape& w : spec.workloads) {
                rows.push_back({model_label(dir), shape, w, std::nullopt, "", -1, 0});
            }
        }
    }
    const auto t0 = clock_type::now();
    const size_t n = spec.workloads.size();
    for (size_t first = 0; first < rows.size(); first += n) {
        if (spec.budget_s > 0 && seconds_since(t0) > spec.budget_s) {
            for (size_t i = first; i < first + n; ++i) {
                rows[i].error = fmt::format("not run: the {} s budget (--budget-s) was spent", spec.budget_s);
            }
            continue;
        }
        run_fleet(spec, first / (n * spec.shapes.size()), rows, first, n, [&] { on_progress(rows); });
    }
    return rows;
}

} // namespace llmfleet::bench
