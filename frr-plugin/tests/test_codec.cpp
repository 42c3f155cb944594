// Unit tests of the monitor-config NLRI codec (docs/wire-format.md).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "evpn_mon_codec.h"


namespace {

using Bytes = std::vector<uint8_t>;

evpn_mon_route sample(uint8_t host_ip_len = 4, uint8_t server_ip_len = 4,
		      bool host_mac = true)
{
	evpn_mon_route r{};
	const uint8_t rd[8] = {0, 1, 10, 0, 0, 101, 0, 2}; // 10.0.0.101:2
	std::memcpy(r.rd, rd, 8);
	r.eth_tag = 0;
	r.vni = 100;
	r.host_id = 21;
	if (host_mac) {
		r.host_mac_len = 6;
		const uint8_t m[6] = {0x02, 0, 0, 0, 0x02, 0x10};
		std::memcpy(r.host_mac, m, 6);
	}
	r.host_ip.len = host_ip_len;
	for (int i = 0; i < host_ip_len; i++)
		r.host_ip.addr[i] = uint8_t(0xc0 + i);
	const uint8_t s[6] = {0x02, 0, 0, 0, 0, 0x21};
	std::memcpy(r.server_mac, s, 6);
	r.server_ip.len = server_ip_len;
	for (int i = 0; i < server_ip_len; i++)
		r.server_ip.addr[i] = uint8_t(0x10 + i);
	const uint8_t o[4] = {10, 0, 0, 101};
	std::memcpy(r.orig_ip, o, 4);
	return r;
}

Bytes encode(const evpn_mon_route &r)
{
	Bytes b(EVPN_MON_NLRI_MAX_LEN);
	size_t n = evpn_mon_encode(&r, b.data(), b.size());
	b.resize(n);
	return b;
}

evpn_mon_error decode(const Bytes &b, evpn_mon_route &out, bool withdraw = false)
{
	return evpn_mon_decode(b.data(), b.size(), withdraw, &out);
}

bool same(const evpn_mon_route &a, const evpn_mon_route &b)
{
	return std::memcmp(&a, &b, sizeof(a)) == 0;
}

// Offsets in a route encoded by sample(4, 4, true)
constexpr size_t kHostMacLen = 20, kHostIpLen = 27, kServerMacLen = 32,
		 kServerIpLen = 39, kOrigLen = 44;

} // namespace

TEST_CASE("round trip: every combination of host MAC/IP and server IP")
{
	for (bool mac : {true, false})
		for (uint8_t hip : {0, 4, 16})
			for (uint8_t sip : {0, 4, 16}) {
				if (!mac && hip == 0)
					continue; // no host: invalid by design
				CAPTURE(mac);
				CAPTURE(int(hip));
				CAPTURE(int(sip));
				auto r = sample(hip, sip, mac);
				auto b = encode(r);
				REQUIRE(b.size() == size_t(EVPN_MON_NLRI_MIN_LEN + (mac ? 6 : 0) + hip + sip));
				evpn_mon_route d;
				REQUIRE(decode(b, d) == EVPN_MON_OK);
				CHECK(same(r, d));
			}
}

TEST_CASE("layout of an IPv4 route matches docs/wire-format.md")
{
	auto b = encode(sample());
	REQUIRE(b.size() == 49);
	CHECK(b[8 + 4 + 2] == 100);          // VNI, 3 octets, big endian
	CHECK(b[15] == 0);                   // flags
	CHECK(b[19] == 21);                  // HOST ID, 4 octets
	CHECK(b[kHostMacLen] == 48);
	CHECK(b[kHostIpLen] == 32);
	CHECK(b[kServerMacLen] == 48);
	CHECK(b[kServerIpLen] == 32);
	CHECK(b[kOrigLen] == 32);
	CHECK(b[kOrigLen + 1] == 10);
	CHECK(b.back() == 101);
}

TEST_CASE("sizes: minimum and maximum")
{
	CHECK(encode(sample(4, 0, false)).size() == 39);
	CHECK(encode(sample(16, 16, true)).size() == EVPN_MON_NLRI_KEYS_MAX_LEN);
	evpn_mon_route d;
	CHECK(decode(Bytes(EVPN_MON_NLRI_MIN_LEN - 1, 0), d) == EVPN_MON_ERR_SHORT);
	CHECK(decode(Bytes(EVPN_MON_NLRI_MAX_LEN + 1, 0), d) == EVPN_MON_ERR_LONG);
	CHECK(decode(Bytes(), d) == EVPN_MON_ERR_SHORT);
}

TEST_CASE("structural errors: every length field wrong -> key not trusted")
{
	struct Case {
		size_t off;
		uint8_t value;
		evpn_mon_error want;
	};
	const Case cases[] = {
		{kHostMacLen, 47, EVPN_MON_ERR_HOST_MAC_LEN},
		{kHostMacLen, 8, EVPN_MON_ERR_HOST_MAC_LEN},
		{kHostMacLen, 0, EVPN_MON_ERR_HOST_IP_LEN}, // shifts: MAC octet read as IP length
		{kHostIpLen, 24, EVPN_MON_ERR_HOST_IP_LEN},
		{kHostIpLen, 128, EVPN_MON_ERR_SERVER_MAC_LEN}, // 16 octets read, then garbage
		{kHostIpLen, 0, EVPN_MON_ERR_SERVER_MAC_LEN},
		{kServerMacLen, 0, EVPN_MON_ERR_SERVER_MAC_LEN},
		{kServerMacLen, 64, EVPN_MON_ERR_SERVER_MAC_LEN},
		{kServerIpLen, 33, EVPN_MON_ERR_SERVER_IP_LEN},
		{kServerIpLen, 128, EVPN_MON_ERR_TRUNCATED},
		{kServerIpLen, 0, EVPN_MON_ERR_ORIG_IP_LEN},
		{kOrigLen, 128, EVPN_MON_ERR_ORIG_IP_LEN},
		{kOrigLen, 0, EVPN_MON_ERR_ORIG_IP_LEN},
	};
	for (const auto &c : cases) {
		CAPTURE(c.off);
		CAPTURE(int(c.value));
		auto b = encode(sample());
		b[c.off] = c.value;
		evpn_mon_route d;
		auto err = decode(b, d);
		CHECK(err == c.want);
		CHECK_FALSE(evpn_mon_error_key_valid(err));
	}
}

TEST_CASE("truncated and trailing octets")
{
	auto full = encode(sample());
	evpn_mon_route d;
	for (size_t n = EVPN_MON_NLRI_MIN_LEN; n < full.size(); n++) {
		CAPTURE(n);
		Bytes b(full.begin(), full.begin() + long(n));
		auto err = decode(b, d);
		CHECK(err != EVPN_MON_OK);
		CHECK_FALSE(evpn_mon_error_key_valid(err));
	}
	// Octets after the originator IP are an options area: its first octet
	// is the version, and a wrong one leaves the key usable.
	auto longer = full;
	longer.push_back(0);
	CHECK(decode(longer, d) == EVPN_MON_ERR_OPT_VERSION);
	CHECK(evpn_mon_error_key_valid(EVPN_MON_ERR_OPT_VERSION));
}

