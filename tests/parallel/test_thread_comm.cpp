// parallel/thread_comm: the in-process communicator on 1-4 ranks (threads): rank-order all-reduce with bitwise equal
// results, all-gather / broadcast of odd sizes, FIFO point-to-point matched by tag, split, abort (world and split),
// timeouts that name the missing rank and leave the communicator usable, and argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "parallel/communicator.h"
#include "parallel/thread_comm.h"
#include "tests/parallel/comm_test_support.h"

namespace llmfleet::parallel {
namespace {

using comm_list = std::vector<std::unique_ptr<communicator>>;

// Runs body(comm) on one thread per rank; rethrows the first exception a rank let escape.
void run_ranks(comm_list& comms, const std::function<void(communicator&)>& body) {
    std::vector<std::exception_ptr> errors(comms.size());
    std::vector<std::thread> threads;
    for (size_t r = 0; r < comms.size(); ++r) {
        threads.emplace_back([&, r] {
            try {
                body(*comms[r]);
            } catch (...) {
                errors[r] = std::current_exception();
            }
        });
    }
    for (std::thread& t : threads) {
        t.join();
    }
    for (const std::exception_ptr& e : errors) {
        if (e) {
            std::rethrow_exception(e);
        }
    }
}

class thread_comm_ranks : public testing::TestWithParam<int32_t> {};

TEST_P(thread_comm_ranks, all_reduce_sums_in_rank_order_with_bitwise_equal_results) {
    const int32_t n_ranks = GetParam();
    const int64_t n = 1003; // not a multiple of the 16-float chunk alignment
    std::vector<float> expected(n);
    bool order_matters = false;
    for (int64_t i = 0; i < n; ++i) {
        float forward = order_sensitive(0, i), backward = order_sensitive(n_ranks - 1, i);
        for (int32_t r = 1; r < n_ranks; ++r) {
            forward += order_sensitive(r, i);
            backward += order_sensitive(n_ranks - 1 - r, i);
        }
        expected[i] = forward;
        order_matters = order_matters || forward != backward;
    }
    EXPECT_EQ(order_matters, n_ranks >= 3) << "the values must tell rank order from another order";
    std::vector<std::vector<float>> results(n_ranks);
    comm_list comms = make_thread_world(n_ranks);
    run_ranks(comms, [&](communicator& c) {
        std::vector<float> buf(n);
        for (int64_t i = 0; i < n; ++i) {
            buf[i] = order_sensitive(c.rank(), i);
        }
        c.all_reduce_sum(buf.data(), n);
        c.all_reduce_sum(nullptr, 0);
        results[c.rank()] = buf;
    });
    for (int32_t r = 0; r < n_ranks; ++r) {
        ASSERT_EQ(std::memcmp(results[r].data(), expected.data(), n * sizeof(float)), 0) << "rank " << r;
    }
}

TEST_P(thread_comm_ranks, all_gather_and_broadcast_odd_sizes) {
    comm_list comms = make_thread_world(GetParam());
    run_ranks(comms, [&](communicator& c) {
        for (int64_t bytes : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{4099}}) {
            check_all_gather_and_broadcast(c, bytes);
        }
    });
}

TEST_P(thread_comm_ranks, send_recv_is_fifo_per_source_and_tag) {
    const int32_t n_ranks = GetParam();
    comm_list comms = make_thread_world(n_ranks);
    run_ranks(comms, [&](communicator& c) {
        // To every rank (itself included): tag 2 first, then tag 1, then tag 2 again.
        for (int32_t dst = 0; dst < n_ranks; ++dst) {
            for (int32_t value : {c.rank() * 100 + 1, c.rank() * 100 + 2}) {
                c.send(&value, sizeof(value), dst, 2);
            }
            const int32_t tagged_one = c.rank() * 100 + 9;
            c.send(&tagged_one, sizeof(tagged_one), dst, 1);
        }
        for (int32_t src = n_ranks - 1; src >= 0; --src) {
            int32_t value = 0;
            c.recv(&value, sizeof(value), src, 1); // tag 1 first: it was sent after the tag-2 messages
            EXPECT_EQ(value, src * 100 + 9);
            c.recv(&value, sizeof(value), src, 2);
            EXPECT_EQ(value, src * 100 + 1);
            c.recv(&value, sizeof(value), src, 2);
            EXPECT_EQ(value, src * 100 + 2);
        }
        c.barrier();
    });
}

TEST_P(thread_comm_ranks, split_in_halves_reduces_within_each_group) {
    const int32_t n_ranks = GetParam();
    comm_list comms = make_thread_world(n_ranks);
    run_ranks(comms, [&](communicator& c) {
        const int32_t color = c.rank() / 2;
        std::unique_ptr<communicator> half = c.split(color, -c.rank()); // key reverses the order in the group
        const int32_t group_size = std::min(2, n_ranks - color * 2);
        ASSERT_EQ(half->size(), group_size);
        EXPECT_EQ(half->rank(), group_size - 1 - c.rank() % 2);
        float value = static_cast<float>(c.rank() + 1);
        half->all_reduce_sum(&value, 1);
        const float expected = group_size == 2 ? static_cast<float>(4 * color + 3) : static_cast<float>(c.rank() + 1);
        EXPECT_EQ(value, expected);
        // The same tag on the world and on the split does not mix.
        const int32_t peer = group_size - 1 - half->rank();
        const int32_t on_split = 1000 + c.rank(), on_world = 2000 + c.rank();
        half->send(&on_split, sizeof(on_split), peer, 5);
        c.send(&on_world, sizeof(on_world), c.rank(), 5);
        int32_t got = 0;
        c.recv(&got, sizeof(got), c.rank(), 5);
        EXPECT_EQ(got, on_world);
        half->recv(&got, sizeof(got), peer, 5);
        EXPECT_EQ(got, 1000 + (color * 2 + (c.rank() % 2 == 0 && group_size == 2 ? 1 : 0)));
        c.barrier();
    });
}

INSTANTIATE_TEST_SUITE_P(ranks, thread_comm_ranks, testing::Values(1, 2, 3, 4));

TEST(thread_comm, recv_checks_the_size_and_recv_message_takes_any_size) {
    comm_list comms = make_thread_world(2);
    run_ranks(comms, [&](communicator& c) {
        const std::vector<int64_t> sizes = {0, 1, 12, 1000, 1 << 20};
        if (c.rank() == 0) {
            for (int64_t bytes : sizes) {
                std::vector<std::byte> message(bytes, std::byte{static_cast<uint8_t>(bytes % 251)});
                c.send(message.data(), bytes, 1, 3);
            }
            return;
        }
        char small[8];
        const auto [code, message] = error_of([&] { c.recv(small, sizeof(small), 0, 3); });
        EXPECT_EQ(code, status_code::invalid_argument);
        EXPECT_TRUE(contains(message, "the message is 0 bytes but the buffer is 8 bytes")) << message;
        for (int64_t bytes : sizes) {
            const std::vector<std::byte> got = c.recv_message(0, 3); // the mismatched recv left its message
            ASSERT_EQ(static_cast<int64_t>(got.size()), bytes);
            for (std::byte b : got) {
                ASSERT_EQ(b, std::byte{static_cast<uint8_t>(bytes % 251)});
            }
        }
    });
}

TEST(thread_comm, abort_fails_pending_and_later_waits_of_the_world) {
    comm_list comms = make_thread_world(4, /*timeout_s=*/30);
    run_ranks(comms, [&](communicator& c) {
        if (c.rank() == 2) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50)); // the others are waiting by now
            c.abort("injected fault");
        } else {
            // Ranks 0 and 1 wait in an all-reduce, rank 3 in a recv from rank 2 (with no time limit).
            std::vector<float> buf(100, 1.0f);
            const double t0 = now_s();
            const auto [code, message] = error_of([&] {
                if (c.rank() == 3) {
                    (void)c.recv_message(2, 1, wait_forever_s);
                } else {
                    c.all_reduce_sum(buf.data(), 100);
                }
            });
            EXPECT_EQ(code, status_code::unavailable);
            EXPECT_EQ(message, "rank 2 failed: injected fault");
            EXPECT_LT(now_s() - t0, 10.0) << "noticed the abort, not the 30 s timeout";
        }
        int32_t value = 0;
        EXPECT_EQ(error_of([&] { c.recv(&value, sizeof(value), 0, 1); }).first, status_code::unavailable);
        EXPECT_EQ(error_of([&] { c.barrier(); }).second, "rank 2 failed: injected fault");
    });
}

