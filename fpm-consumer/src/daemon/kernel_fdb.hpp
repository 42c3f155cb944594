// Remote MACs from the kernel bridge FDB of the VXLAN devices (rtnetlink
// RTNLGRP_NEIGH + an AF_BRIDGE dump). zebra programs every remote MAC there,
// so this closes FRR 8.4.4's FPM gap (L2VNI MACs installed before the FPM
// connection are never replayed) independently of zebra's version: the
// consumer knows every remote MAC whatever the start order.
#pragma once

#include "daemon/event_loop.hpp"
#include "fpm/netlink_decoder.hpp"

#include <cstdint>
#include <functional>
#include <memory>

struct mnl_socket;

namespace evpnmon::consumer {

class KernelFdb {
public:
	struct Hooks {
		std::function<void()> dump_started;
		std::function<void()> dump_done;
	};
	KernelFdb(EventLoop &loop, fpm::UpdateSink &sink, Hooks hooks);
	~KernelFdb();

	void request_dump();
	bool dumping() const { return dump_seq_ != 0; }
	const fpm::DecodeCounters &counters() const { return counters_; }
	std::uint64_t overruns() const { return overruns_; }

private:
	void read_some();

	struct Closer {
		void operator()(mnl_socket *s) const;
	};
	EventLoop &loop_;
	fpm::UpdateSink &sink_;
	Hooks hooks_;
	std::unique_ptr<mnl_socket, Closer> sock_;
	std::uint32_t dump_seq_ = 0;
	std::uint32_t next_seq_ = 1;
	fpm::DecodeCounters counters_;
	std::uint64_t overruns_ = 0;
};

} // namespace evpnmon::consumer
