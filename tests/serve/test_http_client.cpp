// http_client against the in-repo http_server and scripted raw POSIX servers on 127.0.0.1 (ephemeral ports): whole
// and streamed responses, the request head it sends, keep-alive reuse and the stale-connection retry, 100 exchanges
// at once, every error path (connect, lost connection, idle and fetch timeouts, malformed responses, cancel,
// destruction) with on_complete exactly once, and parse_endpoint.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "serve/http/http_client.h"
#include "tests/test_support.h"

namespace llmfleet::serve {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

http_endpoint local(uint16_t port) {
    return {"127.0.0.1", port};
}

// Polls `condition` until it holds or `timeout` passed; its final value.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = steady::now() + timeout;
    while (!condition() && steady::now() < deadline) {
        std::this_thread::sleep_for(2ms);
    }
    return condition();
}

// One exchange's callbacks, recorded; waits have deadlines so that a bug fails the test instead of hanging it.
struct recorder {
    std::mutex mutex;
    std::condition_variable changed;
    int n_heads = 0;
    int status = 0;
    http_headers headers;
    std::vector<std::string> pieces;
    std::string body;
    int n_completes = 0;
    bool body_after_complete = false;
    http_client_error error = http_client_error::ok;
    std::string detail;
    std::function<void(const std::string& body_so_far)> after_body; // runs on the io thread, unlocked

    static http_exchange_callbacks callbacks(const std::shared_ptr<recorder>& r) {
        http_exchange_callbacks c;
        c.on_head = [r](const http_response_head& head) {
            std::lock_guard lock(r->mutex);
            ++r->n_heads;
            r->status = head.status;
            r->headers = head.headers;
            r->changed.notify_all();
        };
        c.on_body = [r](std::string_view bytes) {
            std::string so_far;
            {
                std::lock_guard lock(r->mutex);
                r->body_after_complete = r->body_after_complete || r->n_completes > 0 || bytes.empty();
                r->pieces.emplace_back(bytes);
                r->body.append(bytes);
                so_far = r->body;
                r->changed.notify_all();
            }
            if (r->after_body) {
                r->after_body(so_far);
            }
        };
        c.on_complete = [r](http_client_error error, const std::string& detail) {
            std::lock_guard lock(r->mutex);
            ++r->n_completes;
            r->error = error;
            r->detail = detail;
            r->changed.notify_all();
        };
        return c;
    }
    bool wait(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, timeout, done);
    }
    bool wait_complete() {
        return wait([this] { return n_completes > 0; });
    }
};

// A TCP server on 127.0.0.1 whose behaviour is a script run on its own thread over accepted sockets.
class raw_server {
public:
    explicit raw_server(std::function<void(raw_server&)> script) {
        _listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t size = sizeof(addr);
        EXPECT_EQ(::bind(_listen_fd, reinterpret_cast<sockaddr*>(&addr), size), 0);
        EXPECT_EQ(::listen(_listen_fd, 16), 0);
        EXPECT_EQ(::getsockname(_listen_fd, reinterpret_cast<sockaddr*>(&addr), &size), 0);
        _port = ntohs(addr.sin_port);
        _thread = std::thread([this, script = std::move(script)] { script(*this); });
    }
    ~raw_server() {
        _stop = true;
        _thread.join();
        for (int fd : _fds) {
            ::close(fd);
        }
        ::close(_listen_fd);
    }
    uint16_t port() const { return _port; }
    // The next connection, or -1 after `timeout` (or when the test ends).
    int accept_one(std::chrono::milliseconds timeout = 5s) {
        if (!wait_readable(_listen_fd, timeout)) {
            return -1;
        }
        const int fd = ::accept(_listen_fd, nullptr, nullptr);
        if (fd >= 0) {
            ++n_accepted;
            _fds.push_back(fd);
        }
        return fd;
    }
    // One request head (GET: no body); "" on EOF, reset or timeout.
    std::string read_request(int fd, std::chrono::milliseconds timeout = 5s) {
        std::string in;
        while (in.find("\r\n\r\n") == std::string::npos) {
            char buf[4096];
            if (!wait_readable(fd, timeout)) {
                return "";
            }
            const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
            if (n <= 0) {
                return "";
            }
            in.append(buf, static_cast<size_t>(n));
        }
        ++n_requests;
        return in;
    }
    static void send_all(int fd, std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return;
            }
            data.remove_prefix(static_cast<size_t>(n));
        }
    }
    void close_fd(int fd) {
        std::erase(_fds, fd);
        ::close(fd);
    }
    // Keeps the accepted connections open until the test ends.
    void hold() {
        while (!_stop) {
            std::this_thread::sleep_for(5ms);
        }
    }
    std::atomic<int> n_accepted{0};
    std::atomic<int> n_requests{0};

