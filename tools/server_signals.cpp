// first_signal (commands.h): the graceful-stop trigger shared by the server subcommands (engine, router).
#include <memory>

#include "tools/commands.h"

namespace llmfleet::tools {

std::future<int> first_signal(serve::http_server& http) {
    auto signalled = std::make_shared<std::promise<int>>();
    http.on_signal([signalled](int sig) {
        try {
            signalled->set_value(sig);
        } catch (const std::future_error&) {
            // a second signal while stopping: the first one is being handled
        }
    });
    return signalled->get_future();
}

} // namespace llmfleet::tools
