// See thread_pool.h.
#include "common/thread_pool.h"

#include <algorithm>
#include <cstdlib>

#include "common/check.h"
#include "common/error.h"
#include "common/text.h"

namespace llmfleet {

thread_pool::thread_pool(int32_t n_threads) {
    LLMFLEET_CHECK(n_threads >= 1, "thread_pool needs ≥ 1 thread, got {}", n_threads);
    for (int32_t i = 1; i < n_threads; ++i) {
        _workers.emplace_back([this, i] { worker_loop(i); });
    }
}

thread_pool::~thread_pool() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _start.notify_all();
    for (std::thread& t : _workers) {
        t.join();
    }
}

void thread_pool::run_range(int32_t index) {
    const int64_t begin = index * _chunk;
    const int64_t end = std::min(_n, begin + _chunk);
    if (begin >= end) {
        return;
    }
    try {
        (*_fn)(begin, end);
    } catch (...) {
        std::lock_guard lock(_mutex);
        if (!_error) {
            _error = std::current_exception();
        }
    }
}

void thread_pool::worker_loop(int32_t index) {
    uint64_t seen = 0;
    while (true) {
        {
            std::unique_lock lock(_mutex);
            _start.wait(lock, [&] { return _stopping || _generation != seen; });
            if (_stopping) {
                return;
            }
            seen = _generation;
        }
        run_range(index);
        std::lock_guard lock(_mutex);
        if (--_n_pending == 0) {
            _done.notify_one();
        }
    }
}

void thread_pool::parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) {
        return;
    }
    const int64_t n_ranges = std::clamp<int64_t>(n / std::max<int64_t>(min_chunk, 1), 1, n_threads());
    if (n_ranges == 1 || _workers.empty()) {
        fn(0, n);
        return;
    }
    {
        std::lock_guard lock(_mutex);
        _fn = &fn;
        _n = n;
        _chunk = (n + n_ranges - 1) / n_ranges;
        _error = nullptr;
        _n_pending = static_cast<int32_t>(_workers.size());
        ++_generation;
    }
    _start.notify_all();
    run_range(0);
    std::unique_lock lock(_mutex);
    _done.wait(lock, [&] { return _n_pending == 0; });
    if (_error) {
        std::rethrow_exception(_error);
    }
}

int32_t default_thread_count() {
    if (const char* env = std::getenv("LLMFLEET_THREADS"); env != nullptr && *env != '\0') {
        const int64_t n = parse_int(env, "LLMFLEET_THREADS");
        if (n < 1 || n > 1024) {
            throw invalid_input(fmt::format("LLMFLEET_THREADS must be in 1..1024, got {}", n));
        }
        return static_cast<int32_t>(n);
    }
    return static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
}

} // namespace llmfleet
