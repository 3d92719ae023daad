#pragma once
// Where each node can be dialed. Starts from dinx.toml; a node that listens on port 0 records
// the port it got, so nodes started on free ports (tests) can still find each other.

#include "dict/config.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace dinx::cluster {

/// host and port of a node's link endpoint.
struct Address {
    std::string host;
    std::uint16_t port = 0;
};

/// Thread-safe node id -> link address table. Read at dial time only, never per message.
class AddressBook {
public:
    /// Fills the book with every node's link endpoint from `config`.
    explicit AddressBook(const dict::Config& config);
    /// Takes the endpoints of a reloaded `config`: new nodes are added and moved ones updated;
    /// a port 0 in the file keeps the port its node reported when it bound.
    void update(const dict::Config& config);
    /// The link address of `node_id`; nullopt when unknown or not bound yet (port 0).
    std::optional<Address> link_address(std::uint32_t node_id) const;
    /// Records the port a node's link listener is bound to.
    void set_link_port(std::uint32_t node_id, std::uint16_t port);
    /// Records the port a frontend's client listener is bound to.
    void set_client_port(std::uint32_t node_id, std::uint16_t port);
    /// The client port of a frontend (the bound one if it asked for 0); 0 when unknown.
    std::uint16_t client_port(std::uint32_t node_id) const;

private:
    struct Entry {
        Address link;
        std::uint16_t client_port = 0;
    };
    mutable std::mutex mutex_;
    std::unordered_map<std::uint32_t, Entry> entries_;
};

}  // namespace dinx::cluster
