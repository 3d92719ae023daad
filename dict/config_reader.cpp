#include "dict/config_reader.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace dinx::dict::detail {

namespace {

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

}  // namespace

std::string located(const std::string& file, int line, const std::string& problem) {
    std::string where = line > 0 ? file + ":" + std::to_string(line) : file;
    return where + ": " + problem;
}

int line_of(const toml::source_region& region) {
    return static_cast<int>(region.begin.line);
}

int table_line(const toml::table& table) {
    if (int line = line_of(table.source()); line > 0) return line;
    int first = 0;
    for (auto&& [key, value] : table) {
        int line = line_of(key.source());
        if (line > 0 && (first == 0 || line < first)) first = line;
    }
    return first;
}

TableReader::TableReader(const toml::table& table, const std::string& file, std::string where)
    : table_(table), file_(file), where_(std::move(where)) {}

void TableReader::allow_only(std::span<const std::string_view> allowed) const {
    for (auto&& [key, value] : table_) {
        if (std::ranges::find(allowed, key.str()) != allowed.end()) continue;
        fail(line_of(key.source()), "unknown key '" + std::string(key.str()) + "' in " + where_ +
                                        " (expected " + join(allowed) + ")");
    }
}

int TableReader::key_line(std::string_view key) const {
    auto it = table_.find(key);
    return it == table_.end() ? 0 : line_of(it->first.source());
}

const toml::node& TableReader::require(std::string_view key) const {
    if (const toml::node* value = find(key)) return *value;
    fail(table_line(table_), "missing '" + std::string(key) + "' in " + where_);
}

std::int64_t TableReader::integer(const toml::node& value, std::string_view key, std::int64_t min,
                                  std::int64_t max) const {
    const auto* number = value.as_integer();
    if (number == nullptr || number->get() < min || number->get() > max) {
        fail(line_of(value.source()), "'" + std::string(key) + "' must be an integer from " +
                                          std::to_string(min) + " to " + std::to_string(max));
    }
    return number->get();
}

std::string TableReader::text(const toml::node& value, std::string_view key, bool non_empty) const {
    const auto* str = value.as_string();
    if (str == nullptr || (non_empty && str->get().empty())) {
        fail(line_of(value.source()),
             "'" + std::string(key) + "' must be a " + (non_empty ? "non-empty string" : "string"));
    }
    return str->get();
}

std::string TableReader::printable_text(const toml::node& value, std::string_view key,
                                        bool non_empty) const {
    std::string str = text(value, key, non_empty);
    if (std::ranges::any_of(str, is_control)) {
        fail(line_of(value.source()), "'" + std::string(key) + "' \"" + escaped(str) +
                                          "\" must not contain control characters");
    }
    return str;
}

void TableReader::fail(int line, std::string problem) const {
    throw ConfigError(file_, line, std::move(problem));
}

}  // namespace dinx::dict::detail

namespace dinx::dict {

ConfigError::ConfigError(std::string file, int line, std::string problem)
    : std::runtime_error(detail::located(file, line, problem)),
      file_(std::move(file)),
      line_(line),
      problem_(std::move(problem)) {}

}  // namespace dinx::dict
