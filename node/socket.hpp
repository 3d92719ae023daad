#pragma once
// The socket type of every connection: bound to an io_context's own executor rather than the
// type-erased any_io_executor, which makes the socket and each pending operation smaller and
// each completion cheaper to dispatch.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

namespace dinx::node {

/// A TCP stream socket of one io_context.
using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

}  // namespace dinx::node
