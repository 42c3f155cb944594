// Truncation of real traffic: a TCP stream between two hosts (each in its
// own network namespace behind a veth) over the bridge. The local stack and
// veth hand TC GSO super-packets of up to 64 KB with CHECKSUM_PARTIAL, which
// BPF_PROG_TEST_RUN never produces. Checks that every truncated copy comes
// out on the server's side of the veth (not dropped for exceeding the
// MTU), with the expected lengths:
//  - truncate 128: every data copy 128 octets;
//  - truncate 9216 (above the MTU): a GSO copy longer than that is cut to
//    its first segment's frame (1514 here), never to a 9216-octet frame
//    that the veth would drop;
//  - truncate 200 on a VXLAN copy: the inner frame 200 octets;
//  - truncate 64 on IPv6 TCP: CHECKSUM_PARTIAL forbids cutting before
//    the end of the TCP checksum field, so 14 + 40 + 18 = 72.
// Runs in a private network namespace; the two hosts' namespaces belong to
// child processes of this test (not named, never in `ip netns list`).
#define DOCTEST_CONFIG_IMPLEMENT
#include "capture.hpp"
#include "netns_fixture.hpp"
#include "private_netns.hpp"

#include <evpnmon/dataplane/dataplane.hpp>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <sstream>

using namespace evpnmon::dp;
using namespace evpnmon::dp::test;
namespace session = evpnmon::session;

namespace {

const std::string g_pin = "/sys/fs/bpf/evpnmon-trunc-" + std::to_string(::getpid());
constexpr const char *kHostA = "02:00:00:00:00:01";

NetnsChild *g_a = nullptr, *g_b = nullptr;

void build()
{
	static NetnsChild a, b;
	g_a = &a;
	g_b = &b;
	build_bridge({"ha", "hb", "s1", "s2", "s3"});
	// Servers get copies only: no flooded originals.
	for (auto p : {"s1", "s2", "s3"})
		sh(std::string("bridge link set dev ") + p +
		   " flood off mcast_flood off bcast_flood off && ip link set " + p + "p up");
	sh("ip link add ul0 type veth peer name ul1 && ip link set ul0 up && "
	   "ip link set ul1 up && ip addr add 10.9.9.1/24 dev ul0 && "
	   "ip neigh add 10.9.9.2 lladdr 02:99:00:00:00:01 dev ul0 nud permanent");
	add_host(a, "hap", kHostA, "10.1.0.1", "fd00::1");
	add_host(b, "hbp", "02:00:00:00:00:02", "10.1.0.2", "fd00::2");
}

int capture(const std::string &dev)
{
	int fd = table::packet_socket(dev);
	int big = 64 << 20;
	::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
	return fd;
}

// Frame lengths a server port's peer received (copies, after the veth).
std::vector<std::size_t> received(int fd, bool vxlan)
{
	std::vector<std::size_t> out;
	static const Mac host_a = *parse_mac(kHostA);
	static std::uint8_t buf[70000];
	sockaddr_ll from{};
	ssize_t n;
	while ((n = table::recv_frame(fd, buf, sizeof buf, from)) > 0) {
		std::span<const std::uint8_t> f(buf, static_cast<std::size_t>(n));
		if (vxlan) {
			if (auto o = table::parse_vxlan(f, from.sll_pkttype))
				out.push_back(o->frame.size());
		} else if (from.sll_pkttype != PACKET_OUTGOING && f.size() >= 14 &&
			   std::equal(f.begin() + 6, f.begin() + 12, host_a.begin())) {
			out.push_back(f.size()); // copies are of A's frames only
		}
	}
	return out;
}

Entry entry(const std::string &session_id, std::uint16_t truncate, const std::string &port,
	    bool vxlan = false)
{
	Entry e;
	e.key.kind = EntryKind::MirrorSource;
	e.key.vni = 100;
	e.key.host.mac = parse_mac(kHostA);
	e.key.host_id = vxlan ? 9 : 7;
	e.key.session = session_id;
	if (vxlan) {
		e.action.kind = Action::Kind::Vxlan;
		e.action.remote_vtep = {10, 9, 9, 2};
		e.action.vni = 100;
		e.action.host_id = 9;
	} else {
		e.action.ifindex = if_nametoindex(port.c_str());
	}
	evpn_mon_options o{};
	o.present = 1;
	o.truncate = truncate;
	e.options = session::Options(o);
	return e;
}

// Frame lengths each capture received while A streamed to B over IPv4 and
// IPv6, each entry's counters over that time (differences), and whether
// every counted copy arrived.
struct StreamResult {
	std::map<const Entry *, std::vector<std::size_t>> got;
	std::map<const Entry *, Counters> delta;
	std::uint64_t backlog_drops = 0;
	std::map<const Entry *, std::uint64_t> capture_drops; // the sockets' own
	bool complete = false;
};

// `entries`: each entry and the device its copies are captured on.
StreamResult stream_and_capture(Dataplane &dp,
			   const std::vector<std::pair<const Entry *, std::string>> &entries)
{
	StreamResult a;
	const std::uint64_t drops_before = backlog_drops();
	std::map<const Entry *, int> fd_of;
	std::map<const Entry *, Counters> before;
	for (const auto &[e, dev] : entries) {
		fd_of[e] = capture(dev);
		before[e] = *dp.counters(e->key);
	}
	tcp_stream(*g_a, *g_b, "10.1.0.2", "AF_INET");
	tcp_stream(*g_a, *g_b, "fd00::2", "AF_INET6");
	for (const auto &[e, dev] : entries) {
		const Counters c = *dp.counters(e->key);
		a.delta[e].packets = c.packets - before[e].packets;
		a.delta[e].bytes = c.bytes - before[e].bytes;
		a.delta[e].drops = c.drops - before[e].drops;
		a.delta[e].policed = c.policed - before[e].policed;
	}
	// Copies are queued to the server ports' peers (veth backlog): wait
	// until each entry's copies so far have all arrived (give up after
	// 10 s). Frames A sends meanwhile (ND, late ACKs) only add copies.
	auto all_in = [&] {
		bool all = true;
		for (const auto &[e, fd] : fd_of) {
			auto &got = a.got[e]; // present even when nothing came
			for (auto l : received(fd, e->action.kind == Action::Kind::Vxlan))
				got.push_back(l);
			all = all && got.size() >= a.delta[e].packets;
		}
		return all;
	};
	for (int i = 0; i < 1000 && !(a.complete = all_in()); ++i) {
		pollfd p{fd_of.begin()->second, POLLIN, 0};
		::poll(&p, 1, 10);
	}
	a.backlog_drops = backlog_drops() - drops_before;
	for (const auto &[e, fd] : fd_of) {
		tpacket_stats st{};
		socklen_t len = sizeof st;
		a.capture_drops[e] =
		    ::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0 ? st.tp_drops : 0;
		::close(fd);
	}
	return a;
}

} // namespace

