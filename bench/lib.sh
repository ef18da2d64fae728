# Sourced by the bench/*.sh scripts: the dummy kernel their never-started VMs
# name, and the cleanup that destroys a run's labs and then removes, by name,
# whatever a failed destroy left.

# bench_kernel DIR: DIR/vmlinuz, the file every benchmark VM names as its kernel.
bench_kernel() {
    mkdir -p "$1" && chmod 755 "$1"
    echo "not a kernel: the benchmark's VMs are never started" >"$1/vmlinuz"
}

# bench_remove BIN URI WORK OBJECTS LABS: destroys every WORK/lab-*.yaml with BIN,
# then stops and removes the domains and networks whose names start with OBJECTS,
# and the lock files and drift records of the labs whose names start with LABS.
# Only names of this run: OBJECTS and LABS carry its tag.
bench_remove() {
    local bin=$1 uri=$2 work=$3 objects=$4 labs=$5 f d n
    for f in "$work"/lab-*.yaml; do
        [[ -e $f ]] && "$bin" destroy --auto-approve "$f" >/dev/null 2>&1
    done
    for d in $(virsh -q -c "$uri" list --all --name | grep "^$objects"); do
        virsh -q -c "$uri" destroy "$d" >/dev/null 2>&1
        virsh -q -c "$uri" undefine "$d" >/dev/null 2>&1
    done
    for n in $(virsh -q -c "$uri" net-list --all --name | grep "^$objects"); do
        virsh -q -c "$uri" net-destroy "$n" >/dev/null 2>&1
        virsh -q -c "$uri" net-undefine "$n" >/dev/null 2>&1
    done
    rm -f /run/virtform/locks/"$labs"*@* /var/lib/virtform/state/"$labs"*@*
    return 0
}