TEST(thread_comm, abort_on_a_split_fails_the_world_and_the_other_splits) {
    comm_list comms = make_thread_world(4, /*timeout_s=*/30);
    run_ranks(comms, [&](communicator& c) {
        std::unique_ptr<communicator> half = c.split(c.rank() / 2, 0);
        float value = 1;
        if (c.rank() == 3) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            half->abort("split fault");
            return;
        }
        // Ranks 0 and 1 wait on the world, rank 2 on its split with rank 3, all for rank 3.
        communicator& waiting_on = c.rank() == 2 ? *half : c;
        const auto [code, message] = error_of([&] { waiting_on.all_reduce_sum(&value, 1); });
        EXPECT_EQ(code, status_code::unavailable);
        EXPECT_EQ(message, "rank 3 failed: split fault"); // the world rank, whichever communicator failed
        EXPECT_EQ(error_of([&] { half->barrier(); }).first, status_code::unavailable);
    });
}

TEST(thread_comm, timeout_names_the_missing_rank_and_withdraws) {
    comm_list comms = make_thread_world(3, /*timeout_s=*/0.2);
    run_ranks(comms, [&](communicator& c) {
        std::vector<float> buf(64, static_cast<float>(c.rank() + 1));
        if (c.rank() != 2) { // rank 2 never joins this all-reduce
            const double t0 = now_s();
            const auto [code, message] = error_of([&] { c.all_reduce_sum(buf.data(), 64); });
            const double waited_s = now_s() - t0;
            EXPECT_EQ(code, status_code::deadline_exceeded);
            EXPECT_EQ(message, "rank " + std::to_string(c.rank()) +
                                   ": no answer from rank 2 within 0.2 s in all_reduce_sum; is it alive?");
            EXPECT_GE(waited_s, 0.2);
            EXPECT_LT(waited_s, 3.0);
            int32_t value = 0;
            const auto [recv_code, recv_message] = error_of([&] { c.recv(&value, sizeof(value), 2, 7, 0.05); });
            EXPECT_EQ(recv_code, status_code::deadline_exceeded);
            EXPECT_TRUE(contains(recv_message, "no answer from rank 2 within 0.05 s in recv with tag 7"))
                << recv_message;
            c.send(&value, sizeof(value), 2, 8); // rank 2 may go on: this rank is done waiting
        } else {
            int32_t go = 0;
            c.recv(&go, sizeof(go), 0, 8, wait_forever_s);
            c.recv(&go, sizeof(go), 1, 8, wait_forever_s);
        }
        // The timed-out all-reduce was withdrawn: the next one, with every rank, works.
        c.set_timeout_s(30);
        c.barrier();
        std::vector<float> again(64, static_cast<float>(c.rank() + 1));
        c.all_reduce_sum(again.data(), 64);
        EXPECT_EQ(again[63], 6.0f);
    });
}

