// evpnmon-dpctl: drive a dataplane backend from the command line (tests,
// benchmarks, operators debugging a leaf).
//
//   evpnmon-dpctl [--backend linux] --bridge BR:VXLANDEV:VNI ...
//       [--mirror-device evpnmon0] [--mirror-port 4790] [--local-vtep IP]
//       [--erspan-device evpnmon-er] [--erspan-hw-id N]
//       [--pin-dir DIR] [--tc-hook auto|tcx|clsact] [--no-flow-cache]
//       [--max-entries N] [--max-profiles N] [--keep] [--entry SPEC]... [--remove SPEC]...
//       [--mirror-ceiling RATE] [--mirror-ceiling-burst BYTES]
//       [--mirror-ceiling-packets RATE] [--mirror-ceiling-packet-burst N]
//       [--decap-source VNI/VTEP]... [--remove-decap-source VNI/VTEP]...
//       [--list] [--decap-sources] [--macs] [--show] [--run]
//
// SPEC: "src|dst|decap vni=N [mac=M] [ip=A] host-id=H
//        (port=IFNAME | vxlan=VTEP/VNI/HOSTID
//         | erspan=COLLECTOR/VERSION[/SPANID[/DSCP[/TTL[/GREPROTO]]]])
//        [session=ID]
//        [direction=rx|tx|both] [sample=N] [truncate=LEN] [options=HEX]"
// options=HEX: a whole options area (version octet + TLVs, as on the wire);
// direction/sample/truncate: a profile with just those.
// erspan=: GRE/ERSPAN type II (VERSION 2) or III (3) to an IPv4 collector;
// SPANID default 0, DSCP 0, TTL 64, GREPROTO (hex or decimal) 0 = the
// version's own.
// --tc-hook: how the TC programs attach (tcx links or clsact filters);
// default auto: tcx where the kernel has it.
// --no-flow-cache: every packet looked up (Config::flow_cache off; the
// copies are the same).
// --max-entries: the capacity (default 262144); on a leaf, the consumer's
// --dp-max-entries, or its pinned maps are replaced (entries dropped);
// --max-profiles likewise (--dp-max-profiles).
// --mirror-ceiling: bits per second of copies this VTEP may emit, with an
// optional k/m/g suffix (powers of 1000), 0 or "off" = no bit limit (both
// rates off = no ceiling); default 1g. --mirror-ceiling-burst: the bucket in octets, k/m/g = KiB/MiB/GiB
// (default 0: 10 ms at the rate, at least 128 KiB). --mirror-ceiling-packets:
// copies per second, k/m/g = powers of 1000, 0 or "off" = no packet limit;
// default 20k. --mirror-ceiling-packet-burst: the packet bucket in copies
// (default 0: 10 ms at the rate, at least 64). Written at every start: each
// invocation applies its own (or the default).
// --decap-source: entry 3 accepts copies of VNI from VTEP (IPv4) only if
// the pair is listed (the consumer lists the VNI's flood-list VTEPs);
// --decap-sources prints them ("decap-source VNI/VTEP").
// --show: print the counters now (as --run does on exit).
// --run: print "ready", print MAC events, exit on SIGINT/SIGTERM printing
// every entry's counters, every ERSPAN destination's, the decap drops by
// reason and the mirror ceiling's counters.
#include <evpnmon/dataplane/dataplane.hpp>

#include "dpctl_parse.hpp"

#include <net/if.h>
#include <poll.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <vector>

using namespace evpnmon::dp;
using dpctl::parse_burst;
using dpctl::parse_packet_burst;
using dpctl::parse_packet_rate_arg;
using dpctl::parse_rate;
using dpctl::parse_source;
using dpctl::parse_uint;

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

std::array<std::uint8_t, 4> v4(const std::string &s)
{
	auto ip = parse_ip(s);
	if (!ip || ip->family != IpAddr::Family::V4)
		throw std::invalid_argument("not an IPv4 address: " + s);
	std::array<std::uint8_t, 4> a{};
	std::copy_n(ip->bytes.begin(), 4, a.begin());
	return a;
}

std::uint32_t ifindex_of(const std::string &name)
{
	if (auto i = if_nametoindex(name.c_str()))
		return i;
	throw std::invalid_argument("no such device: " + name);
}

