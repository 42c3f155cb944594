// FileSet: every produced file is opened with tshark and capinfos and
// with an independent block reader; values are checked, not just "opens".
#include "pcapng/blocks.hpp"
#include "pcapng/file_set.hpp"
#include "pcapng_test_util.hpp"

#include <chrono>

using namespace pcapng_test;
using evpnmon::collector::Direction;
using Result = FileSet::Result;

namespace {

// An Ethernet frame of `len` octets (local experimental EtherType) whose
// payload encodes `tag`, so packets can be told apart in the files.
std::vector<std::uint8_t> frame(std::size_t len, std::uint32_t tag)
{
	std::vector<std::uint8_t> f(len, 0);
	const std::uint8_t hdr[14] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5};
	std::memcpy(f.data(), hdr, std::min<std::size_t>(len, 14));
	for (std::size_t i = 14; i < len; ++i)
		f[i] = static_cast<std::uint8_t>(tag >> (8 * ((i - 14) % 4)));
	return f;
}

Packet packet(const std::vector<std::uint8_t> &data, std::uint64_t ts, Direction dir = Direction::Unknown,
	      std::uint32_t original_len = 0, std::uint64_t drops = 0, bool trunc_unknown = false)
{
	Packet p;
	p.data = data;
	p.ts_ns = ts;
	p.direction = dir;
	p.original_len = original_len ? original_len : static_cast<std::uint32_t>(data.size());
	p.drops_before = drops;
	p.truncated_unknown_len = trunc_unknown;
	return p;
}

std::string epoch(std::uint64_t ns)
{
	char buf[64];
	std::snprintf(buf, sizeof buf, "%llu.%09llu", static_cast<unsigned long long>(ns / sec),
		      static_cast<unsigned long long>(ns % sec));
	return buf;
}

// Opens every file of `dir` with tshark, capinfos and the reader; returns
// the EPB count per file in name order.
std::vector<std::size_t> check_all_files(const fs::path &dir)
{
	std::vector<std::size_t> counts;
	for (const auto &f : files_of(dir)) {
		INFO(f);
		auto blocks = read_blocks(f);
		REQUIRE(!blocks.empty());
		CHECK(blocks[0].type == block_shb);
		auto epbs = of_type(blocks, block_epb);
		auto idbs = of_type(blocks, block_idb);
		for (const auto &e : epbs)
			CHECK(e.interface_id < idbs.size());
		auto rows = tshark_fields(f, {"frame.number"});
		CHECK(rows.size() == epbs.size());
		auto table = capinfos_table(f);
		CHECK(table["Number of packets"] == std::to_string(epbs.size()));
		CHECK(table["File type"] == "pcapng");
		counts.push_back(epbs.size());
	}
	return counts;
}

} // namespace

