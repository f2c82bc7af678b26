# OpenAI protocol (JSON requests and responses): request parsing and validation, the error table, response and
# SSE builders. Pure functions: no networking, no engine loop.
llmfleet_add_library(openai_api
    SOURCES
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_error.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_json.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_request.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_response.cpp
    HEADERS
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_json.h
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_request.h
        ${CMAKE_CURRENT_SOURCE_DIR}/openai_response.h
    PUBLIC_DEPS llmfleet::engine llmfleet::model nlohmann_json::nlohmann_json)
