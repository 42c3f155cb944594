/* SPDX-License-Identifier: GPL-2.0-or-later
 *
 * evpn-monitor: codec for the EVPN monitor-config route (route type 254).
 * See docs/wire-format.md.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* inet_ntop() */
#endif

#include "evpn_mon_codec.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(struct evpn_mon_key) == 36,
	       "evpn_mon_key must fit FRR's 36-octet extension key slot");
_Static_assert(EVPN_MON_NLRI_KEYS_MAX_LEN + EVPN_MON_OPTIONS_MAX_LEN
		       == EVPN_MON_NLRI_MAX_LEN,
	       "the largest options area must fit the largest key part");

/* One table for every reason: a stable short name (the key of
 * rxMalformedByReason in "show bgp l2vpn evpn monitor json"; never change a
 * published name) and the text logged for it. */
static const struct {
	const char *name;
	const char *text;
} errtab[EVPN_MON_ERR__MAX] = {
	[EVPN_MON_OK] = {"ok", "ok"},
	[EVPN_MON_ERR_SHORT] = {"tooShort", "NLRI shorter than the minimum"},
	[EVPN_MON_ERR_LONG] = {"tooLong", "NLRI longer than the maximum"},
	[EVPN_MON_ERR_HOST_MAC_LEN] = {"hostMacLength",
				       "host MAC length not 0 or 48"},
	[EVPN_MON_ERR_HOST_IP_LEN] = {"hostIpLength",
				      "host IP length not 0, 32 or 128"},
	[EVPN_MON_ERR_SERVER_MAC_LEN] = {"serverMacLength",
					 "server MAC length not 48"},
	[EVPN_MON_ERR_SERVER_IP_LEN] = {"serverIpLength",
					"server IP length not 0, 32 or 128"},
	[EVPN_MON_ERR_ORIG_IP_LEN] = {"originatorIpLength",
				      "originating router IP length not 32"},
	[EVPN_MON_ERR_TRUNCATED] = {"truncated",
				    "field runs past the NLRI length"},
	[EVPN_MON_ERR_TRAILING] = {"trailingOctets",
				   "octets after the last field"},
	[EVPN_MON_ERR_HOST_ID] = {"hostIdOutOfRange",
				  "HOST ID 0 or above 65535"},
	[EVPN_MON_ERR_NO_HOST] = {"noHost", "neither host MAC nor host IP"},
	[EVPN_MON_ERR_HOST_MAC] = {"hostMacNotUnicast", "host MAC not unicast"},
	[EVPN_MON_ERR_SERVER_MAC] = {"serverMacNotUnicast",
				     "server MAC not unicast"},
	[EVPN_MON_ERR_VNI] = {"vniZero", "VNI 0"},
	[EVPN_MON_ERR_OPT_VERSION] = {"optionsVersion",
				      "options area version unknown"},
	[EVPN_MON_ERR_OPT_TRUNCATED] = {"optionsTruncated",
					"option TLV runs past the NLRI"},
	[EVPN_MON_ERR_OPT_LENGTH] = {"optionsLength",
				     "option TLV with a wrong length"},
	[EVPN_MON_ERR_OPT_DUPLICATE] = {"optionsDuplicate",
					"single-valued option TLV given twice"},
	[EVPN_MON_ERR_OPT_UNKNOWN] = {"optionsUnknownMandatory",
				      "unknown mandatory option TLV"},
	[EVPN_MON_ERR_OPT_VALUE] = {"optionsValue", "option out of range"},
	[EVPN_MON_ERR_DEST] = {"destination",
			       "destination kind unknown, or fields that do not fit it"},
};

static enum evpn_mon_error opt_error(enum evpn_mon_opt_error err)
{
	switch (err) {
	case EVPN_MON_OPT_OK:
		return EVPN_MON_OK;
	case EVPN_MON_OPT_VERSION_UNKNOWN:
		return EVPN_MON_ERR_OPT_VERSION;
	case EVPN_MON_OPT_TLV_TRUNCATED:
		return EVPN_MON_ERR_OPT_TRUNCATED;
	case EVPN_MON_OPT_TLV_LENGTH:
		return EVPN_MON_ERR_OPT_LENGTH;
	case EVPN_MON_OPT_TLV_DUPLICATE:
		return EVPN_MON_ERR_OPT_DUPLICATE;
	case EVPN_MON_OPT_TLV_UNKNOWN_MANDATORY:
		return EVPN_MON_ERR_OPT_UNKNOWN;
	default:
		return EVPN_MON_ERR_OPT_VALUE;
	}
}

