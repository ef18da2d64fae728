#pragma once
/// Error types shared by every layer. Adapters turn a C error into one of these at
/// once, with the object and the operation in the message; only the CLI prints.
#include <stdexcept>
#include <string>

namespace virtform {

/// Base of every error virtform raises on purpose.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A call into the host (libvirt, netlink, the file system) failed.
/// what() reads "<operation> <object>: <detail>", e.g.
/// "start network labnat: internal error: Network is already in use by interface virbr10".
class AdapterError : public Error {
public:
    AdapterError(std::string object, std::string operation, std::string detail, int code = 0);

    const std::string& object() const { return object_; }
    const std::string& operation() const { return operation_; }
    const std::string& detail() const { return detail_; }
    /// The C library's code (virErrorNumber, -NLE_*, errno), 0 when there is none.
    int code() const { return code_; }

private:
    std::string object_;
    std::string operation_;
    std::string detail_;
    int code_;
};

}  // namespace virtform
