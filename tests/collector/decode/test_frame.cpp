// The mirrored frame: L2, VLANs, IPv4/IPv6, TCP options, UDP, RoCEv2,
// truncated copies, and the malformed headers.
#include "decode/builder.hpp"

#include "decode/decode.hpp"

#include <doctest/doctest.h>

using namespace evpnmon::collector;
using namespace evpnmon::collector::test;

namespace {

// MSS 1460, SACK permitted, timestamps, NOP, window scale 7 (a Linux SYN)
const Bytes kSynOptions = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};

Bytes cut(const Bytes &b, std::size_t n)
{
	return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(std::min(n, b.size())));
}

Bytes roce_frame(const Bytes &bth_bytes, int udp_len_override = -1)
{
	const Bytes payload = cat({bth_bytes, Bytes(4, 0)}); // + ICRC
	const Bytes u = udp(49152, 4791, payload.size(), udp_len_override);
	Ip4 ip;
	ip.proto = 17;
	return cat({ether(kPeerMac, kHostMac, 0x0800), ipv4(ip, u.size() + payload.size()), u, payload});
}

} // namespace

TEST_CASE("IPv4 TCP SYN with its options")
{
	const Bytes f = tcp_frame(0x02, 0, kSynOptions);
	Frame fr;
	REQUIRE(decode_frame(f, fr) == DecodeError::None);
	CHECK(fr.dst_mac == kPeerMac);
	CHECK(fr.src_mac == kHostMac);
	CHECK(fr.vlan == 0);
	CHECK(fr.ethertype == 0x0800);
	CHECK(fr.has_ip);
	CHECK(fr.src_ip.to_string() == "10.0.0.1");
	CHECK(fr.dst_ip.to_string() == "10.0.0.2");
	CHECK(fr.ip_proto == 6);
	CHECK(fr.ip_len == 20 + 40);
	CHECK(fr.has_ports);
	CHECK(fr.sport == 40000);
	CHECK(fr.dport == 80);
	REQUIRE(fr.has_tcp);
	CHECK(fr.tcp.flags == 0x02);
	CHECK(fr.tcp.seq == 1000);
	CHECK(fr.tcp.window == 65535);
	CHECK(fr.tcp.options_complete);
	CHECK(fr.tcp.mss == 1460);
	CHECK(fr.tcp.window_scale == 7);
	CHECK(fr.tcp.sack_permitted);
	CHECK(fr.tcp.timestamps);
	CHECK(fr.tcp.payload_len == 0);
	CHECK_FALSE(fr.has_bth);
	CHECK(fr.captured_len == f.size());
	CHECK(fr.original_len == f.size());
}

TEST_CASE("truncated copies decode as far as they go; sizes come from the headers")
{
	const Bytes f = tcp_frame(0x18, 1400);
	Frame fr;
	REQUIRE(decode_frame(cut(f, 64), fr) == DecodeError::None);
	CHECK(fr.captured_len == 64);
	CHECK(fr.original_len == f.size());
	CHECK(fr.ip_len == 20 + 20 + 1400);
	REQUIRE(fr.has_tcp);
	CHECK(fr.tcp.payload_len == 1400);
	CHECK(fr.tcp.flags == 0x18);

	// cut inside the TCP options: the ones that were there, flagged
	const Bytes syn = tcp_frame(0x02, 0, kSynOptions);
	REQUIRE(decode_frame(cut(syn, 14 + 20 + 20 + 5), fr) == DecodeError::None);
	REQUIRE(fr.has_tcp);
	CHECK_FALSE(fr.tcp.options_complete);
	CHECK(fr.tcp.mss == 1460);
	CHECK_FALSE(fr.tcp.sack_permitted);
	CHECK(fr.tcp.window_scale == -1);

	// the ports but not the whole TCP header
	REQUIRE(decode_frame(cut(f, 14 + 20 + 6), fr) == DecodeError::None);
	CHECK(fr.has_ports);
	CHECK(fr.sport == 40000);
	CHECK_FALSE(fr.has_tcp);
	// not even the ports
	REQUIRE(decode_frame(cut(f, 14 + 20 + 3), fr) == DecodeError::None);
	CHECK(fr.has_ip);
	CHECK_FALSE(fr.has_ports);
	// not the whole IP header: L2 only
	REQUIRE(decode_frame(cut(f, 14 + 19), fr) == DecodeError::None);
	CHECK_FALSE(fr.has_ip);
	CHECK(fr.ethertype == 0x0800);
	CHECK(fr.original_len == 14 + 19);

	// every prefix: no error, nothing read past the end
	for (std::size_t n = 14; n <= f.size(); ++n)
		CHECK(decode_frame(cut(f, n), fr) == DecodeError::None);
	for (std::size_t n = 14; n <= syn.size(); ++n)
		CHECK(decode_frame(cut(syn, n), fr) == DecodeError::None);
}

