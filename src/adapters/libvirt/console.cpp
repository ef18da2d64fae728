#include "virtform/adapters/libvirt/console.h"

#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "libvirt_util.h"

namespace virtform::libvirt {

namespace {

using StreamPtr = std::unique_ptr<virStream, Free<virStreamFree>>;

/// libvirt's default event loop, registered once per process, before the
/// console's connection opens.
void register_event_loop() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (virEventRegisterDefaultImpl() < 0) throw_last_error("libvirt", "start the event loop");
    });
}

/// The session's state, shared by the event callbacks.
struct Session {
    virStreamPtr stream = nullptr;
    ConsoleOptions options;
    std::string to_guest;  ///< typed bytes the stream has not taken yet
    bool quit = false;
    ConsoleEnd end = ConsoleEnd::console_closed;
    int stdin_watch = -1;

    void finish(ConsoleEnd why) {
        if (quit) return;
        quit = true;
        end = why;
    }

    void update_stream_events() {
        int events = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
        if (!to_guest.empty()) events |= VIR_STREAM_EVENT_WRITABLE;
        virStreamEventUpdateCallback(stream, events);
    }

    void flush_to_guest() {
        while (!to_guest.empty()) {
            const int n = virStreamSend(stream, to_guest.data(), to_guest.size());
            if (n == -2) break;  // would block: wait for WRITABLE
            if (n < 0) {
                finish(ConsoleEnd::console_closed);
                return;
            }
            to_guest.erase(0, static_cast<std::size_t>(n));
        }
        update_stream_events();
    }
};

void write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // the reader went away: nothing more to show
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

void on_stream(virStreamPtr stream, int events, void* opaque) {
    auto* s = static_cast<Session*>(opaque);
    if ((events & VIR_STREAM_EVENT_READABLE) != 0) {
        char buf[4096];
        while (true) {
            const int n = virStreamRecv(stream, buf, sizeof buf);
            if (n > 0) {
                write_all(s->options.out_fd, buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == -2) break;                     // nothing more for now
            s->finish(ConsoleEnd::console_closed);  // 0: the guest side closed; <0: an error
            return;
        }
    }
    if ((events & VIR_STREAM_EVENT_WRITABLE) != 0) s->flush_to_guest();
    if ((events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP)) != 0) {
        s->finish(ConsoleEnd::console_closed);
    }
}

void on_input(int /*watch*/, int fd, int events, void* opaque) {
    auto* s = static_cast<Session*>(opaque);
    if ((events & VIR_EVENT_HANDLE_READABLE) == 0) {
        if ((events & (VIR_EVENT_HANDLE_HANGUP | VIR_EVENT_HANDLE_ERROR)) != 0)
            s->finish(ConsoleEnd::input_closed);
        return;
    }
    char buf[1024];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        s->finish(ConsoleEnd::input_closed);
        return;
    }
    const std::string typed(buf, static_cast<std::size_t>(n));
    const auto esc = typed.find(s->options.escape);
    s->to_guest += typed.substr(0, esc);
    s->flush_to_guest();
    if (esc != std::string::npos) s->finish(ConsoleEnd::escape);
}

void on_tick(int /*timer*/, void* opaque) {
    auto* s = static_cast<Session*>(opaque);
    if (s->options.stop && s->options.stop()) s->finish(ConsoleEnd::stopped);
}

}  // namespace

ConsoleEnd attach_console(const std::string& uri, const std::string& vm,
                          const ConsoleOptions& options) {
    register_event_loop();
    ConnectPtr conn = open_connection(uri);
    DomainPtr dom(virDomainLookupByName(conn.get(), vm.c_str()));
    if (!dom) throw_last_error("vm " + vm, "look up");
    if (virDomainIsActive(dom.get()) != 1) {
        throw AdapterError("vm " + vm, "open the console of", "the VM is not running");
    }
    StreamPtr stream(virStreamNew(conn.get(), VIR_STREAM_NONBLOCK));
    if (!stream) throw_last_error("vm " + vm, "open a stream for the console of");
    if (virDomainOpenConsole(dom.get(), nullptr, stream.get(), VIR_DOMAIN_CONSOLE_SAFE) < 0) {
        throw_last_error("vm " + vm, "open the console of");
    }
    Session s;
    s.stream = stream.get();
    s.options = options;
    if (virStreamEventAddCallback(
            stream.get(),
            VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP, on_stream,
            &s, nullptr) < 0) {
        throw_last_error("vm " + vm, "watch the console stream of");
    }
    s.stdin_watch =
        virEventAddHandle(options.in_fd, VIR_EVENT_HANDLE_READABLE, on_input, &s, nullptr);
    const int timer = virEventAddTimeout(200, on_tick, &s, nullptr);
    while (!s.quit) {
        if (virEventRunDefaultImpl() < 0) break;
    }
    if (timer >= 0) virEventRemoveTimeout(timer);
    if (s.stdin_watch >= 0) virEventRemoveHandle(s.stdin_watch);
    virStreamEventRemoveCallback(stream.get());
    if (s.end == ConsoleEnd::console_closed)
        virStreamFinish(stream.get());
    else
        virStreamAbort(stream.get());
    return s.end;
}

}  // namespace virtform::libvirt
