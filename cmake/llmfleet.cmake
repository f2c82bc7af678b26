# Helpers shared by every module: warnings, sanitizers, libraries, tests, header self-containment.

set(LLMFLEET_WARNINGS -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wpedantic)
if(LLMFLEET_WERROR)
    list(APPEND LLMFLEET_WARNINGS -Werror)
endif()

set(LLMFLEET_SANITIZE_FLAGS "")
if(LLMFLEET_SANITIZE_ADDRESS)
    list(APPEND LLMFLEET_SANITIZE_FLAGS -fsanitize=address -fno-omit-frame-pointer)
endif()
if(LLMFLEET_SANITIZE_UNDEFINED)
    list(APPEND LLMFLEET_SANITIZE_FLAGS -fsanitize=undefined -fno-sanitize-recover=undefined)
endif()
if(LLMFLEET_SANITIZE_THREAD)
    list(APPEND LLMFLEET_SANITIZE_FLAGS -fsanitize=thread)
endif()

if(LLMFLEET_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
        message(FATAL_ERROR "LLMFLEET_FUZZ=ON needs clang (libFuzzer): configure with CXX=clang++")
    endif()
    list(APPEND LLMFLEET_SANITIZE_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
endif()

# Every header, for the checkheaders target (each header compiled alone).
set_property(GLOBAL PROPERTY LLMFLEET_HEADERS "")

# Host C++ gets the warnings and sanitizers; CUDA sources (kernels/cuda) get nvcc's own flags (cmake/cuda.cmake):
# nvcc does not take GCC's warning flags directly.
function(llmfleet_target_defaults target)
    target_compile_features(${target} PUBLIC cxx_std_20)
    set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
    target_compile_options(${target} PRIVATE
        "$<$<COMPILE_LANGUAGE:CXX>:${LLMFLEET_WARNINGS};${LLMFLEET_SANITIZE_FLAGS}>"
        "$<$<COMPILE_LANGUAGE:CUDA>:${LLMFLEET_CUDA_FLAGS}>")
    target_link_options(${target} PRIVATE ${LLMFLEET_SANITIZE_FLAGS})
endfunction()

# llmfleet_add_library(<module> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Creates llmfleet_<module> with alias llmfleet::<module>; the include root is the repo root.
# HEADERS (optional): the library's headers, for checkheaders; default: every *.h of the directory (a folder
# holding several libraries names each one's headers).
function(llmfleet_add_library module)
    cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS;HEADERS" ${ARGN})
    set(target llmfleet_${module})
    add_library(${target} STATIC ${ARG_SOURCES})
    add_library(llmfleet::${module} ALIAS ${target})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
    llmfleet_target_defaults(${target})
    if(ARG_HEADERS)
        set(headers ${ARG_HEADERS})
    else()
        file(GLOB headers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
    endif()
    get_property(all GLOBAL PROPERTY LLMFLEET_HEADERS)
    foreach(h ${headers})
        list(APPEND all "${h}|${target}")
    endforeach()
    set_property(GLOBAL PROPERTY LLMFLEET_HEADERS "${all}")
endfunction()

# llmfleet_add_test(<name> SOURCES ... LABELS cpu|gpu|slow|e2e [DEPS ...] [NO_MAIN])
# Tests exit 77 to report "skipped" (e.g. gpu tests without a GPU). NO_MAIN: the sources bring their own main().
function(llmfleet_add_test name)
    cmake_parse_arguments(ARG "NO_MAIN" "" "SOURCES;LABELS;DEPS" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest)
    if(NOT ARG_NO_MAIN)
        target_link_libraries(${name} PRIVATE GTest::gtest_main)
    endif()
    llmfleet_target_defaults(${name})
    target_compile_options(${name} PRIVATE -UNDEBUG)
    target_compile_definitions(${name} PRIVATE
        LLMFLEET_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
        LLMFLEET_BINARY_DIR="${CMAKE_BINARY_DIR}")
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" SKIP_RETURN_CODE 77
        ENVIRONMENT "LLMFLEET_LOG_LEVEL=warn")
endfunction()

# llmfleet_add_gpu_test(<name> SOURCES ... [DEPS ...]): a test of CUDA code, labelled gpu. Its main
# (tests/cuda_test_main.cpp) exits 77 (CTest: skipped) when this process sees no CUDA device.
function(llmfleet_add_gpu_test name)
    cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
    llmfleet_add_test(${name} NO_MAIN LABELS gpu
        SOURCES ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/cuda_test_main.cpp
        DEPS ${ARG_DEPS} llmfleet::kernels_cuda)
    set_tests_properties(${name} PROPERTIES TIMEOUT 900)
endfunction()

# checkheaders: compile every module header on its own (catches missing includes).
function(llmfleet_add_checkheaders)
    get_property(all GLOBAL PROPERTY LLMFLEET_HEADERS)
    set(sources "")
    set(libs "")
    foreach(entry ${all})
        string(REPLACE "|" ";" parts "${entry}")
        list(GET parts 0 header)
        list(GET parts 1 lib)
        file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${header})
        string(MAKE_C_IDENTIFIER "${rel}" id)
        set(src ${CMAKE_BINARY_DIR}/checkheaders/${id}.cpp)
        file(GENERATE OUTPUT ${src} CONTENT "#include \"${rel}\"\n")
        list(APPEND sources ${src})
        list(APPEND libs ${lib})
    endforeach()
    list(REMOVE_DUPLICATES libs)
    add_library(llmfleet_checkheaders OBJECT EXCLUDE_FROM_ALL ${sources})
    target_link_libraries(llmfleet_checkheaders PRIVATE ${libs})
    llmfleet_target_defaults(llmfleet_checkheaders)
    add_custom_target(checkheaders DEPENDS llmfleet_checkheaders)
endfunction()
