// Unit tests of a session's options (proto/session/evpn_mon_options.h) and
// of their C++ value type (evpnmon::session::Options).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <evpnmon/session/options.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>
#include <string>
#include <vector>

using evpnmon::session::Options;
using Bytes = std::vector<std::uint8_t>;

namespace {

evpn_mon_options profile(const char *name = "p")
{
	evpn_mon_options o{};
	o.present = 1;
	std::memcpy(o.name, name, std::min(std::strlen(name), sizeof(o.name) - 1));
	return o;
}

evpn_mon_opt_error validate(const evpn_mon_options &o)
{
	return evpn_mon_options_validate(&o);
}

// One filter line set by `edit`, on an otherwise empty profile.
template <typename F> evpn_mon_opt_error line(F edit)
{
	auto o = profile();
	o.nfilters = 1;
	edit(o.filters[0]);
	return validate(o);
}

Bytes encode(const evpn_mon_options &o)
{
	Bytes b(EVPN_MON_OPTIONS_MAX_LEN + 64);
	b.resize(evpn_mon_options_encode(&o, b.data(), b.size()));
	return b;
}

// A full IPv6 line: 96 octets of TLV.
evpn_mon_filter wide_v6_line()
{
	evpn_mon_filter f{};
	f.family = 6;
	f.proto = 17;
	f.src.len = f.dst.len = 128;
	std::memset(f.src.addr, 0x20, 16);
	std::memset(f.dst.addr, 0x30, 16);
	f.sport_lo = 1;
	f.sport_hi = 2;
	f.dport_lo = 3;
	f.dport_hi = 4;
	f.nudf = EVPN_MON_MAX_UDFS;
	for (int i = 0; i < EVPN_MON_MAX_UDFS; i++)
		f.udf[i] = {EVPN_MON_UDF_L4, uint8_t(i), 0x0100, 0xff00};
	return f;
}

} // namespace

TEST_CASE("no profile validates whatever the other fields hold")
{
	evpn_mon_options o{};
	o.direction = 9;
	o.nfilters = 99;
	CHECK(validate(o) == EVPN_MON_OPT_OK);
	CHECK(evpn_mon_options_encoded_len(&o) == 0);
	uint8_t buf[8];
	CHECK(evpn_mon_options_encode(&o, buf, sizeof(buf)) == 0);
	evpn_mon_options_canonicalize(&o);
	evpn_mon_options zero{};
	CHECK(std::memcmp(&o, &zero, sizeof(o)) == 0);
}

TEST_CASE("limits: direction and filter lines")
{
	for (uint8_t d : {EVPN_MON_DIR_BOTH, EVPN_MON_DIR_RX, EVPN_MON_DIR_TX}) {
		auto o = profile();
		o.direction = d;
		CHECK(validate(o) == EVPN_MON_OPT_OK);
	}
	auto o = profile();
	o.direction = 3;
	CHECK(validate(o) == EVPN_MON_OPT_DIRECTION);

	o = profile();
	o.nfilters = EVPN_MON_MAX_FILTERS;
	CHECK(validate(o) == EVPN_MON_OPT_OK);
	o.nfilters = EVPN_MON_MAX_FILTERS + 1;
	CHECK(validate(o) == EVPN_MON_OPT_TOO_MANY_FILTERS);
}

TEST_CASE("limits: family and prefixes")
{
	for (uint8_t fam : {0, 4, 6})
		CHECK(line([&](auto &f) { f.family = fam; }) == EVPN_MON_OPT_OK);
	CHECK(line([](auto &f) { f.family = 5; }) == EVPN_MON_OPT_FAMILY);
	CHECK(line([](auto &f) {
		      f.src.len = 8;
		      f.src.addr[0] = 10;
	      }) == EVPN_MON_OPT_FAMILY);
	CHECK(line([](auto &f) { f.dst.len = 1; }) == EVPN_MON_OPT_FAMILY);
	// IPv4 /32 and /33
	CHECK(line([](auto &f) {
		      f.family = 4;
		      f.src.len = 32;
		      std::memset(f.src.addr, 0xff, 4);
	      }) == EVPN_MON_OPT_OK);
	CHECK(line([](auto &f) {
		      f.family = 4;
		      f.dst.len = 33;
	      }) == EVPN_MON_OPT_PREFIX);
	// an IPv4 prefix with octets past its 4
	CHECK(line([](auto &f) {
		      f.family = 4;
		      f.src.len = 32;
		      f.src.addr[4] = 1;
	      }) == EVPN_MON_OPT_PREFIX);
	// IPv6 /128 and /129
	CHECK(line([](auto &f) {
		      f.family = 6;
		      f.dst.len = 128;
		      std::memset(f.dst.addr, 0xff, 16);
	      }) == EVPN_MON_OPT_OK);
	CHECK(line([](auto &f) {
		      f.family = 6;
		      f.src.len = 129;
	      }) == EVPN_MON_OPT_PREFIX);
	// host bits: 11.0.0.0/7 and 11.128.0.0/8 have one past the length set
	CHECK(line([](auto &f) {
		      f.family = 4;
		      f.src.len = 7;
		      f.src.addr[0] = 11;
	      }) == EVPN_MON_OPT_PREFIX);
	CHECK(line([](auto &f) {
		      f.family = 4;
		      f.src.len = 7;
		      f.src.addr[0] = 10;
	      }) == EVPN_MON_OPT_OK);
	CHECK(line([](auto &f) {
		      f.family = 4;
		      f.src.len = 8;
		      f.src.addr[0] = 11;
		      f.src.addr[1] = 0x80; // bit 8
	      }) == EVPN_MON_OPT_PREFIX);
	CHECK(line([](auto &f) {
		      f.family = 4;
		      f.src.len = 8;
		      f.src.addr[0] = 10;
	      }) == EVPN_MON_OPT_OK);
	CHECK(line([](auto &f) {
		      f.family = 6;
		      f.dst.len = 0;
		      f.dst.addr[15] = 1;
	      }) == EVPN_MON_OPT_PREFIX);
}

