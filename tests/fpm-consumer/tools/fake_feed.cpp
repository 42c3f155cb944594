// fpmc-fake-feed: stand-in for bgpd's monitor-session feed in integration
// tests. Serves a fixed set of sessions (Snapshot on SUBSCRIBE, Heartbeat
// every second) until SIGTERM/SIGINT.
//   fpmc-fake-feed --bind ipc:///tmp/x --session 100,02:00:00:00:01:01,7,02:00:00:00:02:20
// A collector session (feed version 3): the ID as cID, the collector's
// address, the ERSPAN version (default 3) and span id (default ID mod 1024):
//   --session 100,02:00:00:00:01:01,c9,10.9.0.1,3,9
// The import decision (feed version 4) after a '|': STATE|REASON, STATE one
// of installed, denied, over-limit:
//   --session '100,02:00:00:00:01:01,7,02:00:00:00:02:20|denied|rule 10 deny'
// Benchmarks: --generate COUNT,VNI,DEST makes COUNT sessions; with --deltas
// they arrive one ADD delta each after an empty snapshot (--rate per second).
#include "core/session_route.hpp"
#include "fake_publisher.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

evpnmon::consumer::Session parse_fields(const std::string &text);

evpnmon::consumer::Session parse_session(const std::string &text)
{
	const auto bar = text.find('|');
	auto s = parse_fields(text.substr(0, bar));
	if (bar == std::string::npos)
		return s;
	const auto bar2 = text.find('|', bar + 1);
	const auto state = text.substr(bar + 1, bar2 == std::string::npos ? bar2 : bar2 - bar - 1);
	using evpnmon::consumer::ImportState;
	if (state == "installed")
		s.import_state = ImportState::Installed;
	else if (state == "denied")
		s.import_state = ImportState::Denied;
	else if (state == "over-limit")
		s.import_state = ImportState::OverLimit;
	else
		throw std::invalid_argument("bad import state in '" + text + "'");
	if (bar2 != std::string::npos)
		s.import_reason = text.substr(bar2 + 1);
	return s;
}

evpnmon::consumer::Session parse_fields(const std::string &text)
{
	std::stringstream ss(text);
	std::string vni, host, id, server, version, span;
	std::getline(ss, vni, ',');
	std::getline(ss, host, ',');
	std::getline(ss, id, ',');
	std::getline(ss, server, ',');
	std::getline(ss, version, ',');
	std::getline(ss, span, ',');
	evpnmon::consumer::Session s;
	s.key.vni = static_cast<std::uint32_t>(std::stoul(vni));
	s.key.host_mac = evpnmon::consumer::parse_mac_text(host);
	s.key.rd = "10.0.0.1:100";
	s.key.originator = {10, 0, 0, 1};
	if (!id.empty() && id[0] == 'c') {
		s.key.collector = true;
		s.key.host_id = static_cast<std::uint16_t>(std::stoul(id.substr(1)));
		s.server_ip = evpnmon::dp::parse_ip(server);
		if (!s.key.host_mac || !s.server_ip)
			throw std::invalid_argument("bad collector session '" + text + "'");
		evpn_mon_options o{};
		o.erspan.version = static_cast<std::uint8_t>(version.empty() ? 3 : std::stoul(version));
		o.erspan.span_id = static_cast<std::uint16_t>(span.empty() ? s.key.host_id % 1024
									  : std::stoul(span));
		o.erspan.ttl = EVPN_MON_ERSPAN_TTL_DEFAULT;
		s.options = evpnmon::session::Options(o);
		s.id = evpnmon::consumer::make_session_id(s.key);
		return s;
	}
	s.key.host_id = static_cast<std::uint16_t>(std::stoul(id));
	auto srv = evpnmon::consumer::parse_mac_text(server);
	if (!s.key.host_mac || !srv)
		throw std::invalid_argument("bad session '" + text + "'");
	s.server_mac = *srv;
	return s;
}
} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"fake bgpd monitor-session feed"};
	std::string bind;
	std::vector<std::string> sessions;
	std::uint64_t epoch = 1;
	app.add_option("--bind", bind, "ZeroMQ endpoint to bind")->required();
	app.add_option("--session", sessions,
		       "VNI,HOSTMAC,HOSTID,SERVERMAC or VNI,HOSTMAC,cID,COLLECTORIP[,VERSION[,SPAN]], "
		       "then |STATE|REASON for an import decision (repeatable)");
	std::uint32_t version = 3;
	app.add_option("--feed-version", version, "feed version to announce")->capture_default_str();
	app.add_option("--epoch", epoch, "feed epoch");
	std::string generate;
	app.add_option("--generate", generate,
		       "COUNT,VNI,COLLECTORIP or COUNT,VNI,SERVERMAC: COUNT collector sessions "
		       "(collector ID 1) or server sessions (HOST ID 21) of hosts 02:10:..:..:..:.. "
		       "for benchmarks");
	bool deltas = false;
	app.add_flag("--deltas", deltas,
		     "send the --generate sessions as ADD deltas, 1,000 per poll, once the first "
		     "subscriber has its (empty) snapshot, as bgpd does when routes arrive");
	double rate = 0;
	app.add_option("--rate", rate,
		       "with --deltas: ADD deltas per second (0: as fast as the socket takes them)");
	CLI11_PARSE(app, argc, argv);
	std::signal(SIGTERM, on_signal);
	std::signal(SIGINT, on_signal);
	zmq::context_t ctx;
	evpnmon::test::FakePublisher pub(ctx, bind, epoch);
	pub.version = version;
	for (const auto &s : sessions)
		pub.add(parse_session(s));
	std::vector<evpnmon::consumer::Session> pending;
	std::optional<std::chrono::steady_clock::time_point> started;
	std::size_t sent = 0;
	if (!generate.empty()) {
		std::stringstream ss(generate);
		std::string count, vni, ip;
		std::getline(ss, count, ',');
		std::getline(ss, vni, ',');
		std::getline(ss, ip, ',');
		const auto n = std::stoul(count);
		for (unsigned long i = 0; i < n; ++i) {
			char mac[32];
			std::snprintf(mac, sizeof(mac), "02:10:00:%02lx:%02lx:%02lx", (i >> 16) & 0xff,
				      (i >> 8) & 0xff, i & 0xff);
			const bool server = ip.find(':') != std::string::npos && ip.size() == 17;
			auto s = parse_session(vni + "," + mac + (server ? ",21," : ",c1,") + ip);
			if (deltas)
				pending.push_back(std::move(s));
			else
				pub.add(s);
		}
	}
	auto next_hb = std::chrono::steady_clock::now();
	while (!g_stop) {
		pub.serve(pending.empty() ? 100 : (rate > 0 ? 1 : 0));
		if (!pending.empty() && pub.subscribers() > 0) {
			// Paced: what is due since the first delta, in 1 ms steps.
			const auto now = std::chrono::steady_clock::now();
			if (!started)
				started = now;
			std::size_t due = 1000;
			if (rate > 0) {
				const double t = std::chrono::duration<double>(now - *started).count();
				due = static_cast<std::size_t>(t * rate) > sent
					      ? static_cast<std::size_t>(t * rate) - sent
					      : 0;
			}
			const auto batch = std::min<std::size_t>(pending.size(), due);
			sent += batch;
			for (std::size_t i = 0; i < batch; ++i)
				pub.add(pending[pending.size() - 1 - i]);
			pending.resize(pending.size() - batch);
		}
		if (std::chrono::steady_clock::now() >= next_hb) {
			pub.heartbeat();
			next_hb += std::chrono::seconds(1);
		}
	}
	return 0;
}
