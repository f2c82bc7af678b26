# NCCL tests, included by tests/parallel/CMakeLists.txt when cmake/cuda.cmake found NCCL and cmake/mpi.cmake found
# MPI. test_nccl_comm has its own main(): it exits 77 (CTest: skipped) on a machine without a CUDA device, else
# bootstraps over threads when run alone (one rank per GPU, up to 4) and over MPI under mpirun. CTest runs it both
# ways; the MPI run uses one rank, since the GPU count is unknown at configure time (by hand, on a machine with N
# GPUs: mpirun -np N build/tests/test_nccl_comm).
add_executable(test_nccl_comm test_nccl_comm.cpp)
target_link_libraries(test_nccl_comm PRIVATE llmfleet::parallel llmfleet_nccl_deps GTest::gtest)
llmfleet_target_defaults(test_nccl_comm)
target_compile_options(test_nccl_comm PRIVATE -UNDEBUG)
set_target_properties(test_nccl_comm PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

# single_copy_mechanism=none: containers usually forbid the cross-process memory access that vader would use.
set(llmfleet_nccl_test_env "LLMFLEET_LOG_LEVEL=warn;OMPI_MCA_btl_vader_single_copy_mechanism=none")
add_test(NAME test_nccl_comm COMMAND test_nccl_comm)
set_tests_properties(test_nccl_comm PROPERTIES LABELS gpu SKIP_RETURN_CODE 77 TIMEOUT 600
    ENVIRONMENT "${llmfleet_nccl_test_env}")

add_test(NAME test_nccl_comm_mpi
    COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 1 ${LLMFLEET_MPIEXEC_FLAGS} ${MPIEXEC_PREFLAGS}
        $<TARGET_FILE:test_nccl_comm> ${MPIEXEC_POSTFLAGS})
set_tests_properties(test_nccl_comm_mpi PROPERTIES LABELS "gpu;mpi" SKIP_RETURN_CODE 77 TIMEOUT 600
    ENVIRONMENT "${llmfleet_nccl_test_env}")
