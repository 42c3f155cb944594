// Integration tests of the linux backend with real packets: the semantic
// table (same as the memory backend), adoption after restart, clean detach,
// and local MAC learning. Runs in a private network namespace (unshare), so
// everything it creates disappears with the process; pins go to a
// per-process bpffs directory that the backend removes.
#define DOCTEST_CONFIG_IMPLEMENT
#include "capture.hpp"
#include "decap_sources.hpp"
#include "private_netns.hpp"
#include "table_runner.hpp"

#include <evpnmon/dataplane/dataplane.hpp>
#include <evpnmon/unique_fd.hpp>

#include "evpnmon_shared.h"
#include "linux/bpf_object.hpp"
#include "linux/entry_store.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

using namespace evpnmon::dp;
using evpnmon::dp::test::sh;

namespace {


std::string g_pin = "/sys/fs/bpf/evpnmon-test-" + std::to_string(::getpid());

// The switch of the semantic table, built in this process's private netns.
void build_switch()
{
	sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1");
	sh("ip link set lo up");
	sh("ip link add br100 type bridge && ip link add br200 type bridge && "
	   "ip link add br300 type bridge");
	auto port = [](const std::string &p, const std::string &br, bool learn) {
		sh("ip link add " + p + " type veth peer name " + p + "p");
		sh("ip link set " + p + " master " + br + " up && ip link set " + p + "p up");
		if (!learn)
			sh("bridge link set dev " + p +
			   " learning off flood off mcast_flood off bcast_flood off");
	};
	for (auto p : {"h1", "h2", "h3", "srv"})
		port(p, "br100", false);
	port("g1", "br200", false);
	port("m1", "br300", true);
	sh("ip link set br100 up && ip link set br200 up && ip link set br300 up");
	// VNI 100's fabric device: frames "from another VTEP" arrive as VXLAN
	// on 4789 and are bridged (flooded) by br100.
	sh("ip link add vxlan100 type vxlan id 100 dstport 4789 nolearning && "
	   "ip link set vxlan100 master br100 up && "
	   "bridge link set dev vxlan100 learning off");
	// Underlay towards the (absent) remote VTEPs: copies leave through ul0.
	sh("ip link add ul0 type veth peer name ul1 && ip link set ul0 up && "
	   "ip link set ul1 up && ip addr add 10.9.9.1/24 dev ul0");
	sh("ip link set ul1 address 02:99:00:00:00:01");
	// The outer sources of the table's decap cases (VTEP_S, VTEP_X, VTEP_Y):
	// local addresses, so that a copy sent to the mirror port from one of
	// them arrives with it as its outer source.
	for (auto ip : {"10.9.9.5", "10.9.9.6", "10.9.9.7"})
		sh(std::string("ip addr add ") + ip + "/32 dev lo");
	for (auto ip : {"10.9.9.2", "10.9.9.3"})
		sh(std::string("ip neigh add ") + ip +
		   " lladdr 02:99:00:00:00:01 dev ul0 nud permanent");
}

Config switch_config(bool keep = false)
{
	Config c;
	c.bridges = {{"br100", "vxlan100", 100}, {"br200", "vxlan200", 200},
		     {"br300", "vxlan300", 300}};
	c.mirror_device = "evpnmon0";
	c.mirror_udp_port = 4790;
	c.local_vtep = {10, 9, 9, 1};
	c.pin_dir = g_pin;
	c.keep_on_exit = keep;
	// ctest runs this binary twice: with the kernel's choice (tcx where
	// the kernel has it) and with clsact forced (the only hook of older
	// kernels, e.g. Debian 12's own).
	if (const char *hook = std::getenv("EVPNMON_TEST_TC_HOOK"))
		c.tc_hook = parse_tc_hook(hook).value();
	return c;
}

using table::packet_socket;
using table::parse_vxlan;
using table::recv_frame;

struct LinuxHarness : table::Harness {
	std::unique_ptr<Dataplane> dp;
	std::vector<std::string> hosts = {"h1", "h2", "h3", "srv", "g1"};
	std::map<std::string, int> cap; // host port name -> socket on its peer
	int ul = -1;
	int udp = -1;

	LinuxHarness() : LinuxHarness(switch_config()) {}
	explicit LinuxHarness(const Config &cfg)
	{
		dp = make_dataplane("linux", cfg);
		for (const auto &h : hosts)
			cap[h] = packet_socket(h + "p");
		ul = packet_socket("ul0");
		udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	}
	~LinuxHarness() override
	{
		for (auto &[_, fd] : cap)
			::close(fd);
		::close(ul);
		::close(udp);
	}
	Dataplane &dataplane() override { return *dp; }
	std::uint32_t ifindex(const std::string &p) override
	{
		if (p == "ghost")
			return 999999;
		if (p == "fabric")
			return if_nametoindex("vxlan100");
		return if_nametoindex(p.c_str());
	}
	void pump_events()
	{
		pollfd p{dp->event_fd(), POLLIN, 0};
		while (::poll(&p, 1, 100) > 0)
			dp->process_events();
	}
	void prepare(const table::Case &c) override
	{
		for (const auto &p : c.forwarding)
			sh("bridge link set dev " + p + " flood on mcast_flood on bcast_flood on");
		for (const auto &m : c.macs) {
			sh("bridge fdb replace " + m.mac + " dev " + m.port + " master static");
			if (m.aged)
				sh("bridge fdb del " + m.mac + " dev " + m.port + " master");
		}
		pump_events();
	}
	void finish(const table::Case &c) override
	{
		for (const auto &p : c.forwarding)
			sh("bridge link set dev " + p + " flood off mcast_flood off bcast_flood off");
		for (const auto &m : c.macs)
			if (!m.aged)
				sh("bridge fdb del " + m.mac + " dev " + m.port + " master");
		pump_events();
	}
	void drain()
	{
		char buf[4096];
		for (auto &[_, fd] : cap)
			while (::recv(fd, buf, sizeof buf, 0) > 0) {
			}
		while (::recv(ul, buf, sizeof buf, 0) > 0) {
		}
	}
	std::vector<Output> send(std::span<const std::uint8_t> frame,
				 const std::string &in,
				 const std::optional<TunnelMeta> &tun) override
	{
		drain();
		if (in == "fabric") {
			std::vector<std::uint8_t> pkt = {0x08, 0, 0, 0, 0, 0, 100, 0};
			pkt.insert(pkt.end(), frame.begin(), frame.end());
			sockaddr_in to{};
			to.sin_family = AF_INET;
			to.sin_port = htons(4789);
			inet_pton(AF_INET, "10.9.9.1", &to.sin_addr);
			REQUIRE(::sendto(udp, pkt.data(), pkt.size(), 0,
					 reinterpret_cast<sockaddr *>(&to), sizeof to) ==
				static_cast<ssize_t>(pkt.size()));
		} else if (in == "mirror") {
			std::vector<std::uint8_t> pkt = {0x88, 0,
							 static_cast<std::uint8_t>(tun->host_id >> 8),
							 static_cast<std::uint8_t>(tun->host_id),
							 static_cast<std::uint8_t>(tun->vni >> 16),
							 static_cast<std::uint8_t>(tun->vni >> 8),
							 static_cast<std::uint8_t>(tun->vni), 0};
			pkt.insert(pkt.end(), frame.begin(), frame.end());
			// From the case's outer source: a socket bound to it.
			const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			REQUIRE(s >= 0);
			sockaddr_in from{};
			from.sin_family = AF_INET;
			std::memcpy(&from.sin_addr, tun->remote_vtep.data(), 4);
			REQUIRE(::bind(s, reinterpret_cast<sockaddr *>(&from), sizeof from) == 0);
			sockaddr_in to{};
			to.sin_family = AF_INET;
			to.sin_port = htons(4790);
			inet_pton(AF_INET, "10.9.9.1", &to.sin_addr);
			const auto sent = ::sendto(s, pkt.data(), pkt.size(), 0,
						   reinterpret_cast<sockaddr *>(&to), sizeof to);
			::close(s);
			REQUIRE(sent == static_cast<ssize_t>(pkt.size()));
		} else {
			REQUIRE(::send(cap.at(in), frame.data(), frame.size(), 0) ==
				static_cast<ssize_t>(frame.size()));
		}
		return collect(in == "mirror" ? Output::Kind::Deliver
					      : Output::Kind::LocalCopy);
	}
	std::vector<Output> collect(Output::Kind host_kind)
	{
		std::vector<Output> out;
		auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
		std::vector<pollfd> pfds;
		std::vector<std::string> names;
		for (auto &[n, fd] : cap) {
			pfds.push_back({fd, POLLIN, 0});
			names.push_back(n);
		}
		pfds.push_back({ul, POLLIN, 0});
		for (;;) {
			auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
					until - std::chrono::steady_clock::now())
					.count();
			if (left <= 0)
				break;
			if (::poll(pfds.data(), pfds.size(), static_cast<int>(left)) <= 0)
				continue;
			for (std::size_t i = 0; i < pfds.size(); ++i) {
				if (!(pfds[i].revents & POLLIN))
					continue;
				std::uint8_t buf[4096];
				sockaddr_ll from{};
				ssize_t n = recv_frame(pfds[i].fd, buf, sizeof buf, from);
				if (n <= 0)
					continue;
				std::span<const std::uint8_t> f(buf, static_cast<std::size_t>(n));
				if (i < names.size()) {
					if (from.sll_pkttype == PACKET_OUTGOING)
						continue; // our own injection
					if (table::foreign_multicast(f))
						continue; // the bridge's own IGMP etc.
					Output o;
					o.kind = host_kind;
					o.ifindex = if_nametoindex(names[i].c_str());
					o.frame.assign(f.begin(), f.end());
					out.push_back(std::move(o));
				} else if (auto o = parse_vxlan(f, from.sll_pkttype)) {
					out.push_back(std::move(*o));
				}
			}
		}
		return out;
	}
};

// 1 if the backend's mirror program is on the device's ingress hook.
int tc_filter_count(const std::string &dev)
{
	return attached_program_id(static_cast<int>(if_nametoindex(dev.c_str())), false) ? 1 : 0;
}

} // namespace

TEST_CASE("linux backend passes the semantic table (real packets)")
{
	LinuxHarness h;
	table::run_table(h);
}

TEST_CASE("linux backend passes the semantic table with each case's changes in one batch")
{
	LinuxHarness h;
	h.batched = true;
	table::run_table(h);
}

namespace {

// An entry's packet counter once it has reached `n` (2 s at most: frames
// cross veth at once) and then for 100 ms more, so that a count too many
// shows; or what it is at 2 s.
std::uint64_t packets_when(const Dataplane &dp, const EntryKey &key, std::uint64_t n)
{
	auto packets = [&] {
		const auto c = dp.counters(key);
		return c ? c->packets : 0;
	};
	std::uint64_t got = 0;
	for (int i = 0; i < 200 && (got = packets()) < n; ++i)
		::usleep(10000);
	if (got < n)
		return got;
	::usleep(100000); // a later, wrong count lands in this window
	return packets();
}

} // namespace