TEST(thread_comm, recv_waits_forever_when_asked) {
    comm_list comms = make_thread_world(2, /*timeout_s=*/0.01);
    run_ranks(comms, [&](communicator& c) {
        int32_t value = 0;
        if (c.rank() == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100)); // well past the 0.01 s timeout
            value = 42;
            c.send(&value, sizeof(value), 1, 0);
        } else {
            c.recv(&value, sizeof(value), 0, 0, wait_forever_s);
            EXPECT_EQ(value, 42);
        }
    });
}

TEST(thread_comm, large_all_reduce_and_many_mixed_collectives) {
    comm_list comms = make_thread_world(4);
    run_ranks(comms, [&](communicator& c) {
        const int64_t n = 1 << 20;
        std::vector<float> big(n);
        for (int64_t i = 0; i < n; ++i) {
            big[i] = static_cast<float>(c.rank() + i % 5);
        }
        c.all_reduce_sum(big.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_EQ(big[i], static_cast<float>(6 + 4 * (i % 5))) << i;
        }
        // Back-to-back collectives of changing sizes: a fast rank runs ahead while a slow one still reads.
        for (int32_t step = 0; step < 300; ++step) {
            const int64_t len = 1 + (step * 37) % 200;
            std::vector<float> buf(len, static_cast<float>(c.rank() + step));
            c.all_reduce_sum(buf.data(), len);
            ASSERT_EQ(buf[len - 1], static_cast<float>(6 + 4 * step)) << "step " << step;
            int32_t token = c.rank() == step % 4 ? step : -1;
            c.broadcast(&token, sizeof(token), step % 4);
            ASSERT_EQ(token, step);
            const int32_t mine = c.rank() * 1000 + step;
            int32_t all[4];
            c.all_gather(&mine, all, sizeof(mine));
            ASSERT_EQ(all[3], 3000 + step);
        }
    });
}

