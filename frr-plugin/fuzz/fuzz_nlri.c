/* SPDX-License-Identifier: GPL-2.0-or-later
 * libFuzzer target: the monitor-config NLRI decoder and its options area.
 * Properties checked besides memory safety:
 *  - a semantic error always leaves a usable key (treat-as-withdraw);
 *  - every key-valid result re-encodes, and decoding that gives the
 *    identical route (the canonical form): decode -> encode -> decode is a
 *    fixed point, the key octets are sent as received (flags zeroed) and
 *    the canonical options area is never longer than the one received;
 *  - a route whose options area was malformed re-encodes without one:
 *    clean for a server, `destination` for a collector (which needs the
 *    ERSPAN TLV);
 *  - the same holds for the non-key payload (server + options) as bgpd
 *    stores it, and for the options area decoded on its own.
 */
#include <assert.h>
#include <string.h>

#include "evpn_mon_codec.h"

static bool is_opt_error(enum evpn_mon_error err)
{
	return err >= EVPN_MON_ERR_OPT_VERSION && err <= EVPN_MON_ERR_OPT_VALUE;
}

static void check_route(const uint8_t *data, size_t size, bool withdraw)
{
	struct evpn_mon_route r, again, back;
	struct evpn_mon_key key;
	uint8_t out[EVPN_MON_NLRI_MAX_LEN];
	uint8_t pl[EVPN_MON_PAYLOAD_MAX_LEN];
	enum evpn_mon_error err = evpn_mon_decode(data, size, withdraw, &r);
	enum evpn_mon_error err2;
	size_t n, keys, plen;

	if (!evpn_mon_error_key_valid(err))
		return;
	n = evpn_mon_encode(&r, out, sizeof(out));
	assert(n >= EVPN_MON_NLRI_MIN_LEN && n <= size);

	/* key octets as received, flags (reserved) sent as 0 */
	keys = EVPN_MON_NLRI_MIN_LEN + r.host_mac_len + r.host_ip.len
	       + r.server_ip.len;
	assert(memcmp(out, data, 15) == 0);
	assert(out[15] == 0);
	assert(memcmp(out + 16, data + 16, keys - 16) == 0);
	assert(n - keys == evpn_mon_options_encoded_len(&r.opts));

	err2 = evpn_mon_decode(out, n, withdraw, &again);
	/* a malformed options area was dropped: what is left is clean, but
	 * for a collector that lost its ERSPAN TLV with it */
	if (is_opt_error(err))
		assert(err2 == (r.dest == EVPN_MON_DEST_COLLECTOR
					? EVPN_MON_ERR_DEST
					: EVPN_MON_OK));
	else
		assert(err2 == err);
	r.flags = 0;
	assert(memcmp(&r, &again, sizeof(r)) == 0);

	/* bgpd's split: key + payload rebuild the same route */
	evpn_mon_route_key(&r, &key);
	plen = evpn_mon_route_payload(&r, pl, sizeof(pl));
	assert(plen == 7 + r.server_ip.len + (n - keys));
	assert(evpn_mon_route_from_key(&back, r.rd, r.eth_tag, &key, pl, plen));
	assert(memcmp(&r, &back, sizeof(r)) == 0);
}

static void check_options(const uint8_t *data, size_t size)
{
	struct evpn_mon_options o, again;
	uint8_t out[EVPN_MON_OPTIONS_MAX_LEN];
	size_t n;

	if (evpn_mon_options_decode(data, size, &o) != EVPN_MON_OPT_OK) {
		static const struct evpn_mon_options zero;

		assert(memcmp(&o, &zero, sizeof(o)) == 0);
		return;
	}
	assert(evpn_mon_options_validate(&o) == EVPN_MON_OPT_OK);
	n = evpn_mon_options_encode(&o, out, sizeof(out));
	assert(n == evpn_mon_options_encoded_len(&o));
	assert(n <= size);
	assert(evpn_mon_options_decode(out, n, &again) == EVPN_MON_OPT_OK);
	assert(memcmp(&o, &again, sizeof(o)) == 0);
	assert(evpn_mon_options_equal(&o, &again));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool withdraw = size && (data[0] & 1);

	check_route(data, size, withdraw);
	/* The tail after a valid key part is an options area: fuzz it
	 * alone as well, so that mutations of it are not masked by the key. */
	if (size > 0 && size <= 300)
		check_options(data, size);
	return 0;
}
