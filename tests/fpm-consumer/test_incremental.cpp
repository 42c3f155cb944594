// The incremental decision against the full one: after every one of many
// random steps (session churn, host and server moves from every MAC
// source, routes and next hops coming and going, resyncs, ticks), the
// engine's desired entries and counters must equal decide() over all
// sessions, and the dataplane must hold exactly those entries; when the
// dataplane was changed behind the engine's back, from the audit's repair
// on (in one go, or in steps with an event between them). Also: the
// audit's full pass counts and repairs a difference, a full dataplane
// refuses only what does not fit and the rest converges.
#include "fabric.hpp"
#include "fake_dataplane.hpp"

#include "core/engine.hpp"
#include "core/incremental.hpp"

#include <doctest/doctest.h>

#include <linux/neighbour.h>

#include <map>
#include <random>
#include <set>

namespace evpnmon::consumer {
struct IncrementalTestAccess {
	static ServerMap &servers(IncrementalDecision &d) { return d.desired_.servers; }
};
struct EngineTestAccess {
	// The incremental state forgets a session the engine still has: a
	// stand-in for a defect of the incremental decision.
	static void forget(Engine &e, const Session &s) { e.incremental_.remove(s); }
	// The incremental state holds another target for a server than its
	// place gives: a stand-in for a defect of a server's move.
	static void mistarget(Engine &e, const dp::ServerKey &k, const dp::Action &target)
	{
		IncrementalTestAccess::servers(e.incremental_).at(k) = target;
	}
	// The audit's check is deciding in parts; and the incremental decision
	// changed something since its first part.
	static bool deciding(const Engine &e) { return e.pending_check_ && e.pending_check_->deciding; }
	// The audit's re-read is under way (in parts).
	static bool rereading(const Engine &e) { return e.reread_due_; }
	static bool window_changed(const Engine &e)
	{
		return e.pending_check_ && !e.pending_check_->changed_slots.empty();
	}
};
} // namespace evpnmon::consumer

using namespace evpnmon;
using namespace evpnmon::test;
using consumer::Engine;
using consumer::Gate;
using consumer::MacSource;

namespace {

constexpr std::uint32_t kVniB = 1001, kVniForeign = 2000, kVxlanB = 101;

consumer::EngineConfig config()
{
	consumer::EngineConfig cfg;
	cfg.decision.local_vnis = {kVni, kVniB};
	cfg.vxlan_ifindex_to_vni = {{kVxlanIfindex, kVni}, {kVxlanB, kVniB}};
	cfg.kernel_delete_delay_ticks = 1;
	cfg.wall_clock = [] { return std::int64_t{1700000000}; };
	return cfg;
}

void open_all(Engine &e)
{
	for (auto g : {Gate::Feed, Gate::LocalMacs, Gate::Fpm})
		e.open_gate(g);
}

// The entries as the dataplane holds them: naming their server, or, in a
// dataplane without servers, with their servers' targets (none while a
// server's target is Unresolved).
std::map<dp::EntryKey, dp::Entry> expected_entries(const consumer::Desired &d, bool servers)
{
	std::map<dp::EntryKey, dp::Entry> out;
	for (const auto &[k, spec] : d.entries) {
		consumer::EntrySpec held = spec;
		if (!servers && spec.server()) {
			held.action = d.servers.at(*spec.server());
			if (held.action.kind == dp::Action::Kind::Unresolved)
				continue;
		}
		out.emplace(k, consumer::to_entry(k, held));
	}
	return out;
}

// The servers the dataplane must hold: those the entries name, each at its
// target.
std::map<dp::ServerKey, dp::Action> expected_servers(const consumer::Desired &d)
{
	std::map<dp::ServerKey, dp::Action> out;
	for (const auto &[k, spec] : d.entries)
		if (const auto *server = spec.server()) {
			REQUIRE(d.servers.contains(*server)); // every server named has a target
			out.emplace(*server, d.servers.at(*server));
		}
	return out;
}

// A small universe, so that steps collide: shared servers, shared HOST IDs
// (conflicts), sessions that differ only by RD (same id), collectors.
struct World {
	std::mt19937_64 rng;
	explicit World(std::uint64_t seed) : rng(seed) {}

	std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }
	bool chance(unsigned percent) { return pick(100) < percent; }

	Mac host(std::size_t i) { return Mac{2, 0, 0, 0, 1, static_cast<std::uint8_t>(i)}; }
	Mac server(std::size_t i) { return Mac{2, 0, 0, 0, 2, static_cast<std::uint8_t>(i)}; }
	Mac any_mac()
	{
		switch (pick(3)) {
		case 0:
			return host(pick(6));
		case 1:
			return server(pick(4));
		default:
			return Mac{2, 0, 0, 0, 3, static_cast<std::uint8_t>(pick(4))}; // nobody's
		}
	}
	std::uint32_t vni() { return pick(5) == 0 ? kVniB : kVni; }
	std::uint32_t vxlan_of(std::uint32_t v) { return v == kVniB ? kVxlanB : kVxlanIfindex; }
	Ipv4 vtep() { return ip4(10, 0, 0, static_cast<std::uint8_t>(2 + pick(3))); }

	consumer::Session session()
	{
		consumer::Session s;
		if (chance(15)) {
			const auto collector = chance(80) ? ipv4_addr(192, 0, 2, static_cast<std::uint8_t>(1 + pick(2)))
							  : [] {
								  dp::IpAddr a;
								  a.family = dp::IpAddr::Family::V6;
								  a.bytes = {0x20, 0x01, 0x0d, 0xb8};
								  return a;
							  }();
			s = make_collector_session(host(pick(6)), static_cast<std::uint16_t>(1 + pick(2)),
						   collector, erspan_options(3, 7, 0, 64));
		} else {
			s = make_session(host(pick(6)), server(pick(4)),
					 static_cast<std::uint16_t>(1 + pick(3)));
			if (chance(20))
				s.options = test_profile("p", EVPN_MON_DIR_BOTH, 1 + static_cast<std::uint32_t>(pick(3)));
		}
		s.key.vni = pick(10) == 0 ? kVniForeign : vni();
		if (chance(20)) { // by IP instead of MAC
			s.key.host_mac.reset();
			s.key.host_ip = ipv4_addr(10, 1, 0, static_cast<std::uint8_t>(pick(6)));
		}
		s.key.originator = ip4(192, 0, 2, static_cast<std::uint8_t>(1 + pick(2)));
		s.key.rd = chance(20) ? "192.0.2.1:3" : "192.0.2.1:2"; // same id, other RD
		s.id = consumer::make_session_id(s.key);
		if (chance(3))
			s.id.clear(); // a local session: the id is computed
		if (chance(12)) { // held back by bgpd's import decision (feed v4)
			s.import_state = chance(50) ? consumer::ImportState::Denied
						    : consumer::ImportState::OverLimit;
			s.import_reason = "rule 10 deny";
		}
		return s;
	}
};

// Collector session number i (its host 02:00:00:00:01:i): two entries.
consumer::Session numbered_session(std::uint8_t i)
{
	return make_collector_session(Mac{2, 0, 0, 0, 1, i}, 3, ipv4_addr(192, 0, 2, 9),
				      erspan_options(3, 7, 0, 64));
}

struct Harness {
	FakeDataplane dp;
	Engine engine;
	std::uint64_t checks = 0;
	// What the feed said, installed or held: the engine must hold exactly
	// this, split by the import decision.
	std::map<consumer::SessionKey, consumer::Session> feed;
	bool model = false; // the sessions come from random_step (which keeps `feed`)
	bool dumped = false; // a kernel dump completed: removals of sources are due
	std::uint64_t drifts = 0; // changes made to the dataplane behind the engine's back
	// Walk steps that saw a check deciding in parts, and the checks seen
	// deciding with changes in their window.
	std::uint64_t deciding = 0, deciding_changed = 0;
	bool counted = false; // the check deciding now is in deciding_changed

	// servers: the dataplane has servers (false: the reconciler's
	// fallback, entries with their own actions).
	explicit Harness(consumer::EngineConfig cfg = config(), bool servers = true)
	    : engine(dp, std::move(cfg))
	{
		dp.with_servers = servers;
	}

	// The audit's check or repair asked and run to its end, a reconcile a
	// part.
	void run_check()
	{
		engine.ask_check();
		run_steps();
	}
	void run_repair()
	{
		engine.ask_repair();
		run_steps();
	}
	void run_steps()
	{
		while (engine.audit_step_waiting())
			engine.reconcile();
	}

