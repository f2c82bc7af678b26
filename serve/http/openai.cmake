# OpenAI protocol (JSON requests and responses): request parsing and validation, the error table, response and
# SSE builders (pure functions), and openai_http: errors and the API key over the HTTP server. No engine loop.
llmfleet_add_library(openai_api
    SOURCES
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_error.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_http.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_json.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_request.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_response.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_route_scan.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_stream_scan.cpp
    HEADERS
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_http.h
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_json.h
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_request.h
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_response.h
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_route_scan.h
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_stream_scan.h
    PUBLIC_DEPS llmfleet::engine llmfleet::model llmfleet::http_server nlohmann_json::nlohmann_json)
