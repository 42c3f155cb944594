// RAII owner of the loaded BPF object (libbpf skeleton of bpf/mirror.bpf.c)
// with its maps pinned in a bpffs directory, so that a restarted process
// adopts the entries a previous run installed.
#pragma once

#include <evpnmon/unique_fd.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct mirror_bpf;
struct bpf_map;

namespace evpnmon::dp::linux_dp {

class BpfObject {
public:
	// Opens and loads; reuses compatible pinned maps in pin_dir, replaces
	// incompatible ones (layout changed). Mounts bpffs on /sys/fs/bpf if
	// nothing is mounted there. The maps with one element per entry get
	// max_entries elements (pins of another size are replaced). Throws
	// std::system_error.
	// flow_cache: Config::flow_cache (a load-time constant of the program).
	BpfObject(const std::string &pin_dir, std::uint32_t max_entries,
		  std::uint32_t max_profiles, bool flow_cache = true);
	~BpfObject();
	BpfObject(const BpfObject &) = delete;
	BpfObject &operator=(const BpfObject &) = delete;

	mirror_bpf &skel() { return *skel_; }
	const mirror_bpf &skel() const { return *skel_; }
	// true if the maps existed before (adopted from a previous run).
	bool adopted() const { return adopted_; }
	// Remove the pins (maps live on while programs/fds reference them).
	void unpin();
	// dp_match_bits, mapped for the object's lifetime.
	std::span<volatile std::uint64_t> match_bits() const { return match_bits_; }
	// dp_port_word, dp_vni_word and dp_srv_word (evpnmon_kinds.h),
	// mapped likewise.
	std::span<volatile std::uint32_t> port_words() const { return port_words_; }
	std::span<volatile std::uint32_t> vni_words() const { return vni_words_; }
	std::span<volatile std::uint32_t> srv_words() const { return srv_words_; }

private:
	struct Deleter {
		void operator()(mirror_bpf *s) const;
	};
	std::unique_ptr<mirror_bpf, Deleter> skel_;
	UniqueFd lock_; // flock on pin_dir, held for the object's lifetime
	std::string pin_dir_;
	bool adopted_ = false;
	template <class Word>
	std::span<volatile Word> map_words(bpf_map *map, std::size_t words, const char *name);

	struct Unmap {
		std::size_t len;
		void operator()(void *p) const;
	};
	std::vector<std::unique_ptr<void, Unmap>> mappings_;
	std::span<volatile std::uint64_t> match_bits_;
	std::span<volatile std::uint32_t> port_words_, vni_words_, srv_words_;
};

// The number of 64-bit words of dp_match_bits for maps of max_entries
// entries: DP_MATCH_BITS_PER_ENTRY bits per entry, a power of two, at
// least 4,096 bits.
std::uint32_t match_bits_words(std::uint32_t max_entries);

// Map fds, for the facade.
// pin_dir must be on a bpffs. Under /sys/fs/bpf one is mounted if nothing
// is (a fresh host, or `ip netns exec`, which remounts /sys: that instance
// then lives only as long as this process's mount namespace). Throws
// std::system_error.
void ensure_bpffs(const std::string &pin_dir);

int map_fd_config(const BpfObject &o);
int map_fd_port_vni(const BpfObject &o);
int map_fd_match(const BpfObject &o);
int map_fd_decap(const BpfObject &o);
int map_fd_meta(const BpfObject &o);
int map_fd_stats(const BpfObject &o);
int map_fd_gstats(const BpfObject &o);
int map_fd_local_mac(const BpfObject &o);
int map_fd_srv_port(const BpfObject &o);
int map_fd_vni_kinds(const BpfObject &o);
int map_fd_server(const BpfObject &o);
// dp_match_gen in the object's mmapped .bss (EntryStore raises it).
volatile std::uint64_t *match_generation(const BpfObject &o);
// dp_match_bits (EntryStore sets and clears its bits).
std::span<volatile std::uint64_t> match_bits(const BpfObject &o);
// dp_port_word (the facade writes its ports), dp_vni_word and dp_srv_word
// (EntryStore).
std::span<volatile std::uint32_t> port_words(const BpfObject &o);
std::span<volatile std::uint32_t> vni_words(const BpfObject &o);
std::span<volatile std::uint32_t> srv_words(const BpfObject &o);
int map_fd_profile(const BpfObject &o);
int map_fd_policer(const BpfObject &o);
int map_fd_profile_stats(const BpfObject &o);
int map_fd_erspan(const BpfObject &o);
int map_fd_erspan_seq(const BpfObject &o);
int map_fd_erspan_stats(const BpfObject &o);
int map_fd_decap_src(const BpfObject &o);
int map_fd_ceiling(const BpfObject &o);
int map_fd_tstats(const BpfObject &o);
int prog_fd_erspan(const BpfObject &o);
int prog_fd_erspan_hop(const BpfObject &o);
int prog_fd_mirror(const BpfObject &o);
int prog_fd_mirror_egress(const BpfObject &o);
int prog_fd_decap(const BpfObject &o);
int prog_fd_egress(const BpfObject &o);

} // namespace evpnmon::dp::linux_dp
