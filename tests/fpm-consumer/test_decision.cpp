// Unit tests of the decision and reconciliation over a simulated fabric:
// every role, every move of claims 4 to 7, and the exactly-once property for
// every pair of hosts at every step.
#include "exactly_once.hpp"
#include "fabric.hpp"

#include <doctest/doctest.h>

#include <compare>
#include <optional>
#include <random>
#include <tuple>

using namespace evpnmon;
using namespace evpnmon::test;
using dp::EntryKind;

namespace {

const Mac VM210{0x02, 0, 0, 0, 0x02, 0x10};
const Mac VM211{0x02, 0, 0, 0, 0x02, 0x11}; // another host on VTEP101
const Mac VM230{0x02, 0, 0, 0, 0x02, 0x30}; // a host on VTEP103
const Mac VM240{0x02, 0, 0, 0, 0x02, 0x40}; // a host on VTEP104
const Mac SERV21{0x02, 0, 0, 0, 0x00, 0x21};
const Ipv4 V101 = ip4(10, 0, 0, 101), V102 = ip4(10, 0, 0, 102), V103 = ip4(10, 0, 0, 103),
	   V104 = ip4(10, 0, 0, 104);

Fabric patent_fabric()
{
	return Fabric({{"VTEP101", V101}, {"VTEP102", V102}, {"VTEP103", V103}, {"VTEP104", V104}});
}

using Entries = std::map<dp::EntryKey, dp::Action>;

// Every packet between two known MACs reaches each server monitoring its
// source or destination exactly once, and no one else gets a copy.
void check_exactly_once(Fabric &f, const std::map<Mac, Endpoint> &where,
			const std::vector<std::pair<Mac, Mac>> &sessions /* host, server */)
{
	for (const auto &[src, se] : where)
		for (const auto &[dst, de] : where) {
			if (src == dst)
				continue;
			auto got = copies_for_packet(f, where, src, dst);
			std::map<Mac, int> want;
			for (const auto &[host, server] : sessions)
				if (host == src || host == dst)
					want[server] = 1;
			CAPTURE(consumer::format_mac(src));
			CAPTURE(consumer::format_mac(dst));
			CHECK(got == want);
		}
}

} // namespace

// Entries 1 and 2 of VM210's session, both with `action` (rules R1, R2).
// `orig`: the session's originator (part of its id, hence of the keys).
Entries mirror_vm210(const dp::Action &action, Ipv4 orig = {})
{
	return Entries{{key(EntryKind::MirrorSource, VM210, 21, orig), action},
		       {key(EntryKind::MirrorDest, VM210, 21, orig), action}};
}

// The same plus entry 3 to the server's local port (rule R3).
Entries mirror_vm210_decap(std::uint32_t server_port, Ipv4 orig = {})
{
	auto e = mirror_vm210(local_port(server_port), orig);
	e.emplace(key(EntryKind::Decap, std::nullopt, 21), local_port(server_port));
	return e;
}

TEST_CASE("patent example: VM210 on VTEP101 monitored by SERV21 on VTEP104, then moves")
{
	auto f = patent_fabric();
	std::map<Mac, Endpoint> where = {{VM210, {"VTEP101", 11}}, {VM211, {"VTEP101", 12}},
					 {VM230, {"VTEP103", 31}}, {VM240, {"VTEP104", 42}},
					 {SERV21, {"VTEP104", 41}}};
	for (const auto &[mac, ep] : where)
		f.place(mac, ep.vtep, ep.port);
	f.add_session(make_session(VM210, SERV21, 21, V101));
	f.converge();

	SUBCASE("step 1: initial roles")
	{
		CHECK(f["VTEP101"].entries() == mirror_vm210(vxlan_to(V104, 21), V101));
		CHECK(f["VTEP102"].entries() == mirror_vm210(vxlan_to(V104, 21), V101));
		CHECK(f["VTEP103"].entries() == mirror_vm210(vxlan_to(V104, 21), V101));
		CHECK(f["VTEP104"].entries() == mirror_vm210_decap(41, V101));
		check_exactly_once(f, where, {{VM210, SERV21}});
	}

	// step 2: VM210 moves from VTEP101 to VTEP102: no entry changes (entry 1
	// is on every VTEP already)
	where[VM210] = {"VTEP102", 22};
	f.place(VM210, "VTEP102", 22);
	f.converge();
	CHECK(f["VTEP101"].entries() == mirror_vm210(vxlan_to(V104, 21), V101));
	CHECK(f["VTEP102"].entries() == mirror_vm210(vxlan_to(V104, 21), V101));
	CHECK(f["VTEP103"].entries() == mirror_vm210(vxlan_to(V104, 21), V101));
	CHECK(f["VTEP104"].entries() == mirror_vm210_decap(41, V101));
	check_exactly_once(f, where, {{VM210, SERV21}});

	// step 3: SERV21 moves from VTEP104 to VTEP103 (every action re-points,
	// entry 3 moves)
	where[SERV21] = {"VTEP103", 33};
	f.place(SERV21, "VTEP103", 33);
	f.converge();
	CHECK(f["VTEP101"].entries() == mirror_vm210(vxlan_to(V103, 21), V101));
	CHECK(f["VTEP102"].entries() == mirror_vm210(vxlan_to(V103, 21), V101));
	CHECK(f["VTEP103"].entries() == mirror_vm210_decap(33, V101));
	CHECK(f["VTEP104"].entries() == mirror_vm210(vxlan_to(V103, 21), V101));
	check_exactly_once(f, where, {{VM210, SERV21}});
}

