# MPI for the parallel/ communicator (LLMFLEET_MPI = AUTO | ON | OFF). Sets LLMFLEET_HAVE_MPI and, when MPI is
# found, MPIEXEC_EXECUTABLE (for the tests that run several ranks) and LLMFLEET_MPIEXEC_FLAGS: the flags every
# mpirun of ours needs (Open MPI in a container runs as root on a few cores: --allow-run-as-root --oversubscribe).
set(LLMFLEET_HAVE_MPI OFF)
set(LLMFLEET_MPIEXEC_FLAGS "")

if(NOT LLMFLEET_MPI MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "LLMFLEET_MPI must be AUTO, ON or OFF, got '${LLMFLEET_MPI}'")
endif()

if(LLMFLEET_MPI STREQUAL "OFF")
    message(STATUS "llmfleet: mpi         ✗ (LLMFLEET_MPI=OFF): the mpi communicator is not built")
    return()
endif()

# The C API only (the MPI-2 C++ bindings are deprecated), and the library's version string for the status line.
set(MPI_CXX_SKIP_MPICXX ON)
set(MPI_DETERMINE_LIBRARY_VERSION ON)
find_package(MPI COMPONENTS CXX QUIET)

if(NOT MPI_CXX_FOUND)
    set(why "no MPI C++ compiler wrapper or library found; apt-get install openmpi-bin libopenmpi-dev")
    if(LLMFLEET_MPI STREQUAL "ON")
        message(FATAL_ERROR "LLMFLEET_MPI=ON but ${why} (or configure with -DLLMFLEET_MPI=OFF)")
    endif()
    message(STATUS "llmfleet: mpi         ✗ ${why}")
    return()
endif()
if(NOT MPIEXEC_EXECUTABLE)
    set(why "MPI library found but no mpirun/mpiexec program; apt-get install openmpi-bin libopenmpi-dev")
    if(LLMFLEET_MPI STREQUAL "ON")
        message(FATAL_ERROR "LLMFLEET_MPI=ON but ${why}")
    endif()
    message(STATUS "llmfleet: mpi         ✗ ${why}")
    return()
endif()

set(LLMFLEET_HAVE_MPI ON)
# "Open MPI v4.1.4, package: Debian OpenMPI, ..." → "Open MPI 4.1.4"; other MPIs: the standard version.
if(MPI_CXX_LIBRARY_VERSION_STRING MATCHES "^Open MPI v([0-9.]+)")
    set(mpi_name "Open MPI ${CMAKE_MATCH_1}")
    set(LLMFLEET_MPIEXEC_FLAGS --allow-run-as-root --oversubscribe)
elseif(MPI_CXX_LIBRARY_VERSION_STRING MATCHES "^([A-Za-z ]+) Version:? *([0-9.]+)")
    set(mpi_name "${CMAKE_MATCH_1} ${CMAKE_MATCH_2}")
else()
    set(mpi_name "MPI ${MPI_CXX_VERSION}")
endif()
message(STATUS "llmfleet: mpi         ✓ ${mpi_name} (mpirun at ${MPIEXEC_EXECUTABLE})")
