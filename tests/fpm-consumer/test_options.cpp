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
