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
/* Installed entries (all kinds): the default size of the maps that hold
 * one element per entry (dp_match, dp_decap, dp_meta, dp_stats). The real
 * size is set by userspace before load (Config::max_entries); no program
 * relies on this value, entry indexes reach BPF only as map keys. */
#define DP_MAX_ENTRIES 262144
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
#define DP_ACT_NONE 0 /* a server's target only: none from here (no copy) */
#define DP_ACT_LOCAL 1
#define DP_ACT_VXLAN 2
#define DP_ACT_ERSPAN 3 /* GRE/ERSPAN II or III to a collector (dp_erspan) */
#define DP_ACT_SERVER 4 /* a server's slot (dp_server): its target, resolved
			   once per packet (entries 1/2 only) */

/* Index into the global statistics array. */
#define DP_GSTAT_DECAP_UNKNOWN 0 /* decap: no entry 3 for (VNI, HOST ID) */
#define DP_GSTAT_DECAP_NOMETA 1  /* decap: packet without tunnel key/GBP */
#define DP_GSTAT_COPY_OVERFLOW 2 /* copies beyond DP_MAX_COPIES */
#define DP_GSTAT_EGRESS_DUP 3    /* originals dropped at a server port's
				    egress: the mirror copies them already */
#define DP_GSTAT_TRUNC_FAILED 4 /* copies that could not be cut: sent
				     whole (packets, bytes) */
#define DP_GSTAT_ERSPAN_FOREIGN 5 /* frames on the ERSPAN device that are
				      not ERSPAN copies, or name no live
				      destination slot: dropped */
#define DP_GSTAT_MAX 6

/* skb->mark bit carried by mirror copies from the mirror/decap program to
 * the egress program of the server's port, which lets them through and
 * clears it. Set on local copies and decapsulated copies only (never on
 * VXLAN copies: the underlay route lookup uses the mark), and the original
 * keeps its mark. */
#define DP_COPY_MARK 0x20000000u
/* The verdict of a program that has none of its own (TC_ACT_UNSPEC, tcx's
 * TCX_NEXT): the packet goes on to the hook's next program or filter, and
 * passes when there is none. The mirror never decides a packet's fate, so
 * an operator's own TC programs and filters on a port keep working. */
#define DP_TC_NEXT (-1)

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
	dp_u8 erspan_hw_id; /* ERSPAN III HW ID of this VTEP (0..63) */
	dp_u8 pad[2];
	dp_u32 erspan_ifindex; /* the ERSPAN device (copies are cloned to its
				  egress); 0 = no ERSPAN copies */
	/* TAI - UTC in ns (adjtimex().tai * 1e9), kept by userspace: the
	 * ERSPAN III timestamp is bpf_ktime_get_tai_ns() minus this. */
	dp_u64 tai_offset_ns;
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

/* dp_match_bits: one bit per hash of a dp_match key, set while some key
 * with that hash has an element in dp_match (the entry store keeps a
 * count per bit). A packet's key whose bit is clear cannot be in dp_match,
 * so its hash lookup is skipped: an ARRAY element read (inlined by the
 * verifier) instead of a hash-table walk, for the common packet that
 * matches nothing. The map holds DP_MATCH_BITS_PER_ENTRY bits per entry
 * of capacity, rounded up to a power of two: at most one key per 16
 * bits, about 6 % false hits with the maps full and 1.6 % at a quarter (a
 * false hit costs only the lookup that would have been made anyway).
 * The map is one element (a packet looks it up once for all its keys):
 * 32 MiB at the highest capacity accepted, 2^24 entries (an array
 * element's size has had no limit of its own below INT_MAX since Linux
 * 6.0). The one hash of both sides (tests/dataplane/test_match_bit.cpp
 * checks its spread): mask = number of bits - 1. */
#define DP_MATCH_BITS_PER_ENTRY 16
static inline dp_u32 dp_match_bit(const struct dp_match_key *k, dp_u32 mask)
{
	dp_u64 w[3];
	__builtin_memcpy(w, k, sizeof(w));
	/* Three independent products, then one fold-multiply-fold: a short
	 * dependency chain (it runs per key and packet), and every input bit
	 * reaches the low bits that the mask keeps. */
	dp_u64 h = (w[0] * 0x9E3779B97F4A7C15ull) ^ (w[1] * 0xBF58476D1CE4E5B9ull) ^
		   (w[2] * 0x94D049BB133111EBull);
	h ^= h >> 32;
	h *= 0xFF51AFD7ED558CCDull;
	h ^= h >> 29;
	return (dp_u32)h & mask;
}

