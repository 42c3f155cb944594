// Packet times from ERSPAN III timestamps (copy_time_ns).
#include "decode/decode.hpp"

#include <doctest/doctest.h>

using namespace evpnmon::collector;

namespace {

Copy iii(std::uint8_t gra, std::uint32_t low, std::optional<std::uint32_t> high = std::nullopt)
{
	Copy c;
	c.encap = Encap::ErspanIII;
	c.gra = gra;
	c.ts_low = low;
	c.has_subheader = high.has_value();
	c.platform_id = high ? 3 : 0;
	c.has_ts_high = high.has_value();
	c.ts_high = high.value_or(0);
	return c;
}

constexpr std::uint64_t kWrap = std::uint64_t{1} << 32;

} // namespace

TEST_CASE("100 ns with the upper 32 bits: exact, whatever the receive time")
{
	// 2026-12-03T09:00:00.1234567Z in 100 ns units
	const std::uint64_t units = 17'962'884'000'000'000ull + 1'234'567;
	const auto c = iii(1, static_cast<std::uint32_t>(units), static_cast<std::uint32_t>(units >> 32));
	CHECK(copy_time_ns(c, 0) == units * 100);
	CHECK(copy_time_ns(c, units * 100 + 3'600'000'000'000) == units * 100);
	// past what 64-bit ns holds: the receive time instead
	CHECK_FALSE(copy_time_ns(iii(1, 0xffffffff, 0xffffffff), 1).has_value());
}

TEST_CASE("100 ns without the upper bits: the value nearest the receive time")
{
	const std::uint64_t units = 17'962'884'001'234'567ull;
	const std::uint32_t low = static_cast<std::uint32_t>(units);
	const auto c = iii(1, low);
	// received a little later, or a little earlier (clocks differ)
	CHECK(copy_time_ns(c, units * 100 + 5'000'000) == units * 100);
	CHECK(copy_time_ns(c, units * 100 - 5'000'000) == units * 100);
	// up to almost half a wrap (214 s) either way
	const std::uint64_t half = (kWrap / 2 - 10) * 100;
	CHECK(copy_time_ns(c, units * 100 + half) == units * 100);
	CHECK(copy_time_ns(c, units * 100 - half) == units * 100);
	// across a wrap of the low 32 bits: sent just before it, received after
	const std::uint64_t before = (units | (kWrap - 1)) - 5; // low = 0xfffffffa
	CHECK(copy_time_ns(iii(1, static_cast<std::uint32_t>(before)), (before + 20) * 100) == before * 100);
	// and the other way round: receive clock behind the sender
	const std::uint64_t after = (units | (kWrap - 1)) + 3; // low = 2
	CHECK(copy_time_ns(iii(1, static_cast<std::uint32_t>(after)), (after - 20) * 100) == after * 100);
	// a receive time near 0 never yields a negative time
	CHECK(copy_time_ns(iii(1, 0xfffffff0), 100) == std::uint64_t{0xfffffff0} * 100);
	// other platforms' subheaders carry no upper bits: same rule
	Copy p1 = iii(1, low);
	p1.has_subheader = true;
	p1.platform_id = 1;
	CHECK(copy_time_ns(p1, units * 100 + 1000) == units * 100);
}

TEST_CASE("100 us (Linux, OVS): the value nearest the receive time")
{
	const std::uint64_t ns = 1'796'288'400'123'456'789ull;
	const std::uint64_t units = ns / 100'000;
	const auto c = iii(0, static_cast<std::uint32_t>(units));
	CHECK(copy_time_ns(c, ns + 1'000'000) == units * 100'000);
	CHECK(copy_time_ns(c, ns - 1'000'000'000) == units * 100'000);
	// 2 days off is still within half a wrap (4.97 days)
	CHECK(copy_time_ns(c, ns + 2 * 86'400'000'000'000ull) == units * 100'000);
	// the upper subheader bits are not used for 100 us
	CHECK(copy_time_ns(iii(0, static_cast<std::uint32_t>(units), 77), ns) == units * 100'000);
}

TEST_CASE("IEEE 1588: seconds in the subheader, nanoseconds in the base")
{
	CHECK(copy_time_ns(iii(2, 123'456'789, 1'796'288'400), 0) == 1'796'288'400'123'456'789ull);
	CHECK_FALSE(copy_time_ns(iii(2, 1'000'000'000, 1), 0).has_value()); // not a nanosecond field
	CHECK_FALSE(copy_time_ns(iii(2, 5), 99).has_value());                // no seconds
}

TEST_CASE("no usable timestamp: the receive time")
{
	CHECK_FALSE(copy_time_ns(iii(3, 5, 6), 99).has_value()); // custom granularity
	Copy ii;
	ii.encap = Encap::ErspanII;
	ii.gra = 1;
	ii.ts_low = 5;
	CHECK_FALSE(copy_time_ns(ii, 99).has_value());
	Copy vx;
	vx.encap = Encap::VxlanGbp;
	CHECK_FALSE(copy_time_ns(vx, 99).has_value());
}
