// Subcommand registry for the `llmfleet` binary: each subcommand lives in its own <name>_command.cpp and
// registers a CLI11 subcommand plus the function that runs it. Later: generate, engine, router, serve,
// bench, simulate, profile.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

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

} // namespace llmfleet::tools