	void check(const char *what, std::size_t step)
	{
		const auto full = consumer::decide(engine.sessions(), engine.macs(), engine.routes(),
						   engine.config().decision, false);
		INFO("step " << step << ": " << std::string(what));
		REQUIRE(consumer::differences(engine.desired(), full) == 0);
		REQUIRE(dp.entries == expected_entries(full, dp.with_servers));
		if (dp.with_servers && consumer::EngineTestAccess::rereading(engine)) {
			// Until its last part the re-read removes no server: one no
			// entry names any more may stay until then.
			const auto expected = expected_servers(full);
			for (const auto &[key, target] : expected) {
				REQUIRE(dp.targets.contains(key));
				REQUIRE(dp.targets.at(key) == target);
			}
			for (const auto &[key, _] : dp.targets)
				if (!expected.contains(key))
					for (const auto &[k, e] : dp.entries)
						REQUIRE(!(e.action.kind == dp::Action::Kind::Server &&
							  e.action.server == key));
		} else if (dp.with_servers)
			REQUIRE(dp.targets == expected_servers(full));
		else
			REQUIRE(dp.targets.empty());
		// Held sessions never reach the decision; every flood entry's
		// VTEP is a decapsulation source in the dataplane.
		for (const auto &[k, s] : engine.held_sessions())
			REQUIRE(!engine.sessions().contains(k));
		std::map<consumer::SessionKey, consumer::Session> installed, held;
		for (const auto &[k, s] : feed)
			(s.installed() ? installed : held)[k] = s;
		if (model) {
			REQUIRE(engine.sessions() == installed);
			REQUIRE(engine.held_sessions() == held);
		}
		std::set<std::pair<std::uint32_t, dp::IpAddr>> sources;
		for (const auto &[vni, vtep] : engine.decap_sources())
			sources.insert({vni, ipv4_addr(vtep[0], vtep[1], vtep[2], vtep[3])});
		for (const auto &p : sources)
			REQUIRE(dp.decap.contains(p));
		if (dumped)
			REQUIRE(dp.decap == sources);
		++checks;
		if (!consumer::EngineTestAccess::deciding(engine)) {
			counted = false;
		} else {
			++deciding;
			if (!counted && consumer::EngineTestAccess::window_changed(engine)) {
				++deciding_changed;
				counted = true;
			}
		}
	}
};

// An engine whose audit runs in parts of 2 sessions (4 keys a part of its
// repair), with numbered sessions [from, to) installed.
struct PartsHarness : Harness {
	PartsHarness(std::uint8_t from, std::uint8_t to) : Harness(parts_config())
	{
		open_all(engine);
		for (auto i = from; i < to; ++i)
			engine.upsert_session(numbered_session(i));
		engine.reconcile();
	}
	static consumer::EngineConfig parts_config()
	{
		auto cfg = config();
		cfg.audit_part_sessions = 2;
		return cfg;
	}
};

// The dataplane changes behind the engine's back (an operator's tool, a
// restarted process's leftovers, a lost write): one entry goes, one gets
// another action, or one appears that nothing asked for.
void drift(World &w, Harness &h)
{
	auto &entries = h.dp.entries;
	if (entries.empty() || w.chance(30)) {
		dp::Entry stray;
		stray.key.kind = dp::EntryKind::MirrorSource;
		stray.key.vni = w.vni();
		stray.key.host.mac = w.any_mac();
		stray.key.session = "stray";
		if (!h.dp.targets.empty() && w.chance(50)) {
			// It names a server the dataplane has: the re-read must count
			// it among the server's users (too few, and the flush would
			// remove the server under it: refused_server_removals).
			auto t = h.dp.targets.begin();
			std::advance(t, static_cast<long>(w.pick(h.dp.targets.size())));
			stray.action = dp::Action::naming(t->first);
		} else {
			stray.action.kind = dp::Action::Kind::LocalPort;
			stray.action.ifindex = 9;
		}
		entries[stray.key] = stray;
		++h.drifts;
		return;
	}
	auto it = entries.begin();
	std::advance(it, static_cast<long>(w.pick(entries.size())));
	auto &a = it->second.action;
	if (w.chance(50)) {
		entries.erase(it);
	} else if (a.kind == dp::Action::Kind::Server && w.chance(50)) {
		// It names no server any more: the re-read must count the
		// server's users without it, or the server outlives its entries.
		a = dp::Action{};
		a.ifindex = 9;
	} else if (w.chance(25)) {
		// Same key and action, other options: the re-read compares them.
		it->second.options = test_profile("drift", EVPN_MON_DIR_TX);
	} else if (a.kind == dp::Action::Kind::Server) {
		// Its server re-pointed: every entry naming it goes astray.
		auto &t = h.dp.targets.at(a.server);
		if (t.kind == dp::Action::Kind::LocalPort) {
			t.ifindex ^= 0x40;
		} else if (t.kind == dp::Action::Kind::Unresolved) {
			t.kind = dp::Action::Kind::LocalPort; // copies where none go
			t.ifindex = 9;
		} else {
			t.remote_vtep[3] ^= 0x40;
		}
	} else {
		a.ifindex ^= 0x40; // same key, another port
	}
	++h.drifts;
}

void random_step(World &w, Harness &h, std::vector<consumer::Session> &known, const char *&what,
		 bool may_drift = true)
{
	auto &e = h.engine;
	switch (w.pick(14)) {
	case 0:
	case 1: { // a session comes or changes (same key, new server or profile)
		what = "upsert";
		auto s = (!known.empty() && w.chance(30)) ? known[w.pick(known.size())] : w.session();
		if (!s.is_collector() && w.chance(50))
			s.server_mac = w.server(w.pick(4));
		if (w.chance(15)) // a flip: a policy or limit change
			s.import_state = static_cast<consumer::ImportState>(w.pick(3));
		known.push_back(s);
		e.upsert_session(s);
		h.feed[s.key] = s;
		break;
	}
	case 2: // installed or held alike: the feed withdraws what it said
		what = "erase";
		if (!h.feed.empty()) {
			auto it = h.feed.begin();
			std::advance(it, static_cast<long>(w.pick(h.feed.size())));
			e.erase_session(it->first);
			h.feed.erase(it);
		}
		break;
	case 3: { // the feed's snapshot: some kept, some new, some gone
		what = "replace";
		if (!w.chance(20))
			break;
		std::vector<consumer::Session> snap;
		for (const auto &[k, s] : h.feed) // held ones too
			if (w.chance(80)) {
				auto t = s;
				if (w.chance(15)) // flipped by a policy change meanwhile
					t.import_state = static_cast<consumer::ImportState>(w.pick(3));
				if (w.chance(10))
					t.import_reason = "rule " + std::to_string(w.pick(5));
				snap.push_back(t);
			}
		for (int i = 0; i < 3; ++i)
			snap.push_back(w.session());
		e.replace_sessions(snap);
		h.feed.clear();
		for (const auto &t : snap)
			h.feed[t.key] = t; // the last of a key wins, as in the engine
		break;
	}
	case 4:
	case 5: { // local learning or ageing
		what = "local mac";
		const auto v = w.vni();
		const auto port = static_cast<std::uint32_t>(5 + w.pick(3));
		e.local_mac({w.chance(70) ? dp::MacEvent::Kind::Learned : dp::MacEvent::Kind::Removed,
			     w.any_mac(), port, v, 0});
		break;
	}
	case 6:
	case 7:
	case 8: { // zebra (FPM) or the kernel FDB: a remote MAC, or its removal
		what = "neigh";
		const auto v = w.vni();
		consumer::NeighUpdate u;
		u.add = w.chance(70);
		u.ifindex = w.vxlan_of(v);
		u.mac = w.chance(10) ? Mac{} : w.any_mac(); // a flood entry: a decap source
		u.dst = w.vtep();
		u.flags = NTF_SELF;
		e.neigh(w.chance(70) ? MacSource::Fpm : MacSource::Kernel, u);
		break;
	}
	case 9: { // an underlay route: host route or covering prefix, maybe via a group
		what = "route";
		consumer::RouteUpdate r;
		r.add = w.chance(65);
		r.table = w.chance(90) ? 254 : 100;
		const bool wide = w.chance(30);
		r.dst = wide ? ip4(10, 0, 0, 0) : w.vtep();
		r.dst_len = wide ? 24 : 32;
		r.type = w.chance(85) ? 1 : 6; // unicast or blackhole
		if (w.chance(30))
			r.nh_id = static_cast<std::uint32_t>(1 + w.pick(2));
		e.route(r);
		break;
	}
	case 10: {
		what = "nexthop";
		consumer::NexthopUpdate n;
		n.add = w.chance(60);
		n.id = static_cast<std::uint32_t>(1 + w.pick(2));
		n.blackhole = w.chance(20);
		e.nexthop(n);
		break;
	}
	case 11:
		what = "tick";
		e.tick();
		break;
	case 12: // zebra reconnects: every FPM record stale, some confirmed
		what = "fpm resync";
		if (!w.chance(15))
			break;
		e.fpm_lost();
		for (int i = 0; i < 3; ++i) {
			consumer::NeighUpdate u;
			u.add = true;
			u.ifindex = kVxlanIfindex;
			u.mac = w.server(w.pick(4));
			u.dst = w.vtep();
			u.flags = NTF_SELF;
			e.neigh(MacSource::Fpm, u);
		}
		e.fpm_resync_done();
		break;
	default:
		// The whole audit at once, or one of its steps (the daemon's way:
		// events are reconciled between the steps).
		what = "audit";
		if (may_drift && w.chance(12)) {
			// The audit repairs what its re-read found: in one go, or in
			// its steps with an event reconciled between them (the
			// caller's next reconcile runs the repair).
			what = "drift, then an audit";
			drift(w, h);
			if (w.chance(50)) {
				e.audit();
			} else {
				// The re-read in parts too, events between them
				// (the dataplane does not drift meanwhile: what
				// drifted at a key already read would wait for the
				// next audit).
				const char *between = "";
				e.ask_reread();
				for (int part = 0; part < 1000 && e.audit_step_waiting(); ++part) {
					random_step(w, h, known, between, false);
					e.reconcile();
				}
				random_step(w, h, known, between, false);
				e.reconcile();
				e.ask_check();
				e.reconcile();
				// Between the parts of the check's decision (while
				// the step waits), and between it and its
				// comparison.
				for (int part = 0; part < 1000 && e.audit_step_waiting(); ++part) {
					random_step(w, h, known, between, false);
					e.reconcile();
				}
				random_step(w, h, known, between, false);
				e.reconcile();
				// The repair in parts too, events between them; over
				// before the walk checks the dataplane.
				e.ask_repair();
				for (int part = 0; part < 1000 && e.audit_step_waiting(); ++part) {
					e.reconcile();
					random_step(w, h, known, between, false);
				}
				while (e.audit_step_waiting())
					e.reconcile();
			}
		} else if (w.chance(10))
			e.audit();
		else if (w.chance(10))
			e.reread();
		else if (w.chance(10))
			e.ask_reread(); // its parts in the reconciles that follow
		else if (w.chance(10))
			e.ask_check();
		else if (w.chance(10))
			e.ask_repair();
		break;
	}
}

} // namespace

