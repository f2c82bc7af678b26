# End-to-end tests of `llmfleet engine` (real processes; the official openai client through node when installed).
llmfleet_add_test(test_engine_server_e2e SOURCES test_engine_server_e2e.cpp LABELS cpu e2e
    DEPS llmfleet::model nlohmann_json::nlohmann_json)
add_dependencies(test_engine_server_e2e llmfleet)
