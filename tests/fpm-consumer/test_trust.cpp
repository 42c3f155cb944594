// The consumer's part of the trust controls: bgpd's import decision (feed
// version 4: held sessions are never decided on, flips install or remove
// within one reconcile), the audit (events, log lines, the ring), and the
// decapsulation sources kept from the kernel's flood entries.
#include "fabric.hpp"
#include "fake_dataplane.hpp"

#include "core/audit.hpp"
#include "core/state_json.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace evpnmon;
using namespace evpnmon::test;
using consumer::AuditEvent;
using consumer::Engine;
using consumer::Gate;
using consumer::ImportState;
using consumer::MacSource;
using dp::EntryKind;
using Kind = AuditEvent::Kind;

namespace {
const Mac HOST{0x02, 0, 0, 0, 0, 0x10}, HOST2{0x02, 0, 0, 0, 0, 0x11};
const Mac SERVER{0x02, 0, 0, 0, 0, 0x21};
const Ipv4 PEER = ip4(10, 0, 0, 2), PEER2 = ip4(10, 0, 0, 3), ORIG = ip4(10, 0, 0, 101);

// An engine whose audit lines are collected and whose clock is fixed.
struct Harness {
	std::vector<std::string> lines;
	std::vector<AuditEvent> events;
	consumer::EngineConfig cfg;
	explicit Harness(std::size_t history = consumer::kDefaultAuditHistory)
	{
		cfg.decision.local_vnis = {kVni};
		cfg.vxlan_ifindex_to_vni = {{kVxlanIfindex, kVni}};
		cfg.audit_history = history;
		cfg.audit_sink = [this](const AuditEvent &e) {
			lines.push_back(consumer::format_line(e));
			events.push_back(e);
		};
		cfg.audit_clock = [] { return std::int64_t{1764777000123}; };
	}
	std::vector<Kind> kinds() const
	{
		std::vector<Kind> k;
		for (const auto &e : events)
			k.push_back(e.kind);
		return k;
	}
};

void open_all(Engine &e)
{
	for (auto g : {Gate::Feed, Gate::LocalMacs, Gate::Fpm})
		e.open_gate(g);
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

consumer::NeighUpdate remote(const Mac &mac, Ipv4 vtep)
{
	consumer::NeighUpdate u;
	u.ifindex = kVxlanIfindex;
	u.mac = mac;
	u.dst = vtep;
	return u;
}

// A kernel flood entry (zebra's, from an IMET route): zero MAC, a VTEP.
consumer::NeighUpdate flood(Ipv4 vtep, bool add = true, std::uint32_t ifindex = kVxlanIfindex)
{
	consumer::NeighUpdate u;
	u.add = add;
	u.ifindex = ifindex;
	u.mac = Mac{};
	u.dst = vtep;
	u.flags = 0x02; // NTF_SELF
	u.state = 0xc0; // NUD_PERMANENT | NUD_NOARP
	return u;
}

// Host local here, server behind PEER, reachable.
void inputs(Engine &e)
{
	e.local_mac({dp::MacEvent::Kind::Learned, HOST, 5, kVni, 0});
	e.local_mac({dp::MacEvent::Kind::Learned, HOST2, 6, kVni, 0});
	e.neigh(MacSource::Fpm, remote(SERVER, PEER));
	e.route(route_to(PEER));
}

consumer::Session with(consumer::Session s, ImportState state, std::string reason)
{
	s.import_state = state;
	s.import_reason = std::move(reason);
	return s;
}

std::set<dp::EntryKey> mirror_keys(const FakeDataplane &d)
{
	std::set<dp::EntryKey> k;
	for (const auto &[key, e] : d.entries)
		if (key.kind != EntryKind::Decap)
			k.insert(key);
	return k;
}

std::set<std::pair<std::uint32_t, dp::IpAddr>> pairs(std::initializer_list<Ipv4> vteps)
{
	std::set<std::pair<std::uint32_t, dp::IpAddr>> out;
	for (const auto &v : vteps)
		out.insert({kVni, ipv4_addr(v[0], v[1], v[2], v[3])});
	return out;
}
} // namespace

TEST_CASE("feed v4: a denied session is held, never decided on; flips install and remove within one reconcile")
{
	Harness h;
	FakeDataplane dataplane;
	Engine e(dataplane, h.cfg);
	inputs(e);
	open_all(e);
	const auto s = make_session(HOST, SERVER, 21, ORIG);
	e.upsert_session(with(s, ImportState::Denied, "rule 10 deny (originator prefix-list ROGUE)"));
	REQUIRE(e.reconcile());
	CHECK(mirror_keys(dataplane).empty());
	CHECK(dataplane.install_calls == 0);
	CHECK(e.sessions().empty());
	REQUIRE(e.held_sessions().size() == 1);
	CHECK(e.preview().sessions.empty()); // not even decided on

	// Flip to installed: one reconcile installs its entries 1 and 2.
	e.upsert_session(with(s, ImportState::Installed, "rule 20 permit"));
	REQUIRE(e.reconcile());
	CHECK(mirror_keys(dataplane) ==
	      std::set{key(EntryKind::MirrorSource, s), key(EntryKind::MirrorDest, s)});
	CHECK(e.held_sessions().empty());

	// A new reason alone changes nothing in the dataplane, and is no event.
	const auto calls = dataplane.calls.size();
	e.upsert_session(with(s, ImportState::Installed, "default permit"));
	CHECK(!e.reconcile().has_value()); // nothing to do
	CHECK(dataplane.calls.size() == calls);
	CHECK(e.sessions().at(s.key).import_reason == "default permit");

	// Flip to over-limit: one reconcile removes them.
	e.upsert_session(with(s, ImportState::OverLimit, "maximum-sessions 1 reached"));
	REQUIRE(e.reconcile());
	CHECK(mirror_keys(dataplane).empty());
	CHECK(e.held_sessions().size() == 1);

	// Withdrawn while held.
	e.erase_session(s.key);
	CHECK(e.held_sessions().empty());

	CHECK(h.kinds() == std::vector{Kind::Deny, Kind::Install, Kind::Refuse, Kind::Forget});
	CHECK(!h.events[0].previous.has_value());
	CHECK(h.events[1].previous == ImportState::Denied);
	CHECK(h.events[2].previous == ImportState::Installed);
	CHECK(h.events[2].decision == ImportState::OverLimit);
	CHECK(h.events[3].reason == "withdrawn by bgpd");
}

TEST_CASE("a snapshot: one event per change, none for what did not change, the dataplane follows")
{
	Harness h;
	FakeDataplane dataplane;
	Engine e(dataplane, h.cfg);
	inputs(e);
	open_all(e);
	const auto a = make_session(HOST, SERVER, 21, ORIG);
	const auto b = make_session(HOST2, SERVER, 21, ORIG);
	e.replace_sessions({with(a, ImportState::Installed, "default permit"),
			    with(b, ImportState::Denied, "rule 5 deny")});
	REQUIRE(e.reconcile());
	CHECK(mirror_keys(dataplane) ==
	      std::set{key(EntryKind::MirrorSource, a), key(EntryKind::MirrorDest, a)});
	CHECK(h.kinds() == std::vector{Kind::Install, Kind::Deny});

	// The same snapshot again (a resync), and one with new reasons only.
	e.replace_sessions({with(a, ImportState::Installed, "default permit"),
			    with(b, ImportState::Denied, "rule 5 deny")});
	e.replace_sessions({with(a, ImportState::Installed, "rule 1 permit"),
			    with(b, ImportState::Denied, "rule 6 deny")});
	CHECK(h.events.size() == 2);
	dataplane.calls.clear();
	e.reconcile();
	CHECK(dataplane.calls.empty());

	// A policy change flips both.
	e.replace_sessions({with(a, ImportState::Denied, "rule 7 deny"),
			    with(b, ImportState::Installed, "rule 8 permit")});
	REQUIRE(e.reconcile());
	CHECK(mirror_keys(dataplane) ==
	      std::set{key(EntryKind::MirrorSource, b), key(EntryKind::MirrorDest, b)});
	REQUIRE(h.events.size() == 4);
	CHECK(h.events[2].kind == Kind::Install); // b
	CHECK(h.events[2].session == b.id);
	CHECK(h.events[2].previous == ImportState::Denied);
	CHECK(h.events[3].kind == Kind::Deny); // a
	CHECK(h.events[3].session == a.id);
	CHECK(h.events[3].previous == ImportState::Installed);

	// The feed is lost: everything goes, with the cause.
	e.replace_sessions({}, "feed lost");
	REQUIRE(e.reconcile());
	CHECK(mirror_keys(dataplane).empty());
	REQUIRE(h.events.size() == 6);
	CHECK(h.events[4].kind == Kind::Forget);
	CHECK(h.events[5].kind == Kind::Remove);
	CHECK(h.events[5].reason == "feed lost");
}

TEST_CASE("an audit event names the originator, VNI, host, destination, profile and decision")
{
	Harness h;
	FakeDataplane dataplane;
	Engine e(dataplane, h.cfg);
	auto s = make_session(HOST, SERVER, 21, ORIG);
	s.server_ip = ipv4_addr(10, 1, 0, 21);
	s.options = test_profile("roce", EVPN_MON_DIR_RX, 100);
	e.upsert_session(with(s, ImportState::Installed, "rule 10 permit"));
	REQUIRE(h.lines.size() == 1);
	const auto digest = consumer::options_digest(s.options);
	CHECK(digest.size() == 8);
	CHECK(h.lines[0] == "audit: install session " + s.id +
				    " originator 10.0.0.101 vni 1000 host 02:00:00:00:00:10 - dest server 21 "
				    "02:00:00:00:00:21 10.1.0.21 profile \"roce\"#" +
				    digest + " decision installed (was new) reason \"rule 10 permit\"");
	const auto j = consumer::event_json(h.events[0]);
	CHECK(j["event"] == "install");
	CHECK(j["session-id"] == s.id);
	CHECK(j["originator"] == "10.0.0.101");
	CHECK(j["vni"] == kVni);
	CHECK(j["host-mac"] == "02:00:00:00:00:10");
	CHECK(j["host-id"] == 21);
	CHECK(j["server-mac"] == "02:00:00:00:00:21");
	CHECK(j["server-ip"] == "10.1.0.21");
	CHECK(j["profile-name"] == "roce");
	CHECK(j["profile-digest"] == digest);
	CHECK(j["decision"] == "installed");
	CHECK(j["previous"] == "none");
	CHECK(j["reason"] == "rule 10 permit");
	CHECK(j["seq"] == "1");
	CHECK(j["time"] == "2025-12-03T15:50:00.123Z");

	SUBCASE("another profile: another digest, and an update event")
	{
		auto t = s;
		t.options = test_profile("roce", EVPN_MON_DIR_RX, 1000); // same name
		CHECK(consumer::options_digest(t.options) != digest);
		CHECK(consumer::options_digest(s.options) == digest); // stable
		e.upsert_session(with(t, ImportState::Installed, "rule 10 permit"));
		REQUIRE(h.events.size() == 2);
		CHECK(h.events[1].kind == Kind::Update);
		CHECK(h.events[1].profile_digest == consumer::options_digest(t.options));
	}
	SUBCASE("a change the audit does not care about (local): no event")
	{
		auto t = s;
		t.local = true;
		e.upsert_session(with(t, ImportState::Installed, "rule 10 permit"));
		CHECK(h.events.size() == 1);
	}
	SUBCASE("no profile; a collector destination")
	{
		const auto c = make_collector_session(HOST, 7, ipv4_addr(10, 9, 0, 1),
						      erspan_options(3, 7), ORIG);
		e.upsert_session(with(c, ImportState::Denied, "rule 3 deny (collector prefix-list)"));
		REQUIRE(h.lines.size() == 2);
		CHECK(h.lines[1].find(" dest collector 7 10.9.0.1 ") != std::string::npos);
		CHECK(h.lines[1].find(" decision denied (was new) ") != std::string::npos);
		const auto jc = consumer::event_json(h.events[1]);
		CHECK(jc["collector-id"] == 7);
		CHECK(jc["collector-ip"] == "10.9.0.1");
		CHECK(!jc.contains("host-id"));
		auto plain = make_session(HOST2, SERVER, 22, ORIG);
		e.upsert_session(plain);
		CHECK(h.lines.back().find(" profile none ") != std::string::npos);
		CHECK(!consumer::event_json(h.events.back()).contains("profile-digest"));
	}
}

TEST_CASE("the audit ring keeps the last N events; history N gives the last N, oldest first")
{
	Harness h(3);
	FakeDataplane dataplane;
	Engine e(dataplane, h.cfg);
	for (std::uint16_t id = 1; id <= 5; ++id)
		e.upsert_session(make_session(HOST, SERVER, id, ORIG));
	const auto &log = e.audit_log();
	CHECK(log.total() == 5);
	CHECK(log.size() == 3);
	CHECK(log.count(Kind::Install) == 5);
	auto last = log.last();
	REQUIRE(last.size() == 3);
	CHECK(last.front().seq == 3);
	CHECK(last.back().seq == 5);
	auto two = log.last(2);
	REQUIRE(two.size() == 2);
	CHECK(two.front().seq == 4);
	const auto doc = consumer::history_json(log, 2);
	const auto &audit = doc["evpn-monitor:fpm-consumer"]["audit"];
	CHECK(audit["capacity"] == 3);
	CHECK(audit["events-total"] == "5");
	REQUIRE(audit["event"].size() == 2);
	CHECK(audit["event"][0]["seq"] == "4");
	CHECK(h.lines.size() == 5); // every event is logged, kept or not

	SUBCASE("history 0: nothing kept, still logged and counted")
	{
		Harness none(0);
		Engine e0(dataplane, none.cfg);
		e0.upsert_session(make_session(HOST, SERVER, 1, ORIG));
		CHECK(e0.audit_log().size() == 0);
		CHECK(e0.audit_log().total() == 1);
		CHECK(none.lines.size() == 1);
	}
}

TEST_CASE("state JSON: held sessions shown with their decision; import and audit counters")
{
	Harness h;
	FakeDataplane dataplane;
	dataplane.drops = {1, 42, 3};
	dataplane.ceiling = {100, 6400, 7, 448};
	Engine e(dataplane, h.cfg);
	inputs(e);
	open_all(e);
	const auto a = make_session(HOST, SERVER, 21, ORIG);
	const auto b = make_session(HOST2, SERVER, 21, ORIG);
	const auto c = make_session(HOST2, SERVER, 22, ORIG);
	e.replace_sessions({with(a, ImportState::Installed, "default permit"),
			    with(b, ImportState::Denied, "rule 5 deny"),
			    with(c, ImportState::OverLimit, "per-originator limit 1")});
	e.reconcile();
	const auto j = consumer::engine_state_json(e, &dataplane);
	std::map<std::string, nlohmann::json> by_id;
	for (const auto &s : j["sessions"]["session"])
		by_id[s["session-id"]] = s;
	REQUIRE(by_id.size() == 3);
	CHECK(by_id[a.id]["status"] == "active");
	CHECK(by_id[a.id]["import-state"] == "installed");
	CHECK(by_id[b.id]["status"] == "denied");
	CHECK(by_id[b.id]["import-reason"] == "rule 5 deny");
	CHECK(by_id[b.id]["roles"]["entry1"] == false);
	CHECK(!by_id[b.id].contains("host-location"));
	CHECK(by_id[c.id]["status"] == "over-limit");
	std::map<std::string, std::string> counters;
	for (const auto &kv : j["counters"]["counter"])
		counters[kv["name"]] = kv["value"];
	CHECK(counters["sessions-installed"] == "1");
	CHECK(counters["sessions-denied"] == "1");
	CHECK(counters["sessions-over-limit"] == "1");
	CHECK(counters["audit-events"] == "3");
	CHECK(counters["audit-installs"] == "1");
	CHECK(counters["audit-denials"] == "1");
	CHECK(counters["audit-refusals"] == "1");
	CHECK(counters["decap-drops-no-tunnel-metadata"] == "1");
	CHECK(counters["decap-drops-unknown-source"] == "42");
	CHECK(counters["decap-drops-unknown-host-id"] == "3");
	CHECK(counters["mirror-ceiling-passed-packets"] == "100");
	CHECK(counters["mirror-ceiling-passed-bytes"] == "6400");
	CHECK(counters["mirror-ceiling-dropped-packets"] == "7");
	CHECK(counters["mirror-ceiling-dropped-bytes"] == "448");
}

TEST_CASE("decapsulation sources follow the kernel's flood entries of the configured VXLAN devices")
{
	Harness h;
	FakeDataplane dataplane;
	Engine e(dataplane, h.cfg);
	inputs(e);
	open_all(e);
	e.kernel_resync_begin();
	e.neigh(MacSource::Kernel, flood(PEER));
	e.neigh(MacSource::Kernel, flood(PEER2));
	e.neigh(MacSource::Kernel, flood(ip4(10, 0, 0, 9), true, 555)); // another device
	e.neigh(MacSource::Fpm, flood(ip4(10, 0, 0, 8)));                // zebra's FPM: not a source
	e.kernel_resync_done();
	REQUIRE(e.reconcile());
	CHECK(dataplane.decap == pairs({PEER, PEER2}));
	CHECK(e.counters().decap_sources_added == 2);
	CHECK(e.counters().decap_source_events == 2);

	SUBCASE("a repeated flood entry (a dump) changes nothing")
	{
		dataplane.decap_calls.clear();
		e.kernel_resync_begin();
		e.neigh(MacSource::Kernel, flood(PEER));
		e.neigh(MacSource::Kernel, flood(PEER2));
		e.kernel_resync_done();
		e.reconcile();
		CHECK(dataplane.decap_calls.empty());
	}
	SUBCASE("a deletion stands after a few ticks with zebra connected")
	{
		e.neigh(MacSource::Kernel, flood(PEER2, false));
		e.reconcile();
		CHECK(dataplane.decap == pairs({PEER, PEER2})); // not yet
		for (unsigned i = 0; i <= h.cfg.kernel_delete_delay_ticks; ++i) {
			e.tick();
			e.reconcile();
		}
		CHECK(dataplane.decap == pairs({PEER}));
		CHECK(e.counters().decap_sources_removed == 1);
	}
	SUBCASE("a deletion followed by a re-add (zebra's own churn) removes nothing")
	{
		e.neigh(MacSource::Kernel, flood(PEER2, false));
		e.neigh(MacSource::Kernel, flood(PEER2));
		for (unsigned i = 0; i <= h.cfg.kernel_delete_delay_ticks + 1; ++i) {
			e.tick();
			e.reconcile();
		}
		CHECK(dataplane.decap == pairs({PEER, PEER2}));
	}
	SUBCASE("zebra stops and flushes: kept until the resync after its return decides")
	{
		e.fpm_lost();
		e.neigh(MacSource::Kernel, flood(PEER, false));
		e.neigh(MacSource::Kernel, flood(PEER2, false));
		for (int i = 0; i < 20; ++i) {
			e.tick();
			e.reconcile();
		}
		CHECK(dataplane.decap == pairs({PEER, PEER2}));
		// zebra is back and reinstalls PEER only (PEER2's IMET is gone).
		e.neigh(MacSource::Kernel, flood(PEER));
		e.fpm_resync_done();
		e.reconcile();
		CHECK(dataplane.decap == pairs({PEER}));
	}
	SUBCASE("a failed add is retried on the tick")
	{
		dataplane.decap_capacity = 2;
		const auto v = ip4(10, 0, 0, 4);
		e.neigh(MacSource::Kernel, flood(v));
		e.reconcile();
		CHECK(!dataplane.decap.contains({kVni, ipv4_addr(10, 0, 0, 4)}));
		CHECK(e.counters().decap_source_errors == 1);
		dataplane.decap_capacity = 3;
		e.tick();
		CHECK(e.dirty());
		e.reconcile();
		CHECK(dataplane.decap.contains({kVni, ipv4_addr(10, 0, 0, 4)}));
	}
}

TEST_CASE("restart: a previous run's decapsulation sources stay until the kernel's flood list is read whole")
{
	Harness h;
	FakeDataplane dataplane;
	// Left by a previous run: one still right, one for a VTEP gone since,
	// one of a VNI no longer configured.
	dataplane.decap = pairs({PEER, ip4(10, 0, 0, 7)});
	dataplane.decap.insert({4242, ipv4_addr(10, 0, 0, 2)});
	Engine e(dataplane, h.cfg);
	inputs(e);
	open_all(e);
	e.kernel_resync_begin();
	e.neigh(MacSource::Kernel, flood(PEER));
	e.reconcile();
	// The dump is still running: nothing removed, the right one not re-added.
	CHECK(dataplane.decap.size() == 3);
	for (const auto &c : dataplane.decap_calls)
		CHECK(c.add == false); // none at all, in fact
	CHECK(dataplane.decap_calls.empty());
	e.kernel_resync_done();
	e.reconcile();
	CHECK(dataplane.decap == pairs({PEER}));
	CHECK(e.counters().decap_sources_removed == 2);
	CHECK(e.counters().decap_sources_added == 0);
}

TEST_CASE("without the kernel FDB the decapsulation sources are left alone")
{
	Harness h;
	h.cfg.decap_sources = false;
	FakeDataplane dataplane;
	dataplane.decap = pairs({ip4(10, 0, 0, 7)});
	Engine e(dataplane, h.cfg);
	inputs(e);
	open_all(e);
	e.neigh(MacSource::Kernel, flood(PEER));
	e.kernel_resync_done();
	e.reconcile();
	CHECK(dataplane.decap == pairs({ip4(10, 0, 0, 7)}));
	CHECK(dataplane.decap_calls.empty());
}

TEST_CASE("exactly once with decapsulation sources: a VTEP outside the flood list is not decapsulated")
{
	// The fabric's VTEPs hear each other's flood entries (fabric.hpp); a
	// copy from a VTEP none of them lists is dropped and counted.
	Fabric f({{"v1", ip4(10, 0, 0, 1)}, {"v2", ip4(10, 0, 0, 2)}});
	f.place(HOST, "v1", 5);
	f.place(SERVER, "v2", 7);
	f.add_session(make_session(HOST, SERVER, 21));
	f.converge();
	auto &v2 = f["v2"];
	REQUIRE(v2.dataplane.decap_sources().size() == 1);
	std::vector<std::uint8_t> frame(64, 0);
	std::copy(SERVER.begin(), SERVER.end(), frame.begin());
	const dp::TunnelMeta genuine{kVni, 21, ip4(10, 0, 0, 1)};
	const dp::TunnelMeta forged{kVni, 21, ip4(10, 0, 0, 66)};
	CHECK(v2.dataplane.simulate(frame, kMirrorIfindex, genuine).size() == 1);
	CHECK(v2.dataplane.simulate(frame, kMirrorIfindex, forged).empty());
	CHECK(v2.dataplane.decap_drops().unknown_source == 1);
}

TEST_CASE("audit lines quote the profile name and the reason, escaping \" and \\")
{
	AuditEvent ev;
	ev.kind = Kind::Deny;
	ev.session = "10.0.0.101/1000/21/02:00:00:00:00:10/-";
	ev.profile_name = "x\" decision installed reason \"ok";
	ev.profile_digest = "0123abcd";
	ev.decision = ImportState::Denied;
	ev.reason = "rule 1 deny\" decision installed \\";
	const auto line = consumer::format_line(ev);
	CHECK(line.find(" profile \"x\\\" decision installed reason \\\"ok\"#0123abcd ") !=
	      std::string::npos);
	CHECK(line.ends_with(" reason \"rule 1 deny\\\" decision installed \\\\\""));
	// A field-based reader finds one decision, the real one.
	CHECK(line.find(" decision denied (was new) reason ") != std::string::npos);
	std::size_t unescaped_quotes = 0;
	for (std::size_t i = 0; i < line.size(); ++i)
		if (line[i] == '\\')
			++i;
		else
			unescaped_quotes += line[i] == '"';
	CHECK(unescaped_quotes == 4); // the name's two and the reason's two
	ev.profile_name.clear();
	CHECK(consumer::format_line(ev).find(" profile \"\"#0123abcd ") != std::string::npos);
}

TEST_CASE("held sessions' log lines: the first 10 a second, then one summary; the ring has all")
{
	std::int64_t now = 5'000'000;
	consumer::AuditLineLimiter limit(10, [&] { return now; });
	Harness h;
	std::vector<std::string> written;
	h.cfg.audit_sink = [&](const AuditEvent &e) {
		if (limit.admit(e))
			written.push_back(consumer::format_line(e));
	};
	FakeDataplane dataplane;
	Engine e(dataplane, h.cfg);
	for (std::uint8_t i = 0; i < 50; ++i)
		e.upsert_session(with(make_session(Mac{2, 0, 0, 0, 7, i}, SERVER, 21, ORIG),
				      i % 2 ? ImportState::Denied : ImportState::OverLimit, "rule 1 deny"));
	CHECK(written.size() == 10);
	CHECK(limit.take_suppressed() == 0); // the second is not over yet
	// Installs are never limited.
	e.upsert_session(make_session(HOST, SERVER, 21, ORIG));
	CHECK(written.size() == 11);
	CHECK(written.back().starts_with("audit: install "));
	now += 1000;
	CHECK(limit.take_suppressed() == 40);
	CHECK(limit.take_suppressed() == 0); // reported once
	CHECK(consumer::suppressed_line(40).starts_with("audit: 40 more audit events not logged"));
	CHECK(e.audit_log().size() == 51);
	CHECK(e.audit_log().count(Kind::Deny) + e.audit_log().count(Kind::Refuse) == 50);
	// A new second: 10 more lines.
	for (std::uint8_t i = 50; i < 65; ++i)
		e.upsert_session(with(make_session(Mac{2, 0, 0, 0, 7, i}, SERVER, 21, ORIG),
				      ImportState::Denied, "rule 1 deny"));
	CHECK(written.size() == 21);
	now += 1000;
	CHECK(limit.take_suppressed() == 5);
	CHECK(limit.suppressed_total() == 45);
}

namespace {
// An engine with PEER and PEER2 as sources, after a complete kernel dump.
struct DecapRig {
	Harness h;
	FakeDataplane dataplane;
	Engine e{dataplane, h.cfg};
	DecapRig()
	{
		inputs(e);
		open_all(e);
		e.kernel_resync_begin();
		e.neigh(MacSource::Kernel, flood(PEER));
		e.neigh(MacSource::Kernel, flood(PEER2));
		e.kernel_resync_done();
		REQUIRE(e.reconcile());
		REQUIRE(dataplane.decap == pairs({PEER, PEER2}));
		dataplane.decap_calls.clear();
	}
	void ticks(unsigned n)
	{
		for (unsigned i = 0; i < n; ++i) {
			e.tick();
			e.reconcile();
		}
	}
};
} // namespace

TEST_CASE("a deletion, a re-add and a deletion again: the last deletion's own deferral counts")
{
	DecapRig r;
	const unsigned delay = r.h.cfg.kernel_delete_delay_ticks;
	r.e.neigh(MacSource::Kernel, flood(PEER2, false));
	r.ticks(delay - 1);
	r.e.neigh(MacSource::Kernel, flood(PEER2));
	r.e.neigh(MacSource::Kernel, flood(PEER2, false));
	// The first deletion's deferral would expire here: it no longer counts.
	r.ticks(delay);
	CHECK(r.dataplane.decap == pairs({PEER, PEER2}));
	CHECK(r.dataplane.decap_calls.empty());
	r.ticks(1);
	CHECK(r.dataplane.decap == pairs({PEER}));
}

TEST_CASE("zebra's resync while a kernel dump runs: what the dump has not listed yet stays")
{
	DecapRig r;
	r.e.fpm_lost();
	r.e.kernel_resync_begin();
	r.e.neigh(MacSource::Kernel, flood(PEER)); // the dump lists PEER, not yet PEER2
	r.e.fpm_resync_done();
	r.e.reconcile();
	CHECK(r.dataplane.decap == pairs({PEER, PEER2}));
	CHECK(r.dataplane.decap_calls.empty());
	SUBCASE("the dump lists it: nothing ever removed")
	{
		r.e.neigh(MacSource::Kernel, flood(PEER2));
		r.e.kernel_resync_done();
		r.ticks(10);
		CHECK(r.dataplane.decap == pairs({PEER, PEER2}));
		CHECK(r.dataplane.decap_calls.empty());
	}
	SUBCASE("the dump ends without it: removed then")
	{
		r.ticks(10);
		CHECK(r.dataplane.decap == pairs({PEER, PEER2}));
		r.e.kernel_resync_done();
		r.e.reconcile();
		CHECK(r.dataplane.decap == pairs({PEER}));
	}
}

TEST_CASE("zebra restarts, its flush seen before or after the FPM connection closing")
{
	DecapRig r;
	SUBCASE("connection lost first, then the flush")
	{
		r.e.fpm_lost();
		r.e.neigh(MacSource::Kernel, flood(PEER, false));
		r.e.neigh(MacSource::Kernel, flood(PEER2, false));
	}
	SUBCASE("the flush first, the connection seen closing a few ticks later")
	{
		r.e.neigh(MacSource::Kernel, flood(PEER, false));
		r.e.neigh(MacSource::Kernel, flood(PEER2, false));
		r.ticks(r.h.cfg.kernel_delete_delay_ticks - 1);
		r.e.fpm_lost();
	}
	r.ticks(20);
	CHECK(r.dataplane.decap == pairs({PEER, PEER2}));
	CHECK(r.dataplane.decap_calls.empty());
	// zebra is back and reinstalls PEER only (PEER2's IMET is gone).
	r.e.neigh(MacSource::Kernel, flood(PEER));
	r.e.fpm_resync_done();
	r.ticks(10);
	CHECK(r.dataplane.decap == pairs({PEER}));
	CHECK(r.dataplane.decap_calls.size() == 1); // PEER2's removal, nothing else
}

TEST_CASE("the sync is incremental: one flood change examines one pair, a failure retries only it")
{
	DecapRig r;
	for (std::uint8_t i = 10; i < 110; ++i)
		r.e.neigh(MacSource::Kernel, flood(ip4(10, 0, 1, i)));
	r.e.reconcile();
	REQUIRE(r.dataplane.decap.size() == 102);
	auto checks = r.e.counters().decap_source_checks;
	r.e.neigh(MacSource::Kernel, flood(ip4(10, 0, 2, 1)));
	r.e.reconcile();
	CHECK(r.e.counters().decap_source_checks - checks == 1);
	CHECK(r.dataplane.decap.size() == 103);

	r.dataplane.decap_capacity = 103;
	r.e.neigh(MacSource::Kernel, flood(ip4(10, 0, 2, 2)));
	r.e.reconcile();
	CHECK(r.e.decap_waiting() == 1);
	checks = r.e.counters().decap_source_checks;
	const auto calls = r.dataplane.decap_calls.size();
	r.ticks(5);
	CHECK(r.e.counters().decap_source_checks - checks == 5); // the failed pair, each tick
	CHECK(r.dataplane.decap_calls.size() - calls == 5);
	r.dataplane.decap_capacity = SIZE_MAX;
	r.ticks(1);
	CHECK(r.e.decap_waiting() == 0);
	checks = r.e.counters().decap_source_checks;
	r.ticks(5);
	CHECK(r.e.counters().decap_source_checks == checks); // nothing more to do
	// A complete dump: every pair once.
	r.e.kernel_resync_begin();
	r.e.neigh(MacSource::Kernel, flood(PEER));
	r.e.kernel_resync_done();
	r.e.reconcile();
	CHECK(r.e.counters().decap_source_checks - checks == 104);
	CHECK(r.dataplane.decap == pairs({PEER}));
}

TEST_CASE("IPv6: a previous run's pairs go after the first dump; IPv6 flood entries are counted apart")
{
	Harness h;
	FakeDataplane dataplane;
	dp::IpAddr v6;
	v6.family = dp::IpAddr::Family::V6;
	v6.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	dataplane.decap = pairs({PEER});
	dataplane.decap.insert({kVni, v6});
	Engine e(dataplane, h.cfg);
	inputs(e);
	open_all(e);
	e.kernel_resync_begin();
	e.neigh(MacSource::Kernel, flood(PEER));
	auto u = flood(PEER);
	u.dst.reset();
	u.dst_ipv6 = true;
	const auto ignored = e.counters().neigh_ignored;
	e.neigh(MacSource::Kernel, u);
	CHECK(e.counters().decap_source_unsupported == 1);
	CHECK(e.counters().neigh_ignored == ignored);
	e.reconcile();
	CHECK(dataplane.decap.contains({kVni, v6})); // the dump is still running
	CHECK(e.decap_source_count() == 2);
	e.kernel_resync_done();
	e.reconcile();
	CHECK(dataplane.decap == pairs({PEER}));
	CHECK(e.decap_source_count() == 1);
	CHECK(e.counters().decap_sources_removed == 1);
}

TEST_CASE("without the kernel FDB the decap-sources gauge reads the dataplane")
{
	Harness h;
	h.cfg.decap_sources = false;
	FakeDataplane dataplane;
	dataplane.decap = pairs({PEER, PEER2});
	Engine e(dataplane, h.cfg);
	inputs(e);
	open_all(e);
	e.reconcile();
	const auto j = consumer::engine_state_json(e, &dataplane);
	std::map<std::string, std::string> counters;
	for (const auto &kv : j["counters"]["counter"])
		counters[kv["name"]] = kv["value"];
	CHECK(counters["decap-sources"] == "2");
}
