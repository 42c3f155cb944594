// fpm-consumer command line.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace evpnmon::consumer {

struct L2VniOption {
	std::string bridge;
	std::string vxlan_device; // name, or "@<ifindex>" (memory backend / replay)
	std::uint32_t vni = 0;
};

// = dp::kDefaultMaxEntries and dp::kMaxEntriesLimit (this library does not
// depend on the dataplane's; the daemon checks they agree).
inline constexpr std::uint32_t kDefaultDpMaxEntries = 262144;
inline constexpr std::uint32_t kDpMaxEntriesLimit = 1u << 24;
// = dp::kDefaultMaxProfiles and dp::kMaxProfilesLimit.
inline constexpr std::uint32_t kDefaultDpMaxProfiles = 16384;
inline constexpr std::uint32_t kDpMaxProfilesLimit = 1u << 20;

// = dp::kDefaultMirrorCeilingBps (1 Gbit/s of copies per VTEP).
inline constexpr std::uint64_t kDefaultMirrorCeilingBps = 1'000'000'000;
inline constexpr std::uint64_t kMaxMirrorCeilingBps = 1'000'000'000'000; // 1 Tbit/s
// A burst must hold the largest copy: one GRO/GSO aggregate (64 KiB of IP
// plus its Ethernet/VLAN headers, a little over 64 KiB; = the dataplane's
// kMirrorCeilingBurstFloor). The dataplane's bucket holds at most 2^31 octets.
inline constexpr std::uint64_t kMinMirrorCeilingBurst = 131072;
inline constexpr std::uint64_t kMaxMirrorCeilingBurst = 1ull << 31;
// = dp::kDefaultMirrorCeilingPps, dp::kMaxMirrorCeilingPps and
// dp::kMaxMirrorCeilingPacketBurst.
inline constexpr std::uint64_t kDefaultMirrorCeilingPps = 20'000;
inline constexpr std::uint64_t kMaxMirrorCeilingPps = 1'000'000'000;
inline constexpr std::uint64_t kMaxMirrorCeilingPacketBurst = 1ull << 24;
// = kDefaultAuditHistory / kMaxAuditHistory (core/audit.hpp).
inline constexpr std::size_t kDefaultAuditHistoryOption = 1000;
inline constexpr std::size_t kMaxAuditHistoryOption = 100000;

// "20m", "1g", "500000", "1.5g": bits per second (k/m/g = 10^3/10^6/10^9,
// case-insensitive; "0" and "off" = 0). nullopt: not a rate.
std::optional<std::uint64_t> parse_bit_rate(const std::string &text);
// "65536", "64k", "1m": octets (k/m/g = 2^10/2^20/2^30). nullopt: not a size.
std::optional<std::uint64_t> parse_byte_size(const std::string &text);

struct Options {
	std::string fpm_address = "127.0.0.1";
	std::uint16_t fpm_port = 2620;
	// the bgpd module binds next to zebra's API socket (Debian: /var/run/frr)
	std::string feed_endpoint = "ipc:///var/run/frr/evpnmon-feed.sock";
	std::vector<L2VniOption> l2vnis;
	std::string backend = "linux";
	std::string local_vtep;                   // IPv4: source of VXLAN copies
	std::string mirror_device = "evpnmon0";
	std::uint16_t mirror_udp_port = 4790;
	std::string bpf_pin_dir = "/sys/fs/bpf/evpnmon";
	// linux backend: how TC programs attach (dp::TcHook by name).
	std::string tc_hook = "auto";
	std::string log_level = "info";
	std::string state_socket = "/run/evpn-monitor/fpm-consumer.sock";
	std::chrono::milliseconds feed_hold{10000};
	std::chrono::milliseconds fpm_resync{5000};
	std::chrono::milliseconds startup_grace{10000};
	std::chrono::milliseconds audit_interval{60000};
	// The most of the daemon's time audits may take, in percent: the next
	// audit starts at least d * 100 / audit_max_load after the start of one
	// that cost d, if that is longer than audit_interval. 0: audit_interval
	// alone.
	double audit_max_load = 0.5;
	// Sessions the audit's check decides per turn of the event loop (its
	// re-read and its repair: twice as many entries).
	std::size_t audit_part = 4096;
	bool kernel_fdb = true;
	bool require_vtep_route = true;
	bool cleanup_on_exit = false;
	// Prometheus metrics endpoint (HTTP GET /metrics): off when empty.
	// Loopback only unless metrics_any_address (the metrics name the
	// monitored hosts and servers).
	std::string metrics_listen; // ADDR:PORT, IPv6 as [ADDR]:PORT
	bool metrics_any_address = false;
	// ERSPAN type III: this VTEP's HW ID (0..63) in every copy it sends.
	std::uint8_t erspan_hw_id = 0;
	// Dataplane capacity: installed entries of all kinds (dp::Config).
	std::uint32_t dp_max_entries = kDefaultDpMaxEntries;
	// Profile slots (dp::Config): sessions with a profile or a collector, + 1.
	std::uint32_t dp_max_profiles = kDefaultDpMaxProfiles;
	// The mirror ceiling (dp::Config): bits/s of copies this VTEP emits, 0
	// = off; its bucket in octets, 0 = the dataplane's default.
	std::uint64_t mirror_ceiling_bps = kDefaultMirrorCeilingBps;
	std::uint64_t mirror_ceiling_burst = 0;
	// Its packet rate: copies/s, 0 = no packet limit; its packet bucket in
	// copies, 0 = the dataplane's default.
	std::uint64_t mirror_ceiling_pps = kDefaultMirrorCeilingPps;
	std::uint64_t mirror_ceiling_packet_burst = 0;
	// Audit events kept for `evpnmon-ctl history` (0: none kept).
	std::size_t audit_history = kDefaultAuditHistoryOption;
	// Options read from this file (--config), if any.
	std::string config_file;
};

// Parses argv; exits the process on --help or a usage error (CLI11).
Options parse_options(int argc, char **argv);
// The same, but a usage error is thrown (CLI::ParseError, or a
// CLI::Success for --help/--version) instead of exiting: for tests.
Options parse_options_or_throw(int argc, const char *const *argv);

} // namespace evpnmon::consumer
