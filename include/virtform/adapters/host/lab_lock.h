#pragma once
/// One apply or destroy per lab and connection at a time. An flock(2) on a
/// file under /run/virtform/locks: the kernel releases it when the holder
/// exits, however it exits (kill -9 included), so a crash never leaves a
/// stale lock. The file names the holder for the message a waiter sees.
#include <chrono>
#include <string>

namespace virtform::host {

class LabLock {
public:
    /// Takes the lock for `lab` on `uri`, waiting up to `timeout` (0: fail at
    /// once). Throws virtform::Error naming the holder ("pid 4242, virtform
    /// apply, since 2026-11-25T22:41:07Z") when it cannot.
    LabLock(const std::string& uri, const std::string& lab, const std::string& command,
            std::chrono::milliseconds timeout, const std::string& dir = "/run/virtform/locks");
    ~LabLock();
    LabLock(const LabLock&) = delete;
    LabLock& operator=(const LabLock&) = delete;

    const std::string& path() const { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};

}  // namespace virtform::host