TEST_CASE("pcapng: times to the ns, direction, orig_len, dropcount, comment, IDB per source, ISB")
{
	TempDir tmp;
	FaultyIo io;
	FileSet set(tmp.path, "span 7/x", "ERSPAN session 7 (span 7)", Policy{}, io);
	CHECK(set.session_name() == "span_7_x");

	auto f0 = frame(60, 0);
	auto f1 = frame(64, 1);
	auto f2 = frame(100, 2);
	auto f3 = frame(128, 3);
	auto f4 = frame(61, 4);
	const std::uint64_t ts0 = t0 + 123456789, ts1 = t0 + 1'000000001, ts2 = t0 + 2'999999999,
			    ts3 = t0 + 3'000000000, ts4 = t0 + 4'000000007;
	CHECK(set.write("erspan:10.0.0.1", packet(f0, ts0, Direction::Inbound), t0) == Result::Written);
	CHECK(set.write("erspan:10.0.0.2", packet(f1, ts1, Direction::Outbound, 1500), t0 + sec) == Result::Written);
	CHECK(set.write("erspan:10.0.0.1", packet(f2, ts2, Direction::Inbound, 0, 5), t0 + 2 * sec) == Result::Written);
	CHECK(set.write("erspan:10.0.0.2", packet(f3, ts3, Direction::Outbound, 0, 0, true), t0 + 3 * sec) ==
	      Result::Written);
	CHECK(set.write("erspan:10.0.0.1", packet(f4, ts4, Direction::Unknown, 0, 1), t0 + 4 * sec) == Result::Written);
	CHECK(set.stats().current == (tmp.path / "span_7_x" / "span_7_x_20261203T093000Z_000001.pcapng").string());
	set.close(t0 + 10 * sec);
	CHECK(set.stats().current.empty());
	CHECK(set.stats().files_opened == 1);
	CHECK(set.stats().packets == 5);
	CHECK(set.stats().write_errors == 0);

	auto files = files_of(tmp.path / "span_7_x");
	REQUIRE(files.size() == 1);
	const fs::path file = files[0];
	CHECK(file.filename() == "span_7_x_20261203T093000Z_000001.pcapng");
	CHECK(set.stats().bytes == fs::file_size(file));

	auto rows = tshark_fields(file, {"frame.time_epoch", "frame.interface_id", "frame.interface_name",
					 "frame.interface_description", "frame.packet_flags_direction", "frame.len",
					 "frame.cap_len", "frame.drop_count", "frame.comment"});
	REQUIRE(rows.size() == 5);
	using Row = std::vector<std::string>;
	const std::string d = "ERSPAN session 7 (span 7)";
	CHECK(rows[0] == Row{epoch(ts0), "0", "erspan:10.0.0.1", d, "0x00000001", "60", "60", "", ""});
	CHECK(rows[1] == Row{epoch(ts1), "1", "erspan:10.0.0.2", d, "0x00000002", "1500", "64", "", ""});
	CHECK(rows[2] == Row{epoch(ts2), "0", "erspan:10.0.0.1", d, "0x00000001", "100", "100", "5", ""});
	CHECK(rows[3] == Row{epoch(ts3), "1", "erspan:10.0.0.2", d, "0x00000002", "128", "128", "", "truncated"});
	CHECK(rows[4] == Row{epoch(ts4), "0", "erspan:10.0.0.1", d, "", "61", "61", "1", ""});

	auto table = capinfos_table(file);
	CHECK(table["Number of packets"] == "5");
	CHECK(table["File type"] == "pcapng");
	CHECK(table["File encapsulation"] == "ether");
	CHECK(table["File time precision"] == "nanoseconds");
	CHECK(table["Strict time order"] == "True");
	CHECK(table["Capture application"] == "evpnmon-collector");
	CHECK(table["Start time"].find("2026-12-03 09:30:00.123456789") != std::string::npos);
	CHECK(table["End time"].find("2026-12-03 09:30:04.000000007") != std::string::npos);
	auto text = capinfos_text(file);
	INFO(text);
	CHECK(text.find("Number of interfaces in file: 2") != std::string::npos);
	CHECK(text.find("Name = erspan:10.0.0.1") != std::string::npos);
	CHECK(text.find("Name = erspan:10.0.0.2") != std::string::npos);
	CHECK(text.find("Description = " + d) != std::string::npos);
	CHECK(text.find("Time precision = nanoseconds (9)") != std::string::npos);
	CHECK(text.find("Number of stat entries = 1") != std::string::npos);
	CHECK(text.find("Number of packets = 3") != std::string::npos);
	CHECK(text.find("Number of packets = 2") != std::string::npos);

	// What tshark does not print: the bytes of each packet, the IDB options
	// and the ISBs.
	auto blocks = read_blocks(file);
	auto idbs = of_type(blocks, block_idb);
	REQUIRE(idbs.size() == 2);
	for (const auto &idb : idbs) {
		CHECK(idb.linktype == linktype_ethernet);
		REQUIRE(idb.opt(if_tsresol));
		CHECK(idb.opt(if_tsresol)->value == std::vector<std::uint8_t>{9});
		CHECK(idb.opt(if_description)->str() == d);
	}
	auto epbs = of_type(blocks, block_epb);
	REQUIRE(epbs.size() == 5);
	CHECK(epbs[0].data == f0);
	CHECK(epbs[1].data == f1);
	CHECK(epbs[3].data == f3);
	CHECK(epbs[1].opt(epb_flags)->u32() == 2);
	CHECK(epbs[2].opt(epb_dropcount)->u64() == 5);
	CHECK(epbs[0].opt(opt_comment) == nullptr);
	auto isbs = of_type(blocks, block_isb);
	REQUIRE(isbs.size() == 2);
	CHECK(isbs[0].interface_id == 0);
	CHECK(isbs[0].ts == t0 + 10 * sec);
	CHECK(isbs[0].opt(isb_starttime)->ts() == ts0);
	CHECK(isbs[0].opt(isb_endtime)->ts() == ts4);
	CHECK(isbs[0].opt(isb_ifrecv)->u64() == 3);
	CHECK(isbs[0].opt(isb_ifdrop)->u64() == 6);
	CHECK(isbs[0].opt(isb_osdrop)->u64() == 0);
	CHECK(isbs[1].interface_id == 1);
	CHECK(isbs[1].opt(isb_starttime)->ts() == ts1);
	CHECK(isbs[1].opt(isb_endtime)->ts() == ts3);
	CHECK(isbs[1].opt(isb_ifrecv)->u64() == 2);
	CHECK(isbs[1].opt(isb_ifdrop)->u64() == 0);
	CHECK(blocks.back().type == block_isb);
}

