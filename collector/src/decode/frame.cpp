// The mirrored Ethernet frame: L2, IPv4/IPv6, TCP/UDP, RoCEv2 BTH + AETH.
// A truncated copy decodes as far as its octets reach; sizes that describe
// the original (IP total length, TCP payload) come from the headers.
#include "decode/bytes.hpp"
#include "decode/decode.hpp"

#include <algorithm>
#include <cstring>

namespace evpnmon::collector {

namespace {

using wire::be16;
using wire::be24;
using wire::be32;

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86dd;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::uint16_t kRoceV2Port = 4791;
constexpr std::size_t kBthLen = 12;
constexpr std::size_t kAethLen = 4;
constexpr std::uint8_t kOpRcAck = 0x11;

bool is_vlan_tpid(std::uint16_t t)
{
	return t == 0x8100 || t == 0x88a8 || t == 0x9100;
}

// The L4 header and what the original had of it.
struct L4 {
	std::span<const std::uint8_t> bytes; // captured, up to the IP length
	std::uint32_t original_len;          // from the IP header
	bool length_known;                   // false: a fragment or a jumbogram
};

DecodeError decode_tcp_options(std::span<const std::uint8_t> h, std::size_t doff, TcpSegment &t)
{
	const std::size_t end = std::min(doff, h.size());
	std::size_t i = 20;
	while (i < end) {
		const std::uint8_t kind = h[i];
		if (kind == 0) // end of option list
			break;
		if (kind == 1) { // NOP
			++i;
			continue;
		}
		if (i + 1 >= end) // length octet cut by the copy, or beyond doff
			return i + 1 >= doff ? DecodeError::BadTcp : DecodeError::None;
		const std::size_t len = h[i + 1];
		if (len < 2 || i + len > doff)
			return DecodeError::BadTcp;
		if (i + len > end) // cut by the truncation
			break;
		switch (kind) {
		case 2:
			if (len == 4)
				t.mss = be16(h, i + 2);
			break;
		case 3:
			// RFC 7323: shifts above 14 are used as 14.
			if (len == 3)
				t.window_scale = static_cast<std::int8_t>(std::min<std::uint8_t>(h[i + 2], 14));
			break;
		case 4:
			if (len == 2)
				t.sack_permitted = true;
			break;
		case 8:
			if (len == 10)
				t.timestamps = true;
			break;
		default:
			break;
		}
		i += len;
	}
	return DecodeError::None;
}

DecodeError decode_tcp(const L4 &l4, Frame &out)
{
	const auto h = l4.bytes;
	if (h.size() < 20)
		return DecodeError::None;
	const std::size_t doff = static_cast<std::size_t>(h[12] >> 4) * 4;
	if (doff < 20 || (l4.length_known && doff > l4.original_len))
		return DecodeError::BadTcp;
	out.has_tcp = true;
	TcpSegment &t = out.tcp;
	t.seq = be32(h, 4);
	t.ack = be32(h, 8);
	t.flags = h[13];
	t.window = be16(h, 14);
	t.options_complete = h.size() >= doff;
	t.payload_len = l4.length_known ? static_cast<std::uint32_t>(l4.original_len - doff)
					: static_cast<std::uint32_t>(h.size() > doff ? h.size() - doff : 0);
	return decode_tcp_options(h, doff, t);
}

DecodeError decode_udp(const L4 &l4, Frame &out)
{
	const auto h = l4.bytes;
	if (h.size() < 8)
		return DecodeError::None;
	const std::size_t ulen = be16(h, 4);
	if (ulen < 8 || (l4.length_known && ulen > l4.original_len))
		return DecodeError::BadUdp;
	if (out.dport != kRoceV2Port)
		return DecodeError::None;
	if (ulen < 8 + kBthLen)
		return DecodeError::BadBth;
	const auto b = h.subspan(8, std::min(h.size(), ulen) - 8);
	if (b.size() < kBthLen)
		return DecodeError::None;
	if ((b[1] & 0x0f) != 0) // TVer: transport header version 0
		return DecodeError::BadBth;
	out.has_bth = true;
	Bth &bth = out.bth;
	bth.opcode = b[0];
	bth.dest_qp = be24(b, 5);
	bth.psn = be24(b, 9);
	if (bth.opcode == kOpRcAck && ulen >= 8 + kBthLen + kAethLen && b.size() >= kBthLen + kAethLen) {
		bth.has_aeth = true;
		bth.syndrome = b[12];
		bth.msn = be24(b, 13);
	}
	return DecodeError::None;
}

DecodeError decode_l4(const L4 &l4, Frame &out)
{
	if (out.ip_proto != kProtoTcp && out.ip_proto != kProtoUdp)
		return DecodeError::None;
	if (l4.bytes.size() >= 4) {
		out.has_ports = true;
		out.sport = be16(l4.bytes, 0);
		out.dport = be16(l4.bytes, 2);
	}
	return out.ip_proto == kProtoTcp ? decode_tcp(l4, out) : decode_udp(l4, out);
}

DecodeError decode_ipv4(std::span<const std::uint8_t> ip, std::size_t l2, Frame &out)
{
	if (ip.size() < 20)
		return DecodeError::None;
	if (ip[0] >> 4 != 4)
		return DecodeError::BadIp;
	const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
	const std::size_t total = be16(ip, 2);
	if (ihl < 20 || total < ihl)
		return DecodeError::BadIp;
	out.has_ip = true;
	std::uint32_t a;
	std::memcpy(&a, ip.data() + 12, 4);
	out.src_ip = IpAddr::v4(a);
	std::memcpy(&a, ip.data() + 16, 4);
	out.dst_ip = IpAddr::v4(a);
	out.ip_proto = ip[9];
	out.ip_len = static_cast<std::uint32_t>(total);
	out.original_len = std::max<std::uint32_t>(out.captured_len, static_cast<std::uint32_t>(l2 + total));
	const std::uint16_t frag = be16(ip, 6);
	if (frag & 0x1fff) // not the first fragment: no L4 header here
		return DecodeError::None;
	if (ip.size() < ihl)
		return DecodeError::None;
	const std::size_t have = std::min(ip.size(), total);
	return decode_l4({ip.subspan(ihl, have - ihl), static_cast<std::uint32_t>(total - ihl),
			  (frag & 0x2000) == 0},
			 out);
}

DecodeError decode_ipv6(std::span<const std::uint8_t> ip, std::size_t l2, Frame &out)
{
	constexpr std::size_t kFixed = 40;
	if (ip.size() < kFixed)
		return DecodeError::None;
	if (ip[0] >> 4 != 6)
		return DecodeError::BadIp;
	out.has_ip = true;
	out.src_ip.v6 = out.dst_ip.v6 = true;
	std::memcpy(out.src_ip.bytes.data(), ip.data() + 8, 16);
	std::memcpy(out.dst_ip.bytes.data(), ip.data() + 24, 16);
	const std::size_t payload = be16(ip, 4);
	// Payload length 0 is a jumbogram (hop-by-hop option): size unknown.
	const bool known = payload != 0;
	const std::size_t total = kFixed + payload;
	if (known) {
		out.ip_len = static_cast<std::uint32_t>(total);
		out.original_len = std::max<std::uint32_t>(out.captured_len, static_cast<std::uint32_t>(l2 + total));
	}
	const std::size_t have = known ? std::min(ip.size(), total) : ip.size();
	std::uint8_t next = ip[6];
	std::size_t off = kFixed;
	bool fragment = false;
	// Extension headers, a bounded walk: hop-by-hop, routing, destination
	// options (8-octet units), fragment (8 octets), AH (4-octet units).
	for (int n = 0; n < 8; ++n) {
		std::size_t len;
		if (next == 0 || next == 43 || next == 60) {
			if (off + 2 > have)
				break;
			len = (std::size_t{ip[off + 1]} + 1) * 8;
		} else if (next == 44) {
			if (off + 8 > have)
				break;
			len = 8;
			fragment = true;
			if (be16(ip, off + 2) & 0xfff8) { // not the first fragment
				out.ip_proto = ip[off];
				return DecodeError::None;
			}
		} else if (next == 51) {
			if (off + 2 > have)
				break;
			len = (std::size_t{ip[off + 1]} + 2) * 4;
		} else {
			break;
		}
		if (known && off + len > total)
			return DecodeError::BadIp;
		next = ip[off];
		off += len;
	}
	out.ip_proto = next;
	if (next == 0 || next == 43 || next == 60 || next == 44 || next == 51 || off > have)
		return DecodeError::None; // the chain goes past the copy (or 8 headers)
	const std::uint32_t l4_len = known ? static_cast<std::uint32_t>(total - off) : 0;
	return decode_l4({ip.subspan(off, have - off), l4_len, known && !fragment}, out);
}

} // namespace

DecodeError decode_frame(std::span<const std::uint8_t> f, Frame &out)
{
	out = Frame{};
	out.captured_len = out.original_len = static_cast<std::uint32_t>(f.size());
	if (f.size() < 14)
		return DecodeError::BadEthernet;
	std::memcpy(out.dst_mac.data(), f.data(), 6);
	std::memcpy(out.src_mac.data(), f.data() + 6, 6);
	std::size_t off = 12;
	std::uint16_t type = be16(f, off);
	for (int tags = 0; is_vlan_tpid(type); ++tags) {
		if (tags == 2 || f.size() < off + 6)
			return DecodeError::BadVlan;
		if (tags == 0)
			out.vlan = be16(f, off + 2) & 0x0fff;
		off += 4;
		type = be16(f, off);
	}
	out.ethertype = type;
	const std::size_t l2 = off + 2;
	if (type == kEtherIpv4)
		return decode_ipv4(f.subspan(l2), l2, out);
	if (type == kEtherIpv6)
		return decode_ipv6(f.subspan(l2), l2, out);
	return DecodeError::None;
}

} // namespace evpnmon::collector
