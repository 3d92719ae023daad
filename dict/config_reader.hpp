#pragma once
// Internal to the config loader, never included by a public header: what reading the tables of
// dinx.toml and route.toml shares, and the readers of each part. Each reader throws ConfigError
// at the first mistake, naming file and line.

#include "dict/config.hpp"
#include "dict/config_error.hpp"

#include <toml++/toml.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace dinx::dict::detail {

inline constexpr std::int64_t u32_max = 0xFFFF'FFFF;
inline constexpr std::int64_t u16_max = 0xFFFF;

/// "file:line: problem", or "file: problem" when line is 0: the one shape of every message
/// loading produces, errors and warnings alike.
std::string located(const std::string& file, int line, const std::string& problem);

/// The 1-based line a region starts at, 0 when toml++ knows none.
int line_of(const toml::source_region& region);

/// The line of `table`, or of its first key when toml++ left the table itself without one (as
/// it may for an element of an array of tables); 0 for an empty table without a region.
int table_line(const toml::table& table);

/// One table of a config file plus what error messages need to point at it.
class TableReader {
public:
    /// `where` names the table in messages ("[cluster]", "a node of group 'gate'"). `file` must
    /// outlive the reader.
    TableReader(const toml::table& table, const std::string& file, std::string where);

    /// Throws at the first key not in `allowed`, so typos never pass silently.
    void allow_only(std::span<const std::string_view> allowed) const;

    /// The value of `key`, or nullptr when absent.
    const toml::node* find(std::string_view key) const { return table_.get(key); }

    /// The line of `key` itself, or 0 when absent.
    int key_line(std::string_view key) const;

    /// The value of `key`; a missing key is reported at the table's line.
    const toml::node& require(std::string_view key) const;

    /// An integer in [min, max]; anything else is reported at the value's line.
    std::int64_t integer(const toml::node& value, std::string_view key, std::int64_t min,
                         std::int64_t max) const;

    /// A string, non-empty when `non_empty`; anything else is reported at the value's line.
    std::string text(const toml::node& value, std::string_view key, bool non_empty) const;

    /// A text() without control bytes: names and hosts go into log lines, where a newline would
    /// forge a line of its own. The message shows the value escaped, never the raw byte.
    std::string printable_text(const toml::node& value, std::string_view key, bool non_empty) const;

    /// The file the table is in.
    const std::string& file() const { return file_; }
    /// Throws ConfigError(file, line, problem).
    [[noreturn]] void fail(int line, std::string problem) const;

private:
    const toml::table& table_;
    const std::string& file_;
    std::string where_;
};

/// The `[cluster]` table of dinx.toml, whose `cluster` key is at `key_line`. Checks the settings
/// that only make sense together (back-off bounds, distinct reserved msgIDs).
Settings read_settings(const toml::node& value, int key_line, const std::string& file);

/// The `listeners` array of a node's table (frontends only), each checked on its own; whether
/// its ports clash with others is for validate.
std::vector<ListenerInfo> read_listeners(const NodeInfo& node, const TableReader& node_reader);

/// Fills config.settings and config.nodes from the parsed dinx.toml, nodes in file order. A group
/// named `events` is refused: route.toml reserves that name.
void read_nodes(const toml::table& doc, Config& config);

/// Fills config.routes from the parsed route.toml, in file order, and config.event_groups from its
/// `[events]` table.
void read_routes(const toml::table& doc, Config& config);

}  // namespace dinx::dict::detail