private:
    bool wait_readable(int fd, std::chrono::milliseconds timeout) {
        const auto deadline = steady::now() + timeout;
        while (!_stop && steady::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 10) > 0) {
                return true;
            }
        }
        return false;
    }

    int _listen_fd = -1;
    uint16_t _port = 0;
    std::vector<int> _fds;
    std::atomic<bool> _stop{false};
    std::thread _thread; // last: starts once everything above exists
};

// What the server saw of each request.
struct seen_requests {
    std::mutex mutex;
    std::vector<http_request> requests;
    std::set<std::string> remote_addresses;
    void add(const http_request& req) {
        std::lock_guard lock(mutex);
        requests.push_back(req);
        remote_addresses.insert(req.remote_address);
    }
    size_t n_addresses() {
        std::lock_guard lock(mutex);
        return remote_addresses.size();
    }
};

std::unique_ptr<http_server> make_server(seen_requests& seen, http_server_options options = {}) {
    auto server = std::make_unique<http_server>(options);
    server->add_route("POST", "/echo", [&seen](const http_request& req, std::shared_ptr<http_responder> r) {
        seen.add(req);
        r->respond(201, "application/json", "echo:" + req.body, {{"x-reply", "yes"}});
    });
    server->add_route("GET", "/ping", [&seen](const http_request& req, std::shared_ptr<http_responder> r) {
        seen.add(req);
        r->respond(200, "text/plain", "pong");
    });
    return server;
}

uint16_t closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(addr);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), size), 0);
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size), 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

int count_fields(const http_headers& headers, std::string_view name) {
    int n = 0;
    for (const auto& [field, value] : headers.fields()) {
        n += iequals(field, name) ? 1 : 0;
    }
    return n;
}

TEST(http_client, whole_response_and_the_request_head_it_sends) {
    seen_requests seen;
    auto server = make_server(seen);
    server->start();
    http_client client;
    http_client_request request;
    request.target = "/echo?q=1";
    request.headers = {{"Content-Type", "application/json"},
                       {"x-request-id", "abc"},
                       {"authorization", "Bearer t"},
                       {"content-length", "999"},
                       {"connection", "close"}}; // the last two are the client's to set
    request.body = R"({"a":1})";
    const http_client_result result = client.fetch(local(server->port()), request);
    ASSERT_EQ(result.error, http_client_error::ok) << result.detail;
    EXPECT_EQ(result.detail, "");
    EXPECT_EQ(result.status, 201);
    EXPECT_EQ(result.headers.get("x-reply"), "yes");
    EXPECT_EQ(result.headers.get("content-type"), "application/json");
    EXPECT_EQ(result.body, R"(echo:{"a":1})");

    request.target = "/echo";
    request.body = "";
    request.headers = {{"User-Agent", "custom/1"}};
    EXPECT_EQ(client.fetch(local(server->port()), request).body, "echo:");
    http_client_request get;
    get.method = "GET";
    get.target = "/ping";
    EXPECT_EQ(client.fetch(local(server->port()), get).body, "pong");

    std::lock_guard lock(seen.mutex);
    ASSERT_EQ(seen.requests.size(), 3u);
    const http_request& post = seen.requests[0];
    EXPECT_EQ(post.method, "POST");
    EXPECT_EQ(post.target, "/echo?q=1");
    EXPECT_EQ(post.body, R"({"a":1})");
    EXPECT_EQ(post.headers.get("host"), "127.0.0.1:" + std::to_string(server->port()));
    EXPECT_EQ(post.headers.get("user-agent"), "llmfleet");
    EXPECT_EQ(post.headers.get("content-length"), "7");
    EXPECT_EQ(post.headers.get("authorization"), "Bearer t");
    EXPECT_EQ(post.headers.get("x-request-id"), "abc");
    for (const char* name : {"content-type", "content-length", "host", "user-agent", "connection"}) {
        EXPECT_EQ(count_fields(post.headers, name), std::string_view(name) == "connection" ? 0 : 1) << name;
    }
    EXPECT_EQ(seen.requests[1].headers.get("content-length"), "0"); // POST without a body still says so
    EXPECT_EQ(seen.requests[1].headers.get("user-agent"), "custom/1");
    EXPECT_EQ(count_fields(seen.requests[1].headers, "user-agent"), 1);
    EXPECT_FALSE(seen.requests[2].headers.contains("content-length")); // GET without a body
    EXPECT_EQ(seen.remote_addresses.size(), 1u);                       // all three on one keep-alive connection
}

