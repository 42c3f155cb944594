// What our VTEPs send: copies built by the dataplane tests' oracle
// (tests/dataplane/erspan_wire.hpp, which test_dataplane_erspan checks
// byte for byte against the eBPF encoder's output) decode field for field,
// and their packet time is the encoder's 100 ns timestamp.
#include "decode/builder.hpp"

#include <algorithm> // erspan_wire.hpp uses std::copy_n

#include "../../dataplane/erspan_wire.hpp"
#include "decode/decode.hpp"

#include <doctest/doctest.h>

#include <cstring>

using namespace evpnmon::collector;
namespace dpw = evpnmon::dp::erspan_wire;

TEST_CASE("copies in the dataplane's format decode field for field")
{
	std::uint64_t s = 12345;
	auto rnd = [&] {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		return static_cast<std::uint32_t>(s >> 33);
	};
	const test::Bytes inner = test::tcp_frame(0x02, 100);
	for (int i = 0; i < 500; ++i) {
		dpw::Expect x;
		x.version = i % 2 ? 3 : 2;
		x.gre_proto = static_cast<std::uint16_t>(i % 4 == 3 ? 0x88BE : x.version == 3 ? 0x22EB : 0x88BE);
		x.src = {10, 0, 0, static_cast<std::uint8_t>(rnd())};
		x.dst = {10, 9, 0, 1};
		x.seq = rnd() << 1 ^ rnd();
		x.vlan = rnd() & 0xfff;
		x.cos = rnd() & 7;
		x.en = rnd() & 3;
		x.bso = rnd() & 3;
		x.t = rnd() & 1;
		x.span_id = rnd() & 0x3ff;
		x.index = x.version == 3 ? rnd() & 0x3fff : rnd() & 0xfffff;
		// UNIX time in 100 ns units, 2026..2100
		x.ts = 17'700'000'000'000'000ull + (std::uint64_t{rnd()} << 20 | rnd());
		x.hw_id = rnd() & 0x3f;
		x.d = rnd() & 1;
		test::Bytes f = dpw::outer(x, inner.size());
		f.insert(f.end(), inner.begin(), inner.end());

		Copy c;
		REQUIRE(decode_gre_ether(f, c) == DecodeError::None);
		CAPTURE(i);
		CHECK(c.encap == (x.version == 3 ? Encap::ErspanIII : Encap::ErspanII));
		CHECK(c.source.to_string() == "10.0.0." + std::to_string(x.src[3]));
		CHECK(c.has_seq);
		CHECK(c.seq == x.seq);
		CHECK(c.vlan == x.vlan);
		CHECK(c.cos == x.cos);
		CHECK(c.truncated == x.t);
		CHECK(c.span_id == x.span_id);
		CHECK(c.index == x.index);
		REQUIRE(c.frame.size() == inner.size());
		CHECK(std::memcmp(c.frame.data(), inner.data(), inner.size()) == 0);
		if (x.version == 3) {
			CHECK(c.bso == x.bso);
			CHECK(c.hw_id == x.hw_id);
			CHECK(c.direction == (x.d ? Direction::Outbound : Direction::Inbound));
			CHECK(c.gra == 1);
			CHECK(c.p);
			CHECK(c.platform_id == 3);
			// exact, even with a receive clock far off
			CHECK(copy_time_ns(c, 0) == x.ts * 100);
			CHECK(copy_time_ns(c, x.ts * 100 + 3'600'000'000'000ull) == x.ts * 100);
		} else {
			CHECK(c.en == x.en);
			CHECK(c.direction == Direction::Unknown);
			CHECK_FALSE(copy_time_ns(c, 1).has_value());
		}
	}
}
