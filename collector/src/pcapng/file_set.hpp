// One mirror session's capture files: DIR/<session>/<session>_<UTC
// yyyymmddTHHMMSSZ>_<NNNNNN>.pcapng, rotated by size and by time (tcpdump's
// -C and -G), oldest files deleted beyond a count or a byte total, never
// overwriting a file that exists (a restart continues the numbering).
//
// Each distinct interface name passed to write() becomes one pcapng
// interface (IDB) of the set: one per source VTEP. Every file of the set
// repeats the IDBs known when it was opened, in the same order, so an
// interface keeps its index across rotations; new sources get an IDB when
// their first packet arrives. A set holds at most 1024 interfaces: sources
// beyond that share one named "other-sources".
//
// Writes are buffered (no allocation per packet): a file's content reaches
// the disk when the buffer fills, at least once a second of `now_ns`, on
// flush(), rotation and close().
#pragma once

#include "decode/copy.hpp"
#include "pcapng/io.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace evpnmon::collector::pcapng {

struct Packet {
	std::uint32_t original_len = 0;   // frame length on the wire; <= data.size() means "not truncated"
	std::uint64_t ts_ns = 0;          // packet time, UNIX ns
	Direction direction = Direction::Unknown; // -> epb_flags bits 0-1
	std::uint64_t drops_before = 0;   // copies lost just before this one (sequence gap) -> epb_dropcount
	bool truncated_unknown_len = false; // truncated, original length unknown -> opt_comment "truncated"
	std::span<const std::uint8_t> data; // the Ethernet frame as captured
};

struct Policy {
	std::uint64_t max_file_bytes = 0;   // rotate before a packet would make the file larger (-C)
	std::uint64_t max_file_seconds = 0; // rotate at the first packet this long after the file was opened (-G)
	std::uint32_t keep_files = 0;       // keep at most this many files of the session (current included)
	std::uint64_t keep_bytes = 0;       // keep at most this many octets of files (the current one is never deleted)
};                                      // 0 = no limit

struct FileSetStats {
	std::uint64_t files_opened = 0;
	std::uint64_t packets = 0;           // EPBs that reached the disk
	std::uint64_t bytes = 0;             // file octets that reached the disk (all block types)
	std::uint64_t write_errors = 0;      // failed open/write/truncate/close calls (disk full included)
	std::uint64_t dropped_disk_full = 0; // packets not written because the disk was full
	std::string current;                 // path of the open file, "" when none
	// additions beyond the plan's interface
	std::uint64_t dropped_errors = 0;    // packets not written for another I/O error
	std::uint64_t files_deleted = 0;     // removed by retention
};

class FileSet {
public:
	// `dir` is the capture root: files go to dir/<sanitized session_name>/.
	// `description` becomes every IDB's if_description (it names the
	// session). `io` must outlive the set. Nothing touches the disk until
	// the first write().
	FileSet(std::filesystem::path dir, std::string session_name, std::string description,
		Policy policy, Io &io);
	~FileSet(); // close(the latest now_ns seen)
	FileSet(const FileSet &) = delete;
	FileSet &operator=(const FileSet &) = delete;

	enum class Result { Written, DiskFull, Error };

	// `interface_name` is the IDB's if_name ("erspan:10.0.0.1", "eth1").
	// `now_ns` is the rotation clock (UNIX ns, wall clock in production):
	// it names files and drives -G, retention and the disk-full retry.
	// Written = accepted into the file (buffered).
	Result write(std::string_view interface_name, const Packet &p, std::uint64_t now_ns);
	// Writes one ISB per interface, flushes and closes the current file.
	// A later write() opens a new file.
	void close(std::uint64_t now_ns);
	// Pushes buffered blocks to the disk.
	void flush();

	const FileSetStats &stats() const { return stats_; }
	const std::string &session_name() const { return session_; }
	std::filesystem::path directory() const { return dir_; }

	// [A-Za-z0-9._-], everything else '_'; "", "." and ".." become "_".
	static std::string sanitize(std::string_view name);

	struct Impl;

private:
	std::filesystem::path dir_;
	std::string session_;
	FileSetStats stats_;
	std::unique_ptr<Impl> impl_;
};

} // namespace evpnmon::collector::pcapng
