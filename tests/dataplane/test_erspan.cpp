// ERSPAN II/III copies on the real BPF object, in a private network
// namespace:
//  - evpnmon_erspan (egress of the ERSPAN device) run with
//    BPF_PROG_TEST_RUN on crafted copies (the mark the mirror program
//    sets): every header bit compared byte for byte with erspan_wire.hpp,
//    which is written from the bit layouts, not from the program;
//  - the whole path: evpnmon_mirror run with BPF_PROG_TEST_RUN at a host
//    port, whose bpf_clone_redirect really sends the copy through the
//    ERSPAN device (and, for a non-IPv4 inner frame, through its peer and
//    bpf_redirect_neigh) out of the underlay veth, where a packet socket
//    captures it.
// The switch: br100 with host ports h1/h2 (veths, peers up, attached to
// nothing), an underlay veth ul0 10.9.9.1/24 (MTU 1500) with a permanent
// neighbour 10.9.9.2 for the collectors' routes.
#define DOCTEST_CONFIG_IMPLEMENT
#include "capture.hpp"
#include "erspan_wire.hpp"
#include "private_netns.hpp"
#include "profile_table.hpp"
#include "tc_test_run.hpp"

#include "evpnmon_shared.h"

#include <evpnmon/dataplane/dataplane.hpp>
#include <evpnmon/dataplane/memory.hpp>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

using namespace evpnmon::dp;
using namespace evpnmon::dp::test;
namespace session = evpnmon::session;
namespace wire = evpnmon::dp::erspan_wire;

