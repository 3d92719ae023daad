#include "cluster/client_session.hpp"

#include "cluster/node_shard.hpp"

namespace dinx::cluster {

ClientSession::ClientSession(NodeShard& shard, node::Socket socket, node::ConnectionLimits limits,
                             std::uint64_t conn_id)
    : node::Connection(std::move(socket), limits), shard_(shard), conn_id_(conn_id) {}

Origin ClientSession::origin() const {
    return Origin{shard_.node_id(), conn_id_, uid_};
}

bool ClientSession::on_frame(std::uint32_t msg_id, Bytes payload) {
    shard_.on_client_frame(*this, msg_id, payload);
    return is_open();
}

void ClientSession::on_closed() {
    shard_.on_client_closed(*this);
}

}  // namespace dinx::cluster
