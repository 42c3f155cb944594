#include "pcapng/file_set.hpp"

#include "pcapng/blocks.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <unordered_map>

namespace evpnmon::collector::pcapng {
namespace {

// Big enough that a write(2) carries hundreds of small copies, small
// enough that thousands of sessions do not cost gigabytes.
constexpr std::size_t buffer_capacity = 128 * 1024;
constexpr std::uint64_t flush_interval_ns = 1'000'000'000;
constexpr std::uint64_t error_retry_ns = Io::retry_interval_ns;
constexpr int max_name_attempts = 100000;
// Sources are untrusted (any host can send GRE or VXLAN with any source
// address): past this many interfaces in a set, the rest share one.
constexpr std::size_t max_interfaces = 1024;
constexpr std::string_view overflow_interface = "other-sources";

struct StringHash {
	using is_transparent = void;
	std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct Interface {
	std::string name;
	// Losses not yet written in any EPB/ISB: sequence gaps (network) and
	// copies the collector could not write (disk full, I/O error).
	std::uint64_t pending_ifdrop = 0;
	std::uint64_t pending_osdrop = 0;
	// This file's statistics, for its ISB.
	std::uint64_t file_recv = 0, file_ifdrop = 0, file_osdrop = 0;
	std::uint64_t first_ts = 0, last_ts = 0;
	std::uint32_t idb_bytes = 0; // size of its IDB
};

struct FileRecord {
	std::string name;
	std::uint64_t size = 0;
	std::uint64_t seq = 0;
};

std::uint32_t load32(const std::uint8_t *p)
{
	std::uint32_t v;
	std::memcpy(&v, p, sizeof v);
	return v;
}

// Parses "<session>_<16 chars>_<digits>.pcapng"; returns the number.
bool parse_name(std::string_view name, std::string_view session, std::uint64_t &seq)
{
	constexpr std::string_view ext = ".pcapng";
	if (name.size() < session.size() + 1 + 16 + 1 + 1 + ext.size())
		return false;
	if (name.substr(0, session.size()) != session || name[session.size()] != '_')
		return false;
	if (name.substr(name.size() - ext.size()) != ext)
		return false;
	std::string_view rest = name.substr(session.size() + 1, name.size() - session.size() - 1 - ext.size());
	if (rest.size() < 18 || rest[8] != 'T' || rest[15] != 'Z' || rest[16] != '_')
		return false;
	std::string_view digits = rest.substr(17);
	auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
	return ec == std::errc{} && ptr == digits.data() + digits.size();
}

} // namespace

struct FileSet::Impl {
	Impl(FileSet &owner, std::string description, Policy policy, Io &io)
		: set(owner), description(std::move(description)), policy(policy), io(io)
	{
	}

	FileSet &set;
	std::string description;
	Policy policy;
	Io &io;

	std::vector<Interface> ifaces;
	std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> by_name;
	std::uint32_t last_iface = UINT32_MAX;

	// current file
	int fd = -1;
	std::filesystem::path path;
	std::uint64_t opened_ns = 0;
	std::uint64_t committed = 0;   // file octets on disk
	std::uint64_t file_packets = 0; // EPBs in the file (buffered included)
	bool shb_in_file = false;
	std::uint32_t idbs_in_file = 0;

	std::vector<std::uint8_t> buf; // capacity reserved at the first open
	std::size_t len = 0;
	// EPBs in `buf` that carry collector drops: (offset, osdrop part of
	// epb_dropcount), to undo the accounting if the buffer is lost.
	std::vector<std::pair<std::size_t, std::uint64_t>> os_marks;
	std::uint64_t last_flush_ns = 0;
	std::uint64_t last_now = 0;

	// directory state
	bool dir_ready = false;
	std::uint64_t next_seq = 1;
	std::deque<FileRecord> files; // oldest first; back() is the open file when fd >= 0
	std::uint64_t closed_bytes = 0; // octets of files in `files` but not open

	std::uint64_t error_until = 0;
	bool in_error = false;

	// the largest ISB (all options present)
	const std::size_t isb_bytes = [] {
		std::vector<std::uint8_t> b;
		append_isb(b, IsbFields{.has_times = true});
		return b.size();
	}();

