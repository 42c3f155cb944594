#include "pcapng/io.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace evpnmon::collector::pcapng {

bool is_disk_full_error(int err) { return err == ENOSPC || err == EDQUOT; }

bool Io::retry_due(std::uint64_t now_ns)
{
	if (!disk_full_)
		return true;
	if (now_ns < next_retry_ns_)
		return false;
	next_retry_ns_ = now_ns + retry_interval_ns;
	return true;
}

void Io::set_disk_full(std::uint64_t now_ns, std::string_view path, int err)
{
	next_retry_ns_ = now_ns + retry_interval_ns;
	if (disk_full_)
		return;
	disk_full_ = true;
	disk_full_since_ns_ = now_ns;
	++disk_full_events_;
	std::string detail(path);
	detail += ": ";
	detail += std::strerror(err);
	on_disk_full_change(true, detail);
}

void Io::clear_disk_full(std::uint64_t, std::string_view path)
{
	if (!disk_full_)
		return;
	disk_full_ = false;
	std::string detail(path);
	detail += ": written";
	on_disk_full_change(false, detail);
}

void Io::on_disk_full_change(bool full, std::string_view detail)
{
	std::fprintf(stderr, "evpnmon-collector: %s: %.*s\n",
		     full ? "disk full, capture files stopped, retrying every 5 s" : "capture files resumed",
		     static_cast<int>(detail.size()), detail.data());
}

int PosixIo::make_dirs(const std::filesystem::path &dir)
{
	std::error_code ec;
	std::filesystem::create_directories(dir, ec);
	return ec ? -ec.value() : 0;
}

int PosixIo::open_exclusive(const std::filesystem::path &path)
{
	int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : fd;
}

std::int64_t PosixIo::write(int handle, std::span<const std::uint8_t> data)
{
	for (;;) {
		ssize_t n = ::write(handle, data.data(), data.size());
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

int PosixIo::truncate(int handle, std::uint64_t size)
{
	if (::ftruncate(handle, static_cast<off_t>(size)) < 0)
		return -errno;
	// Later writes continue at the new end, not at the old offset.
	if (::lseek(handle, static_cast<off_t>(size), SEEK_SET) < 0)
		return -errno;
	return 0;
}

int PosixIo::close(int handle) { return ::close(handle) < 0 ? -errno : 0; }

int PosixIo::unlink(const std::filesystem::path &path)
{
	return ::unlink(path.c_str()) < 0 ? -errno : 0;
}

int PosixIo::list(const std::filesystem::path &dir, std::vector<FileInfo> &out)
{
	std::error_code ec;
	std::filesystem::directory_iterator it(dir, ec);
	if (ec)
		return -ec.value();
	for (const auto &entry : it) {
		std::error_code fec;
		if (!entry.is_regular_file(fec))
			continue;
		auto size = entry.file_size(fec);
		out.push_back({entry.path().filename().string(), fec ? 0 : size});
	}
	return 0;
}

} // namespace evpnmon::collector::pcapng
