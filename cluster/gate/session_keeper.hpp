#pragma once
// A gate's side of the player layer, for one shard: it applies the session changes handlers
// send back (uid, values, rooms) under the one-login policy, tells the directory what its
// sessions do, closes sessions that are kicked or lose their uid to a newer login, and reports
// session events.

#include "cluster/api/session_event.hpp"
#include "cluster/gate/client_table.hpp"
#include "cluster/gate/directory.hpp"
#include "cluster/runtime/shard_context.hpp"

#include <functional>
#include <string>
#include <vector>

namespace dinx::cluster {

/// The session side of one gate shard. Used on its thread only.
class SessionKeeper {
public:
    /// Reports a session event about `client` to the groups that listen.
    using Report =
        std::function<void(const Origin& client, SessionEventKind kind, DisconnectReason reason)>;
    /// Ends a session of this gate, on whatever shard holds it.
    using EndAnywhere = std::function<void(std::uint64_t conn_id, const std::string& uid,
                                           DisconnectReason reason, std::string why)>;

    /// The keeper of the shard `context` describes, whose clients are `clients`.
    SessionKeeper(ShardContext& context, ClientTable& clients, Report report,
                  EndAnywhere end_anywhere);

    /// Applies the encoded SessionChanges `changes` to `session` (on its shard), in order.
    void apply(ClientSession& session, Bytes changes);
    /// Applies changes to session `conn_id` of this shard, if it is still there.
    void apply_here(std::uint64_t conn_id, Bytes changes);
    /// A client connected.
    void connected(ClientSession& session);
    /// A client's connection is gone: its uid and rooms are released, the event reported.
    void closed(ClientSession& session);
    /// Ends session `conn_id` of this shard if it still holds `uid`: a kick_msg_id frame with
    /// code `kicked` or `replaced` and `why`, then the close.
    void end_here(std::uint64_t conn_id, const std::string& uid, DisconnectReason reason,
                  const std::string& why);
    /// Ends sessions of this gate that lost their uid to a login elsewhere.
    void end_losers(const std::vector<LoginLoser>& losers);
    /// Changes to sessions rejected because they broke a limit (logged in summaries).
    std::uint64_t rejected_changes() const { return rejected_; }

private:
    /// Binds (or with "" unbinds) `uid` on `session` under the login policy.
    void bind(ClientSession& session, const std::string& uid);
    void set_value(ClientSession& session, std::string_view key, std::string_view value);
    void change_room(ClientSession& session, PresenceOp op, std::string_view room);

    ShardContext& context_;
    ClientTable& clients_;
    Report report_;
    EndAnywhere end_anywhere_;
    std::uint64_t rejected_ = 0;
};

}  // namespace dinx::cluster
