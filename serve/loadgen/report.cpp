// Aggregation of request records into a bench_report, and its JSON and text forms.
#include "serve/loadgen/report.h"

#include <cmath>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace llmfleet::loadgen {

namespace {

using json = nlohmann::ordered_json;

json summary_json(const metric_summary& s) {
    return {{"n", s.n}, {"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"max", s.max}};
}

json settings_json(const bench_config& c, const std::string& model) {
    json rate = nullptr;
    if (!std::isinf(c.request_rate_rps)) {
        rate = c.request_rate_rps;
    }
    return {{"url", c.url},
            {"endpoint", to_string(c.endpoint)},
            {"model", model},
            {"num_requests", c.n_requests},
            {"request_rate_rps", rate},
            {"arrivals", to_string(c.arrivals)},
            {"burstiness", c.burstiness},
            {"max_concurrency", c.max_concurrency},
            {"dataset", to_string(c.dataset)},
            {"trace", c.trace_path},
            {"input_len", c.input_len},
            {"output_len", c.output_len},
            {"range_ratio", c.range_ratio},
            {"max_input_len", c.max_input_len},
            {"max_output_len", c.max_output_len},
            {"seed", c.seed},
            {"vocab_size", c.vocab_size},
            {"stream", c.stream},
            {"ignore_eos", c.ignore_eos},
            {"api_key", !c.api_key.empty()},
            {"timeout_s", c.timeout_s},
            {"warmup", c.n_warmup},
            {"io_threads", c.n_io_threads}};
}

std::string rate_text(double rps) {
    return std::isinf(rps) ? "inf" : fmt::format("{:g}", rps);
}

} // namespace

bench_report make_report(const bench_config& config, std::string model, std::span<const request_record> records,
                         double duration_s, int64_t peak_in_flight) {
    bench_report r;
    r.config = config;
    r.model = std::move(model);
    r.duration_s = duration_s;
    r.peak_in_flight = peak_in_flight;
    std::vector<double> ttft, tpot, itl, e2e;
    for (const request_record& rec : records) {
        if (!rec.ok) {
            ++r.n_failed;
            ++r.failed_by_reason[rec.error_reason];
            r.error_examples.emplace(rec.error_reason, rec.error_detail); // keeps the first
            continue;
        }
        ++r.n_completed;
        r.total_input_tokens += rec.input_tokens;
        r.total_output_tokens += rec.output_tokens;
        ttft.push_back(rec.ttft_s);
        e2e.push_back(rec.e2e_s);
        if (const auto t = rec.tpot_s()) {
            tpot.push_back(*t);
        }
        itl.insert(itl.end(), rec.itl_s.begin(), rec.itl_s.end());
    }
    if (duration_s > 0) {
        r.request_throughput_rps = static_cast<double>(r.n_completed) / duration_s;
        r.input_token_throughput_tps = static_cast<double>(r.total_input_tokens) / duration_s;
        r.output_token_throughput_tps = static_cast<double>(r.total_output_tokens) / duration_s;
        r.total_token_throughput_tps = r.input_token_throughput_tps + r.output_token_throughput_tps;
    }
    r.ttft_ms = summarize(std::move(ttft), 1000.0);
    r.tpot_ms = summarize(std::move(tpot), 1000.0);
    r.itl_ms = summarize(std::move(itl), 1000.0);
    r.e2e_ms = summarize(std::move(e2e), 1000.0);
    return r;
}

std::string to_json_text(const bench_report& r) {
    json out = {{"schema", bench_schema},
                {"settings", settings_json(r.config, r.model)},
                {"duration_s", r.duration_s},
                {"completed", r.n_completed},
                {"failed", r.n_failed},
                {"failed_by_reason", r.failed_by_reason},
                {"error_examples", r.error_examples},
                {"peak_in_flight", r.peak_in_flight},
                {"total_input_tokens", r.total_input_tokens},
                {"total_output_tokens", r.total_output_tokens},
                {"request_throughput_rps", r.request_throughput_rps},
                {"input_token_throughput_tps", r.input_token_throughput_tps},
                {"output_token_throughput_tps", r.output_token_throughput_tps},
                {"total_token_throughput_tps", r.total_token_throughput_tps},
                {"ttft_ms", summary_json(r.ttft_ms)},
                {"tpot_ms", summary_json(r.tpot_ms)},
                {"itl_ms", summary_json(r.itl_ms)},
                {"e2e_ms", summary_json(r.e2e_ms)}};
    return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string to_text(const bench_report& r) {
    const bench_config& c = r.config;
    std::string out =
        fmt::format("llmfleet bench ({}): {}{}, model `{}`\n", bench_schema, c.url, api_path(c.endpoint), r.model);
    std::string lengths = c.dataset == dataset_kind::random
                              ? fmt::format("input {} output {} range {:g}", c.input_len, c.output_len, c.range_ratio)
                              : fmt::format("trace {}", c.trace_path);
    out += fmt::format("  arrivals {} at {} req/s (burstiness {:g}), max concurrency {}, dataset {} ({}), "
                       "stream {}, seed {}\n\n",
                       to_string(c.arrivals), rate_text(c.request_rate_rps), c.burstiness,
                       c.max_concurrency > 0 ? std::to_string(c.max_concurrency) : "unlimited", to_string(c.dataset),
                       lengths, c.stream ? "on" : "off", c.seed);
    out += fmt::format("  {:<28}{:>12}\n", "completed requests", r.n_completed);
    out += fmt::format("  {:<28}{:>12}\n", "failed requests", r.n_failed);
    out += fmt::format("  {:<28}{:>12.3f}\n", "duration (s)", r.duration_s);
    out += fmt::format("  {:<28}{:>12}\n", "peak in flight", r.peak_in_flight);
    out += fmt::format("  {:<28}{:>12}\n", "input tokens", r.total_input_tokens);
    out += fmt::format("  {:<28}{:>12}\n", "output tokens", r.total_output_tokens);
    out += fmt::format("  {:<28}{:>12.2f}\n", "request throughput (req/s)", r.request_throughput_rps);
    out += fmt::format("  {:<28}{:>12.1f}\n", "input throughput (tok/s)", r.input_token_throughput_tps);
    out += fmt::format("  {:<28}{:>12.1f}\n", "output throughput (tok/s)", r.output_token_throughput_tps);
    out += fmt::format("  {:<28}{:>12.1f}\n\n", "total throughput (tok/s)", r.total_token_throughput_tps);
    out +=
        fmt::format("  {:<10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "(ms)", "mean", "p50", "p90", "p99", "max", "n");
    const auto row = [&out](std::string_view name, const metric_summary& s) {
        out += fmt::format("  {:<10}{:>10.2f}{:>10.2f}{:>10.2f}{:>10.2f}{:>10.2f}{:>10}\n", name, s.mean, s.p50, s.p90,
                           s.p99, s.max, s.n);
    };
    row("ttft", r.ttft_ms);
    row("tpot", r.tpot_ms);
    row("itl", r.itl_ms);
    row("e2e", r.e2e_ms);
    if (!r.failed_by_reason.empty()) {
        out += "\n  failures by reason (first example):\n";
        for (const auto& [reason, count] : r.failed_by_reason) {
            out += fmt::format("    {:<20}{:>8}  {}\n", reason, count, r.error_examples.at(reason));
        }
    }
    return out;
}

} // namespace llmfleet::loadgen
