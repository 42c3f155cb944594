// Engine robustness: restart reconciliation, gates, FPM resync sweep, kernel
// FDB fallback, dataplane errors.
#include "fabric.hpp"
#include "fake_dataplane.hpp"

#include "core/state_json.hpp"

#include <evpnmon/dataplane/memory.hpp>

#include <doctest/doctest.h>

#include <linux/neighbour.h>

#include <set>

using namespace evpnmon;
using namespace evpnmon::test;
using consumer::Engine;
using consumer::Gate;
using consumer::MacSource;
using dp::EntryKind;

namespace {
const Mac HOST{0x02, 0, 0, 0, 0, 0x10};
const Mac SERVER{0x02, 0, 0, 0, 0, 0x21};
const Ipv4 ME = ip4(10, 0, 0, 1), PEER = ip4(10, 0, 0, 2);

consumer::EngineConfig config()
{
	consumer::EngineConfig cfg;
	cfg.decision.local_vnis = {kVni};
	cfg.vxlan_ifindex_to_vni = {{kVxlanIfindex, kVni}};
	return cfg;
}

consumer::NeighUpdate remote(const Mac &mac, Ipv4 vtep, bool add = true)
{
	consumer::NeighUpdate u;
	u.add = add;
	u.ifindex = kVxlanIfindex;
	u.mac = mac;
	if (add)
		u.dst = vtep;
	return u;
}

consumer::RouteUpdate route_to(Ipv4 dst)
{
	consumer::RouteUpdate r;
	r.dst = dst;
	r.dst_len = 32;
	r.table = 254;
	r.type = 1;
	return r;
}

void open_all(Engine &e)
{
	for (auto g : {Gate::Feed, Gate::LocalMacs, Gate::Fpm})
		e.open_gate(g);
}

// Host local on this VTEP, server behind PEER.
void feed_inputs(Engine &e)
{
	e.local_mac({dp::MacEvent::Kind::Learned, HOST, 5, kVni, 0});
	e.neigh(MacSource::Fpm, remote(SERVER, PEER));
	e.route(route_to(PEER));
	e.upsert_session(make_session(HOST, SERVER, 21));
}
} // namespace

TEST_CASE("nothing is applied before every input delivered its first picture")
{
	dp::MemoryDataplane dataplane;
	// A previous run left a correct entry (naming its server, at its
	// place) and a stale one behind.
	REQUIRE(!dataplane.set_server(dp::ServerKey{kVni, SERVER, 21}, vxlan_to(PEER, 21)));
	dp::Entry good{key(EntryKind::MirrorSource, HOST, 21), server_named(SERVER, 21), {}};
	dp::Entry stale{key(EntryKind::MirrorDest, Mac{2, 0, 0, 0, 0, 0x99}, 7), vxlan_to(PEER, 7), {}};
	REQUIRE(!dataplane.install(good));
	REQUIRE(!dataplane.install(stale));

	Engine e(dataplane, config());
	feed_inputs(e);
	CHECK(!e.reconcile().has_value());
	e.open_gate(Gate::Feed);
	e.open_gate(Gate::LocalMacs);
	CHECK(!e.reconcile().has_value()); // FPM gate still closed
	CHECK(resolved_entries(dataplane).size() == 2);
	e.open_gate(Gate::Fpm);
	auto st = e.reconcile();
	REQUIRE(st);
	CHECK(st->unchanged == 1); // the correct entry was not touched
	CHECK(st->installed == 1); // entry 2
	CHECK(st->removed == 1);   // the stale one
	CHECK(resolved_entries(dataplane).size() == 2);
	// level-triggered: a second pass changes nothing
	auto again = e.reconcile(true);
	REQUIRE(again);
	CHECK(again->installed + again->removed + again->replaced == 0);
}

TEST_CASE("consumer restart: a new engine on a populated dataplane touches nothing")
{
	dp::MemoryDataplane dataplane;
	{
		Engine first(dataplane, config());
		feed_inputs(first);
		open_all(first);
		first.reconcile();
	}
	const auto before = dataplane.list();
	const auto servers_before = dataplane.servers();
	REQUIRE(before.size() == 2);
	REQUIRE(resolved_entries(dataplane).size() == 2); // its server located
	Engine second(dataplane, config());
	feed_inputs(second);
	open_all(second);
	auto st = second.reconcile();
	REQUIRE(st);
	CHECK(st->installed == 0);
	CHECK(st->removed == 0);
	CHECK(st->replaced == 0);
	CHECK(st->server_moves == 0); // not even for a moment without a target
	CHECK(st->unchanged == 2);
	CHECK(dataplane.list() == before);
	CHECK(dataplane.servers() == servers_before);
}

TEST_CASE("FPM reconnect: entries kept while resyncing, stale MACs swept after")
{
	dp::MemoryDataplane dataplane;
	Engine e(dataplane, config());
	feed_inputs(e);
	open_all(e);
	e.reconcile();
	REQUIRE(resolved_entries(dataplane).size() == 2);

	e.fpm_lost(); // zebra restarts
	CHECK(!e.reconcile().has_value()); // nothing changed: nothing to do
	CHECK(resolved_entries(dataplane).size() == 2);
	SUBCASE("replay confirms the server: nothing changes")
	{
		e.neigh(MacSource::Fpm, remote(SERVER, PEER));
		e.route(route_to(PEER));
		e.fpm_resync_done();
		e.reconcile();
		CHECK(resolved_entries(dataplane).size() == 2);
		CHECK(e.counters().fpm_stale_swept == 0);
	}
	SUBCASE("replay does not mention the server: swept; its last location is kept")
	{
		e.route(route_to(PEER));
		e.fpm_resync_done();
		e.reconcile();
		CHECK(e.counters().fpm_stale_swept == 1);
		CHECK(e.macs().count(MacSource::Fpm) == 0);
		const auto loc = e.macs().locate(kVni, SERVER);
		CHECK(loc.kept);
		CHECK(loc.same_place(consumer::MacLocation::remote(PEER)));
		CHECK(resolved_entries(dataplane).size() == 2); // a monitoring server's MAC keeps its place
		e.erase_session(make_session(HOST, SERVER, 21).key); // ...until its session goes
		e.reconcile();
		CHECK(dataplane.list().empty());
		CHECK(e.macs().size() == 1); // the host only
	}
	SUBCASE("the kernel FDB still knows the server: entries kept")
	{
		e.neigh(MacSource::Kernel, remote(SERVER, PEER));
		e.route(route_to(PEER));
		e.fpm_resync_done();
		e.reconcile();
		CHECK(resolved_entries(dataplane).size() == 2);
		// From the kernel's record, not the kept last location.
		CHECK(e.counters().fpm_stale_swept == 1);
		CHECK(e.macs().count(MacSource::Kernel) == 1);
		CHECK(!e.macs().locate(kVni, SERVER).kept);
	}
}