const char *evpn_mon_strerror(enum evpn_mon_error err)
{
	if ((unsigned int)err >= EVPN_MON_ERR__MAX || !errtab[err].text)
		return "unknown error";
	return errtab[err].text;
}

const char *evpn_mon_errname(enum evpn_mon_error err)
{
	if ((unsigned int)err >= EVPN_MON_ERR__MAX || !errtab[err].name)
		return "unknown";
	return errtab[err].name;
}

bool evpn_mon_mac_is_unicast(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return !(mac[0] & 0x01) && memcmp(mac, zero, 6) != 0;
}

/* Bounds-checked reader. */
struct rd {
	const uint8_t *p;
	size_t left;
};

static bool take(struct rd *r, void *dst, size_t n)
{
	if (r->left < n)
		return false;
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return true;
}

static uint32_t get_be(const uint8_t *p, size_t n)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static void put_be(uint8_t *p, uint32_t v, size_t n)
{
	for (size_t i = n; i-- > 0; v >>= 8)
		p[i] = v & 0xff;
}

/* Length octet in bits -> octets; returns false for a value not allowed. */
static bool ip_bits_ok(uint8_t bits, bool allow_zero, uint8_t *octets)
{
	switch (bits) {
	case 0:
		*octets = 0;
		return allow_zero;
	case 32:
		*octets = 4;
		return true;
	case 128:
		*octets = 16;
		return true;
	default:
		return false;
	}
}

/* The HOST ID field as on the wire: kind octet, then 24 bits (valid: 0 and
 * the 16-bit id). A decoded route keeps all 24 bits in host_id, so that
 * the key of a malformed route is never that of a valid one. */
static uint32_t host_id_field(const struct evpn_mon_route *r)
{
	return ((uint32_t)r->dest << 24) | r->host_id;
}

/* Checks on the key: they hold for withdrawals too. */
static enum evpn_mon_error check_key(const struct evpn_mon_route *r)
{
	if (r->host_mac_len != 0 && r->host_mac_len != 6)
		return EVPN_MON_ERR_HOST_MAC_LEN;
	if (r->host_ip.len != 0 && r->host_ip.len != 4 && r->host_ip.len != 16)
		return EVPN_MON_ERR_HOST_IP_LEN;
	if (r->server_ip.len != 0 && r->server_ip.len != 4
	    && r->server_ip.len != 16)
		return EVPN_MON_ERR_SERVER_IP_LEN;
	if (r->dest != EVPN_MON_DEST_SERVER && r->dest != EVPN_MON_DEST_COLLECTOR)
		return EVPN_MON_ERR_DEST;
	if (r->host_id < EVPN_MON_HOST_ID_MIN
	    || r->host_id > EVPN_MON_HOST_ID_MAX)
		return EVPN_MON_ERR_HOST_ID;
	if (r->host_mac_len == 0 && r->host_ip.len == 0)
		return EVPN_MON_ERR_NO_HOST;
	if (r->host_mac_len && !evpn_mon_mac_is_unicast(r->host_mac))
		return EVPN_MON_ERR_HOST_MAC;
	if (r->vni == 0 || r->vni > 0xffffff)
		return EVPN_MON_ERR_VNI;
	return EVPN_MON_OK;
}

/* The server MAC and IP fields for the destination kind (not withdrawals). */
static enum evpn_mon_error check_server(const struct evpn_mon_route *r)
{
	static const uint8_t zero[6];

	if (r->dest == EVPN_MON_DEST_COLLECTOR) {
		if (memcmp(r->server_mac, zero, 6) != 0 || r->server_ip.len == 0)
			return EVPN_MON_ERR_DEST;
		return EVPN_MON_OK;
	}
	if (!evpn_mon_mac_is_unicast(r->server_mac))
		return EVPN_MON_ERR_SERVER_MAC;
	return EVPN_MON_OK;
}

