// FPM v1 framing over a TCP byte stream:
//   1 byte version (1) | 1 byte type (1 = netlink) | 2 bytes BE length incl.
//   the 4-byte header | payload (one or more netlink messages).
// The framer only cuts the stream into frames. A header that cannot be a
// frame (wrong version, length < 4) means the framing itself is lost: the
// caller must reset the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace evpnmon::consumer::fpm {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::uint8_t kTypeNetlink = 1;
inline constexpr std::size_t kHeaderLen = 4;

struct Frame {
	std::uint8_t type = 0;
	std::span<const std::uint8_t> payload; // valid until the next feed()/next()
};

class Framer {
public:
	enum class Status { Frame, NeedMore, Lost };

	void feed(std::span<const std::uint8_t> bytes);
	// Extract the next complete frame. After Lost the framer stays lost until
	// reset().
	Status next(Frame &frame);
	void reset();
	std::size_t buffered() const { return buf_.size() - pos_; }

private:
	std::vector<std::uint8_t> buf_;
	std::size_t pos_ = 0;
	bool lost_ = false;
};

} // namespace evpnmon::consumer::fpm