namespace {

const std::string g_pin = "/sys/fs/bpf/evpnmon-erspan-" + std::to_string(::getpid());
constexpr const char *kA = "02:00:00:00:00:01";
constexpr const char *kB = "02:00:00:00:00:02";
const std::array<std::uint8_t, 6> kGw = {2, 0x99, 0, 0, 0, 1};
constexpr std::uint8_t kHwId = 42;

void build_switch()
{
	sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1");
	sh("ip link set lo up && ip link add br100 type bridge");
	for (auto p : {"h1", "h2"}) {
		const std::string n = p;
		sh("ip link add " + n + " type veth peer name " + n + "p");
		sh("ip link set " + n + " master br100 up && ip link set " + n + "p up");
	}
	sh("ip link add vxlan100 type vxlan id 100 dstport 4789 nolearning && "
	   "ip link set vxlan100 master br100 up && ip link set br100 up");
	sh("ip link add ul0 type veth peer name ul1 && ip link set ul0 up && "
	   "ip link set ul1 up && ip addr add 10.9.9.1/24 dev ul0");
	sh("ip neigh add 10.9.9.2 lladdr 02:99:00:00:00:01 dev ul0 nud permanent");
	sh("ip route add 10.50.0.0/24 via 10.9.9.2 && ip route add 10.60.0.0/24 via 10.9.9.2");
	// A route whose next hop has no neighbour entry (NO_NEIGH).
	sh("ip route add 10.80.0.0/24 via 10.9.9.3");
	// 10.70.0.0/24: no route at all.
}

Config config(bool keep = false)
{
	Config c;
	c.keep_on_exit = keep;
	c.bridges = {{"br100", "vxlan100", 100}};
	c.local_vtep = {10, 9, 9, 1};
	c.pin_dir = g_pin;
	c.erspan_hw_id = kHwId;
	return c;
}

// (Not from /sys/class/net: sysfs shows the namespace it was mounted in.)
std::array<std::uint8_t, 6> dev_mac(const std::string &dev)
{
	const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ifreq ifr{};
	std::strncpy(ifr.ifr_name, dev.c_str(), IFNAMSIZ - 1);
	if (fd < 0 || ::ioctl(fd, SIOCGIFHWADDR, &ifr) != 0)
		throw std::runtime_error("SIOCGIFHWADDR " + dev);
	::close(fd);
	std::array<std::uint8_t, 6> m{};
	std::memcpy(m.data(), ifr.ifr_hwaddr.sa_data, 6);
	return m;
}

std::int64_t realtime_ns()
{
	timespec ts{};
	::clock_gettime(CLOCK_REALTIME, &ts);
	return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

Erspan dest(const std::string &collector, std::uint8_t version, std::uint16_t span,
	    std::uint8_t dscp = 0, std::uint8_t ttl = 64, std::uint16_t gre = 0)
{
	Erspan x;
	x.collector = *parse_ip(collector);
	x.version = version;
	x.span_id = span;
	x.dscp = dscp;
	x.ttl = ttl;
	x.gre_proto = gre;
	return x;
}

Entry entry(EntryKind kind, const std::string &mac, const Erspan &x,
	    const std::string &sess = "c1", const session::Options &opts = {})
{
	Entry e;
	e.key.kind = kind;
	e.key.vni = 100;
	e.key.host.mac = parse_mac(mac);
	e.key.host_id = 1;
	e.key.session = sess;
	e.action.kind = Action::Kind::Erspan;
	e.action.erspan = x;
	e.options = opts;
	return e;
}

struct Harness {
	std::unique_ptr<Dataplane> dp;
	int encap = -1, hop = -1, mirror = -1;
	std::uint32_t er = 0, h1 = 0, h2 = 0, ul0 = 0;
	std::array<std::uint8_t, 6> ul0_mac{};

	explicit Harness(bool keep = false) : dp(make_dataplane("linux", config(keep)))
	{
		encap = attached_prog("evpnmon-er", true, "evpnmon_erspan");
		hop = attached_prog("evpnmon-erp", false, "evpnmon_erspan_hop");
		mirror = attached_port_prog(*dp, "h1", 100, false);
		er = if_nametoindex("evpnmon-er");
		h1 = if_nametoindex("h1");
		h2 = if_nametoindex("h2");
		ul0 = if_nametoindex("ul0");
		ul0_mac = dev_mac("ul0");
	}
	~Harness()
	{
		for (int fd : {encap, hop, mirror})
			::close(fd);
	}
	void clear()
	{
		for (const auto &e : dp->list())
			REQUIRE_FALSE(dp->remove(e.key));
	}

	// The destination slot entry `e`'s dp_match element names.
	std::uint32_t slot_of(const Entry &e)
	{
		const int fd = bpf_obj_get((g_pin + "/dp_match").c_str());
		REQUIRE(fd >= 0);
		dp_match_key k{};
		k.vni = 100;
		k.kind = e.key.kind == EntryKind::MirrorSource ? DP_KIND_SRC : DP_KIND_DST;
		k.mtype = DP_MATCH_MAC;
		std::copy(e.key.host.mac->begin(), e.key.host.mac->end(), k.addr);
		dp_match_val v{};
		std::uint32_t slot = 0;
		if (bpf_map_lookup_elem(fd, &k, &v) == 0)
			for (dp_u32 i = 0; i < v.n && i < DP_MAX_ACTIONS; ++i)
				if (v.slots[i].action.kind == DP_ACT_ERSPAN &&
				    std::memcmp(&v.slots[i].action.remote_vtep,
						e.action.erspan.collector.bytes.data(), 4) == 0)
					slot = v.slots[i].action.ifindex;
		::close(fd);
		REQUIRE(slot != 0);
		return slot;
	}

	// evpnmon_erspan on a copy as the mirror program hands it over.
	Run encap_run(std::span<const std::uint8_t> frame, std::uint32_t slot, bool to_host,
		      std::uint32_t trunc = 0, std::uint32_t ingress = 0)
	{
		__sk_buff ctx{};
		ctx.mark = DP_ERSPAN_MARK | slot | (to_host ? DP_ERSPAN_TO_HOST : 0) |
			   (trunc << DP_TRUNC_SHIFT);
		ctx.ingress_ifindex = ingress ? ingress : h1;
		ctx.ifindex = er;
		return test_run(encap, frame, ctx);
	}

	wire::Expect expect(const Erspan &x, std::uint32_t seq) const
	{
		wire::Expect w;
		w.dmac = kGw;
		w.smac = ul0_mac;
		w.src = {10, 9, 9, 1};
		std::copy_n(x.collector.bytes.begin(), 4, w.dst.begin());
		w.dscp = x.dscp;
		w.ttl = x.ttl;
		w.gre_proto = x.gre_proto ? x.gre_proto : x.version == 3 ? 0x22EB : 0x88BE;
		w.seq = seq;
		w.version = x.version;
		w.span_id = x.span_id;
		w.index = h1;
		w.hw_id = kHwId;
		return w;
	}

	ErspanCounters counters(const Erspan &x) const
	{
		for (const auto &[d, c] : dp->erspan_counters())
			if (d == x)
				return c;
		FAIL("no counters for the destination");
		return {};
	}
};

// Byte-for-byte comparison that says where two frames differ.
std::string diff(const std::vector<std::uint8_t> &got, const std::vector<std::uint8_t> &want)
{
	if (got == want)
		return "";
	std::ostringstream o;
	o << "sizes " << got.size() << "/" << want.size();
	for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i)
		if (got[i] != want[i])
			o << " [" << i << "] " << std::hex << int{got[i]} << "!=" << int{want[i]}
			  << std::dec;
	return o.str();
}
#define CHECK_BYTES(got, want) CHECK_MESSAGE((got) == (want), diff((got), (want)))

std::vector<std::uint8_t> cat(std::vector<std::uint8_t> a, std::span<const std::uint8_t> b,
			      std::size_t n = SIZE_MAX)
{
	a.insert(a.end(), b.begin(), b.begin() + static_cast<long>(std::min(n, b.size())));
	return a;
}

std::vector<std::uint8_t> udp_frame(std::size_t len, const char *src = kA, const char *dst = kB)
{
	return table::frames::padded(
	    table::frames::udp("10.1.0.1", "10.1.0.2", 1000, 2000, {1, 2, 3, 4}, src, dst), len);
}

// The frame with an 802.1Q tag (TPID 0x8100, TCI) after its MACs.
std::vector<std::uint8_t> tagged(std::vector<std::uint8_t> f, std::uint16_t tci)
{
	std::vector<std::uint8_t> t = {0x81, 0x00, static_cast<std::uint8_t>(tci >> 8),
				       static_cast<std::uint8_t>(tci)};
	f.insert(f.begin() + 12, t.begin(), t.end());
	return f;
}

// An ARP request from A for 10.1.0.2: 42 octets, unpadded.
std::vector<std::uint8_t> arp_frame()
{
	std::vector<std::uint8_t> f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1,
				       0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1,
				       2, 0, 0, 0, 0, 1, 10, 1, 0, 1,
				       0, 0, 0, 0, 0, 0, 10, 1, 0, 2};
	return f;
}

