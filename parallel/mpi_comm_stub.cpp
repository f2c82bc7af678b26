// The MPI communicator in a build without MPI (cmake/mpi.cmake found none, or LLMFLEET_MPI=OFF): every entry point
// throws unavailable with what to install; launched_by_mpirun (communicator.cpp) still works.
#include "common/error.h"
#include "parallel/mpi_comm.h"

namespace llmfleet::parallel {
namespace {

[[noreturn]] void no_mpi() {
    throw error(status_code::unavailable, "this build has no MPI; install openmpi-bin libopenmpi-dev and rebuild");
}

} // namespace

bool mpi_comm_built() {
    return false;
}

mpi_session::mpi_session() {
    no_mpi();
}

mpi_session::~mpi_session() = default;

std::unique_ptr<communicator> make_mpi_world(double /*timeout_s*/) {
    no_mpi();
}

} // namespace llmfleet::parallel