/* What to do with a copy. Two actions are the same copy iff their bytes are
 * equal (the dedupe rule of the exactly-once contract). */
struct dp_action {
	dp_u8 kind; /* DP_ACT_* */
	dp_u8 pad;
	dp_u16 host_id;     /* VXLAN: GBP Group Policy ID; LOCAL, ERSPAN: 0 */
	dp_u32 ifindex;     /* LOCAL: server's bridge port; VXLAN: 0;
			       ERSPAN: the destination slot (dp_erspan);
			       SERVER: the server's slot (dp_server) */
	dp_u32 remote_vtep; /* VXLAN: IPv4, network order; LOCAL: 0;
			       ERSPAN: the collector (informational) */
	dp_u32 vni;         /* VXLAN: VNI of the copy; LOCAL, ERSPAN: 0 */
};

/* ---- Servers ----
 * One slot per monitoring server set on this VTEP (Dataplane::set_server):
 * where the copies of the entries naming it (DP_ACT_SERVER) go, a LOCAL or
 * VXLAN action, or DP_ACT_NONE while the server is unknown or unreachable
 * from here (its entries stay, copying nothing). A server's move replaces
 * this one element (a hash element: the replacement is atomic for readers)
 * and no dp_match element. The key fields tell a restarted process whose
 * slot it is. Slot 0 is never used. */
struct dp_server_val {
	struct dp_action target; /* DP_ACT_LOCAL, DP_ACT_VXLAN or DP_ACT_NONE */
	dp_u32 vni;
	dp_u8 mac[6];
	dp_u16 host_id;
};