TEST_CASE("semantic errors keep the key: treat-as-withdraw")
{
	evpn_mon_route d;
	SUBCASE("HOST ID 0")
	{
		auto r = sample();
		r.host_id = 0;
		CHECK(decode(encode(r), d) == EVPN_MON_ERR_HOST_ID);
	}
	SUBCASE("HOST ID over 16 bits")
	{
		auto r = sample();
		r.host_id = 65536;
		CHECK(decode(encode(r), d) == EVPN_MON_ERR_HOST_ID);
		CHECK(d.host_id == 65536);
	}
	SUBCASE("HOST ID 65535 is valid")
	{
		auto r = sample();
		r.host_id = 65535;
		CHECK(decode(encode(r), d) == EVPN_MON_OK);
	}
	SUBCASE("multicast host MAC")
	{
		auto r = sample();
		r.host_mac[0] = 0x01;
		CHECK(decode(encode(r), d) == EVPN_MON_ERR_HOST_MAC);
	}
	SUBCASE("broadcast host MAC")
	{
		auto r = sample();
		std::memset(r.host_mac, 0xff, 6);
		CHECK(decode(encode(r), d) == EVPN_MON_ERR_HOST_MAC);
	}
	SUBCASE("zero host MAC")
	{
		auto r = sample();
		std::memset(r.host_mac, 0, 6);
		CHECK(decode(encode(r), d) == EVPN_MON_ERR_HOST_MAC);
	}
	SUBCASE("no host at all")
	{
		auto r = sample(0, 4, false);
		Bytes b(EVPN_MON_NLRI_MAX_LEN);
		b.resize(evpn_mon_encode(&r, b.data(), b.size()));
		CHECK(decode(b, d) == EVPN_MON_ERR_NO_HOST);
	}
	SUBCASE("multicast server MAC")
	{
		auto r = sample();
		r.server_mac[0] = 0x03;
		CHECK(decode(encode(r), d) == EVPN_MON_ERR_SERVER_MAC);
		// a withdrawal needs only the key
		CHECK(decode(encode(r), d, true) == EVPN_MON_OK);
	}
	SUBCASE("VNI 0")
	{
		auto r = sample();
		r.vni = 0;
		CHECK(decode(encode(r), d) == EVPN_MON_ERR_VNI);
	}
	CHECK(evpn_mon_error_key_valid(evpn_mon_decode(nullptr, 0, false, &d)) == false);
}

TEST_CASE("flags are reserved: ignored on receipt, zero on send")
{
	auto b = encode(sample());
	b[15] = 0xff;
	evpn_mon_route d;
	REQUIRE(decode(b, d) == EVPN_MON_OK);
	CHECK(d.flags == 0xff);
	CHECK(encode(d)[15] == 0);
}

TEST_CASE("key and payload split and rebuild")
{
	auto r = sample(16, 16, true);
	evpn_mon_key k;
	uint8_t p[EVPN_MON_PAYLOAD_MAX_LEN];
	evpn_mon_route_key(&r, &k);
	size_t plen = evpn_mon_route_payload(&r, p, sizeof(p));
	CHECK(plen == 6 + 1 + 16);
	evpn_mon_route back;
	REQUIRE(evpn_mon_route_from_key(&back, r.rd, r.eth_tag, &k, p, plen));
	CHECK(same(r, back));

	// The key does not depend on the server: a server change is an
	// implicit replace of the same route.
	auto r2 = r;
	r2.server_mac[5] = 0x99;
	evpn_mon_key k2;
	evpn_mon_route_key(&r2, &k2);
	CHECK(std::memcmp(&k, &k2, sizeof(k)) == 0);
	CHECK(sizeof(evpn_mon_key) == 36);
}

TEST_CASE("encoder refuses invalid lengths and short buffers")
{
	auto r = sample();
	uint8_t buf[EVPN_MON_NLRI_MAX_LEN];
	CHECK(evpn_mon_encode(&r, buf, 10) == 0);
	r.host_ip.len = 5;
	CHECK(evpn_mon_encode(&r, buf, sizeof(buf)) == 0);
	CHECK(std::string(evpn_mon_strerror(EVPN_MON_ERR_HOST_ID)).find("HOST ID") != std::string::npos);
	CHECK(std::string(evpn_mon_strerror(evpn_mon_error(999))) == "unknown error");
}

// --- the options area (docs/wire-format.md, "Options") ---

namespace {

evpn_mon_options profile(const char *name = "roce")
{
	evpn_mon_options o{};
	o.present = 1;
	std::memcpy(o.name, name, std::min(std::strlen(name), sizeof(o.name) - 1));
	return o;
}

// The largest options area: every single-valued option at its widest, one
// full IPv6 line (8 UDFs) and a second line filling the rest, 182 octets.
evpn_mon_options largest_options()
{
	evpn_mon_options o = profile("rocev2-debugging");
	o.direction = EVPN_MON_DIR_RX;
	o.sample = EVPN_MON_SAMPLE_MAX;
	o.truncate = EVPN_MON_TRUNCATE_MAX;
	o.police_unit = EVPN_MON_POLICE_BPS;
	o.police_rate = EVPN_MON_POLICE_BPS_MAX;
	o.police_burst = EVPN_MON_POLICE_BURST_MAX;
	o.nfilters = 2;
	auto &a = o.filters[0];
	a.family = 6;
	a.proto = 17;
	a.src.len = a.dst.len = 128;
	for (int i = 0; i < 16; i++) {
		a.src.addr[i] = uint8_t(0x20 + i);
		a.dst.addr[i] = uint8_t(0x40 + i);
	}
	a.sport_lo = 1000;
	a.sport_hi = 2000;
	a.dport_lo = a.dport_hi = 4791;
	a.nudf = EVPN_MON_MAX_UDFS;
	for (int i = 0; i < EVPN_MON_MAX_UDFS; i++)
		a.udf[i] = {EVPN_MON_UDF_L5, uint8_t(i * 2), uint16_t(0x1100 + (i << 8)), 0xff00};
	auto &b = o.filters[1];
	b.family = 4;
	b.proto = 6;
	b.src.len = 24;
	b.src.addr[0] = 10;
	b.src.addr[1] = 1;
	b.src.addr[2] = 2;
	b.sport_lo = 1;
	b.sport_hi = 1023;
	b.nudf = 4;
	for (int i = 0; i < 4; i++)
		b.udf[i] = {EVPN_MON_UDF_L4, uint8_t(EVPN_MON_UDF_OFFSET_MAX - i), 0x0002, 0x0002};
	return o;
}

// A valid key part (sample()) followed by the given options area.
Bytes with_area(const Bytes &area)
{
	auto b = encode(sample());
	b.insert(b.end(), area.begin(), area.end());
	return b;
}

// Decode a key-valid route carrying `area`; the key must always survive.
evpn_mon_error decode_area(const Bytes &area, evpn_mon_route &d)
{
	auto err = decode(with_area(area), d);
	CHECK(evpn_mon_error_key_valid(err));
	CHECK(d.vni == 100);
	CHECK(d.host_id == 21);
	return err;
}

} // namespace

