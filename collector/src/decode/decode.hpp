// Decoders for what the collector receives: GRE/ERSPAN over IPv4 (a raw
// IPPROTO_GRE socket's datagrams, IPv4 header included, or whole Ethernet
// frames from AF_PACKET), VXLAN(-GBP) UDP payloads, and the mirrored
// Ethernet frame itself. Untrusted input: every function checks lengths
// before reading, never allocates, never throws, and says why it refused.
// The bit layouts come from proto/erspan/erspan_wire.h, the one definition
// the eBPF encoder uses too.
#pragma once

#include "decode/copy.hpp"
#include "decode/frame.hpp"

#include <cstdint>
#include <optional>
#include <span>

namespace evpnmon::collector {

// Why an input was refused. The to_string() names are stable: they are
// metric labels (evpnmon_collector_decode_errors_total{reason=...}).
enum class DecodeError : std::uint8_t {
	None,
	Truncated,       // shorter than the headers it announces ("truncated")
	NotIpv4,         // outer frame/packet is not IPv4 ("not_ipv4")
	BadIpHeader,     // outer IPv4: version, IHL or total length wrong ("bad_ip_header")
	IpFragment,      // outer IPv4 fragment: not reassembled ("ip_fragment")
	NotGre,          // outer IPv4 protocol is not 47 ("not_gre")
	GreFlags,        // GRE routing/strict route/recursion/reserved bits set ("gre_flags")
	GreVersion,      // GRE version not 0 ("gre_version")
	GreProtocol,     // GRE protocol neither 0x88BE nor 0x22EB ("gre_protocol")
	ErspanVersion,   // ERSPAN Ver neither 1 (II) nor 2 (III) ("erspan_version")
	ErspanFrameType, // ERSPAN III FT not 0 (not an Ethernet frame) ("erspan_frame_type")
	NotVxlan,        // VXLAN I flag clear: no VNI ("not_vxlan")
	VxlanFlags,      // VXLAN-GPE P flag with a next protocol other than Ethernet ("vxlan_flags")
	BadEthernet,     // mirrored frame shorter than an Ethernet header ("bad_ethernet")
	BadVlan,         // more than two VLAN tags, or a tag cut ("bad_vlan")
	BadIp,           // inner IPv4/IPv6 header inconsistent ("bad_ip")
	BadTcp,          // TCP data offset < 5 or beyond the IP length, bad option length ("bad_tcp")
	BadUdp,          // UDP length < 8 or beyond the IP length ("bad_udp")
	BadBth,          // RoCEv2 BTH with TVer != 0, or UDP too short for it ("bad_bth")
	Count_
};
inline constexpr std::size_t kDecodeErrorCount = static_cast<std::size_t>(DecodeError::Count_);
const char *to_string(DecodeError);

// One IPv4 packet as a raw socket(AF_INET, SOCK_RAW, IPPROTO_GRE) delivers
// it: IPv4 header (options allowed), GRE, ERSPAN I/II/III. Octets after the
// IPv4 total length (padding) are ignored. `out` is reset first; on
// success out.frame views the mirrored Ethernet frame inside `ipv4_packet`
// (at least 14 octets).
DecodeError decode_gre_ip(std::span<const std::uint8_t> ipv4_packet, Copy &out);
// A whole Ethernet frame (AF_PACKET): Ethernet, up to two VLAN tags, then
// as decode_gre_ip.
DecodeError decode_gre_ether(std::span<const std::uint8_t> frame, Copy &out);
// A UDP payload received on the VXLAN port: the 8-octet VXLAN header (GBP
// extension when its G flag is set) and the Ethernet frame. `source` is
// the datagram's source address (the VTEP).
DecodeError decode_vxlan(std::span<const std::uint8_t> udp_payload, const IpAddr &source, Copy &out);

// The mirrored Ethernet frame, as far as its octets reach. `out` is reset
// first. Returns None when everything present is well-formed, a truncated
// copy included (layers that are missing have their has_* flag false).
// Returns an error when a header present contradicts itself; the fields
// decoded before the error stay valid (has_* flags say which). A frame
// with an error is still the mirrored frame (write it to pcapng), but
// trackers should only be fed frames that decoded with None.
DecodeError decode_frame(std::span<const std::uint8_t> frame, Frame &out);

// The packet's time at the mirroring switch, in UNIX ns, from an ERSPAN
// III timestamp (rules in docs/collector.md, "Packet times"); nullopt
// when the copy carries none that can be rebuilt: use rx_ns. rx_ns (the
// receive time, UNIX ns) resolves the wrap of a 32-bit timestamp.
std::optional<std::uint64_t> copy_time_ns(const Copy &copy, std::uint64_t rx_ns);

} // namespace evpnmon::collector
