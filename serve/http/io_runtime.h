// An event loop (an Asio io_context behind a pimpl) run by a fixed set of threads, which an http_server and any
// number of http_clients can share (http_server_options::runtime, http_client_options::runtime). A proxy whose
// server and upstream client share one runtime handles a request and its upstream exchange on the same threads,
// with no cross-thread wakeup between them.
#pragma once

#include <memory>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace llmfleet::serve {

// Lifetime rules:
//  - The threads start on construction and run until stop() (or destruction), which waits for them.
//  - Servers and clients built on a runtime (and the exchange handles a client returns) keep a reference to it;
//    shutting them down never stops it. A runtime stopped before a client on it is destroyed is allowed: the
//    client then completes its exchanges on the destroying thread.
//  - Hold the owning reference until every server and client on the runtime was destroyed, and drop the last
//    reference (or call stop()) from a thread that is not one of the runtime's threads (checked): it joins them.
//  - Handlers still queued when the runtime stops are destroyed with it, without running.
class io_runtime {
public:
    // Starts `n_threads` threads (throws invalid_input unless >= 1). `name` only labels log lines.
    explicit io_runtime(int n_threads, const char* name = "io");
    // Calls stop().
    ~io_runtime();
    io_runtime(const io_runtime&) = delete;
    io_runtime& operator=(const io_runtime&) = delete;

    // Stops the event loop and joins the threads. Thread-safe, idempotent. note: never call from one of the
    // runtime's threads (checked).
    void stop();
    // True once stop() joined the threads. Thread-safe.
    bool stopped() const;
    // True on one of this runtime's threads (a handler or a callback runs here). Thread-safe.
    bool on_thread() const;
    int n_threads() const;

private:
    struct impl;
    friend boost::asio::io_context& io_context_of(io_runtime& runtime);
    std::unique_ptr<impl> _impl;
};

} // namespace llmfleet::serve
