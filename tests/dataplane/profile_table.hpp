// The mirror-profile cases of the semantic table: data only. Profiles
// (direction, filter lines with UDFs, sampler, policer, truncation) are
// implemented by the eBPF program alone, so these cases run on the loaded
// BPF object with BPF_PROG_TEST_RUN (test_bpf.cpp); the memory backend must
// refuse every one of them (test_memory.cpp).
//
// Same switch as semantic_table.hpp. A case installs its entries, sends
// one frame `sends` times at `ingress` and expects, per output (a port or
// a VTEP), a number of copies within [min, max], each the first `length`
// octets of the frame (0 = the whole frame), plus per-entry counters.
#pragma once

#include "semantic_table.hpp"

#include <evpnmon/session/options.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace evpnmon::dp::table {

struct ProfileEntry {
	EntrySpec spec;
	std::string session;
	session::Options options; // default: no profile
};

struct CopyExpect {
	std::string port; // LocalCopy target, or "" with vtep set
	std::string vtep; // VxlanCopy to this VTEP
	std::uint64_t min = 0, max = 0;
	std::size_t length = 0; // 0 = whole frame
};

struct ProfileCounters {
	std::size_t entry;
	std::uint64_t packets;
	std::uint64_t filtered = 0;
	std::uint64_t sampled_out = 0; // exact unless sampled_any
	std::uint64_t policed = 0;
	std::uint64_t drops = 0;
	bool sampled_any = false; // sampler cases: sampled_out = sends - copies
};

struct ProfileCase {
	std::string name;
	std::vector<ProfileEntry> entries;
	std::vector<std::uint8_t> frame;
	std::string ingress = "h1";
	unsigned sends = 1;
	std::vector<CopyExpect> expect; // outputs not listed: none expected
	std::vector<ProfileCounters> counters;
};

const std::vector<ProfileCase> &profile_cases();

// Frame builders (Ethernet H1 -> H2 unless given), shared with the tests.
namespace frames {
std::vector<std::uint8_t> udp(const std::string &src_ip, const std::string &dst_ip,
			      std::uint16_t sport, std::uint16_t dport,
			      const std::vector<std::uint8_t> &payload,
			      const std::string &src_mac = "02:00:00:00:00:01",
			      const std::string &dst_mac = "02:00:00:00:00:02");
std::vector<std::uint8_t> tcp(const std::string &src_ip, const std::string &dst_ip,
			      std::uint16_t sport, std::uint16_t dport,
			      const std::vector<std::uint8_t> &options,
			      const std::vector<std::uint8_t> &payload);
// RoCEv2: UDP dport 4791, 12-octet BTH with `opcode`, then `rest`.
std::vector<std::uint8_t> rocev2(std::uint8_t opcode, const std::vector<std::uint8_t> &rest);
// EtherType 0x88b5, `len` octets in all.
std::vector<std::uint8_t> non_ip(std::size_t len);
// The frame padded with zeros to `len` octets (never shortened).
std::vector<std::uint8_t> padded(std::vector<std::uint8_t> f, std::size_t len);
} // namespace frames

} // namespace evpnmon::dp::table
