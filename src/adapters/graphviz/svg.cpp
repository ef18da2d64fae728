#include "virtform/adapters/graphviz/svg.h"

#include <graphviz/gvc.h>

#include <memory>
#include <mutex>

#include "virtform/error.h"

namespace virtform::graphviz {

namespace {

// Graphviz reports through one process-wide callback: collect what it says
// while one rendering runs (the mutex keeps renderings apart).
std::mutex g_mutex;
std::string g_errors;

int collect_error(char* message) {
    g_errors += message;
    return 0;
}

struct GvcDeleter {
    void operator()(GVC_t* gvc) const { gvFreeContext(gvc); }
};
struct GraphDeleter {
    void operator()(Agraph_t* g) const { agclose(g); }
};

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

std::string dot_to_svg(const std::string& dot) {
    std::lock_guard lock(g_mutex);
    g_errors.clear();
    agseterrf(collect_error);
    std::unique_ptr<GVC_t, GvcDeleter> gvc(gvContext());
    if (!gvc) throw Error("graphviz: cannot create a context");
    std::unique_ptr<Agraph_t, GraphDeleter> graph(agmemread(dot.c_str()));
    if (!graph) throw Error("graphviz: the graph does not parse: " + trimmed(g_errors));
    if (gvLayout(gvc.get(), graph.get(), "dot") != 0) {
        throw Error("graphviz: layout failed: " + trimmed(g_errors));
    }
    char* data = nullptr;
    unsigned int length = 0;
    const int rc = gvRenderData(gvc.get(), graph.get(), "svg", &data, &length);
    std::string svg = data != nullptr ? std::string(data, length) : std::string();
    if (data != nullptr) gvFreeRenderData(data);
    gvFreeLayout(gvc.get(), graph.get());
    if (rc != 0 || svg.empty()) {
        throw Error(
            "graphviz: cannot render SVG (is the core plugin there? `dot -c` registers "
            "it): " +
            trimmed(g_errors));
    }
    return svg;
}

}  // namespace virtform::graphviz