TEST_CASE("the first frame of a host no consumer knows (aged out, moved silently) is copied")
{
	auto f = patent_fabric();
	std::map<Mac, Endpoint> where = {{VM210, {"VTEP101", 11}}, {VM230, {"VTEP103", 31}},
					 {SERV21, {"VTEP104", 41}}};
	for (const auto &[mac, ep] : where)
		f.place(mac, ep.vtep, ep.port);
	f.add_session(make_session(VM210, SERV21, 21));
	f.converge();

	// VM210's MAC ages out of VTEP101's bridge and is withdrawn everywhere.
	f.forget(VM210, "VTEP101", 11);
	f.converge();
	for (auto &v : f.vteps())
		CHECK(v->engine->macs().locate(kVni, VM210).kind == consumer::MacLocation::Kind::Unknown);
	// Its next frames, both ways, before anyone learns it again.
	check_exactly_once(f, where, {{VM210, SERV21}});

	SUBCASE("it reappears at another VTEP, unseen yet")
	{
		f["VTEP102"].dataplane.add_port(25, "p25", kVni);
		where[VM210] = {"VTEP102", 25};
		check_exactly_once(f, where, {{VM210, SERV21}});
	}
}

TEST_CASE("claims 4-7: host and server moves, including onto each other's VTEP")
{
	auto f = patent_fabric();
	std::map<Mac, Endpoint> where = {{VM210, {"VTEP101", 11}}, {VM211, {"VTEP101", 12}},
					 {VM230, {"VTEP103", 31}}, {SERV21, {"VTEP104", 41}}};
	for (const auto &[mac, ep] : where)
		f.place(mac, ep.vtep, ep.port);
	f.add_session(make_session(VM210, SERV21, 21));
	f.converge();
	check_exactly_once(f, where, {{VM210, SERV21}});

	const std::vector<std::pair<Mac, Endpoint>> moves = {
		{VM210, {"VTEP104", 43}},  // host onto the server's VTEP: LocalPort everywhere there
		{SERV21, {"VTEP103", 34}}, // server moves away
		{SERV21, {"VTEP104", 44}}, // server back onto the host's VTEP
		{VM210, {"VTEP101", 13}},  // host back to where it started
		{SERV21, {"VTEP101", 14}}, // server onto the host's original VTEP
		{VM210, {"VTEP101", 15}},  // host changes port on the same VTEP
	};
	for (const auto &[mac, ep] : moves) {
		CAPTURE(ep.vtep);
		where[mac] = ep;
		f.place(mac, ep.vtep, ep.port);
		f.converge();
		check_exactly_once(f, where, {{VM210, SERV21}});
		// entries 1 and 2 exist everywhere, entry 3 only where the server is
		for (auto &v : f.vteps()) {
			const bool server_here = where[SERV21].vtep == v->name;
			CHECK(v->entries().contains(key(EntryKind::MirrorSource, VM210, 21)));
			CHECK(v->entries().contains(key(EntryKind::MirrorDest, VM210, 21)));
			CHECK(v->entries().contains(key(EntryKind::Decap, std::nullopt, 21)) == server_here);
		}
	}
}

TEST_CASE("two monitored hosts, same server: host-to-host traffic is copied once")
{
	auto f = patent_fabric();
	std::map<Mac, Endpoint> where = {{VM210, {"VTEP101", 11}}, {VM211, {"VTEP101", 12}},
					 {VM230, {"VTEP103", 31}}, {SERV21, {"VTEP104", 41}}};
	for (const auto &[mac, ep] : where)
		f.place(mac, ep.vtep, ep.port);
	f.add_session(make_session(VM210, SERV21, 21));
	f.add_session(make_session(VM211, SERV21, 21));
	f.add_session(make_session(VM230, SERV21, 21));
	f.converge();
	check_exactly_once(f, where, {{VM210, SERV21}, {VM211, SERV21}, {VM230, SERV21}});
	// also with the server local to the two monitored hosts
	where[SERV21] = {"VTEP101", 19};
	f.place(SERV21, "VTEP101", 19);
	f.converge();
	check_exactly_once(f, where, {{VM210, SERV21}, {VM211, SERV21}, {VM230, SERV21}});
}

