// Unit tests of the types and of the memory backend, including the semantic
// table shared with the linux backend.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "decap_sources.hpp"
#include "profile_table.hpp"
#include "table_runner.hpp"

#include <evpnmon/dataplane/memory.hpp>

#include <poll.h>

#include <cerrno>
#include <cstdio>

#include "evpnmon_shared.h"

using namespace evpnmon::dp;

namespace {

struct MemoryHarness : table::Harness {
	MemoryDataplane dp;
	std::map<std::string, std::uint32_t> idx = {
	    {"h1", 11}, {"h2", 12}, {"h3", 13}, {"srv", 14}, {"g1", 21},
	    {"ghost", 999999}, {"mirror", 50}, {"fabric", 40}};
	MemoryHarness()
	{
		for (auto n : {"h1", "h2", "h3", "srv"})
			dp.add_port(idx[n], n, 100);
		dp.add_port(idx["g1"], "g1", 200);
		dp.add_fabric_port(idx["fabric"], "fabric", 100);
		dp.set_mirror_ifindex(idx["mirror"]);
	}
	MacEvent mac_event(const table::MacSpec &m, MacEvent::Kind k)
	{
		MacEvent ev;
		ev.kind = k;
		ev.mac = *parse_mac(m.mac);
		ev.ifindex = idx.at(m.port);
		ev.vni = 100;
		return ev;
	}
	void prepare(const table::Case &c) override
	{
		for (const auto &p : c.forwarding)
			dp.set_forwarding(idx.at(p), true);
		for (const auto &m : c.macs) {
			dp.inject_mac_event(mac_event(m, MacEvent::Kind::Learned));
			if (m.aged)
				dp.inject_mac_event(mac_event(m, MacEvent::Kind::Removed));
		}
		dp.process_events();
	}
	void finish(const table::Case &c) override
	{
		for (const auto &p : c.forwarding)
			dp.set_forwarding(idx.at(p), false);
		for (const auto &m : c.macs)
			if (!m.aged)
				dp.inject_mac_event(mac_event(m, MacEvent::Kind::Removed));
		dp.process_events();
	}
	Dataplane &dataplane() override { return dp; }
	std::uint32_t ifindex(const std::string &p) override { return idx.at(p); }
	std::vector<Output> send(std::span<const std::uint8_t> f,
				 const std::string &in,
				 const std::optional<TunnelMeta> &t) override
	{
		return dp.simulate(f, idx.at(in), t);
	}
};

Entry mac_entry(EntryKind k, const char *mac, std::uint16_t hid, std::uint32_t port)
{
	Entry e;
	e.key.kind = k;
	e.key.vni = 100;
	e.key.host.mac = parse_mac(mac);
	e.key.host_id = hid;
	e.action.kind = Action::Kind::LocalPort;
	e.action.ifindex = port;
	return e;
}

} // namespace

TEST_CASE("MAC and IP formatting round-trips")
{
	auto m = parse_mac("02:aB:00:ff:10:01");
	REQUIRE(m);
	CHECK(to_string(*m) == "02:ab:00:ff:10:01");
	CHECK_FALSE(parse_mac("02:ab:00:ff:10"));
	CHECK_FALSE(parse_mac("02:ab:00:ff:10:01:02"));
	CHECK_FALSE(parse_mac("zz:ab:00:ff:10:01"));
	auto v4 = parse_ip("10.1.2.3");
	REQUIRE(v4);
	CHECK(v4->family == IpAddr::Family::V4);
	CHECK(to_string(*v4) == "10.1.2.3");
	auto v6 = parse_ip("fd00::1");
	REQUIRE(v6);
	CHECK(v6->family == IpAddr::Family::V6);
	CHECK(to_string(*v6) == "fd00::1");
	CHECK_FALSE(parse_ip("10.1.2"));
	CHECK(to_string(EntryKind::Decap) == "decap");
}

TEST_CASE("memory backend passes the semantic table")
{
	MemoryHarness h;
	table::run_table(h);
}

TEST_CASE("decap sources: the table's contract, and its capacity")
{
	MemoryDataplane dp;
	table::check_decap_source_table(dp);
	table::check_decap_source_capacity(dp, DP_MAX_DECAP_SOURCES);
}