TEST_CASE("MAC sources: the newest record wins, the older one is the fallback")
{
	consumer::MacTable t;
	const auto local = consumer::MacLocation::local(3);
	const auto far = consumer::MacLocation::remote(PEER);
	CHECK(t.set(MacSource::Local, kVni, HOST, local));
	CHECK(t.locate(kVni, HOST) == local);
	CHECK(t.set(MacSource::Fpm, kVni, HOST, far)); // host moved away
	CHECK(t.locate(kVni, HOST) == far);
	CHECK(!t.set(MacSource::Fpm, kVni, HOST, far)); // same news: no change
	// Moved back: learnt here again. The same place as the old local record,
	// but not the live location: news, it outranks the remote record (zebra
	// sends no FPM removal when a local MAC replaces its remote one).
	CHECK(t.set(MacSource::Local, kVni, HOST, local));
	CHECK(t.locate(kVni, HOST) == local);
	CHECK(!t.set(MacSource::Local, kVni, HOST, local)); // now the same news
	CHECK(!t.erase(MacSource::Fpm, kVni, HOST)); // zebra withdraws later: no change
	CHECK(t.locate(kVni, HOST) == local);
	CHECK(t.erase(MacSource::Local, kVni, HOST));
	CHECK(t.locate(kVni, HOST).kind == consumer::MacLocation::Kind::Unknown);
	CHECK(t.size() == 0);
}

TEST_CASE("neighbour updates that are not remote hosts are ignored and counted")
{
	FakeDataplane dataplane;
	Engine e(dataplane, config());
	auto flood = remote(Mac{}, PEER); // BUM flood entry 00:00:00:00:00:00
	e.neigh(MacSource::Fpm, flood);
	auto other_dev = remote(SERVER, PEER);
	other_dev.ifindex = 7;
	e.neigh(MacSource::Fpm, other_dev);
	auto master_copy = remote(SERVER, PEER);
	master_copy.dst.reset(); // the bridge's copy of the entry
	e.neigh(MacSource::Kernel, master_copy);
	auto mh = master_copy;
	mh.nh_id = 42;
	e.neigh(MacSource::Fpm, mh);
	CHECK(e.counters().neigh_ignored == 3);
	CHECK(e.counters().neigh_unsupported == 1);
	CHECK(e.macs().size() == 0);
}

TEST_CASE("dataplane errors are counted and the failed entries retried alone on the tick")
{
	FakeDataplane dataplane;
	Engine e(dataplane, config());
	feed_inputs(e);
	open_all(e);
	dataplane.fail_installs = true;
	auto st = e.reconcile();
	REQUIRE(st);
	CHECK(st->errors == 2);
	CHECK(e.entries_waiting() == 2);
	// No busy loop: nothing to do until the tick schedules the retry.
	CHECK(!e.dirty());
	dataplane.fail_installs = false;
	e.tick();
	CHECK(e.dirty());
	st = e.reconcile();
	REQUIRE(st);
	CHECK(st->installed == 2);
	CHECK(dataplane.entries.size() == 2);
	CHECK(e.counters().totals.errors == 2);
}

// A backend may batch a pass's changes until flush() (the packet path's
// and what it keeps for a restart): every pass that changed something
// opens a batch before its first change and ends with a flush after its
// last, and a failed flush is an error of the pass.
TEST_CASE("a pass is one batch: opened before its changes, flushed after them")
{
	FakeDataplane dataplane;
	Engine e(dataplane, config());
	feed_inputs(e);
	open_all(e);
	REQUIRE(e.reconcile());
	REQUIRE(dataplane.calls.size() == 2);
	CHECK(dataplane.batched_at == std::vector<std::size_t>{0});
	CHECK(dataplane.flushed_at == std::vector<std::size_t>{2});
	// An incremental pass: the server moves to another VTEP.
	e.neigh(MacSource::Fpm, remote(SERVER, ip4(10, 0, 0, 3)));
	e.route(route_to(ip4(10, 0, 0, 3)));
	const auto before = dataplane.calls.size();
	dataplane.fail_flush = true;
	auto st = e.reconcile();
	REQUIRE(st);
	REQUIRE(dataplane.calls.size() > before);
	REQUIRE(dataplane.flushed_at.size() >= 2);
	REQUIRE(dataplane.batched_at.size() == dataplane.flushed_at.size());
	CHECK(dataplane.batched_at.back() == before);
	CHECK(dataplane.flushed_at.back() == dataplane.calls.size());
	CHECK(st->errors == 1);
	CHECK(st->last_error.find("flush") != std::string::npos);
}

TEST_CASE("feed withdrawal empties the dataplane")
{
	dp::MemoryDataplane dataplane;
	Engine e(dataplane, config());
	feed_inputs(e);
	open_all(e);
	e.reconcile();
	REQUIRE(resolved_entries(dataplane).size() == 2);
	e.replace_sessions({});
	e.reconcile();
	CHECK(dataplane.list().empty());
}

TEST_CASE("a kernel FDB deletion with zebra connected takes effect after a short delay")
{
	dp::MemoryDataplane dataplane;
	Engine e(dataplane, config());
	e.local_mac({dp::MacEvent::Kind::Learned, HOST, 5, kVni, 0});
	e.neigh(MacSource::Kernel, remote(SERVER, PEER));
	e.route(route_to(PEER));
	e.upsert_session(make_session(HOST, SERVER, 21));
	open_all(e);
	e.reconcile();
	REQUIRE(resolved_entries(dataplane).size() == 2);
	e.neigh(MacSource::Kernel, remote(SERVER, PEER, false));
	for (unsigned i = 0; i < config().kernel_delete_delay_ticks; ++i) {
		e.tick();
		e.reconcile();
		CHECK(resolved_entries(dataplane).size() == 2);
		// The record itself waits (the entries alone would not show it:
		// a server's last location is kept either way).
		CHECK(e.macs().count(MacSource::Kernel) == 1);
		CHECK(!e.macs().locate(kVni, SERVER).kept);
	}
	e.tick();
	e.reconcile();
	CHECK(e.macs().count(MacSource::Kernel) == 0);
	CHECK(e.macs().locate(kVni, SERVER).kept); // a server's MAC: last location kept
	CHECK(resolved_entries(dataplane).size() == 2);
	e.replace_sessions({});
	e.reconcile();
	CHECK(dataplane.list().empty());
}