TEST(http_client, streamed_chunks_are_delivered_as_they_arrive) {
    // Ping-pong: the server writes chunk i+1 only after the client's on_body saw chunk i, so the stream cannot be
    // buffered whole and each chunk is its own on_body.
    const int n_chunks = 5;
    auto chunk = [](int i) { return "data: " + std::to_string(i) + "\n\n"; };
    auto r = std::make_shared<recorder>();
    std::atomic<bool> server_finished{false};
    std::atomic<bool> first_piece_before_finish{false};
    std::mutex slot_mutex;
    std::condition_variable slot_cv;
    std::shared_ptr<http_responder> slot;
    http_server server({});
    server.add_route("GET", "/stream", [&](const http_request&, std::shared_ptr<http_responder> responder) {
        responder->start_stream(200);
        std::lock_guard lock(slot_mutex);
        slot = std::move(responder);
        slot_cv.notify_all();
    });
    server.start();
    std::thread writer([&] {
        std::unique_lock lock(slot_mutex);
        if (!slot_cv.wait_for(lock, 5s, [&] { return slot != nullptr; })) {
            return;
        }
        std::string expected;
        for (int i = 0; i < n_chunks; ++i) {
            slot->write(chunk(i));
            expected += chunk(i);
            if (!r->wait([&] { return r->body == expected; })) {
                break;
            }
        }
        server_finished = true;
        slot->finish();
    });
    r->after_body = [&](const std::string&) {
        first_piece_before_finish = first_piece_before_finish || !server_finished;
    };
    {
        http_client client;
        http_client_request request;
        request.method = "GET";
        request.target = "/stream";
        client.start(local(server.port()), request, recorder::callbacks(r));
        EXPECT_TRUE(r->wait_complete());
    }
    writer.join();
    std::lock_guard lock(r->mutex);
    EXPECT_EQ(r->error, http_client_error::ok) << r->detail;
    EXPECT_EQ(r->n_heads, 1);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->headers.get("content-type"), "text/event-stream");
    EXPECT_EQ(r->headers.get("transfer-encoding"), "chunked");
    EXPECT_GE(r->pieces.size(), static_cast<size_t>(n_chunks)); // chunk framing removed, one piece or more each
    EXPECT_EQ(r->body, chunk(0) + chunk(1) + chunk(2) + chunk(3) + chunk(4));
    EXPECT_TRUE(first_piece_before_finish);
    EXPECT_EQ(r->n_completes, 1);
    EXPECT_FALSE(r->body_after_complete);
}

TEST(http_client, keep_alive_reuses_one_connection) {
    seen_requests seen;
    auto server = make_server(seen);
    server->start();
    http_client client;
    http_client_request get;
    get.method = "GET";
    get.target = "/ping";
    for (int i = 0; i < 5; ++i) {
        const http_client_result result = client.fetch(local(server->port()), get);
        ASSERT_EQ(result.error, http_client_error::ok) << result.detail;
        EXPECT_EQ(result.body, "pong");
        EXPECT_EQ(client.n_open_connections(), 1u); // pooled after each response, taken again by the next
    }
    EXPECT_EQ(seen.n_addresses(), 1u); // one client port: one connection
    EXPECT_EQ(server->n_connections(), 1);
}

