// http_server over real sockets on 127.0.0.1 (ephemeral ports), with a raw POSIX client so that the tests
// control every byte: routing, limits, keep-alive, late and streamed responses, disconnects, slowloris,
// connection limits, handler failures, malformed requests and graceful shutdown.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <future>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "serve/http/http_server.h"

namespace llmfleet::serve {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A blocking client with a receive buffer; every read has a deadline so a broken server fails, not hangs.
class client {
public:
    explicit client(uint16_t port) {
        _fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        _connected = ::connect(_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    }
    ~client() { close(); }
    bool connected() const { return _connected; }
    void close() {
        if (_fd >= 0) {
            ::close(_fd);
            _fd = -1;
        }
    }
    bool send(std::string_view data) {
        return ::send(_fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
    }
    // Reads more bytes into the buffer; false on EOF, reset or timeout (eof() tells which).
    bool fill(std::chrono::milliseconds timeout) {
        pollfd p{_fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
            return false;
        }
        char buf[4096];
        const ssize_t n = ::recv(_fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            _eof = true;
            return false;
        }
        _in.append(buf, static_cast<size_t>(n));
        return true;
    }
    bool eof() const { return _eof; }
    // Up to and including `delim`; empty on timeout or EOF.
    std::string read_until(std::string_view delim, std::chrono::milliseconds timeout = 3000ms) {
        const auto deadline = steady::now() + timeout;
        size_t at;
        while ((at = _in.find(delim)) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            if (left <= 0ms || !fill(left)) {
                return "";
            }
        }
        std::string out = _in.substr(0, at + delim.size());
        _in.erase(0, at + delim.size());
        return out;
    }
    std::string read_exact(size_t n, std::chrono::milliseconds timeout = 3000ms) {
        const auto deadline = steady::now() + timeout;
        while (_in.size() < n) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            if (left <= 0ms || !fill(left)) {
                return "";
            }
        }
        std::string out = _in.substr(0, n);
        _in.erase(0, n);
        return out;
    }
    // True when the server closes the connection within `timeout` (buffered bytes are discarded).
    bool closed_within(std::chrono::milliseconds timeout) {
        const auto deadline = steady::now() + timeout;
        while (!_eof) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            if (left <= 0ms) {
                return false;
            }
            fill(left);
        }
        return true;
    }

private:
    int _fd = -1;
    bool _connected = false;
    bool _eof = false;
    std::string _in;
};

struct response {
    int status = 0;
    std::map<std::string, std::string> headers; // names lower-cased
    std::string body;
};

// Reads one response head (the chunked body, if any, is left to read_chunk()).
response read_head(client& c) {
    response r;
    const std::string head = c.read_until("\r\n\r\n");
    if (head.size() < 12) {
        return r;
    }
    r.status = std::stoi(head.substr(9, 3));
    size_t pos = head.find("\r\n") + 2;
    while (pos < head.size() - 2) {
        const size_t end = head.find("\r\n", pos);
        const std::string line = head.substr(pos, end - pos);
        const size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (char& ch : name) {
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        r.headers[name] = line.substr(colon + 2);
        pos = end + 2;
    }
    return r;
}

// One chunk's data; "" for the terminating chunk, "<error>" on a framing error or timeout.
std::string read_chunk(client& c) {
    const std::string size_line = c.read_until("\r\n");
    if (size_line.empty()) {
        return "<error>";
    }
    const size_t size = std::stoul(size_line, nullptr, 16);
    const std::string data = c.read_exact(size + 2);
    if (data.size() != size + 2 || data.substr(size) != "\r\n") {
        return "<error>";
    }
    return data.substr(0, size);
}

response read_response(client& c) {
    response r = read_head(c);
    if (r.headers.count("content-length")) {
        r.body = c.read_exact(std::stoul(r.headers["content-length"]));
    } else if (r.headers["transfer-encoding"] == "chunked") {
        for (std::string chunk = read_chunk(c); !chunk.empty() && chunk != "<error>"; chunk = read_chunk(c)) {
            r.body += chunk;
        }
    }
    return r;
}

response request(uint16_t port, const std::string& raw) {
    client c(port);
    EXPECT_TRUE(c.connected());
    c.send(raw);
    return read_response(c);
}

std::string get(const std::string& path, const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nhost: x\r\n" + extra + "\r\n";
}

// Threads that handlers start to respond later; joined before the server goes away.
struct late_threads {
    std::mutex mutex;
    std::vector<std::thread> threads;
    void add(std::thread t) {
        std::lock_guard lock(mutex);
        threads.push_back(std::move(t));
    }
    ~late_threads() {
        for (auto& t : threads) {
            t.join();
        }
    }
};

std::unique_ptr<http_server> make_server(http_server_options options = {}) {
    options.n_io_threads = 2;
    auto server = std::make_unique<http_server>(options);
    server->add_route("GET", "/hello", [](const http_request& req, std::shared_ptr<http_responder> r) {
        r->respond(200, "text/plain", "hi " + req.query + " " + req.headers.get("X-CUSTOM"), {{"x-extra", "1"}});
    });
    server->add_route("POST", "/echo", [](const http_request& req, std::shared_ptr<http_responder> r) {
        r->respond(200, "application/octet-stream", req.body);
    });
    server->add_route("GET", "/throw", [](const http_request&, std::shared_ptr<http_responder>) {
        throw std::runtime_error("handler bug");
    });
    server->add_route("GET", "/drop", [](const http_request&, std::shared_ptr<http_responder>) {});
    return server;
}

TEST(http_server, routes_404_405_and_common_headers) {
    auto server = make_server();
    server->start();
    const response ok = request(server->port(), get("/hello?x=1", "X-Custom: v\r\nx-request-id: abc\r\n"));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "hi x=1 v"); // query split off the path; header lookup ignores case
    EXPECT_EQ(ok.headers.at("server"), "llmfleet");
    EXPECT_EQ(ok.headers.at("content-length"), "8");
    EXPECT_EQ(ok.headers.at("x-request-id"), "abc");
    EXPECT_EQ(ok.headers.at("x-extra"), "1");
    const response missing = request(server->port(), get("/nope", "x-request-id: r2\r\n"));
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.headers.at("x-request-id"), "r2");
    const response wrong_method = request(server->port(), "DELETE /hello HTTP/1.1\r\nhost: x\r\n\r\n");
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.headers.at("allow"), "GET");
}