std::vector<std::uint8_t> ipv6_frame()
{
	return table::frames::udp("fd00::1", "fd00::2", 1000, 2000, std::vector<std::uint8_t>(30, 7));
}

// Copies that leave the underlay veth within `ms` (GRE only).
std::vector<wire::Copy> captured(int fd, std::size_t want, int ms = 1000)
{
	std::vector<wire::Copy> out;
	const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
	while (out.size() < want && std::chrono::steady_clock::now() < end) {
		pollfd p{fd, POLLIN, 0};
		::poll(&p, 1, 10);
		std::uint8_t buf[4096];
		sockaddr_ll from{};
		ssize_t n;
		while ((n = table::recv_frame(fd, buf, sizeof buf, from)) > 0) {
			if (from.sll_pkttype != PACKET_OUTGOING)
				continue;
			if (auto c = wire::parse({buf, static_cast<std::size_t>(n)}))
				out.push_back(std::move(*c));
		}
	}
	return out;
}

} // namespace

TEST_CASE("ERSPAN III: every header bit, byte for byte; sequence; timestamp; D")
{
	Harness h;
	h.clear();
	const Erspan x = dest("10.50.0.1", 3, 7, 10, 33);
	const Entry e = entry(EntryKind::MirrorSource, kA, x);
	REQUIRE_FALSE(h.dp->install(e));
	const auto slot = h.slot_of(e);
	const auto f = udp_frame(100);

	for (std::uint32_t i = 0; i < 3; ++i) {
		INFO("copy " << i);
		const bool to_host = i == 1;
		const auto before = realtime_ns();
		auto r = h.encap_run(f, slot, to_host);
		const auto after = realtime_ns();
		// Untagged IPv4 inner frame, neighbour known: redirected at once.
		CHECK(r.retval == TC_ACT_REDIRECT);
		CHECK(r.ctx.mark == 0);
		auto c = wire::parse(r.data);
		REQUIRE(c);
		// The timestamp rebuilt from the base field and the subheader is
		// UNIX time in 100 ns units.
		const auto ts_ns = static_cast<std::int64_t>(c->ts) * 100;
		CHECK(ts_ns >= before - 1000000);
		CHECK(ts_ns <= after + 1000000);
		auto w = h.expect(x, i);
		w.d = to_host;
		w.ts = c->ts;
		CHECK_BYTES(r.data, cat(wire::outer(w, f.size()), f));
		CHECK(wire::ip_checksum({r.data.data() + 14, 20}) == 0);
	}
	{
		// The kernel's TAI offset (37 s where a time daemon set it; 0 on
		// this host) is subtracted from bpf_ktime_get_tai_ns(): a value
		// written into dp_config shows exactly in the next copy.
		const int cfd = bpf_obj_get((g_pin + "/dp_config").c_str());
		REQUIRE(cfd >= 0);
		const dp_u32 zero = 0;
		dp_config c{}, saved{};
		REQUIRE(bpf_map_lookup_elem(cfd, &zero, &saved) == 0);
		CHECK(saved.erspan_hw_id == kHwId);
		CHECK(saved.erspan_ifindex == h.er);
		c = saved;
		c.tai_offset_ns += 37000000000ull;
		REQUIRE(bpf_map_update_elem(cfd, &zero, &c, BPF_ANY) == 0);
		const auto before = realtime_ns();
		auto r = h.encap_run(f, slot, false);
		const auto after = realtime_ns();
		REQUIRE(bpf_map_update_elem(cfd, &zero, &saved, BPF_ANY) == 0);
		::close(cfd);
		auto cp = wire::parse(r.data);
		REQUIRE(cp);
		const auto ts_ns = static_cast<std::int64_t>(cp->ts) * 100 + 37000000000ll;
		CHECK(ts_ns >= before - 1000000);
		CHECK(ts_ns <= after + 1000000);
	}
	auto k = h.counters(x);
	CHECK(k.packets == 4);
	CHECK(k.bytes == 4 * f.size());
	CHECK(k.last_seq == 3);
	CHECK(k.no_route == 0);
	CHECK(k.mtu_truncated == 0);
	CHECK(k.errors == 0);
}

