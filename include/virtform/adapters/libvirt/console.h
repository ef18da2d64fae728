#pragma once
/// A running VM's serial console over libvirt's stream API
/// (virDomainOpenConsole on a non-blocking stream, driven by libvirt's event
/// loop): what the guest writes goes to `out_fd`, what arrives on `in_fd` goes
/// to the guest, until the escape byte (Ctrl-]) is typed.
#include <functional>
#include <string>

namespace virtform::libvirt {

struct ConsoleOptions {
    int in_fd = 0;
    int out_fd = 1;
    char escape = 0x1d;  ///< Ctrl-]
    /// Polled about five times a second: true ends the session (a signal).
    std::function<bool()> stop;
};

enum class ConsoleEnd { escape, input_closed, console_closed, stopped };

/// Attaches to the console of VM `vm` on `uri`. Throws AdapterError when the VM
/// is unknown, not running, or its console is not a pty (a file-backed one).
/// The caller puts a terminal into raw mode (and restores it).
ConsoleEnd attach_console(const std::string& uri, const std::string& vm,
                          const ConsoleOptions& options);

}  // namespace virtform::libvirt
