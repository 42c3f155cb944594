// Test helpers for the record trackers: Frame values built directly (no
// decoder involved), a sink that keeps every record, a pcap reader for
// captures written by the scapy scripts next to this file.
#pragma once

#include "decode/frame.hpp"
#include "records/context.hpp"

#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace records_test {

using namespace evpnmon::collector;
namespace rec = evpnmon::collector::records;

inline IpAddr ip(const char *text)
{
	IpAddr a;
	if (inet_pton(AF_INET, text, a.bytes.data()) == 1)
		return a;
	a.v6 = true;
	if (inet_pton(AF_INET6, text, a.bytes.data()) != 1)
		throw std::invalid_argument(text);
	return a;
}

constexpr std::uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

struct Endpoint {
	const char *addr;
	std::uint16_t port;
};

// A TCP segment as decode_frame would report it.
inline Frame tcp(Endpoint from, Endpoint to, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack = 0,
		 std::uint32_t payload = 0, std::uint16_t window = 1000)
{
	Frame f;
	f.ethertype = 0x0800;
	f.has_ip = true;
	f.src_ip = ip(from.addr);
	f.dst_ip = ip(to.addr);
	f.ethertype = f.src_ip.v6 ? 0x86dd : 0x0800;
	f.ip_proto = 6;
	f.ip_len = (f.src_ip.v6 ? 40 : 20) + 20 + payload;
	f.has_ports = true;
	f.sport = from.port;
	f.dport = to.port;
	f.has_tcp = true;
	f.tcp.flags = flags;
	f.tcp.seq = seq;
	f.tcp.ack = ack;
	f.tcp.window = window;
	f.tcp.options_complete = true;
	f.tcp.payload_len = payload;
	f.captured_len = f.original_len = 14 + f.ip_len;
	return f;
}

// A RoCEv2 packet (UDP 4791) with its BTH, and the AETH of an RC ACK.
inline Frame roce(const char *src, const char *dst, std::uint8_t opcode, std::uint32_t qp, std::uint32_t psn = 0,
		  int syndrome = -1)
{
	Frame f;
	f.ethertype = 0x0800;
	f.has_ip = true;
	f.src_ip = ip(src);
	f.dst_ip = ip(dst);
	f.ip_proto = 17;
	f.ip_len = 20 + 8 + 12 + (syndrome >= 0 ? 4 : 0) + 4;
	f.has_ports = true;
	f.sport = 49152;
	f.dport = 4791;
	f.has_bth = true;
	f.bth.opcode = opcode;
	f.bth.dest_qp = qp;
	f.bth.psn = psn;
	if (syndrome >= 0) {
		f.bth.has_aeth = true;
		f.bth.syndrome = static_cast<std::uint8_t>(syndrome);
	}
	f.captured_len = f.original_len = 14 + f.ip_len;
	return f;
}

struct Log {
	std::vector<v1::Envelope> all;
	rec::Sink sink()
	{
		return [this](v1::Envelope &&e) { all.push_back(std::move(e)); };
	}
	std::vector<v1::TcpRecord> tcp(v1::TcpRecord::Event ev) const
	{
		std::vector<v1::TcpRecord> out;
		for (const auto &e : all)
			if (e.has_tcp() && e.tcp().event() == ev)
				out.push_back(e.tcp());
		return out;
	}
	std::vector<v1::RoceRecord> roce() const
	{
		std::vector<v1::RoceRecord> out;
		for (const auto &e : all)
			if (e.has_roce())
				out.push_back(e.roce());
		return out;
	}
};

inline v1::SessionRef session(const char *name, const char *source = "192.0.2.1")
{
	v1::SessionRef s;
	s.set_name(name);
	s.set_source(source);
	s.set_span_id(7);
	return s;
}

// pcap (classic), micro- or nanosecond flavour, little-endian as written
// by scapy on this machine.
struct PcapPacket {
	std::uint64_t ts_ns;
	std::vector<std::uint8_t> data;
};

inline std::vector<PcapPacket> read_pcap(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot open " + path);
	std::uint32_t hdr[6];
	in.read(reinterpret_cast<char *>(hdr), sizeof hdr);
	if (!in)
		throw std::runtime_error("short pcap header");
	std::uint64_t frac_ns;
	if (hdr[0] == 0xa1b23c4d)
		frac_ns = 1;
	else if (hdr[0] == 0xa1b2c3d4)
		frac_ns = 1000;
	else
		throw std::runtime_error("not a little-endian pcap");
	if (hdr[5] != 1)
		throw std::runtime_error("not Ethernet");
	std::vector<PcapPacket> out;
	for (;;) {
		std::uint32_t rec[4];
		in.read(reinterpret_cast<char *>(rec), sizeof rec);
		if (!in)
			break;
		PcapPacket p;
		p.ts_ns = std::uint64_t(rec[0]) * 1'000'000'000ULL + std::uint64_t(rec[1]) * frac_ns;
		p.data.resize(rec[2]);
		in.read(reinterpret_cast<char *>(p.data.data()), rec[2]);
		if (!in)
			throw std::runtime_error("short pcap record");
		out.push_back(std::move(p));
	}
	return out;
}

inline std::string run(const std::string &cmd)
{
	std::string out;
	FILE *p = popen(cmd.c_str(), "r");
	if (!p)
		throw std::runtime_error("popen " + cmd);
	char buf[4096];
	std::size_t n;
	while ((n = fread(buf, 1, sizeof buf, p)) > 0)
		out.append(buf, n);
	const int rc = pclose(p);
	if (rc != 0)
		throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd + "\n" + out);
	return out;
}

inline std::string source_dir()
{
	const char *s = std::getenv("EVPNMON_SOURCE_DIR");
	return s ? s : ".";
}

inline bool have_program(const char *name)
{
	return std::system(("command -v " + std::string(name) + " >/dev/null 2>&1").c_str()) == 0;
}

// Missing tools skip a test unless EVPNMON_NO_SKIP asks for failure.
inline bool no_skip()
{
	const char *s = std::getenv("EVPNMON_NO_SKIP");
	return s && *s && std::string(s) != "0";
}

} // namespace records_test
