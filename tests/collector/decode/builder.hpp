// Test-side packet builder: writes headers octet by octet from the bit
// tables of docs/wire-format.md section 4 and the RFCs, independently of
// proto/erspan/erspan_wire.h, so a wrong shift there shows up here.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

namespace evpnmon::collector::test {

using Bytes = std::vector<std::uint8_t>;

inline void put8(Bytes &b, std::uint32_t v) { b.push_back(static_cast<std::uint8_t>(v)); }
inline void put16(Bytes &b, std::uint32_t v)
{
	put8(b, v >> 8);
	put8(b, v);
}
inline void put24(Bytes &b, std::uint32_t v)
{
	put8(b, v >> 16);
	put16(b, v);
}
inline void put32(Bytes &b, std::uint32_t v)
{
	put16(b, v >> 16);
	put16(b, v);
}
inline void append(Bytes &b, std::span<const std::uint8_t> x) { b.insert(b.end(), x.begin(), x.end()); }
inline Bytes cat(std::initializer_list<Bytes> parts)
{
	Bytes out;
	for (const auto &p : parts)
		append(out, p);
	return out;
}

using Mac = std::array<std::uint8_t, 6>;
inline constexpr Mac kHostMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x11};
inline constexpr Mac kPeerMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x22};

// Ethernet header; tags = {tpid<<16 | tci, ...}.
inline Bytes ether(const Mac &dst, const Mac &src, std::uint16_t type,
		   std::initializer_list<std::uint32_t> tags = {})
{
	Bytes b(dst.begin(), dst.end());
	b.insert(b.end(), src.begin(), src.end());
	for (auto t : tags)
		put32(b, t);
	put16(b, type);
	return b;
}