TEST_CASE("routes with options round-trip")
{
	std::vector<evpn_mon_options> all;
	all.push_back(profile()); // empty profile
	{
		auto o = profile("cnp");
		o.nfilters = 1;
		evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_CNP, &o.filters[0]);
		all.push_back(o);
	}
	{
		auto o = profile("nak");
		o.direction = EVPN_MON_DIR_TX;
		o.nfilters = 2;
		evpn_mon_filter_preset(EVPN_MON_PRESET_ROCEV2_NAK, &o.filters[0]);
		o.filters[1].family = 4;
		o.filters[1].dst.len = 8;
		o.filters[1].dst.addr[0] = 10;
		o.sample = 100;
		o.truncate = 128;
		o.police_unit = EVPN_MON_POLICE_PPS;
		o.police_rate = 1000;
		o.police_burst = 100;
		all.push_back(o);
	}
	all.push_back(largest_options());
	for (auto o : all) {
		CAPTURE(o.name);
		for (uint8_t hip : {0, 4, 16}) {
			auto r = sample(hip, 16, true);
			r.opts = o;
			auto b = encode(r);
			REQUIRE(b.size() == EVPN_MON_NLRI_MIN_LEN + 6 + hip + 16 +
						    evpn_mon_options_encoded_len(&o));
			evpn_mon_route d;
			REQUIRE(decode(b, d) == EVPN_MON_OK);
			CHECK(same(r, d));
			CHECK(encode(d) == b);
		}
	}
}

TEST_CASE("options are sent in canonical form")
{
	auto r = sample();
	r.opts = profile(""); // no NAME TLV
	r.opts.nfilters = 1;
	auto &f = r.opts.filters[0];
	f.nudf = 1;
	f.udf[0] = {EVPN_MON_UDF_L3, 9, 0x11ff, 0xff00}; // value bits outside the mask
	f.sport_lo = 0;
	f.sport_hi = 65535; // any port, spelt out
	r.opts.sample = 1;  // every packet
	f.udf[1].value = 7; // unused UDF slot
	r.opts.filters[3].proto = 6; // unused line
	auto b = encode(r);
	evpn_mon_route d;
	REQUIRE(decode(b, d) == EVPN_MON_OK);
	CHECK_FALSE(same(r, d));
	CHECK(evpn_mon_options_equal(&r.opts, &d.opts));
	CHECK(d.opts.filters[0].udf[0].value == 0x1100);
	CHECK(d.opts.filters[0].sport_hi == 0);
	CHECK(d.opts.sample == 0);
	// area: version, then FILTER len 12 = 4 + port flags + nudf + 6
	const Bytes area(b.end() - 15, b.end());
	CHECK(area == Bytes{1, 2, 12, 0, 0, 0, 0, 0, 1, 0, 9, 0x11, 0x00, 0xff, 0x00});
	CHECK(encode(d) == b);
}

TEST_CASE("an empty profile is one octet; no profile is no octet")
{
	auto r = sample();
	auto none = encode(r);
	r.opts = profile("");
	auto empty = encode(r);
	REQUIRE(empty.size() == none.size() + 1);
	CHECK(empty.back() == EVPN_MON_OPT_VERSION);
	evpn_mon_route d;
	REQUIRE(decode(empty, d) == EVPN_MON_OK);
	CHECK(d.opts.present == 1);
	REQUIRE(decode(none, d) == EVPN_MON_OK);
	CHECK(d.opts.present == 0);
}

const Bytes kLargestRoute = {
	0x00, 0x01, 0x0a, 0x00, 0x00, 0x65, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x15, 0x30, 0x02, 0x00, 0x00,
	0x00, 0x02, 0x10, 0x80, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
	0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x02, 0x00, 0x00,
	0x00, 0x00, 0x21, 0x80, 0xfd, 0xfe, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04,
	0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x20, 0x0a, 0x00, 0x00,
	0x65, 0x01, 0x01, 0x01, 0x01, 0x02, 0x5e, 0x06, 0x11, 0x80, 0x80, 0x20,
	0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c,
	0x2d, 0x2e, 0x2f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
	0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x03, 0x03, 0xe8, 0x07, 0xd0,
	0x12, 0xb7, 0x12, 0xb7, 0x08, 0x02, 0x00, 0x11, 0x00, 0xff, 0x00, 0x02,
	0x02, 0x12, 0x00, 0xff, 0x00, 0x02, 0x04, 0x13, 0x00, 0xff, 0x00, 0x02,
	0x06, 0x14, 0x00, 0xff, 0x00, 0x02, 0x08, 0x15, 0x00, 0xff, 0x00, 0x02,
	0x0a, 0x16, 0x00, 0xff, 0x00, 0x02, 0x0c, 0x17, 0x00, 0xff, 0x00, 0x02,
	0x0e, 0x18, 0x00, 0xff, 0x00, 0x02, 0x25, 0x04, 0x06, 0x18, 0x00, 0x0a,
	0x01, 0x02, 0x01, 0x00, 0x01, 0x03, 0xff, 0x04, 0x01, 0x7e, 0x00, 0x02,
	0x00, 0x02, 0x01, 0x7d, 0x00, 0x02, 0x00, 0x02, 0x01, 0x7c, 0x00, 0x02,
	0x00, 0x02, 0x01, 0x7b, 0x00, 0x02, 0x00, 0x02, 0x03, 0x04, 0x00, 0x80,
	0x00, 0x00, 0x04, 0x02, 0x24, 0x00, 0x05, 0x0d, 0x02, 0x00, 0x00, 0x00,
	0x5d, 0x21, 0xdb, 0xa0, 0x00, 0x05, 0xf5, 0xe1, 0x00, 0x81, 0x10, 0x72,
	0x6f, 0x63, 0x65, 0x76, 0x32, 0x2d, 0x64, 0x65, 0x62, 0x75, 0x67, 0x67,
	0x69, 0x6e, 0x67,
};

