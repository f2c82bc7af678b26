// io_runtime: an io_context kept busy by a work guard and run by its threads (an exception escaping a handler is
// logged and the thread runs on); stop() drops the guard, stops the loop and joins.
#include "serve/http/io_runtime.h"

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "common/check.h"
#include "common/error.h"
#include "common/log.h"
#include "serve/http/io_runtime_internal.h"

namespace llmfleet::serve {

namespace asio = boost::asio;

namespace {
thread_local const void* t_runtime = nullptr; // the runtime whose thread this is
} // namespace

struct io_runtime::impl {
    asio::io_context ioc;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{ioc.get_executor()};
    std::string name;
    int n_threads = 0;
    std::mutex stop_mutex;            // serializes stop()
    std::vector<std::thread> threads; // guarded by stop_mutex after construction
    std::atomic<bool> stopped{false};
};

io_runtime::io_runtime(int n_threads, const char* name) {
    if (n_threads < 1) {
        throw invalid_input(fmt::format("io runtime `{}`: n_threads must be >= 1, got {}", name, n_threads));
    }
    _impl = std::make_unique<impl>();
    _impl->name = name;
    _impl->n_threads = n_threads;
    for (int i = 0; i < n_threads; ++i) {
        _impl->threads.emplace_back([impl = _impl.get()] {
            t_runtime = impl;
            for (;;) {
                try {
                    impl->ioc.run();
                    return;
                } catch (const std::exception& e) {
                    LLMFLEET_LOG_ERROR("{}: io thread caught an exception (continuing): {}", impl->name, e.what());
                }
            }
        });
    }
}

io_runtime::~io_runtime() {
    stop();
}

void io_runtime::stop() {
    LLMFLEET_CHECK(!on_thread(),
                   "io runtime `{}` stopped or destroyed from one of its own threads (it joins them); "
                   "drop the last reference from another thread",
                   _impl->name);
    std::lock_guard lock(_impl->stop_mutex);
    if (_impl->stopped.load()) {
        return;
    }
    _impl->work.reset();
    _impl->ioc.stop();
    for (std::thread& thread : _impl->threads) {
        thread.join();
    }
    _impl->threads.clear();
    _impl->stopped.store(true);
}

bool io_runtime::stopped() const {
    return _impl->stopped.load();
}

bool io_runtime::on_thread() const {
    return t_runtime == _impl.get();
}

int io_runtime::n_threads() const {
    return _impl->n_threads;
}

asio::io_context& io_context_of(io_runtime& runtime) {
    return runtime._impl->ioc;
}

} // namespace llmfleet::serve