TEST_CASE("pcapng: rotation by size keeps every file under the limit, IDBs repeated with stable indices")
{
	TempDir tmp;
	FaultyIo io;
	Policy pol;
	pol.max_file_bytes = 4000;
	FileSet set(tmp.path, "s", "session s", pol, io);
	auto f = frame(200, 0);
	std::uint64_t now = t0;
	const int n = 100;
	for (int i = 0; i < n; ++i) {
		// a third source appears half way: it gets the next index
		std::string src = i < 50 ? (i % 2 ? "erspan:10.0.0.2" : "erspan:10.0.0.1") : "erspan:10.0.0.3";
		CHECK(set.write(src, packet(f, t0 + i * 1000, Direction::Inbound, 0, i == 60 ? 2 : 0), now) ==
		      Result::Written);
	}
	set.close(now);
	auto files = files_of(tmp.path / "s");
	REQUIRE(files.size() > 5);
	CHECK(set.stats().files_opened == files.size());
	std::size_t total = 0, dropcount_file = 0;
	for (std::size_t i = 0; i < files.size(); ++i) {
		INFO(files[i]);
		char expect[64];
		std::snprintf(expect, sizeof expect, "s_20261203T093000Z_%06zu.pcapng", i + 1);
		CHECK(files[i].filename() == expect);
		CHECK(fs::file_size(files[i]) <= pol.max_file_bytes);
		auto blocks = read_blocks(files[i]);
		auto idbs = of_type(blocks, block_idb);
		auto epbs = of_type(blocks, block_epb);
		CHECK(!epbs.empty());
		total += epbs.size();
		// the IDBs of a file: every source known when it was opened, in order
		REQUIRE(idbs.size() >= 2);
		CHECK(idbs[0].opt(if_name)->str() == "erspan:10.0.0.1");
		CHECK(idbs[1].opt(if_name)->str() == "erspan:10.0.0.2");
		if (idbs.size() == 3)
			CHECK(idbs[2].opt(if_name)->str() == "erspan:10.0.0.3");
		auto rows = tshark_fields(files[i], {"frame.interface_name", "frame.drop_count"});
		REQUIRE(rows.size() == epbs.size());
		for (std::size_t k = 0; k < epbs.size(); ++k) {
			CHECK(rows[k][0] == idbs.at(epbs[k].interface_id).opt(if_name)->str());
			if (rows[k][1] == "2")
				dropcount_file = i;
		}
		CHECK(of_type(blocks, block_isb).size() == idbs.size());
		CHECK(capinfos_table(files[i])["Number of packets"] == std::to_string(epbs.size()));
	}
	CHECK(total == n);
	CHECK(set.stats().packets == n);
	CHECK(dropcount_file > 0);
	std::uint64_t sum = 0;
	for (const auto &p : files)
		sum += fs::file_size(p);
	CHECK(set.stats().bytes == sum);
}

