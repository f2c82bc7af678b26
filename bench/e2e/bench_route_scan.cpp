// What the router pays per request to read a completion body: the engine's full parse (parse_completion_request,
// a JSON tree and every field validated) against the router's SAX scan of the routing fields (scan_route_fields),
// on the body `llmfleet bench` sends (32 token ids) and on a chat body. Validates that both agree, then times.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "serve/http/openai_request.h"
#include "serve/http/openai_route_scan.h"

namespace {

using namespace llmfleet::serve;

std::string completion_body() {
    std::string ids;
    for (int i = 0; i < 32; ++i) {
        ids += (i ? "," : "") + std::to_string(17 * i % 256);
    }
    return R"({"model":"fixed","prompt":[)" + ids +
           R"(],"max_tokens":16,"ignore_eos":true,"temperature":0,"stream":false})";
}

const std::string chat_body =
    R"({"model":"m","messages":[{"role":"system","content":"You are a helpful assistant."},)"
    R"({"role":"user","content":"Write a haiku about the sea, in English, please."}],"max_tokens":64,"stream":true})";

void check_agree() {
    const auto full = parse_completion_request(completion_body());
    const auto scan = scan_route_fields(completion_body(), false, false);
    const auto* f = std::get_if<completion_request>(&full);
    const auto* s = std::get_if<route_fields>(&scan);
    if (f == nullptr || s == nullptr || s->n_prompt_ids != static_cast<int64_t>(f->prompts[0].token_ids.size()) ||
        s->max_tokens != f->options.max_tokens || s->model != f->model) {
        std::fprintf(stderr, "bench_route_scan: the scan and the full parse disagree\n");
        std::exit(1);
    }
}

void full_parse_completion(benchmark::State& state) {
    const std::string body = completion_body();
    for (auto _ : state) {
        benchmark::DoNotOptimize(parse_completion_request(body));
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void scan_completion(benchmark::State& state) {
    const std::string body = completion_body();
    for (auto _ : state) {
        benchmark::DoNotOptimize(scan_route_fields(body, false, false));
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void full_parse_chat(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(parse_chat_request(chat_body));
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chat_body.size()));
}

void scan_chat(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(scan_route_fields(chat_body, true, false));
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chat_body.size()));
}

BENCHMARK(full_parse_completion);
BENCHMARK(scan_completion);
BENCHMARK(full_parse_chat);
BENCHMARK(scan_chat);

} // namespace

int main(int argc, char** argv) {
    check_agree();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    return 0;
}
