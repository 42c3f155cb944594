#include "tc_filter.hpp"

#include <bpf/libbpf.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace evpnmon::dp::linux_dp {

TcFilter::TcFilter(int ifindex, int prog_fd, std::string what, bool egress)
    : ifindex_(ifindex), egress_(egress)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
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
    : ifindex_(std::exchange(o.ifindex_, 0)), created_qdisc_(o.created_qdisc_),
      egress_(o.egress_)
{
}

TcFilter::~TcFilter()
{
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
