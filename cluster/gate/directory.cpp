#include "cluster/gate/directory.hpp"

#include "cluster/api/session.hpp"

#include <algorithm>
#include <chrono>
#include <map>

namespace dinx::cluster {

Directory::Directory(std::uint32_t self_id, dict::LoginPolicy policy)
    : self_id_(self_id), policy_(policy) {}

void Directory::on_outbox(Wake wake) {
    std::lock_guard lock(mutex_);
    wake_ = std::move(wake);
}

std::optional<Presence> Directory::find(std::string_view uid) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(uid);
    if (it == entries_.end()) return std::nullopt;
    return Presence{it->second.gate_id, it->second.conn_id};
}

std::vector<std::string> Directory::members(std::string_view room) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    if (auto it = rooms_.find(room); it != rooms_.end())
        out.assign(it->second.begin(), it->second.end());
    std::sort(out.begin(), out.end());
    return out;
}

std::size_t Directory::room_size(std::string_view room) const {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room);
    return it == rooms_.end() ? 0 : it->second.size();
}

namespace {

std::vector<GateTargets> gather(std::map<std::uint32_t, std::vector<std::uint64_t>>& by_gate) {
    std::vector<GateTargets> out;
    out.reserve(by_gate.size());
    for (auto& [gate, conns] : by_gate) out.push_back(GateTargets{gate, std::move(conns)});
    return out;
}

}  // namespace

std::vector<GateTargets> Directory::room_targets(std::string_view room,
                                                 std::string_view except_uid) const {
    std::lock_guard lock(mutex_);
    std::map<std::uint32_t, std::vector<std::uint64_t>> by_gate;
    auto it = rooms_.find(room);
    if (it == rooms_.end()) return {};
    for (const auto& uid : it->second) {
        if (uid == except_uid) continue;
        auto entry = entries_.find(uid);
        if (entry != entries_.end())
            by_gate[entry->second.gate_id].push_back(entry->second.conn_id);
    }
    return gather(by_gate);
}

std::vector<GateTargets> Directory::uid_targets(const std::vector<std::string>& uids,
                                                std::vector<std::string>& offline) const {
    std::lock_guard lock(mutex_);
    std::map<std::uint32_t, std::vector<std::uint64_t>> by_gate;
    for (const auto& uid : uids) {
        auto entry = entries_.find(uid);
        if (entry == entries_.end())
            offline.push_back(uid);
        else
            by_gate[entry->second.gate_id].push_back(entry->second.conn_id);
    }
    return gather(by_gate);
}

bool Directory::room_limit_reached(std::string_view uid, std::string_view room) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(uid);
    return it != entries_.end() && it->second.rooms.size() >= max_session_rooms &&
           !in_room(it->second, room);
}

std::size_t Directory::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

// A hybrid clock: wall-clock microseconds, but always past every epoch seen, so a gate that
// restarts (or whose clock is behind) still orders its new logins after the ones it heard of.
std::uint64_t Directory::next_epoch() {
    auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    last_epoch_ = std::max(last_epoch_ + 1, static_cast<std::uint64_t>(now));
    return last_epoch_;
}

bool Directory::newer(const Entry& a, const Entry& b) {
    return a.epoch != b.epoch ? a.epoch > b.epoch : a.gate_id > b.gate_id;
}

bool Directory::keeps(const Entry& challenger, const Entry& holder) const {
    bool challenger_newer = newer(challenger, holder);
    return policy_ == dict::LoginPolicy::kick_older ? challenger_newer : !challenger_newer;
}

Directory::BindOutcome Directory::bind_local(const std::string& uid, std::uint64_t conn_id) {
    std::lock_guard lock(mutex_);
    Entry fresh{self_id_, conn_id, next_epoch(), {}};
    BindOutcome outcome;
    auto it = entries_.find(uid);
    if (it != entries_.end()) {
        Entry& held = it->second;
        if (held.gate_id == self_id_ && held.conn_id == conn_id) return {true, std::nullopt};
        if (!keeps(fresh, held)) return outcome;  // refuse_newer: the uid stays where it is
        Entry old = take_holder(it);
        if (old.gate_id == self_id_)
            outcome.loser = LoginLoser{old.conn_id, uid, false};
        else  // closed by its gate when it hears of this bind
            waiting_[uid].push_back(std::move(old));
    }
    hold(uid, fresh);
    publish({PresenceOp::bind, conn_id, fresh.epoch, uid, {}});
    outcome.bound = true;
    return outcome;
}

void Directory::unbind_local(const std::string& uid, std::uint64_t conn_id) {
    std::lock_guard lock(mutex_);
    remove_if(uid, self_id_, conn_id);
    // Published even when a newer login holds the uid here: nodes that have not heard of that
    // login yet drop the old entry now.
    publish({PresenceOp::unbind, conn_id, 0, uid, {}});
}