TEST_CASE("restart: entries and counters adopted; clean exit removes everything")
{
	Entry e;
	e.key.kind = EntryKind::MirrorSource;
	e.key.vni = 100;
	e.key.host.mac = parse_mac("02:00:00:00:00:01");
	e.key.host_id = 7;
	e.action.ifindex = if_nametoindex("srv");
	auto frame = table::build_frame({"02:00:00:00:00:01", "02:00:00:00:00:02",
					 "10.1.0.1", "10.1.0.2", 0, 32});
	int h1p = packet_socket("h1p");
	{
		auto dp = make_dataplane("linux", switch_config(true));
		REQUIRE_FALSE(dp->install(e));
		REQUIRE(::send(h1p, frame.data(), frame.size(), 0) > 0);
		CHECK(packets_when(*dp, e.key, 1) == 1);
	} // keep_on_exit: programs, pins, device stay
	CHECK(std::filesystem::exists(g_pin + "/dp_match"));
	CHECK(tc_filter_count("h1") == 1);
	CHECK(if_nametoindex("evpnmon0") != 0);
	REQUIRE(::send(h1p, frame.data(), frame.size(), 0) > 0); // mirrored meanwhile
	{
		auto dp = make_dataplane("linux", switch_config(false));
		auto l = dp->list();
		REQUIRE(l.size() == 1);
		CHECK(l[0] == e);
		CHECK(packets_when(*dp, e.key, 2) == 2);
		// The egress rule's server-port table is rebuilt from adopted entries.
		int sp = bpf_obj_get((g_pin + "/dp_srv_port").c_str());
		REQUIRE(sp >= 0);
		std::uint32_t port = if_nametoindex("srv"), one = 0;
		CHECK(bpf_map_lookup_elem(sp, &port, &one) == 0);
		CHECK(one == 1);
		REQUIRE_FALSE(dp->remove(e.key));
		CHECK(bpf_map_lookup_elem(sp, &port, &one) != 0);
		::close(sp);
	}
	CHECK_FALSE(std::filesystem::exists(g_pin));
	CHECK(tc_filter_count("h1") == 0);
	CHECK(tc_filter_count("srv") == 0);
	CHECK(if_nametoindex("evpnmon0") == 0);
	::close(h1p);
}

// A slot's counters are written to zero when a slot is taken, except a slot
// first taken in maps this process created (still zero). A slot freed and
// taken again, or one of adopted maps, starts from zero too.
TEST_CASE("entry counters start at zero: a reused slot, a slot of adopted maps")
{
	auto entry = [](const char *mac) {
		Entry e;
		e.key.kind = EntryKind::MirrorSource;
		e.key.vni = 100;
		e.key.host.mac = parse_mac(mac);
		e.key.host_id = 7;
		e.action.ifindex = if_nametoindex("srv");
		return e;
	};
	const Entry a = entry("02:00:00:00:00:01"), b = entry("02:00:00:00:00:03"),
		    c = entry("02:00:00:00:00:05");
	auto frame_from = [](const char *mac) {
		return table::build_frame({mac, "02:00:00:00:00:02", "10.1.0.1", "10.1.0.2", 0, 32});
	};
	int h1p = packet_socket("h1p");
	// Counted within 2 s, or the test fails (frames cross veth at once).
	auto counted = [&](Dataplane &dp, const Entry &e, const char *mac) {
		const auto f = frame_from(mac);
		REQUIRE(::send(h1p, f.data(), f.size(), 0) > 0);
		for (int i = 0; i < 200; ++i) {
			if (dp.counters(e.key) && dp.counters(e.key)->packets > 0)
				return true;
			::usleep(10000);
		}
		return false;
	};
	{
		auto dp = make_dataplane("linux", switch_config(true));
		REQUIRE_FALSE(dp->install(a));
		CHECK(dp->counters(a.key)->packets == 0);
		REQUIRE(counted(*dp, a, "02:00:00:00:00:01"));
		REQUIRE_FALSE(dp->remove(a.key));
		REQUIRE_FALSE(dp->install(b)); // a's slot, counted before
		CHECK(dp->counters(b.key)->packets == 0);
		REQUIRE(counted(*dp, b, "02:00:00:00:00:03"));
		REQUIRE_FALSE(dp->install(a)); // the next slot, never used
		REQUIRE(counted(*dp, a, "02:00:00:00:00:01"));
		REQUIRE_FALSE(dp->remove(a.key)); // a counted slot above the last used one
	} // keep_on_exit
	{
		auto dp = make_dataplane("linux", switch_config(false));
		REQUIRE(dp->list().size() == 1);
		REQUIRE_FALSE(dp->install(c));
		CHECK(dp->counters(c.key)->packets == 0);
		REQUIRE_FALSE(dp->remove(b.key));
		REQUIRE_FALSE(dp->remove(c.key));
	}
	::close(h1p);
}

TEST_CASE("local MAC learning from the bridge FDB")
{
	auto dp = make_dataplane("linux", switch_config());
	std::vector<MacEvent> seen;
	dp->set_mac_listener([&](const MacEvent &ev) { seen.push_back(ev); });
	auto mac = *parse_mac("02:00:00:00:03:33");
	auto frame = table::build_frame({"02:00:00:00:03:33", "02:00:00:00:03:44",
					 "10.3.0.1", "10.3.0.2", 0, 32});
	int m1p = packet_socket("m1p");
	REQUIRE(::send(m1p, frame.data(), frame.size(), 0) > 0);
	::close(m1p);
	auto wait_for = [&](MacEvent::Kind kind) {
		for (int i = 0; i < 20; ++i) {
			pollfd p{dp->event_fd(), POLLIN, 0};
			if (::poll(&p, 1, 100) > 0)
				dp->process_events();
			for (const auto &ev : seen)
				if (ev.mac == mac && ev.kind == kind)
					return ev;
		}
		FAIL("no MAC event");
		return MacEvent{};
	};
	auto ev = wait_for(MacEvent::Kind::Learned);
	CHECK(ev.ifindex == if_nametoindex("m1"));
	CHECK(ev.vni == 300);
	seen.clear();
	dp->dump_macs();
	bool dumped = false;
	for (const auto &d : seen) {
		dumped |= d.mac == mac;
		CHECK(d.ifindex != 0); // only host-port entries, no permanent ones
	}
	CHECK(dumped);
	seen.clear();
	sh("bridge fdb del 02:00:00:00:03:33 dev m1 master");
	wait_for(MacEvent::Kind::Removed);

	// A host moving here: zebra's remote (extern_learn) entry is replaced
	// by a local one that keeps the flag. It is a local MAC all the same.
	sh("ip link add vxlan300 type vxlan id 300 dstport 4789 nolearning && "
	   "ip link set vxlan300 master br300 up && "
	   "bridge fdb add 02:00:00:00:03:33 dev vxlan300 master extern_learn");
	dp->process_events();
	for (const auto &ev : seen)
		CHECK(ev.ifindex != if_nametoindex("vxlan300")); // remote: not reported
	seen.clear();
	sh("bridge fdb replace 02:00:00:00:03:33 dev m1 master static");
	ev = wait_for(MacEvent::Kind::Learned);
	CHECK(ev.ifindex == if_nametoindex("m1"));
	sh("ip link del vxlan300");
}

namespace {

// An entry 1: h1's frames (02:00:00:00:00:01, VNI 100) copied to srv.
Entry watched_entry()
{
	Entry e;
	e.key.kind = EntryKind::MirrorSource;
	e.key.vni = 100;
	e.key.host.mac = parse_mac("02:00:00:00:00:01");
	e.key.host_id = 7;
	e.key.session = "hook";
	e.action.ifindex = if_nametoindex("srv");
	return e;
}

} // namespace

TEST_CASE("a port plugged into the bridge after start gets the program")
{
	auto dp = make_dataplane("linux", switch_config());
	// The VNI has a session: its ports carry the mirror program.
	REQUIRE_FALSE(dp->install(watched_entry()));
	sh("ip link add h9 type veth peer name h9p && ip link set h9p up && "
	   "ip link set h9 master br100 up && "
	   "bridge link set dev h9 learning off flood off mcast_flood off bcast_flood off");
	for (int i = 0; i < 10 && tc_filter_count("h9") == 0; ++i) {
		pollfd p{dp->event_fd(), POLLIN, 0};
		if (::poll(&p, 1, 100) > 0)
			dp->process_events();
	}
	REQUIRE(tc_filter_count("h9") == 1);
	Entry e;
	e.key.kind = EntryKind::MirrorSource;
	e.key.vni = 100;
	e.key.host.mac = parse_mac("02:00:00:00:00:09");
	e.key.host_id = 7;
	e.action.ifindex = if_nametoindex("srv");
	REQUIRE_FALSE(dp->install(e));
	auto frame = table::build_frame({"02:00:00:00:00:09", "02:00:00:00:00:02",
					 "10.1.0.9", "10.1.0.2", 0, 32});
	int tx = packet_socket("h9p");
	REQUIRE(::send(tx, frame.data(), frame.size(), 0) > 0);
	::close(tx);
	CHECK(packets_when(*dp, e.key, 1) == 1);
	sh("ip link set h9 nomaster");
	for (int i = 0; i < 10 && tc_filter_count("h9") == 1; ++i) {
		pollfd p{dp->event_fd(), POLLIN, 0};
		if (::poll(&p, 1, 100) > 0)
			dp->process_events();
	}
	CHECK(tc_filter_count("h9") == 0);
	sh("ip link del h9");
	dp->process_events();
}

// Drops of this network namespace's netlink sockets (/proc/net/netlink,
// column Drops): how the test knows that its flood overran the listener.
std::uint64_t netlink_drops()
{
	std::ifstream f("/proc/net/netlink");
	std::string line;
	std::getline(f, line); // header
	std::uint64_t sum = 0;
	while (std::getline(f, line)) {
		std::istringstream in(line);
		std::string sk, eth, pid, groups, rmem, wmem, dump, locks, drops;
		if (in >> sk >> eth >> pid >> groups >> rmem >> wmem >> dump >> locks >> drops &&
		    eth == "0") // NETLINK_ROUTE
			sum += std::stoull(drops);
	}
	return sum;
}

