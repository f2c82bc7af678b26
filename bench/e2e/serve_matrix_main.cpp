// serve_matrix: issue 7's table in one command. For each model, it starts `llmfleet serve` once per fleet shape
// (default: 1 engine, 2 and 3 engines under MPS, 2 engines without MPS on one GPU) and drives each with
// `llmfleet bench` per workload (default: 128 in / 128 out and 1024 in / 16 out, closed loops), then prints one
// Markdown table: throughput, TTFT/TPOT p50/p99 and the gain over one engine. A cell that fails (e.g. the MPS daemon
// cannot run on this machine) is a row with serve's own error; the others are still measured.
//
//   serve_matrix --model /models/qwen2.5-0.5b --model /models/qwen2.5-1.5b [--fleets 1,2:mps,3:mps,2:nomps]
//                [--workloads 128x128,1024x16@32] [--concurrency 64] [--requests 256] [--warmup 8]
//                [--host-kind gpu|cpu] [--gpu 0] [--serve-arg=--gpu-memory-utilization --serve-arg=0.85]
//                [--run-root DIR] [--budget-s S] [--out matrix.json]
//
// Exit codes: 0 every cell measured, 2 some cell failed (see its notes), 1 bad flags.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench/e2e/serve_matrix_run.h"
#include "common/error.h"
#include "common/log.h"
#include "fleet/gpu_inventory.h"

namespace {

using namespace llmfleet;

struct matrix_flags {
    bench::matrix_spec spec;
    std::string fleets = "1,2:mps,3:mps,2:nomps";
    std::string workloads = "128x128,1024x16";
    int64_t concurrency = 64;
    std::string host_kind; // "" → gpu when nvidia-smi lists one
    std::string out;
};

// Writes `text` to path.tmp, then renames it over path: a reader never sees half a file.
void write_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    std::FILE* file = std::fopen(tmp.c_str(), "w");
    if (file == nullptr || std::fwrite(text.data(), 1, text.size(), file) != text.size() || std::fclose(file) != 0) {
        throw invalid_input(fmt::format("--out {}: cannot write {}", path, tmp));
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        throw invalid_input(fmt::format("--out {}: cannot rename {} over it: {}", path, tmp, ec.message()));
    }
}

std::string sibling_llmfleet() {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("llmfleet") : (self.parent_path() / "llmfleet").string();
}

int run(matrix_flags& f) {
    bench::matrix_spec& spec = f.spec;
    spec.shapes = bench::parse_fleet_shapes(f.fleets);
    spec.workloads = bench::parse_workloads(f.workloads, f.concurrency);
    const fleet::gpu_detection host = fleet::detect_gpus();
    spec.cell.host = !f.host_kind.empty() ? bench::parse_host_kind(f.host_kind)
                                          : (host.gpus.empty() ? bench::host_kind::cpu : bench::host_kind::gpu);
    for (const bench::fleet_shape& shape : spec.shapes) { // before any serve starts
        bench::check_fleet_shape(spec.cell.host, shape);
    }
    for (const std::string& dir : spec.model_dirs) {
        if (!std::filesystem::exists(std::filesystem::path(dir) / "config.json")) {
            throw invalid_input(fmt::format("--model {}: no config.json there; hint: llmfleet make-model --preset "
                                            "qwen2.5-0.5b --out {}",
                                            dir, dir));
        }
    }
    if (spec.run_root.empty()) {
        spec.run_root = fmt::format("/tmp/smx-{}", ::getpid()); // short: MPS sockets live under it
    }
    spec.run_root = std::filesystem::absolute(spec.run_root).string();
    LLMFLEET_LOG_INFO("serve_matrix: {} on {} ({}), {} models x {} fleets x {} workloads, {} requests each; logs in {}",
                      spec.llmfleet, bench::to_string(spec.cell.host), fleet::describe_host(host),
                      spec.model_dirs.size(), spec.shapes.size(), spec.workloads.size(), spec.cell.n_requests,
                      spec.run_root);

    // --out is rewritten after every cell, so a run cut short (a time limit on the GPU machine) keeps what it measured.
    const auto save = [&](const std::vector<bench::matrix_row>& rows) {
        if (f.out.empty()) {
            return;
        }
        const nlohmann::ordered_json doc{{"schema", "llmfleet.serve_matrix.v1"},
                                         {"host", fleet::describe_host(host)},
                                         {"host_kind", bench::to_string(spec.cell.host)},
                                         {"settings",
                                          {{"requests", spec.cell.n_requests},
                                           {"warmup", spec.cell.n_warmup},
                                           {"seed", spec.cell.seed},
                                           {"fleets", f.fleets},
                                           {"workloads", f.workloads},
                                           {"serve_args", spec.cell.serve_args}}},
                                         {"rows", bench::to_json(rows)},
                                         {"markdown", bench::to_markdown(rows)}};
        write_atomically(f.out, doc.dump(2) + "\n");
    };
    const std::vector<bench::matrix_row> rows = bench::run_matrix(spec, save);
    save(rows);
    fmt::print("{}", bench::to_markdown(rows));
    std::fflush(stdout);
    for (const bench::matrix_row& r : rows) {
        if (!r.figures || r.figures->n_failed > 0) {
            return 2;
        }
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"serve_matrix: llmfleet serve with 1 engine vs several (with and without MPS), measured with "
                 "llmfleet bench"};
    matrix_flags f;
    f.spec.llmfleet = sibling_llmfleet();
    app.add_option("--model", f.spec.model_dirs, "Model directory (repeatable; one table block each)")->required();
    app.add_option("--llmfleet", f.spec.llmfleet, "The llmfleet binary")->capture_default_str();
    app.add_option("--fleets", f.fleets, "Fleet shapes: N (no MPS), N:mps, N:nomps")->capture_default_str();
    app.add_option("--workloads", f.workloads, "INPUTxOUTPUT[@USERS], comma-separated")->capture_default_str();
    app.add_option("--concurrency", f.concurrency, "Closed-loop users where a workload names none")
        ->capture_default_str();
    app.add_option("--requests", f.spec.cell.n_requests, "Measured requests per cell")->capture_default_str();
    app.add_option("--warmup", f.spec.cell.n_warmup, "Unmeasured requests per cell first")->capture_default_str();
    app.add_option("--seed", f.spec.cell.seed, "bench --seed")->capture_default_str();
    app.add_option("--host-kind", f.host_kind, "gpu | cpu (default: gpu when nvidia-smi lists one)");
    app.add_option("--gpu", f.spec.cell.gpu, "serve --gpus on a GPU host")->capture_default_str();
    app.add_option("--serve-arg", f.spec.cell.serve_args, "A flag for every serve, as is (repeatable)");
    app.add_option("--run-root", f.spec.run_root, "Where each serve's run directory and log go (kept)");
    app.add_option("--startup-timeout-s", f.spec.startup_timeout_s, "serve launch to all engines ready")
        ->capture_default_str();
    app.add_option("--budget-s", f.spec.budget_s,
                   "Start no serve after this many seconds; later cells are 'not run' "
                   "(0: no budget)")
        ->capture_default_str();
    app.add_option("--out", f.out,
                   "Also write the rows as JSON (llmfleet.serve_matrix.v1), rewritten after every cell");
    CLI11_PARSE(app, argc, argv);
    init_logging();
    try {
        return run(f);
    } catch (const error& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 1;
    }
}