TEST_CASE("zebra stopping flushes its kernel FDB entries: kept until the resync decides")
{
	dp::MemoryDataplane dataplane;
	Engine e(dataplane, config());
	e.local_mac({dp::MacEvent::Kind::Learned, HOST, 5, kVni, 0});
	e.neigh(MacSource::Kernel, remote(SERVER, PEER)); // only the kernel knows it
	e.route(route_to(PEER));
	e.upsert_session(make_session(HOST, SERVER, 21));
	open_all(e);
	e.reconcile();
	REQUIRE(resolved_entries(dataplane).size() == 2);
	e.neigh(MacSource::Kernel, remote(SERVER, PEER, false)); // zebra's exit flush...
	e.tick();
	e.fpm_lost(); // ...seen just before its FPM connection closes
	for (int i = 0; i < 20; ++i)
		e.tick();
	e.reconcile();
	CHECK(resolved_entries(dataplane).size() == 2);
	CHECK(e.counters().kernel_deferred_deletes == 1);
	// The deletion waits for the resync, however many ticks pass.
	CHECK(e.macs().count(MacSource::Kernel) == 1);
	CHECK(!e.macs().locate(kVni, SERVER).kept);
	SUBCASE("zebra reinstalls it: kept")
	{
		e.neigh(MacSource::Kernel, remote(SERVER, PEER));
		e.route(route_to(PEER));
		e.fpm_resync_done();
		e.reconcile();
		CHECK(resolved_entries(dataplane).size() == 2);
	}
	SUBCASE("zebra does not: swept after the resync (the server's location is kept)")
	{
		e.route(route_to(PEER));
		e.fpm_resync_done();
		e.reconcile();
		CHECK(e.macs().count(MacSource::Kernel) == 0);
		CHECK(e.macs().locate(kVni, SERVER).kept);
		CHECK(resolved_entries(dataplane).size() == 2);
	}
}

TEST_CASE("local MAC audit: a missed learn and a missed removal are both corrected")
{
	dp::MemoryDataplane dataplane;
	Engine e(dataplane, config());
	dataplane.set_mac_listener([&](const dp::MacEvent &ev) { e.local_mac(ev); });
	e.neigh(MacSource::Fpm, remote(SERVER, PEER));
	e.route(route_to(PEER));
	e.upsert_session(make_session(HOST, SERVER, 21));
	open_all(e);
	// the dataplane knows HOST is local, but the event never reached us
	dataplane.inject_mac_event({dp::MacEvent::Kind::Learned, HOST, 5, kVni, 0});
	// and we believe in a local MAC the dataplane no longer has
	e.local_mac({dp::MacEvent::Kind::Learned, Mac{2, 0, 0, 0, 0, 0x77}, 6, kVni, 0});
	e.reconcile();
	CHECK(e.macs().locate(kVni, HOST).kind == consumer::MacLocation::Kind::Unknown);
	e.local_resync_begin();
	dataplane.dump_macs();
	e.local_resync_done();
	CHECK(e.counters().local_audit_fixes == 2);
	CHECK(e.macs().locate(kVni, HOST) == consumer::MacLocation::local(5));
	CHECK(e.macs().locate(kVni, Mac{2, 0, 0, 0, 0, 0x77}).kind == consumer::MacLocation::Kind::Unknown);
	e.reconcile();
	CHECK(resolved_entries(dataplane).size() == 2); // entries 1 and 2, wherever HOST is
}

namespace {
constexpr std::uint32_t kBridgeIfindex = 50;
const Ipv4 OLD = ip4(10, 0, 0, 3); // where the MAC lived before it moved here

consumer::EngineConfig bridge_config()
{
	auto cfg = config();
	cfg.bridge_ifindex_to_vni = {{kBridgeIfindex, kVni}};
	return cfg;
}

// A VXLAN-device `self` entry with a dst, as the kernel FDB dump gives it.
consumer::NeighUpdate vxlan_self(const Mac &mac, Ipv4 vtep, bool add = true)
{
	auto u = remote(mac, vtep, add);
	u.flags = NTF_SELF | NTF_EXT_LEARNED;
	u.dst = vtep;
	return u;
}

// The bridge's own (master) entry: on `ifindex` (a port or the VXLAN device).
consumer::NeighUpdate bridge_entry(const Mac &mac, std::uint32_t ifindex, bool add = true)
{
	consumer::NeighUpdate u;
	u.add = add;
	u.ifindex = ifindex;
	u.mac = mac;
	u.master = kBridgeIfindex;
	return u;
}
} // namespace

TEST_CASE("with bridge facts, zebra's removal of the bridge entry is deferred like the self entry's")
{
	dp::MemoryDataplane dataplane;
	Engine e(dataplane, bridge_config());
	e.neigh(MacSource::Kernel, bridge_entry(SERVER, kVxlanIfindex)); // only the kernel knows it
	e.neigh(MacSource::Kernel, vxlan_self(SERVER, PEER));
	e.route(route_to(PEER));
	e.upsert_session(make_session(HOST, SERVER, 21));
	open_all(e);
	e.reconcile();
	REQUIRE(resolved_entries(dataplane).size() == 2);
	const auto far = consumer::MacLocation::remote(PEER);
	// zebra's exit flush: the bridge's entry first, then the self entry
	e.neigh(MacSource::Kernel, bridge_entry(SERVER, kVxlanIfindex, false));
	e.neigh(MacSource::Kernel, vxlan_self(SERVER, PEER, false));
	CHECK(e.macs().locate(kVni, SERVER) == far);
	CHECK(e.counters().kernel_deferred_deletes == 2);
	SUBCASE("zebra gone: kept until the resync after its return decides")
	{
		e.tick();
		e.fpm_lost();
		for (int i = 0; i < 20; ++i)
			e.tick();
		CHECK(e.macs().locate(kVni, SERVER) == far);
		// zebra reinstalls both (and its routes): confirmed by the resync
		e.neigh(MacSource::Kernel, bridge_entry(SERVER, kVxlanIfindex));
		e.neigh(MacSource::Kernel, vxlan_self(SERVER, PEER));
		e.route(route_to(PEER));
		e.fpm_resync_done();
		CHECK(e.macs().locate(kVni, SERVER) == far);
		CHECK(!e.macs().locate(kVni, SERVER).kept);
	}
	SUBCASE("zebra still there: the deletions stand after the delay")
	{
		for (unsigned i = 0; i < bridge_config().kernel_delete_delay_ticks; ++i) {
			e.tick();
			CHECK(e.macs().locate(kVni, SERVER) == far);
		}
		e.tick();
		const auto loc = e.macs().locate(kVni, SERVER);
		CHECK(loc.kept); // a server's last location (R6)
		CHECK(e.macs().count(MacSource::Kernel) == 0);
	}
	e.reconcile();
	CHECK(resolved_entries(dataplane).size() == 2);
}

