// The file-system calls a FileSet makes, behind an interface so tests can
// inject failures (ENOSPC, EIO, short writes) without filling a real disk.
// Also holds the collector-wide "disk full" state: when any file set hits
// ENOSPC/EDQUOT every set stops writing (they share the disk) and one
// write is retried every retry_interval_ns.
//
// Single-threaded: one Io and its FileSets live on one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace evpnmon::collector::pcapng {

struct FileInfo {
	std::string name;       // file name only, no directory
	std::uint64_t size = 0; // octets
};

class Io {
public:
	static constexpr std::uint64_t retry_interval_ns = 5'000'000'000;

	virtual ~Io() = default;

	// Every call returns >= 0 on success, -errno on failure.
	virtual int make_dirs(const std::filesystem::path &dir) = 0;
	// Creates `path`, failing with -EEXIST if anything has that name
	// (O_CREAT|O_EXCL): a restart never overwrites a file. Returns a handle.
	virtual int open_exclusive(const std::filesystem::path &path) = 0;
	// Bytes written (may be fewer than asked) or -errno.
	virtual std::int64_t write(int handle, std::span<const std::uint8_t> data) = 0;
	virtual int truncate(int handle, std::uint64_t size) = 0;
	virtual int close(int handle) = 0;
	virtual int unlink(const std::filesystem::path &path) = 0;
	// Regular files of `dir` (not recursive). -ENOENT if it does not exist.
	virtual int list(const std::filesystem::path &dir, std::vector<FileInfo> &out) = 0;

	// --- shared disk-full state (not virtual) ---
	bool disk_full() const { return disk_full_; }
	std::uint64_t disk_full_since_ns() const { return disk_full_since_ns_; }
	std::uint64_t disk_full_events() const { return disk_full_events_; }
	// While the disk is full: true once per retry interval, for the one
	// file set that gets to try a write (the others keep dropping).
	bool retry_due(std::uint64_t now_ns);
	void set_disk_full(std::uint64_t now_ns, std::string_view path, int err);
	void clear_disk_full(std::uint64_t now_ns, std::string_view path);

protected:
	// Called once when the state flips (full == true: writing stopped,
	// false: writing resumed). The default prints one line to stderr; the
	// daemon overrides it to use its logger.
	virtual void on_disk_full_change(bool full, std::string_view detail);

private:
	bool disk_full_ = false;
	std::uint64_t disk_full_since_ns_ = 0;
	std::uint64_t next_retry_ns_ = 0;
	std::uint64_t disk_full_events_ = 0;
};

// open(2)/write(2)/ftruncate(2)/close(2)/unlink(2) on the real file system.
// Files are created 0644.
class PosixIo : public Io {
public:
	int make_dirs(const std::filesystem::path &dir) override;
	int open_exclusive(const std::filesystem::path &path) override;
	std::int64_t write(int handle, std::span<const std::uint8_t> data) override;
	int truncate(int handle, std::uint64_t size) override;
	int close(int handle) override;
	int unlink(const std::filesystem::path &path) override;
	int list(const std::filesystem::path &dir, std::vector<FileInfo> &out) override;
};

// True for the errors that mean "no room on the disk": ENOSPC, EDQUOT.
bool is_disk_full_error(int err);

} // namespace evpnmon::collector::pcapng
