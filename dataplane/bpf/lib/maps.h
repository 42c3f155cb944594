/* SPDX-License-Identifier: GPL-2.0 */
/* Every map of the evpn-monitor TC programs, in one place: the layouts are
 * shared with userspace (evpnmon_shared.h), and the pinned names are the
 * contract with the C++ facade (dataplane/src/linux/entry_store.*), which
 * adopts them across restarts. Changing a map's definition makes old pins
 * incompatible; BpfObject then replaces them.
 */
#ifndef EVPNMON_LIB_MAPS_H
#define EVPNMON_LIB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "evpnmon_shared.h"
#include "evpnmon_kinds.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dp_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_PORTS);
	__type(key, __u32); /* ifindex of a host-facing port */
	__type(value, __u32); /* VNI of its bridge */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_port_vni SEC(".maps");

/* The words in front of dp_port_vni, dp_vni_kinds and dp_srv_port
 * (evpnmon_kinds.h):
 * mmapped by userspace, which writes each with one store. Two 32-bit
 * words per element: an mmapped array's elements are 8 octets apart
 * whatever their size, so the mapping is the words back to back. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DP_PORT_WORDS / 2);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_port_word SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DP_VNI_WORDS / 2);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_vni_word SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DP_PORT_WORDS / 2);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_srv_word SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_ENTRIES);
	__type(key, struct dp_match_key);
	__type(value, struct dp_match_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_match SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_ENTRIES);
	__type(key, struct dp_decap_key);
	__type(value, struct dp_decap_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_decap SEC(".maps");

/* Which dp_match keys may have an element (evpnmon_shared.h,
 * dp_match_bit): ONE element, an array of 64-bit words, word i holding
 * bits 64 i .. 64 i + 63, so that a packet looks the element up once and
 * reads each of its keys' words by index (the verifier bounds the index by
 * dp_match_bits_mask, a constant of the loaded program). Mmapped by the
 * entry store, which sets a key's bit before its element is written and
 * clears it after the last key of that bit is deleted. Sized by userspace
 * (DP_MATCH_BITS_PER_ENTRY bits per entry, a power of two). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, DP_MAX_ENTRIES * DP_MATCH_BITS_PER_ENTRY / 8);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_match_bits SEC(".maps");

/* The number of bits of dp_match_bits - 1, set by userspace before the
 * load with the map's size. */
const volatile __u32 dp_match_bits_mask =
	DP_MAX_ENTRIES * DP_MATCH_BITS_PER_ENTRY - 1;

/* Server slots (evpnmon_shared.h): slot -> its target. Sized by
 * userspace like the entry maps (one slot per server at most per entry). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct dp_server_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_server SEC(".maps");

/* Userspace only: full description of each entry, keyed by stat_idx. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct dp_entry_meta);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DP_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct dp_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DP_GSTAT_MAX);
	__type(key, __u32);
	__type(value, struct dp_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_gstats SEC(".maps");

/* (VNI, MAC) -> host-facing port it was learned on (userspace, from the
 * bridge FDB). Read by evpnmon_egress to recognise frames to the server. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_LOCAL_MACS);
	__type(key, struct dp_mac_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_local_mac SEC(".maps");

/* Ports that copies are sent to (the LocalPort action of an installed entry
 * 1/2/3): ifindex -> DP_KIND_F_* (evpnmon_kinds.h) of the entries 1/2 with
 * that action, | DP_KIND_F_DECAP_PORT for entry 3. evpnmon_egress reads
 * it through dp_srv_word, returns at once on other ports, and looks up
 * only the kinds the port has. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_srv_port SEC(".maps");

/* VNI -> DP_KIND_F_* (evpnmon_kinds.h): which kinds of entries 1/2 exist
 * in the VNI, so evpnmon_mirror makes only the dp_match lookups that can
 * hit, and none in a VNI without entries 1/2 (the element is absent). The
 * entry store sets a bit before the first element of its kind is visible
 * in dp_match and clears it after the last one is gone. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_VNI_KINDS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_vni_kinds SEC(".maps");

/* Compiled session profiles (evpnmon_shared.h); slot 0 = none, never
 * written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DP_MAX_PROFILES);
	__type(key, __u32);
	__type(value, struct dp_profile);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_profile SEC(".maps");

/* The policer's token bucket of each profile slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DP_MAX_PROFILES);
	__type(key, __u32);
	__type(value, struct dp_policer);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_policer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DP_MAX_PROFILES);
	__type(key, __u32);
	__type(value, struct dp_profile_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_profile_stats SEC(".maps");

/* ERSPAN destination slots (evpnmon_shared.h): parameters, the GRE
 * sequence counter (atomic increments), per-CPU counters. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DP_MAX_ERSPAN);
	__type(key, __u32);
	__type(value, struct dp_erspan);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_erspan SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DP_MAX_ERSPAN);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_erspan_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DP_MAX_ERSPAN);
	__type(key, __u32);
	__type(value, struct dp_erspan_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_erspan_stats SEC(".maps");

/* (VNI, VTEP) pairs entry 3 accepts copies from (evpnmon_shared.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_DECAP_SOURCES);
	__type(key, struct dp_decap_src_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_decap_src SEC(".maps");

/* The mirror ceiling's bucket and configuration (one element). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dp_ceiling);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_ceiling SEC(".maps");

/* The generation of the entries 1/2: dp_match and everything a matched
 * entry names (stat index, profile slot, action, a server's target).
 * Userspace raises it after every change of a dp_match element and of a
 * server's target (an atomic store to the
 * mmapped .bss); evpnmon_mirror reuses the previous packet's matches on
 * its CPU only while it is unchanged. 0 = not started: nothing reused. */
