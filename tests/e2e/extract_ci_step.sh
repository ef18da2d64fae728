#!/usr/bin/env bash
# Prints the shell step NAME of a pipeline in a docs page: the lines from
# `# ci-step: NAME` to the end of the block scalar it opens (the first
# non-blank line indented less than the marker), without their indentation.
# Exits 1 when the page has no such step (or has it twice).
#   tests/e2e/extract_ci_step.sh docs/ci.md github-plan > step.sh
set -euo pipefail
page=$1 name=$2
awk -v name="$name" '
  function indent_of(s) { match(s, /^ */); return RLENGTH }
  !inside && $0 ~ "^ *# ci-step: " name "$" { inside = 1; found++; ind = indent_of($0); next }
  inside {
    if ($0 ~ /^ *$/) { print ""; next }
    if (indent_of($0) < ind) { inside = 0; next }
    print substr($0, ind + 1)
  }
  END { if (found != 1) { printf "%s: %d steps named %s (want 1)\n", FILENAME, found, name > "/dev/stderr"; exit 1 } }
' "$page"