inline std::uint16_t csum(std::span<const std::uint8_t> h)
{
	std::uint32_t s = 0;
	for (std::size_t i = 0; i + 1 < h.size(); i += 2)
		s += static_cast<std::uint32_t>(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return static_cast<std::uint16_t>(~s);
}

struct Ip4 {
	std::array<std::uint8_t, 4> src{10, 0, 0, 1}, dst{10, 0, 0, 2};
	std::uint8_t proto = 6;
	std::uint16_t frag = 0; // flags + offset word
	Bytes options;          // multiple of 4
	int total_override = -1;
	int ihl_override = -1;
	int version = 4;
};

// IPv4 header for a payload of payload_len octets.
inline Bytes ipv4(const Ip4 &x, std::size_t payload_len)
{
	const std::size_t ihl = 20 + x.options.size();
	Bytes b;
	put8(b, x.version << 4 | (x.ihl_override >= 0 ? x.ihl_override : ihl / 4));
	put8(b, 0);
	put16(b, x.total_override >= 0 ? static_cast<std::uint32_t>(x.total_override)
				       : static_cast<std::uint32_t>(ihl + payload_len));
	put16(b, 0x1234);
	put16(b, x.frag);
	put8(b, 64);
	put8(b, x.proto);
	put16(b, 0);
	b.insert(b.end(), x.src.begin(), x.src.end());
	b.insert(b.end(), x.dst.begin(), x.dst.end());
	append(b, x.options);
	const auto c = csum(b);
	b[10] = static_cast<std::uint8_t>(c >> 8);
	b[11] = static_cast<std::uint8_t>(c);
	return b;
}

inline Bytes ipv6(std::uint8_t next, std::size_t payload_len, std::uint8_t src_last = 1,
		  std::uint8_t dst_last = 2)
{
	Bytes b;
	put32(b, 0x60000000);
	put16(b, static_cast<std::uint32_t>(payload_len));
	put8(b, next);
	put8(b, 64);
	Bytes a = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	a[15] = src_last;
	append(b, a);
	a[15] = dst_last;
	append(b, a);
	return b;
}

// TCP header; options padded with NOPs... no: caller passes a multiple of 4.
inline Bytes tcp(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags, std::uint32_t seq = 1000,
		 std::uint32_t ack = 0, const Bytes &options = {}, int doff_override = -1)
{
	Bytes b;
	put16(b, sport);
	put16(b, dport);
	put32(b, seq);
	put32(b, ack);
	const std::size_t doff = (20 + options.size()) / 4;
	put8(b, (doff_override >= 0 ? doff_override : doff) << 4);
	put8(b, flags);
	put16(b, 65535);
	put16(b, 0);
	put16(b, 0);
	append(b, options);
	return b;
}

inline Bytes udp(std::uint16_t sport, std::uint16_t dport, std::size_t payload_len, int len_override = -1)
{
	Bytes b;
	put16(b, sport);
	put16(b, dport);
	put16(b, len_override >= 0 ? static_cast<std::uint32_t>(len_override)
				   : static_cast<std::uint32_t>(8 + payload_len));
	put16(b, 0);
	return b;
}

// RoCEv2 BTH (12 octets) [+ AETH].
inline Bytes bth(std::uint8_t opcode, std::uint32_t qp, std::uint32_t psn, int syndrome = -1,
		 std::uint32_t msn = 0, std::uint8_t tver = 0)
{
	Bytes b;
	put8(b, opcode);
	put8(b, tver & 0x0f);
	put16(b, 0xffff); // P_Key
	put8(b, 0);
	put24(b, qp);
	put8(b, 0x80); // AckReq
	put24(b, psn);
	if (syndrome >= 0) {
		put8(b, static_cast<std::uint32_t>(syndrome));
		put24(b, msn);
	}
	return b;
}

// An IPv4/TCP frame: Ethernet + IPv4 + TCP + payload_len zero octets.
inline Bytes tcp_frame(std::uint8_t flags, std::size_t payload_len = 0, const Bytes &options = {})
{
	const Bytes t = tcp(40000, 80, flags, 1000, 0, options);
	Ip4 ip;
	return cat({ether(kPeerMac, kHostMac, 0x0800), ipv4(ip, t.size() + payload_len), t,
		    Bytes(payload_len, 0)});
}

// GRE header: flags word, protocol, then the optional words in order.
struct Gre {
	std::uint16_t flags = 0x1000; // S
	std::uint16_t proto = 0x22EB;
	std::uint32_t checksum_word = 0, key = 0, seq = 0;
};
inline Bytes gre(const Gre &g)
{
	Bytes b;
	put16(b, g.flags);
	put16(b, g.proto);
	if (g.flags & 0x8000)
		put32(b, g.checksum_word);
	if (g.flags & 0x2000)
		put32(b, g.key);
	if (g.flags & 0x1000)
		put32(b, g.seq);
	return b;
}

struct Erspan {
	unsigned ver = 2;
	unsigned vlan = 0, cos = 0, en_bso = 0, t = 0, session = 0;
	unsigned index = 0; // II
	std::uint32_t ts = 0;
	unsigned sgt = 0, p = 1, ft = 0, hw = 0, d = 0, gra = 1, o = 0;
	unsigned platform = 3, plat_rest = 0;
	std::uint32_t ts_high = 0;
};
inline Bytes erspan(const Erspan &e)
{
	Bytes b;
	// Ver(4) VLAN(12) COS(3) En/BSO(2) T(1) Session(10)
	put8(b, e.ver << 4 | (e.vlan >> 8 & 0x0f));
	put8(b, e.vlan & 0xff);
	put8(b, (e.cos & 7) << 5 | (e.en_bso & 3) << 3 | (e.t & 1) << 2 | (e.session >> 8 & 3));
	put8(b, e.session & 0xff);
	if (e.ver == 1) {
		put32(b, e.index & 0xfffff);
		return b;
	}
	put32(b, e.ts);
	// SGT(16) | P(1) FT(5) HW(6) D(1) Gra(2) O(1)
	put16(b, e.sgt);
	put8(b, (e.p & 1) << 7 | (e.ft & 0x1f) << 2 | (e.hw >> 4 & 3));
	put8(b, (e.hw & 0xf) << 4 | (e.d & 1) << 3 | (e.gra & 3) << 1 | (e.o & 1));
	if (e.o) {
		put8(b, (e.platform & 0x3f) << 2 | (e.plat_rest >> 24 & 3));
		put24(b, e.plat_rest & 0xffffff);
		put32(b, e.ts_high);
	}
	return b;
}

// IPv4 + GRE + ERSPAN + frame, as a raw IPPROTO_GRE socket delivers it.
inline Bytes gre_packet(const Gre &g, const Bytes &erspan_hdr, const Bytes &frame, Ip4 ip = {})
{
	ip.proto = 47;
	ip.src = {192, 0, 2, 7};
	ip.dst = {10, 9, 0, 1};
	const Bytes gh = gre(g);
	return cat({ipv4(ip, gh.size() + erspan_hdr.size() + frame.size()), gh, erspan_hdr, frame});
}

} // namespace evpnmon::collector::test