TEST_CASE("pcapng: rotation by time follows the injected clock and names files by it")
{
	TempDir tmp;
	FaultyIo io;
	Policy pol;
	pol.max_file_seconds = 60;
	FileSet set(tmp.path, "vni-100-host-7", "VNI 100 HOST ID 7", pol, io);
	auto f = frame(80, 0);
	// a packet every 25 s for 5 minutes: files at 0, 75, 150, 225, 300 s
	for (int i = 0; i <= 12; ++i) {
		std::uint64_t now = t0 + i * 25 * sec;
		CHECK(set.write("vxlan:10.0.0.9", packet(f, now - 5 * sec), now) == Result::Written);
	}
	set.close(t0 + 301 * sec);
	auto files = files_of(tmp.path / "vni-100-host-7");
	std::vector<std::string> names;
	for (const auto &p : files)
		names.push_back(p.filename().string());
	CHECK(names == std::vector<std::string>{
			       "vni-100-host-7_20261203T093000Z_000001.pcapng",
			       "vni-100-host-7_20261203T093115Z_000002.pcapng",
			       "vni-100-host-7_20261203T093230Z_000003.pcapng",
			       "vni-100-host-7_20261203T093345Z_000004.pcapng",
			       "vni-100-host-7_20261203T093500Z_000005.pcapng",
		       });
	auto counts = check_all_files(tmp.path / "vni-100-host-7");
	CHECK(counts == std::vector<std::size_t>{3, 3, 3, 3, 1});
	// no file holds packets of more than 60 s of the clock
	auto rows = tshark_fields(files[1], {"frame.time_epoch"});
	REQUIRE(rows.size() == 3);
	CHECK(rows[0][0] == epoch(t0 + 70 * sec));
	CHECK(rows[2][0] == epoch(t0 + 120 * sec));
}

TEST_CASE("pcapng: retention by file count and by bytes deletes the oldest, never the open file")
{
	TempDir tmp;
	auto f = frame(500, 0);
	SUBCASE("keep_files")
	{
		FaultyIo io;
		Policy pol;
		pol.max_file_bytes = 2000;
		pol.keep_files = 3;
		FileSet set(tmp.path, "k", "k", pol, io);
		for (int i = 0; i < 30; ++i)
			CHECK(set.write("eth1", packet(f, t0 + i), t0) == Result::Written);
		set.close(t0);
		auto files = files_of(tmp.path / "k");
		REQUIRE(files.size() == 3);
		std::uint64_t opened = set.stats().files_opened;
		CHECK(opened > 3);
		CHECK(set.stats().files_deleted == opened - 3);
		// the newest three survive
		for (std::size_t i = 0; i < 3; ++i) {
			char expect[64];
			std::snprintf(expect, sizeof expect, "k_20261203T093000Z_%06llu.pcapng",
				      static_cast<unsigned long long>(opened - 2 + i));
			CHECK(files[i].filename() == expect);
		}
		CHECK(io.unlinked.front() == "k_20261203T093000Z_000001.pcapng");
		check_all_files(tmp.path / "k");
	}
	SUBCASE("keep_bytes, counting the files of an earlier run")
	{
		{
			FaultyIo io;
			Policy pol;
			pol.max_file_bytes = 2000;
			FileSet set(tmp.path, "b", "b", pol, io);
			for (int i = 0; i < 12; ++i)
				CHECK(set.write("eth1", packet(f, t0 + i), t0) == Result::Written);
			set.close(t0);
		}
		auto before = files_of(tmp.path / "b");
		REQUIRE(before.size() >= 4);
		FaultyIo io;
		Policy pol;
		pol.max_file_bytes = 2000;
		pol.keep_bytes = 5000;
		FileSet set(tmp.path, "b", "b", pol, io);
		for (int i = 0; i < 12; ++i) {
			CHECK(set.write("eth1", packet(f, t0 + i), t0 + sec) == Result::Written);
			std::uint64_t sum = 0;
			for (const auto &p : files_of(tmp.path / "b"))
				sum += fs::file_size(p);
			set.flush();
			// bounded by the limit plus at most the open file's growth
			CHECK(sum <= pol.keep_bytes + pol.max_file_bytes);
		}
		set.close(t0 + sec);
		std::uint64_t sum = 0;
		for (const auto &p : files_of(tmp.path / "b"))
			sum += fs::file_size(p);
		CHECK(sum <= pol.keep_bytes);
		CHECK(!io.unlinked.empty());
		CHECK(io.unlinked.front() == before.front().filename().string()); // the earlier run's oldest first
		check_all_files(tmp.path / "b");
	}
}