TEST_CASE("after a netlink overrun, ports plugged and unplugged meanwhile are found again")
{
	auto dp = make_dataplane("linux", switch_config());
	REQUIRE_FALSE(dp->install(watched_entry())); // VNI 100's ports carry the program
	auto settle = [&] {
		for (int i = 0; i < 20; ++i) {
			pollfd p{dp->event_fd(), POLLIN, 0};
			if (::poll(&p, 1, 50) > 0)
				dp->process_events();
		}
	};
	sh("ip link add h7 type veth peer name h7p && ip link set h7p up && "
	   "ip link set h7 master br100 up");
	sh("ip link add h6 type veth peer name h6p && ip link set h6p up && "
	   "ip link set h6 master br100 up");
	settle();
	REQUIRE(tc_filter_count("h7") == 1);
	// Unread notifications past the listener's buffer: 40,000 FDB entries.
	const std::uint64_t drops_before = netlink_drops();
	{
		std::ofstream batch("/tmp/evpnmon-test-overrun.batch");
		for (int i = 0; i < 40000; ++i) {
			char line[80];
			std::snprintf(line, sizeof line,
				      "fdb add 02:aa:00:%02x:%02x:%02x dev h6 master static\n",
				      (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
			batch << line;
		}
	}
	sh("bridge -batch /tmp/evpnmon-test-overrun.batch");
	std::remove("/tmp/evpnmon-test-overrun.batch");
	// Their link notifications are lost with the rest.
	sh("ip link add h8 type veth peer name h8p && ip link set h8p up && "
	   "ip link set h8 master br100 up");
	sh("ip link set h7 nomaster");
	REQUIRE(netlink_drops() > drops_before); // the premise: an overrun
	CHECK(tc_filter_count("h8") == 0);
	CHECK(tc_filter_count("h7") == 1);
	dp->process_events();
	CHECK(tc_filter_count("h8") == 1);
	CHECK(tc_filter_count("h7") == 0);
	sh("ip link del h8 && ip link del h7 && ip link del h6");
	settle();
}

TEST_CASE("an existing mirror device is checked before it is adopted")
{
	sh("ip link add evpnmon0 type vxlan external dstport 4790"); // no gbp
	CHECK_THROWS_AS(make_dataplane("linux", switch_config()), std::system_error);
	CHECK_FALSE(std::filesystem::exists(g_pin)); // a failed start leaves no pins
	sh("ip link del evpnmon0");
	sh("ip link add evpnmon0 type vxlan external gbp dstport 4791"); // wrong port
	CHECK_THROWS_AS(make_dataplane("linux", switch_config()), std::system_error);
	sh("ip link del evpnmon0");
	sh("ip link add evpnmon0 type vxlan external gbp dstport 4790"); // operator's
	{
		auto dp = make_dataplane("linux", switch_config());
		CHECK(dp->list().empty());
	}
	CHECK(if_nametoindex("evpnmon0") != 0); // not ours: left in place
	sh("ip link del evpnmon0");
	CHECK_FALSE(std::filesystem::exists(g_pin)); // failed starts left no pins
}

TEST_CASE("incompatible pins of another version are replaced; one process per pin dir")
{
	std::filesystem::create_directories(g_pin);
	// A "dp_match" of a different layout, as an older version could leave.
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "dp_match", 4, 4, 16, nullptr);
	REQUIRE(fd >= 0);
	REQUIRE(bpf_obj_pin(fd, (g_pin + "/dp_match").c_str()) == 0);
	::close(fd);
	{
		auto dp = make_dataplane("linux", switch_config());
		CHECK(dp->list().empty());
		Entry e;
		e.key.kind = EntryKind::Decap;
		e.key.vni = 100;
		e.key.host_id = 5;
		e.action.ifindex = if_nametoindex("srv");
		CHECK_FALSE(dp->install(e));
		// A second instance on the same pin directory is refused.
		CHECK_THROWS_AS(make_dataplane("linux", switch_config()), std::system_error);
		CHECK(if_nametoindex("evpnmon0") != 0); // the first one's device stays
		// ... and so does its egress program on the entry 3's port.
		CHECK(attached_program_id(static_cast<int>(if_nametoindex("srv")), true) != 0);
	}
	CHECK_FALSE(std::filesystem::exists(g_pin));
}

namespace {

// The i-th of a set of distinct entries of every kind (MAC 02:00:00:01:hi:lo),
// all copying to srv.
Entry capacity_entry(std::uint32_t i)
{
	Entry e;
	e.key.vni = 100;
	e.action.ifindex = if_nametoindex("srv");
	if (i % 3 == 2) {
		e.key.kind = EntryKind::Decap;
		e.key.host_id = static_cast<std::uint16_t>(100 + i);
		return e;
	}
	e.key.kind = i % 3 ? EntryKind::MirrorDest : EntryKind::MirrorSource;
	e.key.host.mac = Mac{0x02, 0, 0, 0x01, static_cast<std::uint8_t>(i >> 8),
			     static_cast<std::uint8_t>(i)};
	e.key.host_id = 7;
	return e;
}

// A pinned map of the backend: its max_entries and how many elements it holds.
struct MapSize {
	std::uint32_t max_entries = 0;
	std::uint32_t value_size = 0;
	std::size_t elements = 0;
};

MapSize pinned_map(const std::string &name)
{
	MapSize m;
	int fd = bpf_obj_get((g_pin + "/" + name).c_str());
	REQUIRE(fd >= 0);
	bpf_map_info info{};
	std::uint32_t len = sizeof info;
	REQUIRE(bpf_obj_get_info_by_fd(fd, &info, &len) == 0);
	m.max_entries = info.max_entries;
	m.value_size = info.value_size;
	if (info.type != BPF_MAP_TYPE_PERCPU_ARRAY) {
		std::vector<std::uint8_t> k(info.key_size), next(info.key_size);
		void *prev = nullptr;
		while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
			++m.elements;
			k = next;
			prev = k.data();
		}
	}
	::close(fd);
	return m;
}

Config sized_config(std::uint32_t max_entries, bool keep = false)
{
	Config c = switch_config(keep);
	c.max_entries = max_entries;
	return c;
}

} // namespace

// The revision of a device's tcx egress hook (raised by every attach and
// detach; Linux 6.6+, 0 without tcx). Debian 12's headers predate tcx:
// BPF_PROG_QUERY's attribute as Linux 6.6 defines it.
std::uint64_t tcx_egress_revision(const std::string &dev)
{
	struct {
		std::uint32_t target_ifindex, attach_type, query_flags, attach_flags;
		std::uint64_t prog_ids;
		std::uint32_t count, pad;
		std::uint64_t prog_attach_flags, link_ids, link_attach_flags, revision;
	} q{};
	q.target_ifindex = if_nametoindex(dev.c_str());
	q.attach_type = 47; // BPF_TCX_EGRESS
	if (::syscall(__NR_bpf, BPF_PROG_QUERY, &q, sizeof q) != 0)
		return 0;
	return q.revision;
}

TEST_CASE("capacity: entry maps sized by max_entries; full = E2BIG, nothing half-written")
{
	auto dp = make_dataplane("linux", sized_config(64));
	for (auto name : {"dp_match", "dp_decap", "dp_meta", "dp_stats"})
		CHECK_MESSAGE(pinned_map(name).max_entries == 64, name);
	std::size_t lookups = 0, decaps = 0;
	for (std::uint32_t i = 0; i < 64; ++i) {
		REQUIRE_FALSE(dp->install(capacity_entry(i)));
		(i % 3 == 2 ? decaps : lookups)++;
	}
	// A refused entry of each kind: 66 is an entry 1, 64 an entry 2, 65 an entry 3.
	const Entry extra = capacity_entry(66);
	REQUIRE(extra.key.kind == EntryKind::MirrorSource);
	for (std::uint32_t i : {64u, 65u, 66u}) {
		const auto ec = dp->install(capacity_entry(i));
		CHECK(ec == std::errc::argument_list_too_long);
		CHECK(is_capacity_error(ec));
	}
	// Refused before any program is attached for it: an entry copying to
	// a port without the egress program (h3) leaves that port's hook as it
	// was, not attached and detached again on every retry. tcx counts each
	// change of a hook in its revision, kept while the hook holds some
	// program: here one of somebody else's that passes everything.
	Entry elsewhere = capacity_entry(66);
	elsewhere.action.ifindex = if_nametoindex("h3");
	bpf_insn pass[2] = {};
	pass[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
	pass[0].dst_reg = BPF_REG_0;
	pass[0].imm = -1; // TCX_NEXT
	pass[1].code = BPF_JMP | BPF_EXIT;
	const int other = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "pass_all", "GPL", pass, 2, nullptr);
	REQUIRE(other >= 0);
	const int link = bpf_link_create(other, static_cast<int>(if_nametoindex("h3")),
					 static_cast<bpf_attach_type>(47 /* BPF_TCX_EGRESS */), nullptr);
	const auto revision = tcx_egress_revision("h3");
	CHECK(dp->install(elsewhere) == std::errc::argument_list_too_long);
	if (link >= 0) // a kernel with tcx
		CHECK(tcx_egress_revision("h3") == revision);
	if (link >= 0)
		::close(link);
	::close(other);
	CHECK(dp->list().size() == 64);
	CHECK_FALSE(dp->counters(extra.key));
	REQUIRE_FALSE(dp->flush());
	CHECK(pinned_map("dp_meta").elements == 64);
	CHECK(pinned_map("dp_match").elements == lookups);
	CHECK(pinned_map("dp_decap").elements == decaps);
	// Replacing an installed entry is no new entry: still allowed.
	Entry repl = capacity_entry(3);
	repl.action.ifindex = if_nametoindex("h2");
	CHECK_FALSE(dp->install(repl));
	// One removed: the refused entry fits (its packets are mirrored), and
	// then the next one does not.
	REQUIRE_FALSE(dp->remove(capacity_entry(0).key));
	REQUIRE_FALSE(dp->install(extra));
	CHECK(dp->list().size() == 64);
	REQUIRE_FALSE(dp->flush());
	CHECK(pinned_map("dp_meta").elements == 64);
	CHECK(pinned_map("dp_match").elements == lookups);
	auto frame = table::build_frame({"02:00:00:01:00:42", "02:00:00:00:99:99",
					 "10.1.0.1", "10.1.0.2", 0, 32});
	int h1p = packet_socket("h1p");
	REQUIRE(::send(h1p, frame.data(), frame.size(), 0) > 0);
	::close(h1p);
	std::uint64_t packets = 0;
	for (int i = 0; i < 100 && packets == 0; ++i) {
		packets = dp->counters(extra.key)->packets;
		if (packets == 0)
			::usleep(20000);
	}
	CHECK(packets == 1);
	CHECK(is_capacity_error(dp->install(capacity_entry(0))));
	REQUIRE_FALSE(dp->flush());
	CHECK(pinned_map("dp_meta").elements == 64);
}

TEST_CASE("capacity: the default size; pins of another size are replaced, same size adopted")
{
	{
		auto dp = make_dataplane("linux", switch_config());
		CHECK(pinned_map("dp_stats").max_entries == kDefaultMaxEntries);
		CHECK(pinned_map("dp_meta").max_entries == kDefaultMaxEntries);
	}
	{
		auto dp = make_dataplane("linux", sized_config(64, true));
		for (std::uint32_t i = 0; i < 64; ++i)
			REQUIRE_FALSE(dp->install(capacity_entry(i)));
	}
	{
		auto dp = make_dataplane("linux", sized_config(64, true));
		CHECK(dp->list().size() == 64); // same size: adopted
		CHECK(is_capacity_error(dp->install(capacity_entry(64))));
	}
	{
		// Another size: the old maps cannot be reused; they are replaced
		// (the consumer reinstalls what it wants).
		auto dp = make_dataplane("linux", sized_config(128));
		CHECK(dp->list().empty());
		CHECK(pinned_map("dp_meta").max_entries == 128);
		CHECK(pinned_map("dp_meta").elements == 0);
		for (std::uint32_t i = 0; i < 128; ++i)
			REQUIRE_FALSE(dp->install(capacity_entry(i)));
		CHECK(is_capacity_error(dp->install(capacity_entry(128))));
	}
	CHECK_FALSE(std::filesystem::exists(g_pin));
	auto bad = sized_config(0);
	CHECK_THROWS_AS(make_dataplane("linux", bad), std::invalid_argument);
	bad.max_entries = static_cast<std::uint32_t>(kMaxEntriesLimit + 1);
	CHECK_THROWS_AS(make_dataplane("linux", bad), std::invalid_argument);
	CHECK_FALSE(std::filesystem::exists(g_pin));
}

