#!/usr/bin/env bash
# Under `set -o pipefail`, `cmd | grep -q PATTERN` fails at random: grep exits
# at its first match, and when cmd writes again after that it dies of SIGPIPE
# (exit 141), which pipefail makes the pipeline's status. `virsh dumpxml VM |
# grep -q X || fail` failed that way about one run in five and looked like a
# VM running the wrong definition (issue 9). bash's own echo is no exception:
# it writes a multi-line string one line per write(2) (strace shows it), so
# `echo "$plan" | grep -q X` failed the same way on a loaded host. Scripts
# under pipefail give grep -q its input whole: `grep -q X <<<"$plan"`,
# `grep -q X <<<"$(cmd)"`.
#   bash tests/lint/pipefail_grep_test.sh [SCRIPT...]   (default: tests/e2e/*.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -eq 0 ]; then set -- "$root"/tests/e2e/*.sh; fi

scan() {  # prints one line per offending pipe
    local f hit line producer
    for f in "$@"; do
        grep -q 'pipefail' "$f" || continue
        # A pipe into grep with -q among its options.
        while IFS= read -r hit; do
            line=${hit#*:}
            producer=$(sed -E 's/^[[:space:]]*//' <<<"${line%%|*}")
            echo "$f:$hit: under pipefail, grep -q may kill '${producer%% *}' with SIGPIPE;" \
                 "use grep -q PATTERN <<<\"\$(cmd)\""
        done < <(grep -nE '\|[[:space:]]*grep[[:space:]]+(-[a-zA-Z]*q|--quiet)' "$f" || true)
    done
}

# The check itself must catch the pattern (so that a broken regex cannot pass).
probe=$(mktemp)
trap 'rm -f "$probe"' EXIT
printf '%s\n' 'set -o pipefail' 'virsh dumpxml vm | grep -q x || exit 1' \
    'echo "$v" | grep -q x' 'grep -q x <<<"$(virsh dumpxml vm)"' 'grep -q x <<<"$v"' >"$probe"
found=$(scan "$probe")
[ "$(grep -c SIGPIPE <<<"$found")" = 2 ] || { echo "FAIL: the check misses the pattern: $found"; exit 1; }

found=$(scan "$@")
[ -z "$found" ] || { echo "$found"; echo "FAIL: 'cmd | grep -q' under pipefail"; exit 1; }
echo "PASS: no 'cmd | grep -q' under pipefail in $# script(s)"
