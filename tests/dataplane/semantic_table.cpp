#include "semantic_table.hpp"

#include <array>
#include <stdexcept>

namespace evpnmon::dp::table {

namespace {

constexpr const char *H1 = "02:00:00:00:00:01";
constexpr const char *H2 = "02:00:00:00:00:02";
constexpr const char *H3 = "02:00:00:00:00:03";
constexpr const char *SRV = "02:00:00:00:00:0a";
constexpr const char *IP1 = "10.1.0.1";
constexpr const char *IP2 = "10.1.0.2";
constexpr const char *IP3 = "10.1.0.3";
constexpr const char *IPS = "10.1.0.10";
constexpr const char *V6_1 = "fd00::1";
constexpr const char *V6_2 = "fd00::2";
constexpr const char *VTEP_B = "10.9.9.2";
constexpr const char *VTEP_C = "10.9.9.3";
// Outer sources of copies arriving at the mirror device.
constexpr std::array<std::uint8_t, 4> VTEP_S{10, 9, 9, 5}; // a VTEP of VNI 100
constexpr std::array<std::uint8_t, 4> VTEP_X{10, 9, 9, 6}; // not one (a forger)
const std::vector<std::pair<std::uint32_t, std::string>> kSources100 = {{100, "10.9.9.5"}};

DecapDrops drops(std::uint64_t nometa, std::uint64_t source, std::uint64_t host)
{
	DecapDrops d;
	d.no_tunnel_metadata = nometa;
	d.unknown_source = source;
	d.unknown_host_id = host;
	return d;
}

using K = EntryKind;
using O = Output::Kind;

EntrySpec src_mac(const char *mac, std::uint16_t hid, const char *port)
{
	return {K::MirrorSource, 100, mac, "", hid, port, "", 0, 0};
}
EntrySpec dst_mac(const char *mac, std::uint16_t hid, const char *port)
{
	return {K::MirrorDest, 100, mac, "", hid, port, "", 0, 0};
}
EntrySpec vx(EntryKind k, const char *mac, const char *ip, std::uint16_t hid,
	     const char *vtep, std::uint32_t vni = 100)
{
	return {k, 100, mac, ip, hid, "", vtep, vni, hid};
}
// An entry naming server (VNI 100, server_mac, hid).
EntrySpec named(EntryKind k, const char *mac, std::uint16_t hid, const char *server_mac)
{
	EntrySpec e{k, 100, mac, "", hid, "", "", 0, 0};
	e.server_mac = server_mac;
	return e;
}
FrameSpec v4(const char *sm, const char *dm, const char *si, const char *di)
{
	return {sm, dm, si, di, 0, 32};
}

std::vector<Case> make_cases()
{
	std::vector<Case> c;
	c.push_back({"no entry: nothing copied",
		     {},
		     v4(H1, H2, IP1, IP2),
		     "h1", {}, {}, {}, 0});
	c.push_back({"entry 1 by MAC: source host copied to local server port",
		     {src_mac(H1, 7, "srv")},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}},
		     {{0, 1, 0}}, 0});
	c.push_back({"entry 1 does not match the destination",
		     {src_mac(H1, 7, "srv")},
		     v4(H2, H1, IP2, IP1),
		     "h2", {}, {}, {{0, 0, 0}}, 0});
	c.push_back({"entry 2 by MAC: packets to the host copied",
		     {dst_mac(H1, 7, "srv")},
		     v4(H2, H1, IP2, IP1),
		     "h2", {},
		     {{O::LocalCopy, "srv", "", 0, 0}},
		     {{0, 1, 0}}, 0});
	c.push_back({"entries 1+2 same server, host to host: one copy (dedupe)",
		     {src_mac(H1, 7, "srv"), dst_mac(H2, 7, "srv")},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}},
		     {{0, 1, 0}, {1, 1, 0}}, 0});
	c.push_back({"two servers watch one host: two copies",
		     {src_mac(H1, 7, "srv"),
		      vx(K::MirrorSource, H1, "", 9, VTEP_B)},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}, {O::VxlanCopy, "", VTEP_B, 100, 9}},
		     {{0, 1, 0}, {1, 1, 0}}, 0});
	c.push_back({"entry 1 VXLAN: copy carries VNI and HOST ID",
		     {vx(K::MirrorSource, H1, "", 4242, VTEP_B)},
		     v4(H1, H3, IP1, IP3),
		     "h1", {},
		     {{O::VxlanCopy, "", VTEP_B, 100, 4242}},
		     {{0, 1, 0}}, 0});
	c.push_back({"entry 2 VXLAN to another VTEP, non-IP frame",
		     {vx(K::MirrorDest, H3, "", 65535, VTEP_C)},
		     {H1, H3, "", "", 0, 46},
		     "h1", {},
		     {{O::VxlanCopy, "", VTEP_C, 100, 65535}},
		     {{0, 1, 0}}, 0});
	c.push_back({"entry by IPv4 (no MAC): source address matched",
		     {vx(K::MirrorSource, "", IP2, 5, VTEP_B)},
		     v4(H2, H3, IP2, IP3),
		     "h2", {},
		     {{O::VxlanCopy, "", VTEP_B, 100, 5}},
		     {{0, 1, 0}}, 0});
	c.push_back({"entry by IPv4 (no MAC): destination address matched",
		     {{K::MirrorDest, 100, "", IP3, 5, "srv", "", 0, 0}},
		     v4(H2, H3, IP2, IP3),
		     "h2", {},
		     {{O::LocalCopy, "srv", "", 0, 0}},
		     {{0, 1, 0}}, 0});
	c.push_back({"entry by IPv6 destination",
		     {{K::MirrorDest, 100, "", V6_2, 5, "srv", "", 0, 0}},
		     {H1, H2, V6_1, V6_2, 0, 24},
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}},
		     {{0, 1, 0}}, 0});
	c.push_back({"entry with MAC and IP matches the MAC only",
		     {{K::MirrorSource, 100, H1, IP3, 5, "srv", "", 0, 0}},
		     v4(H2, H1, IP3, IP1),
		     "h2", {}, {}, {{0, 0, 0}}, 0});
	c.push_back({"IP entry matches inside a VLAN tag",
		     {{K::MirrorSource, 100, "", IP1, 5, "srv", "", 0, 0}},
		     {H1, H2, IP1, IP2, 10, 32},
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}},
		     {{0, 1, 0}}, 0});
	c.push_back({"entries are per VNI: VNI 200 port does not match VNI 100",
		     {src_mac(H1, 7, "srv")},
		     v4(H1, H2, IP1, IP2),
		     "g1", {}, {}, {{0, 0, 0}}, 0});
	c.push_back({"VNI 200 entry on VNI 200 port",
		     {{K::MirrorSource, 200, H1, "", 7, "", VTEP_B, 200, 7}},
		     v4(H1, H2, IP1, IP2),
		     "g1", {},
		     {{O::VxlanCopy, "", VTEP_B, 200, 7}},
		     {{0, 1, 0}}, 0});
	c.push_back({"server's own traffic is not mirrored",
		     {src_mac(H1, 7, "srv"), dst_mac(H1, 7, "srv")},
		     v4(SRV, H2, IPS, IP2),
		     "srv", {}, {}, {{0, 0, 0}, {1, 0, 0}}, 0});
	c.push_back({"server traffic to a monitored host is mirrored once",
		     {dst_mac(H1, 7, "srv")},
		     v4(SRV, H1, IPS, IP1),
		     "srv", {},
		     {{O::LocalCopy, "srv", "", 0, 0}},
		     {{0, 1, 0}}, 0});
	c.push_back({"src MAC + src IP + dst MAC + dst IP, 3 actions: 3 copies",
		     {src_mac(H1, 7, "srv"),
		      {K::MirrorSource, 100, "", IP1, 7, "srv", "", 0, 0},
		      vx(K::MirrorDest, H2, "", 8, VTEP_B),
		      vx(K::MirrorDest, "", IP2, 9, VTEP_C)},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0},
		      {O::VxlanCopy, "", VTEP_B, 100, 8},
		      {O::VxlanCopy, "", VTEP_C, 100, 9}},
		     {{0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {3, 1, 0}}, 0});
	c.push_back({"two servers behind one VTEP (two HOST IDs): two copies",
		     {vx(K::MirrorSource, H1, "", 4242, VTEP_B),
		      vx(K::MirrorSource, H1, "", 4243, VTEP_B)},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::VxlanCopy, "", VTEP_B, 100, 4242},
		      {O::VxlanCopy, "", VTEP_B, 100, 4243}},
		     {{0, 1, 0}, {1, 1, 0}}, 0});
	c.push_back({"entry 2 by IP and entry 1 by MAC, same action: one copy",
		     {vx(K::MirrorDest, "", IP2, 4242, VTEP_B),
		      vx(K::MirrorSource, H1, "", 4242, VTEP_B)},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::VxlanCopy, "", VTEP_B, 100, 4242}},
		     {{0, 1, 0}, {1, 1, 0}}, 0});
	c.push_back({"entry by IPv6 source, VXLAN copy",
		     {vx(K::MirrorSource, "", V6_1, 77, VTEP_C)},
		     {H1, H2, V6_1, V6_2, 0, 24},
		     "h1", {},
		     {{O::VxlanCopy, "", VTEP_C, 100, 77}},
		     {{0, 1, 0}}, 0});
	c.push_back({"copy to a port that does not exist is counted as drop",
		     {src_mac(H1, 7, "ghost")},
		     v4(H1, H2, IP1, IP2),
		     "h1", {}, {}, {{0, 1, 1}}, 0});
	c.push_back({"decap: known HOST ID delivered to the server's port",
		     {{K::Decap, 100, "", "", 4242, "srv", "", 0, 0}},
		     v4(H1, H2, IP1, IP2),
		     "mirror", TunnelMeta{100, 4242, VTEP_S},
		     {{O::Deliver, "srv", "", 0, 0}},
		     {{0, 1, 0}}, 0});
	c.back().decap_sources = kSources100;
	c.back().decap_drops = drops(0, 0, 0);
	c.push_back({"decap: unknown HOST ID dropped and counted",
		     {{K::Decap, 100, "", "", 4242, "srv", "", 0, 0}},
		     v4(H1, H2, IP1, IP2),
		     "mirror", TunnelMeta{100, 4243, VTEP_S},
		     {}, {{0, 0, 0}}, 1});
	c.back().decap_sources = kSources100;
	c.back().decap_drops = drops(0, 0, 1);
	c.push_back({"decap: HOST ID known in another VNI only is dropped",
		     {{K::Decap, 200, "", "", 4242, "srv", "", 0, 0}},
		     v4(H1, H2, IP1, IP2),
		     "mirror", TunnelMeta{100, 4242, VTEP_S},
		     {}, {{0, 0, 0}}, 1});
	c.back().decap_sources = {{100, "10.9.9.5"}, {200, "10.9.9.5"}};
	c.back().decap_drops = drops(0, 0, 1);

	// Decapsulation only from a VTEP of the copy's VNI: a valid (VNI,
	// HOST ID) from any other source is a forged copy, never delivered.
	c.push_back({"decap: a known (VNI, HOST ID) from a source that is not a VTEP "
		     "of the VNI is dropped and counted",
		     {{K::Decap, 100, "", "", 4242, "srv", "", 0, 0}},
		     v4(H1, H2, IP1, IP2),
		     "mirror", TunnelMeta{100, 4242, VTEP_X},
		     {}, {{0, 0, 0}}, 1});
	c.back().decap_sources = kSources100;
	c.back().decap_drops = drops(0, 1, 0);
	c.push_back({"decap: a VTEP of another VNI only is not a source of this one",
		     {{K::Decap, 100, "", "", 4242, "srv", "", 0, 0}},
		     v4(H1, H2, IP1, IP2),
		     "mirror", TunnelMeta{100, 4242, VTEP_S},
		     {}, {{0, 0, 0}}, 1});
	c.back().decap_sources = {{200, "10.9.9.5"}, {100, "10.9.9.7"}};
	c.back().decap_drops = drops(0, 1, 0);
	c.push_back({"decap: no source listed: nothing is decapsulated",
		     {{K::Decap, 100, "", "", 4242, "srv", "", 0, 0}},
		     v4(H1, H2, IP1, IP2),
		     "mirror", TunnelMeta{100, 4242, VTEP_S},
		     {}, {{0, 0, 0}}, 1});
	c.back().decap_drops = drops(0, 1, 0);
	c.push_back({"decap: an unknown source is counted before an unknown HOST ID",
		     {{K::Decap, 100, "", "", 4242, "srv", "", 0, 0}},
		     v4(H1, H2, IP1, IP2),
		     "mirror", TunnelMeta{100, 4243, VTEP_X},
		     {}, {{0, 0, 0}}, 1});
	c.back().decap_sources = kSources100;
	c.back().decap_drops = drops(0, 1, 0);
	c.push_back({"decap: any of the VNI's VTEPs is a source",
		     {{K::Decap, 100, "", "", 4242, "srv", "", 0, 0}},
		     v4(H1, H2, IP1, IP2),
		     "mirror", TunnelMeta{100, 4242, VTEP_S},
		     {{O::Deliver, "srv", "", 0, 0}},
		     {{0, 1, 0}}, 0});
	c.back().decap_sources = {{100, "10.9.9.7"}, {100, "10.9.9.5"}, {100, "10.9.9.6"}};
	c.back().decap_drops = drops(0, 0, 0);

	// More distinct actions than DP_MAX_COPIES: which copies survive
	// depends on the lookup order (source MAC, destination MAC, source IP,
	// destination IP; slots in EntryKey order), the contract of
	// collect_packet() in bpf/lib/match.h. Each matched entry still counts
	// the packet; an entry whose copy is over the limit counts a drop.
	{
		std::vector<EntrySpec> e;
		std::vector<OutSpec> out;
		std::vector<CounterSpec> cnt;
		auto add = [&](EntryKind k, const char *mac, const char *ip,
			       std::uint16_t hid, bool copied) {
			cnt.push_back({e.size(), 1, copied ? 0u : 1u});
			e.push_back(vx(k, mac, ip, hid, VTEP_B));
			if (copied)
				out.push_back({O::VxlanCopy, "", VTEP_B, 100, hid});
		};
		for (std::uint16_t h : {11, 12, 13})
			add(K::MirrorSource, H1, "", h, true);
		for (std::uint16_t h : {21, 22, 23})
			add(K::MirrorDest, H2, "", h, true);
		for (std::uint16_t h : {31, 32, 33})
			add(K::MirrorSource, "", IP1, h, h != 33);
		for (std::uint16_t h : {41, 42, 43})
			add(K::MirrorDest, "", IP2, h, false);
		c.push_back({"12 distinct actions: the first 8 in lookup order (src MAC, "
			     "dst MAC, src IP, dst IP) are copied, 4 dropped",
			     e, v4(H1, H2, IP1, IP2), "h1", {}, out, cnt, 4});
	}
	{
		std::vector<EntrySpec> e;
		std::vector<OutSpec> out;
		std::vector<CounterSpec> cnt;
		for (std::uint16_t h = 1; h <= 8; ++h) {
			cnt.push_back({e.size(), 1, 0});
			e.push_back(vx(K::MirrorSource, H1, "", h, VTEP_C));
			out.push_back({O::VxlanCopy, "", VTEP_C, 100, h});
		}
		auto same = vx(K::MirrorDest, "", IP2, 1, VTEP_C); // = slot 1's action
		cnt.push_back({e.size(), 1, 0});
		e.push_back(same);
		c.push_back({"9 matching entries, 8 distinct actions: 8 copies, nothing "
			     "dropped (dedupe before the limit)",
			     e, v4(H1, H2, IP1, IP2), "h1", {}, out, cnt, 0});
		e.back() = {K::MirrorDest, 100, "", IP2, 1, "srv", "", 0, 0};
		cnt.back() = {e.size() - 1, 1, 1};
		c.push_back({"9 distinct actions: the last lookup's local copy is over "
			     "the limit, dropped and counted (local copies are sent "
			     "first, but chosen in lookup order)",
			     e, v4(H1, H2, IP1, IP2), "h1", {}, out, cnt, 1});
	}

	// Originals the bridge floods to a monitoring server's port while the
	// mirror already copies them there (a move, an aged-out MAC): the
	// egress program drops the original, the server gets the copy only.
	const EntrySpec decap7{K::Decap, 100, "", "", 7, "srv", "", 0, 0};
	const char *BCAST = "ff:ff:ff:ff:ff:ff";
	c.push_back({"flooded unknown unicast to a monitored host from the fabric: "
		     "no original on its server's port, the other ports get it",
		     {dst_mac(H1, 7, "srv"), decap7},
		     v4(H2, H1, IP2, IP1),
		     "fabric", {},
		     {{O::Original, "h3", "", 0, 0}},
		     {{0, 0, 0}}, 0, {"srv", "h3"}, {}, 1});
	c.push_back({"the mirror copy of that frame reaches the server once "
		     "(the copy mark passes the egress program)",
		     {dst_mac(H1, 7, "srv"), decap7},
		     v4(H2, H1, IP2, IP1),
		     "mirror", TunnelMeta{100, 7, VTEP_S},
		     {{O::Deliver, "srv", "", 0, 0}},
		     {{0, 0, 0}, {1, 1, 0}}, 0, {"srv", "h3"}, {}, 0});
	c.back().decap_sources = kSources100;
	c.push_back({"unknown unicast from a local monitored host: one copy, no "
		     "flooded original on the server's port",
		     {src_mac(H1, 7, "srv")},
		     v4(H1, H3, IP1, IP3),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}, {O::Original, "h3", "", 0, 0}},
		     {{0, 1, 0}}, 0, {"srv", "h3"}, {}, 1});
	c.push_back({"unknown unicast from a remote monitored host (fabric): no "
		     "original on its server's port (entry 2 names the host)",
		     {dst_mac(H1, 7, "srv"), decap7},
		     v4(H1, H3, IP1, IP3),
		     "fabric", {},
		     {{O::Original, "h3", "", 0, 0}},
		     {{0, 0, 0}}, 0, {"srv", "h3"}, {}, 1});
	c.push_back({"IP-only session: flooded frame to the host's IP not sent to "
		     "the server as an original",
		     {{K::MirrorDest, 100, "", IP3, 5, "srv", "", 0, 0}},
		     v4(H2, H3, IP2, IP3),
		     "fabric", {},
		     {},
		     {{0, 0, 0}}, 0, {"srv"}, {}, 1});
	c.push_back({"broadcast from a monitored host: original and copy both "
		     "reach the server (unchanged, documented)",
		     {src_mac(H1, 7, "srv")},
		     v4(H1, BCAST, IP1, "10.1.255.255"),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0},
		      {O::Original, "srv", "", 0, 0},
		      {O::Original, "h3", "", 0, 0}},
		     {{0, 1, 0}}, 0, {"srv", "h3"}, {}, 0});
	c.push_back({"frame to the server itself, flooded after its MAC aged out: "
		     "delivered, and copied",
		     {src_mac(H1, 7, "srv")},
		     v4(H1, SRV, IP1, IPS),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0},
		      {O::Original, "srv", "", 0, 0},
		      {O::Original, "h3", "", 0, 0}},
		     {{0, 1, 0}}, 0, {"srv", "h3"}, {{SRV, "srv", true}}, 0});
	c.push_back({"frame to the server itself, known unicast: forwarded to it "
		     "only, and copied",
		     {src_mac(H1, 7, "srv")},
		     v4(H1, SRV, IP1, IPS),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}, {O::Original, "srv", "", 0, 0}},
		     {{0, 1, 0}}, 0, {"srv", "h3"}, {{SRV, "srv", false}}, 0});
	c.push_back({"flooded frame between unmonitored hosts reaches the server",
		     {dst_mac(H1, 7, "srv")},
		     v4(H2, H3, IP2, IP3),
		     "h2", {},
		     {{O::Original, "srv", "", 0, 0}},
		     {{0, 0, 0}}, 0, {"srv"}, {}, 0});
	c.push_back({"flooded frame to a host watched by another server only: "
		     "not dropped at this server's port",
		     {vx(K::MirrorDest, H1, "", 9, VTEP_B)},
		     v4(H2, H1, IP2, IP1),
		     "fabric", {},
		     {{O::Original, "srv", "", 0, 0}},
		     {{0, 0, 0}}, 0, {"srv"}, {}, 0});

	// Entries naming a server (Action::Kind::Server): its target,
	// resolved per packet, is their action.
	constexpr const char *SRV9 = "02:00:00:00:00:09";
	c.push_back({"entry 1 naming a server on a local port: copied there",
		     {named(K::MirrorSource, H1, 7, SRV)},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}},
		     {{0, 1, 0}}, 0});
	c.back().servers = {{SRV, 7, "srv", ""}};
	c.push_back({"entry 2 naming a server behind a VTEP: VXLAN copy with its "
		     "VNI and HOST ID",
		     {named(K::MirrorDest, H1, 9, SRV9)},
		     v4(H2, H1, IP2, IP1),
		     "h2", {},
		     {{O::VxlanCopy, "", VTEP_B, 100, 9}},
		     {{0, 1, 0}}, 0});
	c.back().servers = {{SRV9, 9, "", VTEP_B}};
	c.push_back({"entries 1+2 naming one server, host to host: one copy",
		     {named(K::MirrorSource, H1, 7, SRV), named(K::MirrorDest, H2, 7, SRV)},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}},
		     {{0, 1, 0}, {1, 1, 0}}, 0});
	c.back().servers = {{SRV, 7, "srv", ""}};
	c.push_back({"an entry naming a server and one with the server's port as "
		     "its own action: one copy (dedupe on the target)",
		     {src_mac(H1, 7, "srv"), named(K::MirrorDest, H2, 8, SRV)},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}},
		     {{0, 1, 0}, {1, 1, 0}}, 0});
	c.back().servers = {{SRV, 8, "srv", ""}};
	c.push_back({"two servers of one host: a copy to each",
		     {named(K::MirrorSource, H1, 7, SRV), named(K::MirrorSource, H1, 9, SRV9)},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::LocalCopy, "srv", "", 0, 0}, {O::VxlanCopy, "", VTEP_B, 100, 9}},
		     {{0, 1, 0}, {1, 1, 0}}, 0});
	c.back().servers = {{SRV, 7, "srv", ""}, {SRV9, 9, "", VTEP_B}};
	c.push_back({"flooded frame to a host watched through a server on this "
		     "port: no original there",
		     {named(K::MirrorDest, H1, 7, SRV), decap7},
		     v4(H2, H1, IP2, IP1),
		     "fabric", {},
		     {{O::Original, "h3", "", 0, 0}},
		     {{0, 0, 0}}, 0, {"srv", "h3"}, {}, 1});
	c.back().servers = {{SRV, 7, "srv", ""}};
	c.push_back({"flooded frame to a host whose server is behind a VTEP: the "
		     "local port's original is not dropped",
		     {named(K::MirrorDest, H1, 9, SRV9)},
		     v4(H2, H1, IP2, IP1),
		     "fabric", {},
		     {{O::Original, "srv", "", 0, 0}},
		     {{0, 0, 0}}, 0, {"srv"}, {}, 0});
	c.back().servers = {{SRV9, 9, "", VTEP_B}};
	// A server without a target here (unknown, unreachable): the entries
	// naming it stay and copy nothing, which is not a drop.
	c.push_back({"entry 1 naming a server without a target: no copy, not a drop",
		     {named(K::MirrorSource, H1, 7, SRV)},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {},
		     {{0, 1, 0}}, 0});
	c.back().servers = {{SRV, 7, "", ""}};
	c.push_back({"entries naming a server without a target and one behind a "
		     "VTEP: the second's copy only",
		     {named(K::MirrorSource, H1, 7, SRV), named(K::MirrorDest, H2, 9, SRV9)},
		     v4(H1, H2, IP1, IP2),
		     "h1", {},
		     {{O::VxlanCopy, "", VTEP_B, 100, 9}},
		     {{0, 1, 0}, {1, 1, 0}}, 0});
	c.back().servers = {{SRV, 7, "", ""}, {SRV9, 9, "", VTEP_B}};
	return c;
}