struct dp_slot {
	struct dp_action action;
	dp_u32 stat_idx; /* index into the per-CPU entry statistics */
	dp_u32 prof;     /* index into dp_profile; 0 = no profile (copy all) */
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

/* Per-CPU counters of one entry (or of one global event). filtered,
 * sampled_out and policed: matched packets the entry's profile did not
 * copy, by the step that stopped them (entries only). */
struct dp_stats {
	dp_u64 packets;
	dp_u64 bytes;
	dp_u64 drops;
	dp_u64 filtered;
	dp_u64 sampled_out;
	dp_u64 policed;
};

/* ---- Mirror profiles (compiled session options) ----
 * The C++ facade compiles a session's evpn_mon_options into one dp_profile
 * (dataplane/src/codec.cpp) in a slot of the dp_profile array; dp_slot.prof
 * names it. Slot 0 is never written: no profile. Slots are per session per
 * VTEP (the policer's bucket and the sampler are the session's own). */
#define DP_MAX_PROFILES 16384
#define DP_MAX_FILTERS 4 /* = EVPN_MON_MAX_FILTERS */
#define DP_MAX_UDFS 8    /* = EVPN_MON_MAX_UDFS */

/* dp_profile.direction: which entry kinds the profile copies. */
#define DP_DIR_RX (1u << DP_KIND_DST) /* packets to the host: entry 2 */
#define DP_DIR_TX (1u << DP_KIND_SRC) /* packets from the host: entry 1 */

/* dp_udf.base */
#define DP_UDF_L3 0
#define DP_UDF_L4 1
#define DP_UDF_L5 2

/* dp_filter.flags: which fields the line tests. */
#define DP_FF_IP 0x01    /* only IP packets (any IP field or l4/l5 UDF) */
#define DP_FF_SRC 0x02   /* source prefix */
#define DP_FF_DST 0x04   /* destination prefix */
#define DP_FF_SPORT 0x08 /* source port range */
#define DP_FF_DPORT 0x10 /* destination port range */

/* (be16 at base+offset) & mask == value (value pre-masked, host order). */
struct dp_udf {
	dp_u8 base;
	dp_u8 offset;
	dp_u16 value;
	dp_u16 mask;
	dp_u16 pad;
};

struct dp_filter {
	dp_u8 family; /* 0 = any, 4, 6 */
	dp_u8 proto;  /* 0 = any */
	dp_u8 flags;  /* DP_FF_* */
	dp_u8 nudf;
	dp_u16 sport_lo, sport_hi; /* host order */
	dp_u16 dport_lo, dport_hi;
	dp_u32 pad;
	/* addr pre-masked; network order, IPv4 in the first 4 octets */
	dp_u8 src_addr[16], src_mask[16];
	dp_u8 dst_addr[16], dst_mask[16];
	struct dp_udf udf[DP_MAX_UDFS];
};

/* dp_profile.police_unit */
#define DP_POLICE_NONE 0
#define DP_POLICE_PPS 1
#define DP_POLICE_BPS 2
/* Token bucket in nano-tokens: a packet (pps) or an octet (bps) costs
 * DP_TOKEN_SCALE; rate tokens per second refill rate * elapsed ns. */
#define DP_TOKEN_SCALE 1000000000ull

struct dp_profile {
	dp_u8 direction; /* DP_DIR_* mask; never 0 in a written slot */
	dp_u8 nfilters;  /* 0 = every frame, non-IP included */
	dp_u8 police_unit;
	dp_u8 pad;
	dp_u16 truncate; /* 0 = whole frame, else 64..9216 */
	dp_u16 pad2;
	/* Sampler: copy when bpf_get_prandom_u32() < sample_thr, i.e. with
	 * probability sample_thr / 2^32 = 1/N (sample_thr = 2^32 / N, N >= 2).
	 * 0 = no sampler (N <= 1). */
	dp_u32 sample_thr;
	dp_u32 sample_n; /* informational */
	dp_u64 police_rate;  /* packets or octets per second */
	dp_u64 police_burst; /* nano-tokens (burst * DP_TOKEN_SCALE) */
	dp_u64 police_fill_ns; /* time to fill an empty bucket (>= 1) */
	struct dp_filter filters[DP_MAX_FILTERS];
};

/* dp_policer value (one per profile slot). The lock serializes CPUs. */
#ifdef __cplusplus
struct dp_spin_lock_placeholder {
	dp_u32 val;
};
#define DP_SPIN_LOCK struct dp_spin_lock_placeholder
#else
#define DP_SPIN_LOCK struct bpf_spin_lock
#endif
struct dp_policer {
	DP_SPIN_LOCK lock;
	dp_u32 pad;
	dp_u64 tokens;  /* nano-tokens */
	dp_u64 last_ns; /* bpf_ktime_get_ns of the last refill; 0 = full */
};

/* dp_profile_stats (per CPU, per profile slot): outcomes of one
 * evaluation of a (copy action, profile) pair per packet. */
struct dp_profile_stats {
	dp_u64 filtered;
	dp_u64 sampled_out;
	dp_u64 policed;
	dp_u64 selected;
};

/* skb->mark of a copy to be truncated: the length, from the mirror program
 * to the egress program that cuts it (the server port's, or the mirror
 * device's for VXLAN copies). Bits 14..27; cleared before the copy leaves. */
#define DP_TRUNC_SHIFT 14
#define DP_TRUNC_MASK (0x3fffu << DP_TRUNC_SHIFT)

/* ---- ERSPAN destinations ----
 * One slot per distinct ERSPAN destination (collector + encapsulation) per
 * VTEP, refcounted by the C++ facade; an ERSPAN action names its slot.
 * Slot 0 is never written. The slot's GRE sequence counter (dp_erspan_seq)
 * is a separate array so that rewriting the parameters never races with
 * the atomic increments. */
#define DP_MAX_ERSPAN 4096
#define DP_ERSPAN_GRE_II 0x88BE
#define DP_ERSPAN_GRE_III 0x22EB

struct dp_erspan {
	dp_u32 collector; /* IPv4, network order; 0 = slot not in use */
	dp_u8 version;    /* 2 or 3 */
	dp_u8 dscp;
	dp_u8 ttl;
	dp_u8 pad;
	dp_u16 span_id;   /* 10-bit ERSPAN Session ID */
	dp_u16 gre_proto; /* host order; never 0 (the version's default filled in) */
	dp_u16 gre_proto_cfg; /* as configured (0 = default), for list() */
	dp_u16 pad2;
};

/* Per-CPU counters of one slot (dp::ErspanCounters). */
struct dp_erspan_stats {
	dp_u64 packets;       /* copies sent towards the collector */
	dp_u64 bytes;         /* their inner (mirrored) octets */
	dp_u64 no_route;      /* dropped: no route (or not forwardable) */
	dp_u64 mtu_truncated; /* cut to fit the route's MTU (T set) */
	dp_u64 errors;        /* encapsulation or redirect failed */
};

/* skb->mark of an ERSPAN copy, set by the mirror program on the clone only
 * (the original keeps its mark) and consumed by evpnmon_erspan on the
 * ERSPAN device's egress:
 *   bit 31      DP_ERSPAN_MARK: this is an ERSPAN copy
 *   bit 30      DP_ERSPAN_TO_HOST: D bit (1 = packet TO the monitored host,
 *               selected by an entry 2 only; 0 = FROM it, entry 1)
 *   bits 14..27 truncation length (DP_TRUNC_MASK; 0 = whole frame)
 *   bits 0..13  destination slot
 * Between evpnmon_erspan and evpnmon_erspan_hop (the veth peer's ingress,
 * for copies bpf_redirect_neigh must route):
 *   bits 31, 28 DP_ERSPAN_MARK | DP_ERSPAN_HOP
 *   bits 0..27  output ifindex from the route lookup */
#define DP_ERSPAN_MARK 0x80000000u
#define DP_ERSPAN_TO_HOST 0x40000000u
#define DP_ERSPAN_HOP 0x10000000u
#define DP_ERSPAN_SLOT_MASK 0x3fffu
#define DP_ERSPAN_HOP_IFINDEX_MASK 0x0fffffffu

/* ---- Decapsulation sources ----
 * Entry 3 decapsulates a copy only if its outer source address is a VTEP of
 * the copy's VNI: (VNI, remote VTEP) pairs, filled by the consumer from the
 * VNI's flood list (the remote VTEPs zebra installs from IMET routes).
 * IPv4 underlay only, like the copies themselves. The value is unused. */
#define DP_MAX_DECAP_SOURCES 262144
struct dp_decap_src_key {
	dp_u32 vni;
	dp_u32 vtep; /* IPv4, network order */
};

/* ---- The mirror ceiling ----
 * Two token buckets over every copy this VTEP emits (local, VXLAN-GBP,
 * ERSPAN), under one lock, taken right before the copy is cloned: a copy
 * passes only if both have its cost, and then pays both.
 * - Bits: charged with the copy's mirrored octets (after truncation).
 *   Tokens are nano-bits: a copy of L octets costs L * 8 * DP_TOKEN_SCALE,
 *   `rate` bits per second refill rate * elapsed ns.
 * - Packets: one copy costs DP_TOKEN_SCALE nano-packets. What a copy costs
 *   the VTEP's CPU (clone, encapsulation, transmit) is per packet, whatever
 *   its size: this bucket bounds that cost, which the bits alone do not
 *   (small copies, e.g. of TCP ACKs, pass a bit rate by the ten thousand).
 * Userspace writes the rates, bursts and fill times (BPF_F_LOCK) at start;
 * a rate of 0 leaves that bucket out; both 0 = off (no lock, no counter). */
struct dp_bucket {
	dp_u64 tokens;  /* nano-units (nano-bits, nano-packets) */
	dp_u64 last_ns; /* bpf_ktime_get_ns of the last refill; 0 = full */
	dp_u64 rate;    /* units per second; 0 = this bucket is left out */
	dp_u64 burst;   /* nano-units (bucket depth) */
	dp_u64 fill_ns; /* time to fill the empty bucket (>= 1) */
};

struct dp_ceiling {
	DP_SPIN_LOCK lock;
	dp_u32 pad;
	struct dp_bucket bits;    /* rate: bits per second */
	struct dp_bucket packets; /* rate: copies per second */
};

/* dp_tstats (per CPU, struct dp_stats): what the trust controls stopped or
 * let through. Its own array, so that dp_gstats keeps its size and the pins
 * of a previous version stay compatible. */
#define DP_TSTAT_CEIL_PASS 0    /* copies within the ceiling (packets, bytes) */
#define DP_TSTAT_CEIL_DROP 1    /* copies over it, dropped (packets, bytes);
				 * drops: of those, the ones the packet bucket
				 * refused (the bit bucket may too) */
#define DP_TSTAT_DECAP_SOURCE 2 /* decap: outer source not a VTEP of the VNI */
/* 3: reserved (pinned counters of an older program may be there) */
#define DP_TSTAT_MAX 8          /* room for more without changing the map */

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
	dp_u32 prof;      /* profile slot (0 = none) */
	dp_u16 opt_len;   /* octets in opts (0 = no profile) */
	dp_u8 pad[2];
	char session[128]; /* session id, NUL-terminated */
	dp_u8 opts[184];  /* the options area (evpn_mon_options_encode) */
};

#endif /* EVPNMON_SHARED_H */
