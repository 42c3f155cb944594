/* SPDX-License-Identifier: GPL-2.0-or-later
 *
 * evpn-monitor: codec for the EVPN monitor-config route (route type 254).
 * Pure C, no FRR headers: shared by the bgpd module, the unit tests and the
 * fuzzer. The wire format is specified in docs/wire-format.md.
 */
#ifndef EVPN_MON_CODEC_H
#define EVPN_MON_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evpn_mon_options.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one constant for the route type (see docs/wire-format.md, "Why 254"). */
#define EVPN_MON_ROUTE_TYPE 254

/* Private/experimental BGP capability announcing support for EVPN extension
 * route types (RFC 8810 experimental range 239-254). Value: list of route
 * type octets the speaker understands.
 */
#define EVPN_MON_CAPABILITY_CODE 239

#define EVPN_MON_HOST_ID_MIN 1
#define EVPN_MON_HOST_ID_MAX 65535 /* VXLAN-GBP Group Policy ID is 16 bits */

/* What a session sends its copies to: the first octet of the 4-octet HOST
 * ID field on the wire (docs/wire-format.md, "Destination"). A receiver
 * that predates collectors reads a collector route as a HOST ID above
 * 65535: a semantic error, so it treats the route as withdrawn. */
enum evpn_mon_dest {
	EVPN_MON_DEST_SERVER = 0,    /* HOST ID 1..65535; server MAC (+IP) */
	EVPN_MON_DEST_COLLECTOR = 1, /* collector ID 1..65535; server MAC
				      * field zero, server IP field = the
				      * collector IP; ERSPAN TLV required */
};

/* Fixed part: RD 8, Ethernet Tag 4, VNI 3, Flags 1, HOST ID 4 = 20 octets,
 * then five length-prefixed fields: host MAC (0|48 bits), host IP
 * (0|32|128), server MAC (48), server IP (0|32|128), originating router IP
 * (32), then the options area (evpn_mon_options.h), absent when the session
 * has no profile. */
#define EVPN_MON_NLRI_FIXED_LEN 20
#define EVPN_MON_NLRI_MIN_LEN 35
#define EVPN_MON_NLRI_KEYS_MAX_LEN 73 /* everything before the options */
#define EVPN_MON_NLRI_MAX_LEN 255     /* the EVPN NLRI length octet */

struct evpn_mon_ip {
	uint8_t len; /* octets: 0, 4 or 16 */
	uint8_t addr[16];
};

/* A decoded monitor-config NLRI. */
struct evpn_mon_route {
	uint8_t rd[8];
	uint32_t eth_tag;
	uint32_t vni; /* 24 bits */
	uint8_t flags; /* reserved: sent as 0, ignored on receipt */
	uint8_t dest; /* enum evpn_mon_dest */
	uint32_t host_id; /* 1..65535: the server's HOST ID, or the collector
			   * ID when dest is EVPN_MON_DEST_COLLECTOR. A
			   * decoded route holds the 24 bits after the kind
			   * octet, so a malformed field keeps its own key */
	uint8_t host_mac_len; /* octets: 0 or 6 */
	uint8_t host_mac[6];
	struct evpn_mon_ip host_ip;
	uint8_t server_mac[6];  /* collector: all zero */
	struct evpn_mon_ip server_ip; /* collector: the collector's IP */
	uint8_t orig_ip[4];
	struct evpn_mon_options opts; /* present == 0: no profile; the
				       * collector's ERSPAN parameters are
				       * opts.erspan */
};

/* The route key inside bgpd (fits the 36 octets FRR's core patch reserves in
 * struct evpn_addr for extension types; the RD and Ethernet Tag are kept by
 * FRR itself). Byte-compared: always build it with evpn_mon_route_key(). */
struct evpn_mon_key {
	uint32_t vni;
	uint32_t host_id; /* (dest << 24) | id: the HOST ID field as on the wire */
	uint8_t host_mac[6];
	uint8_t host_mac_len;
	uint8_t host_ip_len;
	uint8_t host_ip[16];
	uint8_t orig_ip[4];
};

/* Non-key part, carried in BGP's per-path attribute as an opaque,
 * variable-length, interned payload (core patch: bgp_evpn_ext_payload):
 * server MAC (6), server IP length in octets (1), server IP (0/4/16), then
 * the options area exactly as on the wire. */
#define EVPN_MON_PAYLOAD_MAX_LEN (6 + 1 + 16 + EVPN_MON_OPTIONS_MAX_LEN)

