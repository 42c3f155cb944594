// GRE/ERSPAN decoding: every header field of types I, II and III, the
// GRE options, the outer IPv4 and Ethernet, and every refusal reason.
#include "decode/builder.hpp"

#include "decode/decode.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <string>

using namespace evpnmon::collector;
using namespace evpnmon::collector::test;

namespace {

const Bytes kFrame = tcp_frame(0x02);

bool same_frame(const Copy &c, const Bytes &f)
{
	return c.frame.size() == f.size() && std::memcmp(c.frame.data(), f.data(), f.size()) == 0;
}

} // namespace

TEST_CASE("ERSPAN III with the platform subheader: every field")
{
	Erspan e;
	e.vlan = 0xabc;
	e.cos = 5;
	e.en_bso = 2;
	e.t = 1;
	e.session = 0x3a5;
	e.ts = 0xdeadbeef;
	e.sgt = 0x1234;
	e.p = 1;
	e.hw = 0x2d;
	e.d = 1;
	e.gra = 1;
	e.o = 1;
	e.platform = 3;
	e.plat_rest = 0x2345; // port index, 14 bits
	e.ts_high = 0x01020304;
	const Bytes pkt = gre_packet({.flags = 0x1000, .proto = 0x22EB, .seq = 0xfffffffe}, erspan(e), kFrame);
	Copy c;
	REQUIRE(decode_gre_ip(pkt, c) == DecodeError::None);
	CHECK(c.encap == Encap::ErspanIII);
	CHECK(c.source.to_string() == "192.0.2.7");
	CHECK(c.destination.to_string() == "10.9.0.1");
	CHECK(c.has_seq);
	CHECK(c.seq == 0xfffffffe);
	CHECK(c.vlan == 0xabc);
	CHECK(c.cos == 5);
	CHECK(c.bso == 2);
	CHECK(c.en == 0);
	CHECK(c.truncated);
	CHECK(c.span_id == 0x3a5);
	CHECK(c.ts_low == 0xdeadbeef);
	CHECK(c.sgt == 0x1234);
	CHECK(c.p);
	CHECK(c.ft == 0);
	CHECK(c.hw_id == 0x2d);
	CHECK(c.direction == Direction::Outbound);
	CHECK(c.gra == 1);
	CHECK(c.has_subheader);
	CHECK(c.platform_id == 3);
	CHECK(c.index == 0x2345);
	CHECK(c.has_ts_high);
	CHECK(c.ts_high == 0x01020304);
	CHECK(same_frame(c, kFrame));
}

TEST_CASE("ERSPAN III without subheader, D = 0, and platform IDs")
{
	Erspan e;
	e.o = 0;
	e.d = 0;
	e.gra = 0;
	e.ts = 77;
	Copy c;
	REQUIRE(decode_gre_ip(gre_packet({}, erspan(e), kFrame), c) == DecodeError::None);
	CHECK(c.encap == Encap::ErspanIII);
	CHECK(c.direction == Direction::Inbound);
	CHECK_FALSE(c.has_subheader);
	CHECK_FALSE(c.has_ts_high);
	CHECK(c.gra == 0);
	CHECK(c.ts_low == 77);
	CHECK(same_frame(c, kFrame));

	SUBCASE("platform 7 carries the upper timestamp, no port index")
	{
		e.o = 1;
		e.platform = 7;
		e.plat_rest = 0x3ffffff;
		e.ts_high = 9;
		REQUIRE(decode_gre_ip(gre_packet({}, erspan(e), kFrame), c) == DecodeError::None);
		CHECK(c.platform_id == 7);
		CHECK(c.has_ts_high);
		CHECK(c.ts_high == 9);
		CHECK(c.index == 0);
		CHECK(same_frame(c, kFrame));
	}
	SUBCASE("platform 1: subheader skipped, no upper timestamp")
	{
		e.o = 1;
		e.platform = 1;
		e.ts_high = 9;
		REQUIRE(decode_gre_ip(gre_packet({}, erspan(e), kFrame), c) == DecodeError::None);
		CHECK(c.platform_id == 1);
		CHECK_FALSE(c.has_ts_high);
		CHECK(same_frame(c, kFrame));
	}
}

TEST_CASE("ERSPAN II: every field")
{
	Erspan e;
	e.ver = 1;
	e.vlan = 100;
	e.cos = 3;
	e.en_bso = 3;
	e.t = 0;
	e.session = 1023;
	e.index = 0xfedcb;
	Copy c;
	REQUIRE(decode_gre_ip(gre_packet({.flags = 0x1000, .proto = 0x88BE, .seq = 42}, erspan(e), kFrame), c) ==
		DecodeError::None);
	CHECK(c.encap == Encap::ErspanII);
	CHECK(c.seq == 42);
	CHECK(c.vlan == 100);
	CHECK(c.cos == 3);
	CHECK(c.en == 3);
	CHECK(c.bso == 0);
	CHECK_FALSE(c.truncated);
	CHECK(c.span_id == 1023);
	CHECK(c.index == 0xfedcb);
	CHECK(c.direction == Direction::Unknown);
	CHECK_FALSE(copy_time_ns(c, 123).has_value());
	CHECK(same_frame(c, kFrame));
}

