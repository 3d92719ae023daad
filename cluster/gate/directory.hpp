#pragma once
// The uid directory of one node: where every bound uid of the cluster is connected (gate,
// connection) and which uids each room holds. Gates are its sources: each publishes its own
// sessions' binds, unbinds, joins and leaves to every other node over one link (a snapshot when
// that link comes up, then each change), and a node forgets a gate's entries when that link
// closes. So a push to a uid is one lookup here and one envelope to its gate. docs/decisions.md
// (32) gives the design and its costs.

#include "cluster/api/session_event.hpp"
#include "cluster/gate/presence.hpp"
#include "dict/config.hpp"

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace dinx::cluster {

/// Where a bound uid is connected.
struct Presence {
    std::uint32_t gate_id = 0;  ///< the gate holding its connection
    std::uint64_t conn_id = 0;  ///< the connection on that gate
};

/// The connections of one gate a frame goes to.
struct GateTargets {
    std::uint32_t gate_id = 0;            ///< the gate
    std::vector<std::uint64_t> conn_ids;  ///< its connections
};

/// A session of this gate that must close because another took (or kept) its uid.
struct LoginLoser {
    std::uint64_t conn_id = 0;  ///< its connection on this gate
    std::string uid;            ///< the uid it held
    bool refused = false;       ///< refuse_newer: an older login kept the uid (else replaced)
};

/// One node's view of every gate's sessions. Shared by the node's shards: every member locks.
class Directory {
public:
    /// Called (on any thread) when the outbox goes from empty to not empty.
    using Wake = std::function<void()>;

    /// The directory of node `self_id` (a gate publishes its own sessions) under `policy`.
    Directory(std::uint32_t self_id, dict::LoginPolicy policy);

    /// Sets what is called when local changes wait to be published.
    void on_outbox(Wake wake);

    /// Where `uid` is connected, or nullopt when it is not bound anywhere known.
    std::optional<Presence> find(std::string_view uid) const;
    /// The uids in `room`, sorted.
    std::vector<std::string> members(std::string_view room) const;
    /// How many uids `room` holds.
    std::size_t room_size(std::string_view room) const;
    /// The connections of `room`'s members but `except_uid`, gathered per gate.
    std::vector<GateTargets> room_targets(std::string_view room, std::string_view except_uid) const;
    /// The connections of `uids` gathered per gate; those not bound anywhere go to `offline`.
    std::vector<GateTargets> uid_targets(const std::vector<std::string>& uids,
                                         std::vector<std::string>& offline) const;
    /// True when `uid`, as known here, is in max_session_rooms rooms and not in `room`: a
    /// join would be refused by its gate.
    bool room_limit_reached(std::string_view uid, std::string_view room) const;
    /// Number of uids bound anywhere (as known here).
    std::size_t size() const;

    /// The outcome of a local bind.
    struct BindOutcome {
        bool bound = false;               ///< false: refused (refuse_newer, the uid is taken)
        std::optional<LoginLoser> loser;  ///< a session of this gate to close (replaced)
    };
    /// Session `conn_id` of this gate binds `uid`.
    BindOutcome bind_local(const std::string& uid, std::uint64_t conn_id);
    /// Session `conn_id` of this gate no longer holds `uid` (unbound or closed): it leaves its
    /// rooms. Nothing happens when the uid is bound elsewhere now (a newer login).
    void unbind_local(const std::string& uid, std::uint64_t conn_id);
    /// Session `conn_id` of this gate, holding `uid`, joins or leaves `room`; false when the
    /// uid is not bound there or is in max_session_rooms rooms.
    bool change_room_local(PresenceOp op, const std::string& room, const std::string& uid,
                           std::uint64_t conn_id);
    /// A node that asked `uid`'s gate to join or leave `room` sees it at once (the gate's
    /// publication confirms it later); false when the uid is not bound anywhere known.
    bool change_room_seen(PresenceOp op, const std::string& room, const std::string& uid);

    /// Applies what gate `gate_id` published over the link `stream`. Returns the sessions of
    /// this gate that lose their uid to a login there.
    std::vector<LoginLoser> apply(std::uint32_t gate_id, std::uintptr_t stream,
                                  const std::vector<PresenceUpdate>& updates);
    /// The link `stream` from `gate_id` closed: when it carried that gate's presence, the
    /// gate's entries are forgotten (it may be dead; a new link brings a new snapshot).
    void drop_stream(std::uint32_t gate_id, std::uintptr_t stream);

    /// This gate's changes not published yet, in order.
    std::vector<PresenceUpdate> take_outbox();
    /// This gate's sessions as a reset followed by binds and joins.
    std::vector<PresenceUpdate> snapshot() const;

private:
    struct Entry {
        std::uint32_t gate_id = 0;
        std::uint64_t conn_id = 0;
        std::uint64_t epoch = 0;
        std::vector<std::string> rooms;
    };
    struct TextHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const {
            return std::hash<std::string_view>{}(text);
        }
    };
    using EntryMap = std::unordered_map<std::string, Entry, TextHash, std::equal_to<>>;
    using RoomMap =
        std::unordered_map<std::string, std::unordered_set<std::string>, TextHash, std::equal_to<>>;

    using ClaimMap = std::unordered_map<std::string, std::vector<Entry>, TextHash, std::equal_to<>>;

    /// A new epoch later than any seen: logins of one uid are ordered by (epoch, gate id).
    std::uint64_t next_epoch();
    /// True when the login (epoch, gate) of `a` is newer than that of `b`.
    static bool newer(const Entry& a, const Entry& b);
    /// Which of two logins of one uid keeps it under the policy.
    bool keeps(const Entry& challenger, const Entry& holder) const;
    void apply_one(std::uint32_t gate_id, const PresenceUpdate& update,
                   std::vector<LoginLoser>& losers);
    void apply_bind(std::uint32_t gate_id, const PresenceUpdate& update,
                    std::vector<LoginLoser>& losers);
    /// The holding entry of `uid` when it is the session (gate, conn), or nullptr.
    Entry* session_entry(std::string_view uid, std::uint32_t gate_id, std::uint64_t conn_id);
    /// The waiting claim of `uid` by the session (gate, conn), or nullptr.
    Entry* waiting_claim(std::string_view uid, std::uint32_t gate_id, std::uint64_t conn_id);
    /// True when `entry` is in `room`.
    static bool in_room(const Entry& entry, std::string_view room);
    /// Takes `uid` out of `room`'s members; an empty room goes.
    void drop_member(const std::string& room, const std::string& uid);
    /// Removes the session (gate, conn)'s claim of `uid`, holding or waiting, with its rooms;
    /// the best waiting claim then holds the uid.
    void remove_if(const std::string& uid, std::uint32_t gate_id, std::uint64_t conn_id);
    /// Removes `uid`'s holding entry; its waiting claims are left to settle().
    Entry take_holder(EntryMap::iterator it);
    /// Makes `entry` the holder of `uid` (no holder may be there), rooms included.
    void hold(const std::string& uid, Entry entry);
    /// The best of `uid`'s claims under the policy becomes its holder: a replaced holder of
    /// another gate waits for its gate to close it, one of this gate goes to `losers`.
    void settle(const std::string& uid, std::vector<LoginLoser>* losers);
    /// Adds `room` to `entry`'s own list (not to the room index); false when it is there
    /// already or the entry is in max_session_rooms rooms.
    static bool list_room(Entry& entry, const std::string& room);
    /// Takes `room` off `entry`'s own list; false when it was not there.
    static bool unlist_room(Entry& entry, const std::string& room);
    /// list_room(), and `uid` joins the room's members.
    bool add_room(Entry& entry, const std::string& room, const std::string& uid);
    /// unlist_room(), and `uid` leaves the room's members.
    bool remove_room(Entry& entry, const std::string& room, const std::string& uid);
    void forget_gate(std::uint32_t gate_id);
    void publish(PresenceUpdate update);

    const std::uint32_t self_id_;
    const dict::LoginPolicy policy_;
    mutable std::mutex mutex_;
    EntryMap entries_;  // uid -> the login that holds it
    // uid -> logins of other gates that claim it too, not (yet) holding: the losers their gates
    // have not closed yet, or under refuse_newer newer logins that take over if the holder
    // leaves first. Every gate closes its losers, so each claim goes with its gate's unbind.
    ClaimMap waiting_;
    RoomMap rooms_;
    std::unordered_map<std::uint32_t, std::uintptr_t> streams_;  // gate -> its presence link
    std::uint64_t last_epoch_ = 0;
    std::vector<PresenceUpdate> outbox_;
    Wake wake_;
};

}  // namespace dinx::cluster
