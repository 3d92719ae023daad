// load_config and parse_config: the two files' text through toml++, then the readers of
// config_reader.hpp, then validate. The parts live in config_files.cpp (reading files),
// config_settings.cpp ([cluster]), config_tables.cpp (nodes and routes) and config_validate.cpp.

#include "dict/config_loader.hpp"

#include "dict/config_files.hpp"
#include "dict/config_reader.hpp"

#include <toml++/toml.h>

#include <utility>

namespace dinx::dict {

namespace {

/// The parsed document, or ConfigError at the line toml++ reports (built with exceptions or
/// without, toml++ reports the same error).
toml::table parse_toml(std::string_view text, const std::string& file) {
#if TOML_EXCEPTIONS
    try {
        return toml::parse(text, std::string_view{file});
    } catch (const toml::parse_error& err) {
        throw ConfigError(file, detail::line_of(err.source()), std::string(err.description()));
    }
#else
    toml::parse_result result = toml::parse(text, std::string_view{file});
    if (!result) {
        throw ConfigError(file, detail::line_of(result.error().source()),
                          std::string(result.error().description()));
    }
    return std::move(result).table();
#endif
}

}  // namespace

Config parse_config(std::string_view nodes_toml, std::string_view routes_toml,
                    std::string nodes_file, std::string routes_file) {
    Config config;
    config.nodes_file = std::move(nodes_file);
    config.routes_file = std::move(routes_file);
    detail::read_nodes(parse_toml(nodes_toml, config.nodes_file), config);
    detail::read_routes(parse_toml(routes_toml, config.routes_file), config);
    validate(config);
    return config;
}

Config load_config(const std::filesystem::path& dir) {
    std::filesystem::path nodes_path = dir / "dinx.toml";
    std::filesystem::path routes_path = dir / "route.toml";
    std::string nodes_text = detail::read_text(nodes_path, max_config_file_bytes);
    std::string routes_text = detail::read_text(routes_path, max_config_file_bytes);
    Config config =
        parse_config(nodes_text, routes_text, nodes_path.string(), routes_path.string());
    if (!config.settings.secret_file.empty()) detail::read_secret(config, dir);
    detail::resolve_listener_files(config, dir);
    return config;
}

}  // namespace dinx::dict
