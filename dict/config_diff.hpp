#pragma once
// What a live reload needs to know of two configs: a version that names what a node runs (the
// same tables give the same version on every node, whatever the files' comments or order), and
// the difference between the running config and a newly loaded one, in words for the operator.

#include "dict/config.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dinx::dict {

/// One setting of `[cluster]` as text.
struct SettingText {
    std::string_view key;  ///< as written in dinx.toml
    std::string value;     ///< its value (a path as written; the secret is never described)
    bool live;             ///< true when a running node applies a change without a restart
};

/// Every setting of `[cluster]`, in a fixed order.
std::vector<SettingText> describe_settings(const Settings& settings);

/// Copies into `loaded` the settings a running process cannot change (describe_settings's
/// `live` false: threads, memory budget, heartbeat period, login policy, secret, link TLS).
void keep_restart_only(const Settings& running, Settings& loaded);

/// A node's row as (field, value) pairs, in a fixed order, every field that matters.
std::vector<std::pair<std::string_view, std::string>> describe_node(const NodeInfo& node);

/// The version of a config: 16 hex digits of a hash over its settings (not the secret), its
/// nodes by id and its routes by msgID. Two nodes that print the same version run the same
/// tables.
std::string config_version(const Config& config);

/// A route that moved, appeared or went away.
struct RouteChange {
    std::uint32_t msg_id = 0;
    std::string from;  ///< its group before; "" when it is new
    std::string to;    ///< its group now; "" when it is gone
};

/// A setting whose value changed.
struct SettingChange {
    std::string key;
    std::string from;
    std::string to;
    bool live = true;  ///< false: the running process keeps `from` until it restarts
};

/// A node row that exists in both configs with other values.
struct NodeChange {
    std::uint32_t id = 0;
    std::string name;
    std::vector<std::string> fields;  ///< "port 20000 -> 20001", one per changed field
};

/// The difference between a running config and a newly loaded one.
struct ConfigDiff {
    std::vector<RouteChange> routes;        ///< by msgID
    std::vector<std::uint32_t> added;       ///< node ids only the new config has
    std::vector<std::uint32_t> removed;     ///< node ids only the running config has
    std::vector<NodeChange> changed;        ///< rows of both with other values
    std::vector<SettingChange> settings;    ///< settings with other values
    bool events_changed = false;            ///< route.toml's [events] groups differ

    /// True when nothing differs.
    bool empty() const;
    /// One line per change, for logs and the reload's answer ("msg_id 6: im -> logic").
    std::vector<std::string> describe(const Config& before, const Config& after) const;
    /// What this process cannot apply until it restarts, one line each: a setting that is not
    /// live, or a change to the row of a node it runs (`ids_here`).
    std::vector<std::string> needs_restart(std::span<const std::uint32_t> ids_here) const;
};

/// What changed from `before` to `after` (both validated).
ConfigDiff diff_configs(const Config& before, const Config& after);

}  // namespace dinx::dict