TEST(thread_comm, argument_errors) {
    comm_list comms = make_thread_world(2);
    run_ranks(comms, [&](communicator& c) {
        int32_t value = 0;
        EXPECT_EQ(error_of([&] { c.send(&value, sizeof(value), 2, 0); }).first, status_code::invalid_argument);
        EXPECT_EQ(error_of([&] { c.send(&value, sizeof(value), 1, -1); }).first, status_code::invalid_argument);
        EXPECT_EQ(error_of([&] { c.send(&value, sizeof(value), 1, 1 << 20); }).first, status_code::invalid_argument);
        EXPECT_EQ(error_of([&] { c.recv(&value, sizeof(value), -1, 0); }).first, status_code::invalid_argument);
        EXPECT_EQ(error_of([&] { c.broadcast(&value, sizeof(value), 5); }).first, status_code::invalid_argument);
        EXPECT_EQ(error_of([&] { (void)c.split(-1, 0); }).first, status_code::invalid_argument);
        // Sizes that differ between ranks: every rank throws, naming them.
        std::vector<float> buf(8, 1.0f);
        const auto [code, message] = error_of([&] { c.all_reduce_sum(buf.data(), 4 + 4 * c.rank()); });
        EXPECT_EQ(code, status_code::invalid_argument);
        EXPECT_TRUE(contains(message, "rank 0: 4 elements, rank 1: 8 elements")) << message;
        c.all_reduce_sum(buf.data(), 8); // still in step afterwards
        EXPECT_EQ(buf[7], 2.0f);
    });
    EXPECT_EQ(error_of([] { (void)make_thread_world(0); }).first, status_code::invalid_argument);
}

TEST(communicator, backend_names) {
    for (comm_backend b : {comm_backend::threads, comm_backend::mpi, comm_backend::nccl}) {
        EXPECT_EQ(parse_comm_backend(to_string(b)), b);
    }
    const auto [code, message] = error_of([] { (void)parse_comm_backend("gloo"); });
    EXPECT_EQ(code, status_code::invalid_argument);
    EXPECT_TRUE(contains(message, "threads, mpi or nccl")) << message;
    EXPECT_TRUE(comm_backend_built(comm_backend::threads));
}

} // namespace
} // namespace llmfleet::parallel
