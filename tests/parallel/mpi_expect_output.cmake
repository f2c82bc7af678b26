# cmake -P wrapper for an mpirun scenario whose pass/fail is in its output, not its exit code:
#   cmake -DLAUNCH="mpirun -n 4 ..." -DBINARY=path -DARGS="--flag ..." -DEXPECT=<regex> [-DEXPECT_FAILURE=ON]
#         -P mpi_expect_output.cmake
# Runs LAUNCH BINARY ARGS, prints its output, and fails unless the output matches EXPECT and (with EXPECT_FAILURE)
# the job exited non-zero.
separate_arguments(launch UNIX_COMMAND "${LAUNCH}")
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${launch} ${BINARY} ${args}
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 50)
message("---- stdout ----\n${out}\n---- stderr ----\n${err}\n---- exit: ${rc}")
if(NOT out MATCHES "${EXPECT}")
    message(FATAL_ERROR "expected a line matching '${EXPECT}' in the output")
endif()
if(EXPECT_FAILURE AND rc EQUAL 0)
    message(FATAL_ERROR "expected the job to exit non-zero (it was aborted), got exit 0")
endif()
message("ok: output matched and the job exited ${rc}")
