#include "virtform/adapters/graphviz/svg.h"

#include <graphviz/gvc.h>

#include <memory>
#include <mutex>

#include "virtform/error.h"
#include "virtform/shared_library.h"

namespace virtform::graphviz {

namespace {

/// Graphviz, opened at the first SVG (shared_library.h says why).
struct Graphviz {
    SharedLibrary cgraph{VIRTFORM_SONAME_CGRAPH};
    SharedLibrary gvc{VIRTFORM_SONAME_GVC};
#define VIRTFORM_FN(lib, f) decltype(&::f) f = lib.symbol<decltype(::f)>(#f)
    VIRTFORM_FN(cgraph, agseterrf);
    VIRTFORM_FN(cgraph, agmemread);
    VIRTFORM_FN(cgraph, agclose);
    VIRTFORM_FN(gvc, gvContext);
    VIRTFORM_FN(gvc, gvFreeContext);
    VIRTFORM_FN(gvc, gvLayout);
    VIRTFORM_FN(gvc, gvFreeLayout);
    VIRTFORM_FN(gvc, gvRenderData);
    VIRTFORM_FN(gvc, gvFreeRenderData);
#undef VIRTFORM_FN
};

const Graphviz& lib() {
    static const Graphviz g;  // a failed load throws, and is tried again next time
    return g;
}

// Graphviz reports through one process-wide callback: collect what it says
// while one rendering runs (the mutex keeps renderings apart).
std::mutex g_mutex;
std::string g_errors;

int collect_error(char* message) {
    g_errors += message;
    return 0;
}

struct GvcDeleter {
    void operator()(GVC_t* gvc) const { lib().gvFreeContext(gvc); }
};
struct GraphDeleter {
    void operator()(Agraph_t* g) const { lib().agclose(g); }
};

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

std::string dot_to_svg(const std::string& dot) {
    std::lock_guard lock(g_mutex);
    const Graphviz& gv = lib();
    g_errors.clear();
    gv.agseterrf(collect_error);
    std::unique_ptr<GVC_t, GvcDeleter> gvc(gv.gvContext());
    if (!gvc) throw Error("graphviz: cannot create a context");
    std::unique_ptr<Agraph_t, GraphDeleter> graph(gv.agmemread(dot.c_str()));
    if (!graph) throw Error("graphviz: the graph does not parse: " + trimmed(g_errors));
    if (gv.gvLayout(gvc.get(), graph.get(), "dot") != 0) {
        throw Error("graphviz: layout failed: " + trimmed(g_errors));
    }
    char* data = nullptr;
    unsigned int length = 0;
    const int rc = gv.gvRenderData(gvc.get(), graph.get(), "svg", &data, &length);
    std::string svg = data != nullptr ? std::string(data, length) : std::string();
    if (data != nullptr) gv.gvFreeRenderData(data);
    gv.gvFreeLayout(gvc.get(), graph.get());
    if (rc != 0 || svg.empty()) {
        throw Error(
            "graphviz: cannot render SVG (is the core plugin there? `dot -c` registers "
            "it): " +
            trimmed(g_errors));
    }
    return svg;
}

}  // namespace virtform::graphviz