TEST_CASE("limits: ports")
{
	for (uint8_t proto : {6, 17, 132}) {
		CAPTURE(int(proto));
		CHECK(line([&](auto &f) {
			      f.proto = proto;
			      f.sport_lo = f.sport_hi = 65535;
		      }) == EVPN_MON_OPT_OK);
		CHECK(line([&](auto &f) {
			      f.proto = proto;
			      f.dport_lo = 1;
			      f.dport_hi = 65535;
		      }) == EVPN_MON_OPT_OK);
	}
	CHECK(line([](auto &f) {
		      f.proto = 1;
		      f.dport_lo = f.dport_hi = 80;
	      }) == EVPN_MON_OPT_PORTS);
	CHECK(line([](auto &f) { f.sport_lo = f.sport_hi = 80; }) == EVPN_MON_OPT_PORTS);
	CHECK(line([](auto &f) {
		      f.proto = 6;
		      f.sport_lo = 81;
		      f.sport_hi = 80;
	      }) == EVPN_MON_OPT_PORTS);
	CHECK(line([](auto &f) {
		      f.proto = 17;
		      f.dport_lo = 1;
		      f.dport_hi = 0;
	      }) == EVPN_MON_OPT_PORTS);
	// 0..65535 is "any port": no protocol needed
	CHECK(line([](auto &f) { f.dport_hi = 65535; }) == EVPN_MON_OPT_OK);
	evpn_mon_filter f{};
	CHECK_FALSE(evpn_mon_filter_has_sport(&f));
	CHECK_FALSE(evpn_mon_filter_has_dport(&f));
	f.dport_hi = 65535;
	CHECK_FALSE(evpn_mon_filter_has_dport(&f));
	f.dport_hi = 65534;
	CHECK(evpn_mon_filter_has_dport(&f));
	f.sport_lo = f.sport_hi = 7;
	CHECK(evpn_mon_filter_has_sport(&f));
}

TEST_CASE("limits: user-defined fields")
{
	CHECK(line([](auto &f) { f.nudf = EVPN_MON_MAX_UDFS; }) == EVPN_MON_OPT_OK);
	CHECK(line([](auto &f) { f.nudf = EVPN_MON_MAX_UDFS + 1; }) == EVPN_MON_OPT_TOO_MANY_UDFS);
	for (uint8_t base : {EVPN_MON_UDF_L3, EVPN_MON_UDF_L4, EVPN_MON_UDF_L5})
		CHECK(line([&](auto &f) {
			      f.nudf = 1;
			      f.udf[0] = {base, EVPN_MON_UDF_OFFSET_MAX, 0xffff, 0xffff};
		      }) == EVPN_MON_OPT_OK);
	CHECK(line([](auto &f) {
		      f.nudf = 1;
		      f.udf[0].base = 3;
	      }) == EVPN_MON_OPT_UDF);
	CHECK(line([](auto &f) {
		      f.nudf = 2;
		      f.udf[1].offset = EVPN_MON_UDF_OFFSET_MAX + 1;
	      }) == EVPN_MON_OPT_UDF);
	// an unused slot is not validated
	CHECK(line([](auto &f) {
		      f.nudf = 1;
		      f.udf[1].offset = 200;
	      }) == EVPN_MON_OPT_OK);
}

TEST_CASE("limits: sample, truncate, police, name")
{
	auto o = profile();
	for (uint32_t n : {0u, 1u, 2u, EVPN_MON_SAMPLE_MAX}) {
		o.sample = n;
		CHECK(validate(o) == EVPN_MON_OPT_OK);
	}
	o.sample = EVPN_MON_SAMPLE_MAX + 1;
	CHECK(validate(o) == EVPN_MON_OPT_SAMPLE);

	o = profile();
	for (uint16_t t : {0, EVPN_MON_TRUNCATE_MIN, EVPN_MON_TRUNCATE_MAX}) {
		o.truncate = t;
		CHECK(validate(o) == EVPN_MON_OPT_OK);
	}
	for (uint16_t t : {1, EVPN_MON_TRUNCATE_MIN - 1, EVPN_MON_TRUNCATE_MAX + 1}) {
		o.truncate = t;
		CHECK(validate(o) == EVPN_MON_OPT_TRUNCATE);
	}

	struct Police {
		uint8_t unit;
		uint64_t rate;
		uint32_t burst;
		bool ok;
	};
	const Police police[] = {
		{EVPN_MON_POLICE_PPS, 1, 1, true},
		{EVPN_MON_POLICE_PPS, EVPN_MON_POLICE_PPS_MAX, EVPN_MON_POLICE_BURST_MAX, true},
		{EVPN_MON_POLICE_PPS, 0, 1, false},
		{EVPN_MON_POLICE_PPS, EVPN_MON_POLICE_PPS_MAX + 1, 1, false},
		{EVPN_MON_POLICE_PPS, 1, 0, false},
		{EVPN_MON_POLICE_PPS, 1, EVPN_MON_POLICE_BURST_MAX + 1, false},
		{EVPN_MON_POLICE_BPS, EVPN_MON_POLICE_BPS_MIN, 1, true},
		{EVPN_MON_POLICE_BPS, EVPN_MON_POLICE_BPS_MAX, EVPN_MON_POLICE_BURST_MAX, true},
		{EVPN_MON_POLICE_BPS, EVPN_MON_POLICE_BPS_MIN - 1, 1, false},
		{EVPN_MON_POLICE_BPS, EVPN_MON_POLICE_BPS_MAX + 1, 1, false},
		{EVPN_MON_POLICE_BPS, EVPN_MON_POLICE_BPS_MIN, 0, false},
		{EVPN_MON_POLICE_BPS, EVPN_MON_POLICE_BPS_MIN, EVPN_MON_POLICE_BURST_MAX + 1, false},
		{3, 1000, 10, false},
		{EVPN_MON_POLICE_NONE, 0, 0, true},
	};
	for (const auto &p : police) {
		CAPTURE(int(p.unit));
		CAPTURE(p.rate);
		CAPTURE(p.burst);
		o = profile();
		o.police_unit = p.unit;
		o.police_rate = p.rate;
		o.police_burst = p.burst;
		CHECK(validate(o) == (p.ok ? EVPN_MON_OPT_OK : EVPN_MON_OPT_POLICE));
	}

	o = profile("");
	CHECK(validate(o) == EVPN_MON_OPT_OK); // the name is informational
	o = profile("abcdefghijklmnop");
	CHECK(validate(o) == EVPN_MON_OPT_OK);
	std::memset(o.name, 'a', sizeof(o.name)); // 17 octets, no NUL
	CHECK(validate(o) == EVPN_MON_OPT_NAME);
	o = profile("a\tb");
	CHECK(validate(o) == EVPN_MON_OPT_NAME);
	o = profile("caf\xc3\xa9");
	CHECK(validate(o) == EVPN_MON_OPT_NAME);
}

