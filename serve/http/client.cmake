# HTTP client (Boost.Asio/Beast): pooled keep-alive connections, streamed responses. Only http_client*.cpp include
# Beast (http_client_internal.h is internal), so users of http_client.h (router, load generator) compile fast.
llmfleet_add_library(http_client
    SOURCES
        ${CMAKE_CURRENT_SOURCE_DIR}/http_client.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/http_client_core.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/http_client_exchange.cpp
    HEADERS
        ${CMAKE_CURRENT_SOURCE_DIR}/http_client.h
        ${CMAKE_CURRENT_SOURCE_DIR}/http_client_internal.h
    PUBLIC_DEPS llmfleet::http_server Threads::Threads
    PRIVATE_DEPS Boost::headers)
target_compile_definitions(llmfleet_http_client PRIVATE BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
if(LLMFLEET_SANITIZE_THREAD)
    # TSan does not model Asio's atomic fences (GCC rejects them under -Werror=tsan); the queues lock anyway.
    target_compile_definitions(llmfleet_http_client PRIVATE BOOST_ASIO_DISABLE_FENCED_BLOCK)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND (LLMFLEET_SANITIZE_ADDRESS OR LLMFLEET_SANITIZE_UNDEFINED))
    # GCC 12 reports a false maybe-uninitialized inside Beast's parser (boost::optional) under the sanitizers.
    target_compile_options(llmfleet_http_client PRIVATE -Wno-maybe-uninitialized)
endif()