TEST_CASE("pcapng: a restart continues the numbering and never overwrites")
{
	TempDir tmp;
	auto f = frame(64, 0);
	std::map<std::string, std::vector<std::uint8_t>> first_run;
	{
		FaultyIo io;
		FileSet set(tmp.path, "r", "r", Policy{}, io);
		CHECK(set.write("eth1", packet(f, t0), t0) == Result::Written);
		set.close(t0);
		CHECK(set.write("eth1", packet(f, t0 + 1), t0) == Result::Written); // a new file after close
		set.close(t0);
	}
	for (const auto &p : files_of(tmp.path / "r"))
		first_run[p.filename().string()] = slurp(p);
	REQUIRE(first_run.size() == 2);
	// Something else holds the next name (and an unrelated file is there):
	// skipped, untouched.
	const std::vector<std::uint8_t> foreign = {'n', 'o', 't', ' ', 'o', 'u', 'r', 's'};
	{
		std::ofstream(tmp.path / "r" / "r_20261203T093000Z_000003.pcapng", std::ios::binary)
			.write(reinterpret_cast<const char *>(foreign.data()), foreign.size());
		std::ofstream(tmp.path / "r" / "notes.txt") << "x";
	}
	// the same clock second, as after a fast restart: same timestamp in the name
	FaultyIo io;
	FileSet set(tmp.path, "r", "r", Policy{}, io);
	CHECK(set.write("eth1", packet(f, t0 + 2), t0) == Result::Written);
	CHECK(set.stats().current == (tmp.path / "r" / "r_20261203T093000Z_000004.pcapng").string());
	set.close(t0);
	for (const auto &[name, bytes] : first_run)
		CHECK(slurp(tmp.path / "r" / name) == bytes);
	CHECK(slurp(tmp.path / "r" / "r_20261203T093000Z_000003.pcapng") == foreign);
	CHECK(fs::exists(tmp.path / "r" / "notes.txt"));
	CHECK(tshark_fields(tmp.path / "r" / "r_20261203T093000Z_000004.pcapng", {"frame.number"}).size() == 1);

	SUBCASE("a name taken between listing and opening is skipped too (O_EXCL)")
	{
		FaultyIo io2;
		FileSet again(tmp.path, "r", "r", Policy{}, io2);
		// first write lists the directory; plant the next two names after
		CHECK(again.write("eth1", packet(f, t0 + 3), t0) == Result::Written);
		CHECK(again.stats().current == (tmp.path / "r" / "r_20261203T093000Z_000005.pcapng").string());
		std::ofstream(tmp.path / "r" / "r_20261203T093000Z_000006.pcapng") << "a";
		std::ofstream(tmp.path / "r" / "r_20261203T093000Z_000007.pcapng") << "b";
		again.close(t0);
		CHECK(again.write("eth1", packet(f, t0 + 4), t0) == Result::Written);
		CHECK(again.stats().current == (tmp.path / "r" / "r_20261203T093000Z_000008.pcapng").string());
		again.close(t0);
		CHECK(fs::file_size(tmp.path / "r" / "r_20261203T093000Z_000006.pcapng") == 1);
	}
}

