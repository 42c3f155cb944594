/* SPDX-License-Identifier: GPL-2.0-or-later
 * libFuzzer target: the monitor-config NLRI decoder.
 * Properties checked besides memory safety:
 *  - a decoded route re-encodes to exactly the input (canonical format);
 *  - a semantic error always leaves a usable key (treat-as-withdraw).
 */
#include <assert.h>
#include <string.h>

#include "evpn_mon_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evpn_mon_route r;
	uint8_t out[EVPN_MON_NLRI_MAX_LEN];
	bool withdraw = size && (data[0] & 1);
	enum evpn_mon_error err = evpn_mon_decode(data, size, withdraw, &r);

	if (err == EVPN_MON_OK || evpn_mon_error_key_valid(err)) {
		size_t n = evpn_mon_encode(&r, out, sizeof(out));

		/* flags are reserved: encoded as 0 */
		assert(n == size);
		assert(memcmp(out, data, 15) == 0);
		assert(memcmp(out + 16, data + 16, size - 16) == 0);
	}
	return 0;
}
