// The mirrored Ethernet frame taken apart as far as it goes: L2 (one or
// two VLAN tags), IPv4/IPv6, TCP/UDP, and the RoCEv2 BTH (+ AETH). A
// truncated copy decodes as far as its octets reach; what is missing is
// flagged, never guessed.
#pragma once

#include "decode/copy.hpp"

#include <array>
#include <cstdint>
#include <span>

namespace evpnmon::collector {

struct TcpSegment {
	std::uint8_t flags = 0; // FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80
	std::uint32_t seq = 0, ack = 0;
	std::uint16_t window = 0;
	bool options_complete = false; // all option octets were in the copy
	std::uint16_t mss = 0;         // 0: absent
	std::int8_t window_scale = -1; // -1: absent
	bool sack_permitted = false;
	bool timestamps = false;
	std::uint32_t payload_len = 0; // from the IP length: right for truncated copies too
};

struct Bth {
	std::uint8_t opcode = 0;
	std::uint32_t dest_qp = 0; // 24 bits
	std::uint32_t psn = 0;     // 24 bits
	bool has_aeth = false;     // opcode 0x11 (RC ACK) and the AETH was in the copy
	std::uint8_t syndrome = 0;
	std::uint32_t msn = 0;
};

struct Frame {
	std::array<std::uint8_t, 6> dst_mac{}, src_mac{};
	std::uint16_t vlan = 0;     // outermost VLAN ID, 0: untagged
	std::uint16_t ethertype = 0; // after the VLAN tags
	bool has_ip = false;
	IpAddr src_ip, dst_ip;
	std::uint8_t ip_proto = 0;
	std::uint32_t ip_len = 0;   // IP total length from the header (original size)
	bool has_ports = false;     // TCP or UDP ports were in the copy
	std::uint16_t sport = 0, dport = 0;
	bool has_tcp = false;       // the fixed TCP header was in the copy
	TcpSegment tcp;
	bool has_bth = false;       // UDP to 4791 with a whole BTH
	Bth bth;
	std::uint32_t captured_len = 0;
	std::uint32_t original_len = 0; // L2 header + ip_len when known, else captured_len
};

} // namespace evpnmon::collector
