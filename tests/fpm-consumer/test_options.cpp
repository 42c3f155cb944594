// The daemon's command line and options file (daemon/options.*): the ERSPAN
// HW ID from either, its range, and the command line winning over the file.
#include "daemon/options.hpp"

#include <CLI/CLI.hpp>
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using evpnmon::consumer::Options;
using evpnmon::consumer::parse_bit_rate;
using evpnmon::consumer::parse_byte_size;
using evpnmon::consumer::parse_options_or_throw;

namespace {

Options parse(std::vector<std::string> args)
{
	args.insert(args.begin(), "fpm-consumer");
	std::vector<const char *> argv;
	for (const auto &a : args)
		argv.push_back(a.c_str());
	return parse_options_or_throw(static_cast<int>(argv.size()), argv.data());
}

struct TempFile {
	std::string path;
	explicit TempFile(const std::string &text)
	{
		char tmpl[] = "/tmp/fpmc-options-XXXXXX";
		const int fd = ::mkstemp(tmpl);
		REQUIRE(fd >= 0);
		::close(fd);
		path = tmpl;
		std::ofstream(path) << text;
	}
	~TempFile() { std::remove(path.c_str()); }
};

} // namespace

TEST_CASE("--erspan-hw-id: 0 by default, 0..63 accepted, anything else refused")
{
	CHECK(parse({"--l2vni", "br100:vxlan100:100"}).erspan_hw_id == 0);
	CHECK(parse({"--l2vni", "br100:vxlan100:100", "--erspan-hw-id", "5"}).erspan_hw_id == 5);
	CHECK(parse({"--l2vni", "br100:vxlan100:100", "--erspan-hw-id", "63"}).erspan_hw_id == 63);
	for (const char *bad : {"64", "-1", "256", "x", ""})
		CHECK_THROWS_AS(parse({"--l2vni", "br100:vxlan100:100", "--erspan-hw-id", bad}),
				CLI::ParseError);
}

TEST_CASE("--tc-hook: auto by default, tcx or clsact, anything else refused")
{
	CHECK(parse({"--l2vni", "br100:vxlan100:100"}).tc_hook == "auto");
	for (const char *ok : {"auto", "tcx", "clsact"})
		CHECK(parse({"--l2vni", "br100:vxlan100:100", "--tc-hook", ok}).tc_hook == ok);
	for (const char *bad : {"TCX", "xdp", ""})
		CHECK_THROWS_AS(parse({"--l2vni", "br100:vxlan100:100", "--tc-hook", bad}),
				CLI::ParseError);
}

TEST_CASE("--dp-max-entries: the dataplane capacity, 262144 by default, 1..2^24")
{
	CHECK(parse({"--l2vni", "br100:vxlan100:100"}).dp_max_entries == 262144);
	CHECK(parse({"--l2vni", "br100:vxlan100:100", "--dp-max-entries", "64"}).dp_max_entries ==
	      64);
	CHECK(parse({"--l2vni", "br100:vxlan100:100", "--dp-max-entries", "16777216"})
		      .dp_max_entries == 16777216);
	for (const char *bad : {"0", "-1", "16777217", "x", ""})
		CHECK_THROWS_AS(parse({"--l2vni", "br100:vxlan100:100", "--dp-max-entries", bad}),
				CLI::ParseError);
	TempFile f("dp-max-entries = 500000\nl2vni = \"br100:vxlan100:100\"\n");
	CHECK(parse({"--config", f.path}).dp_max_entries == 500000);
	CHECK(parse({"--config", f.path, "--dp-max-entries", "1000"}).dp_max_entries == 1000);
	TempFile bad("dp-max-entries = 0\nl2vni = \"br100:vxlan100:100\"\n");
	CHECK_THROWS_AS(parse({"--config", bad.path}), CLI::ParseError);
}

TEST_CASE("--config: every long option is a key of the file, the command line wins")
{
	TempFile f("erspan-hw-id = 17\nl2vni = [\"br100:vxlan100:100\", \"br200:vxlan200:200\"]\n"
		   "backend = \"memory\"\n");
	const auto o = parse({"--config", f.path});
	CHECK(o.erspan_hw_id == 17);
	CHECK(o.backend == "memory");
	CHECK(o.config_file == f.path);
	REQUIRE(o.l2vnis.size() == 2);
	CHECK(o.l2vnis[1].vni == 200);
	CHECK(parse({"--config", f.path, "--erspan-hw-id", "3"}).erspan_hw_id == 3);

	SUBCASE("a value out of range in the file is refused like on the command line")
	{
		TempFile bad("erspan-hw-id = 99\nl2vni = \"br100:vxlan100:100\"\n");
		CHECK_THROWS_AS(parse({"--config", bad.path}), CLI::ParseError);
	}
	SUBCASE("a key that is no option is refused, not ignored")
	{
		TempFile typo("erspan-hwid = 5\nl2vni = \"br100:vxlan100:100\"\n");
		CHECK_THROWS_AS(parse({"--config", typo.path}), CLI::ParseError);
	}
	SUBCASE("a file that does not exist is refused")
	{
		CHECK_THROWS_AS(parse({"--config", "/nonexistent/fpm-consumer.conf", "--l2vni",
				       "br100:vxlan100:100"}),
				CLI::ParseError);
	}
}