TEST_CASE("the largest route is 255 octets (docs/wire-format.md)")
{
	// the route printed in docs/wire-format.md ("Size limit") and stored
	// as frr-plugin/fuzz/corpus/opts-largest-route
	auto r = sample(16, 16, true);
	const uint8_t rd[8] = {0, 1, 10, 0, 0, 101, 0, 2};
	std::memcpy(r.rd, rd, 8);
	for (int i = 0; i < 16; i++) {
		r.host_ip.addr[i] = uint8_t(0x20 + i);
		r.server_ip.addr[i] = uint8_t(0xfd + i);
	}
	r.opts = largest_options();
	REQUIRE(evpn_mon_options_validate(&r.opts) == EVPN_MON_OPT_OK);
	CHECK(evpn_mon_options_encoded_len(&r.opts) == EVPN_MON_OPTIONS_MAX_LEN);
	auto b = encode(r);
	CHECK(b.size() == 255);
	CHECK(b.size() == EVPN_MON_NLRI_MAX_LEN);
	CHECK(b == kLargestRoute);
	evpn_mon_route d;
	REQUIRE(decode(b, d) == EVPN_MON_OK);
	CHECK(same(r, d));

	// One more prefix bit needs one more octet: refused everywhere.
	r.opts.filters[1].src.len = 25;
	CHECK(evpn_mon_options_validate(&r.opts) == EVPN_MON_OPT_TOO_LARGE);
	CHECK(evpn_mon_validate(&r, false) == EVPN_MON_ERR_OPT_VALUE);
	uint8_t buf[512];
	CHECK(evpn_mon_encode(&r, buf, sizeof(buf)) == 0);
	// and a received 256-octet NLRI is structurally too long
	CHECK(decode(Bytes(256, 0), d) == EVPN_MON_ERR_LONG);
}

TEST_CASE("unknown optional TLVs are skipped, known ones still read")
{
	evpn_mon_route d;
	CHECK(decode_area({1, 0x90, 3, 0xaa, 0xbb, 0xcc, 0x01, 1, 1, 0xff, 0}, d) == EVPN_MON_OK);
	CHECK(d.opts.present == 1);
	CHECK(d.opts.direction == EVPN_MON_DIR_RX);
	// zero-length and maximum-length optional TLVs
	Bytes big{1, 0xfe, 255};
	big.resize(big.size() + 255, 0x55);
	auto b = with_area(big);
	// 49 + 258 octets: too long for an NLRI, so only the codec level
	CHECK(decode(b, d) == EVPN_MON_ERR_LONG);
	evpn_mon_options o;
	CHECK(evpn_mon_options_decode(big.data(), big.size(), &o) == EVPN_MON_OPT_OK);
	CHECK(o.present == 1);
}

