# Tests of serve/engine_loop.
llmfleet_add_test(test_engine_loop SOURCES test_engine_loop.cpp LABELS cpu DEPS llmfleet::engine_loop)