	std::uint32_t interface(std::string_view name)
	{
		if (last_iface != UINT32_MAX && ifaces[last_iface].name == name)
			return last_iface;
		auto it = by_name.find(name);
		if (it != by_name.end())
			return last_iface = it->second;
		if (ifaces.size() >= max_interfaces - 1 && name != overflow_interface)
			return interface(overflow_interface);
		auto id = static_cast<std::uint32_t>(ifaces.size());
		ifaces.push_back(Interface{std::string(name)});
		std::vector<std::uint8_t> idb;
		append_idb(idb, IdbFields{.name = name, .description = description});
		ifaces.back().idb_bytes = static_cast<std::uint32_t>(idb.size());
		by_name.emplace(std::string(name), id);
		return last_iface = id;
	}

	void drop(std::uint32_t id, const Packet &p, bool disk_full)
	{
		Interface &ifc = ifaces[id];
		ifc.pending_ifdrop += p.drops_before;
		ifc.pending_osdrop += 1;
		if (disk_full)
			++set.stats_.dropped_disk_full;
		else
			++set.stats_.dropped_errors;
	}

	// Makes room for `n` more octets in the buffer, flushing if needed.
	bool reserve(std::size_t n)
	{
		if (len + n <= buf.size())
			return true;
		if (len && !flush_buffer())
			return false;
		if (n > buf.size())
			buf.resize(n); // one jumbo block larger than the buffer: rare
		return true;
	}

	void append(const std::vector<std::uint8_t> &blocks)
	{
		std::memcpy(buf.data() + len, blocks.data(), blocks.size());
		len += blocks.size();
	}

	// Emits the SHB and any IDB the file is missing, up to interface `upto`.
	bool headers(std::uint32_t upto)
	{
		if (shb_in_file && idbs_in_file > upto)
			return true;
		std::vector<std::uint8_t> blocks;
		if (!shb_in_file)
			append_shb(blocks, ShbFields{.hardware = "", .os = "Linux", .userappl = "evpnmon-collector"});
		for (std::uint32_t i = shb_in_file ? idbs_in_file : 0; i < ifaces.size(); ++i)
			append_idb(blocks, IdbFields{.name = ifaces[i].name, .description = description});
		if (!reserve(blocks.size()))
			return false;
		if (fd < 0) // the flush that made room failed and closed the file
			return false;
		append(blocks);
		shb_in_file = true;
		idbs_in_file = static_cast<std::uint32_t>(ifaces.size());
		return true;
	}