// dp_meta (what a restart adopts) is written in batches: at flush(), when
// a batch is full, and when the dataplane is destroyed. Whatever the
// order of changes before a write, the next run adopts exactly what was
// installed last: a replaced entry with its new action, a removed one not
// at all (also one removed before its description was written).
TEST_CASE("entry descriptions written in batches: a restart adopts exactly what was installed")
{
	const Entry a = capacity_entry(0), b = capacity_entry(1), c = capacity_entry(3);
	Entry b2 = b;
	b2.action.ifindex = if_nametoindex("h3");
	std::set<EntryKey> many;
	{
		auto dp = make_dataplane("linux", switch_config(true));
		REQUIRE_FALSE(dp->install(a));
		REQUIRE_FALSE(dp->install(b));
		REQUIRE_FALSE(dp->flush());
		CHECK(pinned_map("dp_meta").elements == 2);
		REQUIRE_FALSE(dp->remove(a.key));
		REQUIRE_FALSE(dp->install(c)); // a's slot
		REQUIRE_FALSE(dp->install(b2));
		// More than one batch without a flush: the full batches are
		// written on their own.
		for (std::uint32_t i = 100; i < 1300; ++i) {
			REQUIRE_FALSE(dp->install(capacity_entry(i)));
			many.insert(capacity_entry(i).key);
		}
		CHECK(pinned_map("dp_meta").elements >= 1024);
		for (auto i = 1200u; i < 1300; ++i) {
			REQUIRE_FALSE(dp->remove(capacity_entry(i).key));
			many.erase(capacity_entry(i).key);
		}
	} // keep_on_exit: the rest is written now
	{
		auto dp = make_dataplane("linux", switch_config(false));
		std::map<EntryKey, Entry> got;
		for (const auto &e : dp->list())
			got[e.key] = e;
		CHECK(got.size() == many.size() + 2);
		CHECK_FALSE(got.contains(a.key));
		REQUIRE(got.contains(b.key));
		CHECK(got.at(b.key) == b2);
		REQUIRE(got.contains(c.key));
		CHECK(got.at(c.key) == c);
		std::size_t missing = 0;
		for (const auto &k : many)
			missing += !got.contains(k);
		CHECK(missing == 0);
		CHECK(pinned_map("dp_meta").elements == got.size());
	}
}

// A consumer that dies with descriptions not yet written: the next run
// drops the lookups they would have named (nothing mirrors for an entry
// nobody knows of) and adopts the rest.
TEST_CASE("entry descriptions not yet written when the process dies: those lookups are dropped")
{
	const Entry kept = capacity_entry(0), lost = capacity_entry(3);
	const pid_t child = ::fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		try {
			auto dp = make_dataplane("linux", switch_config(true));
			const bool ok = !dp->install(kept) && !dp->flush() && !dp->install(lost) &&
					pinned_map("dp_meta").elements == 1 &&
					pinned_map("dp_match").elements == 2;
			::_exit(ok ? 0 : 1); // with dp alive: no destructor writes anything
		} catch (...) {
		}
		::_exit(1);
	}
	int status = 0;
	REQUIRE(::waitpid(child, &status, 0) == child);
	REQUIRE(WIFEXITED(status));
	REQUIRE(WEXITSTATUS(status) == 0);
	auto dp = make_dataplane("linux", switch_config(false));
	const auto l = dp->list();
	REQUIRE(l.size() == 1);
	CHECK(l[0] == kept);
	CHECK(pinned_map("dp_match").elements == 1);
}


namespace {

// The bits set in the pinned dp_match_bits, and the bits the keys of the
// pinned dp_match hash to (what the programs need: no fewer).
struct PinnedBits {
	std::set<std::uint32_t> set, of_keys;
	std::size_t keys = 0;
};

PinnedBits pinned_bits()
{
	PinnedBits b;
	const int bits = bpf_obj_get((g_pin + "/dp_match_bits").c_str());
	REQUIRE(bits >= 0);
	bpf_map_info info{};
	std::uint32_t len = sizeof info;
	REQUIRE(bpf_obj_get_info_by_fd(bits, &info, &len) == 0);
	REQUIRE(info.max_entries == 1);
	std::vector<std::uint64_t> words(info.value_size / 8);
	const std::uint32_t zero = 0;
	REQUIRE(bpf_map_lookup_elem(bits, &zero, words.data()) == 0);
	for (std::uint32_t w = 0; w < words.size(); ++w)
		for (std::uint32_t i = 0; i < 64; ++i)
			if ((words[w] >> i) & 1)
				b.set.insert(w * 64 + i);
	::close(bits);
	const auto mask = static_cast<std::uint32_t>(words.size() * 64 - 1);
	const int match = bpf_obj_get((g_pin + "/dp_match").c_str());
	REQUIRE(match >= 0);
	dp_match_key k{}, next{};
	dp_match_key *prev = nullptr;
	while (bpf_map_get_next_key(match, prev, &next) == 0) {
		b.of_keys.insert(dp_match_bit(&next, mask));
		++b.keys;
		k = next;
		prev = &k;
	}
	::close(match);
	return b;
}

// Entries 1/2 of every key type: MAC (capacity_entry), IPv4 and IPv6
// hosts without a MAC, and a second server on some of the keys.
std::vector<Entry> bits_entries(std::uint32_t n)
{
	std::vector<Entry> out;
	for (std::uint32_t i = 0; i < n; ++i) {
		Entry e = capacity_entry(i);
		if (e.key.kind == EntryKind::Decap)
			continue;
		if (i % 5 == 1) {
			e.key.host.mac.reset();
			e.key.host.ip = parse_ip("10.9." + std::to_string(i >> 8) + "." +
						 std::to_string(i & 0xff));
		} else if (i % 5 == 3) {
			e.key.host.mac.reset();
			e.key.host.ip = parse_ip("fd00::9:" + std::to_string(i));
		}
		out.push_back(e);
		if (i % 7 == 0) {
			e.key.host_id = 8;
			e.action.ifindex = if_nametoindex("h3");
			out.push_back(e);
		}
	}
	return out;
}

} // namespace

// dp_match_bits lets the programs skip the lookup of a key whose bit is
// clear: a key with a dp_match element must always have its bit, and a
// bit that no key needs any more should not stay set (each one costs a
// lookup per packet that hashes to it).
TEST_CASE("dp_match_bits: exactly the bits of the keys in dp_match, through removals and a restart")
{
	const auto entries = bits_entries(1500);
	std::optional<std::uint32_t> stray;
	{
		auto dp = make_dataplane("linux", sized_config(2048, true));
		CHECK(pinned_map("dp_match_bits").max_entries == 1);
		CHECK(pinned_map("dp_match_bits").value_size == 2048 * 16 / 8);
		for (const auto &e : entries)
			REQUIRE_FALSE(dp->install(e));
		auto b = pinned_bits();
		REQUIRE(b.keys > 900);
		CHECK(b.set == b.of_keys);
		// Every other entry removed: a key shared by two entries keeps
		// its bit while one of them remains.
		for (std::size_t i = 0; i < entries.size(); i += 2)
			REQUIRE_FALSE(dp->remove(entries[i].key));
		b = pinned_bits();
		REQUIRE(b.keys > 400);
		CHECK(b.set == b.of_keys);
		// A bit no key has, as a crash between a deletion and its clear
		// would leave it: the next run clears it.
		const int fd = bpf_obj_get((g_pin + "/dp_match_bits").c_str());
		REQUIRE(fd >= 0);
		std::vector<std::uint64_t> words(2048 * 16 / 64);
		const std::uint32_t zero = 0;
		REQUIRE(bpf_map_lookup_elem(fd, &zero, words.data()) == 0);
		for (std::uint32_t w = 0; w < words.size() && !stray; ++w)
			for (std::uint32_t i = 0; i < 64 && !stray; ++i)
				if (!((words[w] >> i) & 1)) {
					words[w] |= std::uint64_t{1} << i;
					REQUIRE(bpf_map_update_elem(fd, &zero, words.data(), BPF_ANY) == 0);
					stray = w * 64 + i;
				}
		::close(fd);
		REQUIRE(stray);
		REQUIRE(pinned_bits().set.contains(*stray));
	}
	auto dp = make_dataplane("linux", sized_config(2048, false));
	auto b = pinned_bits();
	CHECK(dp->list().size() == entries.size() / 2);
	CHECK_FALSE(b.set.contains(*stray));
	CHECK(b.set == b.of_keys);
	for (const auto &e : dp->list())
		REQUIRE_FALSE(dp->remove(e.key));
	b = pinned_bits();
	CHECK(b.keys == 0);
	CHECK(b.set.empty());
}

namespace {

std::vector<std::uint8_t> bytes_of(const auto &x)
{
	const auto *b = reinterpret_cast<const std::uint8_t *>(&x);
	return {b, b + sizeof x};
}

// dp_match as the kernel holds it: key bytes -> element.
std::map<std::vector<std::uint8_t>, dp_match_val> dump_match()
{
	std::map<std::vector<std::uint8_t>, dp_match_val> out;
	const int fd = bpf_obj_get((g_pin + "/dp_match").c_str());
	REQUIRE(fd >= 0);
	dp_match_key k{}, next{};
	dp_match_key *prev = nullptr;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		dp_match_val v{};
		REQUIRE(bpf_map_lookup_elem(fd, &next, &v) == 0);
		out.emplace(bytes_of(next), v);
		k = next;
		prev = &k;
	}
	::close(fd);
	return out;
}

std::optional<dp_match_val> match_elem(const EntryKey &key)
{
	const auto all = dump_match();
	auto it = all.find(bytes_of(codec::match_key(key)));
	if (it == all.end())
		return std::nullopt;
	return it->second;
}

// The first n entries 1/2 of capacity_entry() (decap entries skipped).
std::vector<Entry> lookup_entries(std::size_t n)
{
	std::vector<Entry> out;
	for (std::uint32_t i = 0; out.size() < n; ++i)
		if (Entry e = capacity_entry(i); e.key.kind != EntryKind::Decap)
			out.push_back(e);
	return out;
}

bool egress_on(const char *dev)
{
	return attached_program_id(static_cast<int>(if_nametoindex(dev)), true) != 0;
}

} // namespace

// The consumer applies each pass as one batch (Dataplane::begin_batch):
// the lookups reach the kernel at the flush, in two system calls, and
// whatever an old state names (an entry's counter slot, the egress rule
// of the port its copies went to) stays until the flush has replaced it.
TEST_CASE("a batch: its lookups reach the kernel at the flush; nothing they name goes before")
{
	auto dp = make_dataplane("linux", switch_config());
	Entry a = watched_entry(); // h1's frames to srv
	dp->begin_batch();
	REQUIRE_FALSE(dp->install(a));
	CHECK(dp->list().size() == 1);
	CHECK(dump_match().empty());
	CHECK(egress_on("srv")); // in place before any lookup copies there
	REQUIRE_FALSE(dp->flush());
	const auto va = match_elem(a.key);
	REQUIRE(va);
	REQUIRE(va->n == 1);
	const dp_u32 slot_a = va->slots[0].stat_idx;

	Entry b = watched_entry(); // another host's frames to h3
	b.key.host.mac = parse_mac("02:00:00:00:00:02");
	b.key.session = "other";
	b.action.ifindex = if_nametoindex("h3");
	dp->begin_batch();
	REQUIRE_FALSE(dp->remove(a.key));
	REQUIRE_FALSE(dp->install(b));
	REQUIRE(dp->list().size() == 1);
	CHECK(dp->list()[0].key == b.key);
	CHECK(match_elem(a.key)); // until the flush
	CHECK_FALSE(match_elem(b.key));
	CHECK(egress_on("srv"));
	REQUIRE_FALSE(dp->flush());
	CHECK_FALSE(match_elem(a.key));
	const auto vb = match_elem(b.key);
	REQUIRE(vb);
	CHECK(vb->slots[0].stat_idx != slot_a); // a's slot was still named
	CHECK_FALSE(egress_on("srv"));
	CHECK(egress_on("h3"));
	auto bits = pinned_bits();
	CHECK(bits.keys == 1);
	CHECK(bits.set == bits.of_keys);

	// After the flush a's slot is free: the next new entry takes it.
	Entry c = b;
	c.key.host.mac = parse_mac("02:00:00:00:00:03");
	c.key.session = "third";
	dp->begin_batch();
	REQUIRE_FALSE(dp->install(c));
	REQUIRE_FALSE(dp->flush());
	const auto vc = match_elem(c.key);
	REQUIRE(vc);
	CHECK(vc->slots[0].stat_idx == slot_a);
}

