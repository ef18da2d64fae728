#pragma once
/// A C library opened when a feature first needs it, not at every start:
/// Graphviz (`graph --format svg`) and libisofs (cloud-init seeds) and their
/// nine libraries cost every run ~1 ms of the dynamic loader, and a no-op
/// plan uses neither. The headers still declare each function, so the types
/// are the compiler's:
///
///     SharedLibrary gvc("libgvc.so.6");
///     auto* context = gvc.symbol<decltype(gvContext)>("gvContext");
///
/// The package's Depends name these libraries by hand (CMakeLists.txt):
/// dpkg-shlibdeps only sees what the binary links.
#include <dlfcn.h>

#include <string>

#include "virtform/error.h"

namespace virtform {

class SharedLibrary {
public:
    /// Throws Error naming the library (and what dlopen said) when it is not there.
    explicit SharedLibrary(const char* soname) : name_(soname) {
        handle_ = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (handle_ == nullptr)
            throw Error(std::string("cannot load ") + soname + ": " + ::dlerror());
    }
    // Never closed: the functions stay valid for the process's life.
    SharedLibrary(const SharedLibrary&) = delete;
    SharedLibrary& operator=(const SharedLibrary&) = delete;

    /// The function `name` of type F; throws Error when the library lacks it.
    template <typename F>
    F* symbol(const char* name) const {
        void* p = ::dlsym(handle_, name);
        if (p == nullptr) throw Error("the library " + name_ + " lacks " + name);
        return reinterpret_cast<F*>(p);  // NOLINT: dlsym's documented use
    }

private:
    std::string name_;
    void* handle_ = nullptr;
};

}  // namespace virtform
