#pragma once
// Private to the manifest loader: the one table of every manifest key. The
// readers' unknown-key checks (MapReader) and `virtform schema` both come
// from it, so the published JSON Schema cannot drift from what is accepted.
#include <string>
#include <vector>

namespace virtform::detail {

enum class KeyType {
    string,              ///< one line of text
    text,                ///< text that may span lines
    integer,             ///< min..max
    number,              ///< a plain decimal, min..max
    boolean,             ///< true/false (yes/no, on/off)
    size,                ///< "512MiB", "20G", ...
    path,                ///< an absolute path
    choice,              ///< one of `choices`
    mapping,             ///< a mapping of section `ref`
    names,               ///< a mapping of names to mappings of section `ref`
    list,                ///< a list of strings, or of mappings of section `ref` when set
    string_or_mapping,   ///< a string, or a mapping of section `ref`
    boolean_or_mapping,  ///< true/false, or a mapping of section `ref`
};

struct KeySpec {
    const char* name;
    KeyType type;
    const char* description;
    const char* ref = nullptr;
    long long min = 0;
    long long max = 0;
    std::vector<std::string> choices = {};
    /// Read by the template pass, never by a section reader (count, template).
    bool template_pass = false;
};

struct KeySection {
    const char* id;
    const char* description;
    std::vector<KeySpec> keys;
    bool nullable = false;  ///< `name:` with nothing after it is an empty mapping

    const KeySpec* find(const std::string& key) const;
    std::vector<std::string> names() const;
};

/// The section `id` ("vm", "network", ...); throws std::logic_error when unknown.
const KeySection& key_section(const std::string& id);
const std::vector<KeySection>& key_sections();

}  // namespace virtform::detail
