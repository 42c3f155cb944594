// VXLAN and VXLAN-GBP payloads.
#include "decode/builder.hpp"

#include "decode/decode.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>

using namespace evpnmon::collector;
using namespace evpnmon::collector::test;

namespace {

Bytes vxlan(std::uint8_t flags0, std::uint8_t flags1, std::uint16_t gbp_or_gpe, std::uint32_t vni)
{
	Bytes b;
	put8(b, flags0);
	put8(b, flags1);
	put16(b, gbp_or_gpe);
	put24(b, vni);
	put8(b, 0);
	return b;
}

} // namespace

TEST_CASE("VXLAN-GBP: VNI, HOST ID and the frame")
{
	const Bytes frame = tcp_frame(0x12);
	const IpAddr src = IpAddr::v4(htonl(0xc0000207));
	Copy c;
	// G and I, D and A set (policy applied): ignored
	REQUIRE(decode_vxlan(cat({vxlan(0x88, 0x48, 0xbeef, 0xabcdef), frame}), src, c) == DecodeError::None);
	CHECK(c.encap == Encap::VxlanGbp);
	CHECK(c.source == src);
	CHECK(c.vni == 0xabcdef);
	CHECK(c.has_gbp);
	CHECK(c.gbp == 0xbeef);
	CHECK_FALSE(c.has_seq);
	REQUIRE(c.frame.size() == frame.size());
	CHECK(c.frame[13] == frame[13]);
	CHECK(c.frame.data() != frame.data()); // views the input, not the builder's

	SUBCASE("plain VXLAN: no GBP, HOST ID 0")
	{
		REQUIRE(decode_vxlan(cat({vxlan(0x08, 0, 0x1234, 10100), frame}), src, c) == DecodeError::None);
		CHECK_FALSE(c.has_gbp);
		CHECK(c.gbp == 0);
		CHECK(c.vni == 10100);
	}
	SUBCASE("VXLAN-GPE carrying Ethernet is taken, anything else refused")
	{
		CHECK(decode_vxlan(cat({vxlan(0x0c, 0, 0x0003, 7), frame}), src, c) == DecodeError::None);
		CHECK(decode_vxlan(cat({vxlan(0x0c, 0, 0x0001, 7), frame}), src, c) == DecodeError::VxlanFlags);
	}
	SUBCASE("refusals")
	{
		CHECK(decode_vxlan(cat({vxlan(0x80, 0, 1, 7), frame}), src, c) == DecodeError::NotVxlan);
		CHECK(decode_vxlan(vxlan(0x88, 0, 1, 7), src, c) == DecodeError::Truncated);
		CHECK(decode_vxlan(cat({vxlan(0x88, 0, 1, 7), Bytes(13, 0)}), src, c) == DecodeError::Truncated);
		for (std::size_t n = 0; n < 8; ++n)
			CHECK(decode_vxlan(Bytes(n, 0x08), src, c) == DecodeError::Truncated);
	}
}
