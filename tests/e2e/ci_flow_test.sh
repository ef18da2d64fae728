#!/usr/bin/env bash
# The CI flow of docs/ci.md, played for real: the shell steps of its GitHub
# Actions and GitLab CI pipelines are extracted from the page (the
# `# ci-step: NAME` blocks) and run as the jobs would run them, each in its own
# process and its own clone of a git repository:
#   - a pull request is planned (validate, fmt --check, plan -o, markdown);
#   - its merge applies exactly the saved plan, from another clone;
#   - a stacked request planned before its parent merged is refused as stale,
#     naming the changed object; planned again, it applies, waiting for the
#     lab's lock that someone else holds (--lock-timeout);
#   - the nightly drift job passes, then fails naming a change made with virsh;
#   - a request whose manifest is not formatted fails its plan job.
# Networks only (isolated, with DHCP): it runs in seconds.
#   bash tests/e2e/ci_flow_test.sh build/src/virtform
set -euo pipefail
vf=$(readlink -f "${1:?usage: $0 PATH-TO-virtform}")
root=$(cd "$(dirname "$0")/../.." && pwd)
page="$root/docs/ci.md"

id=$$
n=$((id % 200 + 20))
tmp=$(mktemp -d /tmp/vf-e2e-ci.XXXXXX)
mkdir "$tmp/bin" "$tmp/steps"
ln -s "$vf" "$tmp/bin/virtform"   # the pipelines call `virtform` from PATH
labs=()

