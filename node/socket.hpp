#pragma once
// The socket type of every connection: bound to an io_context's own executor rather than the
// type-erased any_io_executor, which makes the socket and each pending operation smaller and
// each completion cheaper to dispatch.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <string>

namespace dinx::node {

/// A TCP stream socket of one io_context.
using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

/// The peer's address and port (unspecified when the socket is not connected).
asio::ip::tcp::endpoint peer_endpoint(const Socket& socket);
/// "ip:port", for logs ("?" when unspecified).
std::string describe(const asio::ip::tcp::endpoint& endpoint);
/// Bytes the kernel received that were not read yet (0 when it cannot say).
std::size_t readable_bytes(const Socket& socket);

}  // namespace dinx::node
