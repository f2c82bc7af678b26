// Subcommand registry for the `llmfleet` binary: each subcommand lives in its own <name>_command.cpp and
// registers a CLI11 subcommand plus the function that runs it. Later: generate, engine, router, serve,
// bench, simulate, profile.
#pragma once

#include <functional>
#include <future>

#include <CLI/CLI.hpp>

#include "serve/http/http_server.h"

namespace llmfleet::tools {

// Returns the process exit code.
using command_runner = std::function<int()>;

struct command {
    CLI::App* app = nullptr; // the subcommand
    command_runner run;      // called after parsing when this subcommand was chosen
};

// `llmfleet plan`: exit 0 with a plan, 2 when no plan exists (infeasible / time limit), 1 on bad input,
// 3 when the validator rejects the solver's plan (a bug).
command add_plan_command(CLI::App& app);

// `llmfleet make-model`: a random-weight model in the Hugging Face layout. Exit 0, or 1 on bad input.
command add_make_model_command(CLI::App& app);

// `llmfleet check-model`: loads config.json and the weights, validates every tensor, prints a summary.
// Exit 0 when the model is usable, 1 with the first problem otherwise.
command add_check_model_command(CLI::App& app);

// `llmfleet generate`: the CPU engine on --prompt / --chat / --prompt-ids (several → one batch). Exit 0, or 1
// on bad input (bad ids, prompt too long, missing tokenizer for text prompts, bad sampling parameters).
command add_generate_command(CLI::App& app);

// `llmfleet engine`: the OpenAI-compatible server over the CPU engine. Exit 0 after SIGTERM/SIGINT (graceful),
// 1 on bad flags or an unusable model.
command add_engine_command(CLI::App& app);

// `llmfleet router`: the OpenAI-compatible router over pools of engines. Exit 0 after SIGTERM/SIGINT (graceful), 1 on
// bad flags, a bad config or routing table.
command add_router_command(CLI::App& app);

// `llmfleet bench`: a load generator like `vllm bench serve`. Exit 0 when the run completed (even with request
// errors, which it reports by reason), 1 on bad flags or when the server cannot be reached at all.
command add_bench_command(CLI::App& app);

// `llmfleet profile`: measures a running server's max request rate per (input × output) bucket under a TPOT / TTFT
// SLO and writes the planner's profile (and a calibration). Exit 0 when every bucket was searched, 1 on bad flags
// or when the server cannot be reached.
command add_profile_command(CLI::App& app);

// `llmfleet serve`: several supervised engines (per GPU under NVIDIA MPS, or N CPU engines, or what a plan chose for
// this host) behind the router in one process. Exit 0 after SIGTERM/SIGINT (engines drained, MPS daemons quit), 1 on
// bad flags, a missing model, a plan this host cannot serve, or engines that do not start.
command add_serve_command(CLI::App& app);

// `llmfleet simulate`: discrete-event simulation of a plan's fleet over a trace or a Poisson process (the engine's
// scheduler and the router's policies, step times from the performance model). Exit 0 with a report, 1 on bad
// flags, a missing file, a plan without a solution or a plan GPU missing from the catalog.
command add_simulate_command(CLI::App& app);

// A future that gets the first SIGINT/SIGTERM number the server sees (later signals are ignored while stopping).
// note: call before http.start().
std::future<int> first_signal(serve::http_server& http);

} // namespace llmfleet::tools
