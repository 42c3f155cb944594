// Test helpers of the core tests: frames built octet by octet, copies as
// the decoders would hand them over, a scratch directory and a small
// pcapng reader (blocks and the options the core sets).
#pragma once

#include "core/collector.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace core_test {

namespace fs = std::filesystem;
using namespace evpnmon::collector;
using Bytes = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;

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

struct TempDir {
	fs::path path;
	TempDir()
	{
		char tmpl[] = "/tmp/evpnmon-core-XXXXXX";
		char *p = ::mkdtemp(tmpl);
		REQUIRE(p != nullptr);
		path = p;
	}
	~TempDir()
	{
		std::error_code ec;
		if (!std::getenv("EVPNMON_KEEP_TMP"))
			fs::remove_all(path, ec);
	}
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

inline std::uint32_t le32(const std::uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
inline std::uint16_t le16(const std::uint8_t *p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
inline std::uint64_t le64(const std::uint8_t *p) { return le32(p) | static_cast<std::uint64_t>(le32(p + 4)) << 32; }

template <typename F> void each_option(const std::uint8_t *p, const std::uint8_t *end, F &&f)
{
	while (p + 4 <= end) {
		const std::uint16_t code = le16(p), len = le16(p + 2);
		if (code == 0 || p + 4 + len > end)
			break;
		f(code, p + 4, len);
		p += 4 + ((len + 3u) & ~3u);
	}
}

inline PcapngFile read_pcapng(const fs::path &path)
{
	std::ifstream in(path, std::ios::binary);
	const Bytes b((std::istreambuf_iterator<char>(in)), {});
	PcapngFile f;
	std::size_t off = 0;
	REQUIRE(b.size() >= 28);
	REQUIRE(le32(b.data()) == 0x0A0D0D0A);
	while (off + 12 <= b.size()) {
		const std::uint32_t type = le32(&b[off]), len = le32(&b[off + 4]);
		REQUIRE(len >= 12);
		REQUIRE(off + len <= b.size());
		REQUIRE(le32(&b[off + len - 4]) == len);
		const std::uint8_t *body = &b[off + 8], *end = &b[off + len - 4];
		if (type == 1) {
			Idb idb;
			each_option(body + 8, end, [&](std::uint16_t code, const std::uint8_t *v, std::uint16_t n) {
				if (code == 2)
					idb.name.assign(reinterpret_cast<const char *>(v), n);
				if (code == 3)
					idb.description.assign(reinterpret_cast<const char *>(v), n);
			});
			f.idbs.push_back(idb);
		} else if (type == 6) {
			Epb e;
			e.interface = le32(body);
			e.ts = static_cast<std::uint64_t>(le32(body + 4)) << 32 | le32(body + 8);
			e.caplen = le32(body + 12);
			e.origlen = le32(body + 16);
			each_option(body + 20 + ((e.caplen + 3u) & ~3u), end,
				    [&](std::uint16_t code, const std::uint8_t *v, std::uint16_t n) {
					    if (code == 2 && n == 4)
						    e.flags = le32(v);
					    if (code == 4 && n == 8) {
						    e.has_dropcount = true;
						    e.dropcount = le64(v);
					    }
					    if (code == 1)
						    e.comment.assign(reinterpret_cast<const char *>(v), n);
				    });
			f.epbs.push_back(e);
		} else if (type == 5) {
			Isb s;
			s.interface = le32(body);
			each_option(body + 12, end, [&](std::uint16_t code, const std::uint8_t *v, std::uint16_t n) {
				if (code == 5 && n == 8) {
					s.has_ifdrop = true;
					s.ifdrop = le64(v);
				}
			});
			f.isbs.push_back(s);
		}
		off += len;
	}
	REQUIRE(off == b.size());
	return f;
}

// EPBs in a file that may still be written (no REQUIRE): -1 while it is
// not a whole pcapng yet.
inline int count_epbs(const fs::path &path)
{
	std::ifstream in(path, std::ios::binary);
	const Bytes b((std::istreambuf_iterator<char>(in)), {});
	if (b.size() < 28 || le32(b.data()) != 0x0A0D0D0A)
		return -1;
	std::size_t off = 0;
	int n = 0;
	while (off + 12 <= b.size()) {
		const std::uint32_t type = le32(&b[off]), len = le32(&b[off + 4]);
		if (len < 12 || off + len > b.size())
			return -1;
		n += type == 6;
		off += len;
	}
	return off == b.size() ? n : -1;
}

// Every file of a session directory, oldest (lowest number) first.
inline std::vector<fs::path> files_of(const fs::path &dir)
{
	std::vector<fs::path> out;
	if (!fs::exists(dir))
		return out;
	for (const auto &e : fs::directory_iterator(dir))
		out.push_back(e.path());
	std::sort(out.begin(), out.end());
	return out;
}

} // namespace core_test
