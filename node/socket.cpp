#include "node/socket.hpp"

namespace dinx::node {

asio::ip::address peer_address(const Socket& socket) {
    std::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    return ec ? asio::ip::address{} : endpoint.address();
}

std::string describe_peer(const Socket& socket) {
    std::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) return "?";
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

std::size_t readable_bytes(const Socket& socket) {
    std::error_code ec;
    auto bytes = socket.available(ec);
    return ec ? 0 : bytes;
}

}  // namespace dinx::node
