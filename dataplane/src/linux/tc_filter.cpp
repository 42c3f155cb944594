#include "tc_filter.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

namespace evpnmon::dp::linux_dp {

namespace {

// Linux 6.6 uapi values; the build's headers may be older than the kernel.
constexpr int kAttachTcxIngress = 46; // BPF_TCX_INGRESS
constexpr int kAttachTcxEgress = 47;  // BPF_TCX_EGRESS
constexpr std::uint32_t kFlagBefore = 1u << 3; // BPF_F_BEFORE: at the head

bpf_attach_type tcx_type(bool egress)
{
	return static_cast<bpf_attach_type>(egress ? kAttachTcxEgress : kAttachTcxIngress);
}

std::string link_pin_path(const std::string &pin_dir, int ifindex, bool egress)
{
	return pin_dir + (egress ? "/tcx_eg_" : "/tcx_in_") + std::to_string(ifindex);
}

// Our clsact filter on the hook, if an earlier run left one.
void detach_clsact(int ifindex, bool egress)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
	auto old = libbpf_set_print(nullptr); // "no such filter" is the usual case
	bpf_tc_detach(&hook, &opts);
	libbpf_set_print(old);
}

// Our pinned tcx link on the hook, if an earlier run left one.
void detach_tcx(const std::string &pin)
{
	const int fd = bpf_obj_get(pin.c_str());
	if (fd < 0)
		return;
	bpf_link_detach(fd);
	::close(fd);
	::unlink(pin.c_str());
}

} // namespace

bool kernel_has_tcx()
{
	// A query names the attach type without attaching anything: kernels
	// without tcx refuse the type (EINVAL).
	static const bool has = [] {
		LIBBPF_OPTS(bpf_prog_query_opts, q);
		return bpf_prog_query_opts(static_cast<int>(if_nametoindex("lo")),
					   tcx_type(false), &q) == 0;
	}();
	return has;
}

void detach_kept(int ifindex, bool egress, const std::string &pin_dir)
{
	detach_tcx(link_pin_path(pin_dir, ifindex, egress));
	detach_clsact(ifindex, egress);
}

void sweep_links(const std::string &pin_dir, const std::set<std::string> &owned)
{
	std::error_code ec;
	for (const auto &f : std::filesystem::directory_iterator(pin_dir, ec)) {
		const std::string name = f.path().filename().string();
		if ((name.starts_with("tcx_in_") || name.starts_with("tcx_eg_")) &&
		    !owned.contains(f.path().string()))
			detach_tcx(f.path().string());
	}
}

TcFilter::TcFilter(int ifindex, int prog_fd, std::string what, bool egress, TcHook hook,
		   const std::string &pin_dir)
    : ifindex_(ifindex), egress_(egress), link_pin_(link_pin_path(pin_dir, ifindex, egress))
{
	// A change of mechanism removes the other one's program first: for a
	// moment the hook has none (copies missed, no duplicate dropped), never
	// two. Two would be worse: at a server's port the second egress
	// program would take a copy whose mark the first cleared for an
	// original, and drop it.
	const bool tcx = hook == TcHook::Tcx || (hook == TcHook::Auto && kernel_has_tcx());
	if (tcx) {
		detach_clsact(ifindex, egress);
		attach_tcx(prog_fd, what);
	} else {
		detach_tcx(link_pin_);
		link_pin_.clear();
		attach_clsact(prog_fd, what);
	}
}

void TcFilter::attach_tcx(int prog_fd, const std::string &what)
{
	// The link an earlier run kept: its program replaced in place. A link
	// whose device is gone (the ifindex reused since) refuses the update
	// and is replaced.
	if (int fd = bpf_obj_get(link_pin_.c_str()); fd >= 0) {
		if (bpf_link_update(fd, prog_fd, nullptr) == 0) {
			link_fd_ = fd;
			return;
		}
		::close(fd);
		::unlink(link_pin_.c_str());
	}
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = kFlagBefore);
	const int fd = bpf_link_create(prog_fd, ifindex_, tcx_type(egress_), &opts);
	if (fd < 0)
		throw std::system_error(-fd, std::generic_category(),
					"dataplane/linux: tcx attach on " + what);
	if (int err = bpf_obj_pin(fd, link_pin_.c_str()); err) {
		bpf_link_detach(fd);
		::close(fd);
		throw std::system_error(-err, std::generic_category(),
					"dataplane/linux: pin tcx link " + link_pin_);
	}
	link_fd_ = fd;
}

void TcFilter::attach_clsact(int prog_fd, const std::string &what)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex_,
		    .attach_point = egress_ ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	// An existing clsact (a previous run, another tool) is fine: silence
	// libbpf's "Exclusivity flag on" message for this one call.
	auto old = libbpf_set_print(nullptr);
	int err = bpf_tc_hook_create(&hook);
	libbpf_set_print(old);
	if (err && err != -EEXIST)
		throw std::system_error(-err, std::generic_category(),
					"dataplane/linux: clsact on " + what);
	created_qdisc_ = err == 0;
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE,
		    .handle = kTcHandle, .priority = kTcPriority);
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		if (created_qdisc_)
			bpf_tc_hook_destroy(&hook);
		throw std::system_error(-err, std::generic_category(),
					"dataplane/linux: attach BPF on " + what);
	}
}

TcFilter::TcFilter(TcFilter &&o) noexcept
    : ifindex_(std::exchange(o.ifindex_, 0)), egress_(o.egress_),
      created_qdisc_(o.created_qdisc_), link_fd_(std::exchange(o.link_fd_, -1)),
      link_pin_(std::move(o.link_pin_))
{
}

TcFilter::~TcFilter()
{
	if (link_fd_ >= 0) {
		if (ifindex_) {
			bpf_link_detach(link_fd_); // the device may be gone: ignore
			::unlink(link_pin_.c_str());
		}
		::close(link_fd_); // released: the pin keeps the link
		return;
	}
	if (!ifindex_)
		return;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex_,
		    .attach_point = egress_ ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
	bpf_tc_detach(&hook, &opts); // device may be gone already: ignore
	if (created_qdisc_) {
		// Removes the whole clsact qdisc: only when this run created it.
		hook.attach_point =
		    static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
		bpf_tc_hook_destroy(&hook);
	}
}

} // namespace evpnmon::dp::linux_dp

namespace evpnmon::dp {

std::uint32_t attached_program_id(int ifindex, bool egress)
{
	using namespace linux_dp;
	if (kernel_has_tcx()) {
		// The head of the list: where ours is attached (another tool
		// attaching before it later would be reported instead).
		__u32 ids[64] = {};
		LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .prog_cnt = 64);
		if (bpf_prog_query_opts(ifindex, tcx_type(egress), &q) == 0 && q.prog_cnt)
			return ids[0];
	}
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
	auto old = libbpf_set_print(nullptr);
	const int err = bpf_tc_query(&hook, &opts);
	libbpf_set_print(old);
	return err == 0 ? opts.prog_id : 0;
}

} // namespace evpnmon::dp