TEST(http_server, body_limit_413_for_content_length_and_chunked) {
    http_server_options options;
    options.max_body_bytes = 1024;
    auto server = make_server(options);
    server->start();
    // Only the head is sent: the 413 must come before the body is read.
    const response big = request(server->port(), "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 2000\r\n\r\n");
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(big.headers.at("connection"), "close");

    const std::string chunk(600, 'a');
    const std::string chunked_head = "POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n";
    const std::string frame = "258\r\n" + chunk + "\r\n"; // 0x258 = 600
    const response big_chunked = request(server->port(), chunked_head + frame + frame + frame + "0\r\n\r\n");
    EXPECT_EQ(big_chunked.status, 413);
    const response small_chunked = request(server->port(), chunked_head + frame + "0\r\n\r\n");
    EXPECT_EQ(small_chunked.status, 200);
    EXPECT_EQ(small_chunked.body, chunk);

    // expect: 100-continue: the interim response comes before the body is sent.
    client c(server->port());
    c.send("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n");
    EXPECT_EQ(c.read_until("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
    c.send("hello");
    EXPECT_EQ(read_response(c).body, "hello");

    const response big_head = request(server->port(), get("/hello", "x-big: " + std::string(20000, 'b') + "\r\n"));
    EXPECT_EQ(big_head.status, 431);
}

TEST(http_server, keep_alive_and_pipelining_answer_in_order_on_one_connection) {
    auto server = make_server();
    server->start();
    client c(server->port());
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(c.send(get("/hello?n=" + std::to_string(i))));
        const response r = read_response(c);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "hi n=" + std::to_string(i) + " ");
    }
    // Two pipelined requests in one write: two responses, in order.
    ASSERT_TRUE(c.send(get("/hello?n=a") + get("/hello?n=b")));
    EXPECT_EQ(read_response(c).body, "hi n=a ");
    EXPECT_EQ(read_response(c).body, "hi n=b ");
    EXPECT_EQ(server->n_connections(), 1);
}

TEST(http_server, handler_responds_later_from_another_thread) {
    late_threads late;
    auto server = std::make_unique<http_server>(http_server_options{});
    server->add_route("GET", "/late", [&late](const http_request&, std::shared_ptr<http_responder> r) {
        late.add(std::thread([r] {
            std::this_thread::sleep_for(50ms);
            EXPECT_TRUE(r->respond(200, "text/plain", "later"));
        }));
    });
    server->start();
    client c(server->port());
    c.send(get("/late"));
    EXPECT_EQ(read_response(c).body, "later");
    c.send(get("/late")); // the connection is reusable after a late response
    EXPECT_EQ(read_response(c).body, "later");
    server->shutdown(1s);
}

// A stream whose second chunk waits for `release`; `disconnected` is set by on_disconnect.
struct stream_probe {
    std::promise<void> release;
    std::promise<void> disconnected;
    std::promise<bool> second_write_ok;
    std::shared_ptr<http_responder> responder;
};

