#pragma once
// Private to the libvirt adapter: pugixml in and out, the same way for every
// kind of libvirt XML.
#include <fmt/format.h>

#include <pugixml.hpp>
#include <sstream>
#include <string>

#include "virtform/error.h"

namespace virtform::libvirt {

/// An element as XML text (for virNetworkUpdate and device attach/detach).
inline std::string node_to_string(const pugi::xml_node& node) {
    std::ostringstream out;
    node.print(out, "  ", pugi::format_default | pugi::format_no_declaration);
    return out.str();
}

/// A whole document as XML text (for define calls).
inline std::string doc_to_string(const pugi::xml_document& doc) {
    std::ostringstream out;
    doc.save(out, "  ", pugi::format_default | pugi::format_no_declaration);
    return out.str();
}

/// Parses libvirt's XML; throws Error unless its root element is `root`.
inline pugi::xml_document parse_xml(const std::string& xml, const char* root) {
    pugi::xml_document doc;
    // parse_ws_pcdata_single: an element whose whole text is white space (a
    // kernel command line " ") keeps it; by default pugixml drops it, and the
    // value would never read back as written (caught by the fuzz target).
    const auto result =
        doc.load_string(xml.c_str(), pugi::parse_default | pugi::parse_ws_pcdata_single);
    if (!result) throw Error(fmt::format("cannot parse {} XML: {}", root, result.description()));
    if (!doc.child(root))
        throw Error(fmt::format("libvirt returned XML without a <{}> element", root));
    return doc;
}

}  // namespace virtform::libvirt
