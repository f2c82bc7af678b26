// parallel/mpi_comm under mpirun (tests/parallel/mpi_tests.cmake runs it as 4 ranks): all-reduce with bitwise equal
// results, all-gather / broadcast of odd sizes, FIFO point-to-point matched by tag, size checks, split, and a
// timeout that names the late rank. With --inject-abort it runs the failure scenario instead: rank 2 calls
// abort("injected fault") and rank 0, waiting in an all-reduce, must get unavailable with that message within the
// abort grace period (the wrapper mpi_expect_output.cmake checks rank 0's line and the job's non-zero exit).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "parallel/communicator.h"
#include "parallel/mpi_comm.h"
#include "tests/parallel/comm_test_support.h"

namespace llmfleet::parallel {
namespace {

communicator* g_world = nullptr; // made in main(), after the mpi_session

TEST(mpi_comm, all_reduce_gives_every_rank_the_same_bits) {
    communicator& c = *g_world;
    EXPECT_EQ(c.backend(), comm_backend::mpi);
    for (int64_t n : {int64_t{1}, int64_t{1003}, int64_t{1} << 18}) {
        // Integers: the sum is exact in any order.
        std::vector<float> exact(n);
        for (int64_t i = 0; i < n; ++i) {
            exact[i] = static_cast<float>(c.rank() * 3 + i % 7);
        }
        c.all_reduce_sum(exact.data(), n);
        const float rank_sum = static_cast<float>(3 * c.size() * (c.size() - 1) / 2);
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_EQ(exact[i], rank_sum + static_cast<float>(c.size() * (i % 7))) << i;
        }
        // Order-sensitive values: whatever MPI's order, every rank must hold the same bits.
        std::vector<float> buf(n);
        for (int64_t i = 0; i < n; ++i) {
            buf[i] = order_sensitive(c.rank(), i);
        }
        c.all_reduce_sum(buf.data(), n);
        std::vector<float> all(n * c.size());
        c.all_gather(buf.data(), all.data(), n * static_cast<int64_t>(sizeof(float)));
        for (int32_t q = 0; q < c.size(); ++q) {
            ASSERT_EQ(std::memcmp(all.data() + q * n, buf.data(), n * sizeof(float)), 0) << "rank " << q << " n " << n;
        }
    }
}

TEST(mpi_comm, all_gather_and_broadcast_odd_sizes) {
    for (int64_t bytes : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{4099}, int64_t{300001}}) {
        check_all_gather_and_broadcast(*g_world, bytes);
    }
}

TEST(mpi_comm, send_recv_is_fifo_per_source_and_tag) {
    communicator& c = *g_world;
    for (int32_t dst = 0; dst < c.size(); ++dst) { // tag 2, tag 2, then tag 1, to every rank (itself included)
        for (int32_t value : {c.rank() * 100 + 1, c.rank() * 100 + 2}) {
            c.send(&value, sizeof(value), dst, 2);
        }
        const int32_t tagged_one = c.rank() * 100 + 9;
        c.send(&tagged_one, sizeof(tagged_one), dst, 1);
    }
    for (int32_t src = c.size() - 1; src >= 0; --src) {
        int32_t value = 0;
        c.recv(&value, sizeof(value), src, 1);
        EXPECT_EQ(value, src * 100 + 9);
        c.recv(&value, sizeof(value), src, 2);
        EXPECT_EQ(value, src * 100 + 1);
        c.recv(&value, sizeof(value), src, 2);
        EXPECT_EQ(value, src * 100 + 2);
    }
    c.barrier();
}