TEST_CASE("restart after a move: a stale VXLAN self entry loses against the bridge's local entry")
{
	// FRR 8.4.4 leaves `MAC dev vxlan100 dst OLD self extern_learn` behind
	// when MAC moves onto this leaf; the bridge entry is on the local port.
	// A restarted consumer reads the local dump, then the kernel dump (in
	// either order of the two kernel records): the host stays local.
	for (bool self_first : {true, false}) {
		CAPTURE(self_first);
		dp::MemoryDataplane dataplane;
		Engine e(dataplane, bridge_config());
		e.local_mac({dp::MacEvent::Kind::Learned, HOST, 5, kVni, 0});   // host moved here
		e.local_mac({dp::MacEvent::Kind::Learned, SERVER, 7, kVni, 0}); // server moved here
		for (const Mac &m : {HOST, SERVER}) {
			const std::uint32_t port = m == HOST ? 5 : 7;
			if (self_first) {
				e.neigh(MacSource::Kernel, vxlan_self(m, OLD));
				e.neigh(MacSource::Kernel, bridge_entry(m, port));
			} else {
				e.neigh(MacSource::Kernel, bridge_entry(m, port));
				e.neigh(MacSource::Kernel, vxlan_self(m, OLD));
			}
		}
		e.route(route_to(OLD));
		e.upsert_session(make_session(HOST, SERVER, 21));
		open_all(e);
		e.reconcile();
		CHECK(e.macs().locate(kVni, HOST) == consumer::MacLocation::local(5));
		CHECK(e.macs().locate(kVni, SERVER) == consumer::MacLocation::local(7));
		std::map<dp::EntryKey, dp::Action> want = {
			{key(EntryKind::MirrorSource, HOST, 21), local_port(7)},
			{key(EntryKind::MirrorDest, HOST, 21), local_port(7)},
			{key(EntryKind::Decap, std::nullopt, 21), local_port(7)},
		};
		CHECK(resolved_entries(dataplane) == want);
		CHECK(e.counters().bridge_fdb_events == 2);
	}
}

TEST_CASE("the bridge's master entry decides local vs remote; the self entry names the VTEP")
{
	dp::MemoryDataplane dataplane;
	Engine e(dataplane, bridge_config());
	const auto here = consumer::MacLocation::local(5);
	// A self entry without the bridge's entry on the VXLAN device is a
	// leftover: zebra installs every remote MAC into both.
	e.neigh(MacSource::Kernel, vxlan_self(HOST, OLD));
	CHECK(e.macs().locate(kVni, HOST).kind == consumer::MacLocation::Kind::Unknown);
	e.neigh(MacSource::Kernel, bridge_entry(HOST, kVxlanIfindex));
	CHECK(e.macs().locate(kVni, HOST) == consumer::MacLocation::remote(OLD));
	// The host moves here (running consumer): the local learning, and the
	// bridge's entry moving to the port (one kernel event, seen by two
	// listeners in either order; until both, the bridge rules).
	e.local_mac({dp::MacEvent::Kind::Learned, HOST, 5, kVni, 0});
	CHECK(e.macs().locate(kVni, HOST) == consumer::MacLocation::remote(OLD));
	e.neigh(MacSource::Kernel, bridge_entry(HOST, 5));
	CHECK(e.macs().locate(kVni, HOST) == here);
	// The host moves away to PEER: zebra replaces the self entry's dst (no
	// local removal event: the bridge entry moved to the VXLAN device).
	e.neigh(MacSource::Kernel, bridge_entry(HOST, kVxlanIfindex));
	CHECK(e.macs().locate(kVni, HOST) == consumer::MacLocation::remote(OLD));
	e.neigh(MacSource::Kernel, vxlan_self(HOST, PEER));
	CHECK(e.macs().locate(kVni, HOST) == consumer::MacLocation::remote(PEER));
	// Back to where a stale self entry already names the right VTEP (a
	// self entry that did not change keeps its age): the bridge entry on
	// the VXLAN device still outranks the newer local record.
	e.local_mac({dp::MacEvent::Kind::Learned, HOST, 5, kVni, 0});
	e.neigh(MacSource::Kernel, bridge_entry(HOST, 5));
	CHECK(e.macs().locate(kVni, HOST) == here);
	e.neigh(MacSource::Kernel, bridge_entry(HOST, kVxlanIfindex));
	e.neigh(MacSource::Kernel, vxlan_self(HOST, PEER));
	CHECK(e.macs().locate(kVni, HOST) == consumer::MacLocation::remote(PEER));
	// The bridge entry goes (zebra withdrew it; taken in after the short
	// delay that covers zebra's exit flush): the self entry left behind is
	// not a location.
	e.neigh(MacSource::Kernel, bridge_entry(HOST, kVxlanIfindex, false));
	CHECK(e.macs().locate(kVni, HOST) == consumer::MacLocation::remote(PEER));
	for (unsigned i = 0; i <= bridge_config().kernel_delete_delay_ticks; ++i)
		e.tick();
	CHECK(e.macs().locate(kVni, HOST).kind == consumer::MacLocation::Kind::Unknown);
	// A deletion naming another port than the bridge's entry is ignored.
	e.neigh(MacSource::Kernel, bridge_entry(HOST, 5));
	e.neigh(MacSource::Kernel, bridge_entry(HOST, 6, false));
	CHECK(e.macs().locate(kVni, HOST) == here);
	// Kernel re-dump that no longer has the bridge entry (the host aged
	// out here): swept. The self entry that the bridge's entry on the port
	// ruled out is a leftover, not the host's location.
	e.kernel_resync_begin();
	e.neigh(MacSource::Kernel, vxlan_self(HOST, PEER));
	e.kernel_resync_done();
	CHECK(e.macs().locate(kVni, HOST) == here); // the local learning is newest
	e.local_mac({dp::MacEvent::Kind::Removed, HOST, 5, kVni, 0});
	CHECK(e.macs().locate(kVni, HOST).kind == consumer::MacLocation::Kind::Unknown);
	// zebra installs the MAC as remote again (bridge entry on the VXLAN
	// device): the self entry names the VTEP again.
	e.neigh(MacSource::Kernel, bridge_entry(HOST, kVxlanIfindex));
	CHECK(e.macs().locate(kVni, HOST) == consumer::MacLocation::remote(PEER));
}