TEST_CASE("two servers watch one host: each gets its copy")
{
	const Mac SERV22{0x02, 0, 0, 0, 0x00, 0x22};
	auto f = patent_fabric();
	std::map<Mac, Endpoint> where = {{VM210, {"VTEP101", 11}}, {VM230, {"VTEP103", 31}},
					 {SERV21, {"VTEP104", 41}}, {SERV22, {"VTEP102", 21}}};
	for (const auto &[mac, ep] : where)
		f.place(mac, ep.vtep, ep.port);
	f.add_session(make_session(VM210, SERV21, 21));
	f.add_session(make_session(VM210, SERV22, 22));
	f.converge();
	check_exactly_once(f, where, {{VM210, SERV21}, {VM210, SERV22}});
}

TEST_CASE("server location unknown or unreachable: entries without a target, no copy, counted")
{
	auto f = patent_fabric();
	f.place(VM210, "VTEP101", 11);
	f.add_session(make_session(VM210, SERV21, 21));
	f.converge();
	const dp::Action none{dp::Action::Kind::Unresolved};
	for (auto &v : f.vteps()) {
		// Entries 1/2 stay, naming the server, whose target is none:
		// its return is one change of its target.
		CHECK(v->entries().empty());
		const auto listed = v->listed();
		REQUIRE(listed.size() == 2);
		for (const auto &[k, a] : listed) {
			CHECK(k.kind != dp::EntryKind::Decap);
			CHECK(a == none);
		}
		CHECK(v->engine->desired().counters.server_unknown == 1);
		const auto view = v->engine->preview().sessions.at(0);
		CHECK(view.status == consumer::SessionStatus::ServerUnknown);
		CHECK(view.entry1);
		CHECK(view.action == std::optional<dp::Action>(none));
	}
	// A frame from the watched host: no copy anywhere, not a drop.
	{
		auto &v101 = f["VTEP101"];
		std::vector<std::uint8_t> frame(14 + 20, 0);
		std::copy(VM230.begin(), VM230.end(), frame.begin());
		std::copy(VM210.begin(), VM210.end(), frame.begin() + 6);
		frame[12] = 0x08;
		frame[14] = 0x45;
		CHECK(v101.dataplane.simulate(frame, 11).empty());
		int matched = 0;
		for (const auto &e : v101.dataplane.list())
			if (auto c = v101.dataplane.counters(e.key); c && c->packets) {
				++matched;
				CHECK(e.key.kind == dp::EntryKind::MirrorSource);
				CHECK(c->drops == 0);
			}
		CHECK(matched == 1);
	}
	// the server appears behind VTEP104, whose route VTEP101 then loses
	f.place(SERV21, "VTEP104", 41);
	consumer::RouteUpdate del;
	del.add = false;
	del.dst = V104;
	del.dst_len = 32;
	del.table = 254;
	f["VTEP101"].engine->route(del);
	f.converge();
	CHECK(f["VTEP101"].entries().empty());
	CHECK(f["VTEP101"].listed().size() == 2);
	CHECK(f["VTEP101"].engine->desired().counters.server_unreachable == 1);
	CHECK(f["VTEP101"].engine->desired().counters.server_unknown == 0);
	CHECK(f["VTEP102"].entries().size() == 2);
	// a covering blackhole route is not reachability either
	consumer::RouteUpdate bh;
	bh.dst = ip4(10, 0, 0, 0);
	bh.dst_len = 24;
	bh.table = 254;
	bh.type = 6; // RTN_BLACKHOLE
	f["VTEP101"].engine->route(bh);
	f.converge();
	CHECK(f["VTEP101"].entries().empty());
	CHECK(f["VTEP101"].listed().size() == 2);
	consumer::RouteUpdate uni = bh;
	uni.type = 1;
	f["VTEP101"].engine->route(uni);
	f.converge();
	CHECK(f["VTEP101"].entries().size() == 2);
}

TEST_CASE("session removal and VNI filter")
{
	auto f = patent_fabric();
	f.place(VM210, "VTEP101", 11);
	f.place(SERV21, "VTEP104", 41);
	auto s = make_session(VM210, SERV21, 21);
	f.add_session(s);
	auto other = s;
	other.key.vni = 4242; // not configured on these VTEPs
	f.add_session(other);
	f.converge();
	CHECK(f["VTEP101"].entries().size() == 2);
	CHECK(f["VTEP101"].engine->desired().counters.vni_not_local == 1);
	for (auto &v : f.vteps())
		v->engine->erase_session(s.key);
	f.converge();
	for (auto &v : f.vteps())
		CHECK(v->listed().empty());
}

TEST_CASE("conflicting sessions on one entry key: deterministic winner, counted")
{
	const Mac SERV22{0x02, 0, 0, 0, 0x00, 0x22};
	auto f = patent_fabric();
	f.place(VM210, "VTEP101", 11);
	f.place(SERV21, "VTEP104", 41);
	f.place(SERV22, "VTEP103", 31);
	auto a = make_session(VM210, SERV21, 21, V101);
	auto b = make_session(VM210, SERV22, 21, V102); // same host and HOST ID, other server
	f.add_session(a);
	f.add_session(b);
	f.converge();
	auto e = f["VTEP102"].entries();
	CHECK(e.at(key(EntryKind::MirrorDest, a)) == vxlan_to(V104, 21)); // a < b
	CHECK(!e.contains(key(EntryKind::MirrorDest, b)));
	CHECK(f["VTEP102"].engine->desired().counters.conflicts == 1);
}

