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

} // namespace

TEST_CASE("truncated copies of a real TCP stream (GSO, CHECKSUM_PARTIAL) come out cut")
{
	Config cfg;
	cfg.bridges = {{"br100", "vxlan100", 100}};
	cfg.local_vtep = {10, 9, 9, 1};
	cfg.pin_dir = g_pin;
	auto dp = make_dataplane("linux", cfg);
	const Entry e128 = entry("t128", 128, "s1"), e9216 = entry("t9216", 9216, "s2"),
		    e64 = entry("t64", 64, "s3"), evx = entry("vx200", 200, "", true);
	for (const auto *e : {&e128, &e9216, &e64, &evx})
		REQUIRE_FALSE(dp->install(*e));
	const int c1 = capture("s1p"), c2 = capture("s2p"), c3 = capture("s3p"),
		  cu = capture("ul0");

	tcp_stream(*g_a, *g_b, "10.1.0.2", "AF_INET");
	tcp_stream(*g_a, *g_b, "fd00::2", "AF_INET6");
	// Copies are queued to the server ports' peers (veth backlog): wait
	// until each entry's copies so far have all arrived (fail after 5 s).
	// Frames A sends meanwhile (ND, late ACKs) only add copies.
	std::map<int, std::vector<std::size_t>> got;
	std::map<int, std::uint64_t> matched;
	const std::map<int, const Entry *> entry_of = {
	    {c1, &e128}, {c2, &e9216}, {c3, &e64}, {cu, &evx}};
	for (const auto &[fd, e] : entry_of)
		matched[fd] = dp->counters(e->key)->packets;
	auto all_in = [&] {
		bool all = true;
		for (const auto &[fd, e] : entry_of) {
			for (auto l : received(fd, fd == cu))
				got[fd].push_back(l);
			all = all && got[fd].size() >= matched[fd];
		}
		return all;
	};
	for (int i = 0; i < 500 && !all_in(); ++i) {
		pollfd p{c1, POLLIN, 0};
		::poll(&p, 1, 10);
	}
	for (const auto *e : {&e128, &e9216, &e64, &evx}) {
		auto c = dp->counters(e->key);
		INFO("session " << e->key.session);
		REQUIRE(c);
		CHECK(c->drops == 0);
		CHECK(c->packets > 20);
	}
	// GSO super-packets were mirrored: the average matched frame is
	// longer than the MTU allows a single frame to be.
	auto c9216 = *dp->counters(e9216.key);
	CHECK(c9216.bytes / c9216.packets > 1514);

	auto check = [&](int fd, const Entry &e, std::size_t max, std::size_t data_len) {
		INFO("session " << e.key.session);
		const auto &v = got[fd];
		// Every copy came out (none dropped for its size) ...
		CHECK(v.size() >= matched[fd]);
		// ... none longer than the limit, and the data copies exactly it.
		CHECK(*std::max_element(v.begin(), v.end()) <= max);
		CHECK(std::count(v.begin(), v.end(), data_len) > 10);
	};
	check(c1, e128, 128, 128);
	// A GSO aggregate longer than 9216 is cut to its first segment
	// (14 + 20 + 32 + 1448); a shorter one stays a whole GSO copy (its
	// segments fit the MTU), seen here as one frame.
	check(c2, e9216, 9216, 1514);
	check(cu, evx, 200, 200);
	// IPv4 TCP data cut at 64; IPv6 TCP data at 72 (end of the checksum
	// field of a CHECKSUM_PARTIAL skb: the kernel refuses 64).
	check(c3, e64, 72, 72);
	CHECK(std::count(got[c3].begin(), got[c3].end(), std::size_t{64}) > 10);

	for (int fd : {c1, c2, c3, cu})
		::close(fd);
}

int main(int argc, char **argv)
{
	return evpnmon::dp::test::run_in_private_netns("test_dataplane_truncate", argc, argv,
							build);
}