TEST_CASE("limits: the options area fits a route (182 octets)")
{
	auto o = profile("abcdefghijklmnop"); // NAME: 18
	o.direction = EVPN_MON_DIR_TX;         // 3
	o.sample = 2;                          // 6
	o.truncate = 64;                       // 4
	o.police_unit = EVPN_MON_POLICE_PPS;   // 15
	o.police_rate = 1;
	o.police_burst = 1;
	o.nfilters = 1;
	o.filters[0] = wide_v6_line();         // 96; + version 1 = 143
	CHECK(evpn_mon_options_encoded_len(&o) == 143);
	// second line: 8 octets with nothing set, +6 per UDF, +4 per port range,
	// + the prefix octets
	o.nfilters = 2;
	auto &f = o.filters[1];
	f.proto = 6;
	f.nudf = 4;
	f.dport_lo = 1;
	f.dport_hi = 2;
	f.family = 6;
	f.src.len = 24;
	CHECK(evpn_mon_options_encoded_len(&o) == EVPN_MON_OPTIONS_MAX_LEN);
	CHECK(validate(o) == EVPN_MON_OPT_OK);
	CHECK(encode(o).size() == EVPN_MON_OPTIONS_MAX_LEN);
	f.src.len = 25;
	CHECK(validate(o) == EVPN_MON_OPT_TOO_LARGE);
	CHECK(evpn_mon_options_encoded_len(&o) == 0);
	CHECK(encode(o).empty());
	// two full IPv6 lines never fit
	o = profile("");
	o.nfilters = 2;
	o.filters[0] = o.filters[1] = wide_v6_line();
	CHECK(validate(o) == EVPN_MON_OPT_TOO_LARGE);
}

TEST_CASE("presets equal the spec")
{
	evpn_mon_filter f;
	std::memset(&f, 0x5a, sizeof(f));
	evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_CNP, &f);
	// rocev2-cnp = UDP dport 4791 + UDF l5 off 0 value 0x8100 mask 0xff00
	CHECK(f.family == 0);
	CHECK(f.proto == 17);
	CHECK(f.src.len == 0);
	CHECK(f.dst.len == 0);
	CHECK_FALSE(evpn_mon_filter_has_sport(&f));
	CHECK(f.dport_lo == 4791);
	CHECK(f.dport_hi == 4791);
	REQUIRE(f.nudf == 1);
	CHECK(f.udf[0].base == EVPN_MON_UDF_L5);
	CHECK(f.udf[0].offset == 0);
	CHECK(f.udf[0].value == 0x8100);
	CHECK(f.udf[0].mask == 0xff00);
	CHECK(evpn_mon_filter_which_preset(&f) == EVPN_MON_PRESET_ROCEV2_CNP);

	// rocev2-nak = UDP dport 4791 + UDF l5 off 0 0x1100/0xff00
	//            + UDF l5 off 12 0x6000/0xe000
	evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_NAK, &f);
	CHECK(f.proto == 17);
	CHECK(f.dport_lo == 4791);
	CHECK(f.dport_hi == 4791);
	CHECK_FALSE(evpn_mon_filter_has_sport(&f));
	REQUIRE(f.nudf == 2);
	CHECK(f.udf[0].base == EVPN_MON_UDF_L5);
	CHECK(f.udf[0].offset == 0);
	CHECK(f.udf[0].value == 0x1100);
	CHECK(f.udf[0].mask == 0xff00);
	CHECK(f.udf[1].base == EVPN_MON_UDF_L5);
	CHECK(f.udf[1].offset == 12);
	CHECK(f.udf[1].value == 0x6000);
	CHECK(f.udf[1].mask == 0xe000);
	CHECK(evpn_mon_filter_which_preset(&f) == EVPN_MON_PRESET_ROCEV2_NAK);

	// both valid on a profile
	auto o = profile();
	o.nfilters = 2;
	evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_CNP, &o.filters[0]);
	evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_NAK, &o.filters[1]);
	CHECK(validate(o) == EVPN_MON_OPT_OK);

	// a changed line is no preset any more; noise in unused fields is
	// ignored
	evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_CNP, &f);
	f.udf[3].mask = 9;
	f.udf[0].value = 0x81ff;
	CHECK(evpn_mon_filter_which_preset(&f) == EVPN_MON_PRESET_ROCEV2_CNP);
	f.dport_hi = 4792;
	CHECK(evpn_mon_filter_which_preset(&f) == EVPN_MON_PRESET_NONE);
	evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_NAK, &f);
	f.family = 4;
	CHECK(evpn_mon_filter_which_preset(&f) == EVPN_MON_PRESET_NONE);
	evpn_mon_filter_preset(EVPN_MON_PRESET_NONE, &f);
	evpn_mon_filter zero{};
	CHECK(std::memcmp(&f, &zero, sizeof(f)) == 0);
	CHECK(evpn_mon_filter_which_preset(&f) == EVPN_MON_PRESET_NONE);
}

