#include "node/socket.hpp"

namespace dinx::node {

asio::ip::tcp::endpoint peer_endpoint(const Socket& socket) {
    std::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    return ec ? asio::ip::tcp::endpoint{} : endpoint;
}

std::string describe(const asio::ip::tcp::endpoint& endpoint) {
    if (endpoint.port() == 0) return "?";
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

std::size_t readable_bytes(const Socket& socket) {
    std::error_code ec;
    auto bytes = socket.available(ec);
    return ec ? 0 : bytes;
}

}  // namespace dinx::node
