// Unit tests of the monitor-config NLRI codec (docs/wire-format.md).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

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
	CHECK(encode(sample(16, 16, true)).size() == EVPN_MON_NLRI_MAX_LEN);
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
	auto longer = full;
	longer.push_back(0);
	CHECK(decode(longer, d) == EVPN_MON_ERR_TRAILING);
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
	evpn_mon_payload p;
	evpn_mon_route_key(&r, &k);
	evpn_mon_route_payload(&r, &p);
	evpn_mon_route back;
	evpn_mon_route_from_key(&back, r.rd, r.eth_tag, &k, &p);
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
