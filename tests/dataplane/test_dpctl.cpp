// evpnmon-dpctl's argument parsing: the parsers (dataplane/tools/
// dpctl_parse.hpp) and the tool itself on the memory backend (no root, no
// device), which must refuse a malformed value rather than act on a prefix
// of it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "dpctl_parse.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <string>

using namespace evpnmon::dp;
using namespace evpnmon::dp::dpctl;

TEST_CASE("dpctl: integers are the whole string and in range")
{
	CHECK(parse_uint("100", 1, 0xffffff, "vni") == 100);
	CHECK(parse_uint("16777215", 1, 0xffffff, "vni") == 0xffffff);
	for (const char *bad : {"", "0", "16777216", "100x", "x100", " 100", "100 ", "+100", "-1",
				"1e3", "0x10", "99999999999999999999999"}) {
		CAPTURE(std::string(bad));
		CHECK_THROWS_AS(parse_uint(bad, 1, 0xffffff, "vni"), std::invalid_argument);
	}
}

TEST_CASE("dpctl: --decap-source VNI/VTEP")
{
	const auto [vni, ip] = parse_source("100/10.0.0.1");
	CHECK(vni == 100);
	CHECK(ip == *parse_ip("10.0.0.1"));
	for (const char *bad : {"100", "/10.0.0.1", "100x/10.0.0.1", "0/10.0.0.1",
				"16777216/10.0.0.1", "100/10.0.0.1x", "100/10.0.0", "100/fd00::1",
				"100/", "-1/10.0.0.1", "100/10.0.0.1/5"}) {
		CAPTURE(std::string(bad));
		CHECK_THROWS_AS(parse_source(bad), std::invalid_argument);
	}
}

TEST_CASE("dpctl: --mirror-ceiling is whole bits/s with k/m/g; no nan, inf or fraction of a bit")
{
	CHECK(parse_rate("off") == 0);
	CHECK(parse_rate("0") == 0);
	CHECK(parse_rate("1") == 1);
	CHECK(parse_rate("8") == 8);
	CHECK(parse_rate("20m") == 20'000'000);
	CHECK(parse_rate("20M") == 20'000'000);
	CHECK(parse_rate("2.5g") == 2'500'000'000);
	CHECK(parse_rate("0.5k") == 500);
	CHECK(parse_rate("1000000000g") == 1'000'000'000'000'000'000ull);
	for (const char *bad : {"", "nan", "NaN", "inf", "-inf", "infinity", "0.5", "0.4", "1.5",
				"0.0001k", "-1", "1e9", "20mb", "1t", " 8", "8 ", "1000000001g",
				"18446744073.709551616g", "x"}) {
		CAPTURE(std::string(bad));
		CHECK_THROWS_AS(parse_rate(bad), std::invalid_argument);
	}
}

TEST_CASE("dpctl: --mirror-ceiling-burst is octets with the consumer's k/m/g (KiB/MiB/GiB)")
{
	CHECK(parse_burst("0") == 0);
	CHECK(parse_burst("3000") == 3000);
	CHECK(parse_burst("64k") == 65536);
	CHECK(parse_burst("128K") == 131072);
	CHECK(parse_burst("1.5m") == 3u << 19);
	CHECK(parse_burst("0.5k") == 512);
	CHECK(parse_burst("2g") == kMaxMirrorCeilingBurst);
	for (const char *bad : {"", "64kb", "64x", "2147483649", "3g", "-1", "1.5", "0.0001k", "nan",
				"k"}) {
		CAPTURE(std::string(bad));
		CHECK_THROWS_AS(parse_burst(bad), std::invalid_argument);
	}
}

TEST_CASE("dpctl: --mirror-ceiling-packets is whole copies/s with k/m/g, at most 10^9; the packet burst whole copies")
{
	CHECK(parse_packet_rate_arg("off") == 0);
	CHECK(parse_packet_rate_arg("0") == 0);
	CHECK(parse_packet_rate_arg("1") == 1);
	CHECK(parse_packet_rate_arg("2k") == 2000);
	CHECK(parse_packet_rate_arg("1.5k") == 1500);
	CHECK(parse_packet_rate_arg("1g") == kMaxMirrorCeilingPps);
	for (const char *bad : {"", "nan", "0.5", "1.0001k", "-1", "2kpps", "1.1g", "2g", " 1", "x"}) {
		CAPTURE(std::string(bad));
		CHECK_THROWS_AS(parse_packet_rate_arg(bad), std::invalid_argument);
	}
	CHECK(parse_packet_burst("0") == 0);
	CHECK(parse_packet_burst("7") == 7);
	CHECK(parse_packet_burst("16777216") == kMaxMirrorCeilingPacketBurst);
	for (const char *bad : {"", "16777217", "1k", "-1", "1.5", "x"}) {
		CAPTURE(std::string(bad));
		CHECK_THROWS_AS(parse_packet_burst(bad), std::invalid_argument);
	}
}

namespace {

// Exit status of evpnmon-dpctl on the memory backend with `args`.
int run_dpctl(const std::string &args)
{
	const std::string cmd =
	    std::string(EVPNMON_DPCTL) + " --backend memory " + args + " >/dev/null 2>&1";
	const int st = std::system(cmd.c_str());
	REQUIRE(WIFEXITED(st));
	return WEXITSTATUS(st);
}

} // namespace

TEST_CASE("dpctl: the tool refuses what the parsers refuse")
{
	CHECK(run_dpctl("--show") == 0);
	CHECK(run_dpctl("--mirror-ceiling 20m --mirror-ceiling-burst 128k --show") == 0);
	CHECK(run_dpctl("--decap-source 100/10.0.0.1 --decap-sources") == 0);
	for (const char *bad : {"--mirror-ceiling-burst 64kb", "--mirror-ceiling-burst 3g",
				"--mirror-ceiling nan", "--mirror-ceiling inf", "--mirror-ceiling 0.4",
				"--decap-source 100x/10.0.0.1", "--decap-source 16777216/10.0.0.1",
				"--remove-decap-source 100/10.0.0.1x"}) {
		CAPTURE(std::string(bad));
		CHECK(run_dpctl(std::string(bad) + " --show") != 0);
	}
}
