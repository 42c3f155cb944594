// proto/erspan/erspan_wire.h, the encoder's and the decoder's shared
// definition, against the test builder's octets (written from the tables).
#include "decode/builder.hpp"

#include "erspan_wire.h"

#include <doctest/doctest.h>

using namespace evpnmon::collector::test;

namespace {

std::uint32_t word(const Bytes &b, std::size_t at)
{
	return std::uint32_t{b[at]} << 24 | std::uint32_t{b[at + 1]} << 16 | std::uint32_t{b[at + 2]} << 8 | b[at + 3];
}

struct Lcg {
	std::uint64_t s = 0x9e3779b97f4a7c15ull;
	std::uint32_t operator()()
	{
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		return static_cast<std::uint32_t>(s >> 32);
	}
};

} // namespace

TEST_CASE("erspan_wire: pack and unpack agree with the bit tables")
{
	Lcg rnd;
	for (int i = 0; i < 2000; ++i) {
		Erspan e;
		e.ver = 2;
		e.vlan = rnd() & 0xfff;
		e.cos = rnd() & 7;
		e.en_bso = rnd() & 3;
		e.t = rnd() & 1;
		e.session = rnd() & 0x3ff;
		e.ts = rnd();
		e.sgt = rnd() & 0xffff;
		e.p = rnd() & 1;
		e.ft = rnd() & 0x1f;
		e.hw = rnd() & 0x3f;
		e.d = rnd() & 1;
		e.gra = rnd() & 3;
		e.o = 1;
		e.platform = rnd() & 0x3f;
		e.plat_rest = rnd() & 0x3ffffff;
		const Bytes b = erspan(e);
		const std::uint32_t w0 = word(b, 0), w2 = word(b, 8), s0 = word(b, 12);
		REQUIRE(erspan_pack_w0(e.ver, e.vlan, e.cos, e.en_bso, e.t, e.session) == w0);
		CHECK(erspan_w0_ver(w0) == e.ver);
		CHECK(erspan_w0_vlan(w0) == e.vlan);
		CHECK(erspan_w0_cos(w0) == e.cos);
		CHECK(erspan_w0_en_bso(w0) == e.en_bso);
		CHECK(erspan_w0_t(w0) == e.t);
		CHECK(erspan_w0_session(w0) == e.session);
		REQUIRE(erspan_iii_pack_w2(e.sgt, e.p, e.ft, e.hw, e.d, e.gra, e.o) == w2);
		CHECK(erspan_iii_w2_sgt(w2) == e.sgt);
		CHECK(erspan_iii_w2_p(w2) == e.p);
		CHECK(erspan_iii_w2_ft(w2) == e.ft);
		CHECK(erspan_iii_w2_hw_id(w2) == e.hw);
		CHECK(erspan_iii_w2_d(w2) == e.d);
		CHECK(erspan_iii_w2_gra(w2) == e.gra);
		CHECK(erspan_iii_w2_o(w2) == e.o);
		REQUIRE(erspan_sub_pack_w0(e.platform, e.plat_rest) == s0);
		CHECK(erspan_sub_w0_platform(s0) == e.platform);

		Erspan ii = e;
		ii.ver = 1;
		ii.index = rnd() & 0xfffff;
		const Bytes b2 = erspan(ii);
		CHECK(erspan_ii_pack_w1(ii.index) == word(b2, 4));
		CHECK(erspan_ii_w1_index(word(b2, 4)) == ii.index);
	}
}

TEST_CASE("erspan_wire: out-of-range arguments never spill into a neighbour")
{
	CHECK(erspan_pack_w0(0xff, 0, 0, 0, 0, 0) == 0xf0000000u);
	CHECK(erspan_pack_w0(0, 0xffff, 0, 0, 0, 0) == 0x0fff0000u);
	CHECK(erspan_pack_w0(0, 0, 0xff, 0, 0, 0) == 0x0000e000u);
	CHECK(erspan_pack_w0(0, 0, 0, 0xff, 0, 0) == 0x00001800u);
	CHECK(erspan_pack_w0(0, 0, 0, 0, 0xff, 0) == 0x00000400u);
	CHECK(erspan_pack_w0(0, 0, 0, 0, 0, 0xffff) == 0x000003ffu);
	CHECK(erspan_ii_pack_w1(0xffffffff) == 0x000fffffu);
	CHECK(erspan_iii_pack_w2(0xfffff, 0, 0, 0, 0, 0, 0) == 0xffff0000u);
	CHECK(erspan_iii_pack_w2(0, 0xff, 0, 0, 0, 0, 0) == 0x00008000u);
	CHECK(erspan_iii_pack_w2(0, 0, 0xff, 0, 0, 0, 0) == 0x00007c00u);
	CHECK(erspan_iii_pack_w2(0, 0, 0, 0xff, 0, 0, 0) == 0x000003f0u);
	CHECK(erspan_iii_pack_w2(0, 0, 0, 0, 0xff, 0, 0) == 0x00000008u);
	CHECK(erspan_iii_pack_w2(0, 0, 0, 0, 0, 0xff, 0) == 0x00000006u);
	CHECK(erspan_iii_pack_w2(0, 0, 0, 0, 0, 0, 0xff) == 0x00000001u);
	CHECK(erspan_sub_pack_w0(0xff, 0xffffffff) == 0xffffffffu);
	CHECK(erspan_sub_pack_w0(0xff, 0) == 0xfc000000u);
	CHECK(erspan_sub_pack_w0(0, 0xffffffff) == 0x03ffffffu);
}

TEST_CASE("erspan_wire: what the dataplane writes (docs/wire-format.md section 4)")
{
	// Type III word 2 of every copy: SGT 0, P 1, FT 0, HW ID, D, Gra 01, O 1
	CHECK(erspan_iii_pack_w2(0, 1, ERSPAN_FT_ETHERNET, 5, 1, ERSPAN_GRA_100NS, 1) == 0x805bu);
	// Platform ID 3 with port index 0x1234
	CHECK(erspan_sub_pack_w0(ERSPAN_PLATFORM_TS_HIGH, 0x1234 & ERSPAN_PLAT3_PORT_MASK) == 0x0c001234u);
	CHECK(erspan_platform_has_ts_high(3));
	CHECK(erspan_platform_has_ts_high(7));
	CHECK_FALSE(erspan_platform_has_ts_high(1));
	CHECK_FALSE(erspan_platform_has_ts_high(5));
}

TEST_CASE("erspan_wire: GRE header length and refused flags")
{
	CHECK(gre_hlen(0) == 4);
	CHECK(gre_hlen(GRE_FLAG_S) == 8);
	CHECK(gre_hlen(GRE_FLAG_C | GRE_FLAG_K | GRE_FLAG_S) == 16);
	CHECK(gre_seq_offset(GRE_FLAG_S) == 4);
	CHECK(gre_seq_offset(GRE_FLAG_C | GRE_FLAG_S) == 8);
	CHECK(gre_seq_offset(GRE_FLAG_C | GRE_FLAG_K | GRE_FLAG_S) == 12);
	CHECK_FALSE(gre_flags_refused(GRE_FLAG_C | GRE_FLAG_K | GRE_FLAG_S));
	for (std::uint32_t bit = 0; bit < 16; ++bit) {
		const std::uint32_t f = 1u << bit;
		const bool allowed = f == GRE_FLAG_C || f == GRE_FLAG_K || f == GRE_FLAG_S || f <= 4; // 4..1: version
		CHECK_MESSAGE(gre_flags_refused(f) == !allowed, "bit ", bit);
	}
	CHECK(gre_version(0x1001) == 1);
	CHECK(gre_version(0x1000) == 0);
}