TEST_CASE("malformed options: key kept, route treated as withdrawn")
{
	struct Case {
		const char *what;
		Bytes area;
		evpn_mon_error want;
	};
	const Case cases[] = {
		{"version 0", {0}, EVPN_MON_ERR_OPT_VERSION},
		{"version 2", {2, 1, 1, 1}, EVPN_MON_ERR_OPT_VERSION},
		{"unknown mandatory", {1, 0x10, 0}, EVPN_MON_ERR_OPT_UNKNOWN},
		{"unknown mandatory 7", {1, 7, 1, 0}, EVPN_MON_ERR_OPT_UNKNOWN},
		{"header cut", {1, 1}, EVPN_MON_ERR_OPT_TRUNCATED},
		{"value cut", {1, 3, 4, 0, 0, 0}, EVPN_MON_ERR_OPT_TRUNCATED},
		{"optional value cut", {1, 0x90, 2, 0}, EVPN_MON_ERR_OPT_TRUNCATED},
		{"direction len 2", {1, 1, 2, 0, 1}, EVPN_MON_ERR_OPT_LENGTH},
		{"direction len 0", {1, 1, 0}, EVPN_MON_ERR_OPT_LENGTH},
		{"sample len 3", {1, 3, 3, 0, 0, 2}, EVPN_MON_ERR_OPT_LENGTH},
		{"sample len 5", {1, 3, 5, 0, 0, 0, 0, 2}, EVPN_MON_ERR_OPT_LENGTH},
		{"truncate len 1", {1, 4, 1, 64}, EVPN_MON_ERR_OPT_LENGTH},
		{"police len 12", {1, 5, 12, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1}, EVPN_MON_ERR_OPT_LENGTH},
		{"name len 0", {1, 0x81, 0}, EVPN_MON_ERR_OPT_LENGTH},
		{"name len 17", {1, 0x81, 17, 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'},
		 EVPN_MON_ERR_OPT_LENGTH},
		// filter: family 0, proto 0, /0 /0, no ports, 0 UDFs = 6 octets
		{"filter len 5", {1, 2, 5, 0, 0, 0, 0, 0}, EVPN_MON_ERR_OPT_LENGTH},
		{"filter len 7", {1, 2, 7, 0, 0, 0, 0, 0, 0, 0}, EVPN_MON_ERR_OPT_LENGTH},
		{"filter prefix octets missing", {1, 2, 6, 4, 0, 8, 0, 0, 0}, EVPN_MON_ERR_OPT_LENGTH},
		{"filter ports missing", {1, 2, 6, 0, 17, 0, 0, 2, 0}, EVPN_MON_ERR_OPT_LENGTH},
		{"filter UDF cut", {1, 2, 8, 0, 0, 0, 0, 0, 1, 0, 0}, EVPN_MON_ERR_OPT_LENGTH},
		{"direction twice", {1, 1, 1, 1, 1, 1, 1}, EVPN_MON_ERR_OPT_DUPLICATE},
		{"sample twice", {1, 3, 4, 0, 0, 0, 2, 3, 4, 0, 0, 0, 2}, EVPN_MON_ERR_OPT_DUPLICATE},
		{"truncate twice", {1, 4, 2, 0, 64, 4, 2, 0, 64}, EVPN_MON_ERR_OPT_DUPLICATE},
		{"name twice", {1, 0x81, 1, 'a', 0x81, 1, 'b'}, EVPN_MON_ERR_OPT_DUPLICATE},
		{"direction 3", {1, 1, 1, 3}, EVPN_MON_ERR_OPT_VALUE},
		{"sample 2^23+1", {1, 3, 4, 0, 0x80, 0, 1}, EVPN_MON_ERR_OPT_VALUE},
		{"truncate 63", {1, 4, 2, 0, 63}, EVPN_MON_ERR_OPT_VALUE},
		{"truncate 9217", {1, 4, 2, 0x24, 0x01}, EVPN_MON_ERR_OPT_VALUE},
		{"police unit 3", {1, 5, 13, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1}, EVPN_MON_ERR_OPT_VALUE},
		{"police pps 0", {1, 5, 13, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, EVPN_MON_ERR_OPT_VALUE},
		{"police burst 0", {1, 5, 13, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"name not printable", {1, 0x81, 2, 'a', 0x07}, EVPN_MON_ERR_OPT_VALUE},
		{"name with NUL", {1, 0x81, 2, 'a', 0}, EVPN_MON_ERR_OPT_VALUE},
		{"family 5", {1, 2, 6, 5, 0, 0, 0, 0, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"prefix without family", {1, 2, 7, 0, 0, 8, 0, 10, 0, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"IPv4 /33", {1, 2, 11, 4, 0, 33, 0, 10, 0, 0, 0, 0, 0, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"prefix /129", {1, 2, 6, 6, 0, 129, 0, 0, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"host bits set", {1, 2, 7, 4, 0, 7, 0, 0x0b, 0, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"ports without tcp/udp/sctp", {1, 2, 10, 0, 1, 0, 0, 1, 0, 1, 0, 2, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"port range reversed", {1, 2, 10, 0, 17, 0, 0, 2, 0, 9, 0, 8, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"port flags reserved bit", {1, 2, 6, 0, 0, 0, 0, 4, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"9 UDFs", {1, 2, 6, 0, 0, 0, 0, 0, 9}, EVPN_MON_ERR_OPT_VALUE},
		{"UDF base 3", {1, 2, 12, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"UDF offset 127", {1, 2, 12, 0, 0, 0, 0, 0, 1, 2, 127, 0, 0, 0, 0}, EVPN_MON_ERR_OPT_VALUE},
		{"5 filter lines",
		 {1, 2, 6, 0, 0, 0, 0, 0, 0, 2, 6, 0, 0, 0, 0, 0, 0, 2, 6, 0, 0, 0, 0, 0, 0, 2, 6, 0, 0, 0, 0, 0, 0,
		  2, 6, 0, 0, 0, 0, 0, 0},
		 EVPN_MON_ERR_OPT_VALUE},
	};
	for (const auto &c : cases) {
		CAPTURE(c.what);
		evpn_mon_route d;
		CHECK(decode_area(c.area, d) == c.want);
		CHECK(d.opts.present == 0); // options of a malformed area are dropped
		// a withdrawal needs only the key: options errors do not matter
		CHECK(decode(with_area(c.area), d, true) == EVPN_MON_OK);
	}
}

TEST_CASE("options edge values accepted on receipt")
{
	evpn_mon_route d;
	// explicit defaults are accepted and read as the defaults
	CHECK(decode_area({1, 1, 1, 0, 3, 4, 0, 0, 0, 1, 4, 2, 0, 0, 5, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, d) ==
	      EVPN_MON_OK);
	evpn_mon_options want{};
	want.present = 1;
	CHECK(evpn_mon_options_equal(&d.opts, &want));
	// four lines (the most), the largest sample and truncation
	CHECK(decode_area({1, 2, 6, 0, 0, 0, 0, 0, 0, 2, 6, 0, 0, 0, 0, 0, 0, 2, 6, 0, 0, 0, 0, 0, 0, 2, 6, 0, 0, 0, 0, 0,
			   0, 3, 4, 0, 0x80, 0, 0, 4, 2, 0x24, 0},
			  d) == EVPN_MON_OK);
	CHECK(d.opts.nfilters == 4);
	CHECK(d.opts.sample == EVPN_MON_SAMPLE_MAX);
	CHECK(d.opts.truncate == EVPN_MON_TRUNCATE_MAX);
}

TEST_CASE("options error names are stable")
{
	CHECK(std::string(evpn_mon_errname(EVPN_MON_ERR_OPT_VERSION)) == "optionsVersion");
	CHECK(std::string(evpn_mon_errname(EVPN_MON_ERR_OPT_TRUNCATED)) == "optionsTruncated");
	CHECK(std::string(evpn_mon_errname(EVPN_MON_ERR_OPT_LENGTH)) == "optionsLength");
	CHECK(std::string(evpn_mon_errname(EVPN_MON_ERR_OPT_DUPLICATE)) == "optionsDuplicate");
	CHECK(std::string(evpn_mon_errname(EVPN_MON_ERR_OPT_UNKNOWN)) == "optionsUnknownMandatory");
	CHECK(std::string(evpn_mon_errname(EVPN_MON_ERR_OPT_VALUE)) == "optionsValue");
	CHECK(std::string(evpn_mon_errname(EVPN_MON_ERR_TRAILING)) == "trailingOctets");
	for (int e = 0; e < EVPN_MON_ERR__MAX; e++) {
		CAPTURE(e);
		CHECK(std::string(evpn_mon_errname(evpn_mon_error(e))) != "unknown");
		CHECK(std::string(evpn_mon_strerror(evpn_mon_error(e))) != "unknown error");
	}
}

TEST_CASE("payload carries server and options; malformed payload refused")
{
	auto r = sample(4, 16, true);
	r.opts = largest_options();
	evpn_mon_key k;
	evpn_mon_route_key(&r, &k);
	uint8_t p[EVPN_MON_PAYLOAD_MAX_LEN];
	size_t plen = evpn_mon_route_payload(&r, p, sizeof(p));
	CHECK(plen == EVPN_MON_PAYLOAD_MAX_LEN);
	CHECK(evpn_mon_route_payload(&r, p, plen - 1) == 0);
	evpn_mon_route back;
	REQUIRE(evpn_mon_route_from_key(&back, r.rd, r.eth_tag, &k, p, plen));
	CHECK(same(r, back));

	// key only
	REQUIRE(evpn_mon_route_from_key(&back, r.rd, r.eth_tag, &k, nullptr, 0));
	CHECK(back.vni == r.vni);
	CHECK(back.opts.present == 0);

	// bad server IP length, short payload, bad options
	p[6] = 5;
	CHECK_FALSE(evpn_mon_route_from_key(&back, r.rd, r.eth_tag, &k, p, plen));
	CHECK(back.server_ip.len == 0);
	p[6] = 16;
	CHECK_FALSE(evpn_mon_route_from_key(&back, r.rd, r.eth_tag, &k, p, 6));
	CHECK_FALSE(evpn_mon_route_from_key(&back, r.rd, r.eth_tag, &k, p, 20));
	p[6 + 1 + 16] = 9; // options version
	CHECK_FALSE(evpn_mon_route_from_key(&back, r.rd, r.eth_tag, &k, p, plen));
	CHECK(back.opts.present == 0);
	CHECK(back.vni == r.vni);

	// no profile: no area
	r.opts = {};
	CHECK(evpn_mon_route_payload(&r, p, sizeof(p)) == 6 + 1 + 16);
	// options do not change the key: a profile change is an implicit replace
	r.opts = profile("x");
	evpn_mon_key k2;
	evpn_mon_route_key(&r, &k2);
	CHECK(std::memcmp(&k, &k2, sizeof(k)) == 0);
}

TEST_CASE("session id")
{
	char buf[EVPN_MON_SESSION_ID_MAX];
	auto r = sample(0, 4, true);
	size_t len = evpn_mon_session_id(&r, buf, sizeof(buf));
	CHECK(len == std::strlen(buf));
	CHECK(std::string(buf) == "10.0.0.101/100/21/02:00:00:00:02:10/-");
	r = sample(4, 4, false);
	evpn_mon_session_id(&r, buf, sizeof(buf));
	CHECK(std::string(buf) == "10.0.0.101/100/21/-/192.193.194.195");
	// the widest: IPv6 host, 24-bit VNI, 16-bit HOST ID
	r = sample(16, 4, true);
	std::memset(r.host_ip.addr, 0xab, 16);
	r.vni = 16777215;
	r.host_id = 65535;
	r.orig_ip[0] = 255;
	r.orig_ip[1] = 255;
	r.orig_ip[2] = 255;
	r.orig_ip[3] = 255;
	size_t n = evpn_mon_session_id(&r, buf, sizeof(buf));
	CHECK(std::string(buf) ==
	      "255.255.255.255/16777215/65535/02:00:00:00:02:10/abab:abab:abab:abab:abab:abab:abab:abab");
	CHECK(n < EVPN_MON_SESSION_ID_MAX);
	// RD, server and options are not part of the identity
	auto r2 = r;
	r2.rd[7] = 9;
	r2.server_mac[5] = 7;
	r2.opts = profile("p");
	char buf2[EVPN_MON_SESSION_ID_MAX];
	evpn_mon_session_id(&r2, buf2, sizeof(buf2));
	CHECK(std::string(buf) == buf2);
	// a short buffer is NUL-terminated
	char small[8];
	CHECK(evpn_mon_session_id(&r, small, sizeof(small)) == 7);
	CHECK(std::strlen(small) == 7);
}

// --- collector routes (docs/wire-format.md, "Destination") ---

namespace {

// A collector session: host 02:00:00:00:02:10 in VNI 100 copied as ERSPAN
// III to collector 7 at 10.9.0.1 (span id 7, dscp 0, ttl 64), originated by
// 10.0.0.103: the worked example of docs/wire-format.md.
evpn_mon_route collector()
{
	evpn_mon_route r{};
	const uint8_t rd[8] = {0, 1, 10, 0, 0, 103, 0, 2}; // 10.0.0.103:2
	std::memcpy(r.rd, rd, 8);
	r.vni = 100;
	r.dest = EVPN_MON_DEST_COLLECTOR;
	r.host_id = 7;
	r.host_mac_len = 6;
	const uint8_t m[6] = {0x02, 0, 0, 0, 0x02, 0x10};
	std::memcpy(r.host_mac, m, 6);
	r.server_ip.len = 4;
	const uint8_t c[4] = {10, 9, 0, 1};
	std::memcpy(r.server_ip.addr, c, 4);
	const uint8_t o[4] = {10, 0, 0, 103};
	std::memcpy(r.orig_ip, o, 4);
	r.opts.erspan.version = 3;
	r.opts.erspan.span_id = 7;
	r.opts.erspan.ttl = EVPN_MON_ERSPAN_TTL_DEFAULT;
	return r;
}

const Bytes kCollectorExample = {
	0x00, 0x01, 0x0a, 0x00, 0x00, 0x67, 0x00, 0x02, // RD 10.0.0.103:2
	0x00, 0x00, 0x00, 0x00,                         // Ethernet Tag 0
	0x00, 0x00, 0x64,                               // VNI 100
	0x00,                                           // flags
	0x01, 0x00, 0x00, 0x07,                         // collector, 0, ID 7
	0x30, 0x02, 0x00, 0x00, 0x00, 0x02, 0x10,       // host MAC
	0x00,                                           // no host IP
	0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,       // server MAC field: zero
	0x20, 0x0a, 0x09, 0x00, 0x01,                   // collector IP 10.9.0.1
	0x20, 0x0a, 0x00, 0x00, 0x67,                   // originator 10.0.0.103
	0x01,                                           // options version 1
	0x06, 0x08, 0x03, 0x00, 0x00, 0x07, 0x00, 0x40, 0x00, 0x00, // ERSPAN III, span 7, dscp 0, ttl 64, GRE 0
};

// Offsets in kCollectorExample.
constexpr size_t kDest = 16, kCollServerMac = 28, kCollServerIpLen = 35, kCollOpts = 45;

} // namespace

TEST_CASE("collector route: exact octets (the docs' worked example)")
{
	auto r = collector();
	CHECK(evpn_mon_validate(&r, false) == EVPN_MON_OK);
	auto b = encode(r);
	CHECK(b == kCollectorExample);
	CHECK(b.size() == 56);
	evpn_mon_route d;
	REQUIRE(decode(b, d) == EVPN_MON_OK);
	CHECK(d.dest == EVPN_MON_DEST_COLLECTOR);
	CHECK(d.host_id == 7);
	CHECK(d.opts.present == 1); // a decoded area: an empty profile
	CHECK(d.opts.erspan.version == 3);
	CHECK(evpn_mon_options_equal(&r.opts, &d.opts));
	evpn_mon_options_canonicalize(&r.opts);
	CHECK(same(r, d));
	CHECK(encode(d) == kCollectorExample);

	// the key holds the HOST ID field as on the wire
	evpn_mon_key k;
	evpn_mon_route_key(&d, &k);
	CHECK(k.host_id == 0x01000007u);
	// bgpd's split: key + payload (zero MAC, collector IP, options)
	uint8_t p[EVPN_MON_PAYLOAD_MAX_LEN];
	size_t plen = evpn_mon_route_payload(&d, p, sizeof(p));
	REQUIRE(plen == 6 + 1 + 4 + 11);
	CHECK(Bytes(p, p + plen) ==
	      Bytes({0, 0, 0, 0, 0, 0, 4, 10, 9, 0, 1, 1, 6, 8, 3, 0, 0, 7, 0, 0x40, 0, 0}));
	evpn_mon_route back;
	REQUIRE(evpn_mon_route_from_key(&back, d.rd, d.eth_tag, &k, p, plen));
	CHECK(same(d, back));
	// key only: the destination kind comes back too
	REQUIRE(evpn_mon_route_from_key(&back, d.rd, d.eth_tag, &k, nullptr, 0));
	CHECK(back.dest == EVPN_MON_DEST_COLLECTOR);
	CHECK(back.host_id == 7);

	// with a profile and an IPv6 collector (the wire allows it)
	r = collector();
	r.server_ip.len = 16;
	std::memset(r.server_ip.addr, 0x20, 16);
	r.opts.present = 1;
	r.opts.truncate = 128;
	std::strcpy(r.opts.name, "cnp");
	b = encode(r);
	REQUIRE(b.size() == 56 + 12 + 4 + 5);
	REQUIRE(decode(b, d) == EVPN_MON_OK);
	CHECK(same(r, d));
}

TEST_CASE("collector route: every ID 1..65535, and the key is not a server's")
{
	auto r = collector();
	for (uint32_t id : {1u, 2u, 1023u, 1024u, 65535u}) {
		CAPTURE(id);
		r.host_id = id;
		auto b = encode(r);
		CHECK(b[kDest] == 1);
		CHECK(b[kDest + 1] == 0);
		CHECK(b[kDest + 2] == id >> 8);
		CHECK(b[kDest + 3] == (id & 0xff));
		evpn_mon_route d;
		REQUIRE(decode(b, d) == EVPN_MON_OK);
		CHECK(d.host_id == id);
	}
	// collector 7 and server 7 of the same host: two routes
	auto s = collector();
	s.dest = EVPN_MON_DEST_SERVER;
	evpn_mon_key kc, ks;
	r.host_id = 7;
	evpn_mon_route_key(&r, &kc);
	evpn_mon_route_key(&s, &ks);
	CHECK(ks.host_id == 7);
	CHECK(std::memcmp(&kc, &ks, sizeof(kc)) != 0);
	// a server route's key is what it always was: the HOST ID field
	auto old = sample();
	evpn_mon_route_key(&old, &ks);
	CHECK(ks.host_id == 21);
}

TEST_CASE("collector route: every `destination` error, treat-as-withdraw")
{
	struct Case {
		const char *what;
		void (*edit)(Bytes &);
		evpn_mon_error want;          // an advertisement
		evpn_mon_error want_withdraw; // the same NLRI withdrawn
	};
	const Case cases[] = {
		{"kind 2", [](Bytes &b) { b[kDest] = 2; }, EVPN_MON_ERR_DEST, EVPN_MON_ERR_DEST},
		{"kind 255", [](Bytes &b) { b[kDest] = 0xff; }, EVPN_MON_ERR_DEST, EVPN_MON_ERR_DEST},
		{"second octet not 0", [](Bytes &b) { b[kDest + 1] = 1; }, EVPN_MON_ERR_HOST_ID,
		 EVPN_MON_ERR_HOST_ID},
		{"collector ID 0",
		 [](Bytes &b) {
			 b[kDest + 2] = 0;
			 b[kDest + 3] = 0;
		 },
		 EVPN_MON_ERR_HOST_ID, EVPN_MON_ERR_HOST_ID},
		{"server MAC set (unicast)", [](Bytes &b) { b[kCollServerMac + 1] = 0x02, b[kCollServerMac + 6] = 1; },
		 EVPN_MON_ERR_DEST, EVPN_MON_OK},
		{"server MAC set (broadcast)", [](Bytes &b) { std::fill_n(b.begin() + kCollServerMac + 1, 6, 0xff); },
		 EVPN_MON_ERR_DEST, EVPN_MON_OK},
		{"no collector IP",
		 [](Bytes &b) {
			 b[kCollServerIpLen] = 0;
			 b.erase(b.begin() + kCollServerIpLen + 1, b.begin() + kCollServerIpLen + 5);
		 },
		 EVPN_MON_ERR_DEST, EVPN_MON_OK},
		{"no options area", [](Bytes &b) { b.resize(kCollOpts); }, EVPN_MON_ERR_DEST, EVPN_MON_OK},
		{"an empty profile, no ERSPAN TLV", [](Bytes &b) { b.resize(kCollOpts + 1); }, EVPN_MON_ERR_DEST,
		 EVPN_MON_OK},
		{"a profile, no ERSPAN TLV",
		 [](Bytes &b) {
			 b.resize(kCollOpts + 1);
			 b.insert(b.end(), {4, 2, 0, 128});
		 },
		 EVPN_MON_ERR_DEST, EVPN_MON_OK},
		{"server route with the ERSPAN TLV",
		 [](Bytes &b) {
			 b[kDest] = 0;
			 b[kCollServerMac + 1] = 0x02;
			 b[kCollServerMac + 6] = 0x21;
		 },
		 EVPN_MON_ERR_DEST, EVPN_MON_OK},
		// checked in this order: key, server fields, options, then the TLV
		{"VNI 0 before the destination", [](Bytes &b) { b[14] = 0, b.resize(kCollOpts); }, EVPN_MON_ERR_VNI,
		 EVPN_MON_ERR_VNI},
		{"kind before HOST ID", [](Bytes &b) { b[kDest] = 9, b[kDest + 3] = 0; }, EVPN_MON_ERR_DEST,
		 EVPN_MON_ERR_DEST},
		{"server fields before options", [](Bytes &b) { b[kCollServerMac + 6] = 1, b[kCollOpts] = 2; },
		 EVPN_MON_ERR_DEST, EVPN_MON_OK},
		// a malformed ERSPAN TLV is an options error, not a destination one
		{"ERSPAN version 4", [](Bytes &b) { b[kCollOpts + 3] = 4; }, EVPN_MON_ERR_OPT_VALUE, EVPN_MON_OK},
		{"ERSPAN flags", [](Bytes &b) { b[kCollOpts + 4] = 1; }, EVPN_MON_ERR_OPT_VALUE, EVPN_MON_OK},
		{"ERSPAN span id 1024", [](Bytes &b) { b[kCollOpts + 5] = 4, b[kCollOpts + 6] = 0; },
		 EVPN_MON_ERR_OPT_VALUE, EVPN_MON_OK},
		{"ERSPAN dscp 64", [](Bytes &b) { b[kCollOpts + 7] = 64; }, EVPN_MON_ERR_OPT_VALUE, EVPN_MON_OK},
		{"ERSPAN ttl 0", [](Bytes &b) { b[kCollOpts + 8] = 0; }, EVPN_MON_ERR_OPT_VALUE, EVPN_MON_OK},
		{"ERSPAN length 7", [](Bytes &b) { b[kCollOpts + 2] = 7, b.pop_back(); }, EVPN_MON_ERR_OPT_LENGTH,
		 EVPN_MON_OK},
		{"ERSPAN twice",
		 [](Bytes &b) {
			 const Bytes tlv(b.begin() + kCollOpts + 1, b.end());
			 b.insert(b.end(), tlv.begin(), tlv.end());
		 },
		 EVPN_MON_ERR_OPT_DUPLICATE, EVPN_MON_OK},
	};
	for (const auto &c : cases) {
		CAPTURE(c.what);
		auto b = kCollectorExample;
		c.edit(b);
		evpn_mon_route d;
		CHECK(decode(b, d) == c.want);
		CHECK(evpn_mon_error_key_valid(c.want));
		CHECK(d.vni == (c.want == EVPN_MON_ERR_VNI ? 0u : 100u));
		CHECK(d.host_mac[5] == 0x10); // the key is there
		CHECK(decode(b, d, true) == c.want_withdraw);
		// the originator's check gives the same answer
		CHECK(evpn_mon_validate(&d, false) == (c.want >= EVPN_MON_ERR_OPT_VERSION &&
								       c.want <= EVPN_MON_ERR_OPT_VALUE
							       ? EVPN_MON_ERR_DEST // the options were dropped
							       : c.want));
	}
}

TEST_CASE("collector route: origination check and encoder")
{
	auto r = collector();
	CHECK(evpn_mon_validate(&r, false) == EVPN_MON_OK);
	SUBCASE("kind unknown")
	{
		r.dest = 2;
		CHECK(evpn_mon_validate(&r, false) == EVPN_MON_ERR_DEST);
		CHECK(evpn_mon_validate(&r, true) == EVPN_MON_ERR_DEST);
	}
	SUBCASE("ID out of range")
	{
		r.host_id = 65536;
		CHECK(evpn_mon_validate(&r, false) == EVPN_MON_ERR_HOST_ID);
		r.host_id = 0;
		CHECK(evpn_mon_validate(&r, false) == EVPN_MON_ERR_HOST_ID);
	}
	SUBCASE("server MAC")
	{
		r.server_mac[5] = 1;
		CHECK(evpn_mon_validate(&r, false) == EVPN_MON_ERR_DEST);
		CHECK(evpn_mon_validate(&r, true) == EVPN_MON_OK);
	}
	SUBCASE("no collector IP")
	{
		r.server_ip.len = 0;
		CHECK(evpn_mon_validate(&r, false) == EVPN_MON_ERR_DEST);
	}
	SUBCASE("no ERSPAN parameters")
	{
		r.opts = {};
		CHECK(evpn_mon_validate(&r, false) == EVPN_MON_ERR_DEST);
		r.opts.present = 1;
		CHECK(evpn_mon_validate(&r, false) == EVPN_MON_ERR_DEST);
		CHECK(evpn_mon_validate(&r, true) == EVPN_MON_OK);
	}
	SUBCASE("ERSPAN value out of range")
	{
		r.opts.erspan.ttl = 0;
		CHECK(evpn_mon_validate(&r, false) == EVPN_MON_ERR_OPT_VALUE);
		CHECK(encode(r).empty()); // invalid options never go out
	}
	SUBCASE("a server session with ERSPAN parameters")
	{
		auto s = sample();
		CHECK(evpn_mon_validate(&s, false) == EVPN_MON_OK);
		s.opts.erspan = r.opts.erspan;
		CHECK(evpn_mon_validate(&s, false) == EVPN_MON_ERR_DEST);
	}
	SUBCASE("profile + ERSPAN TLV above 182 octets")
	{
		r.opts = largest_options(); // 182 on its own
		r.opts.erspan = collector().opts.erspan;
		CHECK(evpn_mon_options_validate(&r.opts) == EVPN_MON_OPT_TOO_LARGE);
		CHECK(evpn_mon_validate(&r, false) == EVPN_MON_ERR_OPT_VALUE);
		CHECK(encode(r).empty());
		uint8_t p[EVPN_MON_PAYLOAD_MAX_LEN];
		CHECK(evpn_mon_route_payload(&r, p, sizeof(p)) == 0);
	}
}

TEST_CASE("collector route: what a receiver that predates collectors sees")
{
	// An older decoder read the HOST ID field as one 32-bit number, 1..65535.
	auto old_host_id = [](const Bytes &b) {
		return uint32_t(b[kDest]) << 24 | uint32_t(b[kDest + 1]) << 16 | uint32_t(b[kDest + 2]) << 8 |
		       b[kDest + 3];
	};
	auto r = collector();
	for (uint32_t id : {1u, 7u, 65535u}) {
		CAPTURE(id);
		r.host_id = id;
		auto b = encode(r);
		uint32_t v = old_host_id(b);
		CHECK(v == 0x01000000u + id);
		CHECK(v > EVPN_MON_HOST_ID_MAX); // hostIdOutOfRange: treat-as-withdraw
	}
	// and so does this decoder, once the kind octet is read as a server's
	auto b = kCollectorExample;
	evpn_mon_route d;
	REQUIRE(decode(b, d) == EVPN_MON_OK);
	b[kDest] = 0;
	b[kDest + 1] = 1;
	CHECK(decode(b, d) == EVPN_MON_ERR_HOST_ID);
	CHECK(d.host_id == 0x10007u);
	// a malformed HOST ID field never yields the key of a valid route
	evpn_mon_key k;
	evpn_mon_route_key(&d, &k);
	CHECK(k.host_id == 0x00010007u);
	CHECK(encode(d) == b); // re-encoded as received (the fuzzer relies on it)
}

TEST_CASE("collector route: session id and reason name")
{
	char buf[EVPN_MON_SESSION_ID_MAX];
	auto r = collector();
	r.host_ip.len = 4;
	const uint8_t ip[4] = {192, 168, 100, 210};
	std::memcpy(r.host_ip.addr, ip, 4);
	r.host_mac_len = 0;
	size_t n = evpn_mon_session_id(&r, buf, sizeof(buf));
	CHECK(std::string(buf) == "10.0.0.103/100/c7/-/192.168.100.210");
	CHECK(n == std::strlen(buf));
	// collector 7 and server 7 are two sessions
	r.dest = EVPN_MON_DEST_SERVER;
	evpn_mon_session_id(&r, buf, sizeof(buf));
	CHECK(std::string(buf) == "10.0.0.103/100/7/-/192.168.100.210");
	// the widest collector id still fits
	r = collector();
	r.host_id = 65535;
	r.vni = 16777215;
	r.host_ip.len = 16;
	std::memset(r.host_ip.addr, 0xab, 16);
	std::memset(r.orig_ip, 255, 4);
	n = evpn_mon_session_id(&r, buf, sizeof(buf));
	CHECK(std::string(buf) ==
	      "255.255.255.255/16777215/c65535/02:00:00:00:02:10/abab:abab:abab:abab:abab:abab:abab:abab");
	CHECK(n < EVPN_MON_SESSION_ID_MAX);
	// an unknown kind (malformed) shows the raw field, as an older decoder
	r.dest = 2;
	r.host_id = 7;
	evpn_mon_session_id(&r, buf, sizeof(buf));
	CHECK(std::string(buf).find("/33554439/") != std::string::npos);

	CHECK(std::string(evpn_mon_errname(EVPN_MON_ERR_DEST)) == "destination");
	CHECK(std::string(evpn_mon_strerror(EVPN_MON_ERR_DEST)).find("destination") != std::string::npos);
}