TEST_CASE("decap sources: a removed source no longer delivers; drops by reason")
{
	MemoryDataplane dp;
	dp.add_port(14, "srv", 100);
	dp.set_mirror_ifindex(50);
	Entry e;
	e.key.kind = EntryKind::Decap;
	e.key.vni = 100;
	e.key.host_id = 4242;
	e.action.ifindex = 14;
	REQUIRE_FALSE(dp.install(e));
	const auto f = table::build_frame({"02:00:00:00:00:01", "02:00:00:00:00:02",
					   "10.1.0.1", "10.1.0.2", 0, 32});
	const TunnelMeta from_s{100, 4242, {10, 9, 9, 5}};
	const auto s = table::source(100, "10.9.9.5");
	REQUIRE_FALSE(dp.add_decap_source(s.first, s.second));
	CHECK(dp.simulate(f, 50, from_s).size() == 1);
	REQUIRE_FALSE(dp.remove_decap_source(s.first, s.second));
	CHECK(dp.simulate(f, 50, from_s).empty());
	CHECK(dp.simulate(f, 50, std::nullopt).empty());
	const auto d = dp.decap_drops();
	CHECK(d.unknown_source == 1);
	CHECK(d.no_tunnel_metadata == 1);
	CHECK(d.unknown_host_id == 0);
	CHECK(dp.global_counters().drops == 2);
	CHECK(dp.counters(e.key)->packets == 1);
	// The simulator has no clock: no ceiling, its counters stay zero.
	const auto c = dp.ceiling_counters();
	CHECK(c.passed_packets + c.passed_bytes + c.dropped_packets + c.dropped_bytes == 0);
}

TEST_CASE("memory backend stores profiles but refuses to simulate them")
{
	// Profiles are the eBPF program's alone (test_dataplane_bpf runs these
	// cases on it): the memory backend is an entry store for them.
	for (const auto &pc : table::profile_cases()) {
		INFO("case: " << pc.name);
		MemoryHarness h;
		std::vector<Entry> installed;
		bool any_profile = false;
		for (const auto &pe : pc.entries) {
			Entry e = table::make_entry(pe.spec, [&](const std::string &p) {
				return h.ifindex(p);
			});
			e.key.session = pe.session;
			e.options = pe.options;
			any_profile |= e.options.has_profile();
			REQUIRE_FALSE(h.dp.install(e));
			installed.push_back(e);
		}
		REQUIRE(any_profile);
		auto listed = h.dp.list();
		// in key order (Dataplane::list())
		CHECK(std::is_sorted(listed.begin(), listed.end(),
				     [](const Entry &a, const Entry &b) { return a.key < b.key; }));
		std::sort(listed.begin(), listed.end());
		std::sort(installed.begin(), installed.end());
		CHECK(listed == installed);
		CHECK_THROWS_AS(h.dp.simulate(pc.frame, h.ifindex(pc.ingress)), std::logic_error);
		for (const auto &e : installed)
			CHECK(h.dp.counters(e.key)->packets == 0);
	}
	// Without a profile the same entries simulate as before.
	MemoryHarness h;
	auto e = mac_entry(EntryKind::MirrorSource, "02:00:00:00:00:01", 7, h.ifindex("srv"));
	e.key.session = "s1";
	REQUIRE_FALSE(h.dp.install(e));
	CHECK(h.dp.simulate(table::profile_cases().front().frame, h.ifindex("h1")).size() == 1);
}

TEST_CASE("factory")
{
	auto dp = make_dataplane("memory", Config{});
	REQUIRE(dp);
	CHECK(dp->list().empty());
	CHECK_THROWS_AS(make_dataplane("nope", Config{}), std::invalid_argument);
}

TEST_CASE("install validates, replaces and removes")
{
	MemoryDataplane dp;
	dp.add_port(14, "srv", 100);
	auto e = mac_entry(EntryKind::MirrorSource, "02:00:00:00:00:01", 7, 14);
	CHECK_FALSE(dp.install(e));
	auto bad = e;
	bad.key.host_id = 0;
	CHECK(dp.install(bad) == std::errc::invalid_argument);
	bad = e;
	bad.key.host = {};
	CHECK(dp.install(bad) == std::errc::invalid_argument);
	bad = e;
	bad.key.kind = EntryKind::Decap;
	CHECK(dp.install(bad) == std::errc::invalid_argument);
	auto repl = e;
	repl.action.ifindex = 15;
	CHECK_FALSE(dp.install(repl));
	REQUIRE(dp.list().size() == 1);
	CHECK(dp.list()[0].action.ifindex == 15);
	auto stray = e; // fields of the other action kind are not kept
	stray.action.vni = 100;
	stray.action.host_id = 9;
	CHECK_FALSE(dp.install(stray));
	CHECK(dp.list()[0] == e);
	CHECK_FALSE(dp.remove(e.key));
	CHECK_FALSE(dp.remove(e.key)); // absent: not an error
	CHECK(dp.list().empty());
	CHECK_FALSE(dp.counters(e.key));
}