TEST_CASE("ERSPAN I: 0x88BE without S, the frame right after GRE")
{
	Copy c;
	REQUIRE(decode_gre_ip(gre_packet({.flags = 0, .proto = 0x88BE}, {}, kFrame), c) == DecodeError::None);
	CHECK(c.encap == Encap::ErspanI);
	CHECK_FALSE(c.has_seq);
	CHECK(c.span_id == 0);
	CHECK(same_frame(c, kFrame));
}

TEST_CASE("the ERSPAN version decides, not the GRE protocol")
{
	// The encoder's GRE protocol is configurable: III under 0x88BE.
	Erspan e;
	e.o = 1;
	Copy c;
	REQUIRE(decode_gre_ip(gre_packet({.flags = 0x1000, .proto = 0x88BE, .seq = 1}, erspan(e), kFrame), c) ==
		DecodeError::None);
	CHECK(c.encap == Encap::ErspanIII);
	CHECK(same_frame(c, kFrame));
	e.ver = 1;
	REQUIRE(decode_gre_ip(gre_packet({.flags = 0x1000, .proto = 0x22EB, .seq = 1}, erspan(e), kFrame), c) ==
		DecodeError::None);
	CHECK(c.encap == Encap::ErspanII);
	// 0x22EB without S: still type III, no sequence number
	e.ver = 2;
	REQUIRE(decode_gre_ip(gre_packet({.flags = 0, .proto = 0x22EB}, erspan(e), kFrame), c) == DecodeError::None);
	CHECK(c.encap == Encap::ErspanIII);
	CHECK_FALSE(c.has_seq);
}

TEST_CASE("GRE checksum and key words are skipped, the sequence found after them")
{
	Erspan e;
	e.session = 9;
	Copy c;
	REQUIRE(decode_gre_ip(gre_packet({.flags = 0xb000, .proto = 0x22EB, .checksum_word = 0xaaaa0000,
					  .key = 0xbbbbbbbb, .seq = 0x01020304},
					 erspan(e), kFrame),
			      c) == DecodeError::None);
	CHECK(c.seq == 0x01020304);
	CHECK(c.span_id == 9);
	CHECK(same_frame(c, kFrame));
	REQUIRE(decode_gre_ip(gre_packet({.flags = 0x3000, .proto = 0x22EB, .key = 5, .seq = 6}, erspan(e), kFrame),
			      c) == DecodeError::None);
	CHECK(c.seq == 6);
}

TEST_CASE("outer IPv4: options, padding, and a whole Ethernet frame")
{
	Erspan e;
	e.session = 5;
	Ip4 ip;
	ip.options = {1, 1, 1, 0}; // NOP NOP NOP EOL
	Bytes pkt = gre_packet({.seq = 3}, erspan(e), kFrame, ip);
	Copy c;
	REQUIRE(decode_gre_ip(pkt, c) == DecodeError::None);
	CHECK(c.span_id == 5);
	CHECK(same_frame(c, kFrame));

	// octets after the IP total length (Ethernet padding) are not the frame's
	Bytes padded = pkt;
	padded.resize(pkt.size() + 6, 0xee);
	REQUIRE(decode_gre_ip(padded, c) == DecodeError::None);
	CHECK(same_frame(c, kFrame));

	const Bytes eth = cat({ether(kPeerMac, kHostMac, 0x0800), pkt});
	REQUIRE(decode_gre_ether(eth, c) == DecodeError::None);
	CHECK(c.source.to_string() == "192.0.2.7");
	CHECK(same_frame(c, kFrame));
	const Bytes tagged = cat({ether(kPeerMac, kHostMac, 0x0800, {0x88a80064, 0x81000065}), pkt});
	REQUIRE(decode_gre_ether(tagged, c) == DecodeError::None);
	CHECK(same_frame(c, kFrame));

	CHECK(decode_gre_ether(cat({ether(kPeerMac, kHostMac, 0x86dd), pkt}), c) == DecodeError::NotIpv4);
	CHECK(decode_gre_ether(Bytes(13, 0), c) == DecodeError::Truncated);
	Bytes cut_tag = ether(kPeerMac, kHostMac, 0x8100);
	CHECK(decode_gre_ether(cut_tag, c) == DecodeError::Truncated);
}

