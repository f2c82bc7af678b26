// Internals shared by the communicator implementations (not part of the API): argument checks, the limit of one
// wait, the "no answer from rank(s) ..." error, and the spin-then-yield-then-sleep back-off of every wait loop.
// Defined in communicator.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace llmfleet::parallel::detail {

// User tags are [0, max_user_tag); implementations keep the tags above for their own messages.
constexpr int32_t max_user_tag = 1 << 20;

// invalid_argument unless 0 ≤ tag < max_user_tag.
void check_tag(int32_t tag, std::string_view op);
// invalid_argument unless 0 ≤ peer < size; role names the argument ("dst", "src", "root").
void check_rank(int32_t peer, int32_t size, std::string_view op, std::string_view role);
// invalid_argument unless count ≥ 0 and buf is non-null when count > 0.
void check_buffer(const void* buf, int64_t count, std::string_view op);

// Seconds on the steady clock.
double now_s();

// The limit of one wait: timeout_s < 0 never expires.
class deadline {
public:
    explicit deadline(double timeout_s);
    bool expired() const;
    double timeout_s() const { return _timeout_s; }

private:
    double _timeout_s;
    double _end_s;
};

// recv's timeout argument: wait_forever_s → none (-1), other values ≤ 0 → the communicator's timeout_s().
double recv_timeout_s(double requested_s, double communicator_timeout_s);

// "1, 3"
std::string join_ranks(const std::vector<int32_t>& ranks);
// deadline_exceeded: "rank 0: no answer from rank(s) 1, 3 within 0.2 s in all_reduce_sum; is it alive?"; without
// missing ranks: "... from the other ranks ...".
error no_answer(int32_t rank, const std::vector<int32_t>& missing, double timeout_s, std::string_view op);

// Between two polls of a wait loop: a few cheap pauses first (an answer within ~a µs is the common case of a
// collective), then yields (ranks may outnumber cores: let the peer run), then short sleeps (a long wait must not
// burn a core that the peer, or another job, needs).
class backoff {
public:
    // n_spins pause instructions, then yields until yield_for_s has passed, then sleeps of sleep_us.
    backoff(int32_t n_spins, double yield_for_s, int32_t sleep_us);
    void pause();
    // Still in the spin phase: the caller may skip its slower checks (clock, probes).
    bool spinning() const { return _n_pauses < _n_spins; }

private:
    int32_t _n_spins;
    double _yield_for_s;
    int32_t _sleep_us;
    int32_t _n_pauses = 0;
    double _yield_start_s = 0;
};

} // namespace llmfleet::parallel::detail
