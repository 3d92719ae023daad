#include "dict/config_loader.hpp"

#include <toml++/toml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace dinx::dict {

namespace {

constexpr std::int64_t u32_max = 0xFFFF'FFFF;
constexpr std::int64_t u16_max = 0xFFFF;

std::string located(const std::string& file, int line, const std::string& problem) {
    std::string where = line > 0 ? file + ":" + std::to_string(line) : file;
    return where + ": " + problem;
}

int line_of(const toml::source_region& region) {
    return static_cast<int>(region.begin.line);
}

/// toml++ may leave an array-of-tables element without a region; its first key still has one.
int table_line(const toml::table& table) {
    if (int line = line_of(table.source()); line > 0) return line;
    int first = 0;
    for (auto&& [key, value] : table) {
        int line = line_of(key.source());
        if (line > 0 && (first == 0 || line < first)) first = line;
    }
    return first;
}

bool is_control(char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
}

/// A control byte as C writes it: \n, \t, \r, else \xHH.
std::string escape_of(char c) {
    if (c == '\n') return "\\n";
    if (c == '\t') return "\\t";
    if (c == '\r') return "\\r";
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
    return hex;
}

/// `text` with each control byte escaped, so that a message quoting it cannot itself break a
/// log line.
std::string escaped(std::string_view text) {
    std::string out;
    for (char c : text) out += is_control(c) ? escape_of(c) : std::string(1, c);
    return out;
}

std::string join(std::span<const std::string_view> words) {
    std::string out;
    for (std::string_view word : words) {
        if (!out.empty()) out += ", ";
        out += word;
    }
    return out;
}

/// One table of a config file plus what error messages need to point at it.
class TableReader {
public:
    TableReader(const toml::table& table, const std::string& file, std::string where)
        : table_(table), file_(file), where_(std::move(where)) {}

    /// Throws at the first key not in `allowed`, so typos never pass silently.
    void allow_only(std::span<const std::string_view> allowed) const {
        for (auto&& [key, value] : table_) {
            if (std::ranges::find(allowed, key.str()) != allowed.end()) continue;
            fail(line_of(key.source()), "unknown key '" + std::string(key.str()) + "' in " +
                                            where_ + " (expected " + join(allowed) + ")");
        }
    }

    /// The value of `key`, or nullptr when absent.
    const toml::node* find(std::string_view key) const { return table_.get(key); }

    /// The line of `key` itself, or 0 when absent.
    int key_line(std::string_view key) const {
        auto it = table_.find(key);
        return it == table_.end() ? 0 : line_of(it->first.source());
    }

    /// The value of `key`; a missing key is reported at the table's line.
    const toml::node& require(std::string_view key) const {
        if (const toml::node* value = find(key)) return *value;
        fail(table_line(table_), "missing '" + std::string(key) + "' in " + where_);
    }

    /// An integer in [min, max]; anything else is reported at the value's line.
    std::int64_t integer(const toml::node& value, std::string_view key, std::int64_t min,
                         std::int64_t max) const {
        const auto* number = value.as_integer();
        if (number == nullptr || number->get() < min || number->get() > max) {
            fail(line_of(value.source()), "'" + std::string(key) + "' must be an integer from " +
                                              std::to_string(min) + " to " + std::to_string(max));
        }
        return number->get();
    }

    /// A string, non-empty when `non_empty`; anything else is reported at the value's line.
    std::string text(const toml::node& value, std::string_view key, bool non_empty) const {
        const auto* str = value.as_string();
        if (str == nullptr || (non_empty && str->get().empty())) {
            fail(line_of(value.source()), "'" + std::string(key) + "' must be a " +
                                              (non_empty ? "non-empty string" : "string"));
        }
        return str->get();
    }

    /// A text() without control bytes: names and hosts go into log lines, where a newline would
    /// forge a line of its own. The message shows the value escaped, never the raw byte.
    std::string printable_text(const toml::node& value, std::string_view key,
                               bool non_empty) const {
        std::string str = text(value, key, non_empty);
        if (std::ranges::any_of(str, is_control)) {
            fail(line_of(value.source()), "'" + std::string(key) + "' \"" + escaped(str) +
                                              "\" must not contain control characters");
        }
        return str;
    }

