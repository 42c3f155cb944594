/* SPDX-License-Identifier: GPL-2.0 */
/* VXLAN-GBP tunnel metadata as the BPF tunnel helpers see it: what the
 * mirror program sets on a VXLAN copy and the decap program reads back. */
#ifndef EVPNMON_LIB_TUNNEL_H
#define EVPNMON_LIB_TUNNEL_H

#include <linux/bpf.h>

/* struct bpf_tunnel_key with local_ipv4 (kernel >= 6.0); the Debian 12
 * uapi header predates that field. The kernel accepts this size. */
struct dp_tunnel_key {
	__u32 tunnel_id;
	union {
		__u32 remote_ipv4;
		__u32 remote_ipv6[4];
	};
	__u8 tunnel_tos;
	__u8 tunnel_ttl;
	__u16 tunnel_ext;
	__u32 tunnel_label;
	union {
		__u32 local_ipv4;
		__u32 local_ipv6[4];
	};
};

struct dp_gbp_opt {
	__u32 gbp; /* struct vxlan_metadata: Group Policy ID in the low 16 bits */
};

#endif /* EVPNMON_LIB_TUNNEL_H */