TEST_CASE("a conflict's winner does not change as its server goes unknown and comes back")
{
	// The first session in key order claims the slot whether or not its
	// server is known here (R5 keeps its entries): while its server is
	// unknown the other loses and nobody gets a copy; no flip either way.
	const Mac SERV22{0x02, 0, 0, 0, 0x00, 0x22};
	auto f = patent_fabric();
	f.place(VM210, "VTEP101", 11);
	f.place(SERV22, "VTEP103", 31);
	auto a = make_session(VM210, SERV21, 21, V101); // SERV21 unknown
	auto b = make_session(VM210, SERV22, 21, V102); // same host and HOST ID, other server
	f.add_session(a);
	f.add_session(b);
	f.converge();
	auto &v = f["VTEP102"];
	const dp::Action none{dp::Action::Kind::Unresolved};
	auto l = v.listed();
	CHECK(l.at(key(EntryKind::MirrorDest, a)) == none); // a < b
	CHECK(!l.contains(key(EntryKind::MirrorDest, b)));
	CHECK(v.entries().empty());
	CHECK(v.engine->desired().counters.conflicts == 1);
	CHECK(v.engine->desired().counters.server_unknown == 1);
	const auto views = v.engine->preview().sessions;
	REQUIRE(views.size() == 2);
	CHECK(views.at(0).status == consumer::SessionStatus::ServerUnknown);
	CHECK(views.at(1).status == consumer::SessionStatus::Conflict);
	// SERV21 appears: the same winner, now copying; nothing re-claimed.
	f.place(SERV21, "VTEP104", 41);
	f.converge();
	auto e = v.entries();
	CHECK(e.at(key(EntryKind::MirrorDest, a)) == vxlan_to(V104, 21));
	CHECK(!e.contains(key(EntryKind::MirrorDest, b)));
	CHECK(v.engine->desired().counters.conflicts == 1);
	CHECK(v.engine->desired().counters.server_unknown == 0);
}

TEST_CASE("two sessions, one host and one server: entries per session with their own options")
{
	auto f = patent_fabric();
	std::map<Mac, Endpoint> where = {{VM210, {"VTEP101", 11}}, {VM230, {"VTEP103", 31}},
					 {SERV21, {"VTEP104", 41}}};
	for (const auto &[mac, ep] : where)
		f.place(mac, ep.vtep, ep.port);
	// configured on two leaves (two originators), one of them with a profile
	auto a = make_session(VM210, SERV21, 21, V101);
	a.options = test_profile("rx", EVPN_MON_DIR_RX, 100);
	auto b = make_session(VM210, SERV21, 21, V102);
	REQUIRE(a.id != b.id);
	f.add_session(a);
	f.add_session(b);
	f.converge();

	for (auto &v : f.vteps()) {
		CAPTURE(v->name);
		const auto specs = v->specs();
		const dp::Action act = v->name == "VTEP104" ? local_port(41) : vxlan_to(V104, 21);
		for (auto kind : {EntryKind::MirrorSource, EntryKind::MirrorDest}) {
			REQUIRE(specs.contains(key(kind, a)));
			REQUIRE(specs.contains(key(kind, b)));
			CHECK(specs.at(key(kind, a)) == consumer::EntrySpec{act, a.options});
			CHECK(specs.at(key(kind, b)) == consumer::EntrySpec{act, {}});
		}
		// entry 3 is the server's, shared, without options
		const auto decap = key(EntryKind::Decap, std::nullopt, 21);
		CHECK(specs.contains(decap) == (v->name == "VTEP104"));
		if (specs.contains(decap))
			CHECK(specs.at(decap) == consumer::EntrySpec{local_port(41), {}});
		CHECK(specs.size() == (v->name == "VTEP104" ? 5u : 4u));
		CHECK(v->engine->desired().counters.conflicts == 0);
	}

	SUBCASE("the server moves: both sessions' entries re-point, options stay")
	{
		where[SERV21] = {"VTEP103", 33};
		f.place(SERV21, "VTEP103", 33);
		f.converge();
		const auto specs = f["VTEP101"].specs();
		CHECK(specs.at(key(EntryKind::MirrorDest, a)) == consumer::EntrySpec{vxlan_to(V103, 21), a.options});
		CHECK(specs.at(key(EntryKind::MirrorDest, b)) == consumer::EntrySpec{vxlan_to(V103, 21), {}});
	}
	SUBCASE("one session goes: the other's entries and the shared entry 3 stay")
	{
		for (auto &v : f.vteps())
			v->engine->erase_session(a.key);
		f.converge();
		CHECK(f["VTEP101"].entries() ==
		      Entries{{key(EntryKind::MirrorSource, b), vxlan_to(V104, 21)},
			      {key(EntryKind::MirrorDest, b), vxlan_to(V104, 21)}});
		CHECK(f["VTEP104"].entries().contains(key(EntryKind::Decap, std::nullopt, 21)));
	}
}

