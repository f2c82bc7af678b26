// Internal to serve/http: the Asio io_context inside an io_runtime, for the server and the client that run their
// sockets and timers on it. Included only by serve/http/*.cpp, so that Asio stays out of the public headers.
#pragma once

#include <boost/asio/io_context.hpp>

#include "serve/http/io_runtime.h"

namespace llmfleet::serve {

// The runtime's event loop. Valid while the runtime lives.
boost::asio::io_context& io_context_of(io_runtime& runtime);

} // namespace llmfleet::serve
