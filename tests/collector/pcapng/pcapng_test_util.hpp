// Test helpers of the pcapng tests: a scratch directory, an Io that fails
// on demand, the shared independent pcapng reader (pcapng_reader.hpp: to
// check what tshark does not print, such as ISB options), and running
// tshark/capinfos on a file.
#pragma once

#include "pcapng/io.hpp"
#include "pcapng_reader.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace pcapng_test {

namespace fs = std::filesystem;
using namespace evpnmon::collector::pcapng;
using collector_test::Block;
using collector_test::files_of;
using collector_test::of_type;
using collector_test::read_blocks;
using collector_test::slurp;

inline constexpr std::uint64_t sec = 1'000'000'000ull;
// 2026-12-03T09:30:00Z
inline constexpr std::uint64_t t0 = 1796290200ull * sec;

// Scratch directories of the pcapng tests: /tmp/evpnmon-pcapng-XXXXXX.
struct TempDir : collector_test::TempDir {
	TempDir() : collector_test::TempDir("evpnmon-pcapng") {}
};

// Real files, with failures injected: a byte budget after which writes
// fail (short write first, then the error), /dev/full for a kernel
// ENOSPC, and per-call error codes.
class FaultyIo : public PosixIo {
public:
	std::optional<std::uint64_t> budget; // octets that may still be written
	int budget_error = ENOSPC;
	bool dev_full = false;               // writes go to /dev/full
	int fail_open = 0, fail_write = 0, fail_truncate = 0; // errno to return, 0: none
	int state_changes = 0;
	bool last_state = false;
	std::vector<std::string> unlinked;

	std::int64_t write(int handle, std::span<const std::uint8_t> data) override
	{
		if (fail_write)
			return -fail_write;
		if (dev_full) {
			int fd = ::open("/dev/full", O_WRONLY);
			REQUIRE(fd >= 0);
			ssize_t n = ::write(fd, data.data(), data.size());
			int err = errno;
			::close(fd);
			return n < 0 ? -err : n;
		}
		if (budget) {
			if (*budget == 0)
				return -budget_error;
			if (data.size() > *budget)
				data = data.first(*budget);
		}
		auto n = PosixIo::write(handle, data);
		if (budget && n > 0)
			*budget -= static_cast<std::uint64_t>(n);
		return n;
	}
	int open_exclusive(const fs::path &p) override
	{
		return fail_open ? -fail_open : PosixIo::open_exclusive(p);
	}
	int truncate(int handle, std::uint64_t size) override
	{
		return fail_truncate ? -fail_truncate : PosixIo::truncate(handle, size);
	}
	int unlink(const fs::path &p) override
	{
		unlinked.push_back(p.filename().string());
		return PosixIo::unlink(p);
	}

protected:
	void on_disk_full_change(bool full, std::string_view) override
	{
		++state_changes;
		last_state = full;
	}
};

// --- external tools ---
struct RunResult {
	int status = -1;
	std::string out;
};

// `stderr_to`: a file for the command's stderr, empty: merged into out.
inline RunResult run(const std::string &cmd, const std::string &stderr_to = "")
{
	RunResult r;
	FILE *f = ::popen((cmd + (stderr_to.empty() ? " 2>&1" : " 2>'" + stderr_to + "'")).c_str(), "r");
	REQUIRE(f != nullptr);
	char buf[4096];
	std::size_t n;
	while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
		r.out.append(buf, n);
	int st = ::pclose(f);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return r;
}

inline std::string quote(const fs::path &p) { return "'" + p.string() + "'"; }

inline std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> out;
	std::string cur;
	std::istringstream in(s);
	while (std::getline(in, cur, sep))
		out.push_back(cur);
	return out;
}

// tshark -T fields, one vector of columns per packet; fails on a read error.
inline std::vector<std::vector<std::string>> tshark_fields(const fs::path &file,
							   const std::vector<std::string> &fields)
{
	std::string cmd = "tshark -n -r " + quote(file) + " -T fields -E separator=/t -E occurrence=a";
	for (const auto &f : fields)
		cmd += " -e " + f;
	char errpath[] = "/tmp/evpnmon-pcapng-err-XXXXXX";
	int efd = ::mkstemp(errpath);
	REQUIRE(efd >= 0);
	::close(efd);
	auto r = run(cmd, errpath);
	std::string err;
	{
		std::ifstream in(errpath);
		std::string line;
		while (std::getline(in, line))
			if (line.rfind("Running as user", 0) != 0)
				err += line + "\n";
	}
	::unlink(errpath);
	INFO(cmd << "\n" << r.out << err);
	REQUIRE(r.status == 0);
	REQUIRE(err.empty()); // no warning such as "cut short in the middle of a packet"
	std::vector<std::vector<std::string>> rows;
	for (const auto &line : split(r.out, '\n')) {
		auto cols = split(line, '\t');
		cols.resize(fields.size());
		rows.push_back(cols);
	}
	return rows;
}

// capinfos -M -T -m -Q (machine-readable table): header -> value.
inline std::map<std::string, std::string> capinfos_table(const fs::path &file)
{
	auto r = run("capinfos -M -T -m -Q " + quote(file));
	INFO(r.out);
	REQUIRE(r.status == 0);
	std::map<std::string, std::string> out;
	std::vector<std::string> rows;
	for (const auto &line : split(r.out, '\n'))
		if (!line.empty() && line.rfind("Running as user", 0) != 0)
			rows.push_back(line);
	REQUIRE(rows.size() == 2);
	auto unquote = [](std::string c) {
		if (c.size() >= 2 && c.front() == '"' && c.back() == '"')
			c = c.substr(1, c.size() - 2);
		return c;
	};
	auto header = split(rows[0], ',');
	auto values = split(rows[1], ',');
	REQUIRE(header.size() == values.size());
	for (std::size_t i = 0; i < header.size(); ++i)
		out[unquote(header[i])] = unquote(values[i]);
	return out;
}

// Plain capinfos (per-interface details); fails on a read error.
inline std::string capinfos_text(const fs::path &file)
{
	auto r = run("capinfos -M " + quote(file));
	INFO(r.out);
	REQUIRE(r.status == 0);
	return r.out;
}

} // namespace pcapng_test