TEST_CASE("two sessions without profile, one host and one server: still one copy per packet")
{
	auto f = patent_fabric();
	std::map<Mac, Endpoint> where = {{VM210, {"VTEP101", 11}}, {VM211, {"VTEP101", 12}},
					 {VM230, {"VTEP103", 31}}, {SERV21, {"VTEP104", 41}}};
	for (const auto &[mac, ep] : where)
		f.place(mac, ep.vtep, ep.port);
	f.add_session(make_session(VM210, SERV21, 21, V101));
	f.add_session(make_session(VM210, SERV21, 21, V103));
	f.converge();
	CHECK(f["VTEP102"].entries().size() == 4);
	check_exactly_once(f, where, {{VM210, SERV21}});
}

TEST_CASE("an RD change in flight: two routes of one session share its entries")
{
	auto f = patent_fabric();
	f.place(VM210, "VTEP101", 11);
	f.place(SERV21, "VTEP104", 41);
	auto old_rd = make_session(VM210, SERV21, 21, V101);
	auto new_rd = old_rd;
	new_rd.key.rd = "192.0.2.1:3";

	SUBCASE("same options: no conflict, the entries stay when the old route goes")
	{
		f.add_session(old_rd);
		f.add_session(new_rd);
		f.converge();
		CHECK(f["VTEP102"].entries() == mirror_vm210(vxlan_to(V104, 21), V101));
		CHECK(f["VTEP102"].engine->desired().counters.conflicts == 0);
		for (auto &v : f.vteps())
			v->engine->erase_session(old_rd.key);
		f.converge();
		CHECK(f["VTEP102"].entries() == mirror_vm210(vxlan_to(V104, 21), V101));
	}
	SUBCASE("other options, another session in the slot: the first route wins, counted")
	{
		f.add_session(make_session(VM210, SERV21, 21, ip4(10, 0, 0, 1))); // sorts first
		new_rd.options = test_profile("new", EVPN_MON_DIR_TX);
		f.add_session(old_rd);
		f.add_session(new_rd);
		f.converge();
		const auto specs = f["VTEP102"].specs();
		CHECK(specs.size() == 4);
		CHECK(specs.at(key(EntryKind::MirrorDest, old_rd)) ==
		      consumer::EntrySpec{vxlan_to(V104, 21), {}});
		CHECK(f["VTEP102"].engine->desired().counters.conflicts == 1);
	}
}

TEST_CASE("a session the shared validator refuses is invalid: no entry")
{
	auto f = patent_fabric();
	f.place(VM210, "VTEP101", 11);
	f.place(SERV21, "VTEP104", 41);
	auto bad_options = make_session(VM210, SERV21, 21, V101);
	evpn_mon_options o{};
	o.present = 1;
	o.truncate = 10; // below the 64 octets minimum
	bad_options.options = session::Options(o);
	auto multicast_host = make_session(Mac{0x01, 0, 0x5e, 0, 0, 1}, SERV21, 22, V101);
	f.add_session(bad_options);
	f.add_session(multicast_host);
	f.converge();
	for (auto &v : f.vteps()) {
		CHECK(v->entries().empty());
		CHECK(v->engine->desired().counters.invalid == 2);
	}
}

// ERSPAN collector sessions: the collector is reached by the underlay's
// routing, so the entries follow R1 and R2 alone (every VTEP of the VNI)
// and depend on no location at all.
namespace {
const dp::IpAddr COLL1 = ipv4_addr(10, 9, 0, 1), COLL2 = ipv4_addr(10, 9, 0, 2);

Entries collector_entries(const consumer::Session &s, const dp::Action &action)
{
	return Entries{{key(EntryKind::MirrorSource, s), action}, {key(EntryKind::MirrorDest, s), action}};
}
} // namespace

