# MPI tests, included by tests/parallel/CMakeLists.txt when cmake/mpi.cmake found MPI. test_mpi_comm is one
# GoogleTest binary with its own main() (an mpi_session around RUN_ALL_TESTS), so it is made here rather than by
# llmfleet_add_test (which links gtest_main and runs the binary alone): CTest runs it as 4 ranks under mpirun.
# Its --inject-abort mode is the failure scenario; mpi_expect_output.cmake runs it and checks rank 0's line.
# single_copy_mechanism=none: containers usually forbid the cross-process memory access that vader would use.
set(llmfleet_mpi_test_env "LLMFLEET_LOG_LEVEL=warn;OMPI_MCA_btl_vader_single_copy_mechanism=none")
set(llmfleet_mpirun_4 ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 4 ${LLMFLEET_MPIEXEC_FLAGS} ${MPIEXEC_PREFLAGS})

add_executable(test_mpi_comm test_mpi_comm.cpp)
target_link_libraries(test_mpi_comm PRIVATE llmfleet::parallel GTest::gtest)
llmfleet_target_defaults(test_mpi_comm)
target_compile_options(test_mpi_comm PRIVATE -UNDEBUG)
target_compile_definitions(test_mpi_comm PRIVATE
    LLMFLEET_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    LLMFLEET_BINARY_DIR="${CMAKE_BINARY_DIR}")
set_target_properties(test_mpi_comm PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

add_test(NAME test_mpi_comm COMMAND ${llmfleet_mpirun_4} $<TARGET_FILE:test_mpi_comm> ${MPIEXEC_POSTFLAGS})
set_tests_properties(test_mpi_comm PROPERTIES LABELS "cpu;mpi" ENVIRONMENT "${llmfleet_mpi_test_env}" TIMEOUT 120)

# Rank 2 aborts: rank 0 must report it (unavailable, naming rank 2 and the reason) before the job ends non-zero.
string(JOIN " " llmfleet_mpirun_4_text ${llmfleet_mpirun_4})
add_test(NAME test_mpi_comm_abort
    COMMAND ${CMAKE_COMMAND}
        "-DLAUNCH=${llmfleet_mpirun_4_text}"
        -DBINARY=$<TARGET_FILE:test_mpi_comm>
        -DARGS=--inject-abort
        "-DEXPECT=fault-test: rank 0 got unavailable within the grace period \\([0-9.]+ s\\): rank 2 failed: injected fault"
        -DEXPECT_FAILURE=ON
        -P ${CMAKE_CURRENT_SOURCE_DIR}/mpi_expect_output.cmake)
set_tests_properties(test_mpi_comm_abort PROPERTIES LABELS "cpu;mpi" ENVIRONMENT "${llmfleet_mpi_test_env}"
    TIMEOUT 60)