/* A collector session carries the ERSPAN TLV, a server session never
 * (checked once the options are known to be valid). */
static enum evpn_mon_error check_erspan(const struct evpn_mon_route *r)
{
	bool collector = r->dest == EVPN_MON_DEST_COLLECTOR;

	if (collector != (r->opts.erspan.version != 0))
		return EVPN_MON_ERR_DEST;
	return EVPN_MON_OK;
}

enum evpn_mon_error evpn_mon_validate(const struct evpn_mon_route *r,
				      bool withdraw)
{
	enum evpn_mon_error err = check_key(r);

	if (err != EVPN_MON_OK || withdraw)
		return err;
	err = check_server(r);
	if (err != EVPN_MON_OK)
		return err;
	if (evpn_mon_options_validate(&r->opts) != EVPN_MON_OPT_OK)
		return EVPN_MON_ERR_OPT_VALUE;
	return check_erspan(r);
}

enum evpn_mon_error evpn_mon_decode(const uint8_t *buf, size_t len,
				    bool withdraw, struct evpn_mon_route *out)
{
	struct rd r = {.p = buf, .left = len};
	uint8_t fixed[EVPN_MON_NLRI_FIXED_LEN];
	uint8_t bits, octets;
	enum evpn_mon_error err;
	enum evpn_mon_opt_error oerr = EVPN_MON_OPT_OK;

	memset(out, 0, sizeof(*out));
	if (len < EVPN_MON_NLRI_MIN_LEN)
		return EVPN_MON_ERR_SHORT;
	if (len > EVPN_MON_NLRI_MAX_LEN)
		return EVPN_MON_ERR_LONG;

	take(&r, fixed, sizeof(fixed));
	memcpy(out->rd, fixed, 8);
	out->eth_tag = get_be(fixed + 8, 4);
	out->vni = get_be(fixed + 12, 3);
	out->flags = fixed[15];
	out->dest = fixed[16];
	out->host_id = get_be(fixed + 17, 3);

	/* host MAC: 0 or 48 bits */
	if (!take(&r, &bits, 1))
		return EVPN_MON_ERR_TRUNCATED;
	if (bits != 0 && bits != 48)
		return EVPN_MON_ERR_HOST_MAC_LEN;
	out->host_mac_len = bits / 8;
	if (!take(&r, out->host_mac, out->host_mac_len))
		return EVPN_MON_ERR_TRUNCATED;

	/* host IP: 0, 32 or 128 bits */
	if (!take(&r, &bits, 1))
		return EVPN_MON_ERR_TRUNCATED;
	if (!ip_bits_ok(bits, true, &octets))
		return EVPN_MON_ERR_HOST_IP_LEN;
	out->host_ip.len = octets;
	if (!take(&r, out->host_ip.addr, octets))
		return EVPN_MON_ERR_TRUNCATED;

	/* server MAC: 48 bits */
	if (!take(&r, &bits, 1))
		return EVPN_MON_ERR_TRUNCATED;
	if (bits != 48)
		return EVPN_MON_ERR_SERVER_MAC_LEN;
	if (!take(&r, out->server_mac, 6))
		return EVPN_MON_ERR_TRUNCATED;

	/* server IP: 0, 32 or 128 bits */
	if (!take(&r, &bits, 1))
		return EVPN_MON_ERR_TRUNCATED;
	if (!ip_bits_ok(bits, true, &octets))
		return EVPN_MON_ERR_SERVER_IP_LEN;
	out->server_ip.len = octets;
	if (!take(&r, out->server_ip.addr, octets))
		return EVPN_MON_ERR_TRUNCATED;

	/* originating router IP: 32 bits (IPv4 VTEPs, as FRR 8.4 EVPN) */
	if (!take(&r, &bits, 1))
		return EVPN_MON_ERR_TRUNCATED;
	if (bits != 32)
		return EVPN_MON_ERR_ORIG_IP_LEN;
	if (!take(&r, out->orig_ip, 4))
		return EVPN_MON_ERR_TRUNCATED;

	/* Everything after the originator IP is the options area. A
	 * withdrawal needs only the key: its options are kept when readable
	 * and otherwise ignored. */
	if (r.left != 0)
		oerr = evpn_mon_options_decode(r.p, r.left, &out->opts);

	/* Reported in this order, the first that says most: the key, the
	 * server fields, the options, then whether the options fit the
	 * destination kind (a malformed ERSPAN TLV is an option error). */
	err = check_key(out);
	if (err != EVPN_MON_OK || withdraw)
		return err;
	err = check_server(out);
	if (err != EVPN_MON_OK)
		return err;
	err = opt_error(oerr);
	if (err != EVPN_MON_OK)
		return err;
	return check_erspan(out);
}