void add_stream_route(http_server& server, late_threads& late, stream_probe& probe) {
    server.add_route("GET", "/stream", [&](const http_request&, std::shared_ptr<http_responder> r) {
        probe.responder = r;
        r->on_disconnect([&probe] { probe.disconnected.set_value(); });
        EXPECT_TRUE(r->start_stream(200));
        EXPECT_TRUE(r->write("data: one\n\n"));
        late.add(std::thread([&probe, r] {
            probe.release.get_future().wait();
            const bool ok = r->write("data: two\n\n");
            probe.second_write_ok.set_value(ok);
            if (ok) {
                r->finish();
            }
        }));
    });
}

// A started server with the /stream route. Members in this order: the late threads use the probe until joined.
struct stream_server {
    stream_probe probe;
    late_threads late;
    std::unique_ptr<http_server> server = std::make_unique<http_server>(http_server_options{});
    stream_server() {
        add_stream_route(*server, late, probe);
        server->start();
    }
    // Sends GET /stream on c and returns the response head.
    response open_stream(client& c) {
        c.send(get("/stream"));
        return read_head(c);
    }
};

TEST(http_server, stream_sends_each_chunk_before_the_next_is_written) {
    stream_server s;
    auto& [probe, late, server] = s;
    client c(server->port());
    response head = s.open_stream(c);
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.headers["content-type"], "text/event-stream");
    EXPECT_EQ(head.headers["cache-control"], "no-cache");
    EXPECT_EQ(head.headers["transfer-encoding"], "chunked");
    EXPECT_EQ(read_chunk(c), "data: one\n\n"); // arrives while the handler still waits for release
    probe.release.set_value();
    EXPECT_EQ(read_chunk(c), "data: two\n\n");
    EXPECT_EQ(read_chunk(c), "");
    EXPECT_TRUE(probe.second_write_ok.get_future().get());
    EXPECT_EQ(probe.disconnected.get_future().wait_for(0ms), std::future_status::timeout);
    server->shutdown(1s);
}

TEST(http_server, on_disconnect_fires_when_the_client_leaves_mid_stream) {
    stream_server s;
    auto& [probe, late, server] = s;
    client c(server->port());
    s.open_stream(c);
    EXPECT_EQ(read_chunk(c), "data: one\n\n");
    c.close();
    EXPECT_EQ(probe.disconnected.get_future().wait_for(3s), std::future_status::ready);
    EXPECT_FALSE(probe.responder->is_open());
    probe.release.set_value();
    EXPECT_FALSE(probe.second_write_ok.get_future().get()); // writes after the disconnect are refused
    server->shutdown(1s);
}

TEST(http_server, on_disconnect_fires_when_the_client_leaves_before_any_response) {
    std::promise<void> disconnected;
    std::shared_ptr<http_responder> kept;
    auto server = std::make_unique<http_server>(http_server_options{});
    server->add_route("GET", "/wait", [&](const http_request&, std::shared_ptr<http_responder> r) {
        kept = r;
        r->on_disconnect([&disconnected] { disconnected.set_value(); });
    });
    server->start();
    {
        client c(server->port());
        c.send(get("/wait"));
        std::this_thread::sleep_for(100ms); // let the handler run
    }
    EXPECT_EQ(disconnected.get_future().wait_for(3s), std::future_status::ready);
    EXPECT_FALSE(kept->respond(200, "text/plain", "too late"));
    server->shutdown(1s);
}

TEST(http_server, slowloris_client_is_cut_off_while_others_are_served) {
    http_server_options options;
    options.header_timeout = 300ms;
    auto server = make_server(options);
    server->start();
    client slow(server->port());
    const std::string head = get("/hello", "x-padding: " + std::string(100, 'p') + "\r\n");
    const auto start = steady::now();
    bool cut = false;
    for (size_t i = 0; i < head.size() && !cut; ++i) {
        slow.send(head.substr(i, 1));
        if (i == 1) {
            EXPECT_EQ(request(server->port(), get("/hello")).status, 200); // served meanwhile
        }
        cut = slow.closed_within(100ms);
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
    EXPECT_TRUE(cut);
    EXPECT_GE(elapsed.count(), 250);
    EXPECT_LE(elapsed.count(), 1000);
}

TEST(http_server, connections_over_the_limit_get_503) {
    http_server_options options;
    options.max_connections = 2;
    auto server = make_server(options);
    server->start();
    client a(server->port()), b(server->port());
    a.send(get("/hello"));
    b.send(get("/hello"));
    EXPECT_EQ(read_response(a).status, 200); // both accepted and kept alive
    EXPECT_EQ(read_response(b).status, 200);
    client c(server->port());
    c.send(get("/hello"));
    EXPECT_EQ(read_response(c).status, 503);
    EXPECT_TRUE(c.closed_within(2s));
    c.close(); // a rejected connection holds its slot until the client closes it (lingering close)
    a.close();
    int status = 0;
    for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
        std::this_thread::sleep_for(20ms);
        status = request(server->port(), get("/hello")).status;
    }
    EXPECT_EQ(status, 200); // a freed slot is usable again
}

