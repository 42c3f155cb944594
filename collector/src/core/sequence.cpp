#include "core/sequence.hpp"

namespace evpnmon::collector {

SequenceTracker::Result SequenceTracker::on_seq(std::uint32_t seq)
{
	Result r;
	if (!started_) {
		// Nothing is known before a source's first copy: no loss.
		started_ = true;
		last_ = seq;
		return r;
	}
	const std::uint32_t expected = last_ + 1;
	const std::uint32_t ahead = seq - expected; // mod 2^32
	if (ahead < 0x80000000u) {
		behind_run_ = 0;
		if (ahead > kMaxGap) {
			r.resynced = true;
			++resyncs_;
		} else {
			r.lost = ahead;
			losses_ += ahead;
		}
		last_ = seq;
		return r;
	}
	if (++behind_run_ >= kResyncAfter) {
		behind_run_ = 0;
		r.resynced = true;
		++resyncs_;
		last_ = seq;
		return r;
	}
	r.reordered = true;
	++reordered_;
	return r;
}

} // namespace evpnmon::collector
