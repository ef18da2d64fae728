#pragma once
/// DOT to SVG in-process, through Graphviz's library (libgvc): its layout
/// (dot), its SVG writer. No `dot` program is run.
#include <string>

namespace virtform::graphviz {

/// The SVG Graphviz draws for `dot` (one graph). Throws Error with Graphviz's
/// message when the text does not parse or cannot be laid out.
std::string dot_to_svg(const std::string& dot);

}  // namespace virtform::graphviz