TEST_CASE("canonicalize")
{
	evpn_mon_options o;
	std::memset(&o, 0x77, sizeof(o)); // garbage everywhere, padding too
	o.present = 1;
	o.erspan.version = 0; // not a collector: the other ERSPAN fields are unused
	o.direction = EVPN_MON_DIR_RX;
	o.nfilters = 1;
	o.police_unit = EVPN_MON_POLICE_NONE;
	o.truncate = 0;
	o.sample = 1;
	std::strcpy(o.name, "ab");
	auto &f = o.filters[0];
	f.family = 4;
	f.proto = 17;
	f.src.len = 12;
	f.dst.len = 0;
	f.sport_lo = 0;
	f.sport_hi = 65535;
	f.dport_lo = f.dport_hi = 53;
	f.nudf = 1;
	f.udf[0] = {EVPN_MON_UDF_L3, 2, 0xabcd, 0x0ff0};
	evpn_mon_options_canonicalize(&o);
	CHECK(validate(o) == EVPN_MON_OPT_OK);

	evpn_mon_options want{};
	std::memset(&want, 0, sizeof(want));
	want.present = 1;
	want.direction = EVPN_MON_DIR_RX;
	want.nfilters = 1;
	std::strcpy(want.name, "ab");
	auto &w = want.filters[0];
	w.family = 4;
	w.proto = 17;
	w.src.len = 12;
	w.src.addr[0] = 0x77;
	w.src.addr[1] = 0x70;
	w.dport_lo = w.dport_hi = 53;
	w.nudf = 1;
	w.udf[0] = {EVPN_MON_UDF_L3, 2, 0x0bc0, 0x0ff0};
	CHECK(std::memcmp(&o, &want, sizeof(o)) == 0);
	CHECK(evpn_mon_options_equal(&o, &want));

	// idempotent
	auto again = o;
	evpn_mon_options_canonicalize(&again);
	CHECK(std::memcmp(&o, &again, sizeof(o)) == 0);

	// police fields without a unit are dropped; counts beyond the limits
	// and an unterminated name are kept, so validation still refuses them
	evpn_mon_options p = profile();
	p.police_rate = 5;
	p.police_burst = 5;
	evpn_mon_options_canonicalize(&p);
	CHECK(p.police_rate == 0);
	CHECK(p.police_burst == 0);
	p.nfilters = 9;
	evpn_mon_options_canonicalize(&p);
	CHECK(p.nfilters == 9);
	CHECK(validate(p) == EVPN_MON_OPT_TOO_MANY_FILTERS);
	p = profile();
	p.nfilters = 1;
	p.filters[0].nudf = 200;
	evpn_mon_options_canonicalize(&p);
	CHECK(p.filters[0].nudf == 200);
	CHECK(validate(p) == EVPN_MON_OPT_TOO_MANY_UDFS);
	p = profile();
	std::memset(p.name, 'x', sizeof(p.name));
	evpn_mon_options_canonicalize(&p);
	CHECK(validate(p) == EVPN_MON_OPT_NAME);
	CHECK(Options(p).validate() == EVPN_MON_OPT_NAME);
}

TEST_CASE("equal")
{
	auto a = profile("x"), b = profile("x");
	CHECK(evpn_mon_options_equal(&a, &b));
	b.sample = 1; // every packet, as 0
	CHECK(evpn_mon_options_equal(&a, &b));
	b.sample = 2;
	CHECK_FALSE(evpn_mon_options_equal(&a, &b));
	b = profile("y");
	CHECK_FALSE(evpn_mon_options_equal(&a, &b)); // the name is part of the value
	evpn_mon_options none{};
	CHECK_FALSE(evpn_mon_options_equal(&a, &none));
	a = profile("");
	CHECK_FALSE(evpn_mon_options_equal(&a, &none)); // empty profile != no profile
}

