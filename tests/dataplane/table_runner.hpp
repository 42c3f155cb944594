// Runs the semantic table against one backend through a Harness.
#pragma once

#include "semantic_table.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <span>

namespace evpnmon::dp::table {

struct Harness {
	virtual ~Harness() = default;
	virtual Dataplane &dataplane() = 0;
	virtual std::uint32_t ifindex(const std::string &port) = 0;
	// Inject one frame at `ingress` and return every copy/delivery seen.
	virtual std::vector<Output> send(std::span<const std::uint8_t> frame,
					 const std::string &ingress,
					 const std::optional<TunnelMeta> &tunnel) = 0;
	// Before/after the frame (entries are installed): the case's
	// forwarding ports and FDB MACs; finish undoes what prepare did.
	virtual void prepare(const Case &) {}
	virtual void finish(const Case &) {}
	// The case's entries (and the removal of the last case's) in one
	// batch, as the consumer's pass applies them (Dataplane::begin_batch).
	bool batched = false;
};

// A port capture sees an original and a copy alike (same bytes).
inline void originals_as_copies(std::vector<Output> &v, const std::string &ingress)
{
	for (auto &o : v)
		if (o.kind == Output::Kind::Original)
			o.kind = ingress == "mirror" ? Output::Kind::Deliver
						     : Output::Kind::LocalCopy;
}

inline Output expected_output(Harness &h, const OutSpec &o,
			      const std::vector<std::uint8_t> &frame)
{
	Output out;
	out.kind = o.kind;
	out.frame = frame;
	if (o.kind == Output::Kind::VxlanCopy) {
		auto ip = parse_ip(o.vtep);
		std::copy_n(ip->bytes.begin(), 4, out.remote_vtep.begin());
		out.vni = o.vni;
		out.host_id = o.host_id;
	} else {
		out.ifindex = h.ifindex(o.port);
	}
	return out;
}

inline std::string describe(const std::vector<Output> &v)
{
	std::string s = "[";
	for (const auto &o : v)
		s += " " + to_string(o) + ";";
	return s + " ]";
}

// Dataplane::visit_entries(): read in parts of any size, each from where
// the last stopped, the entries are list()'s, in its order; from a key no
// entry has, the reading starts at the first entry after it.
inline void check_visits_in_parts(const Dataplane &dp)
{
	const auto all = dp.list();
	for (std::size_t limit = 1; limit <= 3; ++limit) {
		CAPTURE(limit);
		std::vector<Entry> read;
		std::optional<EntryKey> from;
		int parts = 0;
		do {
			std::size_t n = 0;
			from = dp.visit_entries(from, limit,
						[&](const EntryKey &k, const Action &a,
						    const session::Options &o) {
							read.push_back(Entry{k, a, o});
							++n;
						});
			CHECK(n <= limit);
			if (from)
				CHECK(n == limit);
		} while (from && ++parts < 1000);
		CHECK(read == all);
	}
	if (all.empty())
		return;
	// The least key after the first entry's: the second entry is next.
	auto after_first = all.front().key;
	after_first.session.push_back('\0');
	std::vector<EntryKey> read;
	const auto next = dp.visit_entries(after_first, 1,
					   [&](const EntryKey &k, const Action &, const session::Options &) {
						   read.push_back(k);
					   });
	if (all.size() == 1) {
		CHECK(read.empty());
		CHECK(!next);
	} else {
		REQUIRE(read.size() == 1);
		CHECK(read[0] == all[1].key);
		CHECK(next == (all.size() > 2 ? std::optional(all[2].key) : std::nullopt));
	}
	// Nothing from a key after the last.
	auto after_last = all.back().key;
	after_last.session.push_back('\0');
	CHECK(!dp.visit_entries(after_last, 1, [](const EntryKey &, const Action &,
						   const session::Options &) { FAIL("visited"); }));
}

inline void run_case(Harness &h, const Case &c)
{
	auto &dp = h.dataplane();
	if (h.batched)
		dp.begin_batch();
	for (const auto &e : dp.list())
		REQUIRE_FALSE(dp.remove(e.key));
	REQUIRE(dp.list().empty());
	auto g0 = dp.global_counters();
	if (h.batched) { // a removed entry names its server until the flush
		REQUIRE_FALSE(dp.flush());
		dp.begin_batch();
	}
	auto port_of = [&](const std::string &p) { return h.ifindex(p); };
	for (const auto &[k, _] : dp.servers())
		REQUIRE_FALSE(dp.remove_server(k));
	std::vector<std::pair<ServerKey, Action>> servers;
	for (const auto &spec : c.servers) {
		servers.push_back(make_server(spec, port_of));
		REQUIRE_FALSE(dp.set_server(servers.back().first, servers.back().second));
	}
	std::sort(servers.begin(), servers.end());
	CHECK(dp.servers() == servers);

	std::vector<Entry> installed;
	for (const auto &spec : c.entries) {
		auto e = make_entry(spec, [&](const std::string &p) { return h.ifindex(p); });
		REQUIRE_FALSE(dp.install(e));
		installed.push_back(e);
	}
	if (h.batched)
		REQUIRE_FALSE(dp.flush());
	auto listed = dp.list();
	auto want = installed;
	std::sort(want.begin(), want.end());
	std::sort(listed.begin(), listed.end());
	CHECK(listed == want);
	check_visits_in_parts(dp);

	for (const auto &[vni, ip] : dp.decap_sources())
		REQUIRE_FALSE(dp.remove_decap_source(vni, ip));
	std::vector<std::pair<std::uint32_t, IpAddr>> sources;
	for (const auto &[vni, ip] : c.decap_sources) {
		sources.emplace_back(vni, *parse_ip(ip));
		REQUIRE_FALSE(dp.add_decap_source(vni, sources.back().second));
	}
	std::sort(sources.begin(), sources.end());
	CHECK(dp.decap_sources() == sources);
	const auto dd0 = dp.decap_drops();

	h.prepare(c);
	const auto d0 = dp.dropped_originals();
	auto frame = build_frame(c.frame);
	auto got = h.send(frame, c.ingress, c.tunnel);
	h.finish(c);
	std::vector<Output> exp;
	for (const auto &o : c.expected)
		exp.push_back(expected_output(h, o, frame));
	originals_as_copies(got, c.ingress);
	originals_as_copies(exp, c.ingress);
	std::sort(got.begin(), got.end());
	std::sort(exp.begin(), exp.end());
	INFO("got " << describe(got) << " expected " << describe(exp));
	CHECK(got == exp);

	for (const auto &cs : c.counters) {
		auto cnt = dp.counters(installed.at(cs.entry).key);
		REQUIRE(cnt);
		INFO("entry #" << cs.entry);
		CHECK(cnt->packets == cs.packets);
		CHECK(cnt->drops == cs.drops);
		if (cs.packets)
			CHECK(cnt->bytes == cs.packets * frame.size());
	}
	if (c.global_drops)
		CHECK(dp.global_counters().drops - g0.drops == *c.global_drops);
	if (c.decap_drops) {
		const auto dd = dp.decap_drops();
		CHECK(dd.no_tunnel_metadata - dd0.no_tunnel_metadata ==
		      c.decap_drops->no_tunnel_metadata);
		CHECK(dd.unknown_source - dd0.unknown_source == c.decap_drops->unknown_source);
		CHECK(dd.unknown_host_id - dd0.unknown_host_id == c.decap_drops->unknown_host_id);
	}
	if (c.dropped_originals) {
		const auto d = dp.dropped_originals();
		CHECK(d.drops - d0.drops == *c.dropped_originals);
		CHECK(d.packets - d0.packets == *c.dropped_originals);
	}
}

inline void run_table(Harness &h)
{
	for (const auto &c : cases()) {
		INFO("case: " << c.name);
		run_case(h, c);
	}
}

} // namespace evpnmon::dp::table
