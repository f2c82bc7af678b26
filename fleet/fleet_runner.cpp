// See fleet_runner.h.
#include "fleet/fleet_runner.h"

#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/log.h"

namespace llmfleet::fleet {

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace

fleet_runner::fleet_runner(std::unique_ptr<supervisor> sup, double tick_interval_s)
    : _sup(std::move(sup)), _tick_interval_s(tick_interval_s) {
    LLMFLEET_CHECK(_sup != nullptr, "fleet_runner needs a supervisor");
    _thread = std::thread([this] { run(); });
}

fleet_runner::~fleet_runner() {
    shutdown(3600);
    if (_thread.joinable()) {
        _thread.join();
    }
}

void fleet_runner::publish() {
    std::string metrics = _sup->metrics_text();
    std::vector<engine_status> engines = _sup->engines();
    std::vector<domain_status> domains = _sup->domains();
    {
        std::lock_guard lock(_mutex);
        _metrics = std::move(metrics);
        _engines = std::move(engines);
        _domains = std::move(domains);
        _all_ready = _sup->all_ready();
        _stopped = _sup->stopped();
        if (_fatal_problem.empty()) {
            _fatal_problem = _sup->fatal_problem();
        }
    }
    _changed.notify_all();
}

void fleet_runner::run() {
    try {
        _sup->start(now_s());
        publish();
        std::unique_lock lock(_mutex);
        while (true) {
            const bool stop = _stop_requested;
            lock.unlock();
            if (stop && !_sup->shutting_down()) {
                _sup->begin_shutdown(now_s());
            }
            _sup->tick(now_s());
            publish();
            lock.lock();
            if (_sup->stopped()) {
                break;
            }
            _changed.wait_for(lock, std::chrono::duration<double>(_tick_interval_s),
                              [&] { return _stop_requested && !stop; });
        }
    } catch (...) {
        std::lock_guard lock(_mutex);
        _failure = std::current_exception();
    }
    _sup.reset(); // on this thread: whatever still runs is killed by the thread that spawned it
    {
        std::lock_guard lock(_mutex);
        _done = true;
    }
    _changed.notify_all();
}

bool fleet_runner::wait_ready(double timeout_s) {
    std::unique_lock lock(_mutex);
    _changed.wait_for(lock, std::chrono::duration<double>(timeout_s),
                      [&] { return _all_ready || _failure || !_fatal_problem.empty() || _done; });
    if (_failure) {
        std::rethrow_exception(_failure);
    }
    if (!_fatal_problem.empty()) {
        throw error(status_code::unavailable, _fatal_problem);
    }
    if (_done && !_all_ready) {
        throw error(status_code::unavailable, "the fleet stopped before every engine was ready");
    }
    return _all_ready;
}

std::string fleet_runner::not_ready_summary() const {
    std::lock_guard lock(_mutex);
    std::vector<std::string> waiting;
    for (const engine_status& e : _engines) {
        if (e.state != engine_state::ready) {
            waiting.push_back(fmt::format("{} {} ({})", e.name, to_string(e.state), e.reason));
        }
    }
    return fmt::format("{}", fmt::join(waiting, "; "));
}

bool fleet_runner::shutdown(double timeout_s) {
    std::unique_lock lock(_mutex);
    _stop_requested = true;
    _changed.notify_all();
    return _changed.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return _done; }) && _stopped;
}

std::string fleet_runner::metrics_text() const {
    std::lock_guard lock(_mutex);
    return _metrics;
}

std::vector<engine_status> fleet_runner::engines() const {
    std::lock_guard lock(_mutex);
    return _engines;
}

std::vector<domain_status> fleet_runner::domains() const {
    std::lock_guard lock(_mutex);
    return _domains;
}

} // namespace llmfleet::fleet
