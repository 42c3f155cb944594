/* SPDX-License-Identifier: GPL-2.0-or-later
 *
 * evpn-monitor: the options of a monitoring session (its mirror profile):
 * direction, filter lines with user-defined fields, sampler, truncation and
 * policer. The ONE definition of what an option is and which values are
 * valid, shared by vtysh (bgpd module), the NLRI codec, the feed, the
 * fpm-consumer and the dataplane. Pure C, no FRR headers.
 *
 * Wire form: versioned TLVs after the originator IP of a monitor route
 * (docs/wire-format.md, "Options"); the feed carries the same octets
 * (docs/feed-protocol.md).
 */
#ifndef EVPN_MON_OPTIONS_H
#define EVPN_MON_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits. */
#define EVPN_MON_OPT_VERSION 1          /* first octet of the options area */
#define EVPN_MON_PROFILE_NAME_MAX 16    /* octets, without the NUL */
#define EVPN_MON_MAX_FILTERS 4          /* filter lines per profile */
#define EVPN_MON_MAX_UDFS 8             /* user-defined fields per line */
#define EVPN_MON_UDF_OFFSET_MAX 126
#define EVPN_MON_SAMPLE_MAX 8388608u    /* 1-in-N, N = 1..2^23 */
#define EVPN_MON_TRUNCATE_MIN 64
#define EVPN_MON_TRUNCATE_MAX 9216
#define EVPN_MON_POLICE_PPS_MAX 100000000ull        /* 100 Mpps */
#define EVPN_MON_POLICE_BPS_MIN 8000ull             /* 1 kB/s */
#define EVPN_MON_POLICE_BPS_MAX 400000000000ull     /* 400 Gb/s */
#define EVPN_MON_POLICE_BURST_MAX 100000000u        /* packets or octets */

/* The largest options area that fits: an EVPN NLRI length is one octet
 * (255) and the largest key part of a monitor route is 73 octets. */
#define EVPN_MON_OPTIONS_MAX_LEN (255 - 73)

enum evpn_mon_direction {
	EVPN_MON_DIR_BOTH = 0,
	EVPN_MON_DIR_RX = 1, /* packets to the monitored host (entry 2) */
	EVPN_MON_DIR_TX = 2, /* packets from the monitored host (entry 1) */
};

/* Where a user-defined field's offset counts from. */
enum evpn_mon_udf_base {
	EVPN_MON_UDF_L3 = 0, /* the L3 header (after Ethernet and one VLAN) */
	EVPN_MON_UDF_L4 = 1, /* the L4 header (IPv4 options / IPv6 header skipped) */
	EVPN_MON_UDF_L5 = 2, /* the L4 payload: after UDP's 8 octets, or after
			      * the TCP header including options */
};

/* Matches when (be16 at base+offset) & mask == value & mask. */
struct evpn_mon_udf {
	uint8_t base;   /* enum evpn_mon_udf_base */
	uint8_t offset; /* 0..EVPN_MON_UDF_OFFSET_MAX */
	uint16_t value;
	uint16_t mask;
};

struct evpn_mon_prefix {
	uint8_t len;  /* prefix length in bits; 0 = any */
	uint8_t addr[16]; /* network order; bits past len are zero */
};

/* Presets a filter line may be built from (configuration only: the route
 * carries the expanded line). */
enum evpn_mon_preset {
	EVPN_MON_PRESET_NONE = 0,
	EVPN_MON_PRESET_ROCEV2_CNP = 1, /* UDP dport 4791, BTH opcode 0x81 */
	EVPN_MON_PRESET_ROCEV2_NAK = 2, /* UDP dport 4791, opcode 0x11 (RC ACK),
					 * AETH syndrome 0x60-0x7F (NAK) */
};

/* One filter line. Every field that is set must match (AND). A line with
 * no field set matches every frame, non-IP included; a line with an IP
 * field (protocol, prefix, port) or an l4/l5 UDF matches only IP packets. */
struct evpn_mon_filter {
	uint8_t family;   /* 0 = any, 4 or 6: the family of src/dst prefixes */
	uint8_t proto;    /* IP protocol; 0 = any */
	struct evpn_mon_prefix src, dst;
	uint16_t sport_lo, sport_hi; /* 0..0 or 0..65535 = any (canonical:
				      * 0..0); else needs proto 6/17/132 */
	uint16_t dport_lo, dport_hi;
	uint8_t nudf;
	struct evpn_mon_udf udf[EVPN_MON_MAX_UDFS];
};