TEST_CASE("incremental decision equals the full pass after every random step")
{
	constexpr std::size_t kSteps = 12000;
	for (std::uint64_t seed : {1u, 2u, 3u}) {
		CAPTURE(seed);
		World w(seed);
		const bool servers = seed != 3; // seed 3: a dataplane without servers
		auto cfg = config();
		// seed 1: the daemon's way, the audit's states destroyed beside it
		cfg.release_in_background = seed == 1;
		// The check's decision in parts of 1 and 3 sessions, events
		// between them; seed 3 decides whole (the default part).
		if (seed != 3)
			cfg.audit_part_sessions = seed == 1 ? 1 : 3;
		Harness h(cfg, servers);
		h.model = true;
		open_all(h.engine);
		h.engine.reconcile();
		std::vector<consumer::Session> known;
		for (std::size_t step = 0; step < kSteps / 3; ++step) {
			const char *what = "";
			random_step(w, h, known, what);
			// Sometimes let events pile up, as the daemon's pacing does.
			if (w.chance(70)) {
				h.engine.reconcile();
				h.check(what, step);
			}
		}
		h.engine.reconcile();
		h.check("end", kSteps);
		CHECK(h.checks > kSteps / 3 / 2);
		// The audits found nothing to repair.
		CHECK(h.engine.counters().full_pass_differences == 0);
		// No server was removed while an entry named it.
		CHECK(h.dp.refused_server_removals == 0);
		// And the run exercised what it should have.
		const auto &c = h.engine.desired().counters;
		CAPTURE(c.conflicts);
		CHECK(h.engine.counters().totals.installed > 100);
		CHECK(h.engine.counters().totals.removed > 100);
		CHECK(h.engine.counters().totals.replaced > 10);
		// Servers moved: their targets changed, or, without servers,
		// their entries were replaced.
		if (servers)
			CHECK(h.engine.counters().totals.server_moves > 10);
		// The dataplane drifted, and every audit since put it right.
		CHECK(h.drifts > 10);
		// The check decided in parts, inputs changing between them.
		CAPTURE(h.deciding);
		CAPTURE(h.deciding_changed);
		if (seed != 3)
			CHECK(h.deciding_changed > 5);
	}
}

TEST_CASE("an unrelated MAC event and a host move leave the entries untouched")
{
	Harness h;
	open_all(h.engine);
	const Mac host{2, 0, 0, 0, 1, 1}, server{2, 0, 0, 0, 2, 1};
	h.engine.neigh(MacSource::Fpm, [&] {
		consumer::NeighUpdate u;
		u.ifindex = kVxlanIfindex;
		u.mac = server;
		u.dst = ip4(10, 0, 0, 2);
		u.flags = NTF_SELF;
		return u;
	}());
	consumer::RouteUpdate r;
	r.dst = ip4(10, 0, 0, 2);
	r.dst_len = 32;
	r.table = 254;
	r.type = 1;
	h.engine.route(r);
	h.engine.upsert_session(make_session(host, server, 21));
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 2);
	const auto calls = h.dp.calls.size();
	// The monitored host moves; an unknown MAC appears: nothing to decide.
	h.engine.local_mac({dp::MacEvent::Kind::Learned, host, 5, kVni, 0});
	h.engine.local_mac({dp::MacEvent::Kind::Learned, Mac{2, 9, 9, 9, 9, 9}, 5, kVni, 0});
	CHECK(!h.engine.dirty());
	// The server moves here: its session's entries stay, naming it; one
	// change of its target moves them.
	const auto set_calls = h.dp.set_server_calls;
	h.engine.local_mac({dp::MacEvent::Kind::Learned, server, 6, kVni, 0});
	CHECK(h.engine.dirty());
	const auto st = h.engine.reconcile();
	REQUIRE(st);
	CHECK(st->server_moves == 1);
	CHECK(st->replaced == 0);
	CHECK(st->installed == 1); // entry 3
	CHECK(h.dp.calls.size() == calls + 1);
	CHECK(h.dp.set_server_calls == set_calls + 1);
	h.check("server move", 0);
}