// The descriptions for a restart go to the kernel every 1,024 on their
// own; the batch's lookups still wait for the flush.
TEST_CASE("a batch larger than the descriptions' batch still reaches the lookups at the flush")
{
	auto dp = make_dataplane("linux", sized_config(2048));
	const auto entries = bits_entries(1500);
	REQUIRE(entries.size() > 1024);
	dp->begin_batch();
	for (const auto &e : entries)
		REQUIRE_FALSE(dp->install(e));
	CHECK(pinned_map("dp_meta").elements >= 1024);
	CHECK(dump_match().empty());
	REQUIRE_FALSE(dp->flush());
	CHECK(pinned_map("dp_meta").elements == entries.size());
	CHECK(dump_match().size() == pinned_bits().keys);
	CHECK(pinned_bits().keys > 900);
}

// Pending lookups are written 4,096 at a time before the flush: a batch's
// memory stays bounded however many entries it changes.
TEST_CASE("a batch of more than 4,096 lookups writes them 4,096 at a time, the rest at the flush")
{
	auto dp = make_dataplane("linux", sized_config(16384));
	const auto entries = lookup_entries(5000);
	dp->begin_batch();
	for (const auto &e : entries)
		REQUIRE_FALSE(dp->install(e));
	CHECK(dump_match().size() == 4096);
	REQUIRE_FALSE(dp->flush());
	CHECK(dump_match().size() == entries.size());
	const auto bits = pinned_bits();
	CHECK(bits.set == bits.of_keys);
}

// A batch nobody flushes is written by the backend's own timer (within a
// second), so a caller that forgets cannot leave the packet path behind.
TEST_CASE("a batch left open reaches the kernel at the backend's next tick")
{
	LinuxHarness h;
	Entry a = watched_entry();
	h.dp->begin_batch();
	REQUIRE_FALSE(h.dp->install(a));
	REQUIRE_FALSE(match_elem(a.key));
	const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
	while (!match_elem(a.key) && std::chrono::steady_clock::now() < until) {
		pollfd p{h.dp->event_fd(), POLLIN, 0};
		if (::poll(&p, 1, 100) > 0)
			h.dp->process_events();
	}
	CHECK(match_elem(a.key));
}

namespace {

// Random installs, replacements and removals (decap entries among them)
// in batches of random size: between flushes dp_match moves only by
// whole 4,096-element writes and every key it holds keeps its bit; after
// each flush it holds exactly what the entries say (the elements' keys,
// their entries in key order, each entry its own counter slot), the key
// bits match, and dp_meta describes exactly the installed entries.
void batch_walk(std::uint32_t max_entries, std::uint32_t pool_n, int steps,
		std::uint64_t max_batch)
{
	auto dp = make_dataplane("linux", sized_config(max_entries));
	auto pool = bits_entries(pool_n);
	for (std::uint32_t i = 2; i < 300; i += 3) // decap entries: slots freed at once
		pool.push_back(capacity_entry(i));
	std::uint64_t rng = 0x9e3779b97f4a7c15 ^ max_batch;
	auto next = [&rng](std::uint64_t n) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		return rng % n;
	};
	std::set<std::size_t> in;
	auto flushed = dump_match();
	std::size_t flushes = 0, replaced = 0, removed = 0, early = 0;
	for (int step = 0; step < steps;) {
		dp->begin_batch();
		const auto size = 1 + next(max_batch);
		for (std::size_t i = 0; i < size; ++i, ++step) {
			const std::size_t j = next(pool.size());
			Entry e = pool[j];
			if (!in.contains(j)) {
				REQUIRE_FALSE(dp->install(e));
				in.insert(j);
			} else if (next(2)) {
				e.action.ifindex = if_nametoindex(next(2) ? "h2" : "srv");
				REQUIRE_FALSE(dp->install(e));
				++replaced;
			} else {
				REQUIRE_FALSE(dp->remove(e.key));
				in.erase(j);
				++removed;
			}
		}
		{
			const auto now = dump_match();
			bool same = now.size() == flushed.size();
			for (const auto &[k, v] : now)
				same = same && flushed.contains(k) &&
				       bytes_of(flushed.at(k)) == bytes_of(v);
			if (size < 4096)
				REQUIRE_MESSAGE(same, "dp_match changed before the flush");
			early += !same;
			const auto bits = pinned_bits();
			for (auto b : bits.of_keys)
				REQUIRE_MESSAGE(bits.set.contains(b), "a key without its bit");
		}
		REQUIRE_FALSE(dp->flush());
		++flushes;
		flushed = dump_match();
		std::map<std::vector<std::uint8_t>, std::vector<Entry>> groups;
		const auto listed = dp->list(); // key order
		for (const auto &e : listed)
			if (e.key.kind != EntryKind::Decap)
				groups[bytes_of(codec::match_key(e.key))].push_back(e);
		REQUIRE(listed.size() == in.size());
		REQUIRE(pinned_map("dp_meta").elements == in.size()); // what a restart adopts
		REQUIRE(flushed.size() == groups.size());
		std::set<dp_u32> slots;
		for (const auto &[k, es] : groups) {
			REQUIRE(flushed.contains(k));
			const auto &v = flushed.at(k);
			REQUIRE(v.n == es.size());
			for (std::size_t i = 0; i < es.size(); ++i) {
				CHECK(bytes_of(v.slots[i].action) ==
				      bytes_of(codec::action(es[i].action)));
				CHECK(slots.insert(v.slots[i].stat_idx).second);
			}
		}
		const auto bits = pinned_bits();
		REQUIRE(bits.set == bits.of_keys);
	}
	CHECK(flushes > 5);
	CHECK(replaced > 200);
	CHECK(removed > 200);
	if (max_batch > 4096) // the path under test: writes while a batch is open
		CHECK(early > 0);
}

} // namespace

TEST_CASE("batches: after every flush dp_match holds exactly the installed entries")
{
	batch_walk(2048, 400, 3000, 150);
}

// Batches of up to 12,000 changes over about 6,900 entries (6,000 keys):
// the pending lookups are written 4,096 at a time and the descriptions
// 1,024 at a time while the batch is open, so freed slots are taken by
// new entries before the flush.
TEST_CASE("batches of thousands: writes before the flush leave the same maps")
{
	batch_walk(16384, 9000, 48000, 12000);
}

// A full table: a batch that removes one entry and installs another makes
// room by writing its pending lookups (the removal's slot is then free),
// as the removal alone did without a batch.
TEST_CASE("a batch at a full table: its removals make room for its installs")
{
	auto dp = make_dataplane("linux", sized_config(8));
	const auto es = lookup_entries(9);
	dp->begin_batch();
	for (std::size_t i = 0; i < 8; ++i)
		REQUIRE_FALSE(dp->install(es[i]));
	REQUIRE_FALSE(dp->flush());
	CHECK(is_capacity_error(dp->install(es[8])));
	dp->begin_batch();
	REQUIRE_FALSE(dp->remove(es[0].key));
	REQUIRE_FALSE(dp->install(es[8]));
	REQUIRE_FALSE(dp->flush());
	CHECK(dp->list().size() == 8);
	CHECK_FALSE(match_elem(es[0].key));
	CHECK(match_elem(es[8].key));
}

// A restart with another max_entries replaces the entry maps (nothing is
// adopted); dp_match_bits must then hold no bit of the old keys, whether
// its own size stayed (64 -> 128 entries: both have the 4,096-bit floor)
// or changed with them (2,048 -> 4,096 entries).
TEST_CASE("dp_match_bits: a restart with another map size keeps no bit of the old keys")
{
	using evpnmon::dp::linux_dp::match_bits_words;
	for (auto [from, to] : {std::pair{64u, 128u}, std::pair{2048u, 4096u}}) {
		CAPTURE(from);
		CAPTURE(to);
		{
			auto dp = make_dataplane("linux", sized_config(from, true));
			for (std::uint32_t i = 0; i < from; ++i)
				if (capacity_entry(i).key.kind != EntryKind::Decap)
					REQUIRE_FALSE(dp->install(capacity_entry(i)));
			REQUIRE_FALSE(pinned_bits().set.empty());
		}
		auto dp = make_dataplane("linux", sized_config(to, false));
		CHECK(dp->list().empty());
		CHECK(pinned_map("dp_match_bits").value_size == match_bits_words(to) * 8);
		auto b = pinned_bits();
		CHECK(b.keys == 0);
		CHECK(b.set.empty());
		const Entry e = capacity_entry(to - 1 - (to - 1) % 3); // an entry 1
		REQUIRE_FALSE(dp->install(e));
		b = pinned_bits();
		CHECK(b.keys == 1);
		CHECK(b.set == b.of_keys);
	}
}

// Pins of a version without dp_match_bits: the entries are adopted, and
// the map (new, all zero) gets the bits of every adopted key before the
// programs are attached, or every adopted entry would go unmatched.
TEST_CASE("dp_match_bits: an upgrade from pins without it sets the adopted keys' bits")
{
	const auto entries = bits_entries(300);
	{
		auto dp = make_dataplane("linux", sized_config(2048, true));
		for (const auto &e : entries)
			REQUIRE_FALSE(dp->install(e));
	}
	REQUIRE(std::filesystem::remove(g_pin + "/dp_match_bits"));
	auto dp = make_dataplane("linux", sized_config(2048, false));
	CHECK(dp->list().size() == entries.size());
	const auto b = pinned_bits();
	CHECK(b.keys >= 200);
	CHECK(b.set == b.of_keys);
}

// Pins of a version whose dp_match_bits had one word per element: that
// map alone is replaced (its bits are rewritten from the adopted keys);
// the load must not fail on it, which would replace every pin and adopt
// nothing.
TEST_CASE("dp_match_bits: an upgrade from one word per element adopts the entries")
{
	const auto entries = bits_entries(300);
	{
		auto dp = make_dataplane("linux", sized_config(2048, true));
		for (const auto &e : entries)
			REQUIRE_FALSE(dp->install(e));
	}
	const std::string path = g_pin + "/dp_match_bits";
	REQUIRE(std::filesystem::remove(path));
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	const int old = bpf_map_create(BPF_MAP_TYPE_ARRAY, "dp_match_bits", 4, 8,
				       2048 * 16 / 64, &opts);
	REQUIRE(old >= 0);
	REQUIRE(bpf_obj_pin(old, path.c_str()) == 0);
	::close(old);
	auto dp = make_dataplane("linux", sized_config(2048, false));
	CHECK(dp->list().size() == entries.size());
	CHECK(pinned_map("dp_match_bits").max_entries == 1);
	const auto b = pinned_bits();
	CHECK(b.keys >= 200);
	CHECK(b.set == b.of_keys);
}