bool Directory::change_room_local(PresenceOp op, const std::string& room, const std::string& uid,
                                  std::uint64_t conn_id) {
    std::lock_guard lock(mutex_);
    auto* entry = session_entry(uid, self_id_, conn_id);
    if (!entry) return false;
    bool changed =
        op == PresenceOp::join ? add_room(*entry, room, uid) : remove_room(*entry, room, uid);
    if (changed) publish({op, conn_id, 0, uid, room});
    return changed || op == PresenceOp::leave;
}

bool Directory::change_room_seen(PresenceOp op, const std::string& room, const std::string& uid) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(uid);
    if (it == entries_.end()) return false;
    if (op == PresenceOp::join) {
        add_room(it->second, room, uid);
        return in_room(it->second, room);  // joined now or before; not when at the limit
    }
    remove_room(it->second, room, uid);
    return true;
}

bool Directory::in_room(const Entry& entry, std::string_view room) {
    return std::find(entry.rooms.begin(), entry.rooms.end(), room) != entry.rooms.end();
}

bool Directory::list_room(Entry& entry, const std::string& room) {
    if (in_room(entry, room) || entry.rooms.size() >= max_session_rooms) return false;
    entry.rooms.push_back(room);
    return true;
}

bool Directory::unlist_room(Entry& entry, const std::string& room) {
    auto at = std::find(entry.rooms.begin(), entry.rooms.end(), room);
    if (at == entry.rooms.end()) return false;
    entry.rooms.erase(at);
    return true;
}

bool Directory::add_room(Entry& entry, const std::string& room, const std::string& uid) {
    if (!list_room(entry, room)) return false;
    rooms_[room].insert(uid);
    return true;
}

bool Directory::remove_room(Entry& entry, const std::string& room, const std::string& uid) {
    if (!unlist_room(entry, room)) return false;
    drop_member(room, uid);
    return true;
}

void Directory::drop_member(const std::string& room, const std::string& uid) {
    auto members = rooms_.find(room);
    if (members == rooms_.end()) return;
    members->second.erase(uid);
    if (members->second.empty()) rooms_.erase(members);  // an empty room is no room
}

Directory::Entry Directory::take_holder(EntryMap::iterator it) {
    for (const auto& room : it->second.rooms) drop_member(room, it->first);
    Entry entry = std::move(it->second);
    entries_.erase(it);
    return entry;
}

void Directory::hold(const std::string& uid, Entry entry) {
    for (const auto& room : entry.rooms) rooms_[room].insert(uid);
    entries_.emplace(uid, std::move(entry));
}

void Directory::settle(const std::string& uid, std::vector<LoginLoser>* losers) {
    auto waiting = waiting_.find(uid);
    if (waiting == waiting_.end()) return;
    auto& claims = waiting->second;
    auto best = claims.begin();
    for (auto claim = claims.begin(); claim != claims.end(); ++claim)
        if (keeps(*claim, *best)) best = claim;
    Entry winner = std::move(*best);
    claims.erase(best);
    if (auto holder = entries_.find(uid); holder != entries_.end()) {
        if (!keeps(winner, holder->second)) {
            claims.push_back(std::move(winner));
            return;
        }
        Entry old = take_holder(holder);
        if (old.gate_id != self_id_)
            claims.push_back(std::move(old));
        else if (losers)
            losers->push_back({old.conn_id, uid, policy_ == dict::LoginPolicy::refuse_newer});
    }
    if (claims.empty()) waiting_.erase(waiting);
    hold(uid, std::move(winner));
}

Directory::Entry* Directory::session_entry(std::string_view uid, std::uint32_t gate_id,
                                           std::uint64_t conn_id) {
    auto it = entries_.find(uid);
    if (it == entries_.end() || it->second.gate_id != gate_id || it->second.conn_id != conn_id)
        return nullptr;
    return &it->second;
}

Directory::Entry* Directory::waiting_claim(std::string_view uid, std::uint32_t gate_id,
                                           std::uint64_t conn_id) {
    auto waiting = waiting_.find(uid);
    if (waiting == waiting_.end()) return nullptr;
    for (auto& claim : waiting->second)
        if (claim.gate_id == gate_id && claim.conn_id == conn_id) return &claim;
    return nullptr;
}

