#include "dict/config_files.hpp"

#include "dict/config_error.hpp"
#include "dict/config_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <system_error>

namespace dinx::dict::detail {

namespace {

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

}  // namespace

std::string read_text(const std::filesystem::path& path, std::size_t limit) {
    FileDescriptor fd = open_for_reading(path);
    check_regular(fd, path, limit);
    return read_bounded(fd, path, limit);
}

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

namespace {

// Certificates and keys are small; a larger file is surely the wrong one.
constexpr std::size_t max_pem_file_bytes = 1 << 20;

std::filesystem::path resolved(const std::string& written, const std::filesystem::path& dir) {
    std::filesystem::path path = written;
    return path.is_relative() ? dir / path : path;
}

/// Reads the file once to prove it is there and readable; OpenSSL reads it again at start.
std::string readable_file(const Config& config, const std::string& key, const std::string& written,
                          int line, const std::filesystem::path& dir) {
    auto path = resolved(written, dir);
    try {
        read_text(path, max_pem_file_bytes);
    } catch (const ConfigError& error) {
        throw ConfigError(config.nodes_file, line, key + " '" + written + "': " + error.problem());
    }
    return path.string();
}

void resolve_listener(const Config& config, ListenerInfo& listener,
                      const std::filesystem::path& dir) {
    if (listener.uses_tls()) {
        listener.tls_cert_path =
            readable_file(config, "tls_cert", listener.tls_cert, listener.tls_line, dir);
        listener.tls_key_path =
            readable_file(config, "tls_key", listener.tls_key, listener.tls_line, dir);
    }
    if (!listener.web_root.empty()) {
        auto path = resolved(listener.web_root, dir);
        std::error_code ec;
        if (!std::filesystem::is_directory(path, ec))
            throw ConfigError(config.nodes_file, listener.line,
                              "web_root '" + listener.web_root + "' is not a directory");
        listener.web_root_path = path.string();
    }
}

}  // namespace

void resolve_listener_files(Config& config, const std::filesystem::path& dir) {
    auto& settings = config.settings;
    if (settings.links_use_tls()) {
        int line = settings.link_tls_line;
        settings.link_tls_cert_path =
            readable_file(config, "link_tls_cert", settings.link_tls_cert, line, dir);
        settings.link_tls_key_path =
            readable_file(config, "link_tls_key", settings.link_tls_key, line, dir);
        settings.link_tls_ca_path =
            readable_file(config, "link_tls_ca", settings.link_tls_ca, line, dir);
    }
    for (NodeInfo& node : config.nodes)
        for (ListenerInfo& listener : node.listeners) resolve_listener(config, listener, dir);
}

}  // namespace dinx::dict::detail
