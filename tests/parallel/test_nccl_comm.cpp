// parallel/nccl_comm on real GPUs, against hand-computed values: all-reduce, all-gather and broadcast with host,
// pinned and device buffers, point-to-point (FIFO per pair, matched by tag, size checks, messages to self), the
// pipeline pattern that needs sends not to wait for their receiver, split, abort and a silent peer's timeout.
// Run alone, it bootstraps over a threads world with one rank per GPU (up to 4); under mpirun (CTest runs it
// with -np 1) it bootstraps over MPI, one rank per process. Exits 77 (skipped) without a CUDA device.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "parallel/communicator.h"
#include "parallel/mpi_comm.h"
#include "parallel/nccl_comm.h"
#include "parallel/thread_comm.h"
#include "tests/parallel/comm_test_support.h"

namespace llmfleet::parallel {
namespace {

constexpr double test_timeout_s = 60;
communicator* g_mpi_world = nullptr; // under mpirun: made in main(), after the mpi_session

int32_t world_size() {
    return g_mpi_world != nullptr ? g_mpi_world->size() : std::min(cuda_device_count(), 4);
}

// Runs body on every rank of a fresh NCCL world: this process's rank over MPI under mpirun, else one thread per
// GPU over a threads world (rank r on device r). A rank's exception fails the test, naming the rank.
void on_every_rank(const std::function<void(communicator&)>& body) {
    if (g_mpi_world != nullptr) {
        std::unique_ptr<communicator> nccl = make_nccl_world(*g_mpi_world, -1, test_timeout_s);
        body(*nccl);
        return;
    }
    const int32_t n = world_size();
    std::vector<std::unique_ptr<communicator>> bootstrap = make_thread_world(n, test_timeout_s);
    std::vector<std::exception_ptr> failures(static_cast<size_t>(n));
    std::vector<std::thread> threads;
    for (int32_t r = 0; r < n; ++r) {
        threads.emplace_back([&, r] {
            try {
                std::unique_ptr<communicator> nccl = make_nccl_world(*bootstrap[r], r, test_timeout_s);
                body(*nccl);
            } catch (...) {
                failures[static_cast<size_t>(r)] = std::current_exception(); // reported after the join
            }
        });
    }
    for (std::thread& t : threads) {
        t.join();
    }
    for (int32_t r = 0; r < n; ++r) {
        if (failures[static_cast<size_t>(r)]) {
            try {
                std::rethrow_exception(failures[static_cast<size_t>(r)]);
            } catch (const std::exception& e) {
                ADD_FAILURE() << "rank " << r << ": " << e.what();
            } catch (...) {
                ADD_FAILURE() << "rank " << r << ": an exception that is not a std::exception";
            }
        }
    }
}

void check_cuda(cudaError_t status, const char* what) {
    if (status != cudaSuccess) {
        throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
    }
}

// A cudaMalloc'd array on the calling thread's current device (make_nccl_world made the rank's device current).
template <typename T> class device_vector {
public:
    explicit device_vector(size_t n) : _n(n) {
        void* data = nullptr;
        check_cuda(cudaMalloc(&data, std::max<size_t>(n, 1) * sizeof(T)), "cudaMalloc");
        _data = static_cast<T*>(data);
    }
    ~device_vector() { (void)cudaFree(_data); }
    device_vector(const device_vector&) = delete;
    device_vector& operator=(const device_vector&) = delete;

    T* data() { return _data; }
    void upload(const std::vector<T>& host) {
        check_cuda(cudaMemcpy(_data, host.data(), _n * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
    }
    std::vector<T> download() const {
        std::vector<T> host(_n);
        check_cuda(cudaMemcpy(host.data(), _data, _n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
        return host;
    }

private:
    size_t _n;
    T* _data = nullptr;
};

// Rank r's all-reduce input: exact in f32, so the sum over ranks is exact in any order.
float reduce_input(int32_t rank, int64_t i) {
    return static_cast<float>((rank + 1) * (i % 97)) + 0.5f;
}
float reduce_expected(int32_t size, int64_t i) {
    return static_cast<float>(size * (size + 1) / 2 * (i % 97)) + 0.5f * static_cast<float>(size);
}
std::byte pattern(int32_t rank, int64_t j) {
    return static_cast<std::byte>((rank * 7 + j) % 251);
}

TEST(nccl_comm, world_matches_its_bootstrap) {
    EXPECT_TRUE(nccl_comm_built());
    on_every_rank([](communicator& c) {
        EXPECT_EQ(c.backend(), comm_backend::nccl);
        EXPECT_EQ(c.size(), world_size());
        int device = -1;
        check_cuda(cudaGetDevice(&device), "cudaGetDevice");
        if (g_mpi_world == nullptr) {
            EXPECT_EQ(device, c.rank()); // the requested device is current
        }
        std::vector<int32_t> ranks(static_cast<size_t>(c.size()), -1);
        const int32_t mine = c.rank();
        c.all_gather(&mine, ranks.data(), sizeof(int32_t));
        for (int32_t r = 0; r < c.size(); ++r) {
            EXPECT_EQ(ranks[static_cast<size_t>(r)], r);
        }
    });
}

TEST(nccl_comm, all_reduce_sums_host_and_device_buffers) {
    on_every_rank([](communicator& c) {
        for (int64_t n : {int64_t{1}, int64_t{1027}, int64_t{1} << 20}) { // the last one grows the scratch
            std::vector<float> host(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) {
                host[static_cast<size_t>(i)] = reduce_input(c.rank(), i);
            }
            device_vector<float> device(static_cast<size_t>(n));
            device.upload(host);
            c.all_reduce_sum(host.data(), n);
            c.all_reduce_sum(device.data(), n);
            const std::vector<float> from_device = device.download();
            for (int64_t i = 0; i < n; ++i) {
                ASSERT_EQ(host[static_cast<size_t>(i)], reduce_expected(c.size(), i)) << "host, n " << n << ", i " << i;
                ASSERT_EQ(from_device[static_cast<size_t>(i)], reduce_expected(c.size(), i))
                    << "device, n " << n << ", i " << i;
            }
        }
    });
}

TEST(nccl_comm, all_gather_places_each_rank_block_with_any_mix_of_buffers) {
    on_every_rank([](communicator& c) {
        const auto n_ranks = static_cast<size_t>(c.size());
        for (int64_t b : {int64_t{1}, int64_t{333}, int64_t{1} << 16}) {
            const auto block = static_cast<size_t>(b);
            std::vector<std::byte> in(block);
            for (int64_t j = 0; j < b; ++j) {
                in[static_cast<size_t>(j)] = pattern(c.rank(), j);
            }
            device_vector<std::byte> device_in(block), device_out(block * n_ranks);
            device_in.upload(in);
            std::vector<std::byte> host_out(block * n_ranks, std::byte{0xEE}), mixed_out(block * n_ranks);
            c.all_gather(in.data(), host_out.data(), b);          // host → host
            c.all_gather(device_in.data(), device_out.data(), b); // device → device
            c.all_gather(device_in.data(), mixed_out.data(), b);  // device → host
            const std::vector<std::byte> device_result = device_out.download();
            for (int32_t q = 0; q < c.size(); ++q) {
                for (int64_t j = 0; j < b; ++j) {
                    const size_t at = static_cast<size_t>(q) * block + static_cast<size_t>(j);
                    ASSERT_EQ(host_out[at], pattern(q, j)) << "block " << b << ", rank " << q << ", byte " << j;
                    ASSERT_EQ(device_result[at], pattern(q, j)) << "block " << b << ", rank " << q << ", byte " << j;
                    ASSERT_EQ(mixed_out[at], pattern(q, j)) << "block " << b << ", rank " << q << ", byte " << j;
                }
            }
        }
    });
}

TEST(nccl_comm, broadcast_copies_the_root_buffer_to_host_and_device_buffers) {
    on_every_rank([](communicator& c) {
        const int32_t root = c.size() - 1;
        for (int64_t n : {int64_t{1}, int64_t{4097}}) {
            std::vector<std::byte> host(static_cast<size_t>(n), std::byte{0xEE});
            if (c.rank() == root) {
                for (int64_t j = 0; j < n; ++j) {
                    host[static_cast<size_t>(j)] = pattern(root, j);
                }
            }
            device_vector<std::byte> device(static_cast<size_t>(n));
            device.upload(host);
            c.broadcast(host.data(), n, root);
            c.broadcast(device.data(), n, root);
            const std::vector<std::byte> from_device = device.download();
            for (int64_t j = 0; j < n; ++j) {
                ASSERT_EQ(host[static_cast<size_t>(j)], pattern(root, j)) << "host, byte " << j;
                ASSERT_EQ(from_device[static_cast<size_t>(j)], pattern(root, j)) << "device, byte " << j;
            }
        }
    });
}

TEST(nccl_comm, pinned_host_buffers_are_staged) {
    on_every_rank([](communicator& c) {
        constexpr int64_t n = 4099;
        void* memory = nullptr;
        check_cuda(cudaMallocHost(&memory, n * sizeof(float)), "cudaMallocHost");
        auto* pinned = static_cast<float*>(memory);
        for (int64_t i = 0; i < n; ++i) {
            pinned[i] = reduce_input(c.rank(), i);
        }
        c.all_reduce_sum(pinned, n);
        for (int64_t i = 0; i < n; ++i) {
            EXPECT_EQ(pinned[i], reduce_expected(c.size(), i)) << i;
        }
        (void)cudaFreeHost(pinned);
    });
}

TEST(nccl_comm, barrier_and_empty_collectives_keep_the_ranks_in_step) {
    on_every_rank([](communicator& c) {
        c.barrier();
        c.all_reduce_sum(nullptr, 0);
        c.all_gather(nullptr, nullptr, 0);
        c.broadcast(nullptr, 0, 0);
        c.barrier();
        float x = reduce_input(c.rank(), 5);
        c.all_reduce_sum(&x, 1);
        EXPECT_EQ(x, reduce_expected(c.size(), 5));
    });
}

TEST(nccl_comm, ring_send_recv_with_host_and_device_buffers) {
    // With one rank the ring is a message to self (kept on the host); with more, NCCL carries it.
    on_every_rank([](communicator& c) {
        const int32_t next = (c.rank() + 1) % c.size(), prev = (c.rank() + c.size() - 1) % c.size();
        constexpr int64_t n = 1000;
        const auto bytes = static_cast<int64_t>(n * sizeof(int32_t));
        std::vector<int32_t> out(n), in(n, -1);
        for (int64_t i = 0; i < n; ++i) {
            out[static_cast<size_t>(i)] = c.rank() * 100000 + static_cast<int32_t>(i);
        }
        device_vector<int32_t> device_out(n), device_in(n);
        device_out.upload(out);
        c.send(out.data(), bytes, next, 7);
        std::fill(out.begin(), out.end(), -2); // send() copied it: the receiver must not see this
        c.send(device_out.data(), bytes, next, 7);
        check_cuda(cudaMemset(device_out.data(), 0xFF, n * sizeof(int32_t)), "cudaMemset");
        c.recv(in.data(), bytes, prev, 7);
        c.recv(device_in.data(), bytes, prev, 7);
        const std::vector<int32_t> from_device = device_in.download();
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_EQ(in[static_cast<size_t>(i)], prev * 100000 + static_cast<int32_t>(i)) << "host, " << i;
            ASSERT_EQ(from_device[static_cast<size_t>(i)], prev * 100000 + static_cast<int32_t>(i)) << "device, " << i;
        }
        // Messages of any size, the empty one included.
        const char text[] = "hello";
        c.send(nullptr, 0, next, 8);
        c.send(text, 5, next, 9);
        EXPECT_TRUE(c.recv_message(prev, 8).empty());
        const std::vector<std::byte> message = c.recv_message(prev, 9);
        ASSERT_EQ(message.size(), 5u);
        EXPECT_EQ(std::memcmp(message.data(), text, 5), 0);
    });
}

TEST(nccl_comm, messages_are_matched_by_tag) {
    on_every_rank([](communicator& c) {
        const int32_t next = (c.rank() + 1) % c.size(), prev = (c.rank() + c.size() - 1) % c.size();
        const int32_t a = 1000 + c.rank();
        const int64_t b = 2000 + c.rank();
        c.send(&a, sizeof a, next, 1);
        c.send(&b, sizeof b, next, 2);
        c.send(&a, sizeof a, next, 1);
        int64_t got_b = 0;
        int32_t got_a = 0, got_a_again = 0;
        c.recv(&got_b, sizeof got_b, prev, 2); // the tag-1 message ahead of it is set aside
        c.recv(&got_a, sizeof got_a, prev, 1);
        c.recv(&got_a_again, sizeof got_a_again, prev, 1);
        EXPECT_EQ(got_b, 2000 + prev);
        EXPECT_EQ(got_a, 1000 + prev);
        EXPECT_EQ(got_a_again, 1000 + prev);
    });
}

TEST(nccl_comm, recv_size_mismatch_is_invalid_argument_and_the_next_message_still_arrives) {
    on_every_rank([](communicator& c) {
        const int32_t next = (c.rank() + 1) % c.size(), prev = (c.rank() + c.size() - 1) % c.size();
        const std::vector<int32_t> four(4, c.rank());
        const int32_t one = 300 + c.rank();
        c.send(four.data(), 16, next, 3);
        c.send(&one, 4, next, 4);
        std::vector<int32_t> two(2);
        const auto [code, message] = error_of([&] { c.recv(two.data(), 8, prev, 3); });
        EXPECT_EQ(code, status_code::invalid_argument) << message;
        EXPECT_TRUE(contains(message, "8 bytes") && contains(message, "16")) << message;
        int32_t got = 0;
        c.recv(&got, 4, prev, 4);
        EXPECT_EQ(got, 300 + prev);
        float x = 1;
        c.all_reduce_sum(&x, 1);
        EXPECT_EQ(x, static_cast<float>(c.size()));
    });
}

TEST(nccl_comm, self_recv_without_a_message_is_invalid_argument) {
    on_every_rank([](communicator& c) {
        int32_t x = 0;
        const auto [code, message] = error_of([&] { c.recv(&x, 4, c.rank(), 11); });
        EXPECT_EQ(code, status_code::invalid_argument) << message;
        EXPECT_EQ(error_of([&] { c.send(&x, 4, c.size(), 0); }).first, status_code::invalid_argument);
        EXPECT_EQ(error_of([&] { c.send(&x, 4, 0, -1); }).first, status_code::invalid_argument);
    });
}

TEST(nccl_comm, pipeline_sends_do_not_wait_for_their_receiver) {
    if (world_size() < 2) {
        GTEST_SKIP() << "needs 2 ranks (2 GPUs, or mpirun -np 2 on 2 GPUs)";
    }
    // Rank 0 sends three micro-batches up, joins an all-reduce, then takes rank 1's reply; rank 1 joins the
    // all-reduce, takes micro-batch 0, replies, then takes the rest. On one NCCL stream rank 0's all-reduce and
    // recv would queue behind sends that rank 1 receives only after both: a deadlock.
    on_every_rank([](communicator& c) {
        float x = 1;
        if (c.rank() == 0) {
            for (int32_t m = 0; m < 3; ++m) {
                const std::vector<int32_t> batch(4096, m);
                c.send(batch.data(), static_cast<int64_t>(batch.size() * sizeof(int32_t)), 1, 100 + m);
            }
            c.all_reduce_sum(&x, 1);
            int32_t reply = 0;
            c.recv(&reply, sizeof reply, 1, 200);
            EXPECT_EQ(reply, 42);
        } else {
            c.all_reduce_sum(&x, 1);
            if (c.rank() == 1) {
                std::vector<int32_t> batch(4096);
                for (int32_t m = 0; m < 3; ++m) {
                    c.recv(batch.data(), static_cast<int64_t>(batch.size() * sizeof(int32_t)), 0, 100 + m);
                    EXPECT_EQ(batch.front(), m);
                    EXPECT_EQ(batch.back(), m);
                    if (m == 0) {
                        const int32_t reply = 42;
                        c.send(&reply, sizeof reply, 0, 200);
                    }
                }
            }
        }
        EXPECT_EQ(x, static_cast<float>(c.size()));
    });
}

TEST(nccl_comm, split_groups_by_color_and_orders_by_key) {
    on_every_rank([](communicator& c) {
        const int32_t color = c.rank() % 2;
        std::unique_ptr<communicator> group = c.split(color, -c.rank()); // descending parent rank
        int32_t expected_size = 0, expected_rank = 0, expected_sum = 0;
        for (int32_t r = c.size() - 1; r >= 0; --r) {
            if (r % 2 == color) {
                expected_rank += r > c.rank() ? 1 : 0;
                expected_sum += r + 1;
                ++expected_size;
            }
        }
        EXPECT_EQ(group->backend(), comm_backend::nccl);
        EXPECT_EQ(group->size(), expected_size);
        EXPECT_EQ(group->rank(), expected_rank);
        float x = static_cast<float>(c.rank() + 1);
        group->all_reduce_sum(&x, 1);
        EXPECT_EQ(x, static_cast<float>(expected_sum));
        // Messages inside the group, then the parent still works.
        const int32_t next = (group->rank() + 1) % group->size(),
                      prev = (group->rank() + group->size() - 1) % group->size();
        const int32_t mine = c.rank();
        int32_t theirs = -1;
        group->send(&mine, sizeof mine, next, 0);
        group->recv(&theirs, sizeof theirs, prev, 0);
        EXPECT_EQ(theirs % 2, color);
        float y = 1;
        c.all_reduce_sum(&y, 1);
        EXPECT_EQ(y, static_cast<float>(c.size()));
    });
}

TEST(nccl_comm, abort_fails_later_calls_with_its_message) {
    if (g_mpi_world != nullptr) {
        GTEST_SKIP() << "under MPI, abort() ends the job (test_mpi_comm_abort covers that path)";
    }
    on_every_rank([](communicator& c) {
        std::unique_ptr<communicator> group = c.split(0, 0); // collective; the world and its splits fail together
        if (c.rank() != 0) {
            return;
        }
        c.abort("injected fault");
        for (communicator* target : {&c, group.get()}) {
            float x = 1;
            const auto [code, message] = error_of([&] { target->all_reduce_sum(&x, 1); });
            EXPECT_EQ(code, status_code::unavailable) << message;
            EXPECT_TRUE(contains(message, "rank 0 failed: injected fault")) << message;
        }
    });
}

TEST(nccl_comm, silent_peer_times_out_and_fails_the_communicator) {
    if (g_mpi_world != nullptr || world_size() < 2) {
        GTEST_SKIP() << "needs 2 GPUs and the threads bootstrap";
    }
    on_every_rank([](communicator& c) {
        if (c.rank() != 0) {
            return; // rank 1 never sends
        }
        int32_t x = 0;
        const auto [code, message] = error_of([&] { c.recv(&x, sizeof x, 1, 5, /*timeout_s=*/0.3); });
        EXPECT_EQ(code, status_code::deadline_exceeded) << message;
        EXPECT_TRUE(contains(message, "rank 1")) << message;
        EXPECT_EQ(error_of([&] { c.barrier(); }).first, status_code::unavailable);
    });
}

TEST(nccl_comm, rejects_a_device_buffer_of_another_device) {
    if (g_mpi_world != nullptr || world_size() < 2) {
        GTEST_SKIP() << "needs 2 GPUs and the threads bootstrap";
    }
    on_every_rank([](communicator& c) {
        if (c.rank() != 0) {
            return;
        }
        check_cuda(cudaSetDevice(1), "cudaSetDevice");
        device_vector<int32_t> elsewhere(4);
        check_cuda(cudaSetDevice(0), "cudaSetDevice");
        const auto [code, message] = error_of([&] { c.send(elsewhere.data(), 16, 1, 0); });
        EXPECT_EQ(code, status_code::invalid_argument) << message;
        EXPECT_TRUE(contains(message, "device 1")) << message;
    });
}

} // namespace
} // namespace llmfleet::parallel

// Exit 77 (CTest: skipped) before anything else on a machine without a CUDA device; under mpirun the ranks
// bootstrap over MPI, else over threads.
int main(int argc, char** argv) {
    using namespace llmfleet::parallel;
    if (cuda_device_count() == 0) {
        std::fprintf(stderr, "SKIPPED: test_nccl_comm needs a CUDA device; this machine has none (or no driver)\n");
        return 77;
    }
    testing::InitGoogleTest(&argc, argv);
    if (!launched_by_mpirun()) {
        return RUN_ALL_TESTS();
    }
    mpi_session session;
    std::unique_ptr<communicator> world = make_mpi_world(test_timeout_s);
    g_mpi_world = world.get();
    const int result = RUN_ALL_TESTS();
    g_mpi_world = nullptr;
    world.reset();
    return result;
}