TEST_CASE("ERSPAN II: Index, En; a sequence space per destination; GRE protocol")
{
	Harness h;
	h.clear();
	const Erspan two = dest("10.60.0.1", 2, 1023, 46, 255);
	const Erspan three = dest("10.50.0.1", 3, 0, 0, 64, 0x88BE);
	const Entry e2 = entry(EntryKind::MirrorSource, kA, two, "c2");
	const Entry e3 = entry(EntryKind::MirrorSource, kA, three, "c3");
	REQUIRE_FALSE(h.dp->install(e2));
	REQUIRE_FALSE(h.dp->install(e3));
	const auto s2 = h.slot_of(e2), s3 = h.slot_of(e3);
	CHECK(s2 != s3);
	const auto f = udp_frame(80);
	for (std::uint32_t i = 0; i < 3; ++i) {
		auto r = h.encap_run(f, s2, false, 0, h.h2);
		CHECK(r.retval == TC_ACT_REDIRECT);
		auto w = h.expect(two, i);
		w.index = h.h2;
		CHECK_BYTES(r.data, cat(wire::outer(w, f.size()), f));
	}
	// The other destination starts its own sequence at 0; a configured GRE
	// protocol replaces the version's default.
	auto r = h.encap_run(f, s3, false);
	auto c = wire::parse(r.data);
	REQUIRE(c);
	CHECK(c->seq == 0);
	CHECK(c->gre_proto == 0x88BE);
	CHECK(c->version == 3);
	CHECK(h.counters(two).last_seq == 2);
	CHECK(h.counters(three).last_seq == 0);
	// A tagged frame: VLAN and COS from the tag, En 3 (tag kept in the
	// frame). Its skb protocol is 802.1Q: it goes through the peer.
	const auto t = tagged(udp_frame(80), static_cast<std::uint16_t>(5 << 13 | 100));
	r = h.encap_run(t, s2, false);
	CHECK(r.retval == TC_ACT_OK);
	CHECK(r.ctx.mark == (DP_ERSPAN_MARK | DP_ERSPAN_HOP | h.ul0));
	auto w = h.expect(two, 3);
	w.vlan = 100;
	w.cos = 5;
	w.en = 3;
	CHECK_BYTES(r.data, cat(wire::outer(w, t.size()), t));
}