TEST_CASE("encode / decode")
{
	auto o = profile("roce");
	o.direction = EVPN_MON_DIR_TX;
	o.nfilters = 1;
	evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_CNP, &o.filters[0]);
	o.sample = 100;
	o.truncate = 128;
	o.police_unit = EVPN_MON_POLICE_PPS;
	o.police_rate = 1000;
	o.police_burst = 100;
	const Bytes want = {
		1,                                    // version
		1, 1, 2,                              // direction tx
		2, 16, 0, 17, 0, 0, 2, 0x12, 0xb7, 0x12, 0xb7, 1, 2, 0, 0x81, 0x00, 0xff, 0x00, // filter
		3, 4, 0, 0, 0, 100,                   // sample
		4, 2, 0, 128,                         // truncate
		5, 13, 1, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 100, // police
		0x81, 4, 'r', 'o', 'c', 'e',          // name
	};
	auto b = encode(o);
	CHECK(b == want);
	CHECK(evpn_mon_options_encoded_len(&o) == want.size());
	// too small a buffer
	Bytes small(want.size() - 1);
	CHECK(evpn_mon_options_encode(&o, small.data(), small.size()) == 0);
	evpn_mon_options d;
	REQUIRE(evpn_mon_options_decode(b.data(), b.size(), &d) == EVPN_MON_OPT_OK);
	CHECK(evpn_mon_options_equal(&o, &d));
	CHECK(std::memcmp(&o, &d, sizeof(o)) == 0); // o was canonical already
	// TLVs in another order decode the same
	Bytes shuffled = {1, 0x81, 4, 'r', 'o', 'c', 'e', 4, 2, 0, 128, 3, 4, 0, 0, 0, 100, 1, 1, 2};
	REQUIRE(want.size() == 53);
	shuffled.insert(shuffled.end(), want.begin() + 32, want.begin() + 47); // police
	shuffled.insert(shuffled.end(), want.begin() + 4, want.begin() + 22);  // filter
	REQUIRE(evpn_mon_options_decode(shuffled.data(), shuffled.size(), &d) == EVPN_MON_OPT_OK);
	CHECK(evpn_mon_options_equal(&o, &d));
	// no area = no profile
	REQUIRE(evpn_mon_options_decode(nullptr, 0, &d) == EVPN_MON_OPT_OK);
	CHECK(d.present == 0);
	// an invalid profile does not encode, and decoding an error zeroes
	o.truncate = 10;
	CHECK(encode(o).empty());
	b[31] = 10; // truncate value low octet: 10
	std::memset(&d, 0x33, sizeof(d));
	CHECK(evpn_mon_options_decode(b.data(), b.size(), &d) == EVPN_MON_OPT_TRUNCATE);
	evpn_mon_options zero{};
	CHECK(std::memcmp(&d, &zero, sizeof(d)) == 0);
}

TEST_CASE("error names and texts")
{
	std::set<std::string> names;
	for (int e = 0; e < EVPN_MON_OPT__MAX; e++) {
		CAPTURE(e);
		std::string n = evpn_mon_opt_errname(evpn_mon_opt_error(e));
		CHECK(n != "unknown");
		CHECK(std::islower(static_cast<unsigned char>(n[0])));
		for (char c : n)
			CHECK(std::isalnum(static_cast<unsigned char>(c)));
		names.insert(n);
		CHECK(std::string(evpn_mon_opt_strerror(evpn_mon_opt_error(e))) != "unknown error");
	}
	CHECK(names.size() == EVPN_MON_OPT__MAX);
	CHECK(std::string(evpn_mon_opt_errname(EVPN_MON_OPT_UDF)) == "udfOutOfRange");
	CHECK(std::string(evpn_mon_opt_errname(evpn_mon_opt_error(999))) == "unknown");
	CHECK(std::string(evpn_mon_opt_strerror(evpn_mon_opt_error(-1))) == "unknown error");
}

TEST_CASE("parse_mac: accepted and refused forms")
{
	const uint8_t want[6] = {0x02, 0xab, 0x00, 0xff, 0x10, 0x01};
	for (const char *ok : {"02:ab:00:ff:10:01", "02:AB:00:FF:10:01", "02-ab-00-ff-10-01", "02ab.00ff.1001",
			       "02AB.00fF.1001"}) {
		CAPTURE(ok);
		uint8_t m[6] = {};
		REQUIRE(evpn_mon_parse_mac(ok, m));
		CHECK(std::memcmp(m, want, 6) == 0);
	}
	for (const char *bad : {"", "02:ab:00:ff:10", "02:ab:00:ff:10:01:02", "02:ab:00:ff:10:01 ",
				" 02:ab:00:ff:10:01", "zz:ab:00:ff:10:01", "02:ab-00:ff:10:01", "2:ab:00:ff:10:01:",
				"02.ab.00.ff.10.01", "02:ab:00:ff:10:0g", "02ab00ff1001", "02ab.00ff.100",
				"02ab:00ff:1001", "02ab.00ff.10011", "+2:ab:00:ff:10:01", "0x:ab:00:ff:10:01",
				"02ab-00ff-1001"}) {
		CAPTURE(bad);
		uint8_t m[6] = {1, 2, 3, 4, 5, 6};
		CHECK_FALSE(evpn_mon_parse_mac(bad, m));
		CHECK(m[0] == 1); // untouched on failure
	}
	uint8_t m[6];
	CHECK_FALSE(evpn_mon_parse_mac(nullptr, m));
}