/* Where an ERSPAN collector session's copies go and how they are
 * encapsulated (the ERSPAN TLV). Carried by every collector session (see
 * evpn_mon_codec.h, EVPN_MON_DEST_COLLECTOR) and by no server session. */
#define EVPN_MON_ERSPAN_SPAN_ID_MAX 1023 /* 10-bit ERSPAN Session ID */
#define EVPN_MON_ERSPAN_DSCP_MAX 63
#define EVPN_MON_ERSPAN_TTL_DEFAULT 64
#define EVPN_MON_GRE_PROTO_ERSPAN2 0x88BE /* type II */
#define EVPN_MON_GRE_PROTO_ERSPAN3 0x22EB /* type III */
struct evpn_mon_erspan {
	uint8_t version;    /* 0 = not a collector session; else 2 or 3 */
	uint8_t dscp;       /* 0..63, outer IPv4 DSCP */
	uint8_t ttl;        /* 1..255, outer IPv4 TTL */
	uint8_t pad;
	uint16_t span_id;   /* 0..1023 */
	uint16_t gre_proto; /* GRE protocol; 0 = the version's own (canonical
			     * form of 0x88BE for II, 0x22EB for III) */
};

enum evpn_mon_police_unit {
	EVPN_MON_POLICE_NONE = 0,
	EVPN_MON_POLICE_PPS = 1, /* rate in packets/s, burst in packets */
	EVPN_MON_POLICE_BPS = 2, /* rate in bits/s, burst in octets */
};

/* A session's options. All-zero (present == 0) = no profile: every packet
 * of the host, both directions, whole, unpoliced (the behaviour of a
 * session without a profile). Always build from a zeroed struct: the
 * canonical encoding and comparisons rely on unused fields being zero. */
struct evpn_mon_options {
	uint8_t present;   /* 1 when the session has a profile */
	uint8_t direction; /* enum evpn_mon_direction */
	uint8_t nfilters;  /* 0 = all traffic */
	uint8_t police_unit; /* enum evpn_mon_police_unit */
	uint16_t truncate; /* 0 = whole frame, else 64..9216 */
	uint16_t pad;
	uint32_t sample;   /* 1-in-N; 0 or 1 = every packet */
	uint32_t police_burst;
	uint64_t police_rate;
	char name[EVPN_MON_PROFILE_NAME_MAX + 1]; /* informational */
	struct evpn_mon_filter filters[EVPN_MON_MAX_FILTERS];
	/* The collector's encapsulation: not part of the profile, but carried
	 * in the same options area so that it reaches every VTEP with the
	 * route. erspan.version != 0 makes the area present even without a
	 * profile (and a decoded area always has present = 1). */
	struct evpn_mon_erspan erspan;
};

/* TLV types of the options area (docs/wire-format.md). Bit 0x80 set =
 * optional: a receiver that does not know it ignores it; clear =
 * mandatory: a receiver that does not know it treats the route as
 * withdrawn (RFC 7606 style: the session stays up). */
#define EVPN_MON_TLV_OPTIONAL 0x80
enum evpn_mon_tlv_type {
	EVPN_MON_TLV_DIRECTION = 1, /* 1 octet */
	EVPN_MON_TLV_FILTER = 2,    /* one filter line, see wire-format.md */
	EVPN_MON_TLV_SAMPLE = 3,    /* 4 octets: N */
	EVPN_MON_TLV_TRUNCATE = 4,  /* 2 octets */
	EVPN_MON_TLV_POLICE = 5,    /* unit 1, rate 8, burst 4 */
	EVPN_MON_TLV_ERSPAN = 6,    /* version 1, flags 1, span id 2, dscp 1,
				     * ttl 1, gre protocol 2: 8 octets */
	EVPN_MON_TLV_NAME = 0x81,   /* profile name, 1..16 octets, optional */
};