TEST_CASE("Ethernet padding is not payload")
{
	Bytes f = tcp_frame(0x10);
	f.resize(60, 0);
	Frame fr;
	REQUIRE(decode_frame(f, fr) == DecodeError::None);
	CHECK(fr.ip_len == 40);
	CHECK(fr.tcp.payload_len == 0);
	CHECK(fr.original_len == 60);
}

TEST_CASE("VLAN tags: one, two, three")
{
	const Bytes inner = cut(tcp_frame(0x02), 200);
	const Bytes l3(inner.begin() + 14, inner.end());
	Frame fr;
	REQUIRE(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0800, {0x8100a064}), l3}), fr) == DecodeError::None);
	CHECK(fr.vlan == 100);
	CHECK(fr.ethertype == 0x0800);
	CHECK(fr.has_tcp);
	CHECK(fr.original_len == 18 + 40);
	REQUIRE(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0800, {0x88a80fff, 0x81000002}), l3}), fr) ==
		DecodeError::None);
	CHECK(fr.vlan == 0xfff);
	CHECK(fr.has_tcp);
	CHECK(fr.original_len == 22 + 40);
	CHECK(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0800, {0x88a80001, 0x81000002, 0x81000003}), l3}), fr) ==
	      DecodeError::BadVlan);
	CHECK(fr.vlan == 1); // what came before the error stays
	CHECK(decode_frame(ether(kPeerMac, kHostMac, 0x8100), fr) == DecodeError::BadVlan);
	CHECK(decode_frame(Bytes(13, 0), fr) == DecodeError::BadEthernet);
	// not IP: L2 only, no error
	REQUIRE(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0806), Bytes(28, 0)}), fr) == DecodeError::None);
	CHECK(fr.ethertype == 0x0806);
	CHECK_FALSE(fr.has_ip);
}

TEST_CASE("IPv4 options, fragments, malformed headers")
{
	const Bytes t = tcp(1, 2, 0x02);
	Ip4 ip;
	ip.options = {0x94, 0x04, 0, 0}; // router alert
	Frame fr;
	REQUIRE(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0800), ipv4(ip, t.size()), t}), fr) == DecodeError::None);
	CHECK(fr.has_tcp);
	CHECK(fr.sport == 1);

	ip = {};
	ip.frag = 0x0005; // not the first fragment: no L4 header
	REQUIRE(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0800), ipv4(ip, t.size()), t}), fr) == DecodeError::None);
	CHECK(fr.has_ip);
	CHECK_FALSE(fr.has_ports);
	ip.frag = 0x2000; // first fragment: L4 there
	REQUIRE(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0800), ipv4(ip, t.size()), t}), fr) == DecodeError::None);
	CHECK(fr.has_tcp);

	ip = {};
	ip.version = 6; // EtherType says IPv4
	CHECK(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0800), ipv4(ip, t.size()), t}), fr) == DecodeError::BadIp);
	ip = {};
	ip.ihl_override = 3;
	CHECK(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0800), ipv4(ip, t.size()), t}), fr) == DecodeError::BadIp);
	ip = {};
	ip.total_override = 16;
	CHECK(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0800), ipv4(ip, t.size()), t}), fr) == DecodeError::BadIp);
}

TEST_CASE("TCP: malformed data offset and options")
{
	Ip4 ip;
	Frame fr;
	auto frame = [&](const Bytes &t) { return cat({ether(kPeerMac, kHostMac, 0x0800), ipv4(ip, t.size()), t}); };
	CHECK(decode_frame(frame(tcp(1, 2, 0x02, 0, 0, {}, 4)), fr) == DecodeError::BadTcp);
	CHECK(fr.has_ports); // ports were read before
	CHECK(decode_frame(frame(tcp(1, 2, 0x02, 0, 0, {}, 6)), fr) == DecodeError::BadTcp); // beyond IP length
	CHECK(decode_frame(frame(tcp(1, 2, 0x02, 0, 0, {2, 1, 0, 0})), fr) == DecodeError::BadTcp); // len 1
	CHECK(decode_frame(frame(tcp(1, 2, 0x02, 0, 0, {1, 1, 2, 6})), fr) == DecodeError::BadTcp); // past doff
	CHECK(decode_frame(frame(tcp(1, 2, 0x02, 0, 0, {1, 1, 1, 2})), fr) == DecodeError::BadTcp); // no length octet
	// unknown options skipped, wrong-size known ones ignored, EOL stops
	REQUIRE(decode_frame(frame(tcp(1, 2, 0x02, 0, 0, {30, 4, 0, 0, 2, 3, 5, 3, 3, 20, 0, 2})), fr) ==
		DecodeError::None);
	CHECK(fr.tcp.mss == 0);
	CHECK(fr.tcp.window_scale == 14); // RFC 7323: at most 14
}