    [[noreturn]] void fail(int line, std::string problem) const {
        throw ConfigError(file_, line, std::move(problem));
    }

private:
    const toml::table& table_;
    const std::string& file_;
    std::string where_;
};

toml::table parse_toml(std::string_view text, const std::string& file) {
#if TOML_EXCEPTIONS
    try {
        return toml::parse(text, std::string_view{file});
    } catch (const toml::parse_error& err) {
        throw ConfigError(file, line_of(err.source()), std::string(err.description()));
    }
#else
    toml::parse_result result = toml::parse(text, std::string_view{file});
    if (!result) {
        throw ConfigError(file, line_of(result.error().source()),
                          std::string(result.error().description()));
    }
    return std::move(result).table();
#endif
}

// ---- [cluster] -------------------------------------------------------------------------------

struct SettingSpec {
    std::string_view key;
    std::uint32_t Settings::*field;
    std::int64_t min;
    std::int64_t max;
};

constexpr std::array<SettingSpec, 19> setting_specs{{
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
}};

// The one setting that is not a number: a path to the file holding the cluster secret.
constexpr std::string_view secret_file_key = "secret_file";

constexpr auto setting_keys = [] {
    std::array<std::string_view, setting_specs.size() + 1> keys{};
    for (std::size_t i = 0; i < setting_specs.size(); ++i) keys[i] = setting_specs[i].key;
    keys.back() = secret_file_key;
    return keys;
}();

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

/// The gate answers a heartbeat with a frame of heartbeat_msg_id: with the error msgID too, a
/// client could not tell that answer from an error frame. The defaults count, so the line is
/// that of whichever key is written.
void check_msg_ids_differ(const Settings& settings, const TableReader& reader) {
    if (settings.error_msg_id != settings.heartbeat_msg_id) return;
    int line = reader.key_line("heartbeat_msg_id");
    if (line == 0) line = reader.key_line("error_msg_id");
    reader.fail(line, "'heartbeat_msg_id' and 'error_msg_id' are both " +
                          std::to_string(settings.error_msg_id) +
                          "; they must differ, or clients could not tell a heartbeat's answer "
                          "from an error frame");
}

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
    for (const SettingSpec& spec : setting_specs) {
        if (const toml::node* item = reader.find(spec.key)) {
            settings.*spec.field =
                static_cast<std::uint32_t>(reader.integer(*item, spec.key, spec.min, spec.max));
        }
    }
    if (const toml::node* path = reader.find(secret_file_key)) {
        settings.secret_file = reader.text(*path, secret_file_key, true);
        settings.secret_file_line = line_of(path->source());
    }
    check_backoff(settings, reader);
    check_msg_ids_differ(settings, reader);
    return settings;
}

// ---- groups ------------------------------------------------------------------------------------

/// One `[[group]]` table, wherever in the file it sits.
struct Row {
    std::string_view group;
    const toml::table* table;
    int line;
};

bool valid_group_name(std::string_view name) {
    auto allowed = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    };
    return !name.empty() && std::ranges::all_of(name, allowed);
}

/// Appends the tables of one group; `what` ("node", "route") words the error.
void collect_group(const toml::key& key, const toml::node& value, std::string_view what,
                   const std::string& file, std::vector<Row>& rows) {
    int key_line = line_of(key.source());
    if (!valid_group_name(key.str())) {
        throw ConfigError(file, key_line,
                          "group name '" + std::string(key.str()) + "' must match [A-Za-z0-9_-]+");
    }
    const toml::array* array = value.as_array();
    if (array == nullptr || !std::ranges::all_of(*array, &toml::node::is_table)) {
        throw ConfigError(file, key_line,
                          "'" + std::string(key.str()) + "' must be an array of tables ([[" +
                              std::string(key.str()) + "]]), one table per " + std::string(what));
    }
    for (const toml::node& element : *array) {
        const toml::table& table = *element.as_table();
        rows.push_back(Row{key.str(), &table, table_line(table)});
    }
}