TEST_CASE("a server's move, also to unknown or unreachable and back, plans none of its sessions")
{
	consumer::MacTable macs;
	consumer::RouteTable routes;
	consumer::DecisionConfig cfg;
	cfg.local_vnis = {kVni};
	consumer::IncrementalDecision inc(macs, routes, cfg);
	const Ipv4 v2 = ip4(10, 0, 0, 2), v3 = ip4(10, 0, 0, 3);
	routes.add_route(v2, 32, {});
	routes.add_route(v3, 32, {});
	const Mac server{2, 0, 0, 0, 2, 1};
	std::map<consumer::SessionKey, consumer::Session> sessions; // stable nodes
	for (unsigned i = 0; i < 1000; ++i) {
		const Mac host{2, 0, 0, 0x10, static_cast<std::uint8_t>(i >> 8),
			       static_cast<std::uint8_t>(i)};
		auto s = make_session(host, server, i % 2 ? 21 : 22);
		sessions.emplace(s.key, s);
	}
	macs.set(MacSource::Local, kVni, server, consumer::MacLocation::local(7));
	for (const auto &[k, s] : sessions)
		inc.add(s);
	inc.settle();
	REQUIRE(inc.desired().entries.size() == 2002); // entries 1/2, two entries 3
	const dp::ServerKey k21{kVni, server, 21}, k22{kVni, server, 22};
	const std::vector<dp::ServerKey> both{k21, k22};
	auto decap = [](std::uint16_t host_id) {
		return dp::EntryKey{dp::EntryKind::Decap, kVni, {}, host_id, {}};
	};
	auto sorted = [](std::vector<dp::EntryKey> v) {
		std::sort(v.begin(), v.end());
		return v;
	};
	auto full = [&] { return consumer::decide(sessions, macs, routes, cfg, false); };
	// Settles, checks against the full pass; the changes and the sessions
	// planned.
	auto settled = [&] {
		const auto plans = inc.plans();
		auto changes = inc.settle();
		REQUIRE(consumer::differences(inc.desired(), full()) == 0);
		return std::pair{changes, inc.plans() - plans};
	};
	auto move = [&](MacSource source, const consumer::MacLocation &to) {
		macs.set(source, kVni, server, to);
		inc.server_mac_changed(kVni, server);
		return settled();
	};

	// Port to port: its targets and entries 3, nothing else.
	auto [ports, ports_plans] = move(MacSource::Local, consumer::MacLocation::local(8));
	CHECK(ports_plans == 0);
	CHECK(sorted(ports.entries) == std::vector{decap(21), decap(22)});
	CHECK(ports.servers == both);
	CHECK(inc.desired().servers.at(k21) == local_port(8));
	CHECK(inc.desired().entries.at(decap(22)).action == local_port(8));

	// Local to remote: entries 1/2 name the server still; its entries 3
	// go, claimed by the server, not by each session.
	macs.erase(MacSource::Local, kVni, server);
	auto [away, away_plans] = move(MacSource::Fpm, consumer::MacLocation::remote(v2));
	CHECK(away_plans == 0);
	CHECK(sorted(away.entries) == std::vector{decap(21), decap(22)});
	CHECK(away.servers == both);
	CHECK(!inc.desired().entries.contains(decap(21)));
	CHECK(inc.desired().entries.size() == 2000);

	// And back: the entries 3 return, holding its port.
	macs.erase(MacSource::Fpm, kVni, server);
	auto [back, back_plans] = move(MacSource::Local, consumer::MacLocation::local(7));
	CHECK(back_plans == 0);
	CHECK(sorted(back.entries) == std::vector{decap(21), decap(22)});
	CHECK(inc.desired().entries.at(decap(21)).action == local_port(7));

	// Seen, then kept (its record gone, the MAC pinned), then seen again:
	// the counter follows, nothing else changes. A session planned while
	// it is kept counts as kept, and then as seen.
	macs.pin(kVni, server);
	macs.erase(MacSource::Local, kVni, server);
	inc.server_mac_changed(kVni, server);
	{
		auto [kept, kept_plans] = settled();
		CHECK(kept_plans == 0);
		CHECK(kept.entries.empty());
		CHECK(kept.servers.empty());
		CHECK(inc.desired().counters.server_kept == 1000);
	}
	auto late = make_session(Mac{2, 0, 0, 0x11, 0, 0}, server, 21);
	inc.add(sessions.emplace(late.key, late).first->second);
	settled();
	CHECK(inc.desired().counters.server_kept == 1001);
	auto [seen, seen_plans] = move(MacSource::Fpm, consumer::MacLocation::remote(v2));
	CHECK(seen_plans == 0);
	CHECK(inc.desired().counters.server_kept == 0);
	inc.remove(sessions.at(late.key));
	sessions.erase(late.key);
	settled();
	CHECK(inc.desired().entries.size() == 2000);

	// Unreachable: its targets become Unresolved, its entries 1/2 stay:
	// nothing planned. Kept and seen again while unreachable: the counter
	// only. Reachable again: its targets only.
	const dp::Action none{dp::Action::Kind::Unresolved};
	routes.del_route(v2, 32);
	inc.routes_changed();
	auto [dark, dark_plans] = settled();
	CHECK(dark_plans == 0);
	CHECK(dark.entries.empty());
	CHECK(dark.servers == both);
	CHECK(inc.desired().servers.at(k21) == none);
	CHECK(inc.desired().entries.size() == 2000);
	CHECK(inc.desired().counters.server_unreachable == 1000);
	macs.erase(MacSource::Fpm, kVni, server);
	inc.server_mac_changed(kVni, server);
	auto [dark_kept, dark_kept_plans] = settled();
	CHECK(dark_kept_plans == 0);
	CHECK(inc.desired().counters.server_kept == 1000);
	auto [dark_seen, dark_seen_plans] = move(MacSource::Fpm, consumer::MacLocation::remote(v2));
	CHECK(dark_seen_plans == 0);
	CHECK(inc.desired().counters.server_kept == 0);
	routes.add_route(v2, 32, {});
	inc.routes_changed();
	auto [lit, lit_plans] = settled();
	CHECK(lit_plans == 0);
	CHECK(lit.entries.empty());
	CHECK(lit.servers == both);
	CHECK(inc.desired().servers.at(k22) == vxlan_to(v2, 22));
	CHECK(inc.desired().counters.server_unreachable == 0);
	CHECK(inc.desired().entries.size() == 2000);

	// Unknown (its MAC gone, not pinned) and seen again: likewise, the
	// counter of its 1,000 sessions moved at once.
	macs.unpin(kVni, server);
	macs.erase(MacSource::Fpm, kVni, server);
	inc.server_mac_changed(kVni, server);
	{
		auto [gone, gone_plans] = settled();
		CHECK(gone_plans == 0);
		CHECK(gone.entries.empty());
		CHECK(gone.servers == both);
		CHECK(inc.desired().servers.at(k21) == none);
		CHECK(inc.desired().counters.server_unknown == 1000);
	}
	{
		auto [found, found_plans] = move(MacSource::Local, consumer::MacLocation::local(7));
		CHECK(found_plans == 0);
		CHECK(sorted(found.entries) == std::vector{decap(21), decap(22)});
		CHECK(inc.desired().counters.server_unknown == 0);
		CHECK(inc.desired().entries.size() == 2002);
	}
	macs.pin(kVni, server);
	macs.erase(MacSource::Local, kVni, server);
	move(MacSource::Fpm, consumer::MacLocation::remote(v2));
	CHECK(inc.desired().entries.size() == 2000);

	// VTEP to VTEP: its targets only.
	auto [vteps, vteps_plans] = move(MacSource::Fpm, consumer::MacLocation::remote(v3));
	CHECK(vteps_plans == 0);
	CHECK(vteps.entries.empty());
	CHECK(vteps.servers == both);
	CHECK(inc.desired().servers.at(k22) == vxlan_to(v3, 22));
	CHECK(inc.desired().entries.size() == 2000);

	// Another server owns the entry 3 of HOST ID 21 here (first in key
	// order): a move of this one between ports leaves it alone.
	{
		const Mac other{2, 0, 0, 0, 2, 0};
		auto s = make_session(Mac{2, 0, 0, 0, 0x0f, 0}, other, 21); // sorts first
		s.key.rd = "192.0.2.1:1";
		macs.set(MacSource::Local, kVni, other, consumer::MacLocation::local(9));
		inc.add(sessions.emplace(s.key, s).first->second);
		macs.erase(MacSource::Fpm, kVni, server);
		auto [here, here_plans] = move(MacSource::Local, consumer::MacLocation::local(7));
		CHECK(here_plans == 1); // the new session only
		REQUIRE(inc.desired().entries.at(decap(21)).action == local_port(9));
		CHECK(inc.desired().counters.conflicts == 500); // its sessions of 21 lose
		// Away again: its sessions of 21 conflict no more.
		macs.erase(MacSource::Local, kVni, server);
		move(MacSource::Fpm, consumer::MacLocation::remote(v3));
		CHECK(inc.desired().counters.conflicts == 0);
		macs.erase(MacSource::Fpm, kVni, server);
		move(MacSource::Local, consumer::MacLocation::local(7));
		CHECK(inc.desired().counters.conflicts == 500);
		auto [owned, owned_plans] = move(MacSource::Local, consumer::MacLocation::local(8));
		CHECK(owned_plans == 0);
		CHECK(owned.entries == std::vector{decap(22)}); // its own entry 3 only
		CHECK(inc.desired().entries.at(decap(21)).action == local_port(9));
		CHECK(inc.desired().entries.at(decap(22)).action == local_port(8));
		// The other server leaves: this one owns its entry 3 again.
		inc.remove(sessions.at(s.key));
		sessions.erase(s.key);
		inc.server_mac_changed(kVni, server);
		inc.settle();
		REQUIRE(consumer::differences(inc.desired(), full()) == 0);
		CHECK(inc.desired().counters.conflicts == 0);
		CHECK(inc.desired().entries.at(decap(21)).action == local_port(8));
		macs.erase(MacSource::Local, kVni, server);
		move(MacSource::Fpm, consumer::MacLocation::remote(v3));
	}

	// The same place again: nothing.
	auto [same, same_plans] = move(MacSource::Fpm, consumer::MacLocation::remote(v3));
	CHECK(same_plans == 0);
	CHECK(same.entries.empty());
	CHECK(same.servers.empty());
}

TEST_CASE("two local servers under one HOST ID: the entry 3 goes to the first session's")
{
	consumer::MacTable macs;
	consumer::RouteTable routes;
	consumer::DecisionConfig cfg;
	cfg.local_vnis = {kVni};
	cfg.require_vtep_route = false; // every VTEP reachable
	consumer::IncrementalDecision inc(macs, routes, cfg);
	const Mac a{2, 0, 0, 0, 2, 1}, b{2, 0, 0, 0, 2, 2};
	const Mac h1{2, 0, 0, 0, 1, 1}, h2{2, 0, 0, 0, 1, 2}, h3{2, 0, 0, 0, 1, 3};
	std::map<consumer::SessionKey, consumer::Session> sessions;
	// A's sessions sort first and last, B's between them.
	for (const auto &s : {make_session(h1, a, 21), make_session(h2, b, 21), make_session(h3, a, 21)})
		inc.add(sessions.emplace(s.key, s).first->second);
	macs.set(MacSource::Local, kVni, a, consumer::MacLocation::local(7));
	macs.set(MacSource::Local, kVni, b, consumer::MacLocation::local(9));
	const dp::EntryKey decap{dp::EntryKind::Decap, kVni, {}, 21, {}};
	auto full = [&] { return consumer::decide(sessions, macs, routes, cfg, false); };
	auto step = [&](std::uint64_t want_plans) {
		const auto plans = inc.plans();
		inc.settle();
		REQUIRE(consumer::differences(inc.desired(), full()) == 0);
		CHECK(inc.plans() - plans == want_plans);
	};
	auto move = [&](const Mac &server, const consumer::MacLocation &to) {
		macs.erase(MacSource::Local, kVni, server);
		macs.erase(MacSource::Fpm, kVni, server);
		macs.set(to.kind == consumer::MacLocation::Kind::Local ? MacSource::Local : MacSource::Fpm,
			 kVni, server, to);
		inc.server_mac_changed(kVni, server);
		step(0);
	};
	step(3);
	CHECK(inc.desired().entries.at(decap).action == local_port(7));
	CHECK(inc.desired().counters.conflicts == 1); // B's

	// A's first session goes: A's claim now sorts after B's.
	inc.remove(sessions.begin()->second);
	sessions.erase(sessions.begin());
	step(0);
	CHECK(inc.desired().entries.at(decap).action == local_port(9));
	CHECK(inc.desired().counters.conflicts == 1); // A's

	// B leaves this VTEP and comes back: the entry 3 changes hands twice.
	move(b, consumer::MacLocation::remote(ip4(10, 0, 0, 2)));
	CHECK(inc.desired().entries.at(decap).action == local_port(7));
	CHECK(inc.desired().counters.conflicts == 0);
	move(b, consumer::MacLocation::local(9));
	CHECK(inc.desired().entries.at(decap).action == local_port(9));
	CHECK(inc.desired().counters.conflicts == 1);
	// A leaves: B's alone.
	move(a, consumer::MacLocation::remote(ip4(10, 0, 0, 3)));
	CHECK(inc.desired().entries.at(decap).action == local_port(9));
	CHECK(inc.desired().counters.conflicts == 0);
}

