// Test helpers: a scratch directory, an Io that fails on demand, a small
// independent pcapng reader (to check what tshark does not print, such as
// ISB options), and running tshark/capinfos on a file.
#pragma once

#include "pcapng/io.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
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

inline constexpr std::uint64_t sec = 1'000'000'000ull;
// 2026-12-03T09:30:00Z
inline constexpr std::uint64_t t0 = 1796290200ull * sec;

struct TempDir {
	fs::path path;
	TempDir()
	{
		char tmpl[] = "/tmp/evpnmon-pcapng-XXXXXX";
		char *p = ::mkdtemp(tmpl);
		REQUIRE(p != nullptr);
		path = p;
	}
	~TempDir()
	{
		std::error_code ec;
		if (!std::getenv("EVPNMON_KEEP_TMP"))
			fs::remove_all(path, ec);
	}
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

// --- an independent reader ---
struct Option {
	std::uint16_t code;
	std::vector<std::uint8_t> value;
	std::string str() const { return std::string(value.begin(), value.end()); }
	std::uint64_t u64() const
	{
		std::uint64_t v = 0;
		REQUIRE(value.size() == 8);
		std::memcpy(&v, value.data(), 8);
		return v;
	}
	std::uint32_t u32() const
	{
		std::uint32_t v = 0;
		REQUIRE(value.size() == 4);
		std::memcpy(&v, value.data(), 4);
		return v;
	}
	std::uint64_t ts() const // two 32-bit words, high first
	{
		REQUIRE(value.size() == 8);
		std::uint32_t hi, lo;
		std::memcpy(&hi, value.data(), 4);
		std::memcpy(&lo, value.data() + 4, 4);
		return (std::uint64_t{hi} << 32) | lo;
	}
};

struct Block {
	std::uint32_t type = 0;
	std::vector<std::uint8_t> body; // between length fields
	std::vector<Option> options;
	// EPB
	std::uint32_t interface_id = 0, caplen = 0, origlen = 0;
	std::uint64_t ts = 0;
	std::vector<std::uint8_t> data;
	// IDB
	std::uint16_t linktype = 0;
	// ISB: interface_id, ts

	const Option *opt(std::uint16_t code) const
	{
		for (const auto &o : options)
			if (o.code == code)
				return &o;
		return nullptr;
	}
};

inline std::vector<std::uint8_t> slurp(const fs::path &p)
{
	std::ifstream in(p, std::ios::binary);
	return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline std::uint32_t rd32(const std::uint8_t *p)
{
	std::uint32_t v;
	std::memcpy(&v, p, 4);
	return v;
}

inline std::vector<Option> parse_options(const std::uint8_t *p, std::size_t n)
{
	std::vector<Option> out;
	std::size_t o = 0;
	while (o + 4 <= n) {
		std::uint16_t code, len;
		std::memcpy(&code, p + o, 2);
		std::memcpy(&len, p + o + 2, 2);
		if (code == 0)
			break;
		REQUIRE(o + 4 + len <= n);
		out.push_back({code, std::vector<std::uint8_t>(p + o + 4, p + o + 4 + len)});
		o += 4 + ((len + 3u) & ~3u);
	}
	return out;
}

// Parses a whole file; fails the test on any structural error.
inline std::vector<Block> read_blocks(const fs::path &path)
{
	auto bytes = slurp(path);
	std::vector<Block> out;
	std::size_t off = 0;
	while (off < bytes.size()) {
		REQUIRE(off + 12 <= bytes.size());
		Block b;
		b.type = rd32(&bytes[off]);
		std::uint32_t len = rd32(&bytes[off + 4]);
		REQUIRE(len % 4 == 0);
		REQUIRE(len >= 12);
		REQUIRE(off + len <= bytes.size());
		REQUIRE(rd32(&bytes[off + len - 4]) == len);
		const std::uint8_t *body = &bytes[off + 8];
		std::size_t blen = len - 12;
		b.body.assign(body, body + blen);
		switch (b.type) {
		case 0x0A0D0D0A:
			REQUIRE(rd32(body) == 0x1A2B3C4D);
			b.options = parse_options(body + 16, blen - 16);
			break;
		case 1:
			std::memcpy(&b.linktype, body, 2);
			b.options = parse_options(body + 8, blen - 8);
			break;
		case 5:
			b.interface_id = rd32(body);
			b.ts = (std::uint64_t{rd32(body + 4)} << 32) | rd32(body + 8);
			b.options = parse_options(body + 12, blen - 12);
			break;
		case 6: {
			b.interface_id = rd32(body);
			b.ts = (std::uint64_t{rd32(body + 4)} << 32) | rd32(body + 8);
			b.caplen = rd32(body + 12);
			b.origlen = rd32(body + 16);
			REQUIRE(20 + b.caplen <= blen);
			b.data.assign(body + 20, body + 20 + b.caplen);
			std::size_t o = 20 + ((b.caplen + 3u) & ~3u);
			b.options = parse_options(body + o, blen - o);
			break;
		}
		default:
			FAIL("unexpected block type " << b.type);
		}
		out.push_back(std::move(b));
		off += len;
	}
	return out;
}

inline std::vector<Block> of_type(const std::vector<Block> &blocks, std::uint32_t type)
{
	std::vector<Block> out;
	for (const auto &b : blocks)
		if (b.type == type)
			out.push_back(b);
	return out;
}

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

inline std::vector<fs::path> files_of(const fs::path &dir)
{
	std::vector<fs::path> out;
	if (!fs::exists(dir))
		return out;
	for (const auto &e : fs::directory_iterator(dir))
		out.push_back(e.path());
	std::sort(out.begin(), out.end());
	return out;
}

} // namespace pcapng_test