TEST(http_server, handler_exception_gives_500_and_the_server_keeps_serving) {
    auto server = make_server();
    server->start();
    const response thrown = request(server->port(), get("/throw"));
    EXPECT_EQ(thrown.status, 500);
    EXPECT_FALSE(thrown.body.empty());
    EXPECT_EQ(request(server->port(), get("/drop")).status, 500); // responder dropped without a response
    EXPECT_EQ(request(server->port(), get("/hello")).status, 200);
}

TEST(http_server, malformed_request_gets_400_and_close) {
    auto server = make_server();
    server->start();
    client c(server->port());
    c.send("GARBAGE\r\n\r\n");
    EXPECT_EQ(read_response(c).status, 400);
    EXPECT_TRUE(c.closed_within(2s));
    EXPECT_EQ(request(server->port(), get("/hello")).status, 200);
}

TEST(http_server, graceful_shutdown_finishes_the_stream_then_stops) {
    stream_server s;
    auto& [probe, late, server] = s;
    const uint16_t port = server->port();
    client c(port);
    s.open_stream(c);
    EXPECT_EQ(read_chunk(c), "data: one\n\n");
    auto stopped = std::async(std::launch::async, [&] { return server->shutdown(3s); });
    bool refused = false;
    for (int attempt = 0; attempt < 50 && !refused; ++attempt) {
        std::this_thread::sleep_for(10ms);
        client probe_client(port);
        refused = !probe_client.connected();
    }
    EXPECT_TRUE(refused);                                          // no longer accepting
    EXPECT_EQ(stopped.wait_for(0ms), std::future_status::timeout); // still waiting for the stream
    probe.release.set_value();
    EXPECT_EQ(read_chunk(c), "data: two\n\n");
    EXPECT_EQ(read_chunk(c), "");
    EXPECT_TRUE(stopped.get()); // nothing was cut off
    EXPECT_TRUE(c.closed_within(2s));
}

TEST(http_server, shutdown_cuts_a_stream_that_outlives_the_grace_period) {
    stream_server s;
    auto& [probe, late, server] = s;
    client c(server->port());
    s.open_stream(c);
    EXPECT_EQ(read_chunk(c), "data: one\n\n");
    EXPECT_FALSE(server->shutdown(100ms));
    EXPECT_TRUE(c.closed_within(2s));
    EXPECT_EQ(probe.disconnected.get_future().wait_for(0ms), std::future_status::ready);
    probe.release.set_value();
    EXPECT_FALSE(probe.second_write_ok.get_future().get());
}

TEST(http_server, a_client_that_stops_reading_is_cut_off_at_max_queued_bytes) {
    http_server_options options;
    options.max_queued_bytes = 256u << 10;
    std::promise<void> disconnected;
    std::promise<size_t> refused_after_bytes;
    size_t max_queued_seen = 0;
    late_threads late;
    auto server = std::make_unique<http_server>(options);
    server->add_route("GET", "/flood", [&](const http_request&, std::shared_ptr<http_responder> r) {
        r->on_disconnect([&disconnected] { disconnected.set_value(); });
        r->start_stream(200, "application/octet-stream");
        late.add(std::thread([&, r] {
            const std::string block(64u << 10, 'f');
            size_t n_written = 0;
            while (n_written < (512u << 20) && r->write(block)) { // the client never reads
                n_written += block.size();
                max_queued_seen = std::max(max_queued_seen, r->queued_bytes());
            }
            refused_after_bytes.set_value(n_written);
        }));
    });
    server->start();
    client c(server->port());
    c.send(get("/flood"));
    const size_t n_written = refused_after_bytes.get_future().get();
    EXPECT_LT(n_written, 512u << 20); // write() refused before the cap of the loop
    EXPECT_GT(max_queued_seen, 0u);
    EXPECT_LE(max_queued_seen, options.max_queued_bytes);
    EXPECT_EQ(disconnected.get_future().wait_for(3s), std::future_status::ready);
    server->shutdown(1s);
}

TEST(http_server, on_signal_calls_back_on_sigterm) {
    std::promise<int> received;
    auto server = make_server();
    server->on_signal([&received](int signal_number) { received.set_value(signal_number); });
    server->start();
    std::raise(SIGTERM);
    auto future = received.get_future();
    ASSERT_EQ(future.wait_for(3s), std::future_status::ready);
    EXPECT_EQ(future.get(), SIGTERM);
    EXPECT_TRUE(server->shutdown(1s));
}

} // namespace
} // namespace llmfleet::serve