TEST_CASE("bridge facts known: a self entry without the bridge's entry on the VXLAN device is no location")
{
	// A consumer restarted on the leaf where a silent server aged out after
	// moving there: its first kernel dump has only zebra's leftover.
	consumer::MacTable t(true);
	t.pin(kVni, SERVER);
	CHECK(!t.set(MacSource::Kernel, kVni, SERVER, consumer::MacLocation::remote(OLD)));
	CHECK(t.locate(kVni, SERVER).kind == consumer::MacLocation::Kind::Unknown);
	// zebra installs the MAC as remote: bridge entry and self entry together.
	CHECK(t.set_bridge(kVni, SERVER, std::nullopt));
	CHECK(t.locate(kVni, SERVER) == consumer::MacLocation::remote(OLD));
	// FPM needs no bridge entry (zebra's own word).
	consumer::MacTable u(true);
	CHECK(u.set(MacSource::Fpm, kVni, SERVER, consumer::MacLocation::remote(PEER)));
	CHECK(u.locate(kVni, SERVER) == consumer::MacLocation::remote(PEER));
}

TEST_CASE("a location outrun by a newer one is a leftover once that one goes")
{
	consumer::MacTable t;
	const auto here = consumer::MacLocation::local(7);
	const auto old_vtep = consumer::MacLocation::remote(OLD);
	using Kind = consumer::MacLocation::Kind;

	SUBCASE("a server moved here, then ages out: not back to the VTEP it left")
	{
		// Remote behind OLD (FPM and the VXLAN device's self entry), then
		// learnt here; zebra leaves both remote records behind.
		t.pin(kVni, SERVER);
		t.set(MacSource::Fpm, kVni, SERVER, old_vtep);
		t.set(MacSource::Kernel, kVni, SERVER, old_vtep);
		t.set_bridge(kVni, SERVER, std::nullopt);
		CHECK(t.locate(kVni, SERVER) == old_vtep);
		t.set_bridge(kVni, SERVER, 7u);
		t.set(MacSource::Local, kVni, SERVER, here);
		CHECK(t.locate(kVni, SERVER) == here);
		bool removal_first = false;
		SUBCASE("local removal first") { removal_first = true; }
		SUBCASE("bridge entry first") { removal_first = false; }
		if (removal_first) {
			t.erase(MacSource::Local, kVni, SERVER);
			t.erase_bridge(kVni, SERVER, 7, false);
		} else {
			t.erase_bridge(kVni, SERVER, 7, false);
			t.erase(MacSource::Local, kVni, SERVER);
		}
		const auto loc = t.locate(kVni, SERVER);
		CHECK(loc.kept);
		CHECK(loc.same_place(here)); // where every other VTEP keeps it too
		// A kernel re-dump reports the self entry again: still a leftover.
		t.mark_stale(MacSource::Kernel);
		CHECK(!t.set(MacSource::Kernel, kVni, SERVER, old_vtep));
		t.sweep_stale(MacSource::Kernel);
		CHECK(t.locate(kVni, SERVER).same_place(here));
		SUBCASE("zebra installs it behind OLD again (FPM): news")
		{
			CHECK(t.set(MacSource::Fpm, kVni, SERVER, old_vtep));
			CHECK(t.locate(kVni, SERVER) == old_vtep);
		}
		SUBCASE("the bridge newly forwards it to the VXLAN device: news")
		{
			CHECK(t.set_bridge(kVni, SERVER, std::nullopt));
			CHECK(t.locate(kVni, SERVER) == old_vtep);
		}
		SUBCASE("learnt here again")
		{
			CHECK(t.set(MacSource::Local, kVni, SERVER, here));
			CHECK(t.locate(kVni, SERVER) == here);
			CHECK(!t.locate(kVni, SERVER).kept);
		}
	}
	SUBCASE("the same with the self entry dumped after the local learning (restart)")
	{
		t.pin(kVni, SERVER);
		t.set(MacSource::Local, kVni, SERVER, here);
		t.set_bridge(kVni, SERVER, 7u);
		t.set(MacSource::Kernel, kVni, SERVER, old_vtep); // newer, ruled out
		CHECK(t.locate(kVni, SERVER) == here);
		t.erase_bridge(kVni, SERVER, 7, false);
		CHECK(t.locate(kVni, SERVER) == here);
		t.erase(MacSource::Local, kVni, SERVER);
		CHECK(t.locate(kVni, SERVER).same_place(here));
	}
	SUBCASE("a host moved away, then ages out at its new VTEP: not back here")
	{
		t.set(MacSource::Local, kVni, HOST, here);
		t.set_bridge(kVni, HOST, 7u);
		// moved to OLD: no local removal (the bridge entry moved to the
		// VXLAN device), zebra installs the remote MAC
		t.set_bridge(kVni, HOST, std::nullopt);
		t.set(MacSource::Fpm, kVni, HOST, old_vtep);
		CHECK(t.locate(kVni, HOST) == old_vtep);
		// aged out at OLD: withdrawn
		t.erase(MacSource::Fpm, kVni, HOST);
		t.erase_bridge(kVni, HOST, kVxlanIfindex, true);
		CHECK(t.locate(kVni, HOST).kind == Kind::Unknown);
	}
	SUBCASE("an older record of the same place is no leftover")
	{
		t.set(MacSource::Kernel, kVni, HOST, old_vtep);
		t.set(MacSource::Fpm, kVni, HOST, old_vtep);
		t.erase(MacSource::Fpm, kVni, HOST);
		CHECK(t.locate(kVni, HOST) == old_vtep);
	}
	SUBCASE("removing a record that is not the live one changes nothing")
	{
		t.set(MacSource::Kernel, kVni, HOST, old_vtep);
		t.set(MacSource::Local, kVni, HOST, here);
		CHECK(!t.erase(MacSource::Kernel, kVni, HOST));
		CHECK(t.locate(kVni, HOST) == here);
	}
}

