/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* GRE and ERSPAN I/II/III header layouts: the one definition shared by the
 * eBPF encoder (dataplane/bpf/lib/erspan.h) and the collector's decoder
 * (collector/src/decode/). docs/wire-format.md section 4 has the tables.
 *
 * Usable from BPF C, C and C++: fixed-width kernel types only, no libc,
 * no byte-order conversion (every word here is in host order: the caller
 * converts with bpf_htonl/ntohl). The pack functions mask every field to
 * its width, so an out-of-range argument never spills into a neighbour.
 *
 * ERSPAN type II, 8 octets (word 0, word 1); type III, 12 octets (words
 * 0..2) and, when word 2's O bit is set, an 8-octet platform subheader:
 *
 *   word 0   Ver(4) VLAN(12) COS(3) En|BSO(2) T(1) Session ID(10)
 *   II  w1   reserved(12) Index(20)
 *   III w1   timestamp (low 32 bits, in Gra units)
 *   III w2   SGT(16) P(1) FT(5) HW ID(6) D(1) Gra(2) O(1)
 *   sub w0   Platform ID(6) platform-specific(26)
 *   sub w1   platform-specific; IDs 3 and 7: timestamp upper 32 bits
 *
 * Type I has no ERSPAN header: GRE (0x88BE, no S bit) is followed by the
 * mirrored frame. */
#ifndef EVPNMON_ERSPAN_WIRE_H
#define EVPNMON_ERSPAN_WIRE_H

#include <linux/types.h>

#if defined(__cplusplus)
#define ERSPAN_WIRE_FN static inline
#else
#define ERSPAN_WIRE_FN static inline __attribute__((always_inline))
#endif

/* GRE (RFC 2784/2890): flags and version, the first 16 bits. */
#define GRE_FLAG_C 0x8000u        /* checksum + reserved1 present (4 octets) */
#define GRE_FLAG_R 0x4000u        /* routing present (RFC 1701; refused) */
#define GRE_FLAG_K 0x2000u        /* key present (4 octets) */
#define GRE_FLAG_S 0x1000u        /* sequence number present (4 octets) */
#define GRE_FLAG_SSR 0x0800u      /* strict source route (RFC 1701) */
#define GRE_RECUR_MASK 0x0700u    /* recursion control (RFC 1701) */
#define GRE_RESERVED_MASK 0x00f8u /* reserved0 flags */
#define GRE_VERSION_MASK 0x0007u
#define GRE_BASE_HLEN 4u

#define GRE_PROTO_ERSPAN_II 0x88BEu  /* type I and II */
#define GRE_PROTO_ERSPAN_III 0x22EBu

#define ERSPAN_II_HLEN 8u
#define ERSPAN_III_HLEN 12u
#define ERSPAN_III_SUB_HLEN 8u

/* word 0 */
#define ERSPAN_VER_II 1u
#define ERSPAN_VER_III 2u
#define ERSPAN_VER_SHIFT 28
#define ERSPAN_VER_MASK 0xfu
#define ERSPAN_VLAN_SHIFT 16
#define ERSPAN_VLAN_MASK 0xfffu
#define ERSPAN_COS_SHIFT 13
#define ERSPAN_COS_MASK 0x7u
#define ERSPAN_EN_SHIFT 11 /* II: En; III: BSO, same bits */
#define ERSPAN_EN_MASK 0x3u
#define ERSPAN_T_SHIFT 10
#define ERSPAN_SESSION_MASK 0x3ffu

/* II: En */
#define ERSPAN_EN_NONE 0u
#define ERSPAN_EN_ISL 1u
#define ERSPAN_EN_DOT1Q 2u
#define ERSPAN_EN_TAG_KEPT 3u /* the 802.1Q tag is kept in the frame */
/* III: BSO */
#define ERSPAN_BSO_GOOD 0u
#define ERSPAN_BSO_SHORT 1u
#define ERSPAN_BSO_OVERSIZED 2u
#define ERSPAN_BSO_ERROR 3u

/* II word 1 */
#define ERSPAN_INDEX_MASK 0xfffffu

