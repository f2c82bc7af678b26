# CUDA toolkit and NCCL (LLMFLEET_CUDA = AUTO | ON | OFF, declared in the top CMakeLists).
# Sets LLMFLEET_HAVE_CUDA (nvcc works: the CUDA language is enabled) and LLMFLEET_HAVE_NCCL (nccl.h and libnccl
# found, NCCL ≥ 2.18 for ncclCommSplit), and then defines the INTERFACE target llmfleet_nccl_deps (CUDA::cudart,
# libnccl and nccl.h's folder) that parallel/nccl_*.cpp links. With CUDA on, kernels/cuda (our kernels, cuBLASLt)
# and the CUDA model runner are built (LLMFLEET_HAVE_CUDA; the top CMakeLists adds kernels/cuda).
# AUTO uses CUDA when the toolkit and a working nvcc are found; ON makes their absence a configure error.
set(LLMFLEET_HAVE_CUDA OFF)
set(LLMFLEET_HAVE_NCCL OFF)

if(NOT LLMFLEET_CUDA MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "LLMFLEET_CUDA must be AUTO, ON or OFF, got '${LLMFLEET_CUDA}'")
endif()
if(LLMFLEET_CUDA STREQUAL "OFF")
    message(STATUS "llmfleet: cuda        ✗ (LLMFLEET_CUDA=OFF)")
    message(STATUS "llmfleet: nccl        ✗ (LLMFLEET_CUDA=OFF)")
    return()
endif()

# Reports a missing piece: fatal under ON, a ✗ line under AUTO (the caller then returns).
macro(llmfleet_cuda_missing why)
    if(LLMFLEET_CUDA STREQUAL "ON")
        message(FATAL_ERROR "LLMFLEET_CUDA=ON but ${why}")
    endif()
    message(STATUS "llmfleet: cuda        ✗ ${why} (LLMFLEET_CUDA=AUTO)")
    message(STATUS "llmfleet: nccl        ✗ needs CUDA")
endmacro()

# The toolkit: CUDAToolkit_ROOT, then nvcc on PATH, then /usr/local/cuda (where the CUDA images put it).
if(NOT DEFINED CUDAToolkit_ROOT AND NOT DEFINED ENV{CUDAToolkit_ROOT} AND EXISTS /usr/local/cuda)
    set(CUDAToolkit_ROOT /usr/local/cuda)
endif()
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
    llmfleet_cuda_missing("no CUDA toolkit was found (looked at CUDAToolkit_ROOT, nvcc on PATH and /usr/local/cuda); \
install it, pass -DCUDAToolkit_ROOT=<dir>, or configure with -DLLMFLEET_CUDA=OFF")
    return()
endif()

# nvcc must compile: check_language runs enable_language(CUDA) in a scratch project (once; the result is cached as
# CMAKE_CUDA_COMPILER, so later configures skip it). Point it at the toolkit's nvcc unless the user chose one.
if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND CUDAToolkit_NVCC_EXECUTABLE)
    set(ENV{CUDACXX} ${CUDAToolkit_NVCC_EXECUTABLE})
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
    llmfleet_cuda_missing("CUDA ${CUDAToolkit_VERSION} at ${CUDAToolkit_BIN_DIR} has no working nvcc \
(CMake could not compile a CUDA test program: see CMakeFiles/CMakeError.log)")
    return()
endif()

# Which GPUs the kernels are compiled for. Override with -DCMAKE_CUDA_ARCHITECTURES="80;89;90" (or "native" for
# the GPU of the build machine):
#   80  A100 (Ampere)          86  A10, A40, RTX 30xx
#   89  L4, L40S, RTX 40xx     90  H100, H200 (Hopper: the default, what the fleet runs)
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures to compile kernels for (e.g. 80;89;90)")
endif()
# One CUDA runtime per process: the shared libcudart that CUDA::cudart (NCCL, host C++) links too. Mixing it with
# the static runtime nvcc links by default would give a process two runtimes with separate state.
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)
if(LLMFLEET_CCACHE)
    set(CMAKE_CUDA_COMPILER_LAUNCHER ${LLMFLEET_CCACHE})
