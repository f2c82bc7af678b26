// `llmfleet engine`: the OpenAI-compatible HTTP server over the CPU engine. Prints one startup line (model,
// backend, address) on stdout; SIGTERM / SIGINT stop accepting, drain in-flight requests (up to
// --drain-s), then exit 0.
#include <fmt/core.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>

#include "common/error.h"
#include "common/log.h"
#include "model/chat_template.h"
#include "serve/engine_server/engine_server.h"
#include "tools/commands.h"
#include "tools/engine_setup.h"

namespace llmfleet::tools {

namespace {

struct engine_command_flags {
    engine_flags engine;
    serve::engine_server_options server;
    std::string chat_template;
    int32_t max_pending_requests = 1024;
    double drain_s = 30;
};

int run_engine(engine_command_flags& f) {
    if (f.server.api_key.empty()) {
        if (const char* key = std::getenv("LLMFLEET_API_KEY"); key != nullptr) {
            f.server.api_key = key;
        }
    }
    if (f.server.model_name.empty()) {
        f.server.model_name = std::filesystem::path(f.engine.model_dir()).lexically_normal().filename().string();
        if (f.server.model_name.empty()) { // "dir/" normalises to an empty file name
            f.server.model_name = std::filesystem::path(f.engine.model_dir()).parent_path().filename().string();
        }
    }
    if (!f.chat_template.empty()) {
        f.server.chat_template = model::parse_chat_template(f.chat_template);
    } else {
        try {
            f.server.chat_template = model::detect_chat_template(f.engine.model_dir());
        } catch (const error& e) {
            LLMFLEET_LOG_WARN("chat is off: {} (pass --chat-template chatml|llama3)", e.what());
        }
    }
    built_engine built = build_engine(f.engine);
    if (built.is_follower()) {
        return 0; // another rank of an MPI engine: it followed rank 0 until rank 0 stopped
    }
    const std::string backend = built.engine->runner().describe();
    // A failed step (e.g. a parallel rank died) ends the process with exit 1, through the same path as SIGTERM.
    serve::engine_loop loop(std::move(built.engine),
                            {f.max_pending_requests, [](const std::string&) { std::raise(SIGTERM); }});
    serve::engine_server server(loop, f.server);
    std::future<int> signalled = first_signal(server.http());
    server.start();
    fmt::print("llmfleet engine: serving `{}` on http://{}:{} ({}; max_model_len {}; chat template {}; API key {})\n",
               f.server.model_name, f.server.http.host, server.port(), backend, loop.max_model_len(),
               f.server.chat_template ? std::string(to_string(*f.server.chat_template)) : "none",
               f.server.api_key.empty() ? "off" : "on");
    std::fflush(stdout);
    const int sig = signalled.get();
    LLMFLEET_LOG_INFO("signal {}: stopping (drain up to {} s)", sig, f.drain_s);
    server.http().stop_accepting();
    loop.stop(f.drain_s);
    server.http().shutdown(std::chrono::milliseconds(2000));
    if (const std::string failure = loop.failure(); !failure.empty()) {
        LLMFLEET_LOG_ERROR("the engine failed: {}", failure);
        return 1;
    }
    return 0;
}

} // namespace

command add_engine_command(CLI::App& app) {
    auto f = std::make_shared<engine_command_flags>();
    f->server.http.port = 8000;
    CLI::App* sub = app.add_subcommand("engine", "Serve a model over the OpenAI API (CPU engine)");
    add_engine_flags(sub, f->engine);
    sub->add_option("--host", f->server.http.host, "Address to bind (default: loopback only)")->capture_default_str();
    sub->add_option("--port", f->server.http.port, "Port (0: any free port)")->capture_default_str();
    sub->add_option("--served-model-name", f->server.model_name, "Model id for clients (default: the folder name)");
    sub->add_option("--api-key", f->server.api_key, "Require `Authorization: Bearer KEY` (or LLMFLEET_API_KEY)");
    sub->add_option("--chat-template", f->chat_template, "chatml | llama3 (default: from tokenizer_config.json)");
    sub->add_option("--max-pending-requests", f->max_pending_requests, "In-flight requests before 429")
        ->capture_default_str();
    sub->add_option("--max-body-bytes", f->server.http.max_body_bytes, "Request body limit (413 beyond)")
        ->capture_default_str();
    sub->add_option("--max-connections", f->server.http.max_connections, "Open connections beyond this get 503")
        ->capture_default_str();
    sub->add_option("--drain-s", f->drain_s, "On SIGTERM, let in-flight requests finish for this long")
        ->capture_default_str();
    return command{sub, [f] { return run_engine(*f); }};
}

} // namespace llmfleet::tools