TEST_CASE("a server's new target the dataplane refused is retried on its own")
{
	Harness h;
	open_all(h.engine);
	const Mac host{2, 0, 0, 0, 1, 1}, server{2, 0, 0, 0, 2, 1};
	h.engine.local_mac({dp::MacEvent::Kind::Learned, server, 7, kVni, 0});
	h.engine.upsert_session(make_session(host, server, 21));
	h.engine.reconcile();
	const dp::ServerKey k{kVni, server, 21};
	REQUIRE(h.dp.targets.at(k) == local_port(7));
	h.dp.fail_set_server = true;
	h.engine.local_mac({dp::MacEvent::Kind::Learned, server, 6, kVni, 0});
	auto st = h.engine.reconcile();
	REQUIRE(st);
	CHECK(st->errors == 1);
	CHECK(st->server_moves == 0);
	CHECK(h.dp.targets.at(k) == local_port(7)); // the old target stands
	CHECK(h.dp.entries.at(dp::EntryKey{dp::EntryKind::Decap, kVni, {}, 21, {}}).action ==
	      local_port(6));
	// Nothing else happens; the retry tick writes it, also after a re-read
	// of the dataplane (the audit's first step) in between.
	h.dp.fail_set_server = false;
	CHECK(!h.engine.dirty());
	SUBCASE("right away") {}
	SUBCASE("after a re-read") { h.engine.reread(); }
	h.engine.tick();
	CHECK(h.engine.dirty());
	st = h.engine.reconcile();
	REQUIRE(st);
	CHECK(st->server_moves == 1);
	CHECK(st->errors == 0);
	h.check("retried target", 0);
}

TEST_CASE("a server move without servers in the dataplane replaces the entries in place")
{
	Harness h(config(), false);
	open_all(h.engine);
	const Mac host{2, 0, 0, 0, 1, 1}, server{2, 0, 0, 0, 2, 1};
	h.engine.local_mac({dp::MacEvent::Kind::Learned, server, 7, kVni, 0});
	h.engine.upsert_session(make_session(host, server, 21));
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 3);
	for (const auto &[k, e] : h.dp.entries)
		CHECK(e.action.kind == dp::Action::Kind::LocalPort); // their own actions
	const auto calls = h.dp.calls.size();
	h.engine.local_mac({dp::MacEvent::Kind::Learned, server, 6, kVni, 0});
	const auto st = h.engine.reconcile();
	REQUIRE(st);
	CHECK(st->replaced == 3); // entries 1, 2 and 3
	CHECK(h.dp.calls.size() == calls + 3);
	h.check("server move", 0);
}

TEST_CASE("servers: set before the first entry naming one, removed after the flush "
	  "that removes the last")
{
	Harness h;
	open_all(h.engine);
	const Mac host{2, 0, 0, 0, 1, 1}, host2{2, 0, 0, 0, 1, 2}, server{2, 0, 0, 0, 2, 1};
	h.engine.local_mac({dp::MacEvent::Kind::Learned, server, 7, kVni, 0});
	auto s1 = make_session(host, server, 21), s2 = make_session(host2, server, 21);
	h.engine.upsert_session(s1);
	h.engine.upsert_session(s2);
	h.engine.reconcile(); // the fake refuses an entry naming a server not set
	h.check("two sessions of one server", 0);
	REQUIRE(h.dp.targets.size() == 1);
	const dp::ServerKey sk{kVni, server, 21};
	CHECK(h.dp.targets.at(sk) == local_port(7));
	h.engine.erase_session(s1.key);
	h.engine.reconcile();
	CHECK(h.dp.targets.size() == 1); // still named by s2's entries
	h.engine.erase_session(s2.key);
	h.engine.reconcile(); // its entries' removal, then the server (EBUSY before the flush)
	CHECK(h.dp.targets.empty());
	CHECK(h.engine.counters().totals.errors == 0);
	h.check("none", 1);
}

TEST_CASE("the audit's full pass counts and repairs what the incremental state got wrong")
{
	Harness h;
	open_all(h.engine);
	h.engine.upsert_session(make_collector_session(Mac{2, 0, 0, 0, 1, 1}, 3, ipv4_addr(192, 0, 2, 9),
						       erspan_options(3, 7, 0, 64)));
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 2);
	// The dataplane loses an entry behind the engine's back: the audit
	// re-reads it and puts it back.
	h.dp.entries.erase(h.dp.entries.begin());
	h.engine.audit();
	h.engine.reconcile();
	CHECK(h.dp.entries.size() == 2);
	CHECK(h.engine.counters().full_pass_differences == 0);
	CHECK(h.engine.counters().full_passes == 2);
}

TEST_CASE("the audit in steps: events between them; the repair diffs what the re-read found")
{
	Harness h;
	open_all(h.engine);
	const Mac first{2, 0, 0, 0, 1, 1}, second{2, 0, 0, 0, 1, 2};
	h.engine.upsert_session(make_collector_session(first, 3, ipv4_addr(192, 0, 2, 9),
						       erspan_options(3, 7, 0, 64)));
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 2);
	const auto passes = h.engine.counters().full_passes;
	// The dataplane loses an entry behind the engine's back; step 1 sees it.
	const auto lost = h.dp.entries.begin()->first;
	h.dp.entries.erase(h.dp.entries.begin());
	h.engine.reread();
	CHECK(!h.engine.dirty()); // a re-read alone decides nothing
	// An event between the steps is reconciled alone, against what was read.
	h.engine.upsert_session(make_collector_session(second, 3, ipv4_addr(192, 0, 2, 9),
						       erspan_options(3, 7, 0, 64)));
	h.engine.reconcile();
	CHECK(h.dp.entries.size() == 3);
	CHECK(!h.dp.entries.contains(lost));
	// Step 2: the check's decision, nothing compared or repaired yet.
	h.engine.ask_check();
	REQUIRE(h.engine.audit_step_waiting());
	h.engine.reconcile();
	CHECK(!h.engine.audit_step_waiting());
	CHECK(h.engine.counters().full_passes == passes);
	CHECK(!h.dp.entries.contains(lost));
	// Step 3: the whole diff puts the lost entry back, and only it.
	const auto installed = h.engine.counters().totals.installed;
	h.engine.ask_repair();
	h.engine.reconcile();
	CHECK(h.dp.entries.contains(lost));
	CHECK(h.dp.entries.size() == 4);
	CHECK(h.engine.counters().totals.installed == installed + 1);
	CHECK(h.engine.counters().full_passes == passes + 1);
	CHECK(h.engine.counters().full_pass_differences == 0);
}

TEST_CASE("the audit's check decides; its repair step compares, counts and repairs a wrong state")
{
	Harness h;
	open_all(h.engine);
	h.engine.upsert_session(make_collector_session(Mac{2, 0, 0, 0, 1, 1}, 3, ipv4_addr(192, 0, 2, 9),
						       erspan_options(3, 7, 0, 64)));
	h.engine.upsert_session(make_collector_session(Mac{2, 0, 0, 0, 1, 2}, 3, ipv4_addr(192, 0, 2, 9),
						       erspan_options(3, 7, 0, 64)));
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 4);
	// The defect: one session's entries leave the desired set, and the
	// next pass removes them from the dataplane.
	consumer::EngineTestAccess::forget(h.engine, h.engine.sessions().begin()->second);
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 2);
	h.engine.reread();
	const auto passes = h.engine.counters().full_passes;
	h.engine.ask_check();
	h.engine.reconcile();
	// The decision is made, not yet compared.
	CHECK(h.engine.counters().full_passes == passes);
	CHECK(h.engine.counters().full_pass_differences == 0);
	CHECK(h.dp.entries.size() == 2);
	CHECK(!h.engine.audit_step_waiting());
	// The repair step compares it, rebuilds the incremental state and
	// diffs whole.
	h.engine.ask_repair();
	CHECK(h.engine.audit_step_waiting());
	REQUIRE(h.engine.reconcile());
	CHECK(!h.engine.audit_step_waiting());
	CHECK(h.engine.counters().full_pass_differences == 3); // two entries, and the counters
	CHECK(h.dp.entries.size() == 4);
	CHECK(h.engine.counters().full_passes == passes + 1);
}

