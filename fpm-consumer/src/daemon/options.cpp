#include "daemon/options.hpp"

#include "daemon/listen_address.hpp"

#include <evpnmon/dataplane/dataplane.hpp>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

namespace evpnmon::consumer {

namespace {
L2VniOption parse_l2vni(const std::string &text)
{
	const auto a = text.find(':');
	const auto b = text.find(':', a == std::string::npos ? a : a + 1);
	if (a == std::string::npos || b == std::string::npos)
		throw CLI::ValidationError("--l2vni", "expected BRIDGE:VXLANDEV:VNI, got '" + text + "'");
	L2VniOption o;
	o.bridge = text.substr(0, a);
	o.vxlan_device = text.substr(a + 1, b - a - 1);
	try {
		const unsigned long vni = std::stoul(text.substr(b + 1));
		if (vni == 0 || vni > 0xFFFFFF)
			throw std::out_of_range("vni");
		o.vni = static_cast<std::uint32_t>(vni);
	} catch (const std::exception &) {
		throw CLI::ValidationError("--l2vni", "VNI must be 1..16777215 in '" + text + "'");
	}
	if (o.bridge.empty() || o.vxlan_device.empty())
		throw CLI::ValidationError("--l2vni", "empty bridge or VXLAN device in '" + text + "'");
	return o;
}
} // namespace

std::optional<std::uint64_t> parse_bit_rate(const std::string &text)
{
	return dp::parse_bit_rate(text);
}

std::optional<std::uint64_t> parse_byte_size(const std::string &text)
{
	return dp::parse_byte_size(text);
}

namespace {
Options parse(int argc, const char *const *argv, bool exit_on_error)
{
	Options o;
	CLI::App app{"fpm-consumer: fuses zebra's FPM stream, local MAC learning and bgpd's "
		     "monitor sessions into the dataplane's mirror/decap entries"};
	app.set_version_flag("--version", "fpm-consumer 0.1.0");
	std::vector<std::string> l2vnis;
	long long feed_hold = 10, fpm_resync = 5, grace = 10, audit = 60;
	app.add_option("--fpm-address", o.fpm_address, "address to listen on for zebra's FPM client")
		->capture_default_str()->check(CLI::ValidIPV4);
	app.add_option("--fpm-port", o.fpm_port, "FPM TCP port (0 = ephemeral, for tests)")
		->capture_default_str();
	app.add_option("--feed", o.feed_endpoint, "bgpd monitor-session feed (ZeroMQ endpoint)")
		->capture_default_str();
	app.add_option("--l2vni", l2vnis,
		       "BRIDGE:VXLANDEV:VNI, repeatable; VXLANDEV may be @IFINDEX")
		->required();
	app.add_option("--backend", o.backend, "dataplane backend")
		->check(CLI::IsMember({"linux", "memory"}))->capture_default_str();
	app.add_option("--local-vtep", o.local_vtep, "this VTEP's IPv4 (source of VXLAN copies)")
		->check(CLI::ValidIPV4);
	app.add_option("--mirror-device", o.mirror_device, "`vxlan external gbp` mirror device")
		->capture_default_str();
	app.add_option("--mirror-port", o.mirror_udp_port, "UDP port of the mirror device")
		->capture_default_str();
	app.add_option("--bpf-pin-dir", o.bpf_pin_dir, "linux backend: bpffs directory of pinned maps")
		->capture_default_str();
	app.add_option("--tc-hook", o.tc_hook,
		       "linux backend: attach the TC programs with tcx links (Linux 6.6+) or "
		       "clsact filters; auto = tcx where the kernel has it")
		->capture_default_str()->check(CLI::IsMember({"auto", "tcx", "clsact"}));
	app.add_option("--log-level", o.log_level, "error|warn|info|debug")
		->check(CLI::IsMember({"error", "warn", "info", "debug"}))->capture_default_str();
	app.add_option("--state-socket", o.state_socket, "unix socket for evpnmon-ctl")
		->capture_default_str();
	app.add_option("--feed-hold-time", feed_hold,
		       "seconds without any feed message before sessions are withdrawn")
		->capture_default_str()->check(CLI::Range(1, 3600));
	app.add_option("--fpm-resync-time", fpm_resync,
		       "seconds after an FPM (re)connection before stale FPM state is swept")
		->capture_default_str()->check(CLI::Range(0, 600));
	app.add_option("--startup-grace", grace,
		       "seconds to wait for a first FPM connection before deciding without it")
		->capture_default_str()->check(CLI::Range(0, 600));
	app.add_option("--audit-interval", audit, "seconds between re-reads of the dataplane")
		->capture_default_str()->check(CLI::Range(1, 86400));
	app.add_option("--audit-max-load", o.audit_max_load,
		       "percent of the time audits may take: after an audit that cost d, the next "
		       "starts at least d * 100 / PERCENT after it started (0: --audit-interval alone)")
		->capture_default_str()->check(CLI::Range(0.0, 100.0));
	app.add_option("--audit-part", o.audit_part,
		       "sessions the audit's check decides per turn of the event loop, and twice as "
		       "many entries its re-read reads and its repair compares and diffs (events are "
		       "handled between the parts)")
		->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
	bool no_kernel_fdb = false, no_route_check = false;
	app.add_flag("--no-kernel-fdb", no_kernel_fdb,
		     "do not read remote MACs from the kernel FDB (FPM only)");
	app.add_flag("--no-vtep-route-check", no_route_check,
		     "encapsulate towards a server VTEP even without an FPM route to it");
	app.add_flag("--cleanup-on-exit", o.cleanup_on_exit,
		     "remove dataplane programs/entries on exit (default: keep them, so a "
		     "restart reconciles without interrupting mirroring)");
	app.add_option("--metrics", o.metrics_listen,
		       "serve Prometheus metrics (HTTP GET /metrics) on ADDR:PORT, IPv6 as "
		       "[ADDR]:PORT; default: off");
	app.add_flag("--metrics-any-address", o.metrics_any_address,
		     "allow --metrics on a non-loopback address (the metrics name the monitored "
		     "hosts and servers)");
	unsigned erspan_hw_id = 0;
	app.add_option("--erspan-hw-id", erspan_hw_id,
		       "ERSPAN type III HW ID of this VTEP (0..63), in every copy it sends to a "
		       "collector")
		->capture_default_str()->check(CLI::Range(0, 63));
	app.add_option("--dp-max-entries", o.dp_max_entries,
		       "dataplane capacity: installed entries of all kinds (a session needs an "
		       "entry 1 and 2 on each VTEP of its VNI); beyond it installs fail and are "
		       "retried")
		->capture_default_str()->check(CLI::Range(1u, kDpMaxEntriesLimit));
	app.add_option("--dp-max-profiles", o.dp_max_profiles,
		       "dataplane profile slots (linux backend): one per session with a mirror "
		       "profile or an ERSPAN collector, slot 0 unused")
		->capture_default_str()->check(CLI::Range(2u, kDpMaxProfilesLimit));
	std::string mirror_ceiling = "1g", mirror_ceiling_burst = "0";
	app.add_option("--mirror-ceiling", mirror_ceiling,
		       "the mirror ceiling: at most RATE bits/s of copies leave this VTEP, all "
		       "sessions together (k/m/g suffixes, e.g. 20m); 0 or off = no bit limit "
		       "(the packet rate stays: --mirror-ceiling-packets off too for no ceiling)")
		->capture_default_str();
	app.add_option("--mirror-ceiling-burst", mirror_ceiling_burst,
		       "the ceiling's bucket in octets (k/m/g = KiB/MiB/GiB; 131072..2147483648); "
		       "0 = 10 ms at the rate, at least 128 KiB")
		->capture_default_str();
	std::string mirror_ceiling_packets = "20k";
	app.add_option("--mirror-ceiling-packets", mirror_ceiling_packets,
		       "the mirror ceiling's packet rate: at most RATE copies/s leave this VTEP, "
		       "all sessions together, whatever their size (k/m/g suffixes, e.g. 2k); "
		       "0 or off = no packet limit")
		->capture_default_str();
	app.add_option("--mirror-ceiling-packet-burst", o.mirror_ceiling_packet_burst,
		       "the packet bucket in copies (1..16777216); 0 = 10 ms at the rate, at "
		       "least 64")
		->capture_default_str()->check(CLI::Range(std::uint64_t{0}, kMaxMirrorCeilingPacketBurst));
	app.add_option("--audit-history", o.audit_history,
		       "audit events kept for `evpnmon-ctl history` (0..100000; every event is "
		       "logged anyway)")
		->capture_default_str()->check(CLI::Range(std::size_t{0}, kMaxAuditHistoryOption));
	// Every long option is also a key of the file (TOML/INI: `erspan-hw-id
	// = 5`, `l2vni = ["br100:vxlan100:100"]`); the command line wins.
	app.set_config("--config", "", "read options from FILE (KEY = VALUE, the long option "
				       "names without --); the command line overrides it");
	// A misspelt key must not be ignored silently.
	app.allow_config_extras(CLI::config_extras_mode::error);
	try {
		app.parse(argc, argv);
		for (const auto &t : l2vnis)
			o.l2vnis.push_back(parse_l2vni(t));
		if (!o.metrics_listen.empty()) {
			const auto a = parse_listen_address(o.metrics_listen);
			if (!a)
				throw CLI::ValidationError("--metrics", "expected ADDR:PORT or [ADDR]:PORT "
								       "(numeric address), got '" +
									       o.metrics_listen + "'");
			if (!a->loopback() && !o.metrics_any_address)
				throw CLI::ValidationError(
					"--metrics", "'" + o.metrics_listen +
							     "' is not a loopback address: the metrics name "
							     "the monitored hosts; add --metrics-any-address "
							     "to serve them there anyway");
		} else if (o.metrics_any_address) {
			throw CLI::ValidationError("--metrics-any-address", "needs --metrics");
		}
		const auto rate = parse_bit_rate(mirror_ceiling);
		if (!rate || (*rate != 0 && *rate < 1000) || *rate > kMaxMirrorCeilingBps)
			throw CLI::ValidationError(
				"--mirror-ceiling", "expected bits/s from 1k to 1000g (k/m/g "
						    "suffixes), or 0 / off, got '" +
							    mirror_ceiling + "'");
		o.mirror_ceiling_bps = *rate;
		const auto burst = parse_byte_size(mirror_ceiling_burst);
		if (!burst || (*burst != 0 && *burst < kMinMirrorCeilingBurst) ||
		    *burst > kMaxMirrorCeilingBurst)
			throw CLI::ValidationError(
				"--mirror-ceiling-burst",
				"expected 0 (the default) or 131072..2147483648 octets (a bucket "
				"smaller than one GSO copy, 64 KiB and its headers, would never "
				"pass it), got '" +
					mirror_ceiling_burst + "'");
		o.mirror_ceiling_burst = *burst;
		const auto pps = dp::parse_packet_rate(mirror_ceiling_packets);
		if (!pps || *pps > kMaxMirrorCeilingPps)
			throw CLI::ValidationError(
				"--mirror-ceiling-packets",
				"expected copies/s from 1 to 1g (k/m/g suffixes), or 0 / off, got '" +
					mirror_ceiling_packets + "'");
		o.mirror_ceiling_pps = *pps;
	} catch (const CLI::ParseError &e) {
		if (!exit_on_error)
			throw;
		std::exit(app.exit(e));
	}
	o.erspan_hw_id = static_cast<std::uint8_t>(erspan_hw_id);
	if (const auto *cfg = app.get_config_ptr(); cfg && cfg->count() > 0)
		o.config_file = cfg->as<std::string>();
	o.feed_hold = std::chrono::seconds(feed_hold);
	o.fpm_resync = std::chrono::seconds(fpm_resync);
	o.startup_grace = std::chrono::seconds(grace);
	o.audit_interval = std::chrono::seconds(audit);
	o.kernel_fdb = !no_kernel_fdb;
	o.require_vtep_route = !no_route_check;
	return o;
}
} // namespace

Options parse_options(int argc, char **argv)
{
	return parse(argc, argv, true);
}

Options parse_options_or_throw(int argc, const char *const *argv)
{
	return parse(argc, argv, false);
}

} // namespace evpnmon::consumer
