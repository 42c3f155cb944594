// Test helpers of the core tests: frames built octet by octet, copies as
// the decoders would hand them over, a scratch directory, and the files
// the core writes as read by the shared pcapng reader (pcapng_reader.hpp).
#pragma once

#include "core/collector.hpp"
#include "pcapng_reader.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace core_test {

namespace fs = std::filesystem;
using namespace evpnmon::collector;
using Bytes = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;
using collector_test::files_of;

inline constexpr std::uint64_t sec = 1'000'000'000ull;
inline constexpr std::uint64_t t0 = 1796290200ull * sec; // 2026-12-03T09:30:00Z
inline constexpr Mac kHost{0x02, 0, 0, 0, 0, 0x11};
inline constexpr Mac kPeer{0x02, 0, 0, 0, 0, 0x22};

inline void put16(Bytes &b, std::uint32_t v)
{
	b.push_back(static_cast<std::uint8_t>(v >> 8));
	b.push_back(static_cast<std::uint8_t>(v));
}
inline void put32(Bytes &b, std::uint32_t v)
{
	put16(b, v >> 16);
	put16(b, v);
}

inline IpAddr ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
{
	IpAddr x;
	x.bytes[0] = a;
	x.bytes[1] = b;
	x.bytes[2] = c;
	x.bytes[3] = d;
	return x;
}

// Ethernet + IPv4 + TCP (no options) + payload_len zero octets. `ip_extra`
// makes the IPv4 total length claim more than is present (a cut copy).
inline Bytes tcp_frame(const Mac &dst, const Mac &src, const IpAddr &sip, const IpAddr &dip,
		       std::uint16_t sport, std::uint16_t dport, std::uint8_t flags, std::uint32_t seq,
		       std::uint32_t ack, std::size_t payload_len = 0, std::size_t ip_extra = 0)
{
	Bytes b(dst.begin(), dst.end());
	b.insert(b.end(), src.begin(), src.end());
	put16(b, 0x0800);
	const std::size_t ip_len = 20 + 20 + payload_len + ip_extra;
	const std::size_t ip_start = b.size();
	b.push_back(0x45);
	b.push_back(0);
	put16(b, static_cast<std::uint32_t>(ip_len));
	put16(b, 1);
	put16(b, 0x4000);
	b.push_back(64);
	b.push_back(6);
	put16(b, 0);
	b.insert(b.end(), sip.bytes.begin(), sip.bytes.begin() + 4);
	b.insert(b.end(), dip.bytes.begin(), dip.bytes.begin() + 4);
	std::uint32_t s = 0;
	for (std::size_t i = ip_start; i < ip_start + 20; i += 2)
		s += static_cast<std::uint32_t>(b[i] << 8 | b[i + 1]);
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	b[ip_start + 10] = static_cast<std::uint8_t>(~s >> 8);
	b[ip_start + 11] = static_cast<std::uint8_t>(~s);
	put16(b, sport);
	put16(b, dport);
	put32(b, seq);
	put32(b, ack);
	b.push_back(5 << 4);
	b.push_back(flags);
	put16(b, 65535);
	put16(b, 0);
	put16(b, 0);
	b.insert(b.end(), payload_len, 0);
	return b;
}

// ARP-sized non-IP frame (original length not derivable).
inline Bytes arp_frame(const Mac &dst, const Mac &src)
{
	Bytes b(dst.begin(), dst.end());
	b.insert(b.end(), src.begin(), src.end());
	put16(b, 0x0806);
	b.insert(b.end(), 28, 0);
	return b;
}

inline Copy erspan3(const IpAddr &src, std::uint16_t span, std::uint32_t seq, const Bytes &frame)
{
	Copy c;
	c.encap = Encap::ErspanIII;
	c.source = src;
	c.destination = ip4(10, 9, 0, 1);
	c.has_seq = true;
	c.seq = seq;
	c.span_id = span;
	c.frame = frame;
	return c;
}

// Scratch directories of the core tests: /tmp/evpnmon-core-XXXXXX.
struct TempDir : collector_test::TempDir {
	TempDir() : collector_test::TempDir("evpnmon-core") {}
};

// What the tests read back from a pcapng file.
struct Epb {
	std::uint32_t interface = 0;
	std::uint64_t ts = 0; // in the IDB's units (ns: if_tsresol 9)
	std::uint32_t caplen = 0, origlen = 0;
	std::uint32_t flags = 0;
	bool has_dropcount = false;
	std::uint64_t dropcount = 0;
	std::string comment;
};
struct Idb {
	std::string name, description;
};
struct Isb {
	std::uint32_t interface = 0;
	bool has_ifdrop = false;
	std::uint64_t ifdrop = 0;
};
struct PcapngFile {
	std::vector<Idb> idbs;
	std::vector<Epb> epbs;
	std::vector<Isb> isbs;
};

// A whole file that starts with a section header, through the shared
// reader (which fails the test on any structural error), as the blocks
// and options the core sets.
inline PcapngFile read_pcapng(const fs::path &path)
{
	const auto blocks = collector_test::read_blocks(path);
	REQUIRE(!blocks.empty());
	REQUIRE(blocks.front().type == 0x0A0D0D0A);
	PcapngFile f;
	for (const auto &b : blocks) {
		if (b.type == 1) {
			Idb idb;
			if (const auto *o = b.opt(2))
				idb.name = o->str();
			if (const auto *o = b.opt(3))
				idb.description = o->str();
			f.idbs.push_back(idb);
		} else if (b.type == 6) {
			Epb e;
			e.interface = b.interface_id;
			e.ts = b.ts;
			e.caplen = b.caplen;
			e.origlen = b.origlen;
			if (const auto *o = b.opt(2))
				e.flags = o->u32();
			if (const auto *o = b.opt(4)) {
				e.has_dropcount = true;
				e.dropcount = o->u64();
			}
			if (const auto *o = b.opt(1))
				e.comment = o->str();
			f.epbs.push_back(e);
		} else if (b.type == 5) {
			Isb s;
			s.interface = b.interface_id;
			if (const auto *o = b.opt(5)) {
				s.has_ifdrop = true;
				s.ifdrop = o->u64();
			}
			f.isbs.push_back(s);
		}
	}
	return f;
}

// EPBs in a file that may still be written (no REQUIRE): -1 while it is
// not a whole pcapng yet.
inline int count_epbs(const fs::path &path)
{
	const auto b = collector_test::slurp(path);
	if (b.size() < 28 || collector_test::rd32(b.data()) != 0x0A0D0D0A)
		return -1;
	int n = 0;
	for (std::size_t off = 0; off < b.size();) {
		const std::uint32_t len = collector_test::whole_block_length(b, off);
		if (len == 0)
			return -1;
		n += collector_test::rd32(&b[off]) == 6;
		off += len;
	}
	return n;
}

} // namespace core_test
