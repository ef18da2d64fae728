#pragma once
// A thread that starts on another CPU than the one starting it. The scheduler
// queues a new thread behind its parent on the parent's CPU: while the parent
// keeps working (plan loads the manifests), the new thread waited 3.7 ms
// before its first instruction on a 2-vCPU VM, the other CPU idle (a C test:
// pthread_create, then spin). Started on the other CPU it ran after 0.15 ms.
// For a thread on the critical path (plan's libvirt read) that is the
// difference. Once running, the thread may go to any CPU it could before.
#include <pthread.h>
#include <sched.h>

#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>

namespace virtform::cli {

template <class T>
class ThreadElsewhere {
public:
    explicit ThreadElsewhere(std::function<T()> fn) : fn_(std::move(fn)) {
        allowed_ok_ = sched_getaffinity(0, sizeof allowed_, &allowed_) == 0;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        cpu_set_t others = allowed_;
        const int here = sched_getcpu();
        if (allowed_ok_ && here >= 0 && CPU_ISSET(here, &others)) {
            CPU_CLR(here, &others);
            if (CPU_COUNT(&others) > 0) pthread_attr_setaffinity_np(&attr, sizeof others, &others);
        }
        int rc = pthread_create(&thread_, &attr, &ThreadElsewhere::run, this);
        pthread_attr_destroy(&attr);
        if (rc != 0) rc = pthread_create(&thread_, nullptr, &ThreadElsewhere::run, this);
        if (rc != 0) throw std::runtime_error("cannot start a thread");
        joinable_ = true;
    }
    ThreadElsewhere(const ThreadElsewhere&) = delete;
    ThreadElsewhere& operator=(const ThreadElsewhere&) = delete;
    ~ThreadElsewhere() { join(); }

    /// Waits for the thread; its result, or its exception rethrown.
    T get() {
        join();
        if (error_) std::rethrow_exception(error_);
        return std::move(*result_);
    }

private:
    static void* run(void* self) {
        auto* t = static_cast<ThreadElsewhere*>(self);
        if (t->allowed_ok_) sched_setaffinity(0, sizeof t->allowed_, &t->allowed_);
        try {
            t->result_.emplace(t->fn_());
        } catch (...) {
            t->error_ = std::current_exception();
        }
        return nullptr;
    }
    void join() {
        if (!joinable_) return;
        pthread_join(thread_, nullptr);
        joinable_ = false;
    }

    std::function<T()> fn_;
    cpu_set_t allowed_{};
    bool allowed_ok_ = false;
    pthread_t thread_{};
    bool joinable_ = false;
    std::optional<T> result_;
    std::exception_ptr error_;
};

}  // namespace virtform::cli
