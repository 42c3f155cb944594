// SPDX-License-Identifier: GPL-2.0
/* Test-only program for test_dataplane_bpf; the library never loads it.
 *
 * BPF_PROG_TEST_RUN builds a bare skb, without the tunnel metadata that the
 * mirror device's VXLAN-GBP receive path attaches. with_tunnel sets it
 * (VNI = cb[0], Group Policy ID = cb[1], outer source = cb[2] in host
 * order, 0 = 127.0.0.1) with the helpers the mirror
 * program uses for its VXLAN copies, then tail-calls the real
 * evpnmon_decap (slot 0 of decap_prog), whose verdict becomes the run's.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "lib/tunnel.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} decap_prog SEC(".maps");

SEC("tc")
int with_tunnel(struct __sk_buff *skb)
{
	struct dp_tunnel_key key = {};
	struct dp_gbp_opt opt = {};

	key.tunnel_id = skb->cb[0];
	/* Set for transmission, read back on receive: the helper stores
	 * local_ipv4 as the tunnel's source, which the receive side's
	 * bpf_skb_get_tunnel_key reports as remote_ipv4. */
	key.remote_ipv4 = 0x7f000001;
	key.local_ipv4 = skb->cb[2] ? skb->cb[2] : 0x7f000001;
	opt.gbp = skb->cb[1];
	if (bpf_skb_set_tunnel_key(skb, (struct bpf_tunnel_key *)&key,
				   sizeof(key), 0) ||
	    bpf_skb_set_tunnel_opt(skb, &opt, sizeof(opt)))
		return -2; /* not a TC verdict: the test fails loudly */
	bpf_tail_call(skb, &decap_prog, 0);
	return -3; /* the tail call failed */
}
