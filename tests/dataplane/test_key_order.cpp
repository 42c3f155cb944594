// The keys' comparisons (types.hpp) are written by hand to avoid a memcmp
// call per byte array; maps and every backend's list() depend on them
// giving exactly the defaulted order: member by member, byte arrays octet
// by octet, an absent optional first. Checked against that order built
// from the standard library's own comparisons, on random keys drawn from
// few values so that most fields tie.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <evpnmon/dataplane/types.hpp>

#include <compare>
#include <optional>
#include <random>
#include <tuple>

using namespace evpnmon::dp;

namespace {

std::mt19937 rng(20261206);

template <class T>
const T &pick(std::initializer_list<T> values)
{
	return values.begin()[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng)];
}

// All octets alike but one, at any position, of a value that differs in
// the top bit or at either end: two keys differ in at most two octets, so
// every position decides some comparisons (the last of a MAC, the second
// half of an address) and many keys tie, which lets the later fields
// decide; a signed or misplaced shift orders them wrongly.
template <std::size_t N>
std::array<std::uint8_t, N> octets()
{
	std::array<std::uint8_t, N> a;
	a.fill(0x5a);
	a[std::uniform_int_distribution<std::size_t>(0, N - 1)(rng)] =
		pick<std::uint8_t>({0x00, 0x01, 0x7f, 0x80, 0xff});
	return a;
}

IpAddr ip()
{
	IpAddr a;
	a.family = pick({IpAddr::Family::V4, IpAddr::Family::V6});
	a.bytes = octets<16>();
	return a;
}

template <class T, class Make>
std::optional<T> maybe(Make make)
{
	if (pick({false, true}))
		return make();
	return std::nullopt;
}

EntryKey entry_key()
{
	EntryKey k;
	k.kind = pick({EntryKind::MirrorSource, EntryKind::MirrorDest, EntryKind::Decap});
	k.vni = pick<std::uint32_t>({1, 0x100, 0xffffff});
	k.host.mac = maybe<Mac>(octets<6>);
	k.host.ip = maybe<IpAddr>(ip);
	k.host_id = pick<std::uint16_t>({0, 1, 0x100, 0xffff});
	k.session = pick<std::string>({"", "a", "ab", "b"});
	return k;
}

// The defaulted order, from std::tuple, std::optional and std::array.
auto reference(const std::optional<IpAddr> &a)
{
	return a ? std::optional(std::tuple(a->family, a->bytes)) : std::nullopt;
}
auto reference(const EntryKey &k)
{
	return std::tuple(k.kind, k.vni, k.host.mac, reference(k.host.ip), k.host_id, k.session);
}
auto reference(const ServerKey &k) { return std::tuple(k.vni, k.mac, k.host_id); }

template <class T>
void check_pairs(T (*make)(), int pairs)
{
	for (int i = 0; i < pairs; ++i) {
		const T a = make(), b = i % 3 == 0 ? a : make();
		const auto want = reference(a) <=> reference(b);
		CAPTURE(i);
		CHECK((a <=> b) == want);
		CHECK((a == b) == (want == 0));
		CHECK((a < b) == (want < 0));
	}
}

} // namespace

TEST_CASE("EntryKey orders as its members do, octet by octet")
{
	check_pairs<EntryKey>(entry_key, 20000);
}

TEST_CASE("ServerKey orders as its members do")
{
	check_pairs<ServerKey>(
		+[] {
			ServerKey k;
			k.vni = pick<std::uint32_t>({1, 2});
			k.mac = octets<6>();
			k.host_id = pick<std::uint16_t>({1, 0xffff});
			return k;
		},
		20000);
}

TEST_CASE("IpAddr orders by family, then octet by octet over both halves")
{
	for (int i = 0; i < 20000; ++i) {
		const IpAddr a = ip(), b = ip();
		const auto want = std::tuple(a.family, a.bytes) <=> std::tuple(b.family, b.bytes);
		CHECK((a <=> b) == want);
		CHECK((a == b) == (want == 0));
	}
}
