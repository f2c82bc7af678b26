// See serve_matrix.h.
#include "bench/e2e/serve_matrix.h"

#include <cmath>

#include <fmt/format.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::bench {

std::string fleet_shape::label() const {
    if (n_engines == 1) {
        return mps ? "1 engine + MPS" : "1 engine";
    }
    return fmt::format("{} engines{}", n_engines, mps ? " + MPS" : ", no MPS");
}

std::vector<fleet_shape> parse_fleet_shapes(std::string_view csv) {
    std::vector<fleet_shape> shapes;
    for (const std::string_view raw : split(csv, ',')) {
        const std::string_view item = trim(raw);
        const size_t colon = item.find(':');
        fleet_shape s;
        s.n_engines = parse_int(item.substr(0, colon), "--fleets: engine count");
        if (colon != std::string_view::npos) {
            const std::string_view mode = item.substr(colon + 1);
            if (mode != "mps" && mode != "nomps") {
                throw invalid_input(fmt::format("--fleets: '{}': expected N, N:mps or N:nomps", item));
            }
            s.mps = mode == "mps";
        }
        if (s.n_engines < 1 || s.n_engines > 48) {
            throw invalid_input(
                fmt::format("--fleets: '{}': engines per GPU must be 1..48 (MPS's client limit)", item));
        }
        shapes.push_back(s);
    }
    return shapes;
}

std::string workload_shape::label() const {
    return fmt::format("{}/{}", input_len, output_len);
}

std::vector<workload_shape> parse_workloads(std::string_view csv, int64_t default_concurrency) {
    std::vector<workload_shape> out;
    for (const std::string_view raw : split(csv, ',')) {
        const std::string_view item = trim(raw);
        const size_t x = item.find('x');
        const size_t at = item.find('@');
        if (x == std::string_view::npos || (at != std::string_view::npos && at < x)) {
            throw invalid_input(fmt::format("--workloads: '{}': expected INPUTxOUTPUT[@CONCURRENCY], e.g. 128x128 or "
                                            "1024x16@32",
                                            item));
        }
        workload_shape w;
        w.input_len = parse_int(item.substr(0, x), "--workloads: input tokens");
        w.output_len =
            parse_int(item.substr(x + 1, at == std::string_view::npos ? at : at - x - 1), "--workloads: output tokens");
        w.concurrency = at == std::string_view::npos ? default_concurrency
                                                     : parse_int(item.substr(at + 1), "--workloads: concurrency");
        if (w.input_len < 1 || w.output_len < 1 || w.concurrency < 1) {
            throw invalid_input(fmt::format("--workloads: '{}': lengths and concurrency must be ≥ 1", item));
        }
        out.push_back(w);
    }
    return out;
}

std::string_view to_string(host_kind kind) {
    return kind == host_kind::cpu ? "cpu" : "gpu";
}

host_kind parse_host_kind(std::string_view text) {
    if (text == "cpu") {
        return host_kind::cpu;
    }
    if (text == "gpu") {
        return host_kind::gpu;
    }
    throw invalid_input(fmt::format("--host-kind: expected cpu or gpu, got '{}'", text));
}

void check_fleet_shape(host_kind host, const fleet_shape& shape) {
    if (host == host_kind::cpu && shape.mps) {
        throw invalid_input(fmt::format("--fleets: '{}' needs a GPU (MPS); on a CPU host use counts only, or "
                                        "--host-kind gpu",
                                        shape.label()));
    }
}

std::vector<std::string> serve_command(const cell_settings& s, const std::string& model_dir, const fleet_shape& shape,
                                       const std::string& run_dir) {
    check_fleet_shape(s.host, shape);
    std::vector<std::string> args{"serve", "--model", model_dir, "--port", "0", "--run-dir", run_dir};
    const std::string n = std::to_string(shape.n_engines);
    if (s.host == host_kind::cpu) {
        args.insert(args.end(), {"--engines", n});
    } else {
        args.insert(args.end(), {"--gpus", s.gpu, "--engines-per-gpu", n, "--mps", shape.mps ? "on" : "off"});
    }
    args.insert(args.end(), s.serve_args.begin(), s.serve_args.end());
    return args;
}