TEST_CASE("ERSPAN III: tagged, ARP, IPv6 inner frames; T; BSO; MTU")
{
	Harness h;
	h.clear();
	const Erspan x = dest("10.50.0.1", 3, 12);
	const Entry e = entry(EntryKind::MirrorSource, kA, x);
	REQUIRE_FALSE(h.dp->install(e));
	const auto slot = h.slot_of(e);
	std::uint32_t seq = 0;
	// Not untagged IPv4: handed to the peer (mark: hop + output ifindex);
	// bpf_redirect_neigh there writes the MACs again.
	auto via_peer = [&](const std::vector<std::uint8_t> &f, wire::Expect w,
			    std::size_t inner) {
		const auto r = h.encap_run(f, slot, true);
		CHECK(r.retval == TC_ACT_OK);
		CHECK(r.ctx.mark == (DP_ERSPAN_MARK | DP_ERSPAN_HOP | h.ul0));
		auto c = wire::parse(r.data);
		REQUIRE(c);
		w.d = true;
		w.ts = c->ts;
		CHECK_BYTES(r.data, cat(wire::outer(w, inner), f, inner));
	};
	{
		INFO("802.1Q, PCP 3 VLAN 4094");
		const auto f = tagged(udp_frame(100), static_cast<std::uint16_t>(3 << 13 | 4094));
		auto w = h.expect(x, seq++);
		w.vlan = 4094;
		w.cos = 3;
		via_peer(f, w, f.size());
	}
	{
		INFO("ARP, 42 octets: BSO short");
		const auto f = arp_frame();
		auto w = h.expect(x, seq++);
		w.bso = 1;
		via_peer(f, w, f.size());
	}
	{
		INFO("IPv6");
		const auto f = ipv6_frame();
		via_peer(f, h.expect(x, seq++), f.size());
	}
	{
		INFO("truncated by the profile (mark): T");
		const auto f = udp_frame(200);
		const auto r = h.encap_run(f, slot, false, 64);
		CHECK(r.retval == TC_ACT_REDIRECT);
		auto c = wire::parse(r.data);
		REQUIRE(c);
		auto w = h.expect(x, seq++);
		w.t = true;
		w.ts = c->ts;
		CHECK_BYTES(r.data, cat(wire::outer(w, 64), f, 64));
	}
	{
		INFO("1600 octets over a 1500 MTU route: cut to fit, T, BSO oversized");
		const auto f = udp_frame(1600);
		const auto r = h.encap_run(f, slot, false);
		CHECK(r.retval == TC_ACT_REDIRECT);
		auto c = wire::parse(r.data);
		REQUIRE(c);
		CHECK(r.data.size() == 14 + 1500);
		auto w = h.expect(x, seq++);
		w.t = true;
		w.bso = 2;
		w.ts = c->ts;
		CHECK_BYTES(r.data, cat(wire::outer(w, 1500 - 48), f, 1500 - 48));
		CHECK(h.counters(x).mtu_truncated == 1);
	}
	{
		INFO("1514 octets tagged (1518): not oversized");
		const auto f = tagged(udp_frame(1200), 7);
		auto big = table::frames::padded(f, 1518);
		const auto r = h.encap_run(big, slot, false);
		auto c = wire::parse(r.data);
		REQUIRE(c);
		CHECK(c->en_bso == 0);
		CHECK(c->t); // 1518 + 48 > 1500: cut
		++seq;
	}
	auto k = h.counters(x);
	CHECK(k.packets == seq);
	CHECK(k.last_seq == seq - 1);
	CHECK(k.errors == 0);
}

