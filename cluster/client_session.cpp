#include "cluster/client_session.hpp"

#include "cluster/node_shard.hpp"

namespace dinx::cluster {

ClientSession::ClientSession(NodeShard& shard, node::Socket socket, node::ConnectionLimits limits,
                             std::uint64_t conn_id)
    : node::Connection(std::move(socket), limits), shard_(shard), conn_id_(conn_id) {}

Origin ClientSession::origin() const {
    return Origin{shard_.node_id(), conn_id_, uid_};
}

void ClientSession::idle_tick(int silent_limit, std::chrono::milliseconds tick) {
    if (take_heard()) {
        silent_ticks_ = 0;
    } else if (++silent_ticks_ >= silent_limit) {
        closed_for_idleness_ = true;
        close("sent nothing for " + std::to_string(silent_ticks_ * tick.count()) + " ms");
    }
}

RoutePin& ClientSession::pin_for(const Group* group) {
    if (auto* pin = find_pin(group)) return *pin;
    return pins_.emplace_back(RoutePin{group, 0, 0, {}});
}

RoutePin* ClientSession::find_pin(const Group* group) {
    for (auto& pin : pins_)
        if (pin.group == group) return &pin;
    return nullptr;
}

bool ClientSession::on_frame(std::uint32_t msg_id, Bytes payload) {
    shard_.on_client_frame(*this, msg_id, payload);
    return is_open();
}

void ClientSession::on_closed() {
    shard_.on_client_closed(*this);
}

}  // namespace dinx::cluster