TEST_CASE("a silent monitoring server keeps its last location until seen elsewhere (BUG 1)")
{
	const Mac VM210{2, 0, 0, 0, 2, 0x10}, SERV21{2, 0, 0, 0, 0, 0x21}, VM220{2, 0, 0, 0, 2, 0x20};
	Fabric f({{"A", ip4(10, 0, 0, 1)}, {"B", ip4(10, 0, 0, 2)}, {"C", ip4(10, 0, 0, 3)}});
	f.place(VM210, "A", 11);
	f.place(VM220, "C", 12);
	f.place(SERV21, "B", 21);
	const auto s = make_session(VM210, SERV21, 21);
	f.add_session(s);
	f.converge();
	auto snapshot = [&] {
		std::map<std::string, std::map<dp::EntryKey, dp::Action>> m;
		for (auto &v : f.vteps())
			m[v->name] = v->entries();
		return m;
	};
	const auto before = snapshot();
	REQUIRE(before.at("A").size() == 2);
	REQUIRE(before.at("B").size() == 3); // entries 1, 2 and 3
	REQUIRE(before.at("C").size() == 2);

	// SERV21 only receives: its MAC ages out at B, zebra withdraws it.
	f.forget(SERV21, "B", 21);
	f.converge();
	CHECK(snapshot() == before);
	for (auto &v : f.vteps()) {
		CAPTURE(v->name);
		const auto loc = v->engine->macs().locate(kVni, SERV21);
		CHECK(loc.kept);
		CHECK(loc.kept_since > 0);
		const auto view = v->engine->preview();
		REQUIRE(view.sessions.size() == 1);
		CHECK(view.sessions[0].status == consumer::SessionStatus::Active);
		CHECK(view.counters.server_kept == 1);
		const auto js = consumer::engine_state_json(*v->engine, &v->dataplane, {});
		CHECK(js["sessions"]["session"][0]["server-location"].contains("kept-since"));
	}
	// A host MAC that disappears is not kept (only configured servers).
	f.forget(VM220, "C", 12);
	f.converge();
	CHECK(f["A"].engine->macs().locate(kVni, VM220).kind == consumer::MacLocation::Kind::Unknown);

	SUBCASE("seen at another VTEP: the new location wins")
	{
		f.place(SERV21, "C", 31);
		f.converge();
		for (auto &v : f.vteps())
			CHECK(!v->engine->macs().locate(kVni, SERV21).kept);
		CHECK(f["A"].entries().begin()->second == vxlan_to(ip4(10, 0, 0, 3), 21));
		CHECK(f["B"].entries().size() == 2); // entries 1 and 2, no entry 3 any more
		CHECK(f["C"].entries().count(key(EntryKind::Decap, std::nullopt, 21)) == 1);
	}
	SUBCASE("seen at another local port: that port wins")
	{
		f.place(SERV21, "B", 22);
		f.converge();
		CHECK(f["B"].entries().at(key(EntryKind::Decap, std::nullopt, 21)) == local_port(22));
	}
	SUBCASE("the session goes away: the kept location is forgotten")
	{
		f.add_session(make_session(VM220, SERV21, 21)); // a second session, same server
		for (auto &v : f.vteps())
			v->engine->erase_session(s.key);
		f.converge();
		CHECK(f["A"].engine->macs().locate(kVni, SERV21).kept); // still watched
		for (auto &v : f.vteps())
			v->engine->erase_session(make_session(VM220, SERV21, 21).key);
		f.converge();
		for (auto &v : f.vteps()) {
			CHECK(v->engine->macs().locate(kVni, SERV21).kind ==
			      consumer::MacLocation::Kind::Unknown);
			CHECK(v->entries().empty());
		}
	}
}

