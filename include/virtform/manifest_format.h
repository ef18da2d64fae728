#pragma once
/// `virtform fmt`: manifests in one canonical layout. Pure (text in, text out).
///
/// - keys in the order of docs/manifest.md (one table, kKeyOrder in
///   manifest_format.cpp); keys it does not know (new sections, `<<` merge
///   keys, ...) stay right after the key they followed;
/// - two spaces per level, a list indented under its key;
/// - comments and blank lines kept, moving with the key they stand above; the
///   file's leading comments stay at the top;
/// - block or flow style kept as written: a one-line flow mapping
///   `{mac: ..., ip: ...}` has its keys ordered and its spacing normalised;
///   block scalars, quoting and anchors are kept.
///
/// The result is checked before it is returned: it must load as exactly the
/// same YAML tree (every scalar, tag, list order and mapping), hold the same
/// comments, and format to itself. Otherwise Error, and nothing is written.
#include <string>

namespace virtform {

/// `file` names the text in messages. Throws ValidationError (file:line:col)
/// for text that is not valid YAML, Error for a layout the formatter does not
/// handle (several documents, complex keys) or a check that failed.
std::string format_manifest(const std::string& text, const std::string& file);

}  // namespace virtform
