// `evpnmon-collector run` command line (and --config FILE, the same keys).
#pragma once

#include "core/sessions.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace evpnmon::collector {

struct RunOptions {
	// inputs
	bool erspan = false;            // raw IPPROTO_GRE socket
	std::string erspan_ring;        // ERSPAN from a TPACKET_V3 ring on this interface instead
	std::uint16_t vxlan_port = 0;   // 0: off
	std::string vxlan_bind = "0.0.0.0";
	std::string port_capture;       // interface name, empty: off
	// sessions
	std::vector<SessionSpec> sessions; // --session, then --sessions-json
	std::string sessions_json;
	// files
	std::string dir;
	std::uint64_t rotate_size = 0;    // bytes, 0: no size rotation
	std::uint64_t rotate_seconds = 0; // 0: no time rotation
	std::uint32_t keep_files = 0;     // 0: keep all
	std::uint64_t keep_bytes = 0;     // 0: no limit
	// records and stream
	bool records = true;
	std::string publish = "tcp://127.0.0.1:9520";
	std::string metrics = "127.0.0.1:9521"; // empty: off
	bool metrics_any_address = false;
	std::uint64_t report_interval_ms = 1000;
	std::uint64_t flow_limit = 65536;
	std::uint64_t tcp_idle_s = 300;
	std::uint64_t handshake_timeout_s = 10;
	std::string log_level = "info";
	std::string config_file;
	// receive tuning
	int rcvbuf = 32 << 20;        // SO_RCVBUF(FORCE) of the sockets
	unsigned batch = 64;          // recvmmsg batch
};

// argv[0] = "run". Usage errors are thrown (CLI::ParseError; CLI::Success
// for --help) so the caller decides how to exit; bad session definitions and
// an unreadable --sessions-json are CLI::ValidationError too.
RunOptions parse_run_options(int argc, const char *const *argv);

// The options' usage text (for `evpnmon-collector --help`).
std::string run_usage();

} // namespace evpnmon::collector