TEST_CASE("pcapng: disk full stops every set, drops are counted, one retry per 5 s, files stay valid")
{
	TempDir tmp;
	FaultyIo io;
	FileSet a(tmp.path, "a", "a", Policy{}, io);
	FileSet b(tmp.path, "b", "b", Policy{}, io);
	auto f = frame(100, 0);
	std::uint64_t now = t0;

	CHECK(a.write("erspan:10.0.0.1", packet(f, now, Direction::Inbound), now) == Result::Written);
	CHECK(b.write("erspan:10.0.0.1", packet(f, now), now) == Result::Written);
	a.flush();
	b.flush();
	const auto a_good = a.stats().bytes;
	REQUIRE(a_good > 0);

	// Room for 1.5 packets more: the flush writes one whole EPB and half of
	// the next, then gets ENOSPC.
	io.budget = 140 + 70;
	for (int i = 1; i <= 3; ++i)
		CHECK(a.write("erspan:10.0.0.1", packet(f, now + i, Direction::Inbound), now) == Result::Written);
	a.flush();
	CHECK(io.disk_full());
	CHECK(io.state_changes == 1);
	CHECK(io.last_state == true);
	CHECK(a.stats().write_errors == 1);
	CHECK(a.stats().packets == 2);           // the first and one more reached the disk
	CHECK(a.stats().dropped_disk_full == 2); // the buffered rest
	// the half block was cut off: the file ends on a whole block
	CHECK(fs::file_size(a.stats().current) == a.stats().bytes);
	CHECK(read_blocks(a.stats().current).size() == 4);

	// every set now drops without touching the disk, until the retry time
	const auto errors_before = a.stats().write_errors + b.stats().write_errors;
	for (int i = 0; i < 10; ++i) {
		now += sec / 2 - 1;
		if (now >= t0 + 5 * sec)
			break;
		CHECK(a.write("erspan:10.0.0.1", packet(f, now, Direction::Inbound, 0, 1), now) == Result::DiskFull);
		CHECK(b.write("erspan:10.0.0.1", packet(f, now), now) == Result::DiskFull);
	}
	CHECK(a.stats().write_errors + b.stats().write_errors == errors_before);
	const auto a_dropped = a.stats().dropped_disk_full;
	CHECK(a_dropped == 2 + 10);
	CHECK(b.stats().dropped_disk_full == 10);

	// the retry at +5 s fails (still full): one attempt, then quiet again
	now = t0 + 5 * sec + 1;
	CHECK(b.write("erspan:10.0.0.1", packet(f, now), now) == Result::DiskFull);
	CHECK(b.stats().write_errors == 1);
	CHECK(a.write("erspan:10.0.0.1", packet(f, now, Direction::Inbound), now) == Result::DiskFull);
	CHECK(a.stats().write_errors == 1);
	CHECK(io.state_changes == 1);

	// space is back: the next retry writes and everyone resumes
	io.budget.reset();
	now = t0 + 10 * sec + 2;
	CHECK(a.write("erspan:10.0.0.1", packet(f, now, Direction::Inbound, 0, 4), now) == Result::Written);
	CHECK(!io.disk_full());
	CHECK(io.state_changes == 2);
	CHECK(io.last_state == false);
	CHECK(b.write("erspan:10.0.0.1", packet(f, now), now) == Result::Written);
	const auto a_path = a.stats().current;
	a.close(now);
	b.close(now);

	// a: one file; the packet after the gap reports every copy missing
	// before it: the 12 the collector dropped (+ 1 at the failed retry)
	// and the 10 + 4 sequence losses
	auto files = files_of(tmp.path / "a");
	REQUIRE(files.size() == 1);
	auto rows = tshark_fields(files[0], {"frame.drop_count", "frame.comment", "frame.packet_flags_direction"});
	REQUIRE(rows.size() == 3);
	CHECK(rows[2][0] == std::to_string(13 + 10 + 4));
	CHECK(rows[2][1] == "13 copies before this one not written by the collector");
	CHECK(capinfos_table(files[0])["Number of packets"] == "3");
	auto isbs = of_type(read_blocks(files[0]), block_isb);
	REQUIRE(isbs.size() == 1);
	CHECK(isbs[0].opt(isb_ifrecv)->u64() == 3);
	CHECK(isbs[0].opt(isb_ifdrop)->u64() == 14);
	CHECK(isbs[0].opt(isb_osdrop)->u64() == 13);
	CHECK(a.stats().dropped_disk_full == 13);
	// b lost its whole buffer? No: it had flushed before the disk filled.
	auto brows = tshark_fields(files_of(tmp.path / "b")[0], {"frame.drop_count"});
	REQUIRE(brows.size() == 2);
	CHECK(brows[1][0] == "11");
	CHECK(check_all_files(tmp.path / "a") == std::vector<std::size_t>{3});
	CHECK(check_all_files(tmp.path / "b") == std::vector<std::size_t>{2});
}

