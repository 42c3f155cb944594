// RoCEv2 per (source IP, destination IP, destination QP): CNPs (count and
// rate), NAKs by AETH syndrome, RNR NAKs, PSN of the last NAK, first/last
// seen. A record per entry every report interval while it changed, and a
// final one when the entry is evicted, goes idle or the collector stops.
// The table is bounded, least recently seen entry evicted first.
#pragma once

#include "decode/frame.hpp"
#include "records/context.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace evpnmon::collector::records {

class RoceTracker {
public:
	struct Limits {
		std::size_t max_entries = 65536;
		std::uint64_t report_interval_ns = 1'000'000'000;
		std::uint64_t idle_ns = 300'000'000'000;
	};

	RoceTracker(Limits limits, Sink sink);
	~RoceTracker();
	RoceTracker(const RoceTracker &) = delete;
	RoceTracker &operator=(const RoceTracker &) = delete;

	// Only CNPs (BTH opcode 0x81) and RC ACKs (0x11) whose AETH syndrome is
	// an RNR NAK or a NAK make or update entries: first/last seen are those
	// of such packets. Everything else is ignored, so bulk RoCE traffic
	// costs a lookup of nothing.
	void on_frame(const Context &ctx, const Frame &frame);
	// Periodic reports of changed entries, idle entries closed (final).
	void tick(std::uint64_t now_ns);
	// Final record for every entry; table empty.
	void close_all(std::uint64_t now_ns);

	std::size_t size() const;
	std::uint64_t evictions() const;
	std::uint64_t records() const;

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace evpnmon::collector::records