// One element, 16 bits per entry, a power of two, at least 4,096 bits.
TEST_CASE("dp_match_bits: sized per entry, a power of two, at least 4,096 bits")
{
	using evpnmon::dp::linux_dp::match_bits_words;
	CHECK(match_bits_words(1) == 4096 / 64);
	CHECK(match_bits_words(2048) == 2048 * 16 / 64);
	CHECK(match_bits_words(2049) == 4096 * 16 / 64);
	CHECK(match_bits_words(1u << 24) == (1u << 28) / 64);
}

namespace {

// The programs on a device's ingress hook: ours and others, by mechanism.
struct HookState {
	std::uint32_t tcx = 0;    // tcx programs (any owner)
	bool clsact_ours = false; // our clsact filter (fixed handle/priority)
};

HookState hook_state(const std::string &dev)
{
	HookState st;
	const int ifx = static_cast<int>(if_nametoindex(dev.c_str()));
	__u32 ids[8] = {};
	LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .prog_cnt = 8);
	if (bpf_prog_query_opts(ifx, static_cast<bpf_attach_type>(46 /* BPF_TCX_INGRESS */),
				&q) == 0)
		st.tcx = q.prog_cnt;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifx, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 0xe7a0, .priority = 1);
	auto old = libbpf_set_print(nullptr);
	st.clsact_ours = bpf_tc_query(&hook, &opts) == 0;
	libbpf_set_print(old);
	return st;
}

bool kernel_has_tcx_hook()
{
	LIBBPF_OPTS(bpf_prog_query_opts, q);
	return bpf_prog_query_opts(static_cast<int>(if_nametoindex("lo")),
				   static_cast<bpf_attach_type>(46), &q) == 0;
}

// A program of somebody else that drops every packet (r0 = TC_ACT_SHOT,
// which is also tcx's TCX_DROP).
int drop_all_prog()
{
	bpf_insn insns[2] = {};
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
	insns[0].dst_reg = BPF_REG_0;
	insns[0].imm = TC_ACT_SHOT;
	insns[1].code = BPF_JMP | BPF_EXIT;
	const int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "drop_all", "GPL", insns, 2, nullptr);
	REQUIRE(fd >= 0);
	return fd;
}

// One frame h1 -> h2 with an entry 1 copying h1's frames to srv: whether
// the original reached h2, and whether the copy reached srv.
std::pair<bool, bool> send_watched(LinuxHarness &h)
{
	const auto frame = table::build_frame({"02:00:00:00:00:01", "02:00:00:00:00:02",
					       "10.1.0.1", "10.1.0.2", 0, 64});
	h.drain();
	REQUIRE(::send(h.cap.at("h1"), frame.data(), frame.size(), 0) ==
		static_cast<ssize_t>(frame.size()));
	bool original = false, copy = false;
	const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
	// The copy always arrives (the foreign program sits after ours); wait
	// for it, then one more window for the original.
	while (!copy && std::chrono::steady_clock::now() < until)
		for (const auto &o : h.collect(Output::Kind::LocalCopy)) {
			original |= o.ifindex == if_nametoindex("h2");
			copy |= o.ifindex == if_nametoindex("srv");
		}
	for (const auto &o : h.collect(Output::Kind::LocalCopy))
		original |= o.ifindex == if_nametoindex("h2");
	return {original, copy};
}

// With `hook`: our program first on h1's ingress, and a program of
// somebody else after it still decides the original's fate: a drop-all
// program behind ours drops the original, and the copy is still made.
void check_hands_on(TcHook hook)
{
	Config cfg = switch_config();
	cfg.tc_hook = hook;
	LinuxHarness h(cfg);
	REQUIRE_FALSE(h.dataplane().install(watched_entry()));
	sh("bridge fdb replace 02:00:00:00:00:02 dev h2 master static");
	CHECK(send_watched(h) == std::pair{true, true});

	const int drop = drop_all_prog();
	const int h1 = static_cast<int>(if_nametoindex("h1"));
	int link = -1;
	LIBBPF_OPTS(bpf_tc_hook, th, .ifindex = h1, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = drop, .handle = 1, .priority = 2);
	if (hook == TcHook::Tcx) {
		link = bpf_link_create(drop, h1, static_cast<bpf_attach_type>(46), nullptr);
		REQUIRE(link >= 0); // appended: after ours
	} else {
		auto old = libbpf_set_print(nullptr);
		bpf_tc_hook_create(&th); // ours made it already
		libbpf_set_print(old);
		REQUIRE(bpf_tc_attach(&th, &to) == 0); // priority 2: after ours
	}
	CHECK(send_watched(h) == std::pair{false, true});
	if (link >= 0) {
		bpf_link_detach(link);
		::close(link);
	} else {
		to.prog_fd = 0;
		to.prog_id = 0;
		to.flags = 0;
		CHECK(bpf_tc_detach(&th, &to) == 0);
	}
	::close(drop);
	CHECK(send_watched(h) == std::pair{true, true});
	sh("bridge fdb del 02:00:00:00:00:02 dev h2 master");
	REQUIRE_FALSE(h.dataplane().remove(watched_entry().key));
}

} // namespace

TEST_CASE("TC hook (clsact): other filters on the hook still decide the original")
{
	check_hands_on(TcHook::Clsact);
}

TEST_CASE("TC hook (tcx): other programs on the hook still decide the original")
{
	if (!kernel_has_tcx_hook()) {
		MESSAGE("this kernel has no tcx: clsact only");
		return;
	}
	check_hands_on(TcHook::Tcx);
}

TEST_CASE("programs only where entries need them: mirror on a VNI with sessions, egress where copies go")
{
	auto on = [](const char *dev) {
		return attached_program_id(static_cast<int>(if_nametoindex(dev)), true) != 0;
	};
	auto mirror_on = [](const char *dev) {
		return attached_program_id(static_cast<int>(if_nametoindex(dev)), false) != 0;
	};
	const auto ports = {"h1", "h2", "h3", "srv", "g1"};
	{
		auto dp = make_dataplane("linux", switch_config(true));
		for (auto p : ports) {
			CHECK_MESSAGE(!on(p), p);
			CHECK_MESSAGE(mirror_on(p), p); // on every host-facing port
		}
		Entry e = watched_entry(); // entry 1: h1's frames to srv
		REQUIRE_FALSE(dp->install(e));
		CHECK(on("srv"));
		CHECK_FALSE(on("h1"));
		for (auto p : {"h1", "h2", "h3", "srv"}) // VNI 100's ports
			CHECK_MESSAGE(mirror_on(p), p);
		CHECK(mirror_on("g1")); // VNI 200: no session, the program still
		Entry d; // entry 3 to h3
		d.key.kind = EntryKind::Decap;
		d.key.vni = 100;
		d.key.host_id = 9;
		d.action.ifindex = if_nametoindex("h3");
		REQUIRE_FALSE(dp->install(d));
		CHECK(on("h3"));
		e.action.ifindex = if_nametoindex("h2"); // replaced: srv -> h2
		REQUIRE_FALSE(dp->install(e));
		CHECK(on("h2"));
		CHECK_FALSE(on("srv"));
		REQUIRE_FALSE(dp->remove(d.key));
		CHECK_FALSE(on("h3"));
		// A refused install leaves no program behind (HOST ID 0 is
		// invalid; the program is attached before the store refuses it).
		Entry bad = watched_entry();
		bad.key.session = "refused";
		bad.key.host_id = 0;
		bad.action.ifindex = if_nametoindex("h1");
		CHECK(dp->install(bad));
		CHECK_FALSE(on("h1"));
	} // kept: the adopted entry's port keeps its program
	{
		auto dp = make_dataplane("linux", switch_config(false));
		CHECK(on("h2"));
		for (auto p : {"h1", "h3", "srv", "g1"})
			CHECK_MESSAGE(!on(p), p);
		CHECK(mirror_on("h1"));
		REQUIRE_FALSE(dp->remove(watched_entry().key));
		CHECK_FALSE(on("h2"));
		for (auto p : ports) // the VNI's last entry 1/2 is gone
			CHECK_MESSAGE(mirror_on(p), p);
	}
	for (auto p : ports) {
		CHECK_MESSAGE(!on(p), p);
		CHECK_MESSAGE(!mirror_on(p), p);
	}
}

TEST_CASE("TC hook: what a previous run kept on a hook this run leaves empty is removed")
{
	auto start = [](TcHook hook, bool keep, std::uint32_t max_entries) {
		Config c = switch_config(keep);
		c.tc_hook = hook;
		c.max_entries = max_entries;
		return make_dataplane("linux", c);
	};
	const int srv = static_cast<int>(if_nametoindex("srv"));
	// clsact: kept with a session; the next run's maps have another size,
	// so the pins (and the session) are replaced: nothing needs h1's
	// mirror or srv's egress program any more.
	{
		auto dp = start(TcHook::Clsact, true, 4096);
		REQUIRE_FALSE(dp->install(watched_entry()));
		REQUIRE(hook_state("h1").clsact_ours);
	}
	{
		auto dp = start(TcHook::Clsact, false, 8192);
		CHECK(dp->list().empty());
		CHECK(attached_program_id(srv, true) == 0);
	}
	if (!kernel_has_tcx_hook())
		return;
	// tcx: kept with a session, then h1 leaves the bridge before the next
	// run, which never visits it: its kept link is swept with its pin.
	const std::string pin = g_pin + "/tcx_in_" + std::to_string(if_nametoindex("h1"));
	{
		auto dp = start(TcHook::Tcx, true, kDefaultMaxEntries);
		REQUIRE_FALSE(dp->install(watched_entry()));
		REQUIRE(hook_state("h1").tcx == 1);
	}
	sh("ip link set h1 nomaster");
	{
		auto dp = start(TcHook::Tcx, false, kDefaultMaxEntries);
		CHECK(hook_state("h1").tcx == 0);
		CHECK_FALSE(std::filesystem::exists(pin));
		CHECK(hook_state("h2").tcx == 1); // the session's VNI keeps its ports
		REQUIRE_FALSE(dp->remove(watched_entry().key));
	}
	sh("ip link set h1 master br100 && "
	   "bridge link set dev h1 learning off flood off mcast_flood off bcast_flood off");
	CHECK_FALSE(std::filesystem::exists(g_pin));
}