TEST(http_client, hundred_concurrent_exchanges_complete) {
    seen_requests seen;
    http_server_options server_options;
    server_options.n_io_threads = 2;
    auto server = make_server(seen, server_options);
    server->start();
    http_client_options options;
    options.n_io_threads = 2;
    http_client client(options);
    const int n = 100;
    std::vector<std::shared_ptr<recorder>> recorders;
    std::vector<std::shared_ptr<http_exchange>> exchanges;
    for (int i = 0; i < n; ++i) {
        recorders.push_back(std::make_shared<recorder>());
        http_client_request request;
        request.target = "/echo";
        request.body = "request-" + std::to_string(i);
        exchanges.push_back(client.start(local(server->port()), request, recorder::callbacks(recorders.back())));
    }
    for (int i = 0; i < n; ++i) {
        recorder& r = *recorders[i];
        ASSERT_TRUE(r.wait_complete()) << i;
        std::lock_guard lock(r.mutex);
        EXPECT_EQ(r.error, http_client_error::ok) << r.detail;
        EXPECT_EQ(r.status, 201);
        EXPECT_EQ(r.body, "echo:request-" + std::to_string(i)); // no response went to the wrong exchange
        EXPECT_EQ(r.n_completes, 1);
    }
    EXPECT_GE(client.n_open_connections(), 1u);
    EXPECT_LE(client.n_open_connections(), static_cast<size_t>(n));
    std::lock_guard lock(seen.mutex);
    EXPECT_EQ(seen.requests.size(), static_cast<size_t>(n));
}

