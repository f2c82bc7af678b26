// A fixed pool of worker threads for data-parallel loops (the CPU forward pass): parallel_for splits
// [0, n) into contiguous ranges, runs them on the workers and the calling thread, and returns when all are
// done. An exception thrown by a range is rethrown in the caller (STYLE.md §5: workers keep exception_ptr).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace llmfleet {

class thread_pool {
public:
    // n_threads ≥ 1 counts the calling thread: n_threads − 1 workers are started.
    explicit thread_pool(int32_t n_threads);
    ~thread_pool();
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    int32_t n_threads() const { return static_cast<int32_t>(_workers.size()) + 1; }

    // Runs fn(begin, end) over disjoint ranges covering [0, n), at most one range per thread, each at least
    // min_chunk long. not thread-safe: one parallel_for at a time (the engine thread).
    void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

private:
    void worker_loop(int32_t index);
    void run_range(int32_t index);

    std::vector<std::thread> _workers;
    std::mutex _mutex;
    std::condition_variable _start, _done;
    uint64_t _generation = 0; // guarded by _mutex: bumped per parallel_for
    int32_t _n_pending = 0;   // guarded by _mutex: workers still running this generation
    bool _stopping = false;   // guarded by _mutex
    const std::function<void(int64_t, int64_t)>* _fn = nullptr;
    int64_t _n = 0, _chunk = 0; // the current loop: range i is [i·_chunk, min(n, (i+1)·_chunk))
    std::exception_ptr _error;  // guarded by _mutex: the first exception of this generation
};

// Threads to use by default: the hardware threads, or LLMFLEET_THREADS when set.
int32_t default_thread_count();

} // namespace llmfleet
