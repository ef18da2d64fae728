#pragma once
/// Fingerprints of live state, so that a saved plan can tell whether the host
/// changed since it was made, and say what changed.
#include <map>
#include <string>
#include <vector>

#include "virtform/model.h"

namespace virtform {

/// One digest per live object ("network.labnat" -> "fnv1a:..."), over the
/// same attributes the planner diffs, plus its owner.
std::map<std::string, std::string> fingerprint(const Live& live);

/// The fingerprint of what a plan for `desired` depends on: the objects the
/// lab owns, objects of any owner holding a name the manifests use, networks
/// on a bridge the manifests name, volumes in their pools. Another lab's work
/// elsewhere on the host does not make a saved plan stale.
std::map<std::string, std::string> fingerprint(const Live& live, const Desired& desired);

/// The fingerprint of the objects `lab` owns only: what apply records after it
/// runs, so that the next plan can tell drift (changed outside virtform).
std::map<std::string, std::string> owned_fingerprint(const Live& live, const std::string& lab);

/// What differs between two fingerprints, one line per object:
/// "network.labnat changed", "vm.web1 appeared", "bridge.br0 disappeared".
std::vector<std::string> fingerprint_changes(const std::map<std::string, std::string>& before,
                                             const std::map<std::string, std::string>& after);

/// A stable 64-bit FNV-1a digest of `text`, as "fnv1a:<16 hex digits>".
std::string digest_text(const std::string& text);

}  // namespace virtform