TEST_CASE("C++ Options: value type over the C struct")
{
	Options none;
	CHECK_FALSE(none.has_profile());
	CHECK(none.encode().empty());
	CHECK(none.to_string() == "no profile");
	CHECK(none.validate() == EVPN_MON_OPT_OK);

	auto c = profile("roce");
	c.direction = EVPN_MON_DIR_RX;
	c.nfilters = 2;
	evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_CNP, &c.filters[0]);
	evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_NAK, &c.filters[1]);
	c.sample = 100;
	c.truncate = 128;
	c.police_unit = EVPN_MON_POLICE_PPS;
	c.police_rate = 1000;
	c.police_burst = 100;
	c.filters[0].udf[5].value = 3; // noise: canonicalized away
	Options o(c);
	CHECK(o.has_profile());
	CHECK(o.c().filters[0].udf[5].value == 0);
	CHECK(o.to_string() == "profile roce dir rx filters 2 sample 1/100 truncate 128 police 1000pps/100");
	auto area = o.encode();
	CHECK(area.size() == evpn_mon_options_encoded_len(&c));
	evpn_mon_opt_error err = EVPN_MON_OPT_TOO_LARGE;
	Options back = Options::decode(area, &err);
	CHECK(err == EVPN_MON_OPT_OK);
	CHECK(back == o);
	CHECK(back != none);
	CHECK(Options::decode({}) == none);

	Bytes bad = {2};
	Options b = Options::decode(bad, &err);
	CHECK(err == EVPN_MON_OPT_VERSION_UNKNOWN);
	CHECK(b == none);

	// Ordering: by encoded octets; no profile first; total and consistent
	// with equality.
	Options empty(profile(""));
	CHECK(empty.to_string() == "profile - dir both filters 0");
	CHECK(none < empty);
	CHECK(empty < o); // {1} is a prefix of o's area
	auto c2 = c;
	c2.police_unit = EVPN_MON_POLICE_BPS;
	c2.police_rate = 8000;
	c2.police_burst = 1500;
	c2.direction = EVPN_MON_DIR_TX;
	Options o2(c2);
	CHECK(o2.to_string() == "profile roce dir tx filters 2 sample 1/100 truncate 128 police 8000bps/1500");
	CHECK(o < o2); // direction rx (1) < tx (2)
	CHECK((o <=> o) == std::strong_ordering::equal);
	std::set<Options> s{none, empty, o, o2, Options(c), Options(profile(""))};
	CHECK(s.size() == 4);

	// invalid options still order, and never equal a valid one
	auto ci = profile("");
	ci.truncate = 1;
	Options inv(ci);
	CHECK(inv.validate() == EVPN_MON_OPT_TRUNCATE);
	CHECK(inv.encode().empty());
	CHECK(inv != none);
	CHECK(((inv < none) != (none < inv)));
}

namespace {

// A collector's ERSPAN parameters as the CLI fills them.
evpn_mon_erspan erspan(uint8_t version = 3, uint16_t span_id = 7, uint8_t dscp = 10,
		       uint8_t ttl = EVPN_MON_ERSPAN_TTL_DEFAULT, uint16_t gre_proto = 0)
{
	evpn_mon_erspan e{};
	e.version = version;
	e.span_id = span_id;
	e.dscp = dscp;
	e.ttl = ttl;
	e.gre_proto = gre_proto;
	return e;
}

evpn_mon_options collector_only(const evpn_mon_erspan &e = erspan())
{
	evpn_mon_options o{};
	o.erspan = e;
	return o;
}

evpn_mon_opt_error decode_into(const Bytes &b, evpn_mon_options &out)
{
	return evpn_mon_options_decode(b.data(), b.size(), &out);
}

} // namespace

TEST_CASE("ERSPAN TLV: a collector without a profile (docs/wire-format.md example)")
{
	auto o = collector_only();
	CHECK(validate(o) == EVPN_MON_OPT_OK);
	// version, then type 6 length 8: version 3, flags 0, span id 7, dscp 10,
	// ttl 64, GRE protocol 0 (= 0x22EB, type III's own)
	const Bytes want = {0x01, 0x06, 0x08, 0x03, 0x00, 0x00, 0x07, 0x0a, 0x40, 0x00, 0x00};
	CHECK(encode(o) == want);
	CHECK(evpn_mon_options_encoded_len(&o) == want.size());
	Bytes small(want.size() - 1);
	CHECK(evpn_mon_options_encode(&o, small.data(), small.size()) == 0);

	evpn_mon_options d;
	REQUIRE(decode_into(want, d) == EVPN_MON_OPT_OK);
	// a decoded area always has a profile: an empty one, same behaviour
	CHECK(d.present == 1);
	CHECK(d.erspan.version == 3);
	CHECK(d.erspan.span_id == 7);
	CHECK(d.erspan.dscp == 10);
	CHECK(d.erspan.ttl == 64);
	CHECK(d.erspan.gre_proto == 0);
	CHECK(d.direction == EVPN_MON_DIR_BOTH);
	CHECK(d.nfilters == 0);
	// ... and canonicalization makes the built form equal to it
	CHECK(evpn_mon_options_equal(&o, &d));
	evpn_mon_options_canonicalize(&o);
	CHECK(std::memcmp(&o, &d, sizeof(o)) == 0);
	CHECK(encode(d) == want);
}

TEST_CASE("ERSPAN TLV: after POLICE, before NAME, with a profile")
{
	auto o = profile("roce");
	o.truncate = 128;
	o.police_unit = EVPN_MON_POLICE_PPS;
	o.police_rate = 1000;
	o.police_burst = 100;
	o.erspan = erspan(2, 1023, 63, 255, 0x8949);
	const Bytes want = {
		1,                                                    // version
		4, 2, 0, 128,                                         // truncate
		5, 13, 1, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 100, // police
		6, 8, 2, 0, 0x03, 0xff, 63, 255, 0x89, 0x49,          // ERSPAN
		0x81, 4, 'r', 'o', 'c', 'e',                          // name
	};
	CHECK(encode(o) == want);
	evpn_mon_options d;
	REQUIRE(decode_into(want, d) == EVPN_MON_OPT_OK);
	CHECK(evpn_mon_options_equal(&o, &d));
	CHECK(std::string(d.name) == "roce");
	CHECK(d.erspan.gre_proto == 0x8949);
	// any TLV order decodes the same
	Bytes first = {1, 6, 8, 2, 0, 0x03, 0xff, 63, 255, 0x89, 0x49};
	first.insert(first.end(), want.begin() + 1, want.begin() + 20);
	first.insert(first.end(), want.end() - 6, want.end());
	REQUIRE(decode_into(first, d) == EVPN_MON_OPT_OK);
	CHECK(evpn_mon_options_equal(&o, &d));
	// a profile without ERSPAN has no TLV 6
	o.erspan = {};
	auto b = encode(o);
	CHECK(std::find(b.begin(), b.end(), 6) == b.end());
}