TEST_CASE("servers: entries follow a server's move; the contract's refusals")
{
	MemoryDataplane dp;
	dp.add_port(1, "h1", 100);
	dp.add_port(14, "srv", 100);
	dp.set_mirror_ifindex(50);
	const ServerKey sk{100, *parse_mac("02:00:00:00:00:0a"), 7};
	Action local;
	local.kind = Action::Kind::LocalPort;
	local.ifindex = 14;
	Action remote;
	remote.kind = Action::Kind::Vxlan;
	remote.remote_vtep = {10, 9, 9, 2};
	remote.vni = 100;
	remote.host_id = 7;
	auto e1 = mac_entry(EntryKind::MirrorSource, "02:00:00:00:00:01", 7, 14);
	auto e2 = mac_entry(EntryKind::MirrorDest, "02:00:00:00:00:02", 7, 14);
	for (auto *e : {&e1, &e2}) {
		e->action = Action::naming(sk);
	}
	CHECK(dp.install(e1) == std::errc::no_such_device_or_address);
	// Only a server's target may be unresolved, never an entry's action.
	Entry unresolved = e1;
	unresolved.action = Action{};
	unresolved.action.kind = Action::Kind::Unresolved;
	CHECK(dp.install(unresolved) == std::errc::invalid_argument);
	Action bad = remote;
	bad.vni = 200; // not the server's VNI
	CHECK(dp.set_server(sk, bad) == std::errc::invalid_argument);
	REQUIRE_FALSE(dp.set_server(sk, local));
	REQUIRE_FALSE(dp.install(e1));
	REQUIRE_FALSE(dp.install(e2));
	const auto f = table::build_frame(
	    {"02:00:00:00:00:01", "02:00:00:00:00:02", "10.1.0.1", "10.1.0.2", 0, 32});
	auto out = dp.simulate(f, 1);
	REQUIRE(out.size() == 1); // both entries name one server: one copy
	CHECK(out[0].kind == Output::Kind::LocalCopy);
	CHECK(out[0].ifindex == 14);
	CHECK(dp.remove_server(sk) == std::errc::device_or_resource_busy);
	REQUIRE_FALSE(dp.set_server(sk, remote));
	out = dp.simulate(f, 1);
	REQUIRE(out.size() == 1);
	CHECK(out[0].kind == Output::Kind::VxlanCopy);
	CHECK(out[0].host_id == 7);
	CHECK(out[0].remote_vtep == remote.remote_vtep);
	CHECK(dp.list() == std::vector<Entry>{e1, e2}); // the entries unchanged
	CHECK(dp.servers() == std::vector<std::pair<ServerKey, Action>>{{sk, remote}});
	REQUIRE_FALSE(dp.remove(e1.key));
	REQUIRE_FALSE(dp.remove(e2.key));
	REQUIRE_FALSE(dp.remove_server(sk));
	CHECK(dp.servers().empty());
	CHECK(dp.simulate(f, 1).empty());
}