TEST_CASE("TC hook: one mechanism at a time; a restart with the other takes over in place")
{
	if (!kernel_has_tcx_hook()) {
		MESSAGE("this kernel has no tcx: clsact only");
		return;
	}
	const std::string pin = g_pin + "/tcx_in_" + std::to_string(if_nametoindex("h1"));
	auto start = [](TcHook hook, bool keep) {
		Config c = switch_config(keep);
		c.tc_hook = hook;
		return make_dataplane("linux", c);
	};
	std::uint32_t first_id = 0;
	{
		auto dp = start(TcHook::Tcx, true);
		// A session in h1's VNI: the mirror program goes on h1 (and stays
		// with the adopted entry through the restarts).
		REQUIRE_FALSE(dp->install(watched_entry()));
		const auto st = hook_state("h1");
		CHECK(st.tcx == 1);
		CHECK_FALSE(st.clsact_ours);
		CHECK(std::filesystem::exists(pin));
		first_id = attached_program_id(static_cast<int>(if_nametoindex("h1")), false);
		CHECK(first_id != 0);
	}
	// Kept: the pinned link holds the program on the hook.
	CHECK(hook_state("h1").tcx == 1);
	CHECK(std::filesystem::exists(pin));
	{
		auto dp = start(TcHook::Tcx, true); // adopts the link, new program
		CHECK(hook_state("h1").tcx == 1);
		CHECK(attached_program_id(static_cast<int>(if_nametoindex("h1")), false) != first_id);
	}
	{
		auto dp = start(TcHook::Clsact, true); // takes over from the kept link
		const auto st = hook_state("h1");
		CHECK(st.tcx == 0);
		CHECK(st.clsact_ours);
		CHECK_FALSE(std::filesystem::exists(pin));
	}
	CHECK(hook_state("h1").clsact_ours);
	{
		auto dp = start(TcHook::Tcx, false); // takes over from the kept filter
		const auto st = hook_state("h1");
		CHECK(st.tcx == 1);
		CHECK_FALSE(st.clsact_ours);
	}
	// A clean exit leaves nothing on the hook and no pin.
	const auto st = hook_state("h1");
	CHECK(st.tcx == 0);
	CHECK_FALSE(st.clsact_ours);
	CHECK_FALSE(std::filesystem::exists(g_pin));
}

int main(int argc, char **argv)
{
	return evpnmon::dp::test::run_in_private_netns("test_dataplane_linux", argc, argv, build_switch);
}

TEST_CASE("capacity: profile maps sized by max_profiles; full = ENOBUFS, a capacity error")
{
	Config c = switch_config();
	c.max_profiles = 4; // slot 0 unused: 3 sessions with a profile
	auto dp = make_dataplane("linux", c);
	for (auto name : {"dp_profile", "dp_policer", "dp_profile_stats"})
		CHECK_MESSAGE(pinned_map(name).max_entries == 4, name);
	evpn_mon_options o{};
	o.present = 1;
	o.direction = EVPN_MON_DIR_BOTH;
	o.sample = 2;
	const evpnmon::session::Options profile(o);
	auto entry = [&](std::uint32_t i) {
		Entry e = capacity_entry(3 * i); // an entry 1 by MAC
		e.key.session = "s" + std::to_string(i);
		e.options = profile;
		return e;
	};
	for (std::uint32_t i = 0; i < 3; ++i)
		REQUIRE_FALSE(dp->install(entry(i)));
	const auto ec = dp->install(entry(3));
	CHECK(ec == std::errc::no_buffer_space);
	CHECK(is_capacity_error(ec));
	CHECK(dp->list().size() == 3);
	// Without a profile an entry needs no slot.
	CHECK_FALSE(dp->install(capacity_entry(9)));
	// A slot given back is reused after its grace period (copies in flight
	// may still read it): until then the refusal stands, then it fits.
	REQUIRE_FALSE(dp->remove(entry(0).key));
	std::error_code retry = dp->install(entry(3));
	CHECK(is_capacity_error(retry));
	for (int i = 0; i < 100 && retry; ++i) {
		::usleep(20000);
		retry = dp->install(entry(3));
		REQUIRE((!retry || is_capacity_error(retry)));
	}
	CHECK_FALSE(retry);
	CHECK_THROWS_AS(
	    [] {
		    Config bad = switch_config();
		    bad.max_profiles = 1;
		    make_dataplane("linux", bad);
	    }(),
	    std::invalid_argument);
}

TEST_CASE("decap sources: the table's contract, its capacity, adopted by a restart")
{
	const auto s = table::source(100, "10.9.9.5");
	{
		auto dp = make_dataplane("linux", switch_config(true));
		table::check_decap_source_table(*dp);
		CHECK(pinned_map("dp_decap_src").max_entries == DP_MAX_DECAP_SOURCES);
		table::check_decap_source_capacity(*dp, DP_MAX_DECAP_SOURCES);
		REQUIRE_FALSE(dp->add_decap_source(s.first, s.second));
	} // keep_on_exit: the pairs stay with the pins
	CHECK(pinned_map("dp_decap_src").elements == 1);
	{
		auto dp = make_dataplane("linux", switch_config(false));
		CHECK(dp->decap_sources() == table::SourceList{s});
	}
	CHECK_FALSE(std::filesystem::exists(g_pin));
}

namespace {

dp_ceiling pinned_ceiling()
{
	const int fd = bpf_obj_get((g_pin + "/dp_ceiling").c_str());
	REQUIRE(fd >= 0);
	dp_ceiling c{};
	const dp_u32 zero = 0;
	REQUIRE(bpf_map_lookup_elem(fd, &zero, &c) == 0);
	::close(fd);
	return c;
}

} // namespace