TEST_CASE("ERSPAN TLV: the version's own GRE protocol is sent as 0")
{
	struct Case {
		uint8_t version;
		uint16_t given, canonical;
	};
	const Case cases[] = {
		{2, 0, 0},
		{2, EVPN_MON_GRE_PROTO_ERSPAN2, 0},
		{2, EVPN_MON_GRE_PROTO_ERSPAN3, EVPN_MON_GRE_PROTO_ERSPAN3},
		{3, 0, 0},
		{3, EVPN_MON_GRE_PROTO_ERSPAN3, 0},
		{3, EVPN_MON_GRE_PROTO_ERSPAN2, EVPN_MON_GRE_PROTO_ERSPAN2},
		{3, 0x8949, 0x8949},
	};
	for (const auto &c : cases) {
		CAPTURE(int(c.version));
		CAPTURE(c.given);
		auto o = collector_only(erspan(c.version, 7, 0, 64, c.given));
		auto b = encode(o);
		REQUIRE(b.size() == 11);
		CHECK(b[9] == c.canonical >> 8);
		CHECK(b[10] == (c.canonical & 0xff));
		auto canon = o;
		evpn_mon_options_canonicalize(&canon);
		CHECK(canon.erspan.gre_proto == c.canonical);
		CHECK(evpn_mon_options_equal(&o, &canon));
		// a non-canonical TLV on receipt reads as the canonical value
		b[9] = uint8_t(c.given >> 8);
		b[10] = uint8_t(c.given);
		evpn_mon_options d;
		REQUIRE(decode_into(b, d) == EVPN_MON_OPT_OK);
		CHECK(d.erspan.gre_proto == c.canonical);
	}
	// docs/wire-format.md's example
	CHECK(encode(collector_only(erspan(2, 1023, 46, 8, 0x8949))) ==
	      Bytes{1, 6, 8, 2, 0, 0x03, 0xff, 0x2e, 8, 0x89, 0x49});
	// default and explicit default are equal; another protocol is not
	auto a = collector_only(erspan(3, 7, 0, 64, 0));
	auto b = collector_only(erspan(3, 7, 0, 64, EVPN_MON_GRE_PROTO_ERSPAN3));
	auto c = collector_only(erspan(3, 7, 0, 64, EVPN_MON_GRE_PROTO_ERSPAN2));
	CHECK(evpn_mon_options_equal(&a, &b));
	CHECK_FALSE(evpn_mon_options_equal(&a, &c));
}

TEST_CASE("ERSPAN: every value out of range, on both sides")
{
	// validation (what the CLI and the originator see)
	for (uint8_t v : {2, 3})
		CHECK(validate(collector_only(erspan(v))) == EVPN_MON_OPT_OK);
	for (uint8_t v : {1, 4, 255}) {
		CAPTURE(int(v));
		CHECK(validate(collector_only(erspan(v))) == EVPN_MON_OPT_ERSPAN);
		CHECK(encode(collector_only(erspan(v))).empty());
	}
	CHECK(validate(collector_only(erspan(3, 1023))) == EVPN_MON_OPT_OK);
	CHECK(validate(collector_only(erspan(3, 1024))) == EVPN_MON_OPT_ERSPAN);
	CHECK(validate(collector_only(erspan(3, 0xffff))) == EVPN_MON_OPT_ERSPAN);
	CHECK(validate(collector_only(erspan(3, 7, 63))) == EVPN_MON_OPT_OK);
	CHECK(validate(collector_only(erspan(3, 7, 64))) == EVPN_MON_OPT_ERSPAN);
	CHECK(validate(collector_only(erspan(3, 7, 0, 1))) == EVPN_MON_OPT_OK);
	CHECK(validate(collector_only(erspan(3, 7, 0, 255))) == EVPN_MON_OPT_OK);
	// TTL 0 is refused, never read as "default": the CLI fills in 64
	CHECK(validate(collector_only(erspan(3, 7, 0, 0))) == EVPN_MON_OPT_ERSPAN);
	// with a profile too
	auto p = profile("x");
	p.erspan = erspan(3, 2000);
	CHECK(validate(p) == EVPN_MON_OPT_ERSPAN);
	// version 0: the other fields are unused, canonicalized away
	auto none = collector_only(erspan(0, 5000, 200, 0, 0x1234));
	CHECK(validate(none) == EVPN_MON_OPT_OK);
	CHECK(encode(none).empty());
	evpn_mon_options_canonicalize(&none);
	evpn_mon_options zero{};
	CHECK(std::memcmp(&none, &zero, sizeof(zero)) == 0);

	// on receipt: the same ranges, plus version 0 and the flags octet
	struct Case {
		const char *what;
		Bytes area;
		evpn_mon_opt_error want;
	};
	const Case cases[] = {
		{"good", {1, 6, 8, 3, 0, 0x03, 0xff, 63, 1, 0, 0}, EVPN_MON_OPT_OK},
		{"version 0", {1, 6, 8, 0, 0, 0, 7, 0, 64, 0, 0}, EVPN_MON_OPT_ERSPAN},
		{"version 1", {1, 6, 8, 1, 0, 0, 7, 0, 64, 0, 0}, EVPN_MON_OPT_ERSPAN},
		{"version 4", {1, 6, 8, 4, 0, 0, 7, 0, 64, 0, 0}, EVPN_MON_OPT_ERSPAN},
		{"flags 0x01", {1, 6, 8, 3, 0x01, 0, 7, 0, 64, 0, 0}, EVPN_MON_OPT_ERSPAN},
		{"flags 0x80", {1, 6, 8, 3, 0x80, 0, 7, 0, 64, 0, 0}, EVPN_MON_OPT_ERSPAN},
		{"span id 1024", {1, 6, 8, 3, 0, 0x04, 0x00, 0, 64, 0, 0}, EVPN_MON_OPT_ERSPAN},
		{"dscp 64", {1, 6, 8, 3, 0, 0, 7, 64, 64, 0, 0}, EVPN_MON_OPT_ERSPAN},
		{"ttl 0", {1, 6, 8, 3, 0, 0, 7, 0, 0, 0, 0}, EVPN_MON_OPT_ERSPAN},
		{"length 7", {1, 6, 7, 3, 0, 0, 7, 0, 64, 0}, EVPN_MON_OPT_TLV_LENGTH},
		{"length 9", {1, 6, 9, 3, 0, 0, 7, 0, 64, 0, 0, 0}, EVPN_MON_OPT_TLV_LENGTH},
		{"length 0", {1, 6, 0}, EVPN_MON_OPT_TLV_LENGTH},
		{"value cut", {1, 6, 8, 3, 0, 0, 7, 0, 64, 0}, EVPN_MON_OPT_TLV_TRUNCATED},
		{"twice", {1, 6, 8, 3, 0, 0, 7, 0, 64, 0, 0, 6, 8, 3, 0, 0, 7, 0, 64, 0, 0},
		 EVPN_MON_OPT_TLV_DUPLICATE},
		{"twice, different", {1, 6, 8, 3, 0, 0, 7, 0, 64, 0, 0, 6, 8, 2, 0, 0, 7, 0, 64, 0, 0},
		 EVPN_MON_OPT_TLV_DUPLICATE},
	};
	for (const auto &c : cases) {
		CAPTURE(c.what);
		evpn_mon_options d;
		std::memset(&d, 0x55, sizeof(d));
		CHECK(decode_into(c.area, d) == c.want);
		if (c.want != EVPN_MON_OPT_OK)
			CHECK(std::memcmp(&d, &zero, sizeof(d)) == 0);
	}
	CHECK(std::string(evpn_mon_opt_errname(EVPN_MON_OPT_ERSPAN)) == "erspanOutOfRange");
}

