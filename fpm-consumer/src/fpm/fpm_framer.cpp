#include "fpm/fpm_framer.hpp"

namespace evpnmon::consumer::fpm {

void Framer::feed(std::span<const std::uint8_t> bytes)
{
	// Compact consumed bytes before growing.
	if (pos_ > 0 && (pos_ == buf_.size() || pos_ > 65536)) {
		buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
		pos_ = 0;
	}
	buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

Framer::Status Framer::next(Frame &frame)
{
	if (lost_)
		return Status::Lost;
	const std::size_t avail = buf_.size() - pos_;
	if (avail < kHeaderLen)
		return Status::NeedMore;
	const std::uint8_t *h = buf_.data() + pos_;
	const std::size_t len = (std::size_t{h[2]} << 8) | h[3];
	if (h[0] != kVersion || len < kHeaderLen) {
		lost_ = true;
		return Status::Lost;
	}
	if (avail < len)
		return Status::NeedMore;
	frame.type = h[1];
	frame.payload = {h + kHeaderLen, len - kHeaderLen};
	pos_ += len;
	return Status::Frame;
}

void Framer::reset()
{
	buf_.clear();
	pos_ = 0;
	lost_ = false;
}

} // namespace evpnmon::consumer::fpm