size_t evpn_mon_encode(const struct evpn_mon_route *r, uint8_t *buf,
		       size_t size)
{
	size_t need = EVPN_MON_NLRI_MIN_LEN + r->host_mac_len + r->host_ip.len
		      + r->server_ip.len;
	size_t olen = 0;
	uint8_t *p = buf;

	if (r->opts.present || r->opts.erspan.version) {
		olen = evpn_mon_options_encoded_len(&r->opts);
		if (olen == 0)
			return 0; /* options invalid */
		need += olen;
	}

	if (r->host_mac_len != 0 && r->host_mac_len != 6)
		return 0;
	if (r->host_ip.len != 0 && r->host_ip.len != 4 && r->host_ip.len != 16)
		return 0;
	if (r->server_ip.len != 0 && r->server_ip.len != 4
	    && r->server_ip.len != 16)
		return 0;
	if (need > size || need > EVPN_MON_NLRI_MAX_LEN)
		return 0;

	memcpy(p, r->rd, 8);
	p += 8;
	put_be(p, r->eth_tag, 4);
	p += 4;
	put_be(p, r->vni & 0xffffff, 3);
	p += 3;
	*p++ = 0; /* flags: reserved */
	put_be(p, host_id_field(r), 4);
	p += 4;
	*p++ = r->host_mac_len * 8;
	memcpy(p, r->host_mac, r->host_mac_len);
	p += r->host_mac_len;
	*p++ = r->host_ip.len * 8;
	memcpy(p, r->host_ip.addr, r->host_ip.len);
	p += r->host_ip.len;
	*p++ = 48;
	memcpy(p, r->server_mac, 6);
	p += 6;
	*p++ = r->server_ip.len * 8;
	memcpy(p, r->server_ip.addr, r->server_ip.len);
	p += r->server_ip.len;
	*p++ = 32;
	memcpy(p, r->orig_ip, 4);
	p += 4;
	if (olen)
		p += evpn_mon_options_encode(&r->opts, p, olen);
	return (size_t)(p - buf);
}

void evpn_mon_route_key(const struct evpn_mon_route *r,
			struct evpn_mon_key *key)
{
	memset(key, 0, sizeof(*key));
	key->vni = r->vni;
	key->host_id = host_id_field(r);
	key->host_mac_len = r->host_mac_len;
	memcpy(key->host_mac, r->host_mac, r->host_mac_len);
	key->host_ip_len = r->host_ip.len;
	memcpy(key->host_ip, r->host_ip.addr, r->host_ip.len);
	memcpy(key->orig_ip, r->orig_ip, 4);
}

size_t evpn_mon_route_payload(const struct evpn_mon_route *r, uint8_t *buf,
			      size_t size)
{
	size_t olen = 0, need;
	uint8_t *p = buf;

	if (r->server_ip.len != 0 && r->server_ip.len != 4
	    && r->server_ip.len != 16)
		return 0;
	if (r->opts.present || r->opts.erspan.version) {
		olen = evpn_mon_options_encoded_len(&r->opts);
		if (olen == 0)
			return 0;
	}
	need = 6 + 1 + r->server_ip.len + olen;
	if (need > size)
		return 0;
	memcpy(p, r->server_mac, 6);
	p += 6;
	*p++ = r->server_ip.len;
	memcpy(p, r->server_ip.addr, r->server_ip.len);
	p += r->server_ip.len;
	if (olen)
		p += evpn_mon_options_encode(&r->opts, p, olen);
	return (size_t)(p - buf);
}

