/* The floor of a no-op plan (issue 13, part 2): the least any tool must do to
 * see a lab on a libvirt host, over one connection, in plain C.
 *
 *     c_floor_plan [URI]          (default: qemu:///system)
 *
 * Connects, lists every network and every domain (virConnectListAllNetworks,
 * virConnectListAllDomains), fetches each network's and each domain's inactive
 * XML (what virtform's read() compares against the manifest) and, for a
 * running domain, its live XML too (virtform reads that as well), and prints
 * the counts. Whether a domain runs comes from its handle (virDomainGetID is
 * local: -1 when inactive), so that costs no round trip. Nothing is parsed:
 * whatever a tool does with the XML is its own cost above the floor.
 *
 * Built by bench/CMakeLists.txt (target c_floor_plan); run by
 * bench/floor_plan.sh next to `virtform plan`. Exit status: 0, or 1 when a
 * libvirt call fails.
 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char* what) {
    const char* msg = virGetLastErrorMessage();
    fprintf(stderr, "c_floor_plan: %s: %s\n", what, msg ? msg : "unknown error");
    return 1;
}

int main(int argc, char** argv) {
    const char* uri = argc > 1 ? argv[1] : "qemu:///system";
    virConnectPtr conn = virConnectOpen(uri);
    if (!conn) return fail("connect");

    virNetworkPtr* nets = NULL;
    const int n_nets = virConnectListAllNetworks(conn, &nets, 0);
    if (n_nets < 0) return fail("list networks");
    size_t net_bytes = 0;
    int missing = 0;
    for (int i = 0; i < n_nets; ++i) {
        char* xml = virNetworkGetXMLDesc(nets[i], VIR_NETWORK_XML_INACTIVE);
        if (xml) {
            net_bytes += strlen(xml);
            free(xml);
        } else {
            ++missing; /* undefined meanwhile by someone else */
        }
        virNetworkFree(nets[i]);
    }
    free(nets);

    virDomainPtr* doms = NULL;
    const int n_doms = virConnectListAllDomains(conn, &doms, 0);
    if (n_doms < 0) return fail("list domains");
    size_t dom_bytes = 0;
    int running = 0;
    for (int i = 0; i < n_doms; ++i) {
        char* xml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE);
        if (xml) {
            dom_bytes += strlen(xml);
            free(xml);
        } else {
            ++missing;
        }
        if (virDomainGetID(doms[i]) != (unsigned int)-1) { /* local: running */
            ++running;
            xml = virDomainGetXMLDesc(doms[i], 0);
            if (xml) {
                dom_bytes += strlen(xml);
                free(xml);
            } else {
                ++missing;
            }
        }
        virDomainFree(doms[i]);
    }
    free(doms);

    printf("networks %d (%zu bytes of XML), domains %d, running %d (%zu bytes of XML), gone %d\n",
           n_nets, net_bytes, n_doms, running, dom_bytes, missing);
    virConnectClose(conn);
    return 0;
}
