// The `llmfleet` binary: CLI11 app with one subcommand per capability (see commands.h). Expected errors
// (llmfleet::error) print "error: <message>" and exit 1; nothing crashes on bad input.
#include <cstdio>
#include <exception>
#include <vector>

#include <fmt/core.h>

#include "common/error.h"
#include "common/log.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
    llmfleet::init_logging();
    CLI::App app{"llmfleet: serve LLMs at the lowest cost per token that meets latency targets"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "llmfleet 0.1.0");
    const std::vector<llmfleet::tools::command> commands = {
        llmfleet::tools::add_plan_command(app),        llmfleet::tools::add_make_model_command(app),
        llmfleet::tools::add_check_model_command(app), llmfleet::tools::add_generate_command(app),
        llmfleet::tools::add_engine_command(app),      llmfleet::tools::add_router_command(app),
        llmfleet::tools::add_bench_command(app),       llmfleet::tools::add_profile_command(app),
        llmfleet::tools::add_serve_command(app),       llmfleet::tools::add_simulate_command(app),
    };
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        for (const llmfleet::tools::command& c : commands) {
            if (c.app->parsed()) {
                return c.run();
            }
        }
        fmt::print(stderr, "error: no subcommand given; see llmfleet --help\n");
        return 1;
    } catch (const llmfleet::error& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return e.code() == llmfleet::status_code::internal ? 3 : 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "error: unexpected failure: {}\n", e.what());
        return 1;
    }
}