/// Every group's tables in file order: toml++ keeps keys sorted by name, but nodes and routes
/// are listed (and their first error reported) in the order the user wrote them.
std::vector<Row> collect_rows(const toml::table& doc, std::string_view skip, std::string_view what,
                              const std::string& file) {
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [key, value] : doc) {
        if (key.str() != skip) entries.emplace_back(&key, &value);
    }
    std::ranges::sort(entries, {}, [](const auto& e) { return line_of(e.first->source()); });
    std::vector<Row> rows;
    for (auto [key, value] : entries) collect_group(*key, *value, what, file, rows);
    std::ranges::stable_sort(rows, {}, &Row::line);
    return rows;
}

// ---- nodes -------------------------------------------------------------------------------------

constexpr std::array<std::string_view, 6> node_keys{"id",   "name", "type",
                                                    "host", "port", "link_port"};

NodeType read_type(const toml::node& value, const TableReader& reader) {
    std::optional<std::string_view> text = value.value<std::string_view>();
    if (text == "frontend") return NodeType::frontend;
    if (text == "backend") return NodeType::backend;
    reader.fail(line_of(value.source()), R"('type' must be "frontend" or "backend")");
}

/// link_port exists only on frontends: a backend's links arrive on its single port.
std::uint16_t read_link_port(const NodeInfo& node, const TableReader& reader) {
    const toml::node* value = reader.find("link_port");
    if (!node.is_frontend()) {
        if (value == nullptr) return 0;
        reader.fail(line_of(value->source()), "'link_port' is only for frontend nodes; backend '" +
                                                  node.name + "' takes links on its 'port'");
    }
    const toml::node& port = reader.require("link_port");
    return static_cast<std::uint16_t>(reader.integer(port, "link_port", 0, u16_max));
}

NodeInfo read_node(const Row& row, const std::string& file) {
    TableReader reader(*row.table, file, "a node of group '" + std::string(row.group) + "'");
    reader.allow_only(node_keys);
    NodeInfo node;
    node.group = row.group;
    node.line = row.line;
    node.id = static_cast<std::uint32_t>(reader.integer(reader.require("id"), "id", 1, u32_max));
    node.name = reader.printable_text(reader.require("name"), "name", true);
    node.type = read_type(reader.require("type"), reader);
    node.host = reader.printable_text(reader.require("host"), "host", true);
    node.port =
        static_cast<std::uint16_t>(reader.integer(reader.require("port"), "port", 0, u16_max));
    node.port_line = reader.key_line("port");
    node.link_port = read_link_port(node, reader);
    node.link_port_line = reader.key_line("link_port");
    return node;
}

void read_nodes(const toml::table& doc, Config& config) {
    const std::string& file = config.nodes_file;
    if (const toml::node* cluster = doc.get("cluster")) {
        int key_line = line_of(doc.find("cluster")->first.source());
        config.settings = read_settings(*cluster, key_line, file);
    }
    for (const Row& row : collect_rows(doc, "cluster", "node", file)) {
        config.nodes.push_back(read_node(row, file));
    }
}

// ---- routes ------------------------------------------------------------------------------------

constexpr std::array<std::string_view, 2> route_keys{"msg_id", "name"};

Route read_route(const Row& row, const std::string& file) {
    TableReader reader(*row.table, file, "a route of group '" + std::string(row.group) + "'");
    reader.allow_only(route_keys);
    Route route;
    route.group = row.group;
    route.line = row.line;
    route.msg_id =
        static_cast<std::uint32_t>(reader.integer(reader.require("msg_id"), "msg_id", 0, u32_max));
    route.name = reader.printable_text(reader.require("name"), "name", false);
    return route;
}

void read_routes(const toml::table& doc, Config& config) {
    for (const Row& row : collect_rows(doc, {}, "route", config.routes_file)) {
        config.routes.push_back(read_route(row, config.routes_file));
    }
}

// ---- validation --------------------------------------------------------------------------------