endif()
enable_language(CUDA)
set(LLMFLEET_HAVE_CUDA ON)
string(REGEX MATCH "^[0-9]+\\.[0-9]+" llmfleet_cuda_version "${CUDAToolkit_VERSION}")
string(REPLACE ";" "," llmfleet_cuda_archs "${CMAKE_CUDA_ARCHITECTURES}")
message(STATUS "llmfleet: cuda        ✓ CUDA ${llmfleet_cuda_version} (nvcc ${CMAKE_CUDA_COMPILER}, \
sm ${llmfleet_cuda_archs}): kernels/cuda and the CUDA engine backend (--device cuda)")

# nvcc's flags for kernels/cuda (llmfleet_target_defaults applies them to CUDA sources only): line info for
# profilers and compute-sanitizer, host warnings through -Xcompiler, and warnings as errors under LLMFLEET_WERROR.
set(LLMFLEET_CUDA_FLAGS -lineinfo --expt-relaxed-constexpr -Xcompiler=-Wall)
if(LLMFLEET_WERROR)
    list(APPEND LLMFLEET_CUDA_FLAGS -Werror=all-warnings)
endif()

# NCCL: in the toolkit (CUDA images ship it there), NCCL_HOME / NCCL_ROOT, or the system folders.
find_path(LLMFLEET_NCCL_INCLUDE_DIR nccl.h
    HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV NCCL_HOME ENV NCCL_ROOT
    PATH_SUFFIXES include)
find_library(LLMFLEET_NCCL_LIBRARY nccl
    HINTS ${CUDAToolkit_LIBRARY_DIR} ENV NCCL_HOME ENV NCCL_ROOT
    PATH_SUFFIXES lib lib64)
if(NOT LLMFLEET_NCCL_INCLUDE_DIR OR NOT LLMFLEET_NCCL_LIBRARY)
    if(NOT LLMFLEET_NCCL_INCLUDE_DIR)
        set(llmfleet_nccl_missing "nccl.h")
    else()
        set(llmfleet_nccl_missing "libnccl")
    endif()
    message(STATUS "llmfleet: nccl        ✗ no ${llmfleet_nccl_missing} in ${CUDAToolkit_INCLUDE_DIRS}, \
${CUDAToolkit_LIBRARY_DIR}, NCCL_HOME or the system folders: --comm nccl is unavailable (set NCCL_HOME=<dir>)")
    return()
endif()

file(STRINGS ${LLMFLEET_NCCL_INCLUDE_DIR}/nccl.h llmfleet_nccl_defines REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) ")
string(REGEX REPLACE ".*NCCL_MAJOR ([0-9]+).*" "\\1" llmfleet_nccl_major "${llmfleet_nccl_defines}")
string(REGEX REPLACE ".*NCCL_MINOR ([0-9]+).*" "\\1" llmfleet_nccl_minor "${llmfleet_nccl_defines}")
string(REGEX REPLACE ".*NCCL_PATCH ([0-9]+).*" "\\1" llmfleet_nccl_patch "${llmfleet_nccl_defines}")
set(llmfleet_nccl_version "${llmfleet_nccl_major}.${llmfleet_nccl_minor}.${llmfleet_nccl_patch}")
if(llmfleet_nccl_version VERSION_LESS 2.18)
    message(STATUS "llmfleet: nccl        ✗ NCCL ${llmfleet_nccl_version} at ${LLMFLEET_NCCL_LIBRARY} is too old: \
the communicator needs ncclCommSplit (NCCL ≥ 2.18)")
    return()
endif()

add_library(llmfleet_nccl_deps INTERFACE)
target_include_directories(llmfleet_nccl_deps INTERFACE ${LLMFLEET_NCCL_INCLUDE_DIR})
target_link_libraries(llmfleet_nccl_deps INTERFACE CUDA::cudart ${LLMFLEET_NCCL_LIBRARY})
set(LLMFLEET_HAVE_NCCL ON)
if(LLMFLEET_HAVE_MPI)
    set(llmfleet_nccl_note "--comm nccl bootstraps over MPI")
else()
    set(llmfleet_nccl_note "but the NCCL communicator also needs MPI, which is off: --comm nccl is unavailable")
endif()
message(STATUS "llmfleet: nccl        ✓ NCCL ${llmfleet_nccl_version} at ${LLMFLEET_NCCL_LIBRARY} \
(${llmfleet_nccl_note})")