TEST_CASE("pcapng: kernel ENOSPC (/dev/full) on the first write leaves no broken file")
{
	TempDir tmp;
	FaultyIo io;
	io.dev_full = true;
	FileSet set(tmp.path, "full", "full", Policy{}, io);
	auto f = frame(64, 0);
	CHECK(set.write("eth1", packet(f, t0), t0) == Result::Written); // buffered
	set.flush();
	CHECK(io.disk_full());
	CHECK(set.stats().dropped_disk_full == 1);
	CHECK(set.stats().packets == 0);
	CHECK(set.write("eth1", packet(f, t0 + 1), t0 + 1) == Result::DiskFull);
	io.dev_full = false;
	CHECK(set.write("eth1", packet(f, t0 + 2), t0 + 6 * sec) == Result::Written);
	set.close(t0 + 6 * sec);
	auto files = files_of(tmp.path / "full");
	REQUIRE(files.size() == 1);
	// SHB and IDB were lost with the first buffer and written again
	auto blocks = read_blocks(files[0]);
	CHECK(blocks[0].type == block_shb);
	CHECK(of_type(blocks, block_idb).size() == 1);
	auto rows = tshark_fields(files[0], {"frame.drop_count", "frame.comment"});
	REQUIRE(rows.size() == 1);
	CHECK(rows[0][0] == "2");
	CHECK(rows[0][1] == "2 copies before this one not written by the collector");
	CHECK(check_all_files(tmp.path / "full") == std::vector<std::size_t>{1});
}

TEST_CASE("pcapng: another I/O error ends the file, the set pauses 5 s, then starts a new file")
{
	TempDir tmp;
	FaultyIo io;
	FileSet set(tmp.path, "e", "e", Policy{}, io);
	auto f = frame(64, 0);
	CHECK(set.write("eth1", packet(f, t0), t0) == Result::Written);
	set.flush();
	io.fail_write = EIO;
	CHECK(set.write("eth1", packet(f, t0 + 1), t0 + sec) == Result::Error); // time flush fails
	CHECK(!io.disk_full());
	CHECK(set.stats().current.empty());
	CHECK(set.stats().write_errors == 1);
	CHECK(set.stats().dropped_errors == 1);
	io.fail_write = 0;
	CHECK(set.write("eth1", packet(f, t0 + 2), t0 + 2 * sec) == Result::Error);
	CHECK(set.stats().dropped_errors == 2);
	CHECK(set.write("eth1", packet(f, t0 + 3), t0 + 7 * sec) == Result::Written);
	set.close(t0 + 7 * sec);
	auto counts = check_all_files(tmp.path / "e");
	CHECK(counts == std::vector<std::size_t>{1, 1});
	auto rows = tshark_fields(files_of(tmp.path / "e")[1], {"frame.drop_count"});
	CHECK(rows[0][0] == "2");

	SUBCASE("open failing with EACCES: no file, counted")
	{
		io.fail_open = EACCES;
		CHECK(set.write("eth1", packet(f, t0 + 4), t0 + 8 * sec) == Result::Error);
		CHECK(set.stats().write_errors == 2);
		io.fail_open = 0;
		CHECK(set.write("eth1", packet(f, t0 + 5), t0 + 9 * sec) == Result::Error); // still pausing
		CHECK(set.write("eth1", packet(f, t0 + 6), t0 + 14 * sec) == Result::Written);
		set.close(t0 + 14 * sec);
	}
}

TEST_CASE("pcapng: sanitized session names")
{
	CHECK(FileSet::sanitize("span-7") == "span-7");
	CHECK(FileSet::sanitize("a b/c\\d:e") == "a_b_c_d_e");
	CHECK(FileSet::sanitize("") == "_");
	CHECK(FileSet::sanitize("..") == "_");
	CHECK(FileSet::sanitize(".") == "_");
	CHECK(FileSet::sanitize("../x") == ".._x");
	CHECK(FileSet::sanitize("é") == "__");
}

