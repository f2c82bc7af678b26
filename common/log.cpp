// stderr logger setup; see log.h.
#include "common/log.h"

#include <cstdlib>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace llmfleet {

void init_logging() {
    static std::once_flag once;
    std::call_once(once, [] {
        auto logger = spdlog::stderr_color_mt("llmfleet");
        logger->set_pattern("%^%L%$ %H:%M:%S.%e %v");
        spdlog::set_default_logger(logger);
        const char* level = std::getenv("LLMFLEET_LOG_LEVEL");
        spdlog::set_level(level ? spdlog::level::from_str(level) : spdlog::level::info);
    });
}

} // namespace llmfleet
