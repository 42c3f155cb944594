// Test helpers shared by the collector's unit tests: a scratch directory
// and a small pcapng reader. The reader is independent of the encoder in
// collector/src/pcapng (its own offsets and block numbers), so that it can
// serve as the oracle for what the encoder and the core write.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

namespace collector_test {

namespace fs = std::filesystem;

// /tmp/PREFIX-XXXXXX, removed at the end unless EVPNMON_KEEP_TMP is set
// (to look at what a failing test wrote).
struct TempDir {
	fs::path path;
	explicit TempDir(const std::string &prefix)
	{
		std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
		char *p = ::mkdtemp(tmpl.data());
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

// Every file of a directory, sorted by name (a session's files: oldest,
// lowest number, first); none when the directory does not exist.
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

// Host byte order: the collector writes its files so (the SHB's byte-order
// magic says which).
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

// The length of the block at `off` when it is whole (at least 12 octets,
// a multiple of 4, inside `bytes`, both length fields equal), 0 when not.
// Does not fail the test: a file that is still being written may end in
// part of a block.
inline std::uint32_t whole_block_length(const std::vector<std::uint8_t> &bytes, std::size_t off)
{
	if (off + 12 > bytes.size())
		return 0;
	const std::uint32_t len = rd32(&bytes[off + 4]);
	if (len < 12 || len % 4 != 0 || off + len > bytes.size() || rd32(&bytes[off + len - 4]) != len)
		return 0;
	return len;
}

// Parses a whole file; fails the test on any structural error.
inline std::vector<Block> read_blocks(const fs::path &path)
{
	auto bytes = slurp(path);
	std::vector<Block> out;
	std::size_t off = 0;
	while (off < bytes.size()) {
		INFO("block at offset " << off << " of " << bytes.size() << " in " << path);
		const std::uint32_t len = whole_block_length(bytes, off);
		REQUIRE(len != 0);
		Block b;
		b.type = rd32(&bytes[off]);
		const std::uint8_t *body = &bytes[off + 8];
		std::size_t blen = len - 12;
		b.body.assign(body, body + blen);
		switch (b.type) {
		case 0x0A0D0D0A:
			REQUIRE(blen >= 16);
			REQUIRE(rd32(body) == 0x1A2B3C4D);
			b.options = parse_options(body + 16, blen - 16);
			break;
		case 1:
			REQUIRE(blen >= 8);
			std::memcpy(&b.linktype, body, 2);
			b.options = parse_options(body + 8, blen - 8);
			break;
		case 5:
			REQUIRE(blen >= 12);
			b.interface_id = rd32(body);
			b.ts = (std::uint64_t{rd32(body + 4)} << 32) | rd32(body + 8);
			b.options = parse_options(body + 12, blen - 12);
			break;
		case 6: {
			REQUIRE(blen >= 20);
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

} // namespace collector_test