TEST_CASE("the audit's check: what changes between its decision and its comparison is no difference")
{
	Harness h;
	open_all(h.engine);
	const Mac first{2, 0, 0, 0, 1, 1}, second{2, 0, 0, 0, 1, 2}, third{2, 0, 0, 0, 1, 3};
	h.engine.upsert_session(make_collector_session(first, 3, ipv4_addr(192, 0, 2, 9),
						       erspan_options(3, 7, 0, 64)));
	h.engine.upsert_session(make_collector_session(second, 3, ipv4_addr(192, 0, 2, 9),
						       erspan_options(3, 7, 0, 64)));
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 4);
	h.engine.reread();
	h.engine.ask_check();
	h.engine.reconcile();
	// Between the steps a session goes and another comes: four entries
	// the decision has without the incremental state or the other way.
	h.engine.erase_session(h.engine.sessions().begin()->first);
	h.engine.upsert_session(make_collector_session(third, 3, ipv4_addr(192, 0, 2, 9),
						       erspan_options(3, 7, 0, 64)));
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 4);
	h.engine.ask_repair();
	h.engine.reconcile();
	CHECK(h.engine.counters().full_pass_differences == 0);
	CHECK(h.dp.entries.size() == 4);
	// A defect made before the decision is found although other keys
	// change in the window.
	consumer::EngineTestAccess::forget(h.engine, h.engine.sessions().begin()->second);
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 2);
	h.engine.reread();
	h.engine.ask_check();
	h.engine.reconcile();
	h.engine.upsert_session(make_collector_session(first, 3, ipv4_addr(192, 0, 2, 9),
						       erspan_options(3, 7, 0, 64)));
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 4);
	h.engine.ask_repair();
	h.engine.reconcile();
	CHECK(h.engine.counters().full_pass_differences == 3); // two entries, and the counters
	CHECK(h.dp.entries.size() == 6);
	// A defect the incremental decision makes in the window, on keys it
	// reports as changed, is left to the next audit (the counters are
	// compared as they were at the decision).
	const auto found = h.engine.counters().full_pass_differences;
	h.engine.reread();
	h.engine.ask_check();
	h.engine.reconcile();
	consumer::EngineTestAccess::forget(h.engine, h.engine.sessions().begin()->second);
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 4);
	h.engine.ask_repair();
	h.engine.reconcile();
	CHECK(h.engine.counters().full_pass_differences == found);
	h.engine.audit();
	h.engine.reconcile();
	CHECK(h.engine.counters().full_pass_differences == found + 3);
	CHECK(h.dp.entries.size() == 6);
}

TEST_CASE("the audit's check decides in parts, events between them; a defect made before is found")
{
	PartsHarness h(1, 7);
	REQUIRE(h.dp.entries.size() == 12);
	// The check's decision, two sessions a reconcile, and its repair.
	// `between(part)` runs after each part but the last.
	auto audit_in_parts = [&](auto between) {
		h.engine.reread();
		h.engine.ask_check();
		int parts = 0;
		do {
			h.engine.reconcile();
			++parts;
			if (h.engine.audit_step_waiting())
				between(parts);
		} while (h.engine.audit_step_waiting() && parts < 100);
		// The repair, 4 keys a part: no event between them.
		h.run_repair();
		return parts;
	};
	const auto passes = h.engine.counters().full_passes;
	CHECK(audit_in_parts([](int) {}) == 3);
	CHECK(h.engine.counters().full_passes == passes + 1);
	CHECK(h.engine.counters().full_pass_differences == 0);
	// Between the parts a session already decided goes, one not yet
	// decided goes, one comes before the part under way and one after it:
	// what the decision has of them is a mix of moments, left out.
	const auto parts = audit_in_parts([&](int part) {
		if (part == 1) {
			h.engine.erase_session(numbered_session(1).key);
			h.engine.erase_session(numbered_session(6).key);
		} else if (part == 2) {
			h.engine.upsert_session(numbered_session(0));
			h.engine.upsert_session(numbered_session(9));
		}
		// The next reconcile takes them in (and leaves its part to the
		// one after it).
	});
	CHECK(parts >= 3);
	CHECK(h.engine.counters().full_passes == passes + 2);
	CHECK(h.engine.counters().full_pass_differences == 0);
	REQUIRE(h.dp.entries.size() == 12);
	// A defect made before the decision is found: its two entries. The
	// counters are compared too when no input changed between the parts
	// (3), not when one did (2: the decision counted sessions at
	// different moments).
	consumer::EngineTestAccess::forget(h.engine, h.engine.sessions().begin()->second);
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 10);
	audit_in_parts([](int) {});
	CHECK(h.engine.counters().full_pass_differences == 3);
	CHECK(h.dp.entries.size() == 12);
	consumer::EngineTestAccess::forget(h.engine, h.engine.sessions().begin()->second);
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 10);
	audit_in_parts([&](int part) {
		if (part == 1)
			h.engine.upsert_session(numbered_session(10));
	});
	CHECK(h.engine.counters().full_pass_differences == 3 + 2);
	CHECK(h.dp.entries.size() == 14);
}

TEST_CASE("a pass with events' changes leaves the check's next part to the next, every other pass")
{
	PartsHarness h(1, 7);
	const auto parts = [&] { return h.engine.counters().audit_parts; };
	h.engine.reread();
	const auto p0 = parts();
	h.engine.ask_check();
	h.engine.reconcile();
	CHECK(parts() == p0 + 1);
	// An event: its pass installs its entries and decides no part.
	h.engine.upsert_session(numbered_session(10));
	h.engine.reconcile();
	CHECK(parts() == p0 + 1);
	CHECK(h.dp.entries.size() == 14);
	// Another right after: this pass decides the part all the same.
	h.engine.upsert_session(numbered_session(11));
	h.engine.reconcile();
	CHECK(parts() == p0 + 2);
	CHECK(h.dp.entries.size() == 16);
	// No event: a part.
	REQUIRE(h.engine.audit_step_waiting());
	h.engine.reconcile();
	CHECK(parts() == p0 + 3);
	h.run_steps();
	h.run_repair();
	CHECK(h.engine.counters().full_pass_differences == 0);
	CHECK(h.dp.entries.size() == 16);
}

TEST_CASE("the audit's repair compares and diffs in parts, events between them")
{
	PartsHarness h(1, 7);
	REQUIRE(h.dp.entries.size() == 12);
	const auto parts = [&] { return h.engine.counters().audit_parts; };
	// The dataplane loses its first and last entries behind the engine's
	// back; the re-read sees it.
	const auto first = h.dp.entries.begin()->first, last = h.dp.entries.rbegin()->first;
	h.dp.entries.erase(first);
	h.dp.entries.erase(last);
	h.engine.reread();
	h.run_check();
	const auto passes = h.engine.counters().full_passes;
	const auto p0 = parts();
	// The comparison (14 keys with the event's), then the diff (14): 7
	// parts of 4 keys; the last entry waits for the last.
	h.engine.ask_repair();
	h.engine.reconcile();
	CHECK(h.engine.audit_step_waiting());
	CHECK(parts() == p0 + 1);
	// An event between the parts: its pass installs its entries alone.
	h.engine.upsert_session(numbered_session(9));
	h.engine.reconcile();
	CHECK(parts() == p0 + 1);
	CHECK(h.dp.entries.size() == 12);
	int n = 1;
	while (h.engine.audit_step_waiting() && n < 100) {
		CHECK(!h.dp.entries.contains(last));
		h.engine.reconcile();
		++n;
	}
	CHECK(n == 7);
	CHECK(h.dp.entries.contains(first));
	CHECK(h.dp.entries.contains(last));
	CHECK(h.dp.entries.size() == 14);
	CHECK(h.engine.counters().full_passes == passes + 1);
	CHECK(h.engine.counters().full_pass_differences == 0);
	// A defect the comparison finds in its parts: counted, the state
	// built anew, its entries put back by the diff's parts.
	consumer::EngineTestAccess::forget(h.engine, h.engine.sessions().begin()->second);
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 12);
	h.engine.reread();
	h.run_check();
	h.engine.ask_repair();
	h.engine.reconcile();
	CHECK(h.engine.audit_step_waiting());
	h.run_steps();
	CHECK(h.engine.counters().full_pass_differences == 3);
	CHECK(h.dp.entries.size() == 14);
	// A re-read while the diff is under way starts it again: what it
	// found is put right wherever it is.
	h.engine.reread();
	h.run_check();
	h.engine.ask_repair();
	for (int i = 0; i < 5; ++i) // past the comparison (4 parts), into the diff
		h.engine.reconcile();
	REQUIRE(h.engine.audit_step_waiting());
	const auto again = h.dp.entries.begin()->first;
	h.dp.entries.erase(again);
	h.engine.reread();
	h.run_steps();
	CHECK(h.dp.entries.contains(again));
	CHECK(h.dp.entries.size() == 14);
	CHECK(h.engine.counters().full_pass_differences == 3);
}

namespace {

// The view holds what the dataplane holds, key for key.
bool view_is_dataplane(const Harness &h)
{
	const auto &view = h.engine.installed();
	if (view.size() != h.dp.entries.size())
		return false;
	return std::equal(view.begin(), view.end(), h.dp.entries.begin(),
			  [](const auto &v, const auto &d) {
				  return v.first == d.first &&
					 v.second.holds(d.second.action, d.second.options);
			  });
}

// An entry nothing asked for, at a key after every other (the greatest
// kind and VNI).
dp::Entry stray_at_the_end(std::uint16_t host_id, const dp::Action &action)
{
	dp::Entry stray;
	stray.key.kind = dp::EntryKind::Decap;
	stray.key.vni = 0xffffff;
	stray.key.host_id = host_id;
	stray.key.session = "stray";
	stray.action = action;
	return stray;
}

} // namespace

