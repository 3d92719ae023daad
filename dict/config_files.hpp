#pragma once
// Internal to the config loader, never included by a public header: reading the files the
// configuration names (dinx.toml, route.toml, the secret file) without letting a wrong path
// block start-up or exhaust memory.

#include "dict/config.hpp"

#include <cstddef>
#include <filesystem>
#include <string>

namespace dinx::dict::detail {

/// The whole file, or ConfigError(path, 0, "cannot read file: <reason>"). Only a regular file of
/// at most `limit` bytes is read, so no path can block start-up or exhaust memory.
std::string read_text(const std::filesystem::path& path, std::size_t limit);

/// Reads the cluster secret from secret_file (relative to the conf dir); a missing, unreadable
/// or empty file is a mistake of dinx.toml at the secret_file line. Adds a warning to `config`
/// when other users may read the file.
void read_secret(Config& config, const std::filesystem::path& dir);

/// Resolves the files the client listeners name (TLS certificate and key, web root) against
/// the conf dir; one that cannot be read (or a web root that is not a directory) is a mistake
/// of dinx.toml at the listener's line. Whether a file holds a usable certificate is checked
/// when the node starts, with the same file:line.
void resolve_listener_files(Config& config, const std::filesystem::path& dir);

}  // namespace dinx::dict::detail
