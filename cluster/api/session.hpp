#pragma once
// A player's session as handlers see it: its uid and a small map of string values kept by its
// gate. A handler gets a snapshot with each request; what it changes travels back to the gate as
// per-key changes, applied before the client's next message is handled.

#include "cluster/api/origin.hpp"
#include "node/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dinx::cluster {

/// Most values a session holds (each request carries them all).
inline constexpr std::size_t max_session_values = 32;
/// Longest key of a session value, in bytes (at least 1).
inline constexpr std::size_t max_session_key = 64;
/// Longest session value, in bytes.
inline constexpr std::size_t max_session_value = 1024;
/// Most bytes all of a session's keys and values take together (encoded, 3 bytes per pair).
inline constexpr std::size_t max_session_bytes = 4096;
/// Most rooms one session may be in at once.
inline constexpr std::size_t max_session_rooms = 64;
/// Longest room name, in bytes (at least 1).
inline constexpr std::size_t max_room_name = 64;

/// A session's values, stored encoded in one buffer (pairs of [key len u8][key][value len u16
/// little-endian][value]): a request carries them by copying that buffer, and an idle player's
/// five values cost one allocation.
class SessionValues {
public:
    SessionValues() = default;
    /// The values encoded in `encoded`; nullopt when it is malformed or over the limits.
    static std::optional<SessionValues> decode(Bytes encoded);

    /// The value of `key`, or nullopt.
    std::optional<std::string_view> get(std::string_view key) const;
    /// Sets `key` to `value`. Throws std::length_error over a limit (leaving the values as
    /// they were) and std::invalid_argument for an empty key.
    void set(std::string_view key, std::string_view value);
    /// Removes `key`; false when it was not there.
    bool erase(std::string_view key);
    /// Number of values.
    std::size_t size() const;
    /// True when there is none.
    bool empty() const { return data_.empty(); }
    /// Calls `visit(key, value)` for each value, in the order they were first set.
    template <class Visit>
    void for_each(Visit&& visit) const {
        for (std::size_t at = 0; at < data_.size();) {
            auto entry = entry_at(at);
            visit(entry.key, entry.value);
            at = entry.end;
        }
    }
    /// The encoded form (what a request carries).
    Bytes encoded() const { return as_bytes(data_); }

private:
    struct Entry {
        std::string_view key;
        std::string_view value;
        std::size_t begin;
        std::size_t end;
    };
    Entry entry_at(std::size_t at) const;
    std::optional<Entry> find(std::string_view key) const;

    std::string data_;
};

/// One change a handler made to a session, as it travels to the gate.
enum class SessionOp : std::uint8_t {
    bind = 1,   ///< `a` = the new uid ("" unbinds)
    set = 2,    ///< `a` = key, `b` = value
    erase = 3,  ///< `a` = key
    join = 4,   ///< `a` = room
    leave = 5,  ///< `a` = room
};

/// A list of session changes, in the order they were made, encoded as [op u8][a len u16][a]
/// [b len u16][b] each (little-endian).
class SessionChanges {
public:
    /// Appends a change.
    void add(SessionOp op, std::string_view a, std::string_view b = {});
    /// True when there is none.
    bool empty() const { return data_.empty(); }
    /// The encoded list.
    Bytes encoded() const { return as_bytes(data_); }
    /// Forgets every change.
    void clear() { data_.clear(); }
    /// Calls `visit(op, a, b)` for each change of `encoded`; false (having visited the valid
    /// prefix) when it is malformed.
    template <class Visit>
    static bool for_each(Bytes encoded, Visit&& visit) {
        std::size_t at = 0;
        while (at < encoded.size()) {
            auto change = read_at(encoded, at);
            if (!change) return false;
            visit(change->op, change->a, change->b);
        }
        return true;
    }

private:
    struct Change {
        SessionOp op;
        std::string_view a;
        std::string_view b;
    };
    static std::optional<Change> read_at(Bytes encoded, std::size_t& at);

    std::string data_;
};

/// The session of the client a message is about: uid, values, and the changes made to them
/// while handling it. Get and set read and write this snapshot; the changes reach the gate
/// before the request's answer does.
class Session {
public:
    /// The session of `client` holding `values`.
    Session(const Origin& client, SessionValues values)
        : client_(client), values_(std::move(values)) {}

    /// The bound uid; empty when not logged in.
    const std::string& uid() const { return client_.uid; }
    /// The value of `key`, or nullopt.
    std::optional<std::string_view> get(std::string_view key) const { return values_.get(key); }
    /// The value of `key` read as a decimal integer; nullopt when unset or not an integer.
    std::optional<std::int64_t> get_int(std::string_view key) const;
    /// Sets `key` to `value` (limits: max_session_values, max_session_key,
    /// max_session_value, max_session_bytes; over one throws std::length_error).
    void set(std::string_view key, std::string_view value);
    /// Sets `key` to the decimal text of `value`.
    void set_int(std::string_view key, std::int64_t value);
    /// Removes `key` (nothing happens when it is not there).
    void erase(std::string_view key);
    /// Every value, with this handler's changes applied.
    const SessionValues& values() const { return values_; }

    /// What changed since the last take_changes(), for the runtime to send to the gate.
    SessionChanges take_changes() { return std::exchange(changes_, {}); }
    /// True when something changed since the last take_changes().
    bool changed() const { return !changes_.empty(); }
    /// Records a change of uid, joined or left room (Context::bind, join, leave).
    void record(SessionOp op, std::string_view a);

private:
    const Origin& client_;
    SessionValues values_;
    SessionChanges changes_;
};

}  // namespace dinx::cluster
