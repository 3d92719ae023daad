// The reserved [cluster] table of dinx.toml: cluster-wide settings.

#include "dict/config_diff.hpp"
#include "dict/config_reader.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>

namespace dinx::dict::detail {

namespace {

struct SettingSpec {
    std::string_view key;
    std::uint32_t Settings::*field;
    std::int64_t min;
    std::int64_t max;
};

constexpr std::array<SettingSpec, 23> setting_specs{{
    {"max_packet_size", &Settings::max_packet_size, 1, 64 << 20},
    {"error_msg_id", &Settings::error_msg_id, 0, u32_max},
    {"connect_timeout_ms", &Settings::connect_timeout_ms, 1, u32_max},
    {"reconnect_min_ms", &Settings::reconnect_min_ms, 1, u32_max},
    {"reconnect_max_ms", &Settings::reconnect_max_ms, 1, u32_max},
    {"client_send_queue_bytes", &Settings::client_send_queue_bytes, 1024, u32_max},
    {"link_queue_limit", &Settings::link_queue_limit, 1, u32_max},
    {"io_threads", &Settings::io_threads, 0, 256},
    {"max_connections", &Settings::max_connections, 1, u32_max},
    {"heartbeat_interval_ms", &Settings::heartbeat_interval_ms, 10, u32_max},
    {"client_idle_timeout_ms", &Settings::client_idle_timeout_ms, 10, u32_max},
    {"heartbeat_msg_id", &Settings::heartbeat_msg_id, 0, u32_max},
    {"link_queue_bytes", &Settings::link_queue_bytes, 4096, u32_max},
    {"drain_timeout_ms", &Settings::drain_timeout_ms, 0, u32_max},
    {"memory_budget_bytes", &Settings::memory_budget_bytes, 16 << 20, u32_max},
    {"client_max_in_flight", &Settings::client_max_in_flight, 1, u32_max},
    {"client_max_in_flight_bytes", &Settings::client_max_in_flight_bytes, 1, u32_max},
    {"client_frame_timeout_ms", &Settings::client_frame_timeout_ms, 10, u32_max},
    {"client_first_frame_timeout_ms", &Settings::client_first_frame_timeout_ms, 10, u32_max},
    {"client_handshake_timeout_ms", &Settings::client_handshake_timeout_ms, 10, u32_max},
    {"kick_msg_id", &Settings::kick_msg_id, 0, u32_max},
    {"call_timeout_ms", &Settings::call_timeout_ms, 1, u32_max},
    {"worker_threads", &Settings::worker_threads, 1, 256},
}};

// The settings that are not numbers: a path to the file holding the cluster secret, and a word.
constexpr std::string_view secret_file_key = "secret_file";
constexpr std::string_view login_policy_key = "login_policy";
// Links over TLS: the PEM certificate and key every node serves, and the CA dialers trust.
constexpr std::array<std::string_view, 3> link_tls_keys{"link_tls_cert", "link_tls_key",
                                                        "link_tls_ca"};

constexpr auto setting_keys = [] {
    std::array<std::string_view, setting_specs.size() + 2 + link_tls_keys.size()> keys{};
    for (std::size_t i = 0; i < setting_specs.size(); ++i) keys[i] = setting_specs[i].key;
    keys[setting_specs.size()] = secret_file_key;
    keys[setting_specs.size() + 1] = login_policy_key;
    for (std::size_t i = 0; i < link_tls_keys.size(); ++i)
        keys[setting_specs.size() + 2 + i] = link_tls_keys[i];
    return keys;
}();

/// Two reserved msgIDs that must differ, and what a client could not tell apart if they did not.
struct DistinctMsgIds {
    std::string_view key;
    std::uint32_t Settings::*field;
    std::string_view other_key;
    std::uint32_t Settings::*other_field;
    std::string_view confusion;
};

constexpr std::array<DistinctMsgIds, 3> distinct_msg_ids{{
    {"heartbeat_msg_id", &Settings::heartbeat_msg_id, "error_msg_id", &Settings::error_msg_id,
     "a heartbeat's answer from an error frame"},
    {"kick_msg_id", &Settings::kick_msg_id, "error_msg_id", &Settings::error_msg_id,
     "a kick from an error frame"},
    {"kick_msg_id", &Settings::kick_msg_id, "heartbeat_msg_id", &Settings::heartbeat_msg_id,
     "a kick from a heartbeat's answer"},
}};

/// Each numeric setting written in the table, range-checked; the others keep their defaults.
void read_numbers(const TableReader& reader, Settings& settings) {
    for (const SettingSpec& spec : setting_specs) {
        if (const toml::node* item = reader.find(spec.key)) {
            settings.*spec.field =
                static_cast<std::uint32_t>(reader.integer(*item, spec.key, spec.min, spec.max));
        }
    }
}

/// The path as written, and its line: the secret itself is read only by load_config, once the
/// directory the path is relative to is known.
void read_secret_path(const TableReader& reader, Settings& settings) {
    if (const toml::node* path = reader.find(secret_file_key)) {
        settings.secret_file = reader.text(*path, secret_file_key, true);
        settings.secret_file_line = line_of(path->source());
    }
}

/// The three link TLS paths as written, all or none; load_config resolves them.
void read_link_tls(const TableReader& reader, Settings& settings) {
    std::string* fields[] = {&settings.link_tls_cert, &settings.link_tls_key,
                             &settings.link_tls_ca};
    int given = 0;
    for (std::size_t i = 0; i < link_tls_keys.size(); ++i) {
        const toml::node* value = reader.find(link_tls_keys[i]);
        if (value == nullptr) continue;
        *fields[i] = reader.printable_text(*value, link_tls_keys[i], true);
        if (settings.link_tls_line == 0) settings.link_tls_line = line_of(value->source());
        ++given;
    }
    if (given != 0 && given != 3)
        reader.fail(settings.link_tls_line,
                    "'link_tls_cert', 'link_tls_key' and 'link_tls_ca' go together: links over "
                    "TLS need all three");
}

/// The policy as written; any other value is refused with the allowed words.
void read_login_policy(const TableReader& reader, Settings& settings) {
    const toml::node* value = reader.find(login_policy_key);
    if (value == nullptr) return;
    std::optional<std::string_view> text = value->value<std::string_view>();
    for (LoginPolicy policy : {LoginPolicy::kick_older, LoginPolicy::refuse_newer}) {
        if (text == to_string(policy)) {
            settings.login_policy = policy;
            return;
        }
    }
    reader.fail(line_of(value->source()),
                R"('login_policy' must be "kick_older" or "refuse_newer")");
}

/// A back-off that starts above its cap would make the dialer's arithmetic meaningless.
void check_backoff(const Settings& settings, const TableReader& reader) {
    if (settings.reconnect_max_ms >= settings.reconnect_min_ms) return;
    const toml::node* at = reader.find("reconnect_max_ms");
    if (at == nullptr) at = reader.find("reconnect_min_ms");
    reader.fail(at != nullptr ? line_of(at->source()) : 0,
                "'reconnect_max_ms' (" + std::to_string(settings.reconnect_max_ms) +
                    ") must be at least 'reconnect_min_ms' (" +
                    std::to_string(settings.reconnect_min_ms) + ")");
}

/// The gate sends frames of error_msg_id, heartbeat_msg_id and kick_msg_id on its own: two of
/// them equal and a client could not tell which it got. The defaults count, so the line is that
/// of whichever key is written, `pair.key` first.
void check_msg_ids_differ(const Settings& settings, const TableReader& reader) {
    for (const DistinctMsgIds& pair : distinct_msg_ids) {
        std::uint32_t msg_id = settings.*pair.field;
        if (msg_id != settings.*pair.other_field) continue;
        int line = reader.key_line(pair.key);
        if (line == 0) line = reader.key_line(pair.other_key);
        reader.fail(line, "'" + std::string(pair.key) + "' and '" + std::string(pair.other_key) +
                              "' are both " + std::to_string(msg_id) +
                              "; they must differ, or clients could not tell " +
                              std::string(pair.confusion));
    }
}

// Settings a running process took its shape from: its threads, its memory budget, its timer
// period; the others (and login_policy, the secret, the link certificates) apply at once.
constexpr std::array<std::string_view, 4> restart_only_numbers{
    "io_threads", "worker_threads", "memory_budget_bytes", "heartbeat_interval_ms"};

bool live_number(std::string_view key) {
    return std::ranges::find(restart_only_numbers, key) == restart_only_numbers.end();
}

}  // namespace

Settings read_settings(const toml::node& value, int key_line, const std::string& file) {
    const toml::table* table = value.as_table();
    if (table == nullptr) {
        throw ConfigError(file, key_line,
                          "'cluster' is reserved for cluster settings and must be a table "
                          "([cluster])");
    }
    TableReader reader(*table, file, "[cluster]");
    reader.allow_only(setting_keys);
    Settings settings;
    read_numbers(reader, settings);
    read_secret_path(reader, settings);
    read_link_tls(reader, settings);
    read_login_policy(reader, settings);
    check_backoff(settings, reader);
    check_msg_ids_differ(settings, reader);
    return settings;
}

}  // namespace dinx::dict::detail

