// The MPI communicator: ranks are processes started by mpirun, on one host or many. Needs no MPI header (the
// implementation keeps mpi.h in parallel/mpi_comm.cpp); in a build without MPI, mpi_comm_stub.cpp makes every entry
// point throw unavailable with the packages to install.
//
// Beyond communicator.h's contract:
//   - Every wait is non-blocking MPI polled with a deadline (spin briefly, then sleep tens of µs between polls), so a
//     dead or silent peer gives deadline_exceeded instead of a hang. While it waits, a rank answers its peers' "have
//     you entered collective #k?" queries, which is how a timeout names the ranks that had not arrived.
//   - MPI cannot cancel a collective: after one times out it stays pending (MPI may still write its buffers when the
//     late peer arrives; keep them alive) and the communicator refuses further collectives (unavailable); abort()
//     it. The destructor completes the pending operation if the late peer arrives within timeout_s().
//   - all_reduce_sum is MPI_Iallreduce(MPI_IN_PLACE, MPI_SUM): every rank gets the same bits, but the order of the
//     sum is the MPI library's (rank order is not guaranteed by MPI).
//   - send() copies into an owned buffer and returns; MPI moves the data when either side is inside an MPI call,
//     so a large message sent just before a long computation may reach the receiver only when the sender comes
//     back to MPI.
//   - abort() tells world rank 0 ("rank R failed: why", with a reserved tag), waits 2 s so that rank 0 can report
//     it (rank 0 throws unavailable from whatever wait it is in), then ends the job with MPI_Abort.
//   - Sizes that differ between ranks in a collective are not detected (MPI's own check, if any, applies).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace llmfleet::parallel {

// Whether this build includes the MPI communicator.
bool mpi_comm_built();

// Whether this process was started by mpirun/mpiexec (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK is set).
// Never throws; works without MPI.
bool launched_by_mpirun();

// MPI for this process: MPI_Init_thread (asks for MPI_THREAD_MULTIPLE, requires at least SERIALIZED) in the
// constructor, MPI_Finalize in the destructor. One per process, created in main() before any MPI communicator and
// destroyed after the last one. Throws unavailable (no MPI in this build, or not even SERIALIZED threading) or
// invalid_argument (MPI was already initialized: a second session).
class mpi_session {
public:
    mpi_session();
    ~mpi_session();
    mpi_session(const mpi_session&) = delete;
    mpi_session& operator=(const mpi_session&) = delete;

    int32_t world_rank() const { return _world_rank; }
    int32_t world_size() const { return _world_size; }
    // MPI_THREAD_MULTIPLE was granted: communicators may be driven by different threads concurrently.
    bool thread_multiple() const { return _thread_multiple; }
    // The library, e.g. "Open MPI v4.1.4" (the first part of MPI_Get_library_version).
    const std::string& library_version() const { return _library_version; }

private:
    int32_t _world_rank = 0;
    int32_t _world_size = 1;
    bool _thread_multiple = false;
    std::string _library_version;
};

// The world communicator: a duplicate of MPI_COMM_WORLD whose errors are returned (as llmfleet::error), not fatal.
// Collective over MPI_COMM_WORLD. Needs a live mpi_session (else invalid_argument); must be destroyed before it.
std::unique_ptr<communicator> make_mpi_world(double timeout_s = default_comm_timeout_s);

} // namespace llmfleet::parallel