TEST_CASE("a collector session: entries 1 and 2 on every VTEP, none of them located, no entry 3")
{
	auto f = patent_fabric();
	// VTEP103 and VTEP104 have no local host at all
	f.place(VM210, "VTEP101", 11);
	f.place(VM211, "VTEP102", 21);
	auto profile = test_profile("cnp", EVPN_MON_DIR_RX);
	auto s = make_collector_session(VM210, 7, COLL1, erspan_options(3, 7, 10, 32, 0, profile), V101);
	REQUIRE(s.id == "10.0.0.101/1000/c7/02:00:00:00:02:10/-");
	f.add_session(s);
	f.converge();

	const auto want = collector_entries(s, erspan_to(COLL1, 3, 7, 10, 32));
	for (auto &v : f.vteps()) {
		CAPTURE(v->name);
		CHECK(v->entries() == want);
		// the session's options, ERSPAN TLV and profile alike
		for (const auto &[k, spec] : v->specs())
			CHECK(spec.options() == s.options);
		const auto &d = v->engine->desired();
		CHECK(d.entries.size() == 2); // no entry 3, nothing the dataplane refused
		CHECK(v->engine->counters().totals.errors == 0);
		CHECK(d.counters.collector_sessions == 1);
		CHECK(d.counters.server_unknown == 0);
		const auto views = v->engine->preview().sessions;
		REQUIRE(views.size() == 1);
		CHECK(views[0].status == consumer::SessionStatus::Active);
		CHECK(views[0].entry1);
		CHECK(views[0].entry2);
		CHECK(!views[0].entry3);
		CHECK(views[0].server_location.kind == consumer::MacLocation::Kind::Unknown);
		REQUIRE(views[0].action);
		CHECK(*views[0].action == erspan_to(COLL1, 3, 7, 10, 32));
		// a collector has no MAC to keep
		CHECK(v->engine->macs().kept_count() == 0);
		CHECK(!v->engine->macs().pinned(kVni, Mac{}));
	}

	SUBCASE("the host moves, ages out, comes back elsewhere: no entry changes anywhere")
	{
		f.place(VM210, "VTEP103", 31);
		f.converge();
		for (auto &v : f.vteps())
			CHECK(v->entries() == want);
		f.forget(VM210, "VTEP103", 31);
		f.converge();
		for (auto &v : f.vteps())
			CHECK(v->entries() == want);
	}
	SUBCASE("the session goes: its entries go everywhere")
	{
		for (auto &v : f.vteps())
			v->engine->erase_session(s.key);
		f.converge();
		for (auto &v : f.vteps())
			CHECK(v->entries().empty());
	}
}

TEST_CASE("a collector ID and a HOST ID of the same number are two destinations, not a conflict")
{
	auto f = patent_fabric();
	f.place(VM210, "VTEP101", 11);
	f.place(SERV21, "VTEP104", 41);
	auto server = make_session(VM210, SERV21, 21, V101);
	auto collector = make_collector_session(VM210, 21, COLL1, erspan_options(2, 21), V101);
	REQUIRE(server.id != collector.id);
	f.add_session(server);
	f.add_session(collector);
	f.converge();
	auto want = collector_entries(collector, erspan_to(COLL1, 2, 21));
	want.emplace(key(EntryKind::MirrorSource, server), vxlan_to(V104, 21));
	want.emplace(key(EntryKind::MirrorDest, server), vxlan_to(V104, 21));
	CHECK(f["VTEP102"].entries() == want);
	auto at_server = collector_entries(collector, erspan_to(COLL1, 2, 21));
	for (auto k : {EntryKind::MirrorSource, EntryKind::MirrorDest})
		at_server.emplace(key(k, server), local_port(41));
	at_server.emplace(key(EntryKind::Decap, std::nullopt, 21), local_port(41));
	CHECK(f["VTEP104"].entries() == at_server);
	for (auto &v : f.vteps())
		CHECK(v->engine->desired().counters.conflicts == 0);
}

TEST_CASE("two collector sessions of one host under one collector ID with other collectors: first wins")
{
	auto f = patent_fabric();
	auto a = make_collector_session(VM210, 7, COLL1, erspan_options(3, 7), V101);
	auto b = make_collector_session(VM210, 7, COLL2, erspan_options(3, 7), V102);
	f.add_session(a);
	f.add_session(b);
	f.converge();
	for (auto &v : f.vteps()) {
		CHECK(v->entries() == collector_entries(a, erspan_to(COLL1, 3, 7)));
		CHECK(v->engine->desired().counters.conflicts == 1);
		CHECK(v->engine->desired().counters.collector_sessions == 1); // the winner
	}
	SUBCASE("same collector, same encapsulation: both sessions get their entries")
	{
		auto c = make_collector_session(VM210, 7, COLL1, erspan_options(3, 7), V102);
		for (auto &v : f.vteps()) {
			v->engine->erase_session(b.key);
			v->engine->upsert_session(c);
		}
		f.converge();
		auto want = collector_entries(a, erspan_to(COLL1, 3, 7));
		want.merge(collector_entries(c, erspan_to(COLL1, 3, 7)));
		for (auto &v : f.vteps()) {
			CHECK(v->entries() == want);
			CHECK(v->engine->desired().counters.conflicts == 0);
		}
	}
}

TEST_CASE("an IPv6 collector: nothing installed, collector-unsupported")
{
	auto f = patent_fabric();
	f.place(VM210, "VTEP101", 11);
	dp::IpAddr v6;
	v6.family = dp::IpAddr::Family::V6;
	v6.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	auto s = make_collector_session(VM210, 8, v6, erspan_options(3, 8), V101);
	auto ok = make_collector_session(VM210, 9, COLL1, erspan_options(3, 9), V101);
	f.add_session(s);
	f.add_session(ok);
	f.converge();
	for (auto &v : f.vteps()) {
		CAPTURE(v->name);
		CHECK(v->entries() == collector_entries(ok, erspan_to(COLL1, 3, 9)));
		const auto &d = v->engine->desired();
		CHECK(d.counters.collector_unsupported == 1);
		CHECK(d.unsupported_collectors == std::vector<std::string>{s.id});
		const auto views = v->engine->preview().sessions;
		REQUIRE(views.size() == 2);
		const auto &view = views[0].session.key.host_id == 8 ? views[0] : views[1];
		CHECK(view.status == consumer::SessionStatus::CollectorUnsupported);
		CHECK(std::string(consumer::to_string(view.status)) == "collector-unsupported");
		CHECK(!view.entry1);
		CHECK(!view.entry2);
	}
}