enum evpn_mon_error {
	EVPN_MON_OK = 0,
	/* structural: the route key cannot be trusted -> ignore */
	EVPN_MON_ERR_SHORT,          /* shorter than the smallest valid NLRI */
	EVPN_MON_ERR_LONG,           /* longer than the largest valid NLRI */
	EVPN_MON_ERR_HOST_MAC_LEN,   /* host MAC length not 0 or 48 */
	EVPN_MON_ERR_HOST_IP_LEN,    /* host IP length not 0, 32 or 128 */
	EVPN_MON_ERR_SERVER_MAC_LEN, /* server MAC length not 48 */
	EVPN_MON_ERR_SERVER_IP_LEN,  /* server IP length not 0, 32 or 128 */
	EVPN_MON_ERR_ORIG_IP_LEN,    /* originator IP length not 32 */
	EVPN_MON_ERR_TRUNCATED,      /* a field runs past the NLRI length */
	EVPN_MON_ERR_TRAILING,       /* no longer produced: the octets after the
				      * originator IP are the options area */
	/* semantic: the key is readable -> treat-as-withdraw */
	EVPN_MON_ERR_HOST_ID,        /* HOST ID 0 or above 65535 */
	EVPN_MON_ERR_NO_HOST,        /* neither host MAC nor host IP */
	EVPN_MON_ERR_HOST_MAC,       /* host MAC multicast/broadcast or zero */
	EVPN_MON_ERR_SERVER_MAC,     /* server MAC multicast/broadcast or zero */
	EVPN_MON_ERR_VNI,            /* VNI 0 */
	/* the options area (key readable -> treat-as-withdraw) */
	EVPN_MON_ERR_OPT_VERSION,    /* options version unknown */
	EVPN_MON_ERR_OPT_TRUNCATED,  /* a TLV runs past the NLRI */
	EVPN_MON_ERR_OPT_LENGTH,     /* a known TLV with a wrong length */
	EVPN_MON_ERR_OPT_DUPLICATE,  /* a single-valued TLV twice */
	EVPN_MON_ERR_OPT_UNKNOWN,    /* an unknown mandatory TLV */
	EVPN_MON_ERR_OPT_VALUE,      /* an option out of range */
	EVPN_MON_ERR_DEST,           /* destination kind unknown, or fields that do
				      * not fit it: a collector route with a
				      * server MAC, without an IP or without the
				      * ERSPAN TLV; a server route with it */
	EVPN_MON_ERR__MAX,
};

/* Decode one NLRI body (after the route type and length octets).
 * On EVPN_MON_OK, *out is complete. On a semantic error, *out holds the
 * decoded route and evpn_mon_error_key_valid() is true: the receiver treats
 * the route as withdrawn. On a structural error the key is unknown.
 * Server MAC/IP checks are skipped when `withdraw` is set (a withdrawal
 * needs only the key). */
enum evpn_mon_error evpn_mon_decode(const uint8_t *buf, size_t len,
				    bool withdraw, struct evpn_mon_route *out);

static inline bool evpn_mon_error_key_valid(enum evpn_mon_error err)
{
	return err == EVPN_MON_OK || err >= EVPN_MON_ERR_HOST_ID;
}

/* Human-readable text of a reason (logs); "unknown error" out of range. */
const char *evpn_mon_strerror(enum evpn_mon_error err);
/* Stable camelCase name of a reason ("tooShort", "vniZero", ...): the key
 * of counters.rxMalformedByReason in "show bgp l2vpn evpn monitor json".
 * "unknown" out of range. Names are never reused or changed. */
const char *evpn_mon_errname(enum evpn_mon_error err);

/* Encode; returns the body length written, or 0 if the route is invalid or
 * `size` too small. Never writes more than EVPN_MON_NLRI_MAX_LEN octets. */
size_t evpn_mon_encode(const struct evpn_mon_route *r, uint8_t *buf,
		       size_t size);

/* Validate a route before origination (same rules as the decoder, on
 * r->opts as given): for a collector, server_mac all zero, server_ip set
 * and opts.erspan.version != 0; for a server, opts.erspan.version == 0. */
enum evpn_mon_error evpn_mon_validate(const struct evpn_mon_route *r,
				      bool withdraw);

void evpn_mon_route_key(const struct evpn_mon_route *r,
			struct evpn_mon_key *key);
/* The non-key payload of r; returns its length (0 if it does not fit). */
size_t evpn_mon_route_payload(const struct evpn_mon_route *r, uint8_t *buf,
			      size_t size);
/* Rebuild a route from key + payload (+ RD and Ethernet Tag kept by FRR).
 * pl may be NULL (key only). Returns false when the payload is malformed
 * (the server and option fields are then left zero). */
bool evpn_mon_route_from_key(struct evpn_mon_route *r, const uint8_t rd[8],
			     uint32_t eth_tag, const struct evpn_mon_key *key,
			     const uint8_t *pl, size_t pl_len);

/* The session's stable identity, from its key fields only (not the RD,
 * which follows the originator's VNI configuration):
 * "ORIGINATOR/VNI/HOST-ID/HOST-MAC/HOST-IP", "-" for an absent MAC or IP,
 * e.g. "10.0.0.101/100/21/02:00:00:00:02:10/-". Used by the feed, the
 * consumer, the dataplane counters and logs. A collector session's HOST-ID
 * part is "c" and the collector ID: "10.0.0.103/100/c7/-/192.168.100.210"
 * (a malformed route of another kind shows the whole HOST ID field as a
 * number, as a receiver that predates collectors would).
 * Returns the length written
 * (EVPN_MON_SESSION_ID_MAX - 1 at most). */
#define EVPN_MON_SESSION_ID_MAX 96
size_t evpn_mon_session_id(const struct evpn_mon_route *r, char *buf,
			   size_t size);

/* MAC helpers */
bool evpn_mon_mac_is_unicast(const uint8_t mac[6]);

#ifdef __cplusplus
}
#endif

#endif /* EVPN_MON_CODEC_H */