fail() { echo "FAIL: $*"; exit 1; }
cleanup() {
    for lab in "${labs[@]}"; do
        for net in "${lab}a" "${lab}b"; do
            virsh -q net-destroy "$net" >/dev/null 2>&1 || true
            virsh -q net-undefine "$net" >/dev/null 2>&1 || true
        done
        rm -f /var/lib/virtform/state/"$lab"@*.json /run/virtform/locks/"$lab"@*.lock
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

git_() { git -c user.name=ci -c user.email=ci@example.invalid -c init.defaultBranch=main "$@"; }

# Runs step NAME of the page in directory DIR, as a job would: a fresh bash,
# the pipeline's variables, `virtform` on PATH. Sets $rc, $out, $err.
step() {
    local name=$1 dir=$2
    "$root/tests/e2e/extract_ci_step.sh" "$page" "$name" > "$tmp/steps/$name.sh" ||
        fail "docs/ci.md has no step '$name'"
    rc=0
    (cd "$dir" && env PATH="$tmp/bin:$PATH" LAB_DIR=lab PLAN_DIR="$tmp/plans" \
        bash "$tmp/steps/$name.sh" > "$tmp/out" 2> "$tmp/err") || rc=$?
    out=$(cat "$tmp/out") err=$(cat "$tmp/err")
}
expect_rc() {  # $1: wanted exit code, $2: what
    [ "$rc" -eq "$1" ] || fail "$2: exit $rc, want $1
--- stdout ---
$out
--- stderr ---
$err"
}

manifest() {  # $1 lab, $2 subnet octet, $3 end of net a's DHCP range, $4 end of net b's
    cat <<YAML
# The lab of the CI flow test.
lab: $1
networks:
  ${1}a:
    mode: isolated
    bridge: vfci$((id % 100000))a$2
    ipv4:
      address: 10.213.$2.1/25
      dhcp: {range: 10.213.$2.10-10.213.$2.$3}
  ${1}b:
    mode: isolated
    bridge: vfci$((id % 100000))b$2
    ipv4:
      address: 10.213.$2.129/25
      dhcp: {range: 10.213.$2.140-10.213.$2.$4}
YAML
}

net_xml() { virsh -q net-dumpxml "$1" 2>/dev/null || true; }

# One forge's pipeline, through every case. $1: github | gitlab, $2: subnet octet.
flow() {
    local forge=$1 octet=$2
    local short=${forge/github/gh}
    local lab="vfi12ci${short/gitlab/gl}$id"
    labs+=("$lab")
    local origin="$tmp/$forge/origin.git" work="$tmp/$forge"
    mkdir -p "$work"
    git_ init -q --bare "$origin"
    git_ clone -q "$origin" "$work/dev" 2>/dev/null
    clone() {  # $1: name, $2: branch
        git_ clone -q --branch "$2" "$origin" "$work/$1" 2>/dev/null
        echo "$work/$1"
    }
    commit() {  # $1: branch (created from the current one if new), $2: message, stdin: lab.yaml
        (cd "$work/dev" && { git_ checkout -q "$1" 2>/dev/null || git_ checkout -q -b "$1"; } &&
            mkdir -p lab && cat > lab/lab.yaml && git_ add lab && git_ commit -q -m "$2" &&
            git_ push -q origin "$1" 2>/dev/null)
    }
    merge() {  # $1: branch into main, as the forge's merge button does
        (cd "$work/dev" && git_ checkout -q main && git_ merge -q --no-ff -m "Merge $1" "$1" &&
            git_ push -q origin main 2>/dev/null)
    }
    (cd "$work/dev" && echo "# lab" > README.md && git_ add README.md && git_ commit -q -m init &&
        git_ push -q origin main 2>/dev/null)

    echo "== $forge: a pull request that adds the lab is planned"
    manifest "$lab" "$octet" 20 150 | commit add-lab "add the lab"
    step "$forge-plan" "$(clone pr1 add-lab)"
    expect_rc 0 "plan job of the first request"
    local md="$work/pr1/plan.md"
    grep -q '^\*\*Plan: 2 to add, 0 to change, 0 to destroy.\*\*$' "$md" || fail "plan.md: $(cat "$md")"
    grep -q "^| \`+\` | <code>network.${lab}a</code> | create | live |" "$md" || fail "plan.md table: $(cat "$md")"
    grep -q 'The host has not changed since' "$md" || fail "plan.md lacks the host check"
    [ -s "$work/pr1/plan-full.md" ] || fail "no plan-full.md for the artifact"
    [ "$(ls "$tmp/plans" | wc -l)" -eq 1 ] || fail "want one saved plan: $(ls "$tmp/plans")"
    [ -z "$(net_xml "${lab}a")" ] || fail "planning created a network"

    echo "== $forge: its merge applies the saved plan, from another clone"
    merge add-lab
    step "$forge-apply" "$(clone merge1 main)"
    expect_rc 0 "apply job of the first merge"
    grep -q "Apply complete! Resources: 2 added" <<<"$out" || fail "apply output: $out"
    grep -q "end='10.213.$octet.20'" <<<"$(net_xml "${lab}a")" || fail "network a not as planned"
    [ -z "$(ls "$tmp/plans")" ] || fail "the applied plan was kept: $(ls "$tmp/plans")"

    echo "== $forge: a stacked request planned before its parent merged is refused as stale"
    manifest "$lab" "$octet" 30 150 | commit widen-a "widen a's range"
    step "$forge-plan" "$(clone pr2 widen-a)"
    expect_rc 0 "plan job of request 2"
    manifest "$lab" "$octet" 30 160 | commit widen-b "widen b's range too (on top of widen-a)"
    step "$forge-plan" "$(clone pr3 widen-b)"
    expect_rc 0 "plan job of request 3"
    grep -q 'Plan: 0 to add, 2 to change, 0 to destroy.' "$work/pr3/plan.md" || fail "pr3 plan: $(cat "$work/pr3/plan.md")"
    merge widen-a
    step "$forge-apply" "$(clone merge2 main)"
    expect_rc 0 "apply job of request 2"
    grep -q "end='10.213.$octet.30'" <<<"$(net_xml "${lab}a")" || fail "request 2 not applied"
    merge widen-b
    local b_before
    b_before=$(net_xml "${lab}b")
    step "$forge-apply" "$(clone merge3 main)"
    expect_rc 1 "apply job of the stale request 3"
    grep -q "the saved plan is stale" <<<"$err" || fail "no stale refusal: $err"
    grep -q "network.${lab}a changed" <<<"$err" || fail "the refusal does not name network a: $err"
    grep -q "network.${lab}b" <<<"$err" && fail "the refusal names network b, which did not change: $err"
    [ "$(net_xml "${lab}b")" = "$b_before" ] || fail "the stale plan changed network b"

    echo "== $forge: planned again on main, it applies"
    step "$forge-plan" "$work/merge3"
    expect_rc 0 "plan job run again on main"
    grep -q 'Plan: 0 to add, 1 to change, 0 to destroy.' "$work/merge3/plan.md" || fail "re-plan: $(cat "$work/merge3/plan.md")"
    # Meanwhile someone applies the lab by hand: the job's apply waits for the
    # lab's lock (--lock-timeout 10m) instead of failing.
    local uri lockfile
    uri=$(virsh uri)
    lockfile="/run/virtform/locks/$lab@${uri//[^A-Za-z0-9_-]/_}.lock"
    mkdir -p /run/virtform/locks
    flock "$lockfile" sh -c "touch '$work/held'; sleep 2; touch '$work/released'" &
    local holder=$!
    while [ ! -e "$work/held" ]; do sleep 0.1; done
    step "$forge-apply" "$(clone merge3b main)"
    [ -e "$work/released" ] || fail "the apply job did not wait for the lab's lock"
    wait "$holder"
    expect_rc 0 "apply job after the re-plan (it waited for the lock)"
    grep -q "end='10.213.$octet.160'" <<<"$(net_xml "${lab}b")" || fail "request 3 not applied"

    echo "== $forge: the nightly job passes, then reports a change made with virsh"
    step "$forge-drift" "$(clone nightly1 main)"
    expect_rc 0 "drift job on a host that matches"
    grep -q '"in_sync": true' "$work/nightly1/status.json" || fail "status.json: $(cat "$work/nightly1/status.json")"
    virsh -q net-autostart --disable "${lab}a" >/dev/null
    step "$forge-drift" "$(clone nightly2 main)"
    expect_rc 2 "drift job after a change by hand"
    grep -q "network.${lab}a" <<<"$out" || fail "the drift report does not name network a: $out"
    grep -q "drift: the host no longer matches" <<<"$err" || fail "no drift message: $err"
    python3 - "$work/nightly2/status.json" "network.${lab}a" <<'PY' || fail "status.json alerts"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["in_sync"] is False, doc
assert sys.argv[2] in doc["alerts"]["drifted"], doc["alerts"]
assert sys.argv[2] in doc["alerts"]["out_of_sync"], doc["alerts"]
PY

    echo "== $forge: a request whose manifest is not formatted fails its plan job"
    manifest "$lab" "$octet" 30 160 | sed 's/^    mode: isolated$/    mode:   isolated/; s/^  /    /' |
        commit messy "unformatted"
    step "$forge-plan" "$(clone pr4 messy)"
    expect_rc 1 "plan job of an unformatted manifest"
    grep -q "lab/lab.yaml" <<<"$out" || fail "fmt --check does not name the file: $out"

    "$vf" destroy --auto-approve "$work/merge3b/lab/lab.yaml" >/dev/null 2>&1 || fail "destroy"
    [ -z "$(net_xml "${lab}a")" ] || fail "destroy left network a"
}

flow github $((n % 100 + 100))
flow gitlab $((n % 100))
echo "PASS: the CI flow of docs/ci.md (GitHub Actions and GitLab CI steps)"
