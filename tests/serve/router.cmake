# Tests of serve/router: the pure policies (router_core), CPU only.
foreach(unit policy health predictor table config)
    llmfleet_add_test(test_router_${unit} SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_router_${unit}.cpp
        LABELS cpu DEPS llmfleet::router_core)
endforeach()

# The router server end to end (real processes): policies, retries, the circuit breaker and size-aware routing
# over fixed-reply backends (bench/e2e); the OpenAI client, error statuses and kill -9 over real engines.
llmfleet_add_test(test_router_routing_e2e SOURCES test_router_routing_e2e.cpp LABELS cpu e2e
    DEPS llmfleet::http_client nlohmann_json::nlohmann_json)
add_dependencies(test_router_routing_e2e llmfleet)
if(LLMFLEET_BUILD_BENCH)
    add_dependencies(test_router_routing_e2e fixed_backend)
endif()
llmfleet_add_test(test_router_e2e SOURCES test_router_e2e.cpp LABELS cpu e2e
    DEPS llmfleet::http_client llmfleet::model nlohmann_json::nlohmann_json)
add_dependencies(test_router_e2e llmfleet)