TEST_CASE("the audit's re-read reads in parts, events between them; the repair diffs what it found")
{
	PartsHarness h(1, 7);
	REQUIRE(h.dp.entries.size() == 12);
	const auto parts = [&] { return h.engine.counters().audit_parts; };
	// Behind the engine's back: the first entry goes, the last gets
	// another action, one appears that nothing asked for (the last key).
	const auto first = h.dp.entries.begin()->first;
	h.dp.entries.erase(first);
	auto last = std::prev(h.dp.entries.end())->second;
	const auto last_action = last.action;
	last.action = local_port(9);
	h.dp.entries[last.key] = last;
	const auto stray = stray_at_the_end(7, local_port(9));
	h.dp.entries[stray.key] = stray;
	const auto p0 = parts();
	h.engine.ask_reread();
	REQUIRE(h.engine.audit_step_waiting());
	REQUIRE(h.engine.dirty());
	h.engine.reconcile();
	CHECK(parts() == p0 + 1);
	CHECK(h.engine.audit_step_waiting());
	CHECK(!h.engine.installed().contains(first)); // read in the first part
	CHECK(!h.engine.installed().contains(stray.key)); // not yet
	// An event between the parts: its pass installs its entries alone.
	h.engine.upsert_session(numbered_session(9));
	h.engine.reconcile();
	CHECK(parts() == p0 + 1);
	CHECK(h.dp.entries.size() == 14);
	// The other steps wait for the re-read's end.
	h.engine.ask_check();
	int n = 1;
	while (consumer::EngineTestAccess::rereading(h.engine) && n < 100) {
		CHECK(!consumer::EngineTestAccess::deciding(h.engine));
		h.engine.reconcile();
		++n;
	}
	// 12 entries (11 and the stray) in parts of 4, the event's 2 after
	// the first part: 14 in 4 parts.
	CHECK(n == 4);
	// The part that ended the re-read ran no part of the check.
	CHECK(!consumer::EngineTestAccess::deciding(h.engine));
	CHECK(view_is_dataplane(h));
	CHECK(h.engine.installed().contains(stray.key));
	CHECK(h.engine.installed().at(last.key).action == local_port(9));
	h.run_steps();
	// The repair puts back what the re-read found, and only that.
	const auto installed = h.engine.counters().totals.installed;
	const auto removed = h.engine.counters().totals.removed;
	const auto replaced = h.engine.counters().totals.replaced;
	h.run_repair();
	CHECK(h.engine.counters().totals.installed == installed + 1);
	CHECK(h.engine.counters().totals.removed == removed + 1);
	CHECK(h.engine.counters().totals.replaced == replaced + 1);
	CHECK(h.dp.entries.contains(first));
	CHECK(!h.dp.entries.contains(stray.key));
	CHECK(h.dp.entries.at(last.key).action == last_action);
	CHECK(h.dp.entries.size() == 14);
	CHECK(h.engine.counters().full_pass_differences == 0);
	h.check("after the audit", 0);

	// A whole diff during the re-read (a full pass) diffs against keys not
	// read yet: the repair diffs whole after it all the same, also one
	// asked before the full pass.
	for (const bool asked : {false, true}) {
		CAPTURE(asked);
		const auto lost = std::prev(h.dp.entries.end())->first;
		h.dp.entries.erase(lost);
		h.engine.ask_reread();
		h.engine.reconcile();
		REQUIRE(h.engine.audit_step_waiting());
		REQUIRE(h.engine.installed().contains(lost)); // not read yet
		if (asked)
			h.engine.ask_repair();
		h.engine.reconcile(true);
		if (asked) {
			h.run_steps();
		} else {
			h.run_check();
			h.run_repair();
		}
		CHECK(h.dp.entries.contains(lost));
		CHECK(h.dp.entries.size() == 14);
	}

	// A re-read asked again while one is under way starts from the first
	// key: a loss at a key the first had read is seen.
	h.engine.ask_reread();
	h.engine.reconcile();
	h.engine.reconcile();
	REQUIRE(h.engine.audit_step_waiting());
	const auto early = h.dp.entries.begin()->first;
	h.dp.entries.erase(early);
	h.engine.ask_reread();
	h.run_check();
	h.run_repair();
	CHECK(h.dp.entries.contains(early));
	CHECK(h.dp.entries.size() == 14);
	CHECK(h.engine.counters().full_pass_differences == 0);
}

TEST_CASE("the audit's re-read erases the keys the dataplane lost in parts too")
{
	// Behind the engine's back the dataplane loses every entry (the view's
	// keys go after the last entry read), or all but its first and last
	// (they go before the last entry is read); a session comes between
	// the parts.
	for (const bool keep_ends : {false, true}) {
		CAPTURE(keep_ends);
		PartsHarness h(1, 9);
		REQUIRE(h.dp.entries.size() == 16);
		auto lost = h.dp.entries;
		if (keep_ends) {
			lost.erase(lost.begin());
			lost.erase(std::prev(lost.end()));
		}
		for (const auto &[key, _] : lost)
			h.dp.entries.erase(key);
		h.engine.ask_reread();
		std::size_t parts = 0, before = h.engine.installed().size();
		while (consumer::EngineTestAccess::rereading(h.engine) && parts < 100) {
			h.engine.reconcile();
			++parts;
			// A part's budget, 2 sessions' worth: 4 keys erased at most.
			CHECK(before <= h.engine.installed().size() + 4);
			if (parts == 1) {
				// An event after a part that spent its budget: its pass
				// writes its entries to the dataplane and the view alike.
				h.engine.upsert_session(numbered_session(20));
				h.engine.reconcile();
				CHECK(h.dp.entries.size() == (keep_ends ? 4 : 2));
			}
			before = h.engine.installed().size();
		}
		CHECK(parts == (lost.size() + 3) / 4);
		CHECK(view_is_dataplane(h));
		h.run_check();
		h.run_repair();
		CHECK(h.dp.entries.size() == 18);
		CHECK(h.engine.counters().full_pass_differences == 0);
		h.check("after the audit", 0);
	}
}

TEST_CASE("a server the view thinks idle is not removed while the re-read has not read "
	  "every entry")
{
	auto cfg = PartsHarness::parts_config();
	Harness h(cfg);
	open_all(h.engine);
	const Mac server{2, 0, 0, 0, 2, 1};
	h.engine.local_mac({dp::MacEvent::Kind::Learned, server, 7, kVni, 0});
	const auto s1 = make_session(Mac{2, 0, 0, 0, 3, 1}, server, 21);
	h.engine.upsert_session(s1);
	for (std::uint8_t i = 1; i < 7; ++i)
		h.engine.upsert_session(numbered_session(i));
	h.engine.reconcile();
	const dp::ServerKey sk{kVni, server, 21};
	REQUIRE(h.dp.targets.contains(sk));
	// Behind the engine's back, an entry naming the server appears at the
	// last key (a tool, a previous run's leftover).
	const auto stray = stray_at_the_end(21, dp::Action::naming(sk));
	h.dp.entries[stray.key] = stray;
	h.engine.ask_reread();
	h.engine.reconcile();
	REQUIRE(h.engine.audit_step_waiting());
	REQUIRE(!h.engine.installed().contains(stray.key));
	// The session goes: the last entries the view knows naming the server
	// go with it. The server stays: the stray, not read yet, names it.
	const auto errors = h.engine.counters().totals.errors;
	h.engine.erase_session(s1.key);
	h.engine.reconcile();
	CHECK(h.dp.refused_server_removals == 0);
	CHECK(h.dp.targets.contains(sk));
	h.run_steps();
	CHECK(h.engine.installed().contains(stray.key));
	CHECK(h.dp.targets.contains(sk)); // the stray names it
	// The repair removes the stray, then the server nothing names.
	h.run_check();
	h.run_repair();
	CHECK(!h.dp.entries.contains(stray.key));
	CHECK(!h.dp.targets.contains(sk));
	CHECK(h.dp.refused_server_removals == 0);
	CHECK(h.engine.counters().totals.errors == errors);
	h.check("after the audit", 0);
}

TEST_CASE("the audit finds a server's wrong target, also when an input changed between the "
	  "check's parts")
{
	Harness h(PartsHarness::parts_config());
	open_all(h.engine);
	const Mac server{2, 0, 0, 0, 2, 1};
	h.engine.local_mac({dp::MacEvent::Kind::Learned, server, 7, kVni, 0});
	h.engine.upsert_session(make_session(Mac{2, 0, 0, 0, 3, 1}, server, 21));
	for (std::uint8_t i = 1; i < 7; ++i)
		h.engine.upsert_session(numbered_session(i));
	h.engine.reconcile();
	const dp::ServerKey sk{kVni, server, 21};
	REQUIRE(h.dp.targets.at(sk) == local_port(7));
	// The defect: the incremental state names another port for the
	// server, and that target was written.
	auto mistarget = [&] {
		consumer::EngineTestAccess::mistarget(h.engine, sk, local_port(9));
		h.dp.targets[sk] = local_port(9);
	};
	// The check's decision in parts; `between` runs after its first part.
	auto audit = [&](auto between) {
		h.engine.reread();
		h.engine.ask_check();
		h.engine.reconcile();
		REQUIRE(consumer::EngineTestAccess::deciding(h.engine));
		between();
		h.run_steps();
		h.run_repair();
	};
	const auto found = h.engine.counters().full_pass_differences;
	// No input changes between the parts: the whole summary is compared.
	mistarget();
	audit([] {});
	CHECK(h.engine.counters().full_pass_differences == found + 1);
	CHECK(h.dp.targets.at(sk) == local_port(7));
	h.check("repaired, summary whole", 0);
	// A session comes between the parts: the counters are a mix of
	// moments, the servers the window left alone are still compared.
	mistarget();
	audit([&] { h.engine.upsert_session(numbered_session(10)); });
	CHECK(h.engine.counters().full_pass_differences == found + 2);
	CHECK(h.dp.targets.at(sk) == local_port(7));
	h.check("repaired, summary in parts", 0);
}