Entry parse_entry(const std::string &spec)
{
	std::istringstream in(spec);
	std::string kind, tok;
	in >> kind;
	Entry e;
	evpn_mon_options opts{};
	if (kind == "src")
		e.key.kind = EntryKind::MirrorSource;
	else if (kind == "dst")
		e.key.kind = EntryKind::MirrorDest;
	else if (kind == "decap")
		e.key.kind = EntryKind::Decap;
	else
		throw std::invalid_argument("entry kind must be src|dst|decap: " + spec);
	while (in >> tok) {
		auto eq = tok.find('=');
		if (eq == std::string::npos)
			throw std::invalid_argument("bad token " + tok);
		auto k = tok.substr(0, eq), v = tok.substr(eq + 1);
		if (k == "vni")
			e.key.vni = static_cast<std::uint32_t>(parse_uint(v, 1, 0xffffff, "vni"));
		else if (k == "mac") {
			e.key.host.mac = parse_mac(v);
			if (!e.key.host.mac)
				throw std::invalid_argument("bad MAC " + v);
		} else if (k == "ip") {
			e.key.host.ip = parse_ip(v);
			if (!e.key.host.ip)
				throw std::invalid_argument("bad IP " + v);
		} else if (k == "host-id")
			e.key.host_id = static_cast<std::uint16_t>(parse_uint(v, 0, 0xffff, "host-id"));
		else if (k == "port") {
			e.action.kind = Action::Kind::LocalPort;
			e.action.ifindex = ifindex_of(v);
		} else if (k == "vxlan") {
			auto s1 = v.find('/'), s2 = v.rfind('/');
			if (s1 == std::string::npos || s1 == s2)
				throw std::invalid_argument("vxlan=VTEP/VNI/HOSTID: " + v);
			e.action.kind = Action::Kind::Vxlan;
			e.action.remote_vtep = v4(v.substr(0, s1));
			e.action.vni = static_cast<std::uint32_t>(
			    parse_uint(v.substr(s1 + 1, s2 - s1 - 1), 1, 0xffffff, "vxlan VNI"));
			e.action.host_id = static_cast<std::uint16_t>(
			    parse_uint(v.substr(s2 + 1), 0, 0xffff, "vxlan HOST ID"));
		} else if (k == "erspan") {
			std::vector<std::string> f;
			std::size_t from = 0;
			for (;;) {
				auto at = v.find('/', from);
				f.push_back(v.substr(from, at - from));
				if (at == std::string::npos)
					break;
				from = at + 1;
			}
			if (f.size() < 2 || f.size() > 6)
				throw std::invalid_argument(
				    "erspan=COLLECTOR/VERSION[/SPANID[/DSCP[/TTL[/GREPROTO]]]]: " + v);
			e.action.kind = Action::Kind::Erspan;
			auto c = v4(f[0]);
			e.action.erspan.collector.family = IpAddr::Family::V4;
			std::copy(c.begin(), c.end(), e.action.erspan.collector.bytes.begin());
			e.action.erspan.version = static_cast<std::uint8_t>(std::stoul(f[1]));
			if (f.size() > 2)
				e.action.erspan.span_id = static_cast<std::uint16_t>(std::stoul(f[2]));
			if (f.size() > 3)
				e.action.erspan.dscp = static_cast<std::uint8_t>(std::stoul(f[3]));
			if (f.size() > 4)
				e.action.erspan.ttl = static_cast<std::uint8_t>(std::stoul(f[4]));
			if (f.size() > 5)
				e.action.erspan.gre_proto =
				    static_cast<std::uint16_t>(std::stoul(f[5], nullptr, 0));
		} else if (k == "session") {
			e.key.session = v;
		} else if (k == "direction") {
			opts.present = 1;
			opts.direction = v == "rx"   ? EVPN_MON_DIR_RX
					 : v == "tx" ? EVPN_MON_DIR_TX
						     : EVPN_MON_DIR_BOTH;
		} else if (k == "sample") {
			opts.present = 1;
			opts.sample = static_cast<std::uint32_t>(std::stoul(v));
		} else if (k == "truncate") {
			opts.present = 1;
			opts.truncate = static_cast<std::uint16_t>(std::stoul(v));
		} else if (k == "options") {
			std::vector<std::uint8_t> area;
			for (std::size_t i = 0; i + 1 < v.size(); i += 2)
				area.push_back(static_cast<std::uint8_t>(std::stoul(v.substr(i, 2), nullptr, 16)));
			evpn_mon_opt_error err = EVPN_MON_OPT_OK;
			e.options = evpnmon::session::Options::decode(area, &err);
			if (err != EVPN_MON_OPT_OK)
				throw std::invalid_argument(std::string("options: ") +
							    evpn_mon_opt_strerror(err));
		} else
			throw std::invalid_argument("unknown key " + k);
	}
	if (opts.present)
		e.options = evpnmon::session::Options(opts);
	return e;
}

