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
		r.lost = ahead;
		losses_ += ahead;
		last_ = seq;
	} else {
		r.reordered = true;
		++reordered_;
	}
	return r;
}

} // namespace evpnmon::collector
