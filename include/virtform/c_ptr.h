#pragma once
/// RAII for C handles: wrap a pointer the line it is returned.
///   using DomainPtr = std::unique_ptr<virDomain, virtform::Free<virDomainFree>>;
#include <memory>

namespace virtform {

template <auto FreeFn>
struct Free {
    template <class T>
    void operator()(T* p) const noexcept {
        if (p != nullptr) FreeFn(p);
    }
};

}  // namespace virtform
