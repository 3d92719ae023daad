#pragma once
// What a call from one service to another returns: the callee's reply, or a CallFailure whose
// code says whether the method may have run. The codes are the whole contract of a call; the
// README's RPC table lists when each happens.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace dinx::cluster {

/// A method's number on the wire: the one it was registered with, or method_id(its name).
using MethodId = std::uint32_t;

/// Longest method name.
inline constexpr std::size_t max_method_name = 64;

/// The id of the method called `name`: its 32-bit FNV-1a hash. Stable across builds and
/// machines, so a caller and a callee agree on it without exchanging names.
constexpr MethodId method_id(std::string_view name) {
    std::uint32_t hash = 2166136261u;
    for (char c : name) {
        hash ^= static_cast<std::uint8_t>(c);
        hash *= 16777619u;
    }
    return hash;
}

/// A method as a caller names it: by number, or by name (which becomes its id).
class MethodRef {
public:
    /// Method number `id`.
    constexpr MethodRef(MethodId id) : id_(id) {}
    /// The method called `name`.
    constexpr MethodRef(std::string_view name) : id_(method_id(name)), name_(name) {}
    /// The method called `name`.
    constexpr MethodRef(const char* name) : MethodRef(std::string_view(name)) {}
    /// The method called `name` (which must outlive this reference).
    MethodRef(const std::string& name) : MethodRef(std::string_view(name)) {}
    /// Its id on the wire.
    constexpr MethodId id() const { return id_; }
    /// True when it was named (not numbered).
    constexpr bool named() const { return !name_.empty(); }
    /// The name it was given ("" when numbered).
    constexpr std::string_view name() const { return name_; }
    /// Its name for messages: the name it was given, or "#id".
    std::string label() const {
        return name_.empty() ? "#" + std::to_string(id_) : std::string(name_);
    }

private:
    MethodId id_;
    std::string_view name_;
};

/// Where a call goes: one node of a group, or one node by id.
struct CallTarget {
    std::string group;               ///< a node of this group (when node_id is 0)
    std::uint32_t node_id = 0;       ///< this node, when not 0
    std::optional<std::string> key;  ///< sticky key: calls with one key go to one node

    /// A live node of `group`: the client's own node of it when the call is made for a client
    /// (so its calls stay in order with its requests), else any.
    static CallTarget any(std::string_view group) { return CallTarget{std::string(group), 0, {}}; }
    /// A live node of `group` chosen by `key`: every call with that key goes to the same node
    /// while it lives (a player's rank shard, a room's battle node).
    static CallTarget any(std::string_view group, std::string_view key) {
        return CallTarget{std::string(group), 0, std::string(key)};
    }
    /// Node `id`, and no other.
    static CallTarget node(std::uint32_t id) { return CallTarget{{}, id, {}}; }
};

/// Why a call returned no reply.
enum class CallError : std::uint8_t {
    no_such_method,     ///< the callee registered no such method: it did not run
    no_node,            ///< the target names no node (unknown group or id, empty group)
    unavailable,        ///< certainly not run: the node is down, leaving or unreachable
    deadline_exceeded,  ///< no reply in time, or the callee died midway: it may have run
    overloaded,         ///< the callee (or the way to it) does not keep up: it did not run
    application,        ///< the method ran and failed: `code` and `message` are its own
    cancelled,          ///< the caller gave up (its node stops): it may have run
};

/// The code's name ("no_such_method", ...).
std::string_view to_string(CallError error);

/// A call that returned no reply.
struct CallFailure {
    CallError error = CallError::unavailable;  ///< what happened
    std::string code;     ///< with `application`: the callee's own code, else to_string(error)
    std::string message;  ///< for people: why
};

/// A reply of type T, or the CallFailure that took its place.
template <class T>
class Result {
public:
    /// A reply.
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    /// No reply, for this reason.
    Result(CallFailure failure) : state_(std::in_place_index<1>, std::move(failure)) {}

    /// True when it holds a reply.
    bool has_value() const noexcept { return state_.index() == 0; }
    /// True when it holds a reply.
    explicit operator bool() const noexcept { return has_value(); }
    /// The reply; only when has_value().
    T& operator*() & { return std::get<0>(state_); }
    /// The reply; only when has_value().
    const T& operator*() const& { return std::get<0>(state_); }
    /// The reply, moved out; only when has_value().
    T&& operator*() && { return std::get<0>(std::move(state_)); }
    /// The reply's members; only when has_value().
    T* operator->() { return &std::get<0>(state_); }
    /// The reply's members; only when has_value().
    const T* operator->() const { return &std::get<0>(state_); }
    /// Why there is no reply; only when !has_value().
    const CallFailure& error() const { return std::get<1>(state_); }

private:
    std::variant<T, CallFailure> state_;
};

/// What a call of raw bytes returns: the reply payload.
using CallReply = Result<std::string>;

/// One node's outcome of a call to every node of a group.
struct NodeReply {
    std::uint32_t node_id = 0;  ///< the node
    CallReply reply;            ///< its reply, or why there is none
};

/// Makes the failure for `error` with its standard code and `message`.
inline CallFailure call_failure(CallError error, std::string message) {
    return CallFailure{error, std::string(to_string(error)), std::move(message)};
}

}  // namespace dinx::cluster
