# HTTP server core (Boost.Asio/Beast, header-only): connections, routes, limits, streaming, shutdown.
# Only http_*.cpp include Beast (http_connection.h is internal), so users of http_server.h compile fast.
find_package(Boost 1.74 REQUIRED)
llmfleet_add_library(http_server
    SOURCES
        ${CMAKE_CURRENT_SOURCE_DIR}/http_server.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/http_connection.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/http_responder.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/http_endpoint.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/sse_parser.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/io_runtime.cpp
    HEADERS
        ${CMAKE_CURRENT_SOURCE_DIR}/http_request.h
        ${CMAKE_CURRENT_SOURCE_DIR}/http_endpoint.h
        ${CMAKE_CURRENT_SOURCE_DIR}/sse_parser.h
        ${CMAKE_CURRENT_SOURCE_DIR}/http_server.h
        ${CMAKE_CURRENT_SOURCE_DIR}/http_connection.h
        ${CMAKE_CURRENT_SOURCE_DIR}/io_runtime.h
        ${CMAKE_CURRENT_SOURCE_DIR}/io_runtime_internal.h
    PUBLIC_DEPS llmfleet::common Threads::Threads
    PRIVATE_DEPS Boost::headers)
target_compile_definitions(llmfleet_http_server PRIVATE BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
if(LLMFLEET_SANITIZE_THREAD)
    # TSan does not model Asio's atomic fences (GCC rejects them under -Werror=tsan); the queues lock anyway.
    target_compile_definitions(llmfleet_http_server PRIVATE BOOST_ASIO_DISABLE_FENCED_BLOCK)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND (LLMFLEET_SANITIZE_ADDRESS OR LLMFLEET_SANITIZE_UNDEFINED))
    # GCC 12 reports a false maybe-uninitialized inside Beast's parser (boost::optional) under the sanitizers.
    target_compile_options(llmfleet_http_server PRIVATE -Wno-maybe-uninitialized)
endif()
