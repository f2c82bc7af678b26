// The communicator: what tensor and pipeline parallelism need from a transport: all-reduce (sum), all-gather,
// broadcast, buffered send / receive, barrier and split into sub-groups. Three implementations share it:
// in-process threads (thread_comm.h: ranks are threads sharing memory; what tests use), MPI (mpi_comm.h: ranks
// are processes started by mpirun, on one host or many) and NCCL (nccl_comm.h: GPU buffers, bootstrapped over
// MPI). Nothing here waits forever unless asked to: every wait is bounded by timeout_s() and a peer that
// failed, died or went silent surfaces as an llmfleet::error on the ranks that wait for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmfleet::parallel {

enum class comm_backend { threads, mpi, nccl };
std::string_view to_string(comm_backend backend);       // "threads" | "mpi" | "nccl"
comm_backend parse_comm_backend(std::string_view text); // throws invalid_argument listing the choices
// Whether this build includes the backend (threads always; MPI and NCCL when CMake found them).
bool comm_backend_built(comm_backend backend);

// A recv() timeout meaning "no limit" (a follower waiting for its next command from rank 0).
constexpr double wait_forever_s = -1;
// The default bound on every wait: long enough for a cold first forward pass of a large model.
constexpr double default_comm_timeout_s = 120;

// not thread-safe: one thread per rank drives its communicator. Collectives are called by every rank of the
// communicator in the same order. Errors are llmfleet::error:
//   unavailable        a peer failed (its abort() message is quoted: "rank 3 failed: <why>") or died;
//   deadline_exceeded  a peer did not answer within timeout_s ("rank 0: no answer from rank 2 within 120 s
//                      in all_reduce_sum; is it alive?");
//   invalid_argument   a caller bug such as a size that differs between ranks, where detectable.
class communicator {
public:
    virtual ~communicator() = default;

    virtual int32_t rank() const = 0;
    virtual int32_t size() const = 0;
    virtual comm_backend backend() const = 0;

    // In place, buf [n] f32: every rank ends with the element-wise sum over ranks, bitwise the same on every
    // rank (replicated activations stay identical). Threads sum in rank order; MPI and NCCL in their library's
    // order, so results may differ between backends in the last bits.
    virtual void all_reduce_sum(float* buf, int64_t n) = 0;
    // in [bytes_per_rank] from every rank → out [size × bytes_per_rank], rank r's block at r · bytes_per_rank.
    virtual void all_gather(const void* in, void* out, int64_t bytes_per_rank) = 0;
    // root's buf [bytes] → every rank's buf.
    virtual void broadcast(void* buf, int64_t bytes, int32_t root) = 0;
    virtual void barrier() = 0;

    // Point to point. send() is buffered: it returns once buf may be reused and never waits for the receiver,
    // so a pipeline of sends cannot deadlock. Messages from one rank to another with one tag arrive in order.
    virtual void send(const void* buf, int64_t bytes, int32_t dst, int32_t tag) = 0;
    // Receives the next message from src with tag into buf, which must be exactly its size (else
    // invalid_argument naming both sizes). timeout_s ≤ 0 means timeout_s(); wait_forever_s has no limit.
    virtual void recv(void* buf, int64_t bytes, int32_t src, int32_t tag, double timeout_s = 0) = 0;
    // The same for a message of any size.
    virtual std::vector<std::byte> recv_message(int32_t src, int32_t tag, double timeout_s = 0) = 0;

    // Collective: ranks that pass the same color form a new communicator, ranked by key (ties by rank).
    virtual std::unique_ptr<communicator> split(int32_t color, int32_t key) = 0;

    // Declares this rank failed: every rank's pending and later waits on this communicator (and the world
    // it was split from) fail with error(unavailable, "rank R failed: why"). Never throws. Under MPI it also
    // tells world rank 0 and then ends the job (MPI_Abort) after a short grace period.
    virtual void abort(const std::string& why) noexcept = 0;

    double timeout_s() const { return _timeout_s; }
    void set_timeout_s(double seconds) { _timeout_s = seconds; }

protected:
    double _timeout_s = default_comm_timeout_s;
};

} // namespace llmfleet::parallel