volatile __u64 dp_match_gen = 0;

/* Set by userspace before the load (Config::flow_cache); false: every
 * packet is looked up (the benchmark's per-packet lookup figures). */
const volatile __u8 dp_flow_cache = 1;

/* What this CPU's last refusal by the mirror ceiling says about its
 * buckets from then on (lib/ceiling.h). Per CPU, so that refusals under a
 * flood write nothing shared; not pinned: a hint holds for at most a fill
 * time. */
struct dp_ceiling_hint {
	__u64 t0; /* the refusal's clock; 0 = no hint */
	__u64 bits, bits_rate, bits_fill_ns;
	__u64 packets, packets_rate, packets_fill_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dp_ceiling_hint);
} dp_ceiling_hint SEC(".maps");

/* Counters of the ceiling and of the decapsulation source check
 * (DP_TSTAT_*). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DP_TSTAT_MAX);
	__type(key, __u32);
	__type(value, struct dp_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_tstats SEC(".maps");

/* L3/L4 fields of the packet, parsed once per packet and only when a
 * profile asks (lib/parse.h parse_l34). Offsets are from the frame start. */
struct dp_pkt {
	__u8 parsed;  /* parse_l34 ran */
	__u8 family;  /* 0 = not IP, 4, 6 */
	__u8 proto;   /* IP protocol (IPv6: the fixed header's next header) */
	__u8 has_ports;
	__u16 sport, dport; /* host order */
	__u16 l3, l4, l5;   /* 0 = absent (l3 is never 0 once parsed) */
	__u16 pad;
	__u8 src[16], dst[16]; /* IPv4 in the first 4 octets, rest zero */
};

/* Outcome of one (action, profile) pair (DP_SEL_*): its profile's
 * decision, then what became of its copy. */
#define DP_SEL_COPY 0
#define DP_SEL_FILTERED 1
#define DP_SEL_SAMPLED 2
#define DP_SEL_POLICED 3  /* its policer, or the mirror ceiling */
#define DP_SEL_FAILED 4   /* the copy was not sent (a drop) */
#define DP_SEL_OVERFLOW 5 /* beyond DP_MAX_COPIES (a drop) */
#define DP_SEL_NO_TARGET 6 /* its server has no target here (DP_ACT_NONE): no
			      copy, not a drop */
#define DP_SEL_PENDING 0xff

#define DP_MAX_MATCHED (4 * DP_MAX_ACTIONS)

/* The copies one packet asks for, and which matched entry each one serves
 * (for its counters, written once when the copies are sent). Matched
 * entries are grouped into (action, profile) pairs, each evaluated once
 * per packet.
 * Arrays of structs, counts first, then the pairs: the common packet (one
 * pair without a profile, sent by emit_pair) writes two cache lines of
 * it, not one per field. */
struct dp_copy {
	struct dp_action action;
	__u32 trunc; /* 0 = whole frame */
	/* 1 << DP_KIND_* of the entries whose pairs selected the copy (the
	 * ERSPAN III D bit) */
	__u8 kinds;
	__u8 sel; /* after emit_copies: DP_SEL_COPY, _POLICED or _FAILED */
	__u8 pad[2];
};

struct dp_matched {
	__u32 stat; /* the entry's stat index */
	__u8 pair;  /* its (action, profile) pair */
	__u8 pad[3];
};

struct dp_pair {
	struct dp_action action;
	__u32 prof;
	__u8 kinds; /* 1 << DP_KIND_* of its matched entries */
	__u8 sel;   /* DP_SEL_*: its outcome, once the copies are sent */
	__s8 copy;  /* its copy; -1 over the limit, -2 not selected */
	__u8 pad;
};

/* What the matched entries of a packet depend on: dp_match's generation
 * (dp_match_gen), the port's VNI and its kinds, the MACs and, when the
 * kinds have an IP bit, the IP addresses (zero-padded, as parse_ip_addrs
 * reads them). Packets with equal keys match the same entries. */
struct dp_flow_key {
	__u64 gen;
	__u32 vni;
	__u32 kinds;
	__u8 macs[12]; /* destination, source: the Ethernet header's start */
	__u32 alen;
	__u8 addrs[32];
};

/* A server slot resolved for this packet (match.h, resolve_server). */
struct dp_resolved {
	__u32 slot;
	struct dp_action target;
};

struct copy_state {
	__u32 ncopies;
	__u32 nmatched;
	__u32 npairs;
	__u32 len; /* frame length */
	__u32 nres; /* server slots resolved for this packet */
	__u32 pad;
	/* The previous packet's key on this CPU (none while flow.gen is 0):
	 * npairs, nmatched, the pairs' actions, profiles and kinds and the
	 * matched entries are still those it matched. */
	struct dp_flow_key flow;
	__u64 fence; /* an atomic on this CPU's line orders the loads (match.h) */
	struct dp_pair pairs[DP_MAX_MATCHED]; /* distinct, in lookup order */
	struct dp_matched matched[DP_MAX_MATCHED];
	struct dp_copy copies[DP_MAX_COPIES];
	struct dp_pkt pkt; /* only for profiles: parsed on demand */
	/* Each server slot the packet's entries name, read once: entries
	 * naming one server see one target even while it moves. */
	struct dp_resolved res[DP_MAX_MATCHED];
};

/* Per-packet scratch (too large for the 512-byte BPF stack). TC programs
 * run with migration disabled and copies are queued, never processed
 * synchronously by this program, so one slot per CPU is enough. Not
 * pinned: between packets it holds only the previous packet's matches
 * (copy_state.flow), valid for one generation of dp_match. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct copy_state);
} dp_scratch SEC(".maps");

#endif /* EVPNMON_LIB_MAPS_H */
