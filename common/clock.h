// Time sources. The engine's scheduler stamps arrivals and waits with a clock it is given, so tests drive it
// with a fake_clock and the simulator with its own event time, while servers use steady_clock_source.
#pragma once

#include <chrono>

namespace llmfleet {

class clock_source {
public:
    virtual ~clock_source() = default;
    virtual double now_s() const = 0; // seconds since an arbitrary epoch; never decreases
};

class steady_clock_source final : public clock_source {
public:
    double now_s() const override {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    }
};

// A clock that moves only when told to (tests). not thread-safe.
class fake_clock final : public clock_source {
public:
    explicit fake_clock(double start_s = 0) : _now_s(start_s) {}
    double now_s() const override { return _now_s; }
    void advance_s(double dt_s) { _now_s += dt_s; }

private:
    double _now_s;
};

} // namespace llmfleet
