// `llmfleet profile`: measures a running server's capacity per (input × output) bucket. Flags → profile_config →
// GET /v1/models → for each bucket the rate search over loadgen probes (a progress line per probe on stderr) →
// the table on stdout, the planner profile (llmfleet.profile.v1) to --out, the calibration to --calibration-out.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "common/error.h"
#include "common/log.h"
#include "planner/profile.h"
#include "serve/profiler/calibration.h"
#include "serve/profiler/probe_runner.h"
#include "serve/profiler/profile_session.h"
#include "tools/commands.h"

namespace llmfleet::tools {

namespace {

using namespace llmfleet::profiler;

struct profile_flags {
    profile_config config;
    std::string endpoint = "completions";
    std::string input_edges;
    std::string output_edges;
    bool quiet = false;
};

void write_text_file(const std::string& path, const std::string& text, std::string_view flag) {
    std::ofstream out(path);
    if (!(out << text << "\n")) {
        throw error(
            status_code::unavailable,
            fmt::format("{}: cannot write '{}'; hint: check that the folder exists and is writable", flag, path));
    }
}

std::string slo_text(const slo_target& slo) {
    std::string text = fmt::format("TPOT p{:g} ≤ {:g} ms", slo.percentile, slo.tpot_ms);
    if (slo.ttft_ms > 0) {
        text += fmt::format(", TTFT p{:g} ≤ {:g} ms", slo.percentile, slo.ttft_ms);
    }
    return text;
}

// "  in 12 / out 6: 40 req/s → held (TPOT p90 1.20 ms, TTFT p90 3.40 ms, served 39.1 of 40.2 req/s sent)"
void print_probe(int64_t input_tokens, int64_t output_tokens, const probe_record& r, double percentile) {
    const probe_measurement& m = r.measurement;
    const std::string rate = m.point.closed_loop ? "closed loop" : fmt::format("{:.4g} req/s", m.point.rate_rps);
    const std::string tpot = m.tpot_slo_ms ? fmt::format("{:.2f} ms", *m.tpot_slo_ms) : "-";
    const std::string served = m.point.closed_loop
                                   ? fmt::format("served {:.4g} req/s one at a time", m.achieved_rps)
                                   : fmt::format("served {:.4g} of {:.4g} req/s sent", m.achieved_rps, m.sent_rps);
    fmt::print(stderr, "  in {} / out {}: {} → {} (TPOT p{:g} {}, TTFT p{:g} {:.2f} ms, {})\n", input_tokens,
               output_tokens, rate, r.verdict.held ? "held" : "failed: " + r.verdict.reason, percentile, tpot,
               percentile, m.ttft_slo_ms, served);
}

int run_profile(profile_flags& f) {
    profile_config& c = f.config;
    c.endpoint = loadgen::parse_api_endpoint(f.endpoint);
    if (f.input_edges.empty() || f.output_edges.empty()) {
        throw invalid_input(fmt::format("--input-edges / --output-edges: expected bucket edges such as 1,64,256 "
                                        "(tokens), got `{}` / `{}`",
                                        f.input_edges, f.output_edges));
    }
    c.input_edges = planner::parse_bucket_edges(f.input_edges, "--input-edges");
    c.output_edges = planner::parse_bucket_edges(f.output_edges, "--output-edges");
    if (c.api_key.empty()) {
        if (const char* key = std::getenv("OPENAI_API_KEY"); key != nullptr) {
            c.api_key = key;
        }
    }
    validate(c);

    loadgen_prober prober(c);
    const std::string model = prober.connect(); // throws (exit 1) when the server cannot be reached
    fmt::print(stderr,
               "llmfleet profile: {}×{} buckets against {} (model `{}`, GPU {}), SLO {}, served ≥ {:g} × sent, "
               "rates {:g}..{:g} req/s, tolerance {:g}, ≤ {} probes per bucket, ≤ {} requests per probe, seed {}\n",
               c.input_edges.n_buckets(), c.output_edges.n_buckets(), c.url, model, c.gpu_name, slo_text(c.slo),
               c.slo.min_throughput_ratio, c.search.min_rate_rps, c.search.max_rate_rps, c.search.tolerance,
               c.search.max_probes, c.requests_per_probe, c.seed);

    bucket_probe_observer observe;
    if (!f.quiet) {
        observe = [&c](int64_t in, int64_t out, const probe_record& r) { print_probe(in, out, r, c.slo.percentile); };
    }
    const std::vector<bucket_result> results = profile_buckets(
        c, [&prober](int64_t in, int64_t out, const probe_point& p) { return prober.measure(in, out, p); }, observe);

    fmt::print("{}", results_table(c, results));
    for (const bucket_result& b : results) {
        if (b.search.outcome == search_outcome::cannot_serve || b.search.outcome == search_outcome::below_min_rate) {
            LLMFLEET_LOG_WARN("bucket in {} / out {} tokens: max rate 0 ({}): {}", b.input_tokens, b.output_tokens,
                              to_string(b.search.outcome), b.search.probes.back().verdict.reason);
        } else if (b.search.outcome == search_outcome::probe_limit) {
            LLMFLEET_LOG_WARN(
                "bucket in {} / out {} tokens: {} probes did not narrow the rate to ±{:g} (held at {:.4g}, "
                "failed at {:.4g} req/s); hint: raise --max-probes or --tolerance",
                b.input_tokens, b.output_tokens, b.search.probes.size(), c.search.tolerance, b.search.max_rps,
                b.search.failed_rps);
        }
    }

    const std::string source = fmt::format("llmfleet profile of {} (model {}, {})", c.url, model, slo_text(c.slo));
    if (!c.out_path.empty()) {
        write_text_file(c.out_path, planner::profile_to_json(make_profile(c, results, source)), "--out");
        fmt::print(stderr, "profile written to {}\n", c.out_path);
    } else {
        LLMFLEET_LOG_WARN("no --out: the profile was not saved (`llmfleet plan --profile FILE` reads it)");
    }
    if (!c.calibration_out_path.empty()) {
        const std::vector<calibration_point> points = calibration_points(results);
        const calibration_fit fit = fit_calibration(points);
        write_text_file(c.calibration_out_path, calibration_to_json({c.url, model, c.gpu_name, c.slo}, points, fit),
                        "--calibration-out");
        fmt::print(stderr,
                   "calibration written to {}: decode step {:.3f} ms + {:.3f} ms × batch, prefill {:.4f} ms "
                   "per prompt token\n",
                   c.calibration_out_path, fit.decode_step.intercept, fit.decode_step.slope, fit.prefill.slope);
        for (const std::string& w : fit.warnings) {
            LLMFLEET_LOG_WARN("calibration: {}", w);
        }
    }
    return 0;
}

} // namespace

command add_profile_command(CLI::App& app) {
    auto f = std::make_shared<profile_flags>();
    profile_config& c = f->config;
    CLI::App* sub = app.add_subcommand("profile", "Measure a running server's max request rate per (input × output) "
                                                  "bucket under a TPOT / TTFT SLO: the profile `llmfleet plan` reads");
    sub->add_option("--url", c.url, "Server base URL, http://HOST:PORT")->capture_default_str();
    sub->add_option("--gpu-name", c.gpu_name, "GPU type the server runs on: the profile's key (e.g. A10G)");
    sub->add_option("--input-edges", f->input_edges, "Prompt-length bucket edges, tokens, e.g. 1,64,256");
    sub->add_option("--output-edges", f->output_edges, "Output-length bucket edges, tokens, e.g. 1,16,64");
    sub->add_option("--slo-tpot-ms", c.slo.tpot_ms, "Time per output token at the percentile, ms")
        ->capture_default_str();
    sub->add_option("--slo-ttft-ms", c.slo.ttft_ms, "Time to first token at the percentile, ms (0: not checked)")
        ->capture_default_str();
    sub->add_option("--percentile", c.slo.percentile, "Percentile the SLO applies to")->capture_default_str();
    sub->add_option("--min-throughput-ratio", c.slo.min_throughput_ratio,
                    "A rate holds only if the served rate is at least this fraction of the sent rate")
        ->capture_default_str();
    sub->add_option("--requests-per-probe", c.requests_per_probe, "Requests of one open-loop probe at most")
        ->capture_default_str();
    sub->add_option("--closed-loop-requests", c.closed_loop_requests, "Requests of the one-at-a-time probe")
        ->capture_default_str();
    sub->add_option("--max-rate-rps", c.search.max_rate_rps, "Highest rate offered (reaching it ends the search)")
        ->capture_default_str();
    sub->add_option("--min-rate-rps", c.search.min_rate_rps, "Lowest rate offered (below it: max rate 0)")
        ->capture_default_str();
    sub->add_option("--tolerance", c.search.tolerance, "Relative width the bisection stops at")->capture_default_str();
    sub->add_option("--growth-factor", c.search.growth_factor, "Rate step while bracketing")->capture_default_str();
    sub->add_option("--max-probes", c.search.max_probes, "Probes per bucket at most")->capture_default_str();
    sub->add_option("--max-probe-s", c.max_probe_s, "An open-loop probe's arrivals span about this long at most")
        ->capture_default_str();
    sub->add_option("--timeout-s", c.timeout_s, "Longest wait for the next response byte")->capture_default_str();
    sub->add_option("--endpoint", f->endpoint, "completions | chat")->capture_default_str();
    sub->add_option("--model", c.model, "Model id to send (default: the first id of GET /v1/models)");
    sub->add_option("--api-key", c.api_key, "Send `Authorization: Bearer KEY` (default: $OPENAI_API_KEY)");
    sub->add_option("--vocab-size", c.vocab_size, "Prompt token ids are uniform below this")->capture_default_str();
    sub->add_option("--seed", c.seed, "Seed of arrivals and prompts")->capture_default_str();
    sub->add_option("--out", c.out_path, "Write the profile JSON (llmfleet.profile.v1) here");
    sub->add_option("--calibration-out", c.calibration_out_path,
                    "Write the measured points and the step-time fit (llmfleet.calibration.v1) here");
    sub->add_flag("--quiet", f->quiet, "No progress line per probe");
    return command{sub, [f] { return run_profile(*f); }};
}

} // namespace llmfleet::tools
