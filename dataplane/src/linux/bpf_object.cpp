#include "bpf_object.hpp"

#include "mirror.skel.h"

#include "evpnmon_kinds.h"
#include "evpnmon_shared.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace evpnmon::dp::linux_dp {

namespace {

[[noreturn]] void fail(int err, const std::string &what)
{
	throw std::system_error(err < 0 ? -err : err, std::generic_category(),
				"dataplane/linux: " + what);
}

bool on_bpffs(const std::filesystem::path &p)
{
	// The nearest existing ancestor decides (pin_dir may not exist yet).
	std::filesystem::path q = p;
	std::error_code ec;
	while (!q.empty() && !std::filesystem::exists(q, ec))
		q = q.parent_path();
	struct statfs st {};
	return !q.empty() && ::statfs(q.c_str(), &st) == 0 &&
	       st.f_type == static_cast<decltype(st.f_type)>(BPF_FS_MAGIC);
}

bool any_pinned(mirror_bpf *s, const std::string &dir)
{
	bpf_map *m;
	bpf_object__for_each_map(m, s->obj)
	{
		std::string p = dir + "/" + bpf_map__name(m);
		if (::access(p.c_str(), F_OK) == 0)
			return true;
	}
	return false;
}

// A pinned dp_match_bits of another shape than this program's (one
// element of `words` words), such as one word per element, would make
// the load fail, and the load would then replace every pin and adopt
// nothing. Its bits are rewritten from the adopted keys anyway
// (EntryStore), so it alone goes.
void drop_stale_match_bits(const std::string &pin_dir, std::uint32_t words)
{
	const std::string path = pin_dir + "/dp_match_bits";
	const int fd = bpf_obj_get(path.c_str());
	if (fd < 0)
		return;
	bpf_map_info info{};
	std::uint32_t len = sizeof info;
	const bool same = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
			  info.max_entries == 1 && info.value_size == words * 8u;
	::close(fd);
	if (!same)
		::unlink(path.c_str());
}

mirror_bpf *open_skel(const std::string &pin_dir, std::uint32_t max_entries,
		      std::uint32_t max_profiles, bool flow_cache)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir.c_str());
	mirror_bpf *s = mirror_bpf__open_opts(&opts);
	if (!s)
		fail(errno, "open BPF object");
	// One element per installed entry. A pinned map of another size is
	// not reused by the load (libbpf checks max_entries): it is replaced.
	for (bpf_map *m : {s->maps.dp_match, s->maps.dp_decap, s->maps.dp_meta,
			   s->maps.dp_stats, s->maps.dp_server}) {
		if (int err = bpf_map__set_max_entries(m, max_entries)) {
			mirror_bpf__destroy(s);
			fail(err, "size map " + std::string(bpf_map__name(m)));
		}
	}
	// One element per profile slot.
	for (bpf_map *m : {s->maps.dp_profile, s->maps.dp_policer, s->maps.dp_profile_stats}) {
		if (int err = bpf_map__set_max_entries(m, max_profiles)) {
			mirror_bpf__destroy(s);
			fail(err, "size map " + std::string(bpf_map__name(m)));
		}
	}
	const std::uint32_t words = match_bits_words(max_entries);
	if (int err = bpf_map__set_value_size(s->maps.dp_match_bits, words * 8)) {
		mirror_bpf__destroy(s);
		fail(err, "size map dp_match_bits");
	}
	s->rodata->dp_match_bits_mask = words * 64 - 1;
	s->rodata->dp_flow_cache = flow_cache ? 1 : 0;
	return s;
}

} // namespace

void ensure_bpffs(const std::string &pin_dir)
{
	if (on_bpffs(pin_dir))
		return;
	const std::string sysbpf = "/sys/fs/bpf";
	if (pin_dir.rfind(sysbpf + "/", 0) != 0)
		fail(ENOTSUP, "pin directory " + pin_dir + " is not on a bpffs "
			      "(mount -t bpf bpf <dir>)");
	::mkdir(sysbpf.c_str(), 0700);
	if (::mount("bpf", sysbpf.c_str(), "bpf", 0, "mode=0700") != 0)
		fail(errno, "mount bpffs on /sys/fs/bpf");
}

void BpfObject::Deleter::operator()(mirror_bpf *s) const
{
	mirror_bpf__destroy(s);
}