TEST_CASE("collector sessions the shared validator refuses are invalid: no entry")
{
	auto f = patent_fabric();
	f.place(VM210, "VTEP101", 11);
	f.place(SERV21, "VTEP104", 41);
	// a collector without its ERSPAN parameters
	auto no_erspan = make_collector_session(VM210, 7, COLL1, test_profile("p"), V101);
	// a collector with a server MAC
	auto with_mac = make_collector_session(VM210, 8, COLL1, erspan_options(3, 8), V101);
	with_mac.server_mac = SERV21;
	// a collector without an address
	auto no_ip = make_collector_session(VM210, 9, COLL1, erspan_options(3, 9), V101);
	no_ip.server_ip.reset();
	// a server session with ERSPAN parameters
	auto server_erspan = make_session(VM210, SERV21, 21, V101);
	server_erspan.options = erspan_options(3, 21);
	// ERSPAN values out of range (span id 1023 at most, TTL 1 at least)
	auto span = make_collector_session(VM210, 10, COLL1, erspan_options(3, 1024), V101);
	auto ttl = make_collector_session(VM210, 11, COLL1, erspan_options(2, 11, 0, 0), V101);
	for (const auto *s : {&no_erspan, &with_mac, &no_ip, &server_erspan, &span, &ttl})
		f.add_session(*s);
	f.converge();
	for (auto &v : f.vteps()) {
		CAPTURE(v->name);
		CHECK(v->entries().empty());
		CHECK(v->engine->desired().counters.invalid == 6);
	}
}

namespace {

// decide()'s inputs by hand: the VNI local, servers behind local ports.
struct Inputs {
	consumer::MacTable macs;
	consumer::RouteTable routes;
	consumer::DecisionConfig cfg;

	Inputs() { cfg.local_vnis = {kVni}; }
	void local(const Mac &mac, std::uint32_t port)
	{
		macs.set(consumer::MacSource::Local, kVni, mac, consumer::MacLocation::local(port));
	}
	consumer::Desired decide(const std::map<consumer::SessionKey, consumer::Session> &sessions,
				 bool views = true, consumer::EntryMap *spare = nullptr) const
	{
		return consumer::decide(sessions, macs, routes, cfg, views, spare);
	}
};

std::map<consumer::SessionKey, consumer::Session>
session_map(std::initializer_list<consumer::Session> sessions)
{
	std::map<consumer::SessionKey, consumer::Session> m;
	for (const auto &s : sessions)
		m.emplace(s.key, s);
	return m;
}

} // namespace

TEST_CASE("two servers under one HOST ID conflict, even behind one port (R4)")
{
	Inputs in;
	const Mac serv22{0x02, 0, 0, 0, 0x00, 0x22};
	// Both behind port 7 (a switch below it): the entry 3 of HOST ID 21
	// would send both servers' copies to one port, whoever they are for.
	in.local(SERV21, 7);
	in.local(serv22, 7);
	const auto d =
		in.decide(session_map({make_session(VM210, SERV21, 21), make_session(VM211, serv22, 21)}));
	CHECK(d.counters.conflicts == 1);
	// The first in key order keeps entry 3, to its own server's port.
	const dp::EntryKey decap{EntryKind::Decap, kVni, {}, 21, {}};
	REQUIRE(d.entries.contains(decap));
	CHECK(d.entries.at(decap).action == local_port(7));
	const auto &views = d.sessions;
	REQUIRE(views.size() == 2);
	CHECK(views[0].status == consumer::SessionStatus::Active);
	CHECK(views[1].status == consumer::SessionStatus::Conflict);
	// Entries 1/2 name each session's own server, each with its target.
	CHECK(d.entries.at(key(EntryKind::MirrorDest, VM210, 21)).action ==
	      server_named(SERV21, 21));
	CHECK(d.servers.at(dp::ServerKey{kVni, SERV21, 21}) == local_port(7));
	CHECK(d.servers.at(dp::ServerKey{kVni, serv22, 21}) == local_port(7));
}