TEST_CASE("a re-read that finds a server no entry names leaves a pass due, whose flush removes it")
{
	Harness h;
	open_all(h.engine);
	h.engine.upsert_session(numbered_session(1));
	h.engine.reconcile();
	REQUIRE(!h.engine.dirty());
	// A server set behind the engine's back (a previous run's leftover).
	const dp::ServerKey sk{kVni, Mac{2, 0, 0, 0, 2, 9}, 21};
	h.dp.targets[sk] = local_port(9);
	h.engine.reread();
	CHECK(h.engine.dirty());
	h.engine.reconcile();
	CHECK(!h.dp.targets.contains(sk));
	CHECK(!h.engine.dirty());
}

TEST_CASE("a check dropped during the repair's comparison: the repair diffs from the first key")
{
	PartsHarness h(0, 200);
	REQUIRE(h.dp.entries.size() == 400);
	// The dataplane loses its first entry; the re-read sees it.
	const auto lost = h.dp.entries.begin()->first;
	h.dp.entries.erase(lost);
	h.engine.reread();
	h.run_check();
	const auto passes = h.engine.counters().full_passes;
	// The comparison's first part passes the lost entry's key.
	h.engine.ask_repair();
	h.engine.reconcile();
	REQUIRE(h.engine.audit_step_waiting());
	// 120 sessions go: 240 of the 400 keys, over the bound; the check is
	// dropped and the repair diffs whole, from the first key.
	for (std::uint8_t i = 80; i < 200; ++i)
		h.engine.erase_session(numbered_session(i).key);
	h.run_steps();
	CHECK(h.engine.counters().full_passes == passes);
	CHECK(h.dp.entries.contains(lost));
	CHECK(h.dp.entries.size() == 160);
}

TEST_CASE("a check dropped while it decides: the step ends, the repair diffs whole")
{
	PartsHarness h(0, 200);
	const auto lost = std::prev(h.dp.entries.end())->first;
	h.dp.entries.erase(lost);
	h.engine.reread();
	const auto passes = h.engine.counters().full_passes;
	h.engine.ask_check();
	h.engine.reconcile();
	REQUIRE(h.engine.audit_step_waiting());
	for (std::uint8_t i = 0; i < 120; ++i)
		h.engine.erase_session(numbered_session(i).key);
	h.engine.reconcile();
	CHECK(!h.engine.audit_step_waiting()); // dropped: nothing left to decide
	h.run_repair();
	CHECK(h.engine.counters().full_passes == passes);
	CHECK(h.engine.counters().full_pass_differences == 0);
	CHECK(h.dp.entries.contains(lost));
	CHECK(h.dp.entries.size() == 160);
}

TEST_CASE("the audit's check is dropped when its window changes more than a quarter of its keys")
{
	Harness h;
	open_all(h.engine);
	// The check's decision, then sessions [from, to) erased before its
	// comparison.
	auto audit_erasing = [&](std::uint8_t from, std::uint8_t to) {
		h.engine.reread();
		h.engine.ask_check();
		h.engine.reconcile();
		for (std::uint8_t i = from; i < to; ++i)
			h.engine.erase_session(numbered_session(i).key);
		h.engine.reconcile();
		h.engine.ask_repair();
		h.engine.reconcile();
	};
	for (std::uint8_t i = 0; i < 200; ++i)
		h.engine.upsert_session(numbered_session(i));
	h.engine.reconcile();
	REQUIRE(h.dp.entries.size() == 400);
	const auto passes = h.engine.counters().full_passes;
	// 41 sessions go between the steps: 82 of 400 keys, within the bound
	// (a quarter and 64); the comparison runs.
	audit_erasing(0, 41);
	CHECK(h.engine.counters().full_passes == passes + 1);
	// 100 more go (200 keys, over the bound): the check is dropped,
	// the repair step diffs whole all the same (an entry lost behind the
	// engine's back before the re-read is put back).
	h.dp.entries.erase(std::prev(h.dp.entries.end()));
	audit_erasing(41, 141);
	CHECK(h.engine.counters().full_passes == passes + 1);
	CHECK(h.engine.counters().full_pass_differences == 0);
	CHECK(h.dp.entries.size() == 118);
}

TEST_CASE("a full dataplane refuses what does not fit; the rest converges, the refused retry alone")
{
	Harness h;
	h.dp.capacity = 5;
	open_all(h.engine);
	for (std::uint8_t i = 0; i < 4; ++i)
		h.engine.upsert_session(make_collector_session(Mac{2, 0, 0, 0, 1, i}, 3, ipv4_addr(192, 0, 2, 9),
							       erspan_options(3, 7, 0, 64)));
	auto st = h.engine.reconcile();
	REQUIRE(st);
	CHECK(st->installed == 5);
	CHECK(st->capacity_errors == 3);
	CHECK(h.engine.entries_waiting() == 3);
	CHECK(h.engine.counters().capacity_errors == 3);
	// Not a loop: no pass is due until the retry tick.
	CHECK(!h.engine.dirty());
	// An unrelated change is applied at once, without retrying the refused.
	const auto installs = h.dp.install_calls;
	h.engine.erase_session(h.engine.sessions().begin()->first);
	st = h.engine.reconcile();
	REQUIRE(st);
	CHECK(h.dp.install_calls == installs);
	CHECK(h.engine.entries_waiting() == 3);
	// The tick retries them: two fit now.
	h.engine.tick();
	CHECK(h.engine.dirty());
	st = h.engine.reconcile();
	REQUIRE(st);
	CHECK(st->installed == 2);
	CHECK(h.dp.entries.size() == 5);
	CHECK(h.engine.entries_waiting() == 1);
	// Room again: the last one goes in and nothing waits.
	h.dp.capacity = 100;
	h.engine.tick();
	h.engine.reconcile();
	CHECK(h.engine.entries_waiting() == 0);
	h.check("room again", 0);
}

// The same walk with the inputs the first leaves out: the bridges' own
// FDB entries, local and kernel resyncs (bulk sweeps: the next full pass
// rebuilds), bridge ports that vanish and come back (kept server
// locations), and no VTEP route check.
namespace {
std::set<std::uint32_t> g_ports{5, 6, 7};
consumer::EngineConfig config2(bool require_route)
{
	auto cfg = config();
	cfg.decision.require_vtep_route = require_route;
	cfg.bridge_ifindex_to_vni = {{50, kVni}, {51, kVniB}};
	cfg.port_exists = [](std::uint32_t p) { return g_ports.contains(p); };
	return cfg;
}
} // namespace

TEST_CASE("incremental = full pass with bridge entries, resyncs, vanishing ports, no route check")
{
	for (std::uint64_t seed = 1; seed <= 6; ++seed) {
		CAPTURE(seed);
		g_ports = {5, 6, 7};
		World w(seed * 7919);
		Harness h(config2(seed % 2 == 0), seed % 3 != 0);
		h.model = true;
		auto &e = h.engine;
		open_all(e);
		e.reconcile();
		std::vector<consumer::Session> known;
		for (std::size_t step = 0; step < 4000; ++step) {
			const char *what = "";
			switch (w.pick(6)) {
			case 0: { // bridge master entry
				what = "bridge";
				const auto v = w.vni();
				consumer::NeighUpdate u;
				u.add = w.chance(65);
				u.mac = w.any_mac();
				u.master = v == kVniB ? 51u : 50u;
				u.ifindex = w.chance(50) ? w.vxlan_of(v) : static_cast<std::uint32_t>(5 + w.pick(3));
				u.flags = 0;
				e.neigh(MacSource::Kernel, u);
				break;
			}
			case 1: { // local or kernel resync
				what = "resync";
				if (w.chance(50)) {
					e.local_resync_begin();
					for (int i = 0; i < 2; ++i)
						e.local_mac({dp::MacEvent::Kind::Learned, w.any_mac(),
							     static_cast<std::uint32_t>(5 + w.pick(3)), w.vni(), 0});
					e.local_resync_done();
				} else {
					e.kernel_resync_begin();
					for (int i = 0; i < 2; ++i) {
						consumer::NeighUpdate u;
						const auto v = w.vni();
						u.ifindex = w.vxlan_of(v);
						u.mac = w.any_mac();
						u.dst = w.vtep();
						u.flags = NTF_SELF;
						e.neigh(MacSource::Kernel, u);
					}
					e.kernel_resync_done();
					h.dumped = true;
				}
				break;
			}
			case 2: { // a port goes or comes back
				what = "port";
				const auto p = static_cast<std::uint32_t>(5 + w.pick(3));
				if (g_ports.contains(p))
					g_ports.erase(p);
				else
					g_ports.insert(p);
				e.tick();
				break;
			}
			default:
				random_step(w, h, known, what);
			}
			if (w.chance(70)) {
				e.reconcile();
				h.check(what, step);
			}
		}
		e.reconcile();
		h.check("end", 0);
		CHECK(e.counters().full_pass_differences == 0);
	}
}
