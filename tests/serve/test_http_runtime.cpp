// Tests of serve/http/io_runtime: an http_server and an http_client sharing one event loop (the router's layout).
// A proxy on a one-thread runtime forwards a request from inside its handler and answers from on_complete: the
// handler and every client callback run on that one thread; shutdown with exchanges in flight (client first, then
// server, then runtime, and the server first) completes everything without hanging.
#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "serve/http/http_client.h"
#include "serve/http/io_runtime.h"

namespace llmfleet::serve {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

http_endpoint local(uint16_t port) {
    return {"127.0.0.1", port};
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = steady::now() + timeout;
    while (!condition() && steady::now() < deadline) {
        std::this_thread::sleep_for(2ms);
    }
    return condition();
}

http_client_options client_on(std::shared_ptr<io_runtime> runtime) {
    http_client_options options;
    options.runtime = std::move(runtime);
    return options;
}

http_server_options server_on(std::shared_ptr<io_runtime> runtime) {
    http_server_options options;
    options.runtime = std::move(runtime);
    options.n_io_threads = 0; // ignored with a runtime
    return options;
}

// Thread ids seen by the proxy's handler and by the upstream client's callbacks.
struct thread_log {
    std::mutex mutex;
    std::set<std::thread::id> handler, on_head, on_complete; // guarded by mutex
    std::atomic<int> n_not_on_runtime{0};                    // callbacks that ran off the runtime's threads
};

// Routes POST /proxy on `front` to GET /hello on `upstream` through `client`; answers "via:<body>" from
// on_complete, or 502 naming the client error.
void add_proxy_route(http_server& front, http_client& client, io_runtime& runtime, uint16_t upstream, thread_log& log) {
    front.add_route("POST", "/proxy", [&, upstream](const http_request&, std::shared_ptr<http_responder> out) {
        {
            std::lock_guard lock(log.mutex);
            log.handler.insert(std::this_thread::get_id());
        }
        auto body = std::make_shared<std::string>();
        http_exchange_callbacks callbacks;
        callbacks.on_head = [&](const http_response_head&) {
            std::lock_guard lock(log.mutex);
            log.on_head.insert(std::this_thread::get_id());
        };
        callbacks.on_body = [body](std::string_view bytes) { body->append(bytes); };
        callbacks.on_complete = [&, body, out](http_client_error error, const std::string&) {
            {
                std::lock_guard lock(log.mutex);
                log.on_complete.insert(std::this_thread::get_id());
            }
            if (!runtime.on_thread()) {
                log.n_not_on_runtime.fetch_add(1);
            }
            if (error == http_client_error::ok) {
                out->respond(200, "text/plain", "via:" + *body);
            } else {
                out->respond(502, "text/plain", std::string(to_string(error)));
            }
        };
        client.start(local(upstream), {"GET", "/hello", {}, ""}, std::move(callbacks));
    });
}

TEST(io_runtime, threads_and_stop) {
    EXPECT_THROW(io_runtime(0), std::exception);
    io_runtime runtime(2);
    EXPECT_EQ(runtime.n_threads(), 2);
    EXPECT_FALSE(runtime.on_thread());
    EXPECT_FALSE(runtime.stopped());
    runtime.stop();
    EXPECT_TRUE(runtime.stopped());
    runtime.stop(); // idempotent
    EXPECT_TRUE(runtime.stopped());
}

TEST(io_runtime, proxied_request_runs_on_the_one_shared_thread) {
    http_server upstream({});
    upstream.add_route("GET", "/hello", [](const http_request&, std::shared_ptr<http_responder> out) {
        out->respond(200, "text/plain", "hello");
    });
    upstream.start();

    auto runtime = std::make_shared<io_runtime>(1);
    thread_log log;
    http_client proxy_client(client_on(runtime));
    http_server front(server_on(runtime));
    add_proxy_route(front, proxy_client, *runtime, upstream.port(), log);
    front.start();

    http_client outside; // its own thread: drives the front like a user
    for (int i = 0; i < 5; ++i) {
        const http_client_result result = outside.fetch(local(front.port()), {"POST", "/proxy", {}, "{}"});
        ASSERT_EQ(result.error, http_client_error::ok) << result.detail;
        EXPECT_EQ(result.status, 200);
        EXPECT_EQ(result.body, "via:hello");
    }
    std::lock_guard lock(log.mutex);
    ASSERT_EQ(log.handler.size(), 1u);   // one runtime thread ran every handler...
    EXPECT_EQ(log.on_head, log.handler); // ... and every client callback
    EXPECT_EQ(log.on_complete, log.handler);
    EXPECT_EQ(log.n_not_on_runtime.load(), 0);
    EXPECT_FALSE(log.handler.contains(std::this_thread::get_id()));
}

// An upstream that holds every request until released; counts what it received.
struct stalled_upstream {
    stalled_upstream() : server({}) {
        server.add_route("GET", "/hello", [this](const http_request&, std::shared_ptr<http_responder> out) {
            std::lock_guard lock(mutex);
            held.push_back(std::move(out));
        });
        server.start();
    }
    size_t n_held() {
        std::lock_guard lock(mutex);
        return held.size();
    }
    std::mutex mutex;
    std::vector<std::shared_ptr<http_responder>> held; // guarded by mutex
    http_server server;                                // declared last: shut down before `held` goes
};

// Sends `n` proxied requests from a client with its own thread; counts completions and 502s.
struct outside_load {
    outside_load(uint16_t front_port, int n) {
        for (int i = 0; i < n; ++i) {
            http_exchange_callbacks callbacks;
            callbacks.on_head = [this](const http_response_head& head) {
                if (head.status == 502) {
                    n_bad_gateway.fetch_add(1);
                }
            };
            callbacks.on_complete = [this](http_client_error, const std::string&) { n_complete.fetch_add(1); };
            client.start(local(front_port), {"POST", "/proxy", {}, "{}"}, std::move(callbacks));
        }
    }
    std::atomic<int> n_complete{0};
    std::atomic<int> n_bad_gateway{0};
    http_client client; // declared last: destroyed (cancelling what is left) before the counters
};

TEST(io_runtime, shutdown_client_then_server_then_runtime_with_requests_in_flight) {
    constexpr int n_requests = 20;
    stalled_upstream upstream;
    auto runtime = std::make_shared<io_runtime>(1);
    thread_log log;
    auto proxy_client = std::make_unique<http_client>(client_on(runtime));
    auto front = std::make_unique<http_server>(server_on(runtime));
    add_proxy_route(*front, *proxy_client, *runtime, upstream.server.port(), log);
    front->start();

    outside_load load(front->port(), n_requests);
    ASSERT_TRUE(eventually([&] { return upstream.n_held() == n_requests; })) << upstream.n_held();
    EXPECT_EQ(load.n_complete.load(), 0);

    // The client goes first: each exchange completes with cancelled on the runtime, whose handler answers 502.
    proxy_client.reset();
    EXPECT_EQ(log.n_not_on_runtime.load(), 0);
    ASSERT_TRUE(eventually([&] { return load.n_complete.load() == n_requests; })) << load.n_complete.load();
    EXPECT_EQ(load.n_bad_gateway.load(), n_requests);
    EXPECT_TRUE(front->shutdown(1s)); // nothing left in flight to cut
    front.reset();
    EXPECT_FALSE(runtime->stopped()); // neither stops the shared runtime
    EXPECT_EQ(runtime.use_count(), 1);
    runtime.reset(); // the last reference: stops and joins
}

TEST(io_runtime, shutdown_server_first_cuts_its_requests_and_the_client_still_completes) {
    constexpr int n_requests = 20;
    stalled_upstream upstream;
    auto runtime = std::make_shared<io_runtime>(1);
    thread_log log;
    auto proxy_client = std::make_unique<http_client>(client_on(runtime));
    auto front = std::make_unique<http_server>(server_on(runtime));
    add_proxy_route(*front, *proxy_client, *runtime, upstream.server.port(), log);
    front->start();

    outside_load load(front->port(), n_requests);
    ASSERT_TRUE(eventually([&] { return upstream.n_held() == n_requests; })) << upstream.n_held();

    EXPECT_FALSE(front->shutdown(0ms)); // cuts the 20 requests still waiting for the upstream
    front.reset();
    ASSERT_TRUE(eventually([&] { return load.n_complete.load() == n_requests; })) << load.n_complete.load();
    EXPECT_EQ(load.n_bad_gateway.load(), 0); // cut, not answered
    // The exchanges are still live; destroying the client cancels them, and their on_complete (which responds
    // through responders of a server that is gone) runs harmlessly on the runtime.
    proxy_client.reset();
    {
        std::lock_guard lock(log.mutex);
        EXPECT_EQ(log.on_complete.size(), 1u);
    }
    EXPECT_EQ(log.n_not_on_runtime.load(), 0);
    runtime->stop(); // an explicit stop works as well
    EXPECT_TRUE(runtime->stopped());
}

TEST(io_runtime, client_shutdown_after_the_runtime_stopped_completes_on_the_caller) {
    stalled_upstream upstream;
    auto runtime = std::make_shared<io_runtime>(1);
    auto client = std::make_unique<http_client>(client_on(runtime));
    std::atomic<int> n_cancelled{0};
    http_exchange_callbacks callbacks;
    callbacks.on_complete = [&](http_client_error error, const std::string&) {
        if (error == http_client_error::cancelled) {
            n_cancelled.fetch_add(1);
        }
    };
    const std::shared_ptr<http_exchange> handle =
        client->start(local(upstream.server.port()), {"GET", "/hello", {}, ""}, std::move(callbacks));
    ASSERT_TRUE(eventually([&] { return upstream.n_held() == 1; }));
    runtime->stop(); // the owner stopped the loop before destroying the client: nothing runs the cancellation
    client.reset();  // completes it here instead of waiting forever
    EXPECT_EQ(n_cancelled.load(), 1);
    handle->cancel(); // the handle outlives the client and keeps the (stopped) runtime: harmless
}

} // namespace
} // namespace llmfleet::serve