TEST_CASE("truncated copies of a real TCP stream (GSO, CHECKSUM_PARTIAL) come out cut")
{
	Config cfg;
	cfg.bridges = {{"br100", "vxlan100", 100}};
	cfg.local_vtep = {10, 9, 9, 1};
	cfg.pin_dir = g_pin;
	// The mirror ceiling off: the stream's copies come in bursts of
	// hundreds within a millisecond or two (four entries, 64 KB GSO
	// aggregates), deeper than the default packet bucket (200 copies,
	// 20,000 a second), which then refuses a few: counted as policed, not
	// as drops, and never the first entry's (a packet's copies take
	// their tokens in entry order). This test is about truncation; the
	// ceiling has its own (test_bpf, test_linux).
	cfg.mirror_ceiling_bps = 0;
	cfg.mirror_ceiling_pps = 0;
	auto dp = make_dataplane("linux", cfg);
	const Entry e128 = entry("t128", 128, "s1"), e9216 = entry("t9216", 9216, "s2"),
		    e64 = entry("t64", 64, "s3"), evx = entry("vx200", 200, "", true);
	const std::vector<std::pair<const Entry *, std::string>> entries = {
	    {&e128, "s1p"}, {&e9216, "s2p"}, {&e64, "s3p"}, {&evx, "ul0"}};
	for (const auto &[e, dev] : entries)
		REQUIRE_FALSE(dp->install(*e));

	// Every copy must come out: none dropped, none policed, each one
	// captured. A copy the kernel drops on a full input backlog (a loaded
	// machine; counted in softnet_stat) is lost to the network, not to
	// the product: a stream that misses copies while the kernel counted
	// such drops is run again (three times at most); one that misses
	// copies without them fails. What was counted is reported.
	StreamResult a;
	for (int attempt = 1; attempt <= 3; ++attempt) {
		a = stream_and_capture(*dp, entries);
		if (a.complete)
			break;
		std::ostringstream why;
		for (const auto &[e, dev] : entries)
			why << " " << e->key.session << " " << a.got.at(e).size() << "/"
			    << a.delta.at(e).packets << " (socket drops " << a.capture_drops.at(e)
			    << ", policed " << a.delta.at(e).policed << ")";
		MESSAGE("run " << attempt << ": copies missing:" << why.str() << "; backlog drops "
			       << a.backlog_drops);
		if (a.backlog_drops == 0)
			break;
	}

	for (const auto &[e, dev] : entries) {
		INFO("session " << e->key.session);
		CHECK(a.delta.at(e).drops == 0);
		CHECK(a.delta.at(e).policed == 0);
		CHECK(a.delta.at(e).packets > 20);
	}
	// GSO super-packets were mirrored: the average matched frame is
	// longer than the MTU allows a single frame to be.
	CHECK(a.delta.at(&e9216).bytes / a.delta.at(&e9216).packets > 1514);

	auto check = [&](const Entry &e, std::size_t max, std::size_t data_len) {
		INFO("session " << e.key.session);
		const auto &v = a.got.at(&e);
		// Every copy came out (none dropped for its size) ...
		CHECK(v.size() >= a.delta.at(&e).packets);
		// ... none longer than the limit, and the data copies exactly it.
		REQUIRE_FALSE(v.empty());
		CHECK(*std::max_element(v.begin(), v.end()) <= max);
		CHECK(std::count(v.begin(), v.end(), data_len) > 10);
	};
	check(e128, 128, 128);
	// A GSO aggregate longer than 9216 is cut to its first segment
	// (14 + 20 + 32 + 1448); a shorter one stays a whole GSO copy (its
	// segments fit the MTU), seen here as one frame.
	check(e9216, 9216, 1514);
	check(evx, 200, 200);
	// IPv4 TCP data cut at 64; IPv6 TCP data at 72 (end of the checksum
	// field of a CHECKSUM_PARTIAL skb: the kernel refuses 64).
	check(e64, 72, 72);
	CHECK(std::count(a.got.at(&e64).begin(), a.got.at(&e64).end(), std::size_t{64}) > 10);
}

int main(int argc, char **argv)
{
	return evpnmon::dp::test::run_in_private_netns("test_dataplane_truncate", argc, argv,
							build);
}