/* III word 2 */
#define ERSPAN_SGT_SHIFT 16
#define ERSPAN_SGT_MASK 0xffffu
#define ERSPAN_P_SHIFT 15
#define ERSPAN_FT_SHIFT 10
#define ERSPAN_FT_MASK 0x1fu
#define ERSPAN_FT_ETHERNET 0u
#define ERSPAN_HWID_SHIFT 4
#define ERSPAN_HWID_MASK 0x3fu
#define ERSPAN_D_SHIFT 3
#define ERSPAN_GRA_SHIFT 1
#define ERSPAN_GRA_MASK 0x3u
#define ERSPAN_O_SHIFT 0

#define ERSPAN_GRA_100US 0u
#define ERSPAN_GRA_100NS 1u
#define ERSPAN_GRA_1588 2u /* subheader 3/7: upper word seconds, base ns */
#define ERSPAN_GRA_CUSTOM 3u

/* platform subheader word 0 */
#define ERSPAN_PLATFORM_SHIFT 26
#define ERSPAN_PLATFORM_MASK 0x3fu
#define ERSPAN_PLATFORM_TS_HIGH 3u     /* word 1 = upper 32 timestamp bits */
#define ERSPAN_PLATFORM_TS_HIGH_ALT 7u /* same timestamp word 1 */
#define ERSPAN_PLAT3_PORT_MASK 0x3fffu /* ID 3: port index, bits 13..0 */

/* Octets the GRE header takes for these flags (C and K add a word each,
 * S the sequence word). */
ERSPAN_WIRE_FN __u32 gre_hlen(__u32 flags)
{
	return GRE_BASE_HLEN + ((flags & GRE_FLAG_C) ? 4u : 0u) +
	       ((flags & GRE_FLAG_K) ? 4u : 0u) + ((flags & GRE_FLAG_S) ? 4u : 0u);
}

/* Offset of the sequence number from the start of GRE (valid when S). */
ERSPAN_WIRE_FN __u32 gre_seq_offset(__u32 flags)
{
	return GRE_BASE_HLEN + ((flags & GRE_FLAG_C) ? 4u : 0u) +
	       ((flags & GRE_FLAG_K) ? 4u : 0u);
}

/* Bits a GRE header carrying ERSPAN must not set (RFC 2784 reserved0,
 * RFC 1701 routing and recursion). */
ERSPAN_WIRE_FN int gre_flags_refused(__u32 flags)
{
	return (flags & (GRE_FLAG_R | GRE_FLAG_SSR | GRE_RECUR_MASK |
			 GRE_RESERVED_MASK)) != 0;
}

ERSPAN_WIRE_FN __u32 gre_version(__u32 flags)
{
	return flags & GRE_VERSION_MASK;
}

/* word 0: en_bso is En for type II, BSO for type III. */
ERSPAN_WIRE_FN __u32 erspan_pack_w0(__u32 ver, __u32 vlan, __u32 cos,
				    __u32 en_bso, __u32 t, __u32 session)
{
	return (ver & ERSPAN_VER_MASK) << ERSPAN_VER_SHIFT |
	       (vlan & ERSPAN_VLAN_MASK) << ERSPAN_VLAN_SHIFT |
	       (cos & ERSPAN_COS_MASK) << ERSPAN_COS_SHIFT |
	       (en_bso & ERSPAN_EN_MASK) << ERSPAN_EN_SHIFT |
	       (t & 1u) << ERSPAN_T_SHIFT | (session & ERSPAN_SESSION_MASK);
}

ERSPAN_WIRE_FN __u32 erspan_w0_ver(__u32 w0)
{
	return w0 >> ERSPAN_VER_SHIFT & ERSPAN_VER_MASK;
}
ERSPAN_WIRE_FN __u32 erspan_w0_vlan(__u32 w0)
{
	return w0 >> ERSPAN_VLAN_SHIFT & ERSPAN_VLAN_MASK;
}
ERSPAN_WIRE_FN __u32 erspan_w0_cos(__u32 w0)
{
	return w0 >> ERSPAN_COS_SHIFT & ERSPAN_COS_MASK;
}
ERSPAN_WIRE_FN __u32 erspan_w0_en_bso(__u32 w0)
{
	return w0 >> ERSPAN_EN_SHIFT & ERSPAN_EN_MASK;
}
ERSPAN_WIRE_FN __u32 erspan_w0_t(__u32 w0)
{
	return w0 >> ERSPAN_T_SHIFT & 1u;
}
ERSPAN_WIRE_FN __u32 erspan_w0_session(__u32 w0)
{
	return w0 & ERSPAN_SESSION_MASK;
}

