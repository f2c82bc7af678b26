# Tests of serve/http/client (owned by client.cmake): the in-repo http_server and raw POSIX sockets on 127.0.0.1.
llmfleet_add_test(test_http_client SOURCES test_http_client.cpp LABELS cpu DEPS llmfleet::http_client)
# A server and a client sharing one io_runtime (the router's layout): same-thread proxying, shutdown orders.
llmfleet_add_test(test_http_runtime SOURCES test_http_runtime.cpp LABELS cpu DEPS llmfleet::http_client)
