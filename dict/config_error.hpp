#pragma once
// A configuration mistake, and the size limits of the files: what every part of the loader
// reports with, kept apart from the loader's entry points so that those parts need not include
// them.

#include <cstddef>
#include <stdexcept>
#include <string>

namespace dinx::dict {

/// Largest dinx.toml or route.toml load_config reads. A real one is a few KiB: anything bigger
/// is a wrong path (a log, a dump) and is refused before it can fill memory.
inline constexpr std::size_t max_config_file_bytes = 1 << 20;

/// Largest secret_file load_config reads. A secret is tens of bytes; 64 KiB leaves room for any
/// key format while a wrong path is still refused.
inline constexpr std::size_t max_secret_file_bytes = 64 << 10;

/// A configuration mistake: names the file, the line (0 when there is none) and the problem.
class ConfigError : public std::runtime_error {
public:
    /// what() reads "file:line: problem" (or "file: problem" when line is 0).
    ConfigError(std::string file, int line, std::string problem);
    /// The file the mistake is in.
    const std::string& file() const { return file_; }
    /// The 1-based line of the mistake, 0 when the whole file is at fault.
    int line() const { return line_; }
    /// The problem without file and line.
    const std::string& problem() const { return problem_; }

private:
    std::string file_;
    int line_;
    std::string problem_;
};

}  // namespace dinx::dict