TEST_CASE("ERSPAN: the profile and the TLV together fit 182 octets")
{
	// the largest profile of "limits: the options area fits a route" less
	// ten octets (3 UDFs instead of 4, no port range): 172
	auto o = profile("abcdefghijklmnop");
	o.direction = EVPN_MON_DIR_TX;
	o.sample = 2;
	o.truncate = 64;
	o.police_unit = EVPN_MON_POLICE_PPS;
	o.police_rate = 1;
	o.police_burst = 1;
	o.nfilters = 2;
	o.filters[0] = wide_v6_line();
	auto &f = o.filters[1];
	f.proto = 6;
	f.nudf = 3;
	f.family = 6;
	f.src.len = 24;
	CHECK(evpn_mon_options_encoded_len(&o) == 172);
	o.erspan = erspan();
	CHECK(validate(o) == EVPN_MON_OPT_OK);
	CHECK(evpn_mon_options_encoded_len(&o) == EVPN_MON_OPTIONS_MAX_LEN);
	auto b = encode(o);
	REQUIRE(b.size() == EVPN_MON_OPTIONS_MAX_LEN);
	evpn_mon_options d;
	REQUIRE(decode_into(b, d) == EVPN_MON_OPT_OK);
	CHECK(evpn_mon_options_equal(&o, &d));
	// one octet more: the profile alone fits, with the TLV it does not
	f.src.len = 25;
	CHECK(validate(o) == EVPN_MON_OPT_TOO_LARGE);
	CHECK(evpn_mon_options_encoded_len(&o) == 0);
	CHECK(encode(o).empty());
	auto alone = o;
	alone.erspan = {};
	CHECK(validate(alone) == EVPN_MON_OPT_OK);
}

TEST_CASE("C++ Options: a collector session")
{
	Options o(collector_only());
	CHECK(o.has_erspan());
	CHECK(o.has_profile()); // an empty profile: copies every packet whole
	CHECK(o.erspan().span_id == 7);
	CHECK(o.to_string() == "erspan 3 span 7 dscp 10 ttl 64 gre 0x22eb profile - dir both filters 0");
	CHECK(o.encode() == Bytes{1, 6, 8, 3, 0, 0, 7, 10, 64, 0, 0});
	evpn_mon_opt_error err = EVPN_MON_OPT_TOO_LARGE;
	CHECK(Options::decode(o.encode(), &err) == o);
	CHECK(err == EVPN_MON_OPT_OK);
	// the ERSPAN parameters are part of the value
	Options empty(profile(""));
	CHECK_FALSE(empty.has_erspan());
	CHECK(empty != o);
	CHECK(empty < o); // {1} is a prefix of o's area

	auto c = profile("cnp");
	c.nfilters = 1;
	evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_CNP, &c.filters[0]);
	c.erspan = erspan(2, 1023, 46, 8, 0x8949);
	Options p(c);
	CHECK(p.to_string() == "erspan 2 span 1023 dscp 46 ttl 8 gre 0x8949 profile cnp dir both filters 1");
	c.erspan.gre_proto = 0;
	CHECK(Options(c).to_string() == "erspan 2 span 1023 dscp 46 ttl 8 gre 0x88be profile cnp dir both filters 1");
	CHECK(Options(c) != p);
}
