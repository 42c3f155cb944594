// GRE sequence numbers of one (source VTEP, ERSPAN session): the gap before
// each copy is its count of lost copies. Serial-number arithmetic (RFC 1982
// style, window 2^31): ahead of the expected number = the copies between
// were lost; behind it = reordered or duplicated, never a loss (and it does
// not move the expectation back). A sender that restarted its counter, or
// a forged copy far ahead, would otherwise stop loss counting for up to
// 2^31 copies: a gap larger than kMaxGap, or kResyncAfter copies in a row
// behind, restarts the expectation at that copy (counted, no loss).
#pragma once

#include <cstdint>

namespace evpnmon::collector {

class SequenceTracker {
public:
	struct Result {
		std::uint32_t lost = 0;  // copies missing just before this one
		bool reordered = false;  // behind the expected number (late or duplicate)
		bool resynced = false;   // the expectation restarted at this copy
	};
	static constexpr std::uint32_t kMaxGap = 1u << 20;
	static constexpr std::uint32_t kResyncAfter = 64;
	Result on_seq(std::uint32_t seq);

	bool started() const { return started_; }
	std::uint32_t last() const { return last_; }  // highest seen
	std::uint64_t losses() const { return losses_; }
	std::uint64_t reordered() const { return reordered_; }
	std::uint64_t resyncs() const { return resyncs_; }

private:
	bool started_ = false;
	std::uint32_t last_ = 0;
	std::uint64_t losses_ = 0;
	std::uint64_t reordered_ = 0;
	std::uint64_t resyncs_ = 0;
	std::uint32_t behind_run_ = 0;
};

} // namespace evpnmon::collector