std::string first_at(int line) {
    return " (first at line " + std::to_string(line) + ")";
}

/// Port 0 asks the OS for any free port, so it can never collide.
void claim_port(std::map<std::pair<std::string, std::uint16_t>, const NodeInfo*>& used,
                const NodeInfo& node, std::uint16_t port, const Config& config) {
    if (port == 0) return;
    auto [it, fresh] = used.try_emplace({node.host, port}, &node);
    if (fresh) return;
    throw ConfigError(config.nodes_file, node.line,
                      "duplicate host:port " + node.host + ":" + std::to_string(port) +
                          " of node '" + node.name + "', already used by node '" +
                          it->second->name + "'" + first_at(it->second->line));
}

void check_endpoints(const NodeInfo& node, const Config& config,
                     std::map<std::pair<std::string, std::uint16_t>, const NodeInfo*>& used) {
    if (node.is_frontend() && node.port != 0 && node.link_port == node.port) {
        throw ConfigError(config.nodes_file, node.line,
                          "frontend '" + node.name + "' has 'link_port' equal to 'port' (" +
                              std::to_string(node.port) + "); clients and links need two ports");
    }
    claim_port(used, node, node.port, config);
    if (node.is_frontend()) claim_port(used, node, node.link_port, config);
}

void check_unique_nodes(const Config& config) {
    std::map<std::uint32_t, const NodeInfo*> ids;
    std::map<std::string, const NodeInfo*> names;
    std::map<std::pair<std::string, std::uint16_t>, const NodeInfo*> endpoints;
    for (const NodeInfo& node : config.nodes) {
        auto fail = [&](const std::string& problem) {
            throw ConfigError(config.nodes_file, node.line, problem);
        };
        if (node.id == 0) fail("node id must not be 0");
        if (auto [it, fresh] = ids.try_emplace(node.id, &node); !fresh) {
            fail("duplicate node id " + std::to_string(node.id) + first_at(it->second->line));
        }
        if (auto [it, fresh] = names.try_emplace(node.name, &node); !fresh) {
            fail("duplicate node name '" + node.name + "'" + first_at(it->second->line));
        }
        check_endpoints(node, config, endpoints);
    }
}

/// A group is either gates or logic: a route to it must mean one kind of node.
void check_groups(const Config& config) {
    std::map<std::string, const NodeInfo*> first_of_group;
    for (const NodeInfo& node : config.nodes) {
        auto [it, fresh] = first_of_group.try_emplace(node.group, &node);
        if (fresh || it->second->type == node.type) continue;
        throw ConfigError(config.nodes_file, node.line,
                          "group '" + node.group + "' mixes frontend and backend nodes: '" +
                              node.name + "' is a " + std::string(to_string(node.type)) + " but '" +
                              it->second->name + "'" + first_at(it->second->line) + " is a " +
                              std::string(to_string(it->second->type)));
    }
    if (std::ranges::none_of(config.nodes, &NodeInfo::is_frontend)) {
        throw ConfigError(config.nodes_file, 0, "the cluster has no frontend node");
    }
}

void check_routes(const Config& config) {
    std::set<std::string_view> groups;
    for (const NodeInfo& node : config.nodes) groups.insert(node.group);
    std::map<std::uint32_t, const Route*> seen;
    for (const Route& route : config.routes) {
        std::string what = "msg_id " + std::to_string(route.msg_id) + " ('" + route.name + "')";
        auto fail = [&](const std::string& problem) {
            throw ConfigError(config.routes_file, route.line, what + problem);
        };
        if (route.msg_id == config.settings.error_msg_id) {
            fail(" is reserved for error frames (cluster.error_msg_id)");
        }
        if (route.msg_id == config.settings.heartbeat_msg_id) {
            fail(" is reserved for client heartbeats (cluster.heartbeat_msg_id)");
        }
        if (auto [it, fresh] = seen.try_emplace(route.msg_id, &route); !fresh) {
            fail(" is already routed to group '" + it->second->group + "'" +
                 first_at(it->second->line));
        }
        if (!groups.contains(route.group)) {
            fail(" is routed to group '" + route.group + "', which has no node in " +
                 config.nodes_file);
        }
    }
}