TEST_CASE("memory backend stores ERSPAN actions but refuses to simulate them")
{
	// The encapsulation is the eBPF program's alone (test_dataplane_erspan).
	MemoryDataplane m;
	m.add_port(1, "h1", 100);
	m.add_port(2, "h2", 100);
	Entry e;
	e.key.kind = EntryKind::MirrorSource;
	e.key.vni = 100;
	e.key.host.mac = parse_mac("02:00:00:00:00:01");
	e.key.host_id = 3;
	e.key.session = "c3";
	e.action.kind = Action::Kind::Erspan;
	e.action.erspan.collector = *parse_ip("10.9.0.1");
	e.action.erspan.version = 3;
	e.action.erspan.span_id = 3;
	e.action.erspan.dscp = 46;
	e.action.erspan.ttl = 9;
	e.action.erspan.gre_proto = 0x88BE;
	REQUIRE_FALSE(m.install(e));
	auto l = m.list();
	REQUIRE(l.size() == 1);
	CHECK(l[0] == e);
	auto f = table::frames::udp("10.1.0.1", "10.1.0.2", 1, 2, {});
	CHECK_THROWS_AS(m.simulate(f, 1), std::logic_error);
	CHECK(m.counters(e.key)->packets == 0);
	// Packets that meet no ERSPAN entry are still simulated.
	auto g = table::frames::udp("10.1.0.5", "10.1.0.6", 1, 2, {}, "02:00:00:00:00:05",
				    "02:00:00:00:00:06");
	CHECK_NOTHROW(m.simulate(g, 1));
	// Invalid destinations are refused as by the linux backend.
	Entry bad = e;
	bad.action.erspan.version = 0;
	CHECK(m.install(bad) == std::make_error_code(std::errc::invalid_argument));
	bad.action.erspan = e.action.erspan;
	bad.action.erspan.collector = *parse_ip("fd00::1");
	CHECK(m.install(bad) == std::make_error_code(std::errc::invalid_argument));
	bad.action.erspan = e.action.erspan;
	bad.action.erspan.span_id = 1024;
	CHECK(m.install(bad) == std::make_error_code(std::errc::invalid_argument));
}

TEST_CASE("at most DP_MAX_ACTIONS entries per monitored host and kind")
{
	MemoryDataplane dp;
	for (std::uint16_t i = 1; i <= DP_MAX_ACTIONS; ++i)
		CHECK_FALSE(dp.install(mac_entry(EntryKind::MirrorSource,
						 "02:00:00:00:00:01", i, 14)));
	CHECK(dp.install(mac_entry(EntryKind::MirrorSource, "02:00:00:00:00:01",
				   99, 14)) == std::errc::no_buffer_space);
	CHECK_FALSE(dp.install(mac_entry(EntryKind::MirrorDest, "02:00:00:00:00:01",
					 99, 14)));
}

// The i-th of a set of distinct entries of every kind (MAC 02:00:00:01:hi:lo).
Entry capacity_entry(std::uint32_t i)
{
	char mac[32];
	std::snprintf(mac, sizeof mac, "02:00:00:01:%02x:%02x", (i >> 8) & 0xff, i & 0xff);
	switch (i % 3) {
	case 0:
		return mac_entry(EntryKind::MirrorSource, mac, 7, 14);
	case 1:
		return mac_entry(EntryKind::MirrorDest, mac, 7, 14);
	default: {
		Entry e;
		e.key.kind = EntryKind::Decap;
		e.key.vni = 100;
		e.key.host_id = static_cast<std::uint16_t>(100 + i);
		e.action.ifindex = 14;
		return e;
	}
	}
}

TEST_CASE("is_capacity_error: E2BIG (entries) and ENOBUFS (fixed tables) only")
{
	CHECK(is_capacity_error(std::make_error_code(std::errc::argument_list_too_long)));
	CHECK(is_capacity_error(std::error_code(E2BIG, std::system_category())));
	CHECK_FALSE(is_capacity_error({}));
	CHECK(is_capacity_error(std::make_error_code(std::errc::no_buffer_space)));
	CHECK_FALSE(is_capacity_error(std::make_error_code(std::errc::invalid_argument)));
}