TEST_CASE("pcapng: a frame larger than the write buffer")
{
	TempDir tmp;
	FaultyIo io;
	FileSet set(tmp.path, "j", "j", Policy{}, io);
	auto small = frame(64, 1);
	auto big = frame(200000, 2);
	CHECK(set.write("eth1", packet(small, t0), t0) == Result::Written);
	CHECK(set.write("eth1", packet(big, t0 + 1), t0) == Result::Written);
	CHECK(set.write("eth1", packet(small, t0 + 2), t0) == Result::Written);
	set.close(t0);
	auto files = files_of(tmp.path / "j");
	REQUIRE(files.size() == 1);
	auto epbs = of_type(read_blocks(files[0]), block_epb);
	REQUIRE(epbs.size() == 3);
	CHECK(epbs[1].data == big);
	auto rows = tshark_fields(files[0], {"frame.cap_len"});
	REQUIRE(rows.size() == 3);
	CHECK(rows[1][0] == "200000");
	CHECK(check_all_files(tmp.path / "j") == std::vector<std::size_t>{3});
}

TEST_CASE("pcapng: closing while the disk is still full leaves no empty file")
{
	TempDir tmp;
	FaultyIo io;
	io.dev_full = true;
	{
		FileSet set(tmp.path, "gone", "gone", Policy{}, io);
		auto f = frame(64, 0);
		CHECK(set.write("eth1", packet(f, t0), t0) == Result::Written);
		set.flush();
		CHECK(io.disk_full());
		set.close(t0 + sec);
		CHECK(set.stats().dropped_disk_full == 1);
		CHECK(set.stats().files_opened == 1);
	}
	CHECK(files_of(tmp.path / "gone").empty());
}

TEST_CASE("pcapng: a session directory removed under the collector is made again")
{
	TempDir tmp;
	FaultyIo io;
	Policy pol;
	pol.max_file_seconds = 10;
	FileSet set(tmp.path, "rm", "rm", pol, io);
	auto f = frame(64, 0);
	CHECK(set.write("eth1", packet(f, t0), t0) == Result::Written);
	set.flush();
	fs::remove_all(tmp.path / "rm");
	// rotation: the open fails (ENOENT), the set pauses, then recreates
	CHECK(set.write("eth1", packet(f, t0 + 1), t0 + 10 * sec) == Result::Error);
	CHECK(set.write("eth1", packet(f, t0 + 2), t0 + 16 * sec) == Result::Written);
	set.close(t0 + 16 * sec);
	auto counts = check_all_files(tmp.path / "rm");
	CHECK(counts == std::vector<std::size_t>{1});
	auto rows = tshark_fields(files_of(tmp.path / "rm")[0], {"frame.drop_count"});
	CHECK(rows[0][0] == "1");
}

TEST_CASE("pcapng: sources beyond 1023 share one interface")
{
	TempDir tmp;
	FaultyIo io;
	FileSet set(tmp.path, "many", "many", Policy{}, io);
	auto f = frame(60, 0);
	for (int i = 0; i < 1100; ++i)
		CHECK(set.write("erspan:10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256),
				packet(f, t0 + i), t0) == Result::Written);
	set.close(t0);
	auto files = files_of(tmp.path / "many");
	REQUIRE(files.size() == 1);
	auto idbs = of_type(read_blocks(files[0]), block_idb);
	REQUIRE(idbs.size() == 1024);
	CHECK(idbs[1022].opt(if_name)->str() == "erspan:10.1.3.254");
	CHECK(idbs[1023].opt(if_name)->str() == "other-sources");
	auto rows = tshark_fields(files[0], {"frame.interface_id"});
	REQUIRE(rows.size() == 1100);
	CHECK(rows[1099][0] == "1023");
	CHECK(capinfos_text(files[0]).find("Number of interfaces in file: 1024") != std::string::npos);
	CHECK(check_all_files(tmp.path / "many") == std::vector<std::size_t>{1100});
}