TEST_CASE("a decision made in a spare decision's nodes equals one made anew")
{
	Inputs in;
	const Mac serv22{0x02, 0, 0, 0, 0x00, 0x22};
	in.local(SERV21, 7);
	in.local(serv22, 8);
	const auto before = session_map({make_session(VM210, SERV21, 21), make_session(VM211, SERV21, 21),
					 make_session(VM230, serv22, 22), make_session(VM240, serv22, 22)});
	// Now: sessions gone, one with a profile, one new in conflict (another
	// server under HOST ID 21: entry 3's slot).
	auto profiled = make_session(VM230, serv22, 22);
	profiled.options = test_profile("p", EVPN_MON_DIR_TX);
	auto now = session_map({make_session(VM210, SERV21, 21), profiled, make_session(VM240, serv22, 21)});
	auto spare_of = [&](const auto &sessions) { return in.decide(sessions, false).entries; };

	SUBCASE("more spare nodes than entries: each entry takes one, the rest stays spare")
	{
		const auto anew = in.decide(now, false);
		REQUIRE(anew.counters.conflicts == 1);
		auto spare = spare_of(before);
		const auto nodes = spare.size();
		REQUIRE(nodes > anew.entries.size());
		const auto made = in.decide(now, false, &spare);
		CHECK(consumer::differences(anew, made) == 0);
		CHECK(made.entries == anew.entries);
		CHECK(spare.size() == nodes - anew.entries.size());
	}
	SUBCASE("fewer spare nodes than entries: the others are new")
	{
		const auto anew = in.decide(now, false);
		auto spare = spare_of(session_map({make_session(VM211, SERV21, 21)}));
		REQUIRE(spare.size() < anew.entries.size());
		const auto made = in.decide(now, false, &spare);
		CHECK(consumer::differences(anew, made) == 0);
		CHECK(made.entries == anew.entries);
		CHECK(spare.empty());
	}
	SUBCASE("one kind's spare nodes used up, others left: those are taken, last first")
	{
		// Entries 1/2 of six sessions against the spare's four each, its
		// two entries 3 claimed once per session of their server.
		std::vector<consumer::Session> more;
		for (std::uint8_t i = 0; i < 6; ++i)
			more.push_back(make_session(Mac{0x02, 0, 0, 0, 0x03, i}, i % 2 ? serv22 : SERV21,
						    i % 2 ? 22 : 21));
		const auto six = session_map({more[0], more[1], more[2], more[3], more[4], more[5]});
		const auto anew = in.decide(six, false);
		auto spare = spare_of(session_map({more[0], more[1], more[2], more[3]}));
		REQUIRE(spare.size() == 10);
		REQUIRE(anew.entries.size() == 14);
		const auto made = in.decide(six, false, &spare);
		CHECK(consumer::differences(anew, made) == 0);
		CHECK(made.entries == anew.entries);
		CHECK(spare.empty());
	}
	SUBCASE("an RD change in flight: claims of keys already there, the decision the same")
	{
		auto other_rd = make_session(VM210, SERV21, 21);
		other_rd.key.rd = "192.0.2.1:3";
		now.emplace(other_rd.key, other_rd);
		const auto anew = in.decide(now, false);
		auto spare = spare_of(before);
		const auto nodes = spare.size();
		const auto made = in.decide(now, false, &spare);
		CHECK(consumer::differences(anew, made) == 0);
		CHECK(made.entries == anew.entries);
		// A node not taken goes back unless the spare has its key too.
		CHECK(spare.size() <= nodes - anew.entries.size());
	}
}

TEST_CASE("SessionKey orders as its members do, octet by octet")
{
	// Its comparison is written by hand (dp::compare_macs says why); the
	// sessions' map, and the claim order decide() follows, rely on the
	// defaulted order, built here from the standard library's own.
	std::mt19937 rng(7);
	auto one = [&](std::initializer_list<std::uint8_t> v) {
		return v.begin()[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
	};
	auto key = [&] {
		consumer::SessionKey k;
		k.vni = one({1, 2});
		k.eth_tag = one({0, 1});
		if (one({0, 1}))
			k.host_mac = dp::Mac{one({0, 0x80}), 0, 0, 0, one({0x7f, 0x80}), one({0, 0xff})};
		if (one({0, 1})) {
			dp::IpAddr ip;
			ip.family = one({0, 1}) ? dp::IpAddr::Family::V4 : dp::IpAddr::Family::V6;
			ip.bytes[0] = one({10, 0xc0});
			ip.bytes[15] = one({0, 0x80});
			k.host_ip = ip;
		}
		k.host_id = one({1, 0xff});
		k.collector = one({0, 1});
		k.rd = one({0, 1}) ? "1.1.1.1:2" : "";
		k.originator = {one({10, 0x80}), 0, 0, one({1, 0xff})};
		return k;
	};
	auto reference = [](const consumer::SessionKey &k) {
		auto ip = k.host_ip ? std::optional(std::tuple(k.host_ip->family, k.host_ip->bytes))
				    : std::nullopt;
		return std::tuple(k.vni, k.eth_tag, k.host_mac, ip, k.host_id, k.collector, k.rd,
				  k.originator);
	};
	for (int i = 0; i < 20000; ++i) {
		const auto a = key(), b = i % 3 ? key() : a;
		const auto want = reference(a) <=> reference(b);
		CAPTURE(i);
		CHECK((a <=> b) == want);
		CHECK((a == b) == (want == 0));
	}
}