std::vector<std::string> bench_command(const cell_settings& s, const std::string& url, const workload_shape& w) {
    return {"bench",
            "--url",
            url,
            "--request-rate",
            "inf",
            "--max-concurrency",
            std::to_string(w.concurrency),
            "--num-requests",
            std::to_string(s.n_requests),
            "--input-len",
            std::to_string(w.input_len),
            "--output-len",
            std::to_string(w.output_len),
            "--ignore-eos",
            "--warmup",
            std::to_string(s.n_warmup),
            "--seed",
            std::to_string(s.seed),
            "--timeout-s",
            fmt::format("{}", s.bench_timeout_s),
            "--output",
            "json",
            "--no-progress"};
}

std::optional<std::string> router_url_of(std::string_view serve_output) {
    constexpr std::string_view marker = "behind the router on ";
    const size_t at = serve_output.find(marker);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    const size_t begin = at + marker.size();
    const size_t end = serve_output.find_first_of(" \n", begin);
    if (end == std::string_view::npos) {
        return std::nullopt; // the line is still being written
    }
    return std::string(serve_output.substr(begin, end - begin));
}

std::string serve_failure_of(std::string_view serve_output) {
    std::string_view final_error, logged_error, last;
    for (const std::string_view raw : split(serve_output, '\n')) {
        const std::string_view line = trim(raw);
        if (line.empty()) {
            continue;
        }
        last = line;
        if (line.starts_with("error: ")) {
            final_error = line;
        } else if (line.find("[error]") != std::string_view::npos) {
            logged_error = line;
        }
    }
    const std::string_view pick = !final_error.empty() ? final_error : !logged_error.empty() ? logged_error : last;
    return std::string(pick.substr(0, 400));
}

int64_t count_mps_attached(const nlohmann::json& fleet_engines) {
    int64_t n_reported = 0, n_attached = 0;
    if (fleet_engines.is_object() && fleet_engines.contains("engines") && fleet_engines["engines"].is_array()) {
        for (const nlohmann::json& e : fleet_engines["engines"]) {
            if (e.contains("mps_attached") && e["mps_attached"].is_boolean()) {
                ++n_reported;
                n_attached += e["mps_attached"].get<bool>() ? 1 : 0;
            }
        }
    }
    return n_reported == 0 ? -1 : n_attached;
}

bench_figures read_bench_report(const nlohmann::json& report) {
    namespace jr = json_read;
    constexpr std::string_view path = "bench report";
    const std::string schema = jr::string(jr::member(report, "schema", path), "bench report.schema");
    if (schema != "llmfleet.bench.v1") {
        throw invalid_input(fmt::format("bench report: schema \"{}\", expected \"llmfleet.bench.v1\" (from `llmfleet "
                                        "bench --output json`)",
                                        schema));
    }
    const auto number = [&](const nlohmann::json& obj, std::string_view obj_path, std::string_view key) {
        return jr::number(jr::member(obj, key, obj_path), jr::child(obj_path, key));
    };
    bench_figures f;
    f.n_completed = jr::integer(jr::member(report, "completed", path), "bench report.completed");
    f.n_failed = jr::integer(jr::member(report, "failed", path), "bench report.failed");
    for (const auto& [reason, count] : jr::member(report, "failed_by_reason", path).items()) {
        f.failures += fmt::format("{}{} ×{}", f.failures.empty() ? "" : ", ", reason,
                                  jr::integer(count, jr::child("bench report.failed_by_reason", reason)));
    }
    f.duration_s = number(report, path, "duration_s");
    f.request_throughput_rps = number(report, path, "request_throughput_rps");
    f.output_token_throughput_tps = number(report, path, "output_token_throughput_tps");
    f.total_token_throughput_tps = number(report, path, "total_token_throughput_tps");
    const nlohmann::json& ttft = jr::member(report, "ttft_ms", path);
    const nlohmann::json& tpot = jr::member(report, "tpot_ms", path);
    f.ttft_p50_ms = number(ttft, "bench report.ttft_ms", "p50");
    f.ttft_p99_ms = number(ttft, "bench report.ttft_ms", "p99");
    f.tpot_p50_ms = number(tpot, "bench report.tpot_ms", "p50");
    f.tpot_p99_ms = number(tpot, "bench report.tpot_ms", "p99");
    return f;
}