TEST(mpi_comm, recv_checks_the_size_and_recv_message_takes_any_size) {
    communicator& c = *g_world;
    const int32_t next = (c.rank() + 1) % c.size(), prev = (c.rank() + c.size() - 1) % c.size();
    const std::vector<int64_t> sizes = {0, 1, 12, 1000, 1 << 20};
    for (int64_t bytes : sizes) {
        std::vector<std::byte> message(bytes, std::byte{static_cast<uint8_t>(bytes % 251 + c.rank())});
        c.send(message.data(), bytes, next, 3);
    }
    char small[8];
    const auto [code, message] = error_of([&] { c.recv(small, sizeof(small), prev, 3); });
    EXPECT_EQ(code, status_code::invalid_argument);
    EXPECT_TRUE(contains(message, "the message is 0 bytes but the buffer is 8 bytes")) << message;
    for (int64_t bytes : sizes) {
        const std::vector<std::byte> got = c.recv_message(prev, 3); // the mismatched recv left its message
        ASSERT_EQ(static_cast<int64_t>(got.size()), bytes);
        for (std::byte b : got) {
            ASSERT_EQ(b, std::byte{static_cast<uint8_t>(bytes % 251 + prev)});
        }
    }
    c.barrier();
}

TEST(mpi_comm, split_in_halves_reduces_within_each_group) {
    communicator& c = *g_world;
    const int32_t color = c.rank() / 2;
    std::unique_ptr<communicator> half = c.split(color, -c.rank()); // key reverses the order in the group
    const int32_t group_size = std::min(2, c.size() - color * 2);
    ASSERT_EQ(half->size(), group_size);
    EXPECT_EQ(half->rank(), group_size - 1 - c.rank() % 2);
    float value = static_cast<float>(c.rank() + 1);
    half->all_reduce_sum(&value, 1);
    EXPECT_EQ(value, group_size == 2 ? static_cast<float>(4 * color + 3) : static_cast<float>(c.rank() + 1));
    const int32_t peer = group_size - 1 - half->rank(); // the same tag on the world and on the split does not mix
    const int32_t on_split = 1000 + c.rank(), on_world = 2000 + c.rank();
    half->send(&on_split, sizeof(on_split), peer, 5);
    c.send(&on_world, sizeof(on_world), c.rank(), 5);
    int32_t got = 0;
    c.recv(&got, sizeof(got), c.rank(), 5);
    EXPECT_EQ(got, on_world);
    half->recv(&got, sizeof(got), peer, 5);
    EXPECT_EQ(got, 1000 + (color * 2 + (c.rank() % 2 == 0 && group_size == 2 ? 1 : 0)));
    half->barrier();
    c.barrier();
}

TEST(mpi_comm, timeout_names_the_late_rank) {
    communicator& c = *g_world;
    if (c.size() < 2) {
        GTEST_SKIP() << "needs 2 ranks";
    }
    std::unique_ptr<communicator> w = make_mpi_world(/*timeout_s=*/0.5);
    if (c.rank() == 1) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500)); // past the others' 0.5 s timeout
        w->barrier();                                                 // everyone else entered it: completes at once
    } else {
        const double t0 = now_s();
        const auto [code, message] = error_of([&] { w->barrier(); });
        EXPECT_EQ(code, status_code::deadline_exceeded);
        EXPECT_EQ(message,
                  "rank " + std::to_string(c.rank()) + ": no answer from rank 1 within 0.5 s in barrier; is it alive?");
        EXPECT_GE(now_s() - t0, 0.5);
        EXPECT_LT(now_s() - t0, 1.4) << "gave up before rank 1 arrived";
        // MPI cannot cancel the barrier: the communicator refuses further collectives.
        EXPECT_EQ(error_of([&] { w->barrier(); }).first, status_code::unavailable);
        int32_t value = 0;
        const auto [recv_code, recv_message] = error_of([&] { c.recv(&value, sizeof(value), 1, 9, 0.1); });
        EXPECT_EQ(recv_code, status_code::deadline_exceeded);
        EXPECT_TRUE(contains(recv_message, "no answer from rank 1 within 0.1 s in recv with tag 9")) << recv_message;
    }
    c.barrier(); // rank 1 has entered w's barrier: destroying w completes every rank's pending one
}