TEST_CASE("ERSPAN: no route is counted and dropped; no neighbour goes via the peer; foreign frames dropped")
{
	Harness h;
	h.clear();
	const Erspan none = dest("10.70.0.1", 3, 1), noneigh = dest("10.80.0.1", 2, 2);
	const Entry a = entry(EntryKind::MirrorSource, kA, none, "c-none");
	const Entry b = entry(EntryKind::MirrorSource, kA, noneigh, "c-noneigh");
	REQUIRE_FALSE(h.dp->install(a));
	REQUIRE_FALSE(h.dp->install(b));
	const auto f = udp_frame(100);
	auto r = h.encap_run(f, h.slot_of(a), false);
	CHECK(r.retval == TC_ACT_SHOT);
	auto k = h.counters(none);
	CHECK(k.no_route == 1);
	CHECK(k.packets == 0);
	r = h.encap_run(f, h.slot_of(b), false);
	CHECK(r.retval == TC_ACT_OK);
	CHECK(r.ctx.mark == (DP_ERSPAN_MARK | DP_ERSPAN_HOP | h.ul0));
	auto c = wire::parse(r.data);
	REQUIRE(c);
	CHECK(c->seq == 0);
	CHECK(std::all_of(r.data.begin(), r.data.begin() + 12, [](auto b) { return b == 0; }));
	CHECK(h.counters(noneigh).packets == 1);

	// Through the mirror program: the entry counts the copy that could not
	// be sent as a drop (the clone's transmit returned NET_XMIT_DROP).
	{
		REQUIRE_FALSE(h.dp->remove(b.key));
		__sk_buff m{};
		m.ingress_ifindex = h.h1;
		m.ifindex = h.h1;
		auto o = test_run(h.mirror, f, m);
		CHECK(o.retval == DP_TC_NEXT);
		CHECK(o.data == f);
		CHECK(h.counters(none).no_route == 2);
		auto ca = h.dp->counters(a.key);
		REQUIRE(ca);
		CHECK(ca->packets == 1);
		CHECK(ca->drops == 1);
	}
	// Frames that are not ERSPAN copies: dropped on both devices, counted
	// in the global drops.
	const auto g0 = h.dp->global_counters().drops;
	__sk_buff ctx{};
	ctx.ifindex = h.er;
	CHECK(test_run(h.encap, f, ctx).retval == TC_ACT_SHOT);
	ctx.mark = DP_ERSPAN_MARK | DP_ERSPAN_HOP | h.ul0; // a hop mark at the encap
	CHECK(test_run(h.encap, f, ctx).retval == TC_ACT_SHOT);
	ctx.mark = DP_ERSPAN_MARK | 4000; // a slot nothing names
	CHECK(test_run(h.encap, f, ctx).retval == TC_ACT_SHOT);
	ctx.mark = 0;
	ctx.ifindex = if_nametoindex("evpnmon-erp");
	CHECK(test_run(h.hop, f, ctx).retval == TC_ACT_SHOT);
	CHECK(h.dp->global_counters().drops == g0 + 4);
	// An invalid destination is refused at install.
	Entry bad = a;
	bad.action.erspan.version = 1;
	CHECK(h.dp->install(bad) == std::make_error_code(std::errc::invalid_argument));
	bad.action.erspan = dest("fd00::9", 3, 1);
	CHECK(h.dp->install(bad) == std::make_error_code(std::errc::invalid_argument));
}