BpfObject::BpfObject(const std::string &pin_dir, std::uint32_t max_entries,
		     std::uint32_t max_profiles, bool flow_cache)
    : pin_dir_(pin_dir)
{
	ensure_bpffs(pin_dir);
	std::error_code ec;
	std::filesystem::create_directories(pin_dir, ec);
	if (ec)
		fail(ec.value(), "create " + pin_dir);
	// One process per pin directory: a second one would share the maps.
	lock_.reset(::open(pin_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!lock_ || ::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0)
		fail(errno, pin_dir + " is in use by another process (bpffs is "
			    "shared by all network namespaces: give each leaf its own "
			    "Config::pin_dir)");
	skel_.reset(open_skel(pin_dir, max_entries, max_profiles, flow_cache));
	drop_stale_match_bits(pin_dir, match_bits_words(max_entries));
	adopted_ = any_pinned(skel_.get(), pin_dir);
	int err = mirror_bpf__load(skel_.get());
	if (err && adopted_) {
		// Pins of an incompatible previous version: replace them.
		skel_.reset();
		for (const auto &f : std::filesystem::directory_iterator(pin_dir, ec))
			std::filesystem::remove(f.path(), ec);
		skel_.reset(open_skel(pin_dir, max_entries, max_profiles, flow_cache));
		adopted_ = false;
		err = mirror_bpf__load(skel_.get());
	}
	if (err)
		fail(err, "load BPF programs (verifier log above)");
	match_bits_ = map_words<std::uint64_t>(skel_->maps.dp_match_bits,
					       match_bits_words(max_entries), "dp_match_bits");
	port_words_ = map_words<std::uint32_t>(skel_->maps.dp_port_word, DP_PORT_WORDS,
					       "dp_port_word");
	vni_words_ = map_words<std::uint32_t>(skel_->maps.dp_vni_word, DP_VNI_WORDS,
					      "dp_vni_word");
	srv_words_ = map_words<std::uint32_t>(skel_->maps.dp_srv_word, DP_PORT_WORDS,
					      "dp_srv_word");
}

template <class Word>
std::span<volatile Word> BpfObject::map_words(bpf_map *map, std::size_t words, const char *name)
{
	const std::size_t len = words * sizeof(Word);
	void *p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
	if (p == MAP_FAILED)
		fail(errno, std::string("mmap ") + name);
	mappings_.emplace_back(p, Unmap{len});
	return {static_cast<volatile Word *>(p), words};
}

void BpfObject::Unmap::operator()(void *p) const
{
	::munmap(p, len);
}

BpfObject::~BpfObject() = default;

std::uint32_t match_bits_words(std::uint32_t max_entries)
{
	std::uint64_t bits = 4096;
	while (bits < std::uint64_t{max_entries} * DP_MATCH_BITS_PER_ENTRY)
		bits *= 2;
	return static_cast<std::uint32_t>(bits / 64);
}

void BpfObject::unpin()
{
	bpf_object__unpin_maps(skel_->obj, nullptr);
	std::error_code ec;
	std::filesystem::remove(pin_dir_, ec); // only if empty
}

int map_fd_config(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_config); }
int map_fd_port_vni(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_port_vni); }
int map_fd_match(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_match); }
int map_fd_decap(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_decap); }
int map_fd_meta(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_meta); }
int map_fd_stats(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_stats); }
int map_fd_gstats(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_gstats); }
int map_fd_local_mac(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_local_mac); }
int map_fd_srv_port(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_srv_port); }
int map_fd_vni_kinds(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_vni_kinds); }
int map_fd_server(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_server); }
volatile std::uint64_t *match_generation(const BpfObject &o)
{
	static_assert(sizeof(o.skel().bss->dp_match_gen) == sizeof(std::uint64_t));
	return reinterpret_cast<volatile std::uint64_t *>(&o.skel().bss->dp_match_gen);
}
std::span<volatile std::uint64_t> match_bits(const BpfObject &o) { return o.match_bits(); }
std::span<volatile std::uint32_t> port_words(const BpfObject &o) { return o.port_words(); }
std::span<volatile std::uint32_t> vni_words(const BpfObject &o) { return o.vni_words(); }
std::span<volatile std::uint32_t> srv_words(const BpfObject &o) { return o.srv_words(); }
int map_fd_profile(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_profile); }
int map_fd_policer(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_policer); }
int map_fd_profile_stats(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_profile_stats); }
int map_fd_erspan(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_erspan); }
int map_fd_erspan_seq(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_erspan_seq); }
int map_fd_erspan_stats(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_erspan_stats); }
int map_fd_decap_src(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_decap_src); }
int map_fd_ceiling(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_ceiling); }
int map_fd_tstats(const BpfObject &o) { return bpf_map__fd(o.skel().maps.dp_tstats); }
int prog_fd_erspan(const BpfObject &o) { return bpf_program__fd(o.skel().progs.evpnmon_erspan); }
int prog_fd_erspan_hop(const BpfObject &o) { return bpf_program__fd(o.skel().progs.evpnmon_erspan_hop); }
int prog_fd_mirror_egress(const BpfObject &o) { return bpf_program__fd(o.skel().progs.evpnmon_mirror_egress); }
int prog_fd_mirror(const BpfObject &o) { return bpf_program__fd(o.skel().progs.evpnmon_mirror); }
int prog_fd_decap(const BpfObject &o) { return bpf_program__fd(o.skel().progs.evpnmon_decap); }
int prog_fd_egress(const BpfObject &o) { return bpf_program__fd(o.skel().progs.evpnmon_egress); }

} // namespace evpnmon::dp::linux_dp
