# Tests of serve/http/server (owned by server.cmake): real sockets on 127.0.0.1, ephemeral ports.
llmfleet_add_test(test_http_server SOURCES test_http_server.cpp LABELS cpu DEPS llmfleet::http_server)