TEST_CASE("every refusal has its reason")
{
	Erspan e;
	const Bytes good = gre_packet({}, erspan(e), kFrame);
	Copy c;
	REQUIRE(decode_gre_ip(good, c) == DecodeError::None);

	SUBCASE("truncated anywhere")
	{
		// Every prefix is refused without reading past its end (ASan
		// and the fuzzer check the reads; here the reason).
		for (std::size_t n = 0; n < good.size(); ++n) {
			Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
			const auto r = decode_gre_ip(cut, c);
			CHECK_MESSAGE(r == DecodeError::Truncated, "prefix ", n, ": ", to_string(r));
		}
		// the IP total length announces more than there is
		Ip4 ip;
		ip.total_override = static_cast<int>(good.size() + 1);
		CHECK(decode_gre_ip(gre_packet({}, erspan(e), kFrame, ip), c) == DecodeError::Truncated);
		// a frame shorter than an Ethernet header
		CHECK(decode_gre_ip(gre_packet({}, erspan(e), Bytes(13, 0)), c) == DecodeError::Truncated);
		// the subheader announced but cut
		Erspan o = e;
		o.o = 1;
		Bytes h = erspan(o);
		h.resize(14);
		CHECK(decode_gre_ip(gre_packet({}, h, {}), c) == DecodeError::Truncated);
	}
	SUBCASE("outer IPv4")
	{
		Ip4 ip;
		ip.version = 6;
		CHECK(decode_gre_ip(gre_packet({}, erspan(e), kFrame, ip), c) == DecodeError::NotIpv4);
		ip = {};
		ip.ihl_override = 4;
		CHECK(decode_gre_ip(gre_packet({}, erspan(e), kFrame, ip), c) == DecodeError::BadIpHeader);
		ip = {};
		ip.total_override = 19;
		CHECK(decode_gre_ip(gre_packet({}, erspan(e), kFrame, ip), c) == DecodeError::BadIpHeader);
		ip = {};
		ip.frag = 0x2000; // MF
		CHECK(decode_gre_ip(gre_packet({}, erspan(e), kFrame, ip), c) == DecodeError::IpFragment);
		ip.frag = 0x0010; // offset
		CHECK(decode_gre_ip(gre_packet({}, erspan(e), kFrame, ip), c) == DecodeError::IpFragment);
		ip.frag = 0x4000; // DF alone is fine
		CHECK(decode_gre_ip(gre_packet({}, erspan(e), kFrame, ip), c) == DecodeError::None);
		Bytes udp_pkt = good;
		udp_pkt[9] = 17;
		CHECK(decode_gre_ip(udp_pkt, c) == DecodeError::NotGre);
	}
	SUBCASE("GRE")
	{
		CHECK(decode_gre_ip(gre_packet({.flags = 0x1001}, erspan(e), kFrame), c) == DecodeError::GreVersion);
		CHECK(decode_gre_ip(gre_packet({.flags = 0x5000}, erspan(e), kFrame), c) == DecodeError::GreFlags);
		CHECK(decode_gre_ip(gre_packet({.flags = 0x1800}, erspan(e), kFrame), c) == DecodeError::GreFlags);
		CHECK(decode_gre_ip(gre_packet({.flags = 0x1100}, erspan(e), kFrame), c) == DecodeError::GreFlags);
		CHECK(decode_gre_ip(gre_packet({.flags = 0x1008}, erspan(e), kFrame), c) == DecodeError::GreFlags);
		CHECK(decode_gre_ip(gre_packet({.flags = 0x1000, .proto = 0x6558}, erspan(e), kFrame), c) ==
		      DecodeError::GreProtocol);
	}
	SUBCASE("ERSPAN")
	{
		Erspan v = e;
		v.ver = 3;
		CHECK(decode_gre_ip(gre_packet({}, erspan(v), kFrame), c) == DecodeError::ErspanVersion);
		v.ver = 0;
		CHECK(decode_gre_ip(gre_packet({}, erspan(v), kFrame), c) == DecodeError::ErspanVersion);
		v = e;
		v.ft = 2; // IP frame
		CHECK(decode_gre_ip(gre_packet({}, erspan(v), kFrame), c) == DecodeError::ErspanFrameType);
	}
}

TEST_CASE("reason names are stable metric labels")
{
	CHECK(std::string(to_string(DecodeError::None)) == "none");
	CHECK(std::string(to_string(DecodeError::GreFlags)) == "gre_flags");
	CHECK(std::string(to_string(DecodeError::ErspanFrameType)) == "erspan_frame_type");
	CHECK(std::string(to_string(DecodeError::BadBth)) == "bad_bth");
	CHECK(std::string(to_string(DecodeError::Count_)) == "unknown");
	// every reason has its own snake_case name
	for (std::size_t i = 0; i < kDecodeErrorCount; ++i) {
		const std::string n = to_string(static_cast<DecodeError>(i));
		CHECK(n != "unknown");
		for (char ch : n)
			CHECK(((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'));
		for (std::size_t j = 0; j < i; ++j)
			CHECK(n != to_string(static_cast<DecodeError>(j)));
	}
	CHECK(std::string(to_string(Encap::ErspanIII)) == "erspan-iii");
	CHECK(IpAddr::v4(htonl(0x0a090001)).to_string() == "10.9.0.1");
	IpAddr v6;
	v6.v6 = true;
	v6.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	CHECK(v6.to_string() == "2001:db8::1");
	CHECK(IpAddr::v4(htonl(0x0a090001)) < IpAddr::v4(htonl(0x0a090002)));
}