TEST_CASE("--dp-max-profiles: profile slots, 16384 by default, 2..2^20")
{
	CHECK(parse({"--l2vni", "br100:vxlan100:100"}).dp_max_profiles == 16384);
	CHECK(parse({"--l2vni", "br100:vxlan100:100", "--dp-max-profiles", "131072"})
		      .dp_max_profiles == 131072);
	for (const char *bad : {"0", "1", "1048577", "x"})
		CHECK_THROWS_AS(parse({"--l2vni", "br100:vxlan100:100", "--dp-max-profiles", bad}),
				CLI::ParseError);
	TempFile f("dp-max-profiles = 200000\nl2vni = \"br100:vxlan100:100\"\n");
	CHECK(parse({"--config", f.path}).dp_max_profiles == 200000);
}

TEST_CASE("--mirror-ceiling: 1 Gbit/s by default, k/m/g suffixes, 0 or off = off")
{
	const auto base = std::vector<std::string>{"--l2vni", "br100:vxlan100:100"};
	auto with = [&](std::vector<std::string> more) {
		auto a = base;
		a.insert(a.end(), more.begin(), more.end());
		return parse(a);
	};
	CHECK(with({}).mirror_ceiling_bps == 1'000'000'000);
	CHECK(with({}).mirror_ceiling_burst == 0);
	CHECK(with({"--mirror-ceiling", "20m"}).mirror_ceiling_bps == 20'000'000);
	CHECK(with({"--mirror-ceiling", "20M"}).mirror_ceiling_bps == 20'000'000);
	CHECK(with({"--mirror-ceiling", "2.5g"}).mirror_ceiling_bps == 2'500'000'000);
	CHECK(with({"--mirror-ceiling", "500k"}).mirror_ceiling_bps == 500'000);
	CHECK(with({"--mirror-ceiling", "123456"}).mirror_ceiling_bps == 123456);
	CHECK(with({"--mirror-ceiling", "0"}).mirror_ceiling_bps == 0);
	CHECK(with({"--mirror-ceiling", "off"}).mirror_ceiling_bps == 0);
	CHECK(with({"--mirror-ceiling", "1000g"}).mirror_ceiling_bps == 1'000'000'000'000);
	for (const char *bad : {"", "x", "1t", "-1", "20mb", "1.5", "999", "1001g", "0.0001k", "off2",
				"99999999999999999999999"})
		CHECK_THROWS_AS(with({"--mirror-ceiling", bad}), CLI::ParseError);

	CHECK(with({"--mirror-ceiling-burst", "131072"}).mirror_ceiling_burst == 131072);
	CHECK(with({"--mirror-ceiling-burst", "128k"}).mirror_ceiling_burst == 131072);
	CHECK(with({"--mirror-ceiling-burst", "2m"}).mirror_ceiling_burst == 2u << 20);
	CHECK(with({"--mirror-ceiling-burst", "2g"}).mirror_ceiling_burst == 2ull << 30);
	CHECK(with({"--mirror-ceiling-burst", "0"}).mirror_ceiling_burst == 0);
	// 64 KiB is a few octets short of a GRO aggregate's copy.
	for (const char *bad : {"131071", "65536", "64k", "1k", "3g", "x", "-5", ""})
		CHECK_THROWS_AS(with({"--mirror-ceiling-burst", bad}), CLI::ParseError);

	TempFile f("mirror-ceiling = \"20m\"\nmirror-ceiling-burst = \"256k\"\n"
		   "l2vni = \"br100:vxlan100:100\"\n");
	CHECK(parse({"--config", f.path}).mirror_ceiling_bps == 20'000'000);
	CHECK(parse({"--config", f.path}).mirror_ceiling_burst == 256u << 10);
	CHECK(parse({"--config", f.path, "--mirror-ceiling", "off"}).mirror_ceiling_bps == 0);
	TempFile bad("mirror-ceiling = \"fast\"\nl2vni = \"br100:vxlan100:100\"\n");
	CHECK_THROWS_AS(parse({"--config", bad.path}), CLI::ParseError);
}

TEST_CASE("--mirror-ceiling-packets: 20,000 copies/s by default, k/m/g, 0 or off = no packet limit")
{
	const auto base = std::vector<std::string>{"--l2vni", "br100:vxlan100:100"};
	auto with = [&](std::vector<std::string> more) {
		auto a = base;
		a.insert(a.end(), more.begin(), more.end());
		return parse(a);
	};
	CHECK(with({}).mirror_ceiling_pps == 20'000);
	CHECK(with({}).mirror_ceiling_packet_burst == 0);
	CHECK(with({"--mirror-ceiling-packets", "2k"}).mirror_ceiling_pps == 2000);
	CHECK(with({"--mirror-ceiling-packets", "1"}).mirror_ceiling_pps == 1);
	CHECK(with({"--mirror-ceiling-packets", "1g"}).mirror_ceiling_pps == 1'000'000'000);
	CHECK(with({"--mirror-ceiling-packets", "off"}).mirror_ceiling_pps == 0);
	CHECK(with({"--mirror-ceiling-packets", "0"}).mirror_ceiling_pps == 0);
	for (const char *bad : {"", "fast", "1.5", "2g", "-1", "2kpps"}) {
		CAPTURE(std::string(bad));
		CHECK_THROWS_AS(with({"--mirror-ceiling-packets", bad}), CLI::ParseError);
	}
	CHECK(with({"--mirror-ceiling-packet-burst", "7"}).mirror_ceiling_packet_burst == 7);
	CHECK(with({"--mirror-ceiling-packet-burst", "16777216"}).mirror_ceiling_packet_burst ==
	      16777216);
	for (const char *bad : {"16777217", "-1", "1k", "x"}) {
		CAPTURE(std::string(bad));
		CHECK_THROWS_AS(with({"--mirror-ceiling-packet-burst", bad}), CLI::ParseError);
	}
	TempFile f("mirror-ceiling-packets = \"2k\"\nmirror-ceiling-packet-burst = 100\n"
		   "l2vni = \"br100:vxlan100:100\"\n");
	CHECK(parse({"--config", f.path}).mirror_ceiling_pps == 2000);
	CHECK(parse({"--config", f.path}).mirror_ceiling_packet_burst == 100);
}

TEST_CASE("rates and sizes: a value past 2^64 - 1 is refused, never wrapped")
{
	// The fraction is added after the whole part's overflow check: the sum
	// must not wrap (2^64 would read as 0 = no ceiling).
	CHECK_FALSE(parse_bit_rate("18446744073.709551616g"));
	CHECK_FALSE(parse_bit_rate("18446744073.999999999g"));
	CHECK(parse_bit_rate("18446744073.709551615g") == UINT64_MAX);
	CHECK_FALSE(parse_bit_rate("18446744074g"));
	CHECK_FALSE(parse_byte_size("18446744073.709551616g"));
	CHECK_FALSE(parse_byte_size("18446744073.999999999g"));
	CHECK(parse_byte_size("17179869183.5g") == (((1ull << 34) - 1) << 30) + (1ull << 29));
	CHECK_FALSE(parse_byte_size("17179869184g"));
	CHECK_FALSE(parse_byte_size("18014398509481984k"));
	const auto base = std::vector<std::string>{"--l2vni", "br100:vxlan100:100"};
	for (const char *bad : {"18446744073.709551616g", "18446744073.999999999g"}) {
		auto a = base;
		a.insert(a.end(), {"--mirror-ceiling", bad});
		CHECK_THROWS_AS(parse(a), CLI::ParseError);
		a = base;
		a.insert(a.end(), {"--mirror-ceiling-burst", bad});
		CHECK_THROWS_AS(parse(a), CLI::ParseError);
	}
}

TEST_CASE("--audit-history: 1000 events by default, 0..100000, a key of the file too")
{
	CHECK(parse({"--l2vni", "br100:vxlan100:100"}).audit_history == 1000);
	CHECK(parse({"--l2vni", "br100:vxlan100:100", "--audit-history", "0"}).audit_history == 0);
	CHECK(parse({"--l2vni", "br100:vxlan100:100", "--audit-history", "100000"}).audit_history ==
	      100000);
	for (const char *bad : {"100001", "1000000", "-1", "x", ""})
		CHECK_THROWS_AS(parse({"--l2vni", "br100:vxlan100:100", "--audit-history", bad}),
				CLI::ParseError);
	TempFile f("audit-history = 50\nl2vni = \"br100:vxlan100:100\"\n");
	CHECK(parse({"--config", f.path}).audit_history == 50);
}
