// RAII attachment of a BPF program to a device's TC ingress or egress hook.
//
// Two kernel mechanisms, one behaviour:
//  * tcx (Linux 6.6+): a BPF link, no qdisc and no classifier on the
//    packet path: about half the per-packet cost of clsact here
//    (docs/benchmarks.md, "Dataplane"). The link is pinned under the pin
//    directory, so that it outlives a process that keeps its programs on
//    exit (Config::keep_on_exit) and the next run replaces its program in
//    place (bpf_link_update: no gap, no second copy).
//  * clsact + cls_bpf (older kernels): a filter with a fixed handle and
//    priority, replaced in place by the next run (BPF_TC_F_REPLACE).
// Either way our program is attached first on its mechanism's list (tcx
// programs run before clsact filters) and, when it has no verdict of its
// own, hands the packet on (DP_TC_NEXT), so later programs and filters on
// the same hook still see every packet. Attaching with one mechanism first
// removes what an earlier run left with the other: a packet never meets
// two copies of our program (during such a change the hook has none for a
// moment).
#pragma once

#include <evpnmon/dataplane/dataplane.hpp>

#include <cstdint>
#include <set>
#include <string>

namespace evpnmon::dp::linux_dp {

inline constexpr std::uint32_t kTcHandle = 0xe7a0;
inline constexpr std::uint32_t kTcPriority = 1;

class TcFilter {
public:
	// `hook`: TcHook::Auto takes tcx where the kernel has it. `pin_dir`:
	// where tcx links are pinned. `what`: the device's name, for errors.
	// Throws std::system_error.
	TcFilter(int ifindex, int prog_fd, std::string what, bool egress, TcHook hook,
		 const std::string &pin_dir);
	~TcFilter();
	TcFilter(TcFilter &&o) noexcept;
	TcFilter &operator=(TcFilter &&) = delete;
	TcFilter(const TcFilter &) = delete;
	TcFilter &operator=(const TcFilter &) = delete;

	int ifindex() const { return ifindex_; }
	// The tcx link's pin ("" on clsact).
	const std::string &link_pin() const { return link_pin_; }
	// The mechanism used: TcHook::Tcx or TcHook::Clsact.
	TcHook hook() const { return link_fd_ >= 0 ? TcHook::Tcx : TcHook::Clsact; }
	// Leave the program attached on destruction (keep_on_exit).
	void release() { ifindex_ = 0; }

private:
	void attach_tcx(int prog_fd, const std::string &what);
	void attach_clsact(int prog_fd, const std::string &what);

	int ifindex_ = 0;
	bool egress_ = false;
	bool created_qdisc_ = false;
	int link_fd_ = -1;     // tcx
	std::string link_pin_; // tcx
};

// Whether this kernel has tcx (probed once, with a query that attaches
// nothing).
bool kernel_has_tcx();

// Removes what an earlier run kept attached on a hook (our pinned tcx link
// and our clsact filter), for a hook this run leaves empty.
void detach_kept(int ifindex, bool egress, const std::string &pin_dir);

// Detaches and unpins every tcx link pinned in pin_dir that is not in
// `owned` (links an earlier run kept on hooks this run does not use: a
// port that left the bridges, a device renamed).
void sweep_links(const std::string &pin_dir, const std::set<std::string> &owned);

} // namespace evpnmon::dp::linux_dp
