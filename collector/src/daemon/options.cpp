#include "daemon/options.hpp"

#include "daemon/listen_address.hpp"

#include <CLI/CLI.hpp>

#include <fstream>
#include <set>
#include <sstream>

namespace evpnmon::collector {

namespace {

void build(CLI::App &app, RunOptions &o, std::vector<std::string> &sessions, std::string &records)
{
	app.add_flag("--erspan", o.erspan,
		     "receive ERSPAN I/II/III over IPv4 (raw IPPROTO_GRE socket, all addresses)");
	app.add_option("--erspan-ring", o.erspan_ring,
		       "receive ERSPAN with an AF_PACKET TPACKET_V3 ring on IFNAME instead of the raw "
		       "socket (cheaper per copy; IPv4 GRE frames reaching IFNAME, not reassembled)");
	app.add_option("--vxlan-port", o.vxlan_port, "receive VXLAN-GBP copies on this UDP port (0 = off)")
		->capture_default_str();
	app.add_option("--vxlan-bind", o.vxlan_bind, "address of the VXLAN socket")
		->capture_default_str()->check(CLI::ValidIPV4);
	app.add_option("--port-capture", o.port_capture,
		       "capture the monitoring server's port IFNAME (AF_PACKET, TPACKET_V3); frames map "
		       "to host sessions by MAC/IP");
	app.add_option("--session", sessions,
		       "NAME=span:ID | NAME=vxlan:VNI:HOSTID | NAME=host:MAC[,IP] (repeatable)");
	app.add_option("--sessions-json", o.sessions_json,
		       "host sessions from FILE (the output of `evpnmon-ctl --json sessions`)");
	app.add_option("--dir", o.dir, "directory of the pcapng file sets (DIR/<session>/)")->required();
	app.add_option("--rotate-size", o.rotate_size, "start a new file after BYTES (0 = never)")
		->capture_default_str();
	app.add_option("--rotate-seconds", o.rotate_seconds, "start a new file every S seconds (0 = never)")
		->capture_default_str();
	app.add_option("--keep-files", o.keep_files, "keep at most N files per session (0 = all)")
		->capture_default_str();
	app.add_option("--keep-bytes", o.keep_bytes, "keep at most B octets of files per session (0 = all)")
		->capture_default_str();
	app.add_option("--records", records, "TCP and RoCEv2 records: on|off")
		->check(CLI::IsMember({"on", "off"}))->capture_default_str();
	app.add_option("--publish", o.publish, "ZeroMQ PUB endpoint of the record stream")
		->capture_default_str();
	app.add_option("--metrics", o.metrics,
		       "Prometheus metrics on ADDR:PORT ([ADDR]:PORT for IPv6; empty = off)")
		->capture_default_str();
	app.add_flag("--metrics-any-address", o.metrics_any_address,
		     "allow --metrics on a non-loopback address (the metrics name the monitored hosts)");
	app.add_option("--report-interval", o.report_interval_ms,
		       "ms between session stats / RoCEv2 reports")
		->capture_default_str()->check(CLI::Range(10, 3600000));
	app.add_option("--flow-limit", o.flow_limit, "TCP connections and RoCEv2 entries tracked (each)")
		->capture_default_str()->check(CLI::Range(1, 100000000));
	app.add_option("--tcp-idle", o.tcp_idle_s, "seconds without a packet before a connection is closed (IDLE)")
		->capture_default_str()->check(CLI::Range(1, 86400 * 7));
	app.add_option("--handshake-timeout", o.handshake_timeout_s,
		       "seconds before an undecided handshake is TIMED_OUT")
		->capture_default_str()->check(CLI::Range(1, 3600));
	app.add_option("--log-level", o.log_level, "error|warn|info|debug")
		->check(CLI::IsMember({"error", "warn", "info", "debug"}))->capture_default_str();
	app.add_option("--rcvbuf", o.rcvbuf, "receive buffer of each input socket (octets)")
		->capture_default_str()->check(CLI::Range(65536, 1 << 30));
	app.add_option("--batch", o.batch, "packets per recvmmsg call")
		->capture_default_str()->check(CLI::Range(1, 1024));
	// Every long option is also a key of the file (`dir = "/var/lib/x"`,
	// `session = ["web=span:7"]`, flags as `erspan = true`); the command
	// line wins.
	app.set_config("--config", "", "read options from FILE (KEY = VALUE, the long option names "
				       "without --); the command line overrides it");
	app.allow_config_extras(CLI::config_extras_mode::error);
}

} // namespace

RunOptions parse_run_options(int argc, const char *const *argv)
{
	RunOptions o;
	CLI::App app{"evpnmon-collector run: receive mirrored copies, write per-session pcapng, "
		     "publish TCP/RoCEv2 records", "run"};
	std::vector<std::string> sessions;
	std::string records = "on";
	build(app, o, sessions, records);
	app.parse(argc, argv);

	o.records = records == "on";
	if (const auto *cfg = app.get_config_ptr(); cfg && cfg->count() > 0)
		o.config_file = cfg->as<std::string>();
	for (const auto &text : sessions) {
		std::string error;
		auto s = parse_session_spec(text, error);
		if (!s)
			throw CLI::ValidationError("--session", error);
		o.sessions.push_back(std::move(*s));
	}
	if (!o.sessions_json.empty()) {
		std::ifstream in(o.sessions_json);
		if (!in)
			throw CLI::ValidationError("--sessions-json", "cannot read '" + o.sessions_json + "'");
		std::stringstream ss;
		ss << in.rdbuf();
		try {
			for (auto &s : sessions_from_state_json(ss.str()))
				o.sessions.push_back(std::move(s));
		} catch (const std::exception &e) {
			throw CLI::ValidationError("--sessions-json", o.sessions_json + ": " + e.what());
		}
	}
	// One file set per name: two sessions under one name would share (and
	// prune) each other's files.
	std::set<std::string> names;
	std::set<std::uint16_t> spans;
	std::set<std::pair<std::uint32_t, std::uint16_t>> vxlans;
	for (const auto &s : o.sessions) {
		if (!names.insert(s.name).second)
			throw CLI::ValidationError("--session", "session name '" + s.name + "' used twice");
		if (s.kind == SessionSpec::Kind::Span && !spans.insert(s.span_id).second)
			throw CLI::ValidationError("--session", "span id " + std::to_string(s.span_id) +
									" named twice");
		if (s.kind == SessionSpec::Kind::Vxlan && !vxlans.insert({s.vni, s.host_id}).second)
			throw CLI::ValidationError("--session", "vxlan " + std::to_string(s.vni) + ":" +
									std::to_string(s.host_id) + " named twice");
	}
	if (!o.erspan_ring.empty())
		o.erspan = true;
	if (!o.erspan && o.vxlan_port == 0 && o.port_capture.empty())
		throw CLI::ValidationError("run", "no input: give --erspan, --erspan-ring IFNAME, --vxlan-port N and/or "
						  "--port-capture IFNAME");
	if (!o.port_capture.empty()) {
		bool hosts = false;
		for (const auto &s : o.sessions)
			hosts = hosts || s.kind == SessionSpec::Kind::Host;
		if (!hosts)
			throw CLI::ValidationError("--port-capture",
						   "needs host sessions (--session NAME=host:MAC[,IP] or "
						   "--sessions-json)");
	}
	if (!o.metrics.empty()) {
		const auto a = consumer::parse_listen_address(o.metrics);
		if (!a)
			throw CLI::ValidationError("--metrics", "expected ADDR:PORT or [ADDR]:PORT, got '" +
									o.metrics + "'");
		if (!a->loopback() && !o.metrics_any_address)
			throw CLI::ValidationError("--metrics",
						   "'" + o.metrics + "' is not a loopback address: the "
						   "metrics name the monitored hosts; add "
						   "--metrics-any-address to serve them there anyway");
	}
	return o;
}

std::string run_usage()
{
	RunOptions o;
	CLI::App app{"evpnmon-collector run", "run"};
	std::vector<std::string> sessions;
	std::string records = "on";
	build(app, o, sessions, records);
	return app.help();
}

} // namespace evpnmon::collector
