// The NCCL communicator: collectives and point-to-point over NCCL on one CUDA device per rank, bootstrapped over
// another communicator (MPI across processes, or threads in one process). Built when CMake found CUDA, NCCL
// (≥ 2.18) and MPI; otherwise nccl_comm_stub.cpp makes every entry point fail with a hint. This header needs no
// CUDA or NCCL header: the implementation (parallel/nccl_*.cpp) keeps them in parallel/nccl_comm_internal.h.
//
// What differs from the threads and MPI communicators (communicator.h has the shared contract):
//   - Buffers may be device pointers (on this rank's device: used in place) or host pointers (staged through
//     device scratch buffers that grow as needed), told apart by cudaPointerGetAttributes. The CPU engine passes
//     host buffers, so `--comm nccl` works with the CPU backend on a GPU machine (slowly). Device buffers must be
//     ready when a call starts (the stream that wrote them synchronized): the communicator's streams do not wait
//     on the caller's streams. Every call except send() has finished with its buffers when it returns.
//   - all_reduce_sum gives every rank bitwise the same result (NCCL reduces each element once and distributes
//     it), but the summation order is NCCL's, not rank order, so it may differ from threads/MPI in the last bits.
//   - A size that differs between ranks in a collective is not detected (NCCL cannot tell): it hangs until the
//     timeout or corrupts. Point-to-point sizes are checked (each message carries a small header).
//   - Tags: NCCL has none. Each message carries a 16-byte header (size, tag); messages between a pair of ranks
//     arrive in send order, and recv(src, tag) takes the next message from src with that tag, setting aside
//     (copied to host memory) any message with another tag that arrives first. Messages to self stay on the host.
//   - send() copies buf into an owned device buffer, enqueues ncclSend and returns: buf may be reused at once and
//     the receiver is not waited for. An NCCL send does finish only once the receiver has posted its recv, and
//     NCCL runs the operations of one NCCL communicator in order; so each communicator holds three NCCL ones: the
//     collectives never queue behind a send, messages to higher ranks travel apart from messages to lower ranks
//     (a pipeline stage can take its next input while its output waits for the next stage, and results sent back
//     to rank 0 pass the inputs going up), and all pairs are connected when the communicator is made (a first send
//     to a peer would wait for the peer). What remains: on one direction, a recv waits behind this rank's earlier
//     sends in that direction until their receivers take them (the timeout message names those receivers).
//     Cost: the two message communicators' NCCL resources (made only with two ranks or more).
//   - Timeouts: every wait polls the CUDA stream and ncclCommGetAsyncError until done or timeout_s(). On a
//     timeout or an NCCL error the call throws deadline_exceeded or unavailable and fails the world on this rank:
//     its NCCL communicators (this one's at once, its splits' at their next call) are aborted (ncclCommAbort)
//     and every later call throws unavailable. Peers of a rank that failed see a timeout (or NCCL's remote
//     error), not its abort() message, unless the bootstrap is MPI, whose abort() tells world rank 0 and ends
//     the job.
//   - The destructor waits up to timeout_s() for the sends still in flight (their receivers must take them),
//     then flushes and destroys its NCCL communicators (local calls); past that, or after a failure, it aborts.
//   - split() is ncclCommSplit: ranks are ordered by key, ties by rank. The children share the bootstrap and the
//     failed state of the world: abort() on any of them fails them all.
#pragma once

#include <cstdint>
#include <memory>

#include "parallel/communicator.h"

namespace llmfleet::parallel {

// Whether this build includes the NCCL communicator (CUDA, NCCL and MPI were found by CMake).
bool nccl_comm_built();

// The number of CUDA devices this process sees; 0 without a driver or GPU, or in a build without NCCL.
// Never throws.
int32_t cuda_device_count();

// A communicator over NCCL for the ranks of `bootstrap`, with the same rank and size. Collective over bootstrap:
// its rank 0 makes the ncclUniqueId and broadcasts it through bootstrap.broadcast, then every rank joins.
// device: this rank's CUDA device; −1 → the local rank modulo the device count (the local rank is
// OMPI_COMM_WORLD_LOCAL_RANK when set, else the bootstrap rank). The device is made current on the calling
// thread. Every wait (the NCCL init included) is bounded by timeout_s. bootstrap must outlive the result and
// every communicator split from it. Throws unavailable (no NCCL in this build, no CUDA device, NCCL init failed),
// invalid_argument (device out of range) or deadline_exceeded (a rank did not join within timeout_s); when one
// rank fails before the NCCL init, every rank throws naming it.
std::unique_ptr<communicator> make_nccl_world(communicator& bootstrap, int32_t device = -1,
                                              double timeout_s = default_comm_timeout_s);

} // namespace llmfleet::parallel