TEST_CASE("ERSPAN copies from the mirror program: original unchanged, D from entry 1/2, one copy per destination, through the peer")
{
	Harness h;
	h.clear();
	const Erspan x = dest("10.50.0.1", 3, 99, 0, 64);
	// Entry 1 of A and entry 2 of A (one session), and entry 2 of B of
	// another session to the same destination.
	const Entry e1 = entry(EntryKind::MirrorSource, kA, x);
	const Entry e2 = entry(EntryKind::MirrorDest, kA, x);
	const Entry eb = entry(EntryKind::MirrorDest, kB, x, "c-b");
	for (const auto *e : {&e1, &e2, &eb})
		REQUIRE_FALSE(h.dp->install(*e));
	evpn_mon_options o{};
	o.present = 1;
	o.truncate = 64;
	const Erspan y = dest("10.60.0.1", 2, 5);
	const Entry et = entry(EntryKind::MirrorSource, kA, y, "c-trunc", session::Options(o));
	REQUIRE_FALSE(h.dp->install(et));
	const int cap = table::packet_socket("ul0");
	captured(cap, 1000, 50); // drain
	// The GRE sequence numbers of every copy that left the underlay, per
	// ERSPAN version (x is type III, y type II).
	std::map<int, std::vector<std::uint32_t>> seqs;
	auto take = [&](std::size_t want, int ms) {
		auto v = captured(cap, want, ms);
		for (const auto &c : v)
			seqs[c.version].push_back(c.seq);
		return v;
	};
	auto versions = [](const std::vector<wire::Copy> &v) {
		std::set<int> out;
		for (const auto &c : v)
			out.insert(c.version);
		return out;
	};

	auto mirror = [&](const std::vector<std::uint8_t> &f, std::uint32_t in) {
		__sk_buff ctx{};
		ctx.ingress_ifindex = in;
		ctx.ifindex = in;
		auto r = test_run(h.mirror, f, ctx);
		CHECK(r.retval == DP_TC_NEXT);
		CHECK(r.data == f); // the original, unchanged
		CHECK(r.ctx.mark == 0);
	};
	{
		INFO("A -> B at h1: entry 1 of A and entry 2 of B select it: one copy, D 0");
		const auto f = udp_frame(300);
		mirror(f, h.h1);
		auto v = take(3, 300);
		REQUIRE(v.size() == 2); // x once, y once (truncated)
		const auto &cx = v[0].version == 3 ? v[0] : v[1];
		const auto &cy = v[0].version == 3 ? v[1] : v[0];
		CHECK_FALSE(cx.d);
		CHECK(cx.index == h.h1);
		CHECK(cx.inner == f);
		CHECK_FALSE(cx.t);
		CHECK(cx.hw_id == kHwId);
		CHECK(cy.t);
		CHECK(cy.index == h.h1);
		CHECK(cy.inner == std::vector<std::uint8_t>(f.begin(), f.begin() + 64));
	}
	{
		INFO("B -> A at h2: entry 2 of A: D 1, index h2");
		const auto f = udp_frame(100, kB, kA);
		mirror(f, h.h2);
		auto v = take(2, 300);
		REQUIRE(v.size() == 1);
		CHECK(v[0].d);
		CHECK(v[0].index == h.h2);
		CHECK(v[0].inner == f);
	}
	{
		INFO("ARP from A (broadcast): via the peer, routed by bpf_redirect_neigh");
		const auto f = arp_frame();
		mirror(f, h.h1);
		auto v = take(2, 1000);
		REQUIRE(v.size() == 2);
		CHECK(versions(v) == std::set<int>{2, 3});
		for (const auto &c : v) {
			CHECK(c.dst[0] == 10);
			if (c.version == 3)
				CHECK(c.inner == f);
		}
	}
	{
		INFO("IPv6 and 802.1Q from A");
		for (const auto &f : {ipv6_frame(), tagged(udp_frame(90), 0x2064)}) {
			mirror(f, h.h1);
			auto v = take(2, 1000);
			REQUIRE(v.size() == 2);
			CHECK(versions(v) == std::set<int>{2, 3});
			for (const auto &c : v)
				if (c.version == 3)
					CHECK(c.inner == f);
		}
	}
	{
		INFO("a tagged frame sent by a host: the kernel moves the tag into skb "
		     "metadata; the program puts it back into the inner frame");
		const auto f = tagged(udp_frame(120), static_cast<std::uint16_t>(6 << 13 | 300));
		const int tx = table::packet_socket("h1p");
		sockaddr_ll to{};
		to.sll_family = AF_PACKET;
		to.sll_ifindex = static_cast<int>(if_nametoindex("h1p"));
		to.sll_halen = 6;
		REQUIRE(::sendto(tx, f.data(), f.size(), 0, reinterpret_cast<sockaddr *>(&to),
				 sizeof to) == static_cast<ssize_t>(f.size()));
		::close(tx);
		auto v = take(2, 1000);
		REQUIRE(v.size() == 2);
		for (const auto &c : v) {
			CHECK(c.vlan == 300);
			CHECK(c.cos == 6);
			CHECK(c.index == h.h1);
			if (c.version == 3) {
				CHECK(c.inner == f);
				CHECK_FALSE(c.t);
			} else {
				CHECK(c.en_bso == 3);
				CHECK(c.t);
				CHECK(c.inner == std::vector<std::uint8_t>(f.begin(), f.begin() + 64));
			}
		}
	}
	// GRE sequence contiguous per destination in what left the underlay.
	for (auto &[_, v] : seqs)
		std::sort(v.begin(), v.end());
	CHECK(seqs[3] == std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5});
	CHECK(seqs[2] == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
	CHECK(h.counters(x).last_seq == 5);
	CHECK(h.counters(y).last_seq == 4);
	auto c1 = h.dp->counters(e1.key);
	REQUIRE(c1);
	CHECK(c1->drops == 0);
	::close(cap);
}