TEST(mpi_comm, recv_waits_forever_when_asked) {
    communicator& c = *g_world;
    std::unique_ptr<communicator> w = c.split(0, 0);
    w->set_timeout_s(0.01);
    int32_t value = 0;
    if (c.rank() == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100)); // well past the 0.01 s timeout
        for (int32_t dst = 1; dst < c.size(); ++dst) {
            value = 42;
            w->send(&value, sizeof(value), dst, 0);
        }
    } else {
        w->recv(&value, sizeof(value), 0, 0, wait_forever_s);
        EXPECT_EQ(value, 42);
    }
    c.barrier();
}

TEST(mpi_comm, argument_errors) {
    communicator& c = *g_world;
    int32_t value = 0;
    EXPECT_EQ(error_of([&] { c.send(&value, sizeof(value), c.size(), 0); }).first, status_code::invalid_argument);
    EXPECT_EQ(error_of([&] { c.send(&value, sizeof(value), 0, -1); }).first, status_code::invalid_argument);
    EXPECT_EQ(error_of([&] { c.send(&value, sizeof(value), 0, 1 << 20); }).first, status_code::invalid_argument);
    EXPECT_EQ(error_of([&] { c.recv(&value, sizeof(value), -1, 0); }).first, status_code::invalid_argument);
    EXPECT_EQ(error_of([&] { c.broadcast(&value, sizeof(value), c.size()); }).first, status_code::invalid_argument);
    EXPECT_EQ(error_of([&] { (void)c.split(-1, 0); }).first, status_code::invalid_argument);
    EXPECT_TRUE(comm_backend_built(comm_backend::mpi));
    EXPECT_TRUE(launched_by_mpirun() || c.size() == 1);
}

// The failure scenario (--inject-abort): see the file comment.
int run_abort_scenario() {
    std::unique_ptr<communicator> world = make_mpi_world(/*timeout_s=*/30);
    if (world->rank() == 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200)); // the others are waiting by now
        world->abort("injected fault");                              // ends the job; never returns
    }
    std::vector<float> buf(16, 1.0f);
    const double t0 = now_s();
    const auto [code, message] = error_of([&] { world->all_reduce_sum(buf.data(), 16); });
    const double waited_s = now_s() - t0;
    if (world->rank() == 0) {
        std::printf("fault-test: rank 0 got %s %s (%.2f s): %s\n", std::string(to_string(code)).c_str(),
                    waited_s < 2.0 ? "within the grace period" : "too late", waited_s, message.c_str());
        std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::seconds(30)); // rank 2's MPI_Abort ends the job
    return 1;
}

// On ranks other than 0: prints only failures, each line prefixed with the rank.
class rank_failure_printer : public testing::EmptyTestEventListener {
public:
    explicit rank_failure_printer(int32_t rank) : _rank(rank) {}
    void OnTestPartResult(const testing::TestPartResult& result) override {
        if (result.failed()) {
            std::printf("[rank %d] %s:%d: failure\n%s\n", _rank, result.file_name() ? result.file_name() : "?",
                        result.line_number(), result.summary());
            std::fflush(stdout);
        }
    }

private:
    int32_t _rank;
};

} // namespace
} // namespace llmfleet::parallel

int main(int argc, char** argv) {
    using namespace llmfleet::parallel;
    mpi_session session;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--inject-abort") {
            return run_abort_scenario();
        }
    }
    testing::InitGoogleTest(&argc, argv);
    if (session.world_rank() != 0) {
        testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
        delete listeners.Release(listeners.default_result_printer());
        listeners.Append(new rank_failure_printer(session.world_rank()));
    }
    std::unique_ptr<communicator> world = make_mpi_world(/*timeout_s=*/30);
    g_world = world.get();
    const int result = RUN_ALL_TESTS();
    world.reset();
    return result;
}