std::optional<double> gain_pct(const std::vector<matrix_row>& rows, size_t i) {
    const matrix_row& row = rows.at(i);
    if (!row.figures) {
        return std::nullopt;
    }
    for (size_t j = 0; j < rows.size(); ++j) {
        const matrix_row& base = rows[j];
        const workload_shape &w = base.workload, &v = row.workload;
        if (base.model != row.model || w.input_len != v.input_len || w.output_len != v.output_len ||
            w.concurrency != v.concurrency || base.shape.n_engines != 1 || !base.figures) {
            continue;
        }
        if (j == i || base.figures->request_throughput_rps <= 0) {
            return std::nullopt;
        }
        return 100.0 * (row.figures->request_throughput_rps / base.figures->request_throughput_rps - 1.0);
    }
    return std::nullopt;
}

namespace {

std::string notes_of(const matrix_row& r) {
    std::vector<std::string> notes;
    if (!r.error.empty()) {
        notes.push_back(r.error);
    }
    if (r.figures && r.figures->n_failed > 0) {
        notes.push_back(fmt::format("{} failed ({})", r.figures->n_failed, r.figures->failures));
    }
    if (r.shape.mps && r.n_mps_attached >= 0) {
        notes.push_back(fmt::format("{}/{} attached to MPS", r.n_mps_attached, r.shape.n_engines));
    }
    std::string out;
    for (const std::string& n : notes) {
        out += (out.empty() ? "" : "; ") + n;
    }
    // A cell of a Markdown table cannot hold a '|' or a line break.
    for (char& c : out) {
        c = c == '|' ? '/' : (c == '\n' ? ' ' : c);
    }
    return out;
}

} // namespace

std::string to_markdown(const std::vector<matrix_row>& rows) {
    std::string out = "| model | in/out (users) | fleet | req/s | output tok/s | TTFT p50 / p99 (ms) | "
                      "TPOT p50 / p99 (ms) | gain | notes |\n"
                      "|---|---|---|---:|---:|---:|---:|---:|---|\n";
    for (size_t i = 0; i < rows.size(); ++i) {
        const matrix_row& r = rows[i];
        out +=
            fmt::format("| {} | {} ({}) | {} | ", r.model, r.workload.label(), r.workload.concurrency, r.shape.label());
        if (r.figures) {
            const bench_figures& f = *r.figures;
            const std::optional<double> gain = gain_pct(rows, i);
            out += fmt::format("{:.2f} | {:.0f} | {:.1f} / {:.1f} | {:.2f} / {:.2f} | {} | ", f.request_throughput_rps,
                               f.output_token_throughput_tps, f.ttft_p50_ms, f.ttft_p99_ms, f.tpot_p50_ms,
                               f.tpot_p99_ms, gain ? fmt::format("{:+.0f}%", *gain) : std::string("—"));
        } else {
            out += "— | — | — | — | — | ";
        }
        out += notes_of(r) + " |\n";
    }
    return out;
}

nlohmann::ordered_json to_json(const std::vector<matrix_row>& rows) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (size_t i = 0; i < rows.size(); ++i) {
        const matrix_row& r = rows[i];
        nlohmann::ordered_json j{{"model", r.model},
                                 {"engines", r.shape.n_engines},
                                 {"mps", r.shape.mps},
                                 {"input_len", r.workload.input_len},
                                 {"output_len", r.workload.output_len},
                                 {"concurrency", r.workload.concurrency},
                                 {"serve_start_s", r.serve_start_s},
                                 {"mps_attached", r.n_mps_attached < 0 ? nlohmann::ordered_json()
                                                                       : nlohmann::ordered_json(r.n_mps_attached)},
                                 {"error", r.error}};
        if (r.figures) {
            const bench_figures& f = *r.figures;
            const std::optional<double> gain = gain_pct(rows, i);
            j.update(
                nlohmann::ordered_json{{"completed", f.n_completed},
                                       {"failed", f.n_failed},
                                       {"failures", f.failures},
                                       {"duration_s", f.duration_s},
                                       {"request_throughput_rps", f.request_throughput_rps},
                                       {"output_token_throughput_tps", f.output_token_throughput_tps},
                                       {"total_token_throughput_tps", f.total_token_throughput_tps},
                                       {"ttft_p50_ms", f.ttft_p50_ms},
                                       {"ttft_p99_ms", f.ttft_p99_ms},
                                       {"tpot_p50_ms", f.tpot_p50_ms},
                                       {"tpot_p99_ms", f.tpot_p99_ms},
                                       {"gain_pct", gain ? nlohmann::ordered_json(*gain) : nlohmann::ordered_json()}});
        }
        out.push_back(std::move(j));
    }
    return out;
}

} // namespace llmfleet::bench