bool evpn_mon_route_from_key(struct evpn_mon_route *r, const uint8_t rd[8],
			     uint32_t eth_tag, const struct evpn_mon_key *key,
			     const uint8_t *pl, size_t pl_len)
{
	uint8_t iplen;

	memset(r, 0, sizeof(*r));
	if (rd)
		memcpy(r->rd, rd, 8);
	r->eth_tag = eth_tag;
	r->vni = key->vni;
	r->dest = (uint8_t)(key->host_id >> 24);
	r->host_id = key->host_id & 0xffffff;
	r->host_mac_len = key->host_mac_len <= 6 ? key->host_mac_len : 6;
	memcpy(r->host_mac, key->host_mac, r->host_mac_len);
	r->host_ip.len = key->host_ip_len <= 16 ? key->host_ip_len : 16;
	memcpy(r->host_ip.addr, key->host_ip, r->host_ip.len);
	memcpy(r->orig_ip, key->orig_ip, 4);
	if (!pl)
		return true;

	if (pl_len < 7)
		return false;
	iplen = pl[6];
	if ((iplen != 0 && iplen != 4 && iplen != 16) || pl_len < 7u + iplen)
		return false;
	if (evpn_mon_options_decode(pl + 7 + iplen, pl_len - 7 - iplen,
				    &r->opts)
	    != EVPN_MON_OPT_OK)
		return false;
	memcpy(r->server_mac, pl, 6);
	r->server_ip.len = iplen;
	memcpy(r->server_ip.addr, pl + 7, iplen);
	return true;
}

/* The session ID is written for every session a show lists: the parts are
 * put together by hand, not with snprintf (whose format parsing costs more
 * than the text). */
static size_t put_u32(char *p, uint32_t v)
{
	char tmp[10];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* inet_ntop()'s text for IPv4 and IPv6, "-" for any other length */
static size_t put_ip(char *p, const uint8_t *addr, uint8_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	size_t n = 0;
	int i;

	if (len == 4) {
		for (i = 0; i < 4; i++) {
			if (i)
				p[n++] = '.';
			n += put_u32(p + n, addr[i]);
		}
		return n;
	}
	if (len == 16) {
		if (!inet_ntop(AF_INET6, addr, tmp, sizeof(tmp)))
			return 0;
		n = strlen(tmp);
		memcpy(p, tmp, n);
		return n;
	}
	p[0] = '-';
	return 1;
}

size_t evpn_mon_session_id(const struct evpn_mon_route *r, char *buf,
			   size_t size)
{
	static const char hex[] = "0123456789abcdef";
	/* "%s/%u/%s/%s/%s": originator, VNI, host ID, MAC, IP */
	char id[INET_ADDRSTRLEN + 1 + 10 + 1 + 11 + 1 + 17 + 1
		+ INET6_ADDRSTRLEN];
	size_t n, i;

	n = put_ip(id, r->orig_ip, 4);
	id[n++] = '/';
	n += put_u32(id + n, r->vni);
	id[n++] = '/';
	/* a kind this code does not know: the raw field, as an older
	 * decoder would show it */
	if (r->dest == EVPN_MON_DEST_COLLECTOR) {
		id[n++] = 'c';
		n += put_u32(id + n, r->host_id);
	} else
		n += put_u32(id + n, host_id_field(r));
	id[n++] = '/';
	if (r->host_mac_len == 6) {
		for (i = 0; i < 6; i++) {
			if (i)
				id[n++] = ':';
			id[n++] = hex[r->host_mac[i] >> 4];
			id[n++] = hex[r->host_mac[i] & 0xf];
		}
	} else
		id[n++] = '-';
	id[n++] = '/';
	n += put_ip(id + n, r->host_ip.addr, r->host_ip.len);
	if (size == 0)
		return 0;
	if (n > size - 1)
		n = size - 1;
	memcpy(buf, id, n);
	buf[n] = 0;
	return n;
}