void Directory::remove_if(const std::string& uid, std::uint32_t gate_id, std::uint64_t conn_id) {
    if (session_entry(uid, gate_id, conn_id)) {
        take_holder(entries_.find(uid));
        settle(uid, nullptr);  // a claim of another gate that waited takes over
        return;
    }
    auto waiting = waiting_.find(uid);
    if (waiting == waiting_.end()) return;
    std::erase_if(waiting->second, [&](const Entry& claim) {
        return claim.gate_id == gate_id && claim.conn_id == conn_id;
    });
    if (waiting->second.empty()) waiting_.erase(waiting);
}

std::vector<LoginLoser> Directory::apply(std::uint32_t gate_id, std::uintptr_t stream,
                                         const std::vector<PresenceUpdate>& updates) {
    std::lock_guard lock(mutex_);
    std::vector<LoginLoser> losers;
    for (const auto& update : updates) {
        if (update.op == PresenceOp::reset) {
            forget_gate(gate_id);
            streams_[gate_id] = stream;
            continue;
        }
        // Only the gate's current stream speaks for it: a late frame of a closed link does not.
        auto current = streams_.find(gate_id);
        if (current == streams_.end() || current->second != stream) continue;
        apply_one(gate_id, update, losers);
    }
    return losers;
}

void Directory::apply_one(std::uint32_t gate_id, const PresenceUpdate& update,
                          std::vector<LoginLoser>& losers) {
    switch (update.op) {
        case PresenceOp::bind:
            apply_bind(gate_id, update, losers);
            return;
        case PresenceOp::unbind:
            remove_if(update.uid, gate_id, update.conn_id);
            return;
        case PresenceOp::join:
        case PresenceOp::leave: {
            if (auto* entry = session_entry(update.uid, gate_id, update.conn_id)) {
                if (update.op == PresenceOp::join)
                    add_room(*entry, update.room, update.uid);
                else
                    remove_room(*entry, update.room, update.uid);
            } else if (auto* claim = waiting_claim(update.uid, gate_id, update.conn_id)) {
                // A waiting claim's rooms are indexed only once it holds the uid.
                if (update.op == PresenceOp::join)
                    list_room(*claim, update.room);
                else
                    unlist_room(*claim, update.room);
            }
            return;
        }
        case PresenceOp::reset:
            return;
    }
}

void Directory::apply_bind(std::uint32_t gate_id, const PresenceUpdate& update,
                           std::vector<LoginLoser>& losers) {
    last_epoch_ = std::max(last_epoch_, update.epoch);
    const auto& uid = update.uid;
    auto it = entries_.find(uid);
    if (it != entries_.end() && it->second.gate_id == gate_id) {
        if (it->second.conn_id == update.conn_id) return;  // a repeat
        // The gate's own stream is in order: what it binds now replaces what it bound before.
        take_holder(it);
    }
    auto& claims = waiting_[uid];
    std::erase_if(claims, [&](const Entry& claim) { return claim.gate_id == gate_id; });
    // Whichever login wins here, the others stay as claims until their gates close them: the
    // outcome does not depend on the order binds and unbinds of different gates arrive in.
    claims.push_back(Entry{gate_id, update.conn_id, update.epoch, {}});
    settle(uid, &losers);
}

void Directory::forget_gate(std::uint32_t gate_id) {
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        std::erase_if(it->second, [&](const Entry& claim) { return claim.gate_id == gate_id; });
        it = it->second.empty() ? waiting_.erase(it) : std::next(it);
    }
    std::vector<std::string> held;
    for (const auto& [uid, entry] : entries_)
        if (entry.gate_id == gate_id) held.push_back(uid);
    for (const auto& uid : held) {
        take_holder(entries_.find(uid));
        settle(uid, nullptr);
    }
}

void Directory::drop_stream(std::uint32_t gate_id, std::uintptr_t stream) {
    std::lock_guard lock(mutex_);
    auto current = streams_.find(gate_id);
    if (current == streams_.end() || current->second != stream) return;
    streams_.erase(current);
    forget_gate(gate_id);
}

void Directory::publish(PresenceUpdate update) {
    bool was_empty = outbox_.empty();
    outbox_.push_back(std::move(update));
    if (was_empty && wake_) wake_();
}

std::vector<PresenceUpdate> Directory::take_outbox() {
    std::lock_guard lock(mutex_);
    return std::exchange(outbox_, {});
}

std::vector<PresenceUpdate> Directory::snapshot() const {
    std::lock_guard lock(mutex_);
    std::vector<PresenceUpdate> out{{PresenceOp::reset, 0, 0, {}, {}}};
    for (const auto& [uid, entry] : entries_) {
        if (entry.gate_id != self_id_) continue;
        out.push_back({PresenceOp::bind, entry.conn_id, entry.epoch, uid, {}});
        for (const auto& room : entry.rooms)
            out.push_back({PresenceOp::join, entry.conn_id, 0, uid, room});
    }
    return out;
}

}  // namespace dinx::cluster