TEST_CASE("capacity: a full dataplane refuses new entries with E2BIG, nothing half-written")
{
	Config c;
	CHECK(c.max_entries == kDefaultMaxEntries);
	CHECK(c.max_entries >= 200000);
	c.max_entries = 64;
	MemoryDataplane dp(c);
	dp.add_port(11, "h1", 100);
	dp.add_port(14, "srv", 100);
	for (std::uint32_t i = 0; i < 64; ++i)
		REQUIRE_FALSE(dp.install(capacity_entry(i)));
	// A refused entry 1 (66 % 3 == 0), whose packets are easy to check.
	const Entry extra = capacity_entry(66);
	REQUIRE(extra.key.kind == EntryKind::MirrorSource);
	const auto ec = dp.install(extra);
	CHECK(ec == std::errc::argument_list_too_long);
	CHECK(is_capacity_error(ec));
	CHECK(is_capacity_error(dp.install(capacity_entry(65)))); // every kind
	CHECK(is_capacity_error(dp.install(capacity_entry(67))));
	CHECK(dp.list().size() == 64);
	CHECK_FALSE(dp.counters(extra.key));
	// Nothing of the refused entry matches a packet.
	auto frame = table::build_frame({"02:00:00:01:00:42", "02:00:00:00:99:99",
					 "10.1.0.1", "10.1.0.2", 0, 32});
	CHECK(dp.simulate(frame, 11).empty());
	// Replacing an installed entry is no new entry: still allowed.
	Entry repl = capacity_entry(3);
	repl.action.ifindex = 11;
	CHECK_FALSE(dp.install(repl));
	// One removed: the refused entry fits, and then the next one does not.
	REQUIRE_FALSE(dp.remove(capacity_entry(0).key));
	CHECK_FALSE(dp.install(extra));
	CHECK(dp.list().size() == 64);
	CHECK(dp.simulate(frame, 11).size() == 1);
	CHECK(is_capacity_error(dp.install(capacity_entry(0))));
}

TEST_CASE("mirror ceiling: both backends refuse a burst the bucket cannot hold")
{
	// The same check as the linux backend's (check_mirror_ceiling): a
	// configuration one backend refuses, the other refuses too.
	Config c;
	c.mirror_ceiling_burst = kMaxMirrorCeilingBurst + 1;
	CHECK_THROWS_AS(MemoryDataplane{c}, std::invalid_argument);
	CHECK_THROWS_AS(make_dataplane("memory", c), std::invalid_argument);
	CHECK_THROWS_AS(check_mirror_ceiling(c, "x"), std::invalid_argument);
	c.mirror_ceiling_burst = kMaxMirrorCeilingBurst;
	CHECK_NOTHROW(MemoryDataplane{c});
	c.mirror_ceiling_burst = 1;
	CHECK_NOTHROW(MemoryDataplane{c});
}

TEST_CASE("mirror ceiling: both backends refuse a packet rate or packet burst out of range")
{
	Config c;
	c.mirror_ceiling_pps = kMaxMirrorCeilingPps + 1;
	CHECK_THROWS_AS(MemoryDataplane{c}, std::invalid_argument);
	CHECK_THROWS_AS(check_mirror_ceiling(c, "x"), std::invalid_argument);
	c.mirror_ceiling_pps = kMaxMirrorCeilingPps;
	CHECK_NOTHROW(MemoryDataplane{c});
	c.mirror_ceiling_packet_burst = kMaxMirrorCeilingPacketBurst + 1;
	CHECK_THROWS_AS(MemoryDataplane{c}, std::invalid_argument);
	c.mirror_ceiling_packet_burst = kMaxMirrorCeilingPacketBurst;
	CHECK_NOTHROW(MemoryDataplane{c});
}

