# Tests of serve/http/openai: request parsing and validation, the error table, response and SSE builders.
llmfleet_add_test(test_openai_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_openai_request.cpp
    LABELS cpu DEPS llmfleet::openai_api)
llmfleet_add_test(test_openai_response SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_openai_response.cpp
    LABELS cpu DEPS llmfleet::openai_api)
llmfleet_add_test(test_openai_scan SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_openai_scan.cpp
    LABELS cpu DEPS llmfleet::openai_api)