std::string describe(const Erspan &x)
{
	std::ostringstream o;
	o << to_string(x.collector) << "/" << unsigned{x.version} << "/" << x.span_id << "/"
	  << unsigned{x.dscp} << "/" << unsigned{x.ttl} << "/0x" << std::hex << x.gre_proto;
	return o.str();
}

std::string describe(const ServerKey &k)
{
	return std::to_string(k.vni) + "/" + to_string(k.mac) + "/" + std::to_string(k.host_id);
}

// " port=..." / " erspan=..." / " vxlan=..." / " server=..." / " none".
std::string describe(const Dataplane &dp, const Action &a)
{
	std::ostringstream o;
	if (a.kind == Action::Kind::LocalPort) {
		o << " port=" << dp.port_name(a.ifindex);
	} else if (a.kind == Action::Kind::Erspan) {
		o << " erspan=" << describe(a.erspan);
	} else if (a.kind == Action::Kind::Server) {
		o << " server=" << describe(a.server);
	} else if (a.kind == Action::Kind::Unresolved) {
		o << " none"; // a server's target: no copy
	} else {
		IpAddr ip;
		std::copy_n(a.remote_vtep.begin(), 4, ip.bytes.begin());
		o << " vxlan=" << to_string(ip) << "/" << a.vni << "/" << a.host_id;
	}
	return o.str();
}

std::string describe(const Dataplane &dp, const Entry &e)
{
	std::ostringstream o;
	o << (e.key.kind == EntryKind::MirrorSource ? "src"
	      : e.key.kind == EntryKind::MirrorDest ? "dst"
						    : "decap")
	  << " vni=" << e.key.vni;
	if (e.key.host.mac)
		o << " mac=" << to_string(*e.key.host.mac);
	if (e.key.host.ip)
		o << " ip=" << to_string(*e.key.host.ip);
	o << " host-id=" << e.key.host_id << describe(dp, e.action);
	if (!e.key.session.empty())
		o << " session=" << e.key.session;
	if (e.options.has_profile())
		o << " [" << e.options.to_string() << "]";
	return o.str();
}

void print_counters(const Dataplane &dp)
{
	for (const auto &e : dp.list()) {
		auto c = dp.counters(e.key).value_or(Counters{});
		std::cout << "counters " << describe(dp, e) << " packets=" << c.packets
			  << " bytes=" << c.bytes << " drops=" << c.drops;
		if (e.options.has_profile())
			std::cout << " filtered=" << c.filtered << " sampled_out=" << c.sampled_out
				  << " policed=" << c.policed;
		std::cout << "\n";
	}
	auto g = dp.global_counters();
	std::cout << "global unknown_host_id_packets=" << g.packets
		  << " drops=" << g.drops << "\n";
	auto d = dp.dropped_originals();
	std::cout << "dropped_originals packets=" << d.packets << " bytes=" << d.bytes
		  << "\n";
	for (const auto &[x, c] : dp.erspan_counters())
		std::cout << "erspan " << describe(x) << " packets=" << c.packets
			  << " bytes=" << c.bytes << " no_route=" << c.no_route
			  << " mtu_truncated=" << c.mtu_truncated << " errors=" << c.errors
			  << " last_seq=" << c.last_seq << "\n";
	const auto dd = dp.decap_drops();
	std::cout << "decap_drops no_tunnel_metadata=" << dd.no_tunnel_metadata
		  << " unknown_source=" << dd.unknown_source
		  << " unknown_host_id=" << dd.unknown_host_id << "\n";
	const auto c = dp.ceiling_counters();
	std::cout << "ceiling passed_packets=" << c.passed_packets
		  << " passed_bytes=" << c.passed_bytes
		  << " dropped_packets=" << c.dropped_packets
		  << " dropped_bytes=" << c.dropped_bytes
		  << " dropped_by_packet_rate=" << c.dropped_by_packet_rate << "\n";
}

} // namespace