TEST(http_client, connect_failed_on_a_closed_port) {
    const uint16_t port = closed_port();
    http_client client;
    http_client_request get;
    get.method = "GET";
    const http_client_result by_address = client.fetch(local(port), get);
    EXPECT_EQ(by_address.error, http_client_error::connect_failed);
    EXPECT_NE(by_address.detail.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << by_address.detail;
    EXPECT_EQ(by_address.status, 0);
    const http_client_result by_name = client.fetch({"localhost", port}, get); // through the resolver
    EXPECT_EQ(by_name.error, http_client_error::connect_failed) << by_name.detail;
    EXPECT_EQ(client.n_open_connections(), 0u);
}

TEST(http_client, connection_lost_when_the_server_cuts_a_stream) {
    raw_server raw([](raw_server& s) {
        const int fd = s.accept_one();
        if (fd >= 0 && !s.read_request(fd).empty()) {
            s.send_all(fd, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n");
            s.close_fd(fd);
        }
    });
    http_client client;
    auto r = std::make_shared<recorder>();
    http_client_request get;
    get.method = "GET";
    client.start(local(raw.port()), get, recorder::callbacks(r));
    ASSERT_TRUE(r->wait_complete());
    std::lock_guard lock(r->mutex);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
    EXPECT_EQ(r->error, http_client_error::connection_lost) << r->detail;
    EXPECT_EQ(r->n_completes, 1);
}

TEST(http_client, fresh_connection_closed_before_the_response_is_not_retried) {
    raw_server raw([](raw_server& s) {
        const int fd = s.accept_one();
        if (fd >= 0 && !s.read_request(fd).empty()) {
            s.close_fd(fd);
        }
        s.accept_one(300ms); // a retry would land here
    });
    http_client client;
    http_client_request get;
    get.method = "GET";
    const http_client_result result = client.fetch(local(raw.port()), get);
    EXPECT_EQ(result.error, http_client_error::connection_lost) << result.detail;
    std::this_thread::sleep_for(400ms);
    EXPECT_EQ(raw.n_accepted.load(), 1);
}

TEST(http_client, reused_connection_closed_before_the_response_is_retried_once) {
    // The server answers the first request, then closes the kept-alive connection when the second one arrives
    // (the race a pool cannot see beforehand); the second request must succeed on a new connection.
    raw_server raw([](raw_server& s) {
        const int first = s.accept_one();
        if (first < 0 || s.read_request(first).empty()) {
            return;
        }
        s.send_all(first, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        if (s.read_request(first).empty()) {
            return;
        }
        s.close_fd(first);
        const int second = s.accept_one();
        if (second >= 0 && !s.read_request(second).empty()) {
            s.send_all(second, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfresh");
        }
        s.hold();
    });
    http_client client;
    http_client_request get;
    get.method = "GET";
    const http_client_result first = client.fetch(local(raw.port()), get);
    ASSERT_EQ(first.error, http_client_error::ok) << first.detail;
    EXPECT_EQ(first.body, "ok");
    const http_client_result second = client.fetch(local(raw.port()), get);
    ASSERT_EQ(second.error, http_client_error::ok) << second.detail;
    EXPECT_EQ(second.body, "fresh");
    EXPECT_EQ(raw.n_accepted.load(), 2);
    EXPECT_EQ(raw.n_requests.load(), 3);
    EXPECT_EQ(client.n_open_connections(), 1u);
}

TEST(http_client, stale_pooled_connection_is_replaced_transparently) {
    seen_requests seen;
    http_server_options server_options;
    server_options.idle_timeout = 50ms; // closes kept-alive connections quickly
    auto server = make_server(seen, server_options);
    server->start();
    http_client client;
    http_client_request get;
    get.method = "GET";
    get.target = "/ping";
    ASSERT_EQ(client.fetch(local(server->port()), get).error, http_client_error::ok);
    ASSERT_TRUE(eventually([&] { return server->n_connections() == 0; })); // the server closed the idle one
    const http_client_result second = client.fetch(local(server->port()), get);
    ASSERT_EQ(second.error, http_client_error::ok) << second.detail;
    EXPECT_EQ(second.body, "pong");
    EXPECT_EQ(seen.n_addresses(), 2u);
    EXPECT_EQ(client.n_open_connections(), 1u);
}

TEST(http_client, idle_timeout_when_the_server_never_answers) {
    raw_server raw([](raw_server& s) {
        const int fd = s.accept_one();
        if (fd >= 0) {
            s.read_request(fd);
            s.hold();
        }
    });
    http_client_options options;
    options.idle_timeout = 100ms;
    http_client client(options);
    auto r = std::make_shared<recorder>();
    http_client_request get;
    get.method = "GET";
    client.start(local(raw.port()), get, recorder::callbacks(r));
    ASSERT_TRUE(r->wait_complete());
    std::lock_guard lock(r->mutex);
    EXPECT_EQ(r->error, http_client_error::timeout) << r->detail;
    EXPECT_NE(r->detail.find("idle_timeout"), std::string::npos) << r->detail;
    EXPECT_EQ(r->n_heads, 0);
    EXPECT_EQ(r->n_completes, 1);
}

TEST(http_client, fetch_timeout_cancels_and_the_server_sees_the_client_leave) {
    std::atomic<int> n_disconnects{0};
    std::mutex kept_mutex;
    std::vector<std::shared_ptr<http_responder>> kept;
    http_server server({});
    server.add_route("GET", "/never", [&](const http_request&, std::shared_ptr<http_responder> responder) {
        responder->on_disconnect([&] { ++n_disconnects; });
        std::lock_guard lock(kept_mutex);
        kept.push_back(std::move(responder));
    });
    server.start();
    http_client client;
    http_client_request get;
    get.method = "GET";
    get.target = "/never";
    const http_client_result result = client.fetch(local(server.port()), get, 100ms);
    EXPECT_EQ(result.error, http_client_error::timeout);
    EXPECT_NE(result.detail.find("fetch timeout"), std::string::npos) << result.detail;
    EXPECT_TRUE(eventually([&] { return n_disconnects.load() == 1; }));
    EXPECT_EQ(client.n_open_connections(), 0u);
}

TEST(http_client, malformed_or_oversized_heads_are_bad_responses) {
    raw_server raw([](raw_server& s) {
        const int garbage = s.accept_one();
        if (garbage >= 0 && !s.read_request(garbage).empty()) {
            s.send_all(garbage, "NOT HTTP AT ALL\r\n\r\n");
        }
        const int big = s.accept_one();
        if (big >= 0 && !s.read_request(big).empty()) {
            s.send_all(big, "HTTP/1.1 200 OK\r\nx-big: " + std::string(1000, 'b') + "\r\ncontent-length: 0\r\n\r\n");
        }
        s.hold();
    });
    http_client_options options;
    options.max_response_header_bytes = 256;
    http_client client(options);
    http_client_request get;
    get.method = "GET";
    const http_client_result garbage = client.fetch(local(raw.port()), get);
    EXPECT_EQ(garbage.error, http_client_error::bad_response) << garbage.detail;
    const http_client_result big = client.fetch(local(raw.port()), get);
    EXPECT_EQ(big.error, http_client_error::bad_response) << big.detail;
    EXPECT_NE(big.detail.find("max_response_header_bytes"), std::string::npos) << big.detail;
    EXPECT_EQ(client.n_open_connections(), 0u);
}

TEST(http_client, body_to_eof_and_interim_responses) {
    raw_server raw([](raw_server& s) {
        const int fd = s.accept_one();
        if (fd >= 0 && !s.read_request(fd).empty()) {
            s.send_all(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabc");
            std::this_thread::sleep_for(20ms);
            s.send_all(fd, "def");
            s.close_fd(fd);
        }
    });
    http_client client;
    auto r = std::make_shared<recorder>();
    http_client_request get;
    get.method = "GET";
    client.start(local(raw.port()), get, recorder::callbacks(r));
    ASSERT_TRUE(r->wait_complete());
    std::lock_guard lock(r->mutex);
    EXPECT_EQ(r->error, http_client_error::ok) << r->detail;
    EXPECT_EQ(r->n_heads, 1); // the 100 Continue is not a head of its own
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "abcdef");
    EXPECT_EQ(client.n_open_connections(), 0u); // connection: close is not pooled
}

// A server whose /stream sends one chunk and keeps the stream open; counts the clients that leave.
struct open_streams {
    std::atomic<int> n_disconnects{0};
    std::mutex mutex;
    std::vector<std::shared_ptr<http_responder>> responders;
    http_server server{http_server_options{}};
    open_streams() {
        server.add_route("GET", "/stream", [this](const http_request&, std::shared_ptr<http_responder> responder) {
            responder->on_disconnect([this] { ++n_disconnects; });
            responder->start_stream(200);
            responder->write("first");
            std::lock_guard lock(mutex);
            responders.push_back(std::move(responder));
        });
        server.start();
    }
    bool wait_disconnects(int n) {
        return eventually([&] { return n_disconnects.load() >= n; }) && n_disconnects.load() == n;
    }
};

TEST(http_client, cancel_mid_stream_completes_once_and_the_server_sees_it) {
    open_streams streams;
    http_client client;
    auto r = std::make_shared<recorder>();
    http_client_request get;
    get.method = "GET";
    get.target = "/stream";
    const std::shared_ptr<http_exchange> exchange =
        client.start(local(streams.server.port()), get, recorder::callbacks(r));
    ASSERT_TRUE(r->wait([&] { return r->body == "first"; }));
    exchange->cancel();
    exchange->cancel(); // idempotent
    ASSERT_TRUE(r->wait_complete());
    EXPECT_TRUE(streams.wait_disconnects(1));
    exchange->cancel(); // after completion: nothing
    std::lock_guard lock(r->mutex);
    EXPECT_EQ(r->error, http_client_error::cancelled);
    EXPECT_EQ(r->n_completes, 1);
    EXPECT_EQ(client.n_open_connections(), 0u);
}

TEST(http_client, cancel_from_on_body_stops_delivery) {
    open_streams streams;
    http_client client;
    auto r = std::make_shared<recorder>();
    std::mutex handle_mutex;
    std::shared_ptr<http_exchange> handle;
    size_t n_pieces_at_cancel = 0;
    r->after_body = [&](const std::string& body_so_far) {
        if (body_so_far.find("second") == std::string::npos) {
            return;
        }
        std::lock_guard lock(handle_mutex);
        n_pieces_at_cancel = r->pieces.size();
        handle->cancel(); // from the io thread, inside the callback
        handle.reset();   // and drop the caller's last reference there too
    };
    http_client_request get;
    get.method = "GET";
    get.target = "/stream";
    {
        std::lock_guard lock(handle_mutex);
        handle = client.start(local(streams.server.port()), get, recorder::callbacks(r));
    }
    ASSERT_TRUE(r->wait([&] { return r->body == "first"; }));
    std::shared_ptr<http_responder> responder;
    {
        std::lock_guard lock(streams.mutex);
        ASSERT_EQ(streams.responders.size(), 1u);
        responder = streams.responders.front();
    }
    responder->write("second");
    for (int i = 0; i < 5; ++i) {
        responder->write("more");
    }
    ASSERT_TRUE(r->wait_complete());
    EXPECT_TRUE(streams.wait_disconnects(1));
    std::lock_guard lock(r->mutex);
    EXPECT_EQ(r->error, http_client_error::cancelled);
    EXPECT_EQ(r->n_completes, 1);
    EXPECT_GE(n_pieces_at_cancel, 2u);
    EXPECT_EQ(r->pieces.size(), n_pieces_at_cancel); // nothing delivered after cancel()
}

TEST(http_client, destroying_the_client_cancels_exchanges_in_flight) {
    open_streams streams;
    raw_server silent([](raw_server& s) {
        const int fd = s.accept_one();
        if (fd >= 0) {
            s.read_request(fd);
            s.hold();
        }
    });
    auto client = std::make_unique<http_client>();
    std::vector<std::shared_ptr<recorder>> recorders;
    std::vector<std::shared_ptr<http_exchange>> exchanges;
    http_client_request get;
    get.method = "GET";
    get.target = "/stream";
    const int n_streams = 5;
    for (int i = 0; i <= n_streams; ++i) {
        recorders.push_back(std::make_shared<recorder>());
        const uint16_t port = i < n_streams ? streams.server.port() : silent.port();
        exchanges.push_back(client->start(local(port), get, recorder::callbacks(recorders.back())));
    }
    for (int i = 0; i < n_streams; ++i) {
        ASSERT_TRUE(recorders[i]->wait([&] { return recorders[i]->body == "first"; })) << i;
    }
    ASSERT_TRUE(eventually([&] { return silent.n_requests.load() == 1; }));
    client.reset();
    for (const auto& r : recorders) {
        std::lock_guard lock(r->mutex);
        EXPECT_EQ(r->n_completes, 1); // already: the destructor waited for it
        EXPECT_EQ(r->error, http_client_error::cancelled) << r->detail;
    }
    for (const auto& exchange : exchanges) {
        exchange->cancel(); // the handles outlive the client: cancel() does nothing
    }
    EXPECT_TRUE(streams.wait_disconnects(n_streams));
    for (const auto& r : recorders) {
        std::lock_guard lock(r->mutex);
        EXPECT_EQ(r->n_completes, 1); // no callback after the destructor returned
        EXPECT_FALSE(r->body_after_complete);
    }
}

TEST(http_client, options_are_validated) {
    http_client_options options;
    options.n_io_threads = 0;
    EXPECT_NE(test::error_of([&] { http_client client(options); }).find("n_io_threads must be >= 1, got 0"),
              std::string::npos);
    EXPECT_EQ(to_string(http_client_error::connection_lost), "connection_lost");
}

TEST(parse_endpoint, accepts_the_documented_forms) {
    EXPECT_EQ(parse_endpoint("http://127.0.0.1:8001"), (http_endpoint{"127.0.0.1", 8001}));
    EXPECT_EQ(parse_endpoint("http://engine-3:80/"), (http_endpoint{"engine-3", 80}));
    EXPECT_EQ(parse_endpoint("  localhost:65535 "), (http_endpoint{"localhost", 65535}));
    EXPECT_EQ(parse_endpoint("[::1]:8080"), (http_endpoint{"::1", 8080}));
    EXPECT_EQ(parse_endpoint("http://[fe80::1]:1/"), (http_endpoint{"fe80::1", 1}));
    EXPECT_EQ((http_endpoint{"::1", 8080}).to_string(), "[::1]:8080");
    EXPECT_EQ((http_endpoint{"127.0.0.1", 8001}).to_string(), "127.0.0.1:8001");
    EXPECT_EQ(parse_endpoint(parse_endpoint("[::1]:9").to_string()), (http_endpoint{"::1", 9})); // round trip
}

TEST(parse_endpoint, rejects_each_malformed_form_with_the_reason) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"https://host:443", "https is not supported"},
        {"ftp://host:21", "unknown scheme"},
        {"http://host:80/v1/completions", "a path is not allowed"},
        {"host", "the port is missing"},
        {":8080", "the host is missing"},
        {"[]:8080", "the host is missing"},
        {"host:abc", "the port `abc` is not a number"},
        {"host:", "is not a number"},
        {"host:0", "the port 0 is outside 1..65535"},
        {"host:70000", "the port 70000 is outside 1..65535"},
        {"::1:8080", "an IPv6 address needs brackets"},
        {"[::1]8080", "needs the form [ADDRESS]:PORT"},
        {"[::1", "needs the form [ADDRESS]:PORT"},
    };
    for (const auto& [text, reason] : cases) {
        const std::string message = test::error_of([&] { parse_endpoint(text); });
        EXPECT_NE(message.find(reason), std::string::npos) << text << " → " << message;
        EXPECT_NE(message.find("`" + text + "`"), std::string::npos) << message;            // names the text
        EXPECT_NE(message.find("expected http://HOST:PORT"), std::string::npos) << message; // and the form
    }
}

} // namespace
} // namespace llmfleet::serve