	std::string file_name(std::uint64_t now_ns, std::uint64_t seq) const
	{
		std::time_t secs = static_cast<std::time_t>(now_ns / 1'000'000'000);
		std::tm tm{};
		gmtime_r(&secs, &tm);
		char stamp[32];
		std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
		char num[32];
		std::snprintf(num, sizeof num, "%06llu", static_cast<unsigned long long>(seq));
		return set.session_ + "_" + stamp + "_" + num + ".pcapng";
	}

	// Learns the files an earlier run left, to continue their numbering
	// and to count them against retention.
	bool prepare_dir(std::uint64_t now_ns)
	{
		if (dir_ready)
			return true;
		int rc = io.make_dirs(set.dir_);
		if (rc < 0) {
			failure(-rc, now_ns, set.dir_.string());
			return false;
		}
		files.clear();
		closed_bytes = 0;
		std::vector<FileInfo> existing;
		io.list(set.dir_, existing);
		for (const auto &f : existing) {
			std::uint64_t seq = 0;
			if (!parse_name(f.name, set.session_, seq))
				continue;
			files.push_back({f.name, f.size, seq});
			closed_bytes += f.size;
			next_seq = std::max(next_seq, seq + 1);
		}
		std::sort(files.begin(), files.end(), [](const FileRecord &a, const FileRecord &b) {
			return a.seq != b.seq ? a.seq < b.seq : a.name < b.name;
		});
		dir_ready = true;
		return true;
	}

	bool open_file(std::uint64_t now_ns)
	{
		if (!prepare_dir(now_ns))
			return false;
		for (int attempt = 0; attempt < max_name_attempts; ++attempt) {
			std::uint64_t seq = next_seq++;
			std::string name = file_name(now_ns, seq);
			std::filesystem::path p = set.dir_ / name;
			int rc = io.open_exclusive(p);
			if (rc == -EEXIST)
				continue; // a file we did not list (or a concurrent writer): never overwrite
			if (rc < 0) {
				if (rc == -ENOENT)
					dir_ready = false; // removed under us: made again at the next try
				failure(-rc, now_ns, p.string());
				return false;
			}
			fd = rc;
			path = std::move(p);
			files.push_back({std::move(name), 0, seq});
			break;
		}
		if (fd < 0) {
			failure(EEXIST, now_ns, set.dir_.string());
			return false;
		}
		if (buf.empty())
			buf.resize(buffer_capacity);
		len = 0;
		os_marks.clear();
		opened_ns = now_ns;
		last_flush_ns = now_ns;
		committed = 0;
		file_packets = 0;
		shb_in_file = false;
		idbs_in_file = 0;
		for (auto &ifc : ifaces)
			ifc.file_recv = ifc.file_ifdrop = ifc.file_osdrop = ifc.first_ts = ifc.last_ts = 0;
		++set.stats_.files_opened;
		set.stats_.current = path.string();
		apply_retention();
		return true;
	}

	void record_error() { ++set.stats_.write_errors; }

	// A call failed: the disk is full (every set stops) or something else
	// broke this set (it stops for a while, then starts a new file).
	void failure(int err, std::uint64_t now_ns, std::string_view what)
	{
		record_error();
		if (is_disk_full_error(err)) {
			io.set_disk_full(now_ns, what, err);
			return;
		}
		in_error = true;
		error_until = now_ns + error_retry_ns;
	}

	void close_handle()
	{
		if (io.close(fd) < 0)
			record_error();
		fd = -1;
		if (committed == 0 && !files.empty()) {
			// nothing reached the disk (it was full): leave no empty file
			if (io.unlink(path) < 0)
				record_error();
			files.pop_back();
		} else if (!files.empty()) {
			files.back().size = committed;
			closed_bytes += committed;
		}
		if (!policy.keep_files && !policy.keep_bytes) {
			files.clear(); // nothing to delete: no need to remember them
			closed_bytes = 0;
		}
		set.stats_.current.clear();
		len = 0;
		os_marks.clear();
	}

	// Writes the buffer; on failure keeps the whole blocks that reached the
	// disk, cuts a partial block off, and books the lost packets as drops
	// so the next packet of their interface reports them.
	bool flush_buffer()
	{
		if (fd < 0 || len == 0)
			return true;
		std::size_t written = 0;
		int err = 0;
		while (written < len) {
			std::int64_t n = io.write(fd, std::span<const std::uint8_t>(buf.data() + written, len - written));
			if (n < 0) {
				err = static_cast<int>(-n);
				break;
			}
			if (n == 0) {
				err = EIO;
				break;
			}
			written += static_cast<std::size_t>(n);
		}
		if (!err) {
			commit(len);
			len = 0;
			os_marks.clear();
			last_flush_ns = last_now;
			if (io.disk_full())
				io.clear_disk_full(last_now, path.string());
			apply_retention();
			return true;
		}

		// Whole blocks within `written` stay; the rest is lost.
		std::size_t keep = 0;
		while (keep + 8 <= len) {
			std::uint32_t blen = load32(buf.data() + keep + 4);
			if (keep + blen > written)
				break;
			keep += blen;
		}
		bool disk_full = is_disk_full_error(err);
		lose(keep, disk_full);
		commit(keep);
		len = 0;
		os_marks.clear();
		// On a full disk the file stays open, cut back to its last whole
		// block, and continues when space returns; any other error (or a
		// cut that fails) ends the file.
		bool broken = !disk_full;
		if (written > keep && io.truncate(fd, committed) < 0) {
			record_error();
			broken = true;
		}
		failure(err, last_now, path.string());
		if (broken && fd >= 0)
			close_handle();
		return false;
	}

	void commit(std::size_t n)
	{
		std::size_t off = 0;
		while (off + 8 <= n) {
			std::uint32_t blen = load32(buf.data() + off + 4);
			if (load32(buf.data() + off) == block_epb)
				++set.stats_.packets;
			off += blen;
		}
		committed += n;
		set.stats_.bytes += n;
	}

	// Undoes the accounting of the blocks in buf[from, len).
	void lose(std::size_t from, bool disk_full)
	{
		std::size_t off = from;
		while (off + 8 <= len) {
			const std::uint8_t *b = buf.data() + off;
			std::uint32_t type = load32(b), blen = load32(b + 4);
			if (type == block_shb)
				shb_in_file = false;
			else if (type == block_idb)
				--idbs_in_file;
			else if (type == block_epb)
				lose_epb(off, b, blen, disk_full);
			off += blen;
		}
	}

	void lose_epb(std::size_t off, const std::uint8_t *b, std::uint32_t blen, bool disk_full)
	{
		std::uint32_t id = load32(b + 8);
		std::uint32_t caplen = load32(b + 20);
		std::uint64_t dropcount = 0;
		std::size_t o = 28 + ((caplen + 3) & ~3u);
		while (o + 4 <= blen - 4) {
			std::uint16_t code, olen;
			std::memcpy(&code, b + o, 2);
			std::memcpy(&olen, b + o + 2, 2);
			if (code == opt_endofopt)
				break;
			if (code == epb_dropcount && olen == 8)
				std::memcpy(&dropcount, b + o + 4, 8);
			o += 4 + ((olen + 3u) & ~3u);
		}
		std::uint64_t os = 0;
		for (auto &[moff, mos] : os_marks)
			if (moff == off)
				os = mos;
		if (id >= ifaces.size())
			return;
		Interface &ifc = ifaces[id];
		ifc.pending_osdrop += os + 1;
		ifc.pending_ifdrop += dropcount - os;
		ifc.file_recv -= 1;
		ifc.file_osdrop -= os;
		ifc.file_ifdrop -= dropcount - os;
		--file_packets;
		if (disk_full)
			++set.stats_.dropped_disk_full;
		else
			++set.stats_.dropped_errors;
	}

	void apply_retention()
	{
		if (!policy.keep_files && !policy.keep_bytes)
			return;
		for (;;) {
			bool current_open = fd >= 0;
			std::size_t closed_count = files.size() - (current_open ? 1 : 0);
			if (closed_count == 0)
				return;
			std::uint64_t total = closed_bytes + (current_open ? committed + len : 0);
			bool over = (policy.keep_files && files.size() > policy.keep_files) ||
				    (policy.keep_bytes && total > policy.keep_bytes);
			if (!over)
				return;
			FileRecord &old = files.front();
			int rc = io.unlink(set.dir_ / old.name);
			if (rc < 0 && rc != -ENOENT) {
				record_error();
				return; // retried at the next flush
			}
			if (rc == 0)
				++set.stats_.files_deleted;
			closed_bytes -= old.size;
			files.pop_front();
		}
	}

	void write_isbs(std::uint64_t now_ns)
	{
		if (!shb_in_file)
			return;
		std::vector<std::uint8_t> blocks;
		for (std::uint32_t i = 0; i < idbs_in_file; ++i) {
			Interface &ifc = ifaces[i];
			// Losses seen after this source's last packet are reported
			// here, once: the next file does not repeat them.
			ifc.file_ifdrop += ifc.pending_ifdrop;
			ifc.file_osdrop += ifc.pending_osdrop;
			ifc.pending_ifdrop = ifc.pending_osdrop = 0;
			append_isb(blocks, IsbFields{.interface_id = i,
						     .ts = now_ns,
						     .has_times = ifc.file_recv > 0,
						     .starttime = ifc.first_ts,
						     .endtime = ifc.last_ts,
						     .ifrecv = ifc.file_recv,
						     .ifdrop = ifc.file_ifdrop,
						     .osdrop = ifc.file_osdrop});
		}
		if (!reserve(blocks.size()) || fd < 0)
			return;
		append(blocks);
	}

	void close_file(std::uint64_t now_ns)
	{
		if (fd < 0)
			return;
		last_now = std::max(last_now, now_ns);
		write_isbs(now_ns);
		if (fd >= 0)
			flush_buffer();
		if (fd >= 0)
			close_handle();
	}

	// A file holds at least one packet; otherwise the size limit counts
	// what the file will end with: the packet, an IDB if its source is
	// new, and the ISBs written at close.
	bool needs_rotation(std::uint32_t id, std::size_t block, std::uint64_t now_ns) const
	{
		if (file_packets == 0)
			return false;
		if (policy.max_file_seconds && now_ns >= opened_ns + policy.max_file_seconds * 1'000'000'000ull)
			return true;
		if (!policy.max_file_bytes)
			return false;
		std::uint64_t size = committed + len + block;
		std::uint64_t n_if = idbs_in_file;
		for (std::uint32_t i = idbs_in_file; i <= id && i < ifaces.size(); ++i, ++n_if)
			size += ifaces[i].idb_bytes;
		size += n_if * isb_bytes;
		return size > policy.max_file_bytes;
	}

	Result write(std::string_view name, const Packet &p, std::uint64_t now_ns)
	{
		last_now = std::max(last_now, now_ns);
		std::uint32_t id = interface(name);

		if (in_error) {
			if (now_ns < error_until) {
				drop(id, p, false);
				return Result::Error;
			}
			in_error = false;
		}
		bool retrying = false;
		if (io.disk_full()) {
			if (!io.retry_due(now_ns)) {
				drop(id, p, true);
				return Result::DiskFull;
			}
			retrying = true;
		}

		Interface &ifc = ifaces[id];
		std::uint64_t os = ifc.pending_osdrop;
		char comment[96];
		std::size_t comment_len = 0;
		if (p.truncated_unknown_len || os) {
			int n = 0;
			if (p.truncated_unknown_len && os)
				n = std::snprintf(comment, sizeof comment,
						  "truncated; %llu copies before this one not written by the collector",
						  static_cast<unsigned long long>(os));
			else if (os)
				n = std::snprintf(comment, sizeof comment,
						  "%llu copies before this one not written by the collector",
						  static_cast<unsigned long long>(os));
			else
				n = std::snprintf(comment, sizeof comment, "truncated");
			comment_len = n > 0 ? static_cast<std::size_t>(n) : 0;
		}
		EpbFields epb{.interface_id = id,
			      .ts = p.ts_ns,
			      .original_len = p.original_len,
			      .data = p.data,
			      .flags = static_cast<std::uint32_t>(p.direction) & 3u,
			      .dropcount = p.drops_before + ifc.pending_ifdrop + os,
			      .comment = std::string_view(comment, comment_len)};
		std::size_t size = epb_size(epb);

		if (fd >= 0 && needs_rotation(id, size, now_ns)) {
			close_file(now_ns);
			if (in_error) {
				drop(id, p, false);
				return Result::Error;
			}
			if (io.disk_full() && !retrying) {
				drop(id, p, true);
				return Result::DiskFull;
			}
		}
		if (fd < 0 && !open_file(now_ns)) {
			bool full = io.disk_full();
			drop(id, p, full);
			return full ? Result::DiskFull : Result::Error;
		}
		if (!headers(id) || !reserve(size) || fd < 0) {
			bool full = io.disk_full();
			drop(id, p, full);
			return full ? Result::DiskFull : Result::Error;
		}
		if (os)
			os_marks.emplace_back(len, os);
		len += encode_epb(buf.data() + len, epb);
		++file_packets;
		// ifaces may not have grown since `ifc` was taken: headers() does not add
		ifc.file_recv += 1;
		ifc.file_ifdrop += p.drops_before + ifc.pending_ifdrop;
		ifc.file_osdrop += os;
		ifc.pending_ifdrop = ifc.pending_osdrop = 0;
		if (ifc.file_recv == 1)
			ifc.first_ts = p.ts_ns;
		ifc.last_ts = p.ts_ns;

		if (retrying || now_ns >= last_flush_ns + flush_interval_ns) {
			if (!flush_buffer())
				return io.disk_full() ? Result::DiskFull : Result::Error;
		}
		return Result::Written;
	}
};

FileSet::FileSet(std::filesystem::path dir, std::string session_name, std::string description,
		 Policy policy, Io &io)
	: session_(sanitize(session_name))
{
	dir_ = std::move(dir) / session_;
	impl_ = std::make_unique<Impl>(*this, std::move(description), policy, io);
}

FileSet::~FileSet()
{
	if (impl_)
		impl_->close_file(impl_->last_now);
}

FileSet::Result FileSet::write(std::string_view interface_name, const Packet &p, std::uint64_t now_ns)
{
	return impl_->write(interface_name, p, now_ns);
}

void FileSet::close(std::uint64_t now_ns) { impl_->close_file(now_ns); }

void FileSet::flush()
{
	Impl &im = *impl_;
	if (im.fd < 0 || im.len == 0)
		return;
	if (im.io.disk_full() && !im.io.retry_due(im.last_now))
		return;
	im.flush_buffer();
}

std::string FileSet::sanitize(std::string_view name)
{
	std::string out(name);
	for (char &c : out) {
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-';
		if (!ok)
			c = '_';
	}
	if (out.empty() || out == "." || out == "..")
		out.assign(1, '_');
	return out;
}

} // namespace evpnmon::collector::pcapng