TEST_CASE("a restart adopts ERSPAN destinations: list, slot, sequence; a changed destination is a new slot")
{
	const Erspan x = dest("10.50.0.1", 3, 21, 8, 40, 0x8949);
	const Entry e = entry(EntryKind::MirrorSource, kA, x);
	const auto f = udp_frame(100);
	std::uint32_t slot = 0;
	{
		Harness h(true);
		h.clear();
		REQUIRE_FALSE(h.dp->install(e));
		slot = h.slot_of(e);
		h.encap_run(f, slot, false);
		h.encap_run(f, slot, false);
	}
	CHECK(if_nametoindex("evpnmon-er") != 0); // kept
	Harness h;
	auto l = h.dp->list();
	REQUIRE(l.size() == 1);
	CHECK(l[0] == e);
	CHECK(h.slot_of(e) == slot);
	CHECK(h.counters(x).last_seq == 1);
	auto c = wire::parse(h.encap_run(f, slot, false).data);
	REQUIRE(c);
	CHECK(c->seq == 2);
	CHECK(c->gre_proto == 0x8949);

	// Another destination for the same entry: a new slot, its own
	// sequence; the old slot keeps its parameters for copies in flight.
	Entry e2 = e;
	e2.action.erspan.span_id = 22;
	REQUIRE_FALSE(h.dp->install(e2));
	const auto slot2 = h.slot_of(e2);
	CHECK(slot2 != slot);
	c = wire::parse(h.encap_run(f, slot2, false).data);
	REQUIRE(c);
	CHECK(c->seq == 0);
	CHECK(c->span_id == 22);
	c = wire::parse(h.encap_run(f, slot, false).data); // in flight
	REQUIRE(c);
	CHECK(c->span_id == 21);
	CHECK(h.dp->erspan_counters().size() == 1);
	REQUIRE_FALSE(h.dp->remove(e2.key));
	CHECK(h.dp->erspan_counters().empty());
}

TEST_CASE("an ERSPAN HW ID above 63 is refused")
{
	Config c = config();
	c.erspan_hw_id = 64;
	CHECK_THROWS(make_dataplane("linux", c));
	CHECK(if_nametoindex("evpnmon-er") == 0); // nothing left behind
}

int main(int argc, char **argv)
{
	return evpnmon::dp::test::run_in_private_netns("test_dataplane_erspan", argc, argv,
							build_switch);
}