int main(int argc, char **argv)
try {
	Config cfg;
	std::string backend = "linux";
	std::vector<Entry> add;
	std::vector<EntryKey> del;
	std::vector<std::pair<std::uint32_t, IpAddr>> add_src, del_src;
	bool list = false, macs = false, run = false, show = false, sources = false;
	for (int i = 1; i < argc; ++i) {
		std::string a = argv[i];
		auto next = [&]() -> std::string {
			if (i + 1 >= argc)
				throw std::invalid_argument(a + " needs a value");
			return argv[++i];
		};
		if (a == "--backend")
			backend = next();
		else if (a == "--bridge") {
			auto v = next();
			auto c1 = v.find(':'), c2 = v.rfind(':');
			if (c1 == std::string::npos || c1 == c2)
				throw std::invalid_argument("--bridge BR:VXLANDEV:VNI");
			cfg.bridges.push_back({v.substr(0, c1), v.substr(c1 + 1, c2 - c1 - 1),
					       static_cast<std::uint32_t>(
					       parse_uint(v.substr(c2 + 1), 1, 0xffffff, "--bridge VNI"))});
		} else if (a == "--mirror-device")
			cfg.mirror_device = next();
		else if (a == "--mirror-port")
			cfg.mirror_udp_port = static_cast<std::uint16_t>(std::stoul(next()));
		else if (a == "--local-vtep")
			cfg.local_vtep = v4(next());
		else if (a == "--erspan-device")
			cfg.erspan_device = next();
		else if (a == "--erspan-hw-id")
			cfg.erspan_hw_id = static_cast<std::uint8_t>(std::stoul(next()));
		else if (a == "--pin-dir")
			cfg.pin_dir = next();
		else if (a == "--tc-hook") {
			const std::string h = next();
			const auto hook = parse_tc_hook(h);
			if (!hook)
				throw std::invalid_argument("--tc-hook: auto, tcx or clsact, not '" + h + "'");
			cfg.tc_hook = *hook;
		} else if (a == "--no-flow-cache")
			cfg.flow_cache = false;
		else if (a == "--max-entries")
			cfg.max_entries = static_cast<std::uint32_t>(std::stoul(next()));
		else if (a == "--max-profiles")
			cfg.max_profiles = static_cast<std::uint32_t>(std::stoul(next()));
		else if (a == "--keep")
			cfg.keep_on_exit = true;
		else if (a == "--entry")
			add.push_back(parse_entry(next()));
		else if (a == "--remove")
			del.push_back(parse_entry(next()).key);
		else if (a == "--mirror-ceiling")
			cfg.mirror_ceiling_bps = parse_rate(next());
		else if (a == "--mirror-ceiling-burst")
			cfg.mirror_ceiling_burst = parse_burst(next());
		else if (a == "--mirror-ceiling-packets")
			cfg.mirror_ceiling_pps = parse_packet_rate_arg(next());
		else if (a == "--mirror-ceiling-packet-burst")
			cfg.mirror_ceiling_packet_burst = parse_packet_burst(next());
		else if (a == "--decap-source")
			add_src.push_back(parse_source(next()));
		else if (a == "--remove-decap-source")
			del_src.push_back(parse_source(next()));
		else if (a == "--decap-sources")
			sources = true;
		else if (a == "--show")
			show = true;
		else if (a == "--list")
			list = true;
		else if (a == "--macs")
			macs = true;
		else if (a == "--run")
			run = true;
		else
			throw std::invalid_argument("unknown option " + a);
	}
	auto dp = make_dataplane(backend, cfg);
	for (const auto &k : del)
		if (auto ec = dp->remove(k))
			throw std::system_error(ec, "remove");
	for (const auto &e : add)
		if (auto ec = dp->install(e))
			throw std::system_error(ec, "install " + describe(*dp, e));
	for (const auto &[vni, ip] : del_src)
		if (auto ec = dp->remove_decap_source(vni, ip))
			throw std::system_error(ec, "remove decap source");
	for (const auto &[vni, ip] : add_src)
		if (auto ec = dp->add_decap_source(vni, ip))
			throw std::system_error(ec, "add decap source " + std::to_string(vni) +
							"/" + to_string(ip));
	if (list) {
		for (const auto &e : dp->list())
			std::cout << "entry " << describe(*dp, e) << "\n";
		for (const auto &[k, t] : dp->servers())
			std::cout << "server " << describe(k) << describe(*dp, t) << "\n";
	}
	if (sources)
		for (const auto &[vni, ip] : dp->decap_sources())
			std::cout << "decap-source " << vni << "/" << to_string(ip) << "\n";
	if (show)
		print_counters(*dp);
	dp->set_mac_listener([&](const MacEvent &ev) {
		std::cout << "mac " << (ev.kind == MacEvent::Kind::Learned ? "learned " : "removed ")
			  << to_string(ev.mac) << " port=" << dp->port_name(ev.ifindex)
			  << " vni=" << ev.vni << " vlan=" << ev.vlan << std::endl;
	});
	if (macs)
		dp->dump_macs();
	if (run) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		std::cout << "ready" << std::endl;
		while (!g_stop) {
			pollfd p{dp->event_fd(), POLLIN, 0};
			if (::poll(&p, 1, 200) > 0)
				dp->process_events();
		}
		print_counters(*dp);
	}
	std::cout.flush();
	return 0;
} catch (const std::exception &ex) {
	std::cerr << "evpnmon-dpctl: " << ex.what() << "\n";
	return 1;
}