enum evpn_mon_opt_error {
	EVPN_MON_OPT_OK = 0,
	EVPN_MON_OPT_DIRECTION,     /* direction not rx, tx or both */
	EVPN_MON_OPT_TOO_MANY_FILTERS,
	EVPN_MON_OPT_FAMILY,        /* family not 0/4/6, or prefix of another */
	EVPN_MON_OPT_PREFIX,        /* prefix length too long / host bits set */
	EVPN_MON_OPT_PORTS,         /* range reversed, or ports without TCP/UDP/SCTP */
	EVPN_MON_OPT_TOO_MANY_UDFS,
	EVPN_MON_OPT_UDF,           /* base unknown or offset above 126 */
	EVPN_MON_OPT_SAMPLE,        /* N above 8388608 */
	EVPN_MON_OPT_TRUNCATE,      /* not 0 and not 64..9216 */
	EVPN_MON_OPT_POLICE,        /* unit unknown, rate or burst out of range */
	EVPN_MON_OPT_NAME,          /* too long or not printable (empty = no name) */
	EVPN_MON_OPT_TOO_LARGE,     /* encoded above EVPN_MON_OPTIONS_MAX_LEN */
	EVPN_MON_OPT_ERSPAN,        /* version not 0/2/3, span id, dscp or ttl
				     * out of range */
	/* decoder only */
	EVPN_MON_OPT_VERSION_UNKNOWN, /* first octet not EVPN_MON_OPT_VERSION */
	EVPN_MON_OPT_TLV_TRUNCATED,   /* a TLV runs past the area */
	EVPN_MON_OPT_TLV_LENGTH,      /* a known TLV with a wrong length */
	EVPN_MON_OPT_TLV_DUPLICATE,   /* a single-valued TLV given twice */
	EVPN_MON_OPT_TLV_UNKNOWN_MANDATORY,
	EVPN_MON_OPT__MAX,
};

const char *evpn_mon_opt_strerror(enum evpn_mon_opt_error err);
/* Stable camelCase name ("udfOutOfRange", ...) for counters and JSON. */
const char *evpn_mon_opt_errname(enum evpn_mon_opt_error err);

/* Every value in range, and the encoding fits a route. */
enum evpn_mon_opt_error evpn_mon_options_validate(const struct evpn_mon_options *o);

/* Zero every field a valid value does not use (unused filters and UDFs,
 * address bits past a prefix length, the name's tail, every ERSPAN field
 * when erspan.version is 0), so that equal options compare equal with
 * memcmp. Also: a GRE protocol equal to the version's own becomes 0, and
 * erspan.version != 0 sets present (the area is there; decoded, it is an
 * empty profile). Call before comparing or encoding. */
void evpn_mon_options_canonicalize(struct evpn_mon_options *o);

/* Options area (version octet + TLVs). Returns the octets written; 0 when
 * o has neither a profile nor ERSPAN parameters (no area at all) or does
 * not validate or does not fit. */
size_t evpn_mon_options_encode(const struct evpn_mon_options *o, uint8_t *buf,
			       size_t size);
/* The size evpn_mon_options_encode() would write (0 without an area). */
size_t evpn_mon_options_encoded_len(const struct evpn_mon_options *o);

/* Decode an options area of len octets (len 0 = no profile). Unknown
 * optional TLVs are skipped. On error *out is zeroed. */
enum evpn_mon_opt_error evpn_mon_options_decode(const uint8_t *buf, size_t len,
						struct evpn_mon_options *out);

/* Equal after canonicalization. */
bool evpn_mon_options_equal(const struct evpn_mon_options *a,
			    const struct evpn_mon_options *b);

/* Whether a line restricts the source / destination port. A range of
 * 0..0 (a zeroed line) or 0..65535 means any port; any other range
 * lo..hi matches lo <= port <= hi. */
bool evpn_mon_filter_has_sport(const struct evpn_mon_filter *f);
bool evpn_mon_filter_has_dport(const struct evpn_mon_filter *f);

/* Fill a filter line from a preset (replaces *f). */
void evpn_mon_filter_preset(enum evpn_mon_preset preset,
			    struct evpn_mon_filter *f);
/* The preset a line equals, or EVPN_MON_PRESET_NONE (for running-config). */
enum evpn_mon_preset evpn_mon_filter_which_preset(const struct evpn_mon_filter *f);

/* Text parsers shared by every component that reads addresses from text
 * (CLI tools, tests, YANG config): one set of accepted inputs.
 * MAC: six hex pairs separated by ':' or '-', or three dotted quads
 * "xxxx.xxxx.xxxx". Returns false on anything else. */
bool evpn_mon_parse_mac(const char *text, uint8_t mac[6]);

#ifdef __cplusplus
}
#endif

#endif /* EVPN_MON_OPTIONS_H */
