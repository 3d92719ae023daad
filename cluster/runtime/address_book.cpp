#include "cluster/runtime/address_book.hpp"

namespace dinx::cluster {

AddressBook::AddressBook(const dict::Config& config) {
    for (const auto& node : config.nodes) {
        std::uint16_t client_port = node.is_frontend() ? node.port : 0;
        entries_.emplace(node.id, Entry{{node.host, node.link_endpoint_port()}, client_port});
    }
}

void AddressBook::update(const dict::Config& config) {
    std::lock_guard lock(mutex_);
    for (const auto& node : config.nodes) {
        auto& entry = entries_[node.id];
        entry.link.host = node.host;
        if (node.link_endpoint_port() != 0) entry.link.port = node.link_endpoint_port();
        if (node.is_frontend() && node.port != 0) entry.client_port = node.port;
    }
}

std::optional<Address> AddressBook::link_address(std::uint32_t node_id) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(node_id);
    if (it == entries_.end() || it->second.link.port == 0) return std::nullopt;
    return it->second.link;
}

void AddressBook::set_link_port(std::uint32_t node_id, std::uint16_t port) {
    std::lock_guard lock(mutex_);
    entries_[node_id].link.port = port;
}

void AddressBook::set_client_port(std::uint32_t node_id, std::uint16_t port) {
    std::lock_guard lock(mutex_);
    entries_[node_id].client_port = port;
}

std::uint16_t AddressBook::client_port(std::uint32_t node_id) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(node_id);
    return it == entries_.end() ? 0 : it->second.client_port;
}

}  // namespace dinx::cluster
