/* The serial floor of a cold apply and of a destroy (issue 13, part 2):
 * the least any tool must ask libvirtd to do, one call after the other, over
 * one connection.
 *
 *   c_floor_apply apply   URI NETWORKS VMS
 *   c_floor_apply destroy URI NETWORKS VMS
 *
 * NETWORKS and VMS are list files, one object a line: "NAME PATH", PATH a file
 * holding the XML to define (bench/floor_apply.sh writes them from what
 * `virtform -vv apply` logged it sent, so both define the same XML).
 *
 * apply:   for each network: virNetworkDefineXML, virNetworkSetAutostart(1),
 *          virNetworkCreate; then for each VM: virDomainDefineXML.
 * destroy: for each VM: virDomainLookupByName, virDomainUndefineFlags (the
 *          flags virtform passes); then for each network:
 *          virNetworkLookupByName, virNetworkDestroy, virNetworkUndefine.
 *
 * With FLOOR_TIMES=1 in the environment it prints, on stderr, the seconds
 * spent in each kind of call (the breakdown of docs/benchmarks.md).
 *
 * Exits 1 at the first failure, naming the object and libvirt's message. Not
 * part of ctest: bench/floor_apply.sh runs it.
 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    char name[256];
    char path[4096];
};

static char* slurp(const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t cap = 8192, len = 0;
    char* buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len <= 1) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "out of memory reading %s\n", path);
        exit(1);
    }
    buf[len] = '\0';
    return buf;
}

/* Reads "NAME PATH" lines; returns the count, *out malloc'd. */
static size_t read_list(const char* path, struct entry** out) {
    FILE* f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t n = 0, cap = 64;
    struct entry* e = malloc(cap * sizeof *e);
    char line[4608];
    while (e && fgets(line, sizeof line, f)) {
        if (line[0] == '\n' || line[0] == '#') continue;
        if (n == cap) {
            cap *= 2;
            e = realloc(e, cap * sizeof *e);
            if (!e) break;
        }
        if (sscanf(line, "%255s %4095s", e[n].name, e[n].path) != 2) {
            fprintf(stderr, "%s: not a \"NAME PATH\" line: %s", path, line);
            exit(1);
        }
        ++n;
    }
    fclose(f);
    if (!e) {
        fprintf(stderr, "out of memory reading %s\n", path);
        exit(1);
    }
    *out = e;
    return n;
}

enum phase {
    NET_DEFINE,
    NET_AUTOSTART,
    NET_START,
    VM_DEFINE,
    VM_LOOKUP,
    VM_UNDEFINE,
    NET_LOOKUP,
    NET_STOP,
    NET_UNDEFINE,
    PHASES
};
static const char* const phase_names[PHASES] = {
    "network define", "network autostart", "network start", "vm define",       "vm lookup",
    "vm undefine",    "network lookup",    "network stop",  "network undefine"};
static double spent[PHASES];
static int calls[PHASES];
static double mark;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Charges the time since the last call to `p`. */
static void charge(enum phase p) {
    const double t = now();
    spent[p] += t - mark;
    ++calls[p];
    mark = t;
}

static void fail(const char* what, const char* name) {
    fprintf(stderr, "%s %s: %s\n", what, name, virGetLastErrorMessage());
    exit(1);
}

int main(int argc, char** argv) {
    if (argc != 5 || (strcmp(argv[1], "apply") != 0 && strcmp(argv[1], "destroy") != 0)) {
        fprintf(stderr, "usage: %s apply|destroy URI NETWORKS VMS\n", argv[0]);
        return 2;
    }
    const int apply = strcmp(argv[1], "apply") == 0;
    struct entry *nets, *vms;
    const size_t n_nets = read_list(argv[3], &nets);
    const size_t n_vms = read_list(argv[4], &vms);
    virConnectPtr conn = virConnectOpen(argv[2]);
    if (!conn) fail("connect", argv[2]);

    if (apply) {
        for (size_t i = 0; i < n_nets; ++i) {
            char* xml = slurp(nets[i].path);
            mark = now();
            virNetworkPtr net = virNetworkDefineXML(conn, xml);
            charge(NET_DEFINE);
            free(xml);
            if (!net) fail("define network", nets[i].name);
            if (virNetworkSetAutostart(net, 1) < 0) fail("autostart network", nets[i].name);
            charge(NET_AUTOSTART);
            if (virNetworkCreate(net) < 0) fail("start network", nets[i].name);
            charge(NET_START);
            virNetworkFree(net);
        }
        for (size_t i = 0; i < n_vms; ++i) {
            char* xml = slurp(vms[i].path);
            mark = now();
            virDomainPtr dom = virDomainDefineXML(conn, xml);
            charge(VM_DEFINE);
            free(xml);
            if (!dom) fail("define vm", vms[i].name);
            virDomainFree(dom);
        }
    } else {
        for (size_t i = 0; i < n_vms; ++i) {
            mark = now();
            virDomainPtr dom = virDomainLookupByName(conn, vms[i].name);
            charge(VM_LOOKUP);
            if (!dom) fail("look up vm", vms[i].name);
            if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM |
                                                VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                                VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                                VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0)
                fail("undefine vm", vms[i].name);
            charge(VM_UNDEFINE);
            virDomainFree(dom);
        }
        for (size_t i = 0; i < n_nets; ++i) {
            mark = now();
            virNetworkPtr net = virNetworkLookupByName(conn, nets[i].name);
            charge(NET_LOOKUP);
            if (!net) fail("look up network", nets[i].name);
            if (virNetworkDestroy(net) < 0) fail("stop network", nets[i].name);
            charge(NET_STOP);
            if (virNetworkUndefine(net) < 0) fail("undefine network", nets[i].name);
            charge(NET_UNDEFINE);
            virNetworkFree(net);
        }
    }
    virConnectClose(conn);
    const char* times = getenv("FLOOR_TIMES");
    if (times && strcmp(times, "1") == 0) {
        for (int p = 0; p < PHASES; ++p) {
            if (calls[p] == 0) continue;
            fprintf(stderr, "%-18s %4d calls %8.3f s  %7.2f ms each\n", phase_names[p], calls[p],
                    spent[p], 1000 * spent[p] / calls[p]);
        }
    }
    free(nets);
    free(vms);
    return 0;
}
