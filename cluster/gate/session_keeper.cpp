#include "cluster/gate/session_keeper.hpp"

#include "cluster/rpc/error_frame.hpp"

#include <stdexcept>

namespace dinx::cluster {

SessionKeeper::SessionKeeper(ShardContext& context, ClientTable& clients, Report report,
                             EndAnywhere end_anywhere)
    : context_(context),
      clients_(clients),
      report_(std::move(report)),
      end_anywhere_(std::move(end_anywhere)) {}

void SessionKeeper::apply_here(std::uint64_t conn_id, Bytes changes) {
    if (auto* session = clients_.find(conn_id)) apply(*session, changes);
}

void SessionKeeper::apply(ClientSession& session, Bytes changes) {
    if (session.ending()) return;
    bool valid = SessionChanges::for_each(changes, [&](SessionOp op, std::string_view a,
                                                       std::string_view b) {
        switch (op) {
            case SessionOp::bind:
                bind(session, std::string(a));
                break;
            case SessionOp::set:
                set_value(session, a, b);
                break;
            case SessionOp::erase:
                session.values().erase(a);
                break;
            case SessionOp::join:
            case SessionOp::leave:
                // `b`, when set, is the uid the change was meant for: the connection may
                // hold another by now (a relogin), which must not be moved.
                if (b.empty() || b == session.uid())
                    change_room(session,
                                op == SessionOp::join ? PresenceOp::join : PresenceOp::leave, a);
                break;
        }
    });
    if (!valid) {
        ++rejected_;
        context_.log.warn("malformed session changes for client {} ignored", session.conn_id());
    }
}

void SessionKeeper::bind(ClientSession& session, const std::string& uid) {
    if (uid == session.uid() || uid.size() > max_uid_size) return;
    if (!session.uid().empty()) context_.directory.unbind_local(session.uid(), session.conn_id());
    session.set_uid({});
    if (!uid.empty()) {
        auto outcome = context_.directory.bind_local(uid, session.conn_id());
        if (!outcome.bound) {
            // refuse_newer, and the bind raced one elsewhere that the node handling it did not
            // know of yet: this session stays unbound and is told so.
            auto body = error_payload(0, Error::already_logged_in,
                                      "uid " + uid + " is logged in on another session");
            context_.metrics.count_error(Error::already_logged_in);
            session.send(context_.settings().error_msg_id, as_bytes(body));
            return;
        }
        session.set_uid(uid);
        if (outcome.loser)
            end_anywhere_(outcome.loser->conn_id, outcome.loser->uid, DisconnectReason::replaced,
                          "replaced by a newer login of " + uid);
    }
    report_(session.origin(), SessionEventKind::bound, DisconnectReason::none);
}

void SessionKeeper::set_value(ClientSession& session, std::string_view key,
                              std::string_view value) {
    try {
        session.values().set(key, value);
    } catch (const std::exception& error) {
        // Two backends may each stay under the limits and still pass them together.
        ++rejected_;
        context_.log.debug("client {}: session value {} not set: {}", session.conn_id(), key,
                           error.what());
    }
}

void SessionKeeper::change_room(ClientSession& session, PresenceOp op, std::string_view room) {
    if (session.uid().empty() || room.empty() || room.size() > max_room_name) {
        ++rejected_;
        return;
    }
    if (!context_.directory.change_room_local(op, std::string(room), session.uid(),
                                              session.conn_id()))
        ++rejected_;
}

void SessionKeeper::connected(ClientSession& session) {
    report_(session.origin(), SessionEventKind::connected, DisconnectReason::none);
}

void SessionKeeper::closed(ClientSession& session) {
    if (!session.first_farewell()) return;
    if (!session.uid().empty()) context_.directory.unbind_local(session.uid(), session.conn_id());
    report_(session.origin(), SessionEventKind::disconnected, session.disconnect_reason());
}

void SessionKeeper::end_here(std::uint64_t conn_id, const std::string& uid, DisconnectReason reason,
                             const std::string& why) {
    auto* session = clients_.find(conn_id);
    // The uid is checked: the session may have logged out or in as someone else since.
    if (!session || session->uid() != uid) return;
    auto body = error_payload(0, to_string(reason), why);
    session->end(reason, context_.settings().kick_msg_id, as_bytes(body),
                 std::string(to_string(reason)) + ": " + why);
}

void SessionKeeper::end_losers(const std::vector<LoginLoser>& losers) {
    for (const auto& loser : losers) {
        if (loser.refused)  // refuse_newer, and this bind raced an older one elsewhere
            end_anywhere_(loser.conn_id, loser.uid, DisconnectReason::kicked,
                          "uid " + loser.uid + " is logged in on another session");
        else
            end_anywhere_(loser.conn_id, loser.uid, DisconnectReason::replaced,
                          "replaced by a newer login of " + loser.uid);
    }
}

}  // namespace dinx::cluster
