// The ERSPAN II/III copy as it must appear on the wire, written from the
// bit layouts (docs/dataplane.md, "ERSPAN copies"), independently of the
// BPF program: the tests build the expected outer headers with it and
// compare byte for byte, and decode captured copies with it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace evpnmon::dp::erspan_wire {

struct Expect {
	std::array<std::uint8_t, 6> dmac{}, smac{};
	std::array<std::uint8_t, 4> src{}, dst{};
	std::uint8_t dscp = 0, ttl = 64;
	std::uint16_t gre_proto = 0; // on the wire
	std::uint32_t seq = 0;
	int version = 3; // 2 or 3
	std::uint16_t vlan = 0;
	std::uint8_t cos = 0;
	std::uint8_t en = 0;  // II
	std::uint8_t bso = 0; // III
	bool t = false;
	std::uint16_t span_id = 0;
	std::uint32_t index = 0; // II: ingress ifindex (20 bits); III: port (14)
	std::uint64_t ts = 0;    // III: 100 ns units
	std::uint8_t hw_id = 0;
	bool d = false;
};

inline void put16(std::vector<std::uint8_t> &v, std::uint32_t x)
{
	v.push_back(static_cast<std::uint8_t>(x >> 8));
	v.push_back(static_cast<std::uint8_t>(x));
}
inline void put32(std::vector<std::uint8_t> &v, std::uint32_t x)
{
	put16(v, x >> 16);
	put16(v, x);
}
inline std::uint32_t get32(std::span<const std::uint8_t> f, std::size_t at)
{
	return std::uint32_t{f[at]} << 24 | std::uint32_t{f[at + 1]} << 16 |
	       std::uint32_t{f[at + 2]} << 8 | f[at + 3];
}
inline std::uint16_t get16(std::span<const std::uint8_t> f, std::size_t at)
{
	return static_cast<std::uint16_t>(f[at] << 8 | f[at + 1]);
}

inline std::uint16_t ip_checksum(std::span<const std::uint8_t> h)
{
	std::uint32_t s = 0;
	for (std::size_t i = 0; i + 1 < h.size(); i += 2)
		s += static_cast<std::uint32_t>(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return static_cast<std::uint16_t>(~s);
}

// Outer Ethernet + IPv4 + GRE + ERSPAN for an inner frame of inner_len octets.
inline std::vector<std::uint8_t> outer(const Expect &x, std::size_t inner_len)
{
	std::vector<std::uint8_t> f(x.dmac.begin(), x.dmac.end());
	f.insert(f.end(), x.smac.begin(), x.smac.end());
	put16(f, 0x0800);
	const std::size_t er = x.version == 3 ? 20 : 8;
	std::vector<std::uint8_t> ip = {0x45, static_cast<std::uint8_t>(x.dscp << 2)};
	put16(ip, static_cast<std::uint32_t>(20 + 8 + er + inner_len));
	put16(ip, x.seq & 0xffff); // identification
	put16(ip, 0);              // DF clear, no fragment
	ip.push_back(x.ttl);
	ip.push_back(47);
	put16(ip, 0);
	ip.insert(ip.end(), x.src.begin(), x.src.end());
	ip.insert(ip.end(), x.dst.begin(), x.dst.end());
	const auto c = ip_checksum(ip);
	ip[10] = static_cast<std::uint8_t>(c >> 8);
	ip[11] = static_cast<std::uint8_t>(c);
	f.insert(f.end(), ip.begin(), ip.end());
	put16(f, 0x1000); // GRE: S only, version 0
	put16(f, x.gre_proto);
	put32(f, x.seq);
	std::uint32_t w0 = std::uint32_t(x.version == 3 ? 2 : 1) << 28 |
			   std::uint32_t(x.vlan & 0xfff) << 16 | std::uint32_t(x.cos & 7) << 13 |
			   std::uint32_t((x.version == 3 ? x.bso : x.en) & 3) << 11 |
			   std::uint32_t(x.t) << 10 | (x.span_id & 0x3ffu);
	put32(f, w0);
	if (x.version == 2) {
		put32(f, x.index & 0xfffff);
		return f;
	}
	put32(f, static_cast<std::uint32_t>(x.ts));
	// SGT 0 | P 1 | FT 0 | HW ID | D | Gra 01 | O 1
	put32(f, 1u << 15 | std::uint32_t(x.hw_id & 0x3f) << 4 | std::uint32_t(x.d) << 3 |
		     1u << 1 | 1u);
	put32(f, 3u << 26 | (x.index & 0x3fff)); // Platform ID 3, port index
	put32(f, static_cast<std::uint32_t>(x.ts >> 32));
	return f;
}

// A captured copy taken apart (frames start at the outer Ethernet header).
struct Copy {
	int version = 0;
	std::uint32_t seq = 0;
	std::uint16_t gre_proto = 0;
	std::uint16_t vlan = 0, span_id = 0;
	std::uint8_t cos = 0, en_bso = 0, hw_id = 0;
	bool t = false, d = false;
	std::uint32_t index = 0;
	std::uint64_t ts = 0;
	std::size_t hlen = 0;
	std::vector<std::uint8_t> inner;
	std::array<std::uint8_t, 4> dst{};
};

inline std::optional<Copy> parse(std::span<const std::uint8_t> f)
{
	if (f.size() < 50 || f[12] != 0x08 || f[13] != 0x00 || f[14] != 0x45 || f[23] != 47)
		return std::nullopt;
	Copy c;
	std::copy_n(f.begin() + 30, 4, c.dst.begin());
	c.gre_proto = get16(f, 36);
	c.seq = get32(f, 38);
	const std::uint32_t w0 = get32(f, 42);
	c.version = (w0 >> 28) == 2 ? 3 : (w0 >> 28) == 1 ? 2 : 0;
	c.vlan = (w0 >> 16) & 0xfff;
	c.cos = (w0 >> 13) & 7;
	c.en_bso = (w0 >> 11) & 3;
	c.t = (w0 >> 10) & 1;
	c.span_id = w0 & 0x3ff;
	if (c.version == 2) {
		c.index = get32(f, 46) & 0xfffff;
		c.hlen = 50;
	} else if (c.version == 3 && f.size() >= 62) {
		const std::uint32_t w2 = get32(f, 50);
		c.hw_id = (w2 >> 4) & 0x3f;
		c.d = (w2 >> 3) & 1;
		c.index = get32(f, 54) & 0x3fff;
		c.ts = std::uint64_t{get32(f, 58)} << 32 | get32(f, 46);
		c.hlen = 62;
	} else {
		return std::nullopt;
	}
	c.inner.assign(f.begin() + static_cast<long>(c.hlen), f.end());
	return c;
}

} // namespace evpnmon::dp::erspan_wire