TEST_CASE("IPv6: extension headers, fragments")
{
	const Bytes t = tcp(443, 5555, 0x12, 7, 1001, kSynOptions);
	Frame fr;
	REQUIRE(decode_frame(cat({ether(kPeerMac, kHostMac, 0x86dd), ipv6(6, t.size()), t}), fr) == DecodeError::None);
	CHECK(fr.has_ip);
	CHECK(fr.src_ip.v6);
	CHECK(fr.src_ip.to_string() == "2001:db8::1");
	CHECK(fr.dst_ip.to_string() == "2001:db8::2");
	CHECK(fr.ip_proto == 6);
	CHECK(fr.ip_len == 40 + t.size());
	CHECK(fr.tcp.ack == 1001);
	CHECK(fr.tcp.mss == 1460);

	// hop-by-hop (8) + destination options (16) + fragment (first) + TCP
	Bytes ext = {60, 0, 1, 4, 0, 0, 0, 0, /**/ 44, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		     /**/ 6, 0, 0x00, 0x01, 0, 0, 0, 1};
	REQUIRE(decode_frame(cat({ether(kPeerMac, kHostMac, 0x86dd), ipv6(0, ext.size() + t.size()), ext, t}), fr) ==
		DecodeError::None);
	CHECK(fr.ip_proto == 6);
	CHECK(fr.has_tcp);
	CHECK(fr.sport == 443);
	// a later fragment: no L4 header
	ext[26] = 0x05;
	REQUIRE(decode_frame(cat({ether(kPeerMac, kHostMac, 0x86dd), ipv6(0, ext.size() + t.size()), ext, t}), fr) ==
		DecodeError::None);
	CHECK(fr.ip_proto == 6);
	CHECK_FALSE(fr.has_ports);
	// an extension header longer than the payload length
	CHECK(decode_frame(cat({ether(kPeerMac, kHostMac, 0x86dd), ipv6(0, 8), Bytes{59, 3, 0, 0, 0, 0, 0, 0}}), fr) ==
	      DecodeError::BadIp);
	// version nibble wrong for the EtherType
	Bytes v = ipv6(6, t.size());
	v[0] = 0x40;
	CHECK(decode_frame(cat({ether(kPeerMac, kHostMac, 0x86dd), v, t}), fr) == DecodeError::BadIp);
	// every prefix decodes without error
	const Bytes whole = cat({ether(kPeerMac, kHostMac, 0x86dd), ipv6(0, ext.size() + t.size()), ext, t});
	for (std::size_t n = 14; n <= whole.size(); ++n)
		CHECK(decode_frame(cut(whole, n), fr) == DecodeError::None);
}

TEST_CASE("UDP and RoCEv2: CNP, NAK with AETH, malformed")
{
	Frame fr;
	REQUIRE(decode_frame(roce_frame(bth(0x81, 0x00abcd, 0x123456)), fr) == DecodeError::None);
	CHECK(fr.ip_proto == 17);
	CHECK(fr.dport == 4791);
	REQUIRE(fr.has_bth);
	CHECK(fr.bth.opcode == 0x81);
	CHECK(fr.bth.dest_qp == 0x00abcd);
	CHECK(fr.bth.psn == 0x123456);
	CHECK_FALSE(fr.bth.has_aeth);

	REQUIRE(decode_frame(roce_frame(bth(0x11, 0x10, 0x777, 0x60, 0x000102)), fr) == DecodeError::None);
	REQUIRE(fr.bth.has_aeth);
	CHECK(fr.bth.syndrome == 0x60);
	CHECK(fr.bth.msn == 0x000102);
	CHECK(fr.bth.psn == 0x777);
	// an RC ACK cut before its AETH: BTH only
	const Bytes nak = roce_frame(bth(0x11, 0x10, 0x777, 0x21, 1));
	REQUIRE(decode_frame(cut(nak, 14 + 20 + 8 + 13), fr) == DecodeError::None);
	CHECK(fr.has_bth);
	CHECK_FALSE(fr.bth.has_aeth);
	REQUIRE(decode_frame(cut(nak, 14 + 20 + 8 + 11), fr) == DecodeError::None);
	CHECK(fr.has_ports);
	CHECK_FALSE(fr.has_bth);

	CHECK(decode_frame(roce_frame(bth(0x81, 1, 1, -1, 0, 1)), fr) == DecodeError::BadBth); // TVer 1
	CHECK(decode_frame(roce_frame(bth(0x81, 1, 1), 8 + 4), fr) == DecodeError::BadBth);   // UDP too short
	CHECK(decode_frame(roce_frame(bth(0x81, 1, 1), 7), fr) == DecodeError::BadUdp);
	CHECK(decode_frame(roce_frame(bth(0x81, 1, 1), 200), fr) == DecodeError::BadUdp); // beyond IP length

	// other UDP: ports only
	const Bytes u = udp(53, 5353, 4);
	Ip4 ip;
	ip.proto = 17;
	REQUIRE(decode_frame(cat({ether(kPeerMac, kHostMac, 0x0800), ipv4(ip, 12), u, Bytes(4, 0)}), fr) ==
		DecodeError::None);
	CHECK(fr.sport == 53);
	CHECK(fr.dport == 5353);
	CHECK_FALSE(fr.has_bth);
}
