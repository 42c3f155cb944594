// One received mirror copy, taken apart: where it came from (source VTEP,
// ERSPAN session or VNI + HOST ID), the mirroring header's fields, and the
// mirrored Ethernet frame. Views into the receive buffer: valid until the
// buffer is reused.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace evpnmon::collector {

struct IpAddr {
	bool v6 = false;
	std::array<std::uint8_t, 16> bytes{}; // network order; IPv4 in bytes[0..3]

	static IpAddr v4(std::uint32_t network_order);
	std::string to_string() const;
	auto operator<=>(const IpAddr &) const = default;
};

enum class Encap : std::uint8_t {
	ErspanI,   // GRE 0x88BE without S: the frame follows GRE
	ErspanII,  // GRE 0x88BE with S, 8-octet header
	ErspanIII, // GRE 0x22EB with S, 12-octet header [+ 8-octet platform subheader]
	VxlanGbp,  // VXLAN with the Group Policy extension (or plain VXLAN: gbp 0)
	Port,      // a frame captured as it is on the monitoring server's port
};
const char *to_string(Encap encap);

// From the mirrored port's point of view (ERSPAN III's D bit): Inbound =
// the switch received the frame on that port (D = 0), Outbound = it sent
// it (D = 1). pcapng's epb_flags direction uses the same two values.
enum class Direction : std::uint8_t { Unknown = 0, Inbound = 1, Outbound = 2 };

struct Copy {
	Encap encap = Encap::Port;
	IpAddr source;  // outer IP source: the mirroring VTEP
	IpAddr destination;

	// GRE
	bool has_seq = false;
	std::uint32_t seq = 0;

	// ERSPAN (Type II/III)
	std::uint16_t span_id = 0;   // 10 bits
	std::uint16_t vlan = 0;      // 12 bits
	std::uint8_t cos = 0;        // 3 bits
	std::uint8_t en = 0;         // II: encapsulation type
	std::uint8_t bso = 0;        // III: bad/short/oversized
	bool truncated = false;      // T
	std::uint32_t index = 0;     // II: 20-bit index; III: subheader port index when present
	// Type III
	std::uint32_t ts_low = 0;    // timestamp word, in `gra` units
	std::uint16_t sgt = 0;
	bool p = false;
	std::uint8_t ft = 0;
	std::uint8_t hw_id = 0;
	Direction direction = Direction::Unknown;
	std::uint8_t gra = 0;        // 0 100 us, 1 100 ns, 2 IEEE 1588, 3 custom
	bool has_subheader = false;  // O
	std::uint8_t platform_id = 0;
	bool has_ts_high = false;    // platform IDs 3 and 7: upper 32 timestamp bits
	std::uint32_t ts_high = 0;

	// VXLAN
	std::uint32_t vni = 0;
	bool has_gbp = false;
	std::uint16_t gbp = 0;       // Group Policy ID = the HOST ID

	std::span<const std::uint8_t> frame; // the mirrored Ethernet frame
};

} // namespace evpnmon::collector
