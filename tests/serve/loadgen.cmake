# Tests of serve/loadgen and `llmfleet bench`: the pure parts (no network), the runner against an in-process
# scripted server, and the CLI as a child process against such a server and against `llmfleet engine` (e2e).
llmfleet_add_test(test_loadgen_core SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_loadgen_core.cpp LABELS cpu
    DEPS llmfleet::loadgen llmfleet::planner)
llmfleet_add_test(test_loadgen_sse SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_loadgen_sse.cpp LABELS cpu
    DEPS llmfleet::loadgen)
llmfleet_add_test(test_loadgen_runner SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_loadgen_runner.cpp LABELS cpu
    DEPS llmfleet::loadgen llmfleet::http_server)
llmfleet_add_test(test_loadgen_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_loadgen_cli.cpp LABELS cpu e2e
    DEPS llmfleet::http_server llmfleet::model nlohmann_json::nlohmann_json)
add_dependencies(test_loadgen_cli llmfleet)