void put_mac(std::vector<std::uint8_t> &f, const std::string &s)
{
	auto m = parse_mac(s);
	if (!m)
		throw std::invalid_argument("bad MAC " + s);
	f.insert(f.end(), m->begin(), m->end());
}

void put16(std::vector<std::uint8_t> &f, std::uint16_t v)
{
	f.push_back(static_cast<std::uint8_t>(v >> 8));
	f.push_back(static_cast<std::uint8_t>(v));
}

std::uint16_t csum(const std::uint8_t *p, std::size_t n)
{
	std::uint32_t s = 0;
	for (std::size_t i = 0; i + 1 < n; i += 2)
		s += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += static_cast<std::uint32_t>(p[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return static_cast<std::uint16_t>(~s);
}

} // namespace

const std::vector<Case> &cases()
{
	static const std::vector<Case> c = make_cases();
	return c;
}

std::vector<std::uint8_t> build_frame(const FrameSpec &s)
{
	std::vector<std::uint8_t> f;
	put_mac(f, s.dst_mac);
	put_mac(f, s.src_mac);
	if (s.vlan) {
		put16(f, 0x8100);
		put16(f, s.vlan);
	}
	std::vector<std::uint8_t> udp;
	put16(udp, 40000);
	put16(udp, 40001);
	put16(udp, static_cast<std::uint16_t>(8 + s.payload));
	put16(udp, 0); // no checksum (IPv4); fine for a bridge
	for (std::size_t i = 0; i < s.payload; ++i)
		udp.push_back(static_cast<std::uint8_t>(i * 7 + 1));
	if (s.src_ip.empty()) {
		put16(f, 0x88b5); // local experimental EtherType
		f.insert(f.end(), udp.begin(), udp.end());
		return f;
	}
	auto si = parse_ip(s.src_ip), di = parse_ip(s.dst_ip);
	if (!si || !di)
		throw std::invalid_argument("bad IP in frame spec");
	if (si->family == IpAddr::Family::V4) {
		put16(f, 0x0800);
		std::vector<std::uint8_t> ip = {0x45, 0};
		put16(ip, static_cast<std::uint16_t>(20 + udp.size()));
		put16(ip, 1);
		put16(ip, 0);
		ip.push_back(64);
		ip.push_back(17);
		put16(ip, 0);
		ip.insert(ip.end(), si->bytes.begin(), si->bytes.begin() + 4);
		ip.insert(ip.end(), di->bytes.begin(), di->bytes.begin() + 4);
		auto c = csum(ip.data(), ip.size());
		ip[10] = static_cast<std::uint8_t>(c >> 8);
		ip[11] = static_cast<std::uint8_t>(c);
		f.insert(f.end(), ip.begin(), ip.end());
	} else {
		put16(f, 0x86dd);
		std::vector<std::uint8_t> ip = {0x60, 0, 0, 0};
		put16(ip, static_cast<std::uint16_t>(udp.size()));
		ip.push_back(17);
		ip.push_back(64);
		ip.insert(ip.end(), si->bytes.begin(), si->bytes.end());
		ip.insert(ip.end(), di->bytes.begin(), di->bytes.end());
		f.insert(f.end(), ip.begin(), ip.end());
		udp[6] = 0xff; // IPv6 UDP needs a checksum; any non-zero value
	}
	f.insert(f.end(), udp.begin(), udp.end());
	while (f.size() < 60)
		f.push_back(0);
	return f;
}

Entry make_entry(const EntrySpec &s,
		 const std::function<std::uint32_t(const std::string &)> &ifindex_of)
{
	Entry e;
	e.key.kind = s.kind;
	e.key.vni = s.vni;
	e.key.host_id = s.host_id;
	if (!s.mac.empty())
		e.key.host.mac = parse_mac(s.mac);
	if (!s.ip.empty())
		e.key.host.ip = parse_ip(s.ip);
	if (!s.server_mac.empty()) {
		e.action = Action::naming(ServerKey{s.vni, *parse_mac(s.server_mac), s.host_id});
	} else if (s.vtep.empty()) {
		e.action.kind = Action::Kind::LocalPort;
		e.action.ifindex = ifindex_of(s.port);
	} else {
		e.action.kind = Action::Kind::Vxlan;
		auto ip = parse_ip(s.vtep);
		std::copy_n(ip->bytes.begin(), 4, e.action.remote_vtep.begin());
		e.action.vni = s.copy_vni;
		e.action.host_id = s.copy_host_id;
	}
	return e;
}

std::pair<ServerKey, Action>
make_server(const ServerSpec &s, const std::function<std::uint32_t(const std::string &)> &ifindex_of)
{
	const ServerKey k{100, *parse_mac(s.mac), s.host_id};
	Action a;
	if (s.vtep.empty() && s.port.empty()) {
		a.kind = Action::Kind::Unresolved;
	} else if (s.vtep.empty()) {
		a.kind = Action::Kind::LocalPort;
		a.ifindex = ifindex_of(s.port);
	} else {
		a.kind = Action::Kind::Vxlan;
		auto ip = parse_ip(s.vtep);
		std::copy_n(ip->bytes.begin(), 4, a.remote_vtep.begin());
		a.vni = 100;
		a.host_id = s.host_id;
	}
	return {k, a};
}

} // namespace evpnmon::dp::table