TEST_CASE("a kept local server location needs its port")
{
	dp::MemoryDataplane dataplane;
	std::set<std::uint32_t> ports = {5, 7};
	auto cfg = config();
	cfg.port_exists = [&](std::uint32_t ifindex) { return ports.contains(ifindex); };
	cfg.wall_clock = [] { return std::int64_t{1'800'000'000}; };
	Engine e(dataplane, cfg);
	e.local_mac({dp::MacEvent::Kind::Learned, HOST, 5, kVni, 0});
	e.local_mac({dp::MacEvent::Kind::Learned, SERVER, 7, kVni, 0});
	e.upsert_session(make_session(HOST, SERVER, 21));
	open_all(e);
	e.reconcile();
	REQUIRE(dataplane.list().size() == 3);
	// Aged out, port still there: kept, entries untouched.
	e.local_mac({dp::MacEvent::Kind::Removed, SERVER, 7, kVni, 0});
	auto loc = e.macs().locate(kVni, SERVER);
	CHECK(loc.kept);
	CHECK(loc.kept_since == 1'800'000'000);
	CHECK(loc.same_place(consumer::MacLocation::local(7)));
	const auto st = e.reconcile();
	CHECK((!st || st->installed + st->removed + st->replaced == 0));
	CHECK(dataplane.list().size() == 3);
	const auto js = consumer::engine_state_json(e, &dataplane, {});
	CHECK(js["sessions"]["session"][0]["server-location"]["kept-since"] == "2027-01-15T08:00:00Z");
	// Another server's session, which the drop must not touch.
	const Mac other{2, 0, 0, 0, 2, 9};
	e.local_mac({dp::MacEvent::Kind::Learned, other, 5, kVni, 0});
	e.upsert_session(make_session(Mac{2, 0, 0, 0, 1, 9}, other, 22));
	e.reconcile();
	REQUIRE(dataplane.list().size() == 6);
	// The port is deleted: the next tick drops the kept location, and the
	// server's target becomes none: its entries 1/2 stay, its entry 3 goes,
	// no session is decided again, and no full pass.
	ports.erase(7);
	const auto passes = e.counters().full_passes;
	const auto plans = e.plans();
	e.tick();
	e.reconcile();
	CHECK(e.macs().locate(kVni, SERVER).kind == consumer::MacLocation::Kind::Unknown);
	CHECK(dataplane.list().size() == 5); // the other server's 3, this one's entries 1/2
	const dp::ServerKey gone{kVni, SERVER, 21};
	const auto servers = dataplane.servers();
	const auto it = std::find_if(servers.begin(), servers.end(),
				     [&](const auto &kv) { return kv.first == gone; });
	REQUIRE(it != servers.end());
	CHECK(it->second.kind == dp::Action::Kind::Unresolved);
	CHECK(e.counters().kept_dropped_port_gone == 1);
	CHECK(e.counters().full_passes == passes);
	CHECK(e.plans() - plans == 0);
	CHECK(e.desired().counters.server_unknown == 1);

	SUBCASE("removed together with its port: not kept at all")
	{
		e.local_mac({dp::MacEvent::Kind::Learned, SERVER, 8, kVni, 0});
		e.reconcile();
		CHECK(dataplane.list().size() == 6);
		e.local_mac({dp::MacEvent::Kind::Removed, SERVER, 8, kVni, 0}); // port 8 never existed
		CHECK(e.macs().locate(kVni, SERVER).kind == consumer::MacLocation::Kind::Unknown);
	}
}

TEST_CASE("a new profile is an update in place: one install per entry, same key, no remove")
{
	FakeDataplane dataplane;
	Engine e(dataplane, config());
	feed_inputs(e);
	open_all(e);
	REQUIRE(e.reconcile());
	REQUIRE(dataplane.entries.size() == 2);
	const auto before = dataplane.entries;
	auto s = make_session(HOST, SERVER, 21);

	auto apply = [&](const session::Options &options) {
		dataplane.calls.clear();
		s.options = options;
		e.upsert_session(s);
		auto st = e.reconcile(true);
		REQUIRE(st);
		return *st;
	};
	auto check_in_place = [&](const consumer::ReconcileStats &st, const session::Options &want) {
		CHECK(st.replaced == 2);
		CHECK(st.installed == 0);
		CHECK(st.removed == 0);
		REQUIRE(dataplane.calls.size() == 2);
		for (const auto &c : dataplane.calls) {
			CHECK(c.op == FakeDataplane::Call::Op::Install);
			CHECK(before.contains(c.entry.key)); // the key the entry had
			CHECK(c.entry.options == want);
			CHECK(c.entry.action == before.at(c.entry.key).action);
		}
		for (const auto &[k, en] : dataplane.entries)
			CHECK(en.options == want);
	};

	const auto rx = test_profile("rx-only", EVPN_MON_DIR_RX, 100);
	check_in_place(apply(rx), rx);
	CHECK(e.installed().at(key(EntryKind::MirrorDest, HOST, 21)).options() == rx);

	// the same options again: nothing to do
	auto same = apply(rx);
	CHECK(same.replaced + same.installed + same.removed == 0);
	CHECK(dataplane.calls.empty());

	const auto tx = test_profile("tx-only", EVPN_MON_DIR_TX);
	check_in_place(apply(tx), tx);

	// back to no profile
	check_in_place(apply(session::Options{}), session::Options{});
	CHECK(e.counters().totals.removed == 0);
}

TEST_CASE("restart with profiled entries: options are compared too, nothing touched")
{
	dp::MemoryDataplane dataplane;
	auto s = make_session(HOST, SERVER, 21);
	s.options = test_profile("cnp", EVPN_MON_DIR_BOTH, 10);
	auto start = [&](Engine &e) {
		feed_inputs(e);
		e.upsert_session(s);
		open_all(e);
		return e.reconcile();
	};
	{
		Engine first(dataplane, config());
		REQUIRE(start(first));
	}
	for (const auto &en : dataplane.list())
		CHECK(en.options == s.options);
	Engine second(dataplane, config());
	auto st = start(second);
	REQUIRE(st);
	CHECK(st->installed + st->replaced + st->removed == 0);
	CHECK(st->unchanged == 2);

	SUBCASE("a profile changed while the consumer was down is updated in place")
	{
		Engine third(dataplane, config());
		s.options = test_profile("cnp", EVPN_MON_DIR_RX, 10);
		auto st3 = start(third);
		REQUIRE(st3);
		CHECK(st3->replaced == 2);
		CHECK(st3->installed + st3->removed == 0);
	}
}

TEST_CASE("state JSON: entries name their session and profile, and count what it did not copy")
{
	FakeDataplane dataplane;
	Engine e(dataplane, config());
	feed_inputs(e);
	auto s = make_session(HOST, SERVER, 21);
	s.options = test_profile("roce", EVPN_MON_DIR_RX, 100);
	e.upsert_session(s);
	open_all(e);
	REQUIRE(e.reconcile());
	const auto j = consumer::engine_state_json(e, &dataplane);
	REQUIRE(j["entries"]["entry"].size() == 2);
	for (const auto &en : j["entries"]["entry"]) {
		CHECK(en["session-id"] == s.id);
		CHECK(en["profile"] == s.options.to_string());
		for (const char *c : {"packets", "bytes", "drops", "filtered", "sampled-out", "policed"})
			CHECK(en["counters"].contains(c));
	}
	REQUIRE(j["sessions"]["session"].size() == 1);
	CHECK(j["sessions"]["session"][0]["session-id"] == s.id);
	CHECK(j["sessions"]["session"][0]["profile"] == s.options.to_string());
}

TEST_CASE("state: the status parts are the full document's gates and counters, nothing else")
{
	FakeDataplane dataplane;
	Engine e(dataplane, config());
	feed_inputs(e);
	e.upsert_session(make_session(HOST, SERVER, 21));
	open_all(e);
	REQUIRE(e.reconcile());
	const auto full = consumer::engine_state_json(e, &dataplane, {{"extra", 7}});
	const auto status =
	    consumer::engine_state_json(e, &dataplane, {{"extra", 7}}, consumer::StateParts::Status);
	REQUIRE(full["entries"]["entry"].size() == 2);
	CHECK(status["gates"] == full["gates"]);
	CHECK(status["counters"] == full["counters"]);
	for (const char *part : {"sessions", "entries", "collectors"})
		CHECK_FALSE(status.contains(part));
	CHECK(status.size() == 2);
}

namespace {
const dp::IpAddr COLLECTOR = ipv4_addr(10, 9, 0, 1), COLLECTOR2 = ipv4_addr(10, 9, 0, 2);
} // namespace

TEST_CASE("a collector change is an update in place: one install per entry, same key, no remove")
{
	FakeDataplane dataplane;
	Engine e(dataplane, config());
	open_all(e);
	auto s = make_collector_session(HOST, 7, COLLECTOR, erspan_options(3, 7));
	e.upsert_session(s);
	REQUIRE(e.reconcile());
	REQUIRE(dataplane.entries.size() == 2);
	const auto before = dataplane.entries;
	for (const auto &[k, en] : before) {
		CHECK(en.action == erspan_to(COLLECTOR, 3, 7));
		CHECK(en.options == s.options);
		CHECK(k.host_id == 7);
		CHECK(k.session == s.id);
	}

	auto change = [&](const dp::IpAddr &collector, const session::Options &options,
			  const dp::Action &want) {
		CAPTURE(want.erspan.version);
		dataplane.calls.clear();
		s.server_ip = collector;
		s.options = options;
		e.upsert_session(s);
		auto st = e.reconcile(true);
		REQUIRE(st);
		CHECK(st->replaced == 2);
		CHECK(st->installed == 0);
		CHECK(st->removed == 0);
		REQUIRE(dataplane.calls.size() == 2);
		for (const auto &c : dataplane.calls) {
			CHECK(c.op == FakeDataplane::Call::Op::Install);
			CHECK(before.contains(c.entry.key)); // the same key
			CHECK(c.entry.action == want);
			CHECK(c.entry.options == options);
		}
	};
	// another collector address (re-issued `monitor collector 7 ip ...`)
	change(COLLECTOR2, erspan_options(3, 7), erspan_to(COLLECTOR2, 3, 7));
	// type II, another span id, DSCP, TTL and GRE protocol
	change(COLLECTOR2, erspan_options(2, 9, 46, 16, 0x8949), erspan_to(COLLECTOR2, 2, 9, 46, 16, 0x8949));
	// a profile added to the session
	const auto profiled = erspan_options(2, 9, 46, 16, 0x8949, test_profile("cnp", EVPN_MON_DIR_RX, 10));
	change(COLLECTOR2, profiled, erspan_to(COLLECTOR2, 2, 9, 46, 16, 0x8949));

	// the same again: nothing to do
	dataplane.calls.clear();
	e.upsert_session(s);
	auto same = e.reconcile(true);
	REQUIRE(same);
	CHECK(same->replaced + same->installed + same->removed == 0);
	CHECK(dataplane.calls.empty());
	CHECK(e.counters().totals.removed == 0);
}

TEST_CASE("collector entries in the memory dataplane: a restart touches nothing, a change is in place")
{
	dp::MemoryDataplane dataplane;
	auto s = make_collector_session(HOST, 7, COLLECTOR, erspan_options(3, 7, 0, 64, 0x88be));
	auto start = [&](Engine &e) {
		e.upsert_session(s);
		open_all(e);
		return e.reconcile();
	};
	{
		Engine first(dataplane, config());
		auto st = start(first);
		REQUIRE(st);
		CHECK(st->installed == 2);
		CHECK(st->errors == 0);
	}
	REQUIRE(resolved_entries(dataplane).size() == 2);
	for (const auto &en : dataplane.list()) {
		CHECK(en.action == erspan_to(COLLECTOR, 3, 7, 0, 64, 0x88be));
		CHECK(en.options == s.options);
	}
	Engine second(dataplane, config());
	auto st = start(second);
	REQUIRE(st);
	CHECK(st->installed + st->replaced + st->removed == 0);
	CHECK(st->unchanged == 2);

	s.server_ip = COLLECTOR2;
	second.upsert_session(s);
	auto st2 = second.reconcile();
	REQUIRE(st2);
	CHECK(st2->replaced == 2);
	CHECK(st2->installed + st2->removed + st2->errors == 0);
	for (const auto &en : dataplane.list())
		CHECK(en.action.erspan.collector == COLLECTOR2);
}

TEST_CASE("state JSON: a collector session, its entries and the collectors with their counters")
{
	FakeDataplane dataplane;
	Engine e(dataplane, config());
	open_all(e);
	auto s = make_collector_session(HOST, 7, COLLECTOR, erspan_options(2, 5, 8, 30));
	e.upsert_session(s);
	REQUIRE(e.reconcile());
	dp::ErspanCounters c;
	c.packets = 10;
	c.bytes = 1500;
	c.no_route = 3;
	c.mtu_truncated = 2;
	c.errors = 1;
	c.last_seq = 9;
	dataplane.erspan = {{erspan_to(COLLECTOR, 2, 5, 8, 30).erspan, c}};
	const auto j = consumer::engine_state_json(e, &dataplane);

	REQUIRE(j["sessions"]["session"].size() == 1);
	const auto &sj = j["sessions"]["session"][0];
	CHECK(sj["collector-id"] == 7);
	CHECK(sj["collector-ip"] == "10.9.0.1");
	CHECK(!sj.contains("host-id"));
	CHECK(!sj.contains("server-mac"));
	CHECK(!sj.contains("server-location"));
	CHECK(sj["erspan"]["version"] == 2);
	CHECK(sj["erspan"]["span-id"] == 5);
	CHECK(sj["erspan"]["dscp"] == 8);
	CHECK(sj["erspan"]["ttl"] == 30);
	CHECK(sj["erspan"]["gre-protocol"] == 0x88be); // the type II default
	CHECK(sj["action"]["type"] == "erspan");
	CHECK(sj["action"]["collector"] == "10.9.0.1");
	CHECK(sj["status"] == "active");

	REQUIRE(j["entries"]["entry"].size() == 2);
	for (const auto &en : j["entries"]["entry"]) {
		CHECK(en["collector-id"] == 7);
		CHECK(!en.contains("host-id"));
		CHECK(en["session-id"] == s.id);
		CHECK(en["action"]["type"] == "erspan");
		CHECK(en["action"]["span-id"] == 5);
	}

	REQUIRE(j["collectors"]["collector"].size() == 1);
	const auto &cj = j["collectors"]["collector"][0];
	CHECK(cj["collector"] == "10.9.0.1");
	CHECK(cj["span-id"] == 5);
	CHECK(cj["erspan-version"] == 2);
	CHECK(cj["entries"] == 2);
	CHECK(cj["counters"]["packets"] == "10");
	CHECK(cj["counters"]["bytes"] == "1500");
	CHECK(cj["counters"]["no-route"] == "3");
	CHECK(cj["counters"]["mtu-truncated"] == "2");
	CHECK(cj["counters"]["errors"] == "1");
	CHECK(cj["counters"]["last-seq"] == 9);

	std::map<std::string, std::uint64_t> counters;
	for (const auto &[name, value] : consumer::engine_counters(e))
		counters[name] = value;
	CHECK(counters.at("sessions-collector") == 1);
	CHECK(counters.at("sessions-collector-unsupported") == 0);

	SUBCASE("a destination the dataplane still counts but no entry uses is shown too")
	{
		dataplane.erspan.push_back({erspan_to(COLLECTOR2, 3, 1).erspan, {}});
		const auto j2 = consumer::engine_state_json(e, &dataplane);
		REQUIRE(j2["collectors"]["collector"].size() == 2);
		CHECK(j2["collectors"]["collector"][1]["entries"] == 0);
	}
}