TEST_CASE("mirror ceiling: the default packet burst is 10 ms at the rate, 64 copies to 2^24")
{
	Config c;
	CHECK(c.mirror_ceiling_pps == 20'000);
	CHECK(mirror_ceiling_packet_burst(c) == 200);
	c.mirror_ceiling_pps = 2000; // 10 ms = 20 copies: the floor wins
	CHECK(mirror_ceiling_packet_burst(c) == 64);
	c.mirror_ceiling_pps = kMaxMirrorCeilingPps; // 10 ms = 10^7 copies
	CHECK(mirror_ceiling_packet_burst(c) == 10'000'000);
	c.mirror_ceiling_packet_burst = 7; // explicit: as given
	CHECK(mirror_ceiling_packet_burst(c) == 7);
}

TEST_CASE("mirror ceiling: the default burst is 10 ms at the rate, 128 KiB to 2 GiB")
{
	Config c;
	CHECK(mirror_ceiling_burst_octets(c) == 1'250'000); // 1 Gbit/s
	c.mirror_ceiling_bps = 20'000'000; // 10 ms = 25,000 octets
	CHECK(mirror_ceiling_burst_octets(c) == 131072);
	// A maximal GRO aggregate's copy: 65,535 octets of IP plus an
	// Ethernet header and a VLAN tag.
	CHECK(mirror_ceiling_burst_octets(c) >= 65535 + 14 + 4);
	c.mirror_ceiling_bps = 1'000'000'000'000'000; // 10 ms would be 12.5 TB
	CHECK(mirror_ceiling_burst_octets(c) == kMaxMirrorCeilingBurst);
	c.mirror_ceiling_burst = 3000; // explicit: as given
	CHECK(mirror_ceiling_burst_octets(c) == 3000);
}

TEST_CASE("capacity: the factory passes max_entries; out of range refused")
{
	Config c;
	c.max_entries = 2;
	auto dp = make_dataplane("memory", c);
	CHECK_FALSE(dp->install(capacity_entry(0)));
	CHECK_FALSE(dp->install(capacity_entry(1)));
	CHECK(is_capacity_error(dp->install(capacity_entry(2))));
	c.max_entries = 0;
	CHECK_THROWS_AS(MemoryDataplane{c}, std::invalid_argument);
	c.max_entries = static_cast<std::uint32_t>(kMaxEntriesLimit + 1);
	CHECK_THROWS_AS(make_dataplane("memory", c), std::invalid_argument);
}

TEST_CASE("capacity: the default holds 200,000 entries (100k sessions' entries 1 and 2)")
{
	MemoryDataplane dp;
	Entry e = mac_entry(EntryKind::MirrorSource, "02:00:00:00:00:00", 7, 14);
	for (std::uint32_t i = 0; i < 200000; ++i) {
		e.key.kind = i % 2 ? EntryKind::MirrorDest : EntryKind::MirrorSource;
		e.key.host.mac = Mac{0x02, 0x10, 0, static_cast<std::uint8_t>(i >> 17),
				     static_cast<std::uint8_t>(i >> 9),
				     static_cast<std::uint8_t>(i >> 1)};
		REQUIRE_FALSE(dp.install(e));
	}
	CHECK(dp.list().size() == 200000);
}

TEST_CASE("more distinct actions than DP_MAX_COPIES: extra copies dropped")
{
	MemoryDataplane dp;
	dp.add_port(11, "h1", 100);
	for (std::uint32_t p = 0; p < 10; ++p)
		dp.add_port(100 + p, "s", 100);
	// 8 src-MAC entries + 2 dst-MAC entries, all distinct ports.
	for (std::uint16_t i = 0; i < 8; ++i)
		REQUIRE_FALSE(dp.install(mac_entry(EntryKind::MirrorSource,
						   "02:00:00:00:00:01", i + 1, 100u + i)));
	for (std::uint16_t i = 8; i < 10; ++i)
		REQUIRE_FALSE(dp.install(mac_entry(EntryKind::MirrorDest,
						   "02:00:00:00:00:02", i + 1, 100u + i)));
	auto f = table::build_frame({"02:00:00:00:00:01", "02:00:00:00:00:02",
				     "10.0.0.1", "10.0.0.2", 0, 32});
	auto out = dp.simulate(f, 11);
	CHECK(out.size() == DP_MAX_COPIES);
	CHECK(dp.global_counters().drops == 2);
}

TEST_CASE("MAC events: injected, delivered via event_fd, dumped")
{
	MemoryDataplane dp;
	std::vector<MacEvent> seen;
	dp.set_mac_listener([&](const MacEvent &ev) { seen.push_back(ev); });
	MacEvent ev;
	ev.mac = *parse_mac("02:00:00:00:00:01");
	ev.ifindex = 11;
	ev.vni = 100;
	dp.inject_mac_event(ev);
	pollfd p{dp.event_fd(), POLLIN, 0};
	REQUIRE(::poll(&p, 1, 0) == 1);
	CHECK(seen.empty());
	dp.process_events();
	REQUIRE(seen.size() == 1);
	CHECK(seen[0].mac == ev.mac);
	CHECK(::poll(&p, 1, 0) == 0);
	seen.clear();
	dp.dump_macs();
	CHECK(seen.size() == 1);
	ev.kind = MacEvent::Kind::Removed;
	dp.inject_mac_event(ev);
	dp.process_events();
	seen.clear();
	dp.dump_macs();
	CHECK(seen.empty());
}

TEST_CASE("memory bridge model: originals and copies are told apart; egress drop counted")
{
	MemoryDataplane dp;
	dp.add_port(11, "h1", 100);
	dp.add_port(13, "h3", 100);
	dp.add_port(14, "srv", 100);
	dp.add_fabric_port(40, "vxlan100", 100);
	REQUIRE_FALSE(dp.install(mac_entry(EntryKind::MirrorSource, "02:00:00:00:00:01", 7, 14)));
	auto frame = table::build_frame({"02:00:00:00:00:01", "02:00:00:00:00:03",
					 "10.1.0.1", "10.1.0.3", 0, 32});
	// Forwarding off (the default): copies only, as before the bridge model.
	auto out = dp.simulate(frame, 11);
	REQUIRE(out.size() == 1);
	CHECK(out[0].kind == Output::Kind::LocalCopy);
	CHECK(dp.dropped_originals().drops == 0);
	dp.set_forwarding(13, true);
	dp.set_forwarding(14, true);
	out = dp.simulate(frame, 11);
	std::sort(out.begin(), out.end());
	REQUIRE(out.size() == 2);
	CHECK(out[0].kind == Output::Kind::LocalCopy);
	CHECK(out[0].ifindex == 14);
	CHECK(out[1].kind == Output::Kind::Original);
	CHECK(out[1].ifindex == 13);
	CHECK(dp.dropped_originals().drops == 1);
	CHECK(dp.dropped_originals().bytes == frame.size());
	CHECK(dp.global_counters().drops == 0); // not a global drop
	// From the fabric: bridged only, never mirrored.
	out = dp.simulate(frame, 40);
	REQUIRE(out.size() == 1);
	CHECK(out[0].kind == Output::Kind::Original);
	CHECK(out[0].ifindex == 13);
	// Known unicast: forwarded to the destination's port only (with h1
	// forwarding too, an unknown destination floods to both).
	dp.set_forwarding(11, true);
	out = dp.simulate(frame, 40);
	std::sort(out.begin(), out.end());
	REQUIRE(out.size() == 2);
	CHECK(out[0].ifindex == 11);
	CHECK(out[1].ifindex == 13);
	MacEvent ev;
	ev.mac = *parse_mac("02:00:00:00:00:03");
	ev.ifindex = 13;
	ev.vni = 100;
	dp.inject_mac_event(ev);
	out = dp.simulate(frame, 40);
	REQUIRE(out.size() == 1);
	CHECK(out[0].ifindex == 13);
}

TEST_CASE("local MACs: kept after ageing on a server's port only")
{
	MemoryDataplane dp;
	dp.add_port(11, "h1", 100);
	dp.add_port(13, "h3", 100);
	dp.add_port(14, "srv", 100);
	dp.set_forwarding(13, true);
	dp.set_forwarding(14, true);
	REQUIRE_FALSE(dp.install(mac_entry(EntryKind::MirrorSource, "02:00:00:00:00:01", 7, 14)));
	auto to = [&](const char *mac) {
		return table::build_frame({"02:00:00:00:00:01", mac, "10.1.0.1", "10.1.0.9", 0, 32});
	};
	auto at_port = [](const std::vector<Output> &v, std::uint32_t port) {
		return std::count_if(v.begin(), v.end(), [&](const Output &o) {
			return o.kind == Output::Kind::Original && o.ifindex == port;
		});
	};
	MacEvent ev;
	ev.vni = 100;
	// A MAC on a non-server port that ages out is forgotten: a flooded
	// frame to it is not the server's (dropped at srv, sent to h3).
	ev.mac = *parse_mac("02:00:00:00:00:33");
	ev.ifindex = 14; // first seen behind srv...
	dp.inject_mac_event(ev);
	ev.ifindex = 13; // ...then moved to h3 and aged out there
	dp.inject_mac_event(ev);
	ev.kind = MacEvent::Kind::Removed;
	dp.inject_mac_event(ev);
	auto out = dp.simulate(to("02:00:00:00:00:33"), 11);
	CHECK(at_port(out, 14) == 0);
	CHECK(at_port(out, 13) == 1);
	// The server's own MAC ages out on its port: still recognised.
	ev.mac = *parse_mac("02:00:00:00:00:0a");
	ev.ifindex = 14;
	ev.kind = MacEvent::Kind::Learned;
	dp.inject_mac_event(ev);
	ev.kind = MacEvent::Kind::Removed;
	dp.inject_mac_event(ev);
	out = dp.simulate(to("02:00:00:00:00:0a"), 11);
	CHECK(at_port(out, 14) == 1);
}