namespace dinx::dict {

using detail::link_tls_keys;
using detail::live_number;
using detail::setting_specs;

std::vector<SettingText> describe_settings(const Settings& settings) {
    std::vector<SettingText> described;
    for (const auto& spec : setting_specs)
        described.push_back(
            {spec.key, std::to_string(settings.*spec.field), live_number(spec.key)});
    // The secret itself is never described: versions and diffs reach logs.
    described.push_back(
        {detail::login_policy_key, std::string(to_string(settings.login_policy)), false});
    described.push_back({detail::secret_file_key, settings.secret_file, false});
    const std::string* tls_paths[] = {&settings.link_tls_cert, &settings.link_tls_key,
                                      &settings.link_tls_ca};
    for (std::size_t i = 0; i < link_tls_keys.size(); ++i)
        described.push_back({link_tls_keys[i], *tls_paths[i], false});
    return described;
}

void keep_restart_only(const Settings& running, Settings& loaded) {
    for (const auto& spec : setting_specs)
        if (!live_number(spec.key)) loaded.*spec.field = running.*spec.field;
    loaded.login_policy = running.login_policy;
    loaded.secret_file = running.secret_file;
    loaded.secret_file_line = running.secret_file_line;
    loaded.secret = running.secret;
    loaded.link_protocol = running.link_protocol;
    loaded.link_tls_cert = running.link_tls_cert;
    loaded.link_tls_key = running.link_tls_key;
    loaded.link_tls_ca = running.link_tls_ca;
    loaded.link_tls_line = running.link_tls_line;
    loaded.link_tls_cert_path = running.link_tls_cert_path;
    loaded.link_tls_key_path = running.link_tls_key_path;
    loaded.link_tls_ca_path = running.link_tls_ca_path;
}

}  // namespace dinx::dict
