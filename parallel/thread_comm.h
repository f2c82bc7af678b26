// The in-process communicator: ranks are threads of one process sharing memory (tests, and tensor parallelism
// on one multi-core host without MPI). Collectives exchange pointers through a shared state and meet at an atomic
// generation barrier that spins briefly, then yields, then sleeps, so that ranks may outnumber cores.
//
// Beyond communicator.h's contract:
//   - all_reduce_sum: each rank sums its chunk of the elements over ranks in rank order 0..n-1 and every rank
//     copies every chunk, so all ranks end with bitwise the same result.
//   - A collective that times out, or that sees the world fail while waiting for its peers, is withdrawn: no
//     peer reads this rank's buffers after the call has thrown, and the communicator stays usable (a timed-out
//     collective is as if it had not been called). Once every rank has arrived, a collective finishes without
//     giving up (what is left is memory copies that cannot block).
//   - send() copies into the receiver's mailbox; recv() waits on the mailbox.
//   - abort() on any communicator of a world (the world or one split from it) fails the whole world.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "parallel/communicator.h"

namespace llmfleet::parallel {

// A world of n_ranks communicators; communicator r must be driven by the thread that runs rank r. The shared
// state lives until the last communicator of the world (splits included) is destroyed.
// Throws invalid_argument unless n_ranks ≥ 1.
std::vector<std::unique_ptr<communicator>> make_thread_world(int32_t n_ranks,
                                                             double timeout_s = default_comm_timeout_s);

} // namespace llmfleet::parallel