/* type II word 1 */
ERSPAN_WIRE_FN __u32 erspan_ii_pack_w1(__u32 index)
{
	return index & ERSPAN_INDEX_MASK;
}
ERSPAN_WIRE_FN __u32 erspan_ii_w1_index(__u32 w1)
{
	return w1 & ERSPAN_INDEX_MASK;
}

/* type III word 2 */
ERSPAN_WIRE_FN __u32 erspan_iii_pack_w2(__u32 sgt, __u32 p, __u32 ft,
					__u32 hw_id, __u32 d, __u32 gra, __u32 o)
{
	return (sgt & ERSPAN_SGT_MASK) << ERSPAN_SGT_SHIFT |
	       (p & 1u) << ERSPAN_P_SHIFT | (ft & ERSPAN_FT_MASK) << ERSPAN_FT_SHIFT |
	       (hw_id & ERSPAN_HWID_MASK) << ERSPAN_HWID_SHIFT |
	       (d & 1u) << ERSPAN_D_SHIFT | (gra & ERSPAN_GRA_MASK) << ERSPAN_GRA_SHIFT |
	       (o & 1u) << ERSPAN_O_SHIFT;
}
ERSPAN_WIRE_FN __u32 erspan_iii_w2_sgt(__u32 w2)
{
	return w2 >> ERSPAN_SGT_SHIFT & ERSPAN_SGT_MASK;
}
ERSPAN_WIRE_FN __u32 erspan_iii_w2_p(__u32 w2)
{
	return w2 >> ERSPAN_P_SHIFT & 1u;
}
ERSPAN_WIRE_FN __u32 erspan_iii_w2_ft(__u32 w2)
{
	return w2 >> ERSPAN_FT_SHIFT & ERSPAN_FT_MASK;
}
ERSPAN_WIRE_FN __u32 erspan_iii_w2_hw_id(__u32 w2)
{
	return w2 >> ERSPAN_HWID_SHIFT & ERSPAN_HWID_MASK;
}
ERSPAN_WIRE_FN __u32 erspan_iii_w2_d(__u32 w2)
{
	return w2 >> ERSPAN_D_SHIFT & 1u;
}
ERSPAN_WIRE_FN __u32 erspan_iii_w2_gra(__u32 w2)
{
	return w2 >> ERSPAN_GRA_SHIFT & ERSPAN_GRA_MASK;
}
ERSPAN_WIRE_FN __u32 erspan_iii_w2_o(__u32 w2)
{
	return w2 >> ERSPAN_O_SHIFT & 1u;
}

/* platform subheader word 0 (ID 3: port index in bits 13..0) */
ERSPAN_WIRE_FN __u32 erspan_sub_pack_w0(__u32 platform_id, __u32 rest)
{
	return (platform_id & ERSPAN_PLATFORM_MASK) << ERSPAN_PLATFORM_SHIFT |
	       (rest & ((1u << ERSPAN_PLATFORM_SHIFT) - 1u));
}
ERSPAN_WIRE_FN __u32 erspan_sub_w0_platform(__u32 s0)
{
	return s0 >> ERSPAN_PLATFORM_SHIFT & ERSPAN_PLATFORM_MASK;
}
/* Platform IDs whose subheader word 1 holds the timestamp's upper 32 bits. */
ERSPAN_WIRE_FN int erspan_platform_has_ts_high(__u32 platform_id)
{
	return platform_id == ERSPAN_PLATFORM_TS_HIGH ||
	       platform_id == ERSPAN_PLATFORM_TS_HIGH_ALT;
}

#undef ERSPAN_WIRE_FN

#endif /* EVPNMON_ERSPAN_WIRE_H */
