// pcapng block encoding (draft-ietf-opsawg-pcapng): Section Header,
// Interface Description, Enhanced Packet and Interface Statistics blocks
// with the options the collector uses. Host byte order (the SHB's
// byte-order magic tells readers which). The EPB encoder writes into a
// caller's buffer so the per-packet path never allocates.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace evpnmon::collector::pcapng {

inline constexpr std::uint32_t block_shb = 0x0A0D0D0A;
inline constexpr std::uint32_t block_idb = 0x00000001;
inline constexpr std::uint32_t block_isb = 0x00000005;
inline constexpr std::uint32_t block_epb = 0x00000006;
inline constexpr std::uint32_t byte_order_magic = 0x1A2B3C4D;

inline constexpr std::uint16_t opt_endofopt = 0;
inline constexpr std::uint16_t opt_comment = 1;
inline constexpr std::uint16_t shb_hardware = 2, shb_os = 3, shb_userappl = 4;
inline constexpr std::uint16_t if_name = 2, if_description = 3, if_tsresol = 9;
inline constexpr std::uint16_t epb_flags = 2, epb_dropcount = 4;
inline constexpr std::uint16_t isb_starttime = 2, isb_endtime = 3, isb_ifrecv = 4,
	isb_ifdrop = 5, isb_osdrop = 7;

inline constexpr std::uint16_t linktype_ethernet = 1;

struct ShbFields {
	std::string_view hardware, os, userappl;
};

struct IdbFields {
	std::uint16_t linktype = linktype_ethernet;
	std::uint32_t snaplen = 0; // 0: no limit
	std::string_view name, description;
	std::uint8_t tsresol = 9;  // 10^-9 s: nanoseconds
};

struct EpbFields {
	std::uint32_t interface_id = 0;
	std::uint64_t ts = 0;          // in the interface's if_tsresol units
	std::uint32_t original_len = 0; // raised to data.size() if smaller
	std::span<const std::uint8_t> data;
	std::uint32_t flags = 0;       // epb_flags, 0: option left out
	std::uint64_t dropcount = 0;   // epb_dropcount, 0: option left out
	std::string_view comment;      // opt_comment, empty: left out
};

struct IsbFields {
	std::uint32_t interface_id = 0;
	std::uint64_t ts = 0; // when the statistics were taken
	bool has_times = false;
	std::uint64_t starttime = 0, endtime = 0;
	std::uint64_t ifrecv = 0, ifdrop = 0, osdrop = 0;
};

// Octets encode_epb() will write for `f` (multiple of 4).
std::size_t epb_size(const EpbFields &f);
// Writes the EPB at `out` (epb_size(f) octets available), returns its size.
std::size_t encode_epb(std::uint8_t *out, const EpbFields &f);

void append_shb(std::vector<std::uint8_t> &out, const ShbFields &f);
void append_idb(std::vector<std::uint8_t> &out, const IdbFields &f);
void append_isb(std::vector<std::uint8_t> &out, const IsbFields &f);

} // namespace evpnmon::collector::pcapng