// ---- files -------------------------------------------------------------------------------------

[[noreturn]] void refuse(const std::filesystem::path& path, const std::string& reason) {
    throw ConfigError(path.string(), 0, "cannot read file: " + reason);
}

[[noreturn]] void refuse_errno(const std::filesystem::path& path, int error) {
    refuse(path, std::generic_category().message(error));
}

std::string kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "an unknown kind of file";
}

[[noreturn]] void refuse_kind(const std::filesystem::path& path, mode_t mode) {
    refuse(path, "it is " + kind_of(mode) + ", not a regular file");
}

/// "1 MiB" for 1048576, "64 KiB" for 65536: the limits as the docs write them.
std::string size_text(std::size_t bytes) {
    if (bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
    if (bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
    return std::to_string(bytes) + " bytes";
}

/// Closes its descriptor however read_text leaves.
class FileDescriptor {
public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor() { ::close(fd_); }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

/// O_NONBLOCK: a FIFO with no writer opens at once instead of waiting for one (regular files
/// ignore the flag). O_NOCTTY: a terminal named by mistake must not become a daemon's
/// controlling terminal.
FileDescriptor open_for_reading(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) return FileDescriptor(fd);
    int error = errno;
    // A socket cannot be opened at all (ENXIO): say what it is rather than the bare errno.
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && !S_ISREG(info.st_mode)) refuse_kind(path, info.st_mode);
    refuse_errno(path, error);
}

/// Only a regular file has an end: a FIFO may block and a device (/dev/zero, /dev/urandom) may
/// never end. The size is checked before anything is read.
void check_regular(const FileDescriptor& fd, const std::filesystem::path& path, std::size_t limit) {
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) refuse_errno(path, errno);
    if (!S_ISREG(info.st_mode)) refuse_kind(path, info.st_mode);
    if (static_cast<std::uintmax_t>(info.st_size) > limit) {
        refuse(path, "it is " + std::to_string(info.st_size) + " bytes, larger than the limit of " +
                         size_text(limit));
    }
}

/// Reads at most limit + 1 bytes: the byte past the limit proves too large a file that grew
/// after fstat (or a /proc file, whose size fstat gives as 0) without reading all of it.
std::string read_bounded(const FileDescriptor& fd, const std::filesystem::path& path,
                         std::size_t limit) {
    std::string text(limit + 1, '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
        if (n == 0) break;
        if (n < 0 && errno != EINTR) refuse_errno(path, errno);
        if (n > 0) got += static_cast<std::size_t>(n);
    }
    if (got > limit) refuse(path, "it is larger than the limit of " + size_text(limit));
    text.resize(got);
    return text;
}

/// The whole file, or ConfigError(path, 0, "cannot read file: <reason>"). Only a regular file of
/// at most `limit` bytes is read, so no path can block start-up or exhaust memory.
std::string read_text(const std::filesystem::path& path, std::size_t limit) {
    FileDescriptor fd = open_for_reading(path);
    check_regular(fd, path, limit);
    return read_bounded(fd, path, limit);
}

/// Warns when other users of the machine may read or change the secret file: anyone who can
/// read it can join the cluster. (A warning, not an error: a container's only user may not
/// care, and ssh-style refusal would stop a fleet over a chmod.)
void warn_if_exposed(Config& config, const std::filesystem::path& path) {
    using std::filesystem::perms;
    std::error_code ec;
    auto mode = std::filesystem::status(path, ec).permissions();
    if (ec || (mode & (perms::group_all | perms::others_all)) == perms::none) return;
    char octal[8];
    std::snprintf(octal, sizeof octal, "%03o", static_cast<unsigned>(mode & perms::mask));
    config.warnings.push_back(
        located(config.nodes_file, config.settings.secret_file_line,
                "secret_file '" + config.settings.secret_file + "' has mode " + octal +
                    ": other users of this machine may read the cluster secret; chmod 600 it"));
}

