#pragma once
/// Files virtform writes or reads in directories it does not own (a pool's
/// directory, the directory of `plan -o FILE`, /var/lib/virtform/...). Another
/// user who can write there must not be able to pre-create, swap or symlink the
/// file virtform is about to write, nor make it read something else.
/// POSIX only: usable by the core, the adapters and the CLI.
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace virtform {

struct SafeWriteOptions {
    /// Permission bits of the file (applied with fchmod, so the umask does not widen them).
    mode_t mode = 0600;
    /// Also refuse a directory whose last component is a symbolic link (a pool's directory).
    bool directory_nofollow = false;
};

/// Replaces `path` with `content` atomically. The data goes to a new file with
/// a unique name in the same directory, created through openat() on the
/// directory with O_CREAT|O_EXCL|O_NOFOLLOW (nothing pre-created or symlinked
/// there is reused or followed), written, fsync'ed, then renameat() over
/// `path` (a symbolic link at `path` is replaced, never followed). Throws
/// AdapterError(path, operation, ...) and leaves no temp file behind.
void write_file_atomically(const std::string& path, std::string_view content,
                           const std::string& operation, const SafeWriteOptions& options = {});

/// The content of the regular file at `path`, opened with O_NOFOLLOW|O_NONBLOCK
/// (a symbolic link, FIFO or device there is refused, never followed or read).
/// nullopt when nothing is there. Throws AdapterError when it is not a regular
/// file, cannot be read, or holds more than `max_bytes`.
std::optional<std::string> read_file_nofollow(const std::string& path, std::size_t max_bytes,
                                              const std::string& operation);

}  // namespace virtform