TEST_CASE("mirror ceiling: on by default at 1 Gbit/s and 20,000 copies/s, rates and depths as configured")
{
	constexpr std::uint64_t nano = DP_TOKEN_SCALE;
	{
		auto dp = make_dataplane("linux", switch_config());
		const auto c = pinned_ceiling();
		CHECK(c.bits.rate == 1'000'000'000);
		// 10 ms at the rate: 1,250,000 octets.
		CHECK(c.bits.burst == 1'250'000ull * 8 * nano);
		CHECK(c.bits.fill_ns == 10'000'000);
		CHECK(c.packets.rate == 20'000);
		// 10 ms at the rate: 200 copies.
		CHECK(c.packets.burst == 200 * nano);
		CHECK(c.packets.fill_ns == 10'000'000);
		const auto cc = dp->ceiling_counters();
		CHECK(cc.passed_packets + cc.dropped_packets + cc.dropped_by_packet_rate == 0);
	}
	{
		Config cfg = switch_config();
		cfg.mirror_ceiling_bps = 1'000'000; // 10 ms = 1250 octets: the floor wins
		cfg.mirror_ceiling_pps = 1000;      // 10 ms = 10 copies: the floor wins
		auto dp = make_dataplane("linux", cfg);
		const auto c = pinned_ceiling();
		CHECK(c.bits.rate == 1'000'000);
		// 128 KiB: a maximal GRO aggregate's copy (64 KiB and its
		// Ethernet/VLAN headers) fits.
		CHECK(c.bits.burst == 131072ull * 8 * nano);
		CHECK(c.bits.fill_ns == 131072ull * 8 * nano / 1'000'000);
		CHECK(c.packets.rate == 1000);
		CHECK(c.packets.burst == 64 * nano);
		CHECK(c.packets.fill_ns == 64 * nano / 1000);
	}
	{
		Config cfg = switch_config();
		cfg.mirror_ceiling_bps = 20'000'000;
		cfg.mirror_ceiling_burst = 3000;
		cfg.mirror_ceiling_pps = 2000;
		cfg.mirror_ceiling_packet_burst = 7;
		auto dp = make_dataplane("linux", cfg);
		const auto c = pinned_ceiling();
		CHECK(c.bits.rate == 20'000'000);
		CHECK(c.bits.burst == 3000ull * 8 * nano);
		CHECK(c.bits.fill_ns == 3000ull * 8 * nano / 20'000'000);
		CHECK(c.packets.rate == 2000);
		CHECK(c.packets.burst == 7 * nano);
		CHECK(c.packets.fill_ns == 7 * nano / 2000);
	}
	{
		Config cfg = switch_config();
		cfg.mirror_ceiling_bps = 0; // off
		cfg.mirror_ceiling_pps = 0;
		auto dp = make_dataplane("linux", cfg);
		CHECK(pinned_ceiling().bits.rate == 0);
		CHECK(pinned_ceiling().packets.rate == 0);
	}
	for (auto breaks : {+[](Config &c) { c.mirror_ceiling_burst = (1ull << 31) + 1; },
			    +[](Config &c) { c.mirror_ceiling_pps = 1'000'000'001; },
			    +[](Config &c) { c.mirror_ceiling_packet_burst = (1ull << 24) + 1; }}) {
		Config bad = switch_config();
		breaks(bad);
		CHECK_THROWS_AS(make_dataplane("linux", bad), std::invalid_argument);
	}
	CHECK_FALSE(std::filesystem::exists(g_pin));
}

TEST_CASE("mirror ceiling with real frames: copies over it dropped, every original delivered")
{
	// 8 bit/s: the bucket (3000 octets, full at start) refills one
	// 1000-octet copy in 1000 s, so exactly 3 of the copies pass.
	Config cfg = switch_config();
	cfg.mirror_ceiling_bps = 8;
	cfg.mirror_ceiling_burst = 3000;
	LinuxHarness h(cfg);
	auto &dp = h.dataplane();
	Entry e;
	e.key.kind = EntryKind::MirrorSource;
	e.key.vni = 100;
	e.key.host.mac = parse_mac("02:00:00:00:00:01");
	e.key.host_id = 7;
	e.key.session = "ceiling";
	e.action.ifindex = if_nametoindex("srv");
	REQUIRE_FALSE(dp.install(e));
	// The originals' way: h1 -> h2 (ports do not flood or learn here).
	sh("bridge fdb replace 02:00:00:00:00:02 dev h2 master static");
	const auto frame = table::build_frame({"02:00:00:00:00:01", "02:00:00:00:00:02",
					       "10.1.0.1", "10.1.0.2", 0, 958});
	REQUIRE(frame.size() == 1000);
	h.drain();
	for (int i = 0; i < 20; ++i)
		REQUIRE(::send(h.cap.at("h1"), frame.data(), frame.size(), 0) ==
			static_cast<ssize_t>(frame.size()));
	const std::uint32_t h2 = if_nametoindex("h2"), srv = if_nametoindex("srv");
	std::map<std::uint32_t, int> got;
	auto count = [&] {
		for (const auto &o : h.collect(Output::Kind::LocalCopy)) {
			CHECK(o.frame == frame);
			got[o.ifindex]++;
		}
	};
	// Until every original and the 3 copies are in (or 5 s), then one
	// more window in which nothing else may arrive.
	const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
	while ((got[h2] < 20 || got[srv] < 3) && std::chrono::steady_clock::now() < until)
		count();
	count();
	CHECK(got[h2] == 20);
	CHECK(got[srv] == 3);
	got.erase(h2);
	got.erase(srv);
	CHECK(got.empty());
	const auto c = dp.ceiling_counters();
	CHECK(c.passed_packets == 3);
	CHECK(c.passed_bytes == 3000);
	CHECK(c.dropped_packets == 17);
	CHECK(c.dropped_bytes == 17000);
	const auto ec = dp.counters(e.key);
	REQUIRE(ec);
	CHECK(ec->packets == 20);
	CHECK(ec->policed == 17);
	CHECK(ec->drops == 0);
	sh("bridge fdb del 02:00:00:00:00:02 dev h2 master");
	REQUIRE_FALSE(dp.remove(e.key));
}

namespace {

// The entry store driven directly over the real maps of a fresh
// BpfObject, with one of them replaced by a test's own smaller map (so
// that the kernel refuses an element there); unpinned at the end, also
// when a REQUIRE ends the case.
struct StoreMaps {
	static constexpr std::uint32_t kMax = 64;
	evpnmon::dp::linux_dp::BpfObject bpf{g_pin, kMax, DP_MAX_PROFILES};
	struct Unpin {
		evpnmon::dp::linux_dp::BpfObject &o;
		~Unpin() { o.unpin(); }
	} unpin{bpf};

	evpnmon::dp::linux_dp::MapFds fds() const
	{
		using namespace evpnmon::dp::linux_dp;
		return MapFds{map_fd_match(bpf), map_fd_decap(bpf), map_fd_meta(bpf),
			      map_fd_stats(bpf), map_fd_gstats(bpf), map_fd_srv_port(bpf),
			      map_fd_profile(bpf), map_fd_policer(bpf), map_fd_profile_stats(bpf),
			      map_fd_erspan(bpf), map_fd_erspan_seq(bpf), map_fd_erspan_stats(bpf),
			      map_fd_vni_kinds(bpf), match_generation(bpf), match_bits(bpf),
			      vni_words(bpf), !bpf.adopted(), -1, srv_words(bpf)};
	}
	// A hash map like the real ones (no prealloc), with room for n.
	static evpnmon::UniqueFd small_hash(const char *name, std::uint32_t key_size,
					    std::uint32_t value_size, std::uint32_t n)
	{
		LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
		evpnmon::UniqueFd fd(
		    bpf_map_create(BPF_MAP_TYPE_HASH, name, key_size, value_size, n, &opts));
		REQUIRE(fd.get() >= 0);
		return fd;
	}
};

} // namespace

// The entry descriptions (dp_meta) go to the kernel in batches. A batch
// update stops at the first element the kernel refuses, so the store then
// writes each one on its own: one description the kernel refuses (here a
// slot beyond a dp_meta of four elements) waits for the next flush and
// holds back none queued after it.
TEST_CASE("entry descriptions: one the kernel refuses waits and holds back no other")
{
	using namespace evpnmon::dp::linux_dp;
	StoreMaps maps;
	REQUIRE_FALSE(maps.bpf.adopted());
	// As the real dp_meta, only with room for four.
	const auto meta = StoreMaps::small_hash("meta_of_4", sizeof(dp_u32), sizeof(dp_entry_meta), 4);
	using Bytes = std::array<unsigned char, sizeof(dp_entry_meta)>;
	auto meta_of = [&](dp_u32 idx) {
		Bytes b{};
		REQUIRE(bpf_map_lookup_elem(meta.get(), &idx, b.data()) == 0);
		return b;
	};
	const Bytes zero{};
	std::vector<Entry> es;
	for (std::uint32_t i : {0u, 1u, 3u, 4u, 6u}) // slots 0..4, no decap entry
		es.push_back(capacity_entry(i));
	{
		MapFds fds = maps.fds();
		fds.meta = meta.get();
		EntryStore store(fds, StoreMaps::kMax, DP_MAX_PROFILES);
		for (std::size_t i = 0; i < 4; ++i)
			REQUIRE_FALSE(store.install(es[i]));
		CHECK_FALSE(store.flush()); // slots 0..3: all fit
		for (dp_u32 idx = 0; idx < 4; ++idx)
			CHECK(meta_of(idx) != zero);
		// Slot 4 (refused) first in the batch, then slot 1's new
		// description: the batch stops at slot 4.
		REQUIRE_FALSE(store.install(es[4]));
		const Bytes before = meta_of(1);
		Entry moved = es[1];
		moved.action.ifindex = if_nametoindex("h3");
		REQUIRE_FALSE(store.install(moved));
		CHECK(store.flush()); // slot 4 refused
		CHECK(meta_of(1) != before);
		CHECK(store.flush()); // and still waiting
		// The refused one is gone with its entry: nothing waits any more.
		REQUIRE_FALSE(store.remove(es[4].key));
		CHECK_FALSE(store.flush());
		for (const auto &e : es)
			REQUIRE_FALSE(store.remove(e.key));
	}
}

// A dp_match element the kernel refuses (here: a lookup map with room for
// two) stays marked for the next flush, and what waits for it (the slot of
// an entry removed from its key) waits with it; the batch's other
// elements are written all the same.
TEST_CASE("a batch: a lookup the kernel refuses waits, with what it names, and holds back no other")
{
	using namespace evpnmon::dp::linux_dp;
	StoreMaps maps;
	REQUIRE_FALSE(maps.bpf.adopted());
	const auto match =
	    StoreMaps::small_hash("match_of_2", sizeof(dp_match_key), sizeof(dp_match_val), 2);
	auto elem = [&](const EntryKey &k) -> std::optional<dp_match_val> {
		const dp_match_key mk = codec::match_key(k);
		dp_match_val v{};
		if (bpf_map_lookup_elem(match.get(), &mk, &v) != 0)
			return std::nullopt;
		return v;
	};
	const Entry e0 = capacity_entry(0), e1 = capacity_entry(1), e2 = capacity_entry(3);
	Entry e2b = e2; // a second server of e2's host: the same lookup element
	e2b.key.host_id = 8;
	e2b.key.session = "second";
	{
		MapFds fds = maps.fds();
		fds.match = match.get();
		EntryStore store(fds, StoreMaps::kMax, DP_MAX_PROFILES);
		store.begin_batch();
		REQUIRE_FALSE(store.install(e0));
		REQUIRE_FALSE(store.install(e1));
		REQUIRE_FALSE(store.flush());
		REQUIRE(elem(e0.key));
		REQUIRE(elem(e1.key));
		// e2's key first (refused: no room), then e1's new action.
		store.begin_batch();
		REQUIRE_FALSE(store.install(e2));
		REQUIRE_FALSE(store.install(e2b));
		REQUIRE_FALSE(store.remove(e2b.key));
		Entry moved = e1;
		moved.action.ifindex = if_nametoindex("h3");
		REQUIRE_FALSE(store.install(moved));
		CHECK(store.flush());
		CHECK_FALSE(elem(e2.key));
		const auto v1 = elem(e1.key);
		REQUIRE(v1);
		CHECK(v1->slots[0].action.ifindex == if_nametoindex("h3"));
		CHECK(store.waiting_retires() == 1); // e2b's: its key is not written
		CHECK(store.flush());                 // still refused, still waiting
		CHECK(store.waiting_retires() == 1);
		// Room: e0 goes, and the next flush writes e2's element first
		// thing after the deletion.
		store.begin_batch();
		REQUIRE_FALSE(store.remove(e0.key));
		CHECK_FALSE(store.flush());
		CHECK_FALSE(elem(e0.key));
		const auto v2 = elem(e2.key);
		REQUIRE(v2);
		CHECK(v2->n == 1);
		CHECK(store.waiting_retires() == 0);
		for (const auto &e : {e1, e2})
			REQUIRE_FALSE(store.remove(e.key));
	}
}

// Without a batch, a dp_match write the kernel refuses (here: the map is
// frozen, read-only to system calls) leaves the element it had, which
// still names the old state: what that state leaves to do (here its
// port's kinds, which the egress rule at srv reads) waits for the key's
// write, as after a refused batch, instead of being undone at once while
// the kernel's element still copies to srv; the same for a refused
// deletion. (That the retirements run once the key is written is the
// batch test's part above: a frozen map is never written again.)
TEST_CASE("without a batch: a refused lookup write keeps the old state until the key is written")
{
	using namespace evpnmon::dp::linux_dp;
	StoreMaps maps;
	REQUIRE_FALSE(maps.bpf.adopted());
	const auto match =
	    StoreMaps::small_hash("match_frozen", sizeof(dp_match_key), sizeof(dp_match_val), 8);
	const auto srv = if_nametoindex("srv");
	const Entry e = capacity_entry(0); // an entry 1 copying to srv
	REQUIRE(e.key.kind == EntryKind::MirrorSource);
	Entry moved = e;
	moved.action.ifindex = if_nametoindex("h3");
	{
		MapFds fds = maps.fds();
		fds.match = match.get();
		EntryStore store(fds, StoreMaps::kMax, DP_MAX_PROFILES);
		REQUIRE_FALSE(store.install(e));
		REQUIRE(srv_words(maps.bpf)[srv] != 0);
		REQUIRE(bpf_map_freeze(match.get()) == 0);
		CHECK(store.install(moved)); // refused
		const dp_match_key mk = codec::match_key(e.key);
		dp_match_val v{};
		REQUIRE(bpf_map_lookup_elem(match.get(), &mk, &v) == 0);
		CHECK(v.slots[0].action.ifindex == srv); // the kernel's element: still srv
		CHECK(store.waiting_retires() == 1);
		CHECK(srv_words(maps.bpf)[srv] != 0);
		CHECK(store.flush()); // still refused, still waiting
		CHECK(store.waiting_retires() == 1);
		CHECK(srv_words(maps.bpf)[srv] != 0);
		// A refused deletion likewise: the element stays, naming srv,
		// and so does what it names.
		CHECK(store.remove(moved.key));
		CHECK(store.waiting_retires() == 2);
		CHECK(srv_words(maps.bpf)[srv] != 0);
	}
}

// An install that takes a slot freed in the same batch and then fails
// must leave that slot's pending description deletion in place, so that a
// restart does not adopt the removed entry. The slot is freed in the
// batch when the table is full: the install writes the batch early, which
// retires the removed entry's slot; dp_vni_kinds, here with room for one
// VNI, then refuses the new entry's VNI.
TEST_CASE("a batch: an install refused after it took a freed slot leaves that slot's deletion")
{
	using namespace evpnmon::dp::linux_dp;
	StoreMaps maps;
	REQUIRE_FALSE(maps.bpf.adopted());
	const auto kinds = StoreMaps::small_hash("vni_kinds_of_1", sizeof(dp_u32), sizeof(dp_u32), 1);
	const int meta = map_fd_meta(maps.bpf);
	auto described = [&](dp_u32 idx) {
		dp_entry_meta m{};
		return bpf_map_lookup_elem(meta, &idx, &m) == 0;
	};
	Entry other = capacity_entry(1); // another VNI: dp_vni_kinds refuses it
	other.key.vni = 200;
	{
		MapFds fds = maps.fds();
		fds.vni_kinds = kinds.get();
		EntryStore store(fds, StoreMaps::kMax, DP_MAX_PROFILES);
		for (std::uint32_t i = 0; i < StoreMaps::kMax; ++i) // slot i each
			REQUIRE_FALSE(store.install(capacity_entry(i)));
		REQUIRE_FALSE(store.flush()); // and the descriptions
		REQUIRE(described(0));
		store.begin_batch();
		REQUIRE_FALSE(store.remove(capacity_entry(0).key)); // slot 0 waits for the write
		CHECK(store.install(other) == std::errc::argument_list_too_long);
		// The install wrote the batch early (so slot 0 was free for it):
		// entry 0's element is gone before the flush.
		const dp_match_key mk0 = codec::match_key(capacity_entry(0).key);
		dp_match_val v0{};
		CHECK(bpf_map_lookup_elem(map_fd_match(maps.bpf), &mk0, &v0) != 0);
		CHECK(described(0)); // deleted at the flush, not before
		CHECK_FALSE(store.flush());
		CHECK_FALSE(described(0));
		CHECK(store.list().size() == StoreMaps::kMax - 1);
		for (std::uint32_t i = 1; i < StoreMaps::kMax; ++i)
			REQUIRE_FALSE(store.remove(capacity_entry(i).key));
		CHECK_FALSE(store.flush());
	}
}