/// Reads the cluster secret from secret_file (relative to the conf dir); a missing, unreadable
/// or empty file is a mistake of dinx.toml at the secret_file line.
void read_secret(Config& config, const std::filesystem::path& dir) {
    auto& settings = config.settings;
    std::filesystem::path path = settings.secret_file;
    if (path.is_relative()) path = dir / path;
    try {
        settings.secret = read_text(path, max_secret_file_bytes);
    } catch (const ConfigError& error) {
        throw ConfigError(config.nodes_file, settings.secret_file_line,
                          "secret_file '" + settings.secret_file + "': " + error.problem());
    }
    // A trailing newline from `echo > file` is not part of the secret.
    while (!settings.secret.empty() &&
           std::isspace(static_cast<unsigned char>(settings.secret.back())))
        settings.secret.pop_back();
    if (settings.secret.empty())
        throw ConfigError(config.nodes_file, settings.secret_file_line,
                          "secret_file '" + settings.secret_file + "' is empty");
    warn_if_exposed(config, path);
}

// ---- ports other processes dial ----------------------------------------------------------------

bool runs_every_node(const Config& config, std::span<const std::uint32_t> ids) {
    return std::ranges::all_of(config.nodes, [&](const NodeInfo& node) {
        return std::ranges::find(ids, node.id) != ids.end();
    });
}

std::string port_zero(const Config& config, const NodeInfo& node, std::string_view key, int line,
                      const std::string& why) {
    return located(config.nodes_file, line > 0 ? line : node.line,
                   std::string(to_string(node.type)) + " '" + node.name + "' has '" +
                       std::string(key) + "' 0 (any free port): " + why + "; give it a fixed port");
}

/// The first port of `node` that is 0 but must be dialed from outside this process, or "".
std::string undialable_port(const Config& config, const NodeInfo& node, bool all_here) {
    if (node.is_frontend() && node.port == 0)
        return port_zero(config, node, "port", node.port_line,
                         "players could not know where to connect");
    if (all_here) return {};
    const std::string why =
        "nodes in other processes could not dial it (port 0 works only when one process runs "
        "every node)";
    if (node.port == 0 && !node.is_frontend())
        return port_zero(config, node, "port", node.port_line, why);
    if (node.link_port == 0 && node.is_frontend())
        return port_zero(config, node, "link_port", node.link_port_line, why);
    return {};
}

}  // namespace

std::string check_dialable_ports(const Config& config,
                                 std::span<const std::uint32_t> ids_run_here) {
    bool all_here = runs_every_node(config, ids_run_here);
    for (const NodeInfo& node : config.nodes) {
        if (auto problem = undialable_port(config, node, all_here); !problem.empty())
            return problem;
    }
    return {};
}

ConfigError::ConfigError(std::string file, int line, std::string problem)
    : std::runtime_error(located(file, line, problem)),
      file_(std::move(file)),
      line_(line),
      problem_(std::move(problem)) {}

void validate(const Config& config) {
    check_unique_nodes(config);
    check_groups(config);
    check_routes(config);
}

Config parse_config(std::string_view nodes_toml, std::string_view routes_toml,
                    std::string nodes_file, std::string routes_file) {
    Config config;
    config.nodes_file = std::move(nodes_file);
    config.routes_file = std::move(routes_file);
    read_nodes(parse_toml(nodes_toml, config.nodes_file), config);
    read_routes(parse_toml(routes_toml, config.routes_file), config);
    validate(config);
    return config;
}

Config load_config(const std::filesystem::path& dir) {
    std::filesystem::path nodes_path = dir / "dinx.toml";
    std::filesystem::path routes_path = dir / "route.toml";
    std::string nodes_text = read_text(nodes_path, max_config_file_bytes);
    std::string routes_text = read_text(routes_path, max_config_file_bytes);
    Config config =
        parse_config(nodes_text, routes_text, nodes_path.string(), routes_path.string());
    if (!config.settings.secret_file.empty()) read_secret(config, dir);
    return config;
}

}  // namespace dinx::dict
