/* evpn-monitor dataplane: the ONE header shared by the BPF programs
 * (dataplane/bpf/mirror.bpf.c) and the userspace library (C++ facade over the
 * BPF maps, and the memory backend, which reuses the same key/value layout
 * so that both backends have the same semantics and limits).
 *
 * Layouts are fixed-size, explicitly padded and little-endian host order
 * except where noted (addresses are kept in network byte order).
 */
#ifndef EVPNMON_SHARED_H
#define EVPNMON_SHARED_H

#ifdef __cplusplus
#include <cstdint>
typedef std::uint8_t dp_u8;
typedef std::uint16_t dp_u16;
typedef std::uint32_t dp_u32;
typedef std::uint64_t dp_u64;
#else
typedef __u8 dp_u8;
typedef __u16 dp_u16;
typedef __u32 dp_u32;
typedef __u64 dp_u64;
#endif

/* Limits (identical in both backends). */
#define DP_MAX_ACTIONS 8     /* entries sharing one (kind, vni, match) */
#define DP_MAX_COPIES 8      /* distinct copies emitted for one packet */
#define DP_MAX_ENTRIES 32768 /* installed entries (all kinds) */
#define DP_MAX_PORTS 1024    /* host-facing ports with the mirror program */

/* dp_match_key.kind: entry kinds 1 and 2 (entry 3 uses dp_decap_key). */
#define DP_KIND_SRC 1
#define DP_KIND_DST 2
#define DP_KIND_DECAP 3

/* dp_match_key.mtype */
#define DP_MATCH_MAC 1
#define DP_MATCH_V4 4
#define DP_MATCH_V6 6

/* dp_action.kind */
#define DP_ACT_LOCAL 1
#define DP_ACT_VXLAN 2

/* Index into the global statistics array. */
#define DP_GSTAT_DECAP_UNKNOWN 0 /* decap: no entry 3 for (VNI, HOST ID) */
#define DP_GSTAT_DECAP_NOMETA 1  /* decap: packet without tunnel key/GBP */
#define DP_GSTAT_COPY_OVERFLOW 2 /* copies beyond DP_MAX_COPIES */
#define DP_GSTAT_EGRESS_DUP 3    /* originals dropped at a server port's
				    egress: the mirror copies them already */
#define DP_GSTAT_MAX 4

/* skb->mark bit carried by mirror copies from the mirror/decap program to
 * the egress program of the server's port, which lets them through and
 * clears it. Set on local copies and decapsulated copies only (never on
 * VXLAN copies: the underlay route lookup uses the mark), and the original
 * keeps its mark. */
#define DP_COPY_MARK 0x20000000u

/* Local MACs: which host-facing port each (VNI, MAC) was learned on, from
 * the bridge FDB events. A MAC learned on a server's port stays after it
 * ages out (a silent capture server), until it is learned elsewhere. */
#define DP_MAX_LOCAL_MACS 16384
struct dp_mac_key {
	dp_u32 vni;
	dp_u8 mac[6];
	dp_u8 pad[2];
};

/* config array index 0 */
struct dp_config {
	dp_u32 mirror_ifindex; /* the `vxlan external gbp` device */
	dp_u32 local_vtep;     /* IPv4, network order; 0 = route lookup */
	dp_u8 ttl;
	dp_u8 pad[7];
};

/* Hash key of entries 1/2: what one header field of a packet is matched
 * against. addr: MAC in addr[0..5], IPv4 in addr[0..3], IPv6 in addr[0..15]
 * (network order), the rest zero. */
struct dp_match_key {
	dp_u32 vni;
	dp_u8 kind;  /* DP_KIND_SRC / DP_KIND_DST */
	dp_u8 mtype; /* DP_MATCH_* */
	dp_u8 pad[2];
	dp_u8 addr[16];
};

/* What to do with a copy. Two actions are the same copy iff their bytes are
 * equal (the dedupe rule of the exactly-once contract). */
struct dp_action {
	dp_u8 kind; /* DP_ACT_* */
	dp_u8 pad;
	dp_u16 host_id;     /* VXLAN: GBP Group Policy ID; LOCAL: 0 */
	dp_u32 ifindex;     /* LOCAL: server's bridge port; VXLAN: 0 */
	dp_u32 remote_vtep; /* VXLAN: IPv4, network order; LOCAL: 0 */
	dp_u32 vni;         /* VXLAN: VNI of the copy; LOCAL: 0 */
};

struct dp_slot {
	struct dp_action action;
	dp_u32 stat_idx; /* index into the per-CPU entry statistics */
	dp_u32 pad;
};

/* Value of entries 1/2: every installed entry with this match key (one
 * monitored host may be watched by several servers), sorted by EntryKey. */
struct dp_match_val {
	dp_u32 n;
	dp_u32 pad;
	struct dp_slot slots[DP_MAX_ACTIONS];
};

/* Entry 3: decapsulated copies carrying (VNI, HOST ID). */
struct dp_decap_key {
	dp_u32 vni;
	dp_u16 host_id;
	dp_u16 pad;
};

struct dp_decap_val {
	dp_u32 ifindex; /* server's bridge port */
	dp_u32 stat_idx;
};

/* Per-CPU counters of one entry (or of one global event). */
struct dp_stats {
	dp_u64 packets;
	dp_u64 bytes;
	dp_u64 drops;
};

/* Full description of one installed entry, so that a restarted process can
 * list() exactly what it (or a previous run) installed. Not read by BPF. */
struct dp_entry_meta {
	dp_u8 kind;     /* DP_KIND_* */
	dp_u8 has_mac;
	dp_u8 has_ip;
	dp_u8 ip_family; /* 4 or 6 */
	dp_u32 vni;
	dp_u8 mac[6];
	dp_u16 host_id;
	dp_u8 ip[16];
	struct dp_action action;
};

#endif /* EVPNMON_SHARED_H */
