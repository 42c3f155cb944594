#include "frame.hpp"

#include <algorithm>

namespace evpnmon::dp {

std::optional<FrameHeaders> parse_frame(std::span<const std::uint8_t> f)
{
	if (f.size() < 14)
		return std::nullopt;
	FrameHeaders h;
	std::copy_n(f.begin(), 6, h.dst.begin());
	std::copy_n(f.begin() + 6, 6, h.src.begin());
	std::size_t off = 12;
	auto proto = static_cast<std::uint16_t>(f[off] << 8 | f[off + 1]);
	off += 2;
	if (proto == 0x8100 || proto == 0x88a8) { // one VLAN tag, as the BPF
		if (f.size() < off + 4)
			return h;
		proto = static_cast<std::uint16_t>(f[off + 2] << 8 | f[off + 3]);
		off += 4;
	}
	if (proto == 0x0800 && f.size() >= off + 20) {
		IpAddr s, d;
		std::copy_n(f.begin() + off + 12, 4, s.bytes.begin());
		std::copy_n(f.begin() + off + 16, 4, d.bytes.begin());
		h.src_ip = s;
		h.dst_ip = d;
	} else if (proto == 0x86dd && f.size() >= off + 40) {
		IpAddr s, d;
		s.family = d.family = IpAddr::Family::V6;
		std::copy_n(f.begin() + off + 8, 16, s.bytes.begin());
		std::copy_n(f.begin() + off + 24, 16, d.bytes.begin());
		h.src_ip = s;
		h.dst_ip = d;
	}
	return h;
}

} // namespace evpnmon::dp
