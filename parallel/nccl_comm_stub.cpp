// nccl_comm.h in a build without the NCCL communicator (CMake found no CUDA toolkit, no NCCL ≥ 2.18 or no MPI,
// or LLMFLEET_CUDA / LLMFLEET_MPI is OFF): it reports itself as not built and make_nccl_world fails with a hint.
#include "parallel/nccl_comm.h"

#include "common/error.h"

namespace llmfleet::parallel {

bool nccl_comm_built() {
    return false;
}

int32_t cuda_device_count() {
    return 0;
}

std::unique_ptr<communicator> make_nccl_world(communicator& /*bootstrap*/, int32_t /*device*/, double /*timeout_s*/) {
    throw error(status_code::unavailable,
                "this build has no NCCL: --comm nccl needs the CUDA toolkit with NCCL ≥ 2.18 and MPI when CMake "
                "configures (see the `llmfleet: cuda`, `nccl` and `mpi` lines of its output); reconfigure with "
                "-DLLMFLEET_CUDA=ON -DLLMFLEET_MPI=ON on a machine that has them, or use --comm mpi or --comm threads");
}

} // namespace llmfleet::parallel
