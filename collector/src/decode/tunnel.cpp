// Copies as they arrive: IPv4 + GRE + ERSPAN I/II/III, and VXLAN(-GBP).
// The bit layouts are proto/erspan/erspan_wire.h's, the encoder's own.
#include "decode/bytes.hpp"
#include "decode/decode.hpp"

#include "erspan_wire.h"

#include <cstring>

namespace evpnmon::collector {

namespace {

using wire::be16;
using wire::be32;

constexpr std::size_t kEthernetHeader = 14;
constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint8_t kIpProtoGre = 47;

bool is_vlan_tpid(std::uint16_t t)
{
	return t == 0x8100 || t == 0x88a8 || t == 0x9100;
}

IpAddr ipv4_at(std::span<const std::uint8_t> b, std::size_t at)
{
	std::uint32_t a;
	std::memcpy(&a, b.data() + at, 4);
	return IpAddr::v4(a);
}

// The mirrored frame must at least hold an Ethernet header: anything less
// cannot be written as an Ethernet packet nor attributed to a host.
DecodeError set_frame(std::span<const std::uint8_t> frame, Copy &out)
{
	if (frame.size() < kEthernetHeader)
		return DecodeError::Truncated;
	out.frame = frame;
	return DecodeError::None;
}

// Word 0 has one layout in both types; bits 12:11 are En in II, BSO in III.
std::uint8_t read_word0(std::uint32_t w0, Copy &out)
{
	out.vlan = static_cast<std::uint16_t>(erspan_w0_vlan(w0));
	out.cos = static_cast<std::uint8_t>(erspan_w0_cos(w0));
	out.truncated = erspan_w0_t(w0) != 0;
	out.span_id = static_cast<std::uint16_t>(erspan_w0_session(w0));
	return static_cast<std::uint8_t>(erspan_w0_en_bso(w0));
}

DecodeError decode_erspan_ii(std::span<const std::uint8_t> p, Copy &out)
{
	if (p.size() < ERSPAN_II_HLEN)
		return DecodeError::Truncated;
	const std::uint32_t w0 = be32(p, 0), w1 = be32(p, 4);
	out.encap = Encap::ErspanII;
	out.en = read_word0(w0, out);
	out.index = erspan_ii_w1_index(w1);
	return set_frame(p.subspan(ERSPAN_II_HLEN), out);
}

DecodeError decode_erspan_iii(std::span<const std::uint8_t> p, Copy &out)
{
	if (p.size() < ERSPAN_III_HLEN)
		return DecodeError::Truncated;
	const std::uint32_t w0 = be32(p, 0), w2 = be32(p, 8);
	out.encap = Encap::ErspanIII;
	out.bso = read_word0(w0, out);
	out.ts_low = be32(p, 4);
	out.sgt = static_cast<std::uint16_t>(erspan_iii_w2_sgt(w2));
	out.p = erspan_iii_w2_p(w2) != 0;
	out.ft = static_cast<std::uint8_t>(erspan_iii_w2_ft(w2));
	out.hw_id = static_cast<std::uint8_t>(erspan_iii_w2_hw_id(w2));
	out.direction = erspan_iii_w2_d(w2) ? Direction::Outbound : Direction::Inbound;
	out.gra = static_cast<std::uint8_t>(erspan_iii_w2_gra(w2));
	out.has_subheader = erspan_iii_w2_o(w2) != 0;
	std::size_t hlen = ERSPAN_III_HLEN;
	if (out.has_subheader) {
		hlen += ERSPAN_III_SUB_HLEN;
		if (p.size() < hlen)
			return DecodeError::Truncated;
		const std::uint32_t s0 = be32(p, 12);
		out.platform_id = static_cast<std::uint8_t>(erspan_sub_w0_platform(s0));
		if (erspan_platform_has_ts_high(out.platform_id)) {
			out.has_ts_high = true;
			out.ts_high = be32(p, 16);
		}
		if (out.platform_id == ERSPAN_PLATFORM_TS_HIGH)
			out.index = s0 & ERSPAN_PLAT3_PORT_MASK;
	}
	// Only Ethernet frames go into the Ethernet pcapng interfaces and
	// the frame decoder; FT 2 (IP) and others are refused, counted.
	if (out.ft != ERSPAN_FT_ETHERNET)
		return DecodeError::ErspanFrameType;
	return set_frame(p.subspan(hlen), out);
}

// GRE and what follows it; out.source/destination already set.
DecodeError decode_gre(std::span<const std::uint8_t> g, Copy &out)
{
	if (g.size() < GRE_BASE_HLEN)
		return DecodeError::Truncated;
	const std::uint32_t flags = be16(g, 0);
	const std::uint32_t proto = be16(g, 2);
	if (gre_version(flags) != 0)
		return DecodeError::GreVersion;
	if (gre_flags_refused(flags))
		return DecodeError::GreFlags;
	if (proto != GRE_PROTO_ERSPAN_II && proto != GRE_PROTO_ERSPAN_III)
		return DecodeError::GreProtocol;
	const std::size_t hlen = gre_hlen(flags);
	if (g.size() < hlen)
		return DecodeError::Truncated;
	if (flags & GRE_FLAG_S) {
		out.has_seq = true;
		out.seq = be32(g, gre_seq_offset(flags));
	}
	const auto p = g.subspan(hlen);
	// 0x88BE without a sequence number is type I (as Wireshark decides):
	// no ERSPAN header, the frame follows GRE.
	if (proto == GRE_PROTO_ERSPAN_II && !out.has_seq) {
		out.encap = Encap::ErspanI;
		return set_frame(p, out);
	}
	// Otherwise the header's own version decides: senders may carry a
	// type III header under 0x88BE (the GRE protocol is configurable).
	if (p.size() < 4)
		return DecodeError::Truncated;
	switch (erspan_w0_ver(be32(p, 0))) {
	case ERSPAN_VER_II:
		return decode_erspan_ii(p, out);
	case ERSPAN_VER_III:
		return decode_erspan_iii(p, out);
	default:
		return DecodeError::ErspanVersion;
	}
}

} // namespace

DecodeError decode_gre_ip(std::span<const std::uint8_t> pkt, Copy &out)
{
	out = Copy{};
	if (pkt.size() < 20)
		return DecodeError::Truncated;
	if (pkt[0] >> 4 != 4)
		return DecodeError::NotIpv4;
	const std::size_t ihl = std::size_t{pkt[0] & 0x0fu} * 4;
	const std::size_t total = be16(pkt, 2);
	if (ihl < 20 || total < ihl)
		return DecodeError::BadIpHeader;
	if (pkt.size() < total)
		return DecodeError::Truncated;
	pkt = pkt.first(total); // Ethernet padding is not GRE payload
	// More fragments, or an offset: reassembly is not attempted.
	if (be16(pkt, 6) & 0x3fff)
		return DecodeError::IpFragment;
	out.source = ipv4_at(pkt, 12);
	out.destination = ipv4_at(pkt, 16);
	if (pkt[9] != kIpProtoGre)
		return DecodeError::NotGre;
	return decode_gre(pkt.subspan(ihl), out);
}

DecodeError decode_gre_ether(std::span<const std::uint8_t> frame, Copy &out)
{
	out = Copy{};
	if (frame.size() < kEthernetHeader)
		return DecodeError::Truncated;
	std::size_t off = 12;
	std::uint16_t type = be16(frame, off);
	for (int tags = 0; tags < 2 && is_vlan_tpid(type); ++tags) {
		off += 4;
		if (frame.size() < off + 2)
			return DecodeError::Truncated;
		type = be16(frame, off);
	}
	if (type != kEtherIpv4)
		return DecodeError::NotIpv4;
	return decode_gre_ip(frame.subspan(off + 2), out);
}

DecodeError decode_vxlan(std::span<const std::uint8_t> udp, const IpAddr &source, Copy &out)
{
	out = Copy{};
	out.encap = Encap::VxlanGbp;
	out.source = source;
	if (udp.size() < 8)
		return DecodeError::Truncated;
	const std::uint8_t flags = udp[0];
	constexpr std::uint8_t kG = 0x80, kI = 0x08, kGpeP = 0x04;
	constexpr std::uint8_t kGpeEthernet = 3;
	if (!(flags & kI))
		return DecodeError::NotVxlan;
	// VXLAN-GPE (P flag; GBP reuses none of these bits) may carry IP or
	// NSH instead of Ethernet: only Ethernet is taken.
	if (!(flags & kG) && (flags & kGpeP) && udp[3] != kGpeEthernet)
		return DecodeError::VxlanFlags;
	out.vni = wire::be24(udp, 4);
	if (flags & kG) {
		out.has_gbp = true;
		out.gbp = be16(udp, 2);
	}
	return set_frame(udp.subspan(8), out);
}

namespace {

// The full value whose low 32 bits are `low` (in `unit` ns) nearest to
// rx_ns: the sender's clock and ours agree to well within half a wrap
// (214 s for 100 ns units, 2.5 days for 100 us).
std::optional<std::uint64_t> nearest_wrap(std::uint32_t low, std::uint64_t rx_ns,
					  std::uint64_t unit)
{
	constexpr std::uint64_t kWrap = std::uint64_t{1} << 32;
	const std::uint64_t rx = rx_ns / unit;
	std::uint64_t c = (rx & ~(kWrap - 1)) | low;
	if (c > rx && c - rx > kWrap / 2 && c >= kWrap)
		c -= kWrap;
	else if (c < rx && rx - c > kWrap / 2)
		c += kWrap;
	if (c > UINT64_MAX / unit)
		return std::nullopt;
	return c * unit;
}

} // namespace

std::optional<std::uint64_t> copy_time_ns(const Copy &copy, std::uint64_t rx_ns)
{
	if (copy.encap != Encap::ErspanIII)
		return std::nullopt;
	switch (copy.gra) {
	case ERSPAN_GRA_100NS:
		if (copy.has_ts_high) {
			const std::uint64_t v = std::uint64_t{copy.ts_high} << 32 | copy.ts_low;
			if (v > UINT64_MAX / 100)
				return std::nullopt;
			return v * 100;
		}
		return nearest_wrap(copy.ts_low, rx_ns, 100);
	case ERSPAN_GRA_100US:
		return nearest_wrap(copy.ts_low, rx_ns, 100'000);
	case ERSPAN_GRA_1588:
		// Upper word seconds, base nanoseconds (taken as UNIX time).
		if (copy.has_ts_high && copy.ts_low < 1'000'000'000u)
			return std::uint64_t{copy.ts_high} * 1'000'000'000u + copy.ts_low;
		return std::nullopt;
	default:
		return std::nullopt;
	}
}

} // namespace evpnmon::collector
