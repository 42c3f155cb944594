// fpm-consumer benchmarks (results: docs/benchmarks.md, "## fpm-consumer").
//  1. FPM decode throughput on one core: our libmnl decoder vs a plain
//     libnl-based decoder (rtnl_neigh_parse / rtnl_route_parse) of the same
//     capture, in the same run.
//  2. Time to reconcile one MAC move with 10,000 sessions installed
//     (level-triggered decide + diff), against reprogramming every entry.
//  3. Memory per session (heap growth of the engine, and with the in-memory
//     dataplane).
// No timed assertions: it prints numbers and ratios.
//   bench_fpm_consumer [--update-doc docs/benchmarks.md] [--quick]
#include "core/engine.hpp"
#include "core/heap.hpp"
#include "core/session_route.hpp"
#include "fpm/fpm_framer.hpp"
#include "fpm/netlink_decoder.hpp"

#include <evpnmon/dataplane/memory.hpp>

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <malloc.h>
#include <netlink/msg.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <sys/utsname.h>

#include <algorithm>
#include <numeric>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace evpnmon;
using namespace evpnmon::consumer;
using Clock = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------- capture
std::vector<std::uint8_t> nl_neigh(bool add, std::uint32_t ifindex, const Mac &mac, Ipv4 dst)
{
	std::vector<std::uint8_t> buf(256, 0);
	auto *nlh = mnl_nlmsg_put_header(buf.data());
	nlh->nlmsg_type = add ? RTM_NEWNEIGH : RTM_DELNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	auto *nd = static_cast<ndmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
	nd->ndm_family = AF_BRIDGE;
	nd->ndm_ifindex = static_cast<int>(ifindex);
	nd->ndm_state = NUD_NOARP;
	nd->ndm_flags = NTF_SELF | NTF_MASTER | NTF_EXT_LEARNED;
	mnl_attr_put_u8(nlh, NDA_PROTOCOL, 11);
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac.data());
	mnl_attr_put(nlh, NDA_DST, 4, dst.data());
	mnl_attr_put_u32(nlh, NDA_MASTER, 2);
	buf.resize(nlh->nlmsg_len);
	return buf;
}

std::vector<std::uint8_t> nl_route(Ipv4 dst, std::uint32_t nh_id)
{
	std::vector<std::uint8_t> buf(256, 0);
	auto *nlh = mnl_nlmsg_put_header(buf.data());
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	auto *rt = static_cast<rtmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = 32;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = 186;
	rt->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, 4, dst.data());
	mnl_attr_put_u32(nlh, RTA_PRIORITY, 20);
	mnl_attr_put_u32(nlh, RTA_NH_ID, nh_id);
	mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
	buf.resize(nlh->nlmsg_len);
	return buf;
}

// FPM stream like zebra's under MAC churn: one message per frame, 90 %
// remote MAC add/delete, 10 % routes.
std::vector<std::uint8_t> make_capture(std::size_t messages)
{
	std::mt19937 rng(42);
	std::vector<std::uint8_t> s;
	for (std::size_t i = 0; i < messages; ++i) {
		std::vector<std::uint8_t> m;
		if (i % 10 == 9) {
			m = nl_route({10, 0, static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())},
				     rng() % 64);
		} else {
			Mac mac{2, 0, static_cast<std::uint8_t>(i >> 24), static_cast<std::uint8_t>(i >> 16),
				static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
			m = nl_neigh(rng() % 4 != 0, 3, mac, {10, 0, 0, static_cast<std::uint8_t>(1 + rng() % 200)});
		}
		const std::size_t len = m.size() + 4;
		s.push_back(1);
		s.push_back(1);
		s.push_back(static_cast<std::uint8_t>(len >> 8));
		s.push_back(static_cast<std::uint8_t>(len));
		s.insert(s.end(), m.begin(), m.end());
	}
	return s;
}

// ------------------------------------------------------------- decoders
struct CountSink : fpm::UpdateSink {
	std::uint64_t sum = 0;
	void on_neigh(const NeighUpdate &u) override { sum += u.ifindex + (u.dst ? (*u.dst)[3] : 0); }
	void on_route(const RouteUpdate &u) override { sum += u.dst_len; }
	void on_nexthop(const NexthopUpdate &u) override { sum += u.id; }
};

std::uint64_t decode_ours(const std::vector<std::uint8_t> &cap, std::size_t &msgs)
{
	fpm::Framer framer;
	CountSink sink;
	fpm::DecodeCounters c;
	// zebra's writes arrive in socket-sized pieces
	for (std::size_t off = 0; off < cap.size(); off += 65536) {
		framer.feed({cap.data() + off, std::min<std::size_t>(65536, cap.size() - off)});
		fpm::Frame f;
		while (framer.next(f) == fpm::Framer::Status::Frame)
			fpm::decode_netlink(f.payload, sink, c);
	}
	msgs = c.messages;
	return sink.sum;
}

// The "plain libnl" way: same framing, then libnl-route's object parsers.
std::uint64_t decode_libnl(const std::vector<std::uint8_t> &cap, std::size_t &msgs)
{
	std::uint64_t sum = 0;
	msgs = 0;
	std::vector<std::uint8_t> aligned;
	for (std::size_t off = 0; off + 4 <= cap.size();) {
		const std::size_t len = (std::size_t{cap[off + 2]} << 8) | cap[off + 3];
		aligned.assign(cap.begin() + static_cast<std::ptrdiff_t>(off + 4),
			       cap.begin() + static_cast<std::ptrdiff_t>(off + len));
		int left = static_cast<int>(aligned.size());
		for (auto *nlh = reinterpret_cast<nlmsghdr *>(aligned.data()); nlmsg_ok(nlh, left);
		     nlh = nlmsg_next(nlh, &left)) {
			++msgs;
			if (nlh->nlmsg_type == RTM_NEWNEIGH || nlh->nlmsg_type == RTM_DELNEIGH) {
				rtnl_neigh *n = nullptr;
				if (rtnl_neigh_parse(nlh, &n) == 0 && n) {
					sum += static_cast<std::uint64_t>(rtnl_neigh_get_ifindex(n));
					if (nl_addr *dst = rtnl_neigh_get_dst(n))
						sum += static_cast<const std::uint8_t *>(nl_addr_get_binary_addr(dst))[3];
					rtnl_neigh_put(n);
				}
			} else if (nlh->nlmsg_type == RTM_NEWROUTE || nlh->nlmsg_type == RTM_DELROUTE) {
				rtnl_route *r = nullptr;
				if (rtnl_route_parse(nlh, &r) == 0 && r) {
					sum += nl_addr_get_prefixlen(rtnl_route_get_dst(r));
					rtnl_route_put(r);
				}
			}
		}
		off += len;
	}
	return sum;
}

template <typename F> double best_seconds(int reps, F &&fn)
{
	double best = 1e9;
	for (int i = 0; i < reps; ++i) {
		const auto t0 = Clock::now();
		fn();
		best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
	}
	return best;
}

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	return v[v.size() / 2];
}

std::size_t heap_used()
{
	return mallinfo2().uordblks;
}

Mac host_mac(std::uint32_t i)
{
	return {2, 1, static_cast<std::uint8_t>(i >> 24), static_cast<std::uint8_t>(i >> 16),
		static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
}

const Mac kServer{2, 0, 0, 0, 0, 0x21};
constexpr std::uint32_t kVni = 100;
const Ipv4 kServerVtep{10, 0, 0, 2}, kOtherVtep{10, 0, 0, 3};

EngineConfig engine_config()
{
	EngineConfig cfg;
	cfg.decision.local_vnis = {kVni};
	cfg.vxlan_ifindex_to_vni = {{3, kVni}};
	return cfg;
}

Mac server_mac(std::uint32_t j)
{
	return {2, 2, 0, static_cast<std::uint8_t>(j >> 16), static_cast<std::uint8_t>(j >> 8),
		static_cast<std::uint8_t>(j)};
}

NeighUpdate remote_mac(const Mac &mac, Ipv4 vtep)
{
	NeighUpdate u;
	u.ifindex = 3;
	u.mac = mac;
	u.dst = vtep;
	return u;
}

constexpr std::uint32_t kSessionsPerServer = 10;

// A usable /32 route to a VTEP (the decision's reachability check).
void add_vtep_route(Engine &e, Ipv4 vtep)
{
	RouteUpdate r;
	r.dst = vtep;
	r.dst_len = 32;
	r.table = 254;
	r.type = RTN_UNICAST;
	e.route(r);
}

// n sessions, hosts alternately local and remote; a server per 10 sessions
// (HOST ID = server number + 1), every server behind kServerVtep.
void populate(Engine &e, std::uint32_t n)
{
	add_vtep_route(e, kServerVtep);
	add_vtep_route(e, kOtherVtep);
	for (std::uint32_t j = 0; j < (n + kSessionsPerServer - 1) / kSessionsPerServer; ++j)
		e.neigh(MacSource::Fpm, remote_mac(server_mac(j), kServerVtep));
	for (std::uint32_t i = 0; i < n; ++i) {
		const Mac m = host_mac(i);
		if (i % 2)
			e.local_mac({dp::MacEvent::Kind::Learned, m, 10 + i % 32, kVni, 0});
		else
			e.neigh(MacSource::Fpm, remote_mac(m, kOtherVtep));
		Session s;
		s.key.vni = kVni;
		s.key.host_mac = m;
		const std::uint32_t server = i / kSessionsPerServer;
		s.key.host_id = static_cast<std::uint16_t>(1 + server);
		s.server_mac = server_mac(server);
		s.id = make_session_id(s.key); // as the feed gives it
		e.upsert_session(s);
	}
	for (auto g : {Gate::Feed, Gate::LocalMacs, Gate::Fpm})
		e.open_gate(g);
}

// One size: the incremental cases against a full pass at the same size.
struct ScaleRow {
	std::uint32_t sessions = 0;
	std::size_t entries = 0;
	double host_move_ms = 0, server_move_ms = 0, unrelated_ms = 0, idle_ms = 0, full_ms = 0;
	double forced_ms = 0, decide_ms = 0;
	// The audit's steps, as the daemon runs them (Engine::ask_reread(),
	// ask_check(), ask_repair()): each in parts, a reconcile each; their
	// sums and longest parts, and one audit's parts.
	double reread_ms = 0, check_ms = 0, repair_ms = 0;
	double reread_part_ms = 0, check_part_ms = 0, repair_part_ms = 0;
	std::vector<double> reread_parts, check_parts, repair_parts;
	// 1,000 server moves per second of simulated time
	double churn_p50_ms = 0, churn_p99_ms = 0, churn_cpu = 0;
	// The same moves in the daemon's loop (loop_latencies): without an
	// audit; with the audit in one hold, spaced by --audit-max-load 0.5
	// (their interval in s); with the audit in steps, every 60 s and
	// spaced. p99, the share of events over 5 ms, the longest.
	double loop_p99_ms = 0;
	struct Waits {
		double p99_ms = 0, over5 = 0, max_ms = 0;
	};
	Waits whole, every, spaced;
	double audit_gap_s = 0;
	double engine_bytes = 0;
};

// A part of an audit: from `at_ms`, the next pass also holds the loop for
// `ms`.
struct Hold {
	double at_ms, ms;
};

// Latencies (ms) of events that arrive every 1 ms at the daemon's loop,
// over `interval_ms` that begins with an audit: its holds, in time order.
// The loop reconciles what has arrived in one pass, and its pacer lets the
// next pass start only clamp(4 d, 1 ms, 50 ms) after a pass of d ends
// (ReconcilePacer); a pass runs at most one hold, and its events wait for
// it. With `hold_paced`, the hold counts in d, as any pass's work; without,
// the pass with a hold and the next one, whose events piled up behind it,
// impose the least gap (ReconcilePacer::ran_audit_step()). A pass costs
// the sum of its events' measured times, `service` cycled: more than the
// daemon's batched pass, so the waits behind a hold are overstated.
std::vector<double> loop_latencies(const std::vector<double> &service,
				   const std::vector<Hold> &holds, double interval_ms,
				   bool hold_paced)
{
	const auto pacer_gap = [](double d) { return std::clamp(4 * d, 1.0, 50.0); };
	std::vector<double> out;
	const auto n = static_cast<std::size_t>(interval_ms);
	out.reserve(n);
	double next_start = 0;
	std::size_t k = 0, h = 0;
	bool after_hold = false;
	while (k < n) {
		double first = static_cast<double>(k); // the next event, or the next hold
		if (h < holds.size())
			first = std::min(first, holds[h].at_ms);
		const double start = std::max(next_start, first);
		std::size_t end = k;
		double pass = 0;
		while (end < n && static_cast<double>(end) <= start)
			pass += service[end++ % service.size()];
		double hold = 0;
		if (h < holds.size() && holds[h].at_ms <= start)
			hold = holds[h++].ms;
		const double done = start + pass + hold;
		for (; k < end; ++k)
			out.push_back(done - static_cast<double>(k));
		const bool least = !hold_paced && (hold > 0 || after_hold);
		next_start = done + (least ? 1.0 : pacer_gap(hold_paced ? pass + hold : pass));
		after_hold = hold > 0;
	}
	return out;
}

double share_over(const std::vector<double> &v, double limit)
{
	return static_cast<double>(std::count_if(v.begin(), v.end(), [&](double x) { return x > limit; })) /
	       static_cast<double>(v.size());
}

double percentile(std::vector<double> v, double p)
{
	std::sort(v.begin(), v.end());
	return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

ScaleRow measure_scale(std::uint32_t n, bool quick)
{
	ScaleRow row;
	row.sessions = n;
	dp::MemoryDataplane dataplane;
	const std::size_t before = heap_used();
	auto e = std::make_unique<Engine>(dataplane, engine_config());
	populate(*e, n);
	e->reconcile();
	row.engine_bytes = static_cast<double>(heap_used() - before) / n;
	row.entries = dataplane.list().size();
	const std::uint32_t servers = (n + kSessionsPerServer - 1) / kSessionsPerServer;
	std::mt19937 rng(7);
	auto timed = [&](auto &&event) {
		const auto t0 = Clock::now();
		event();
		e->reconcile();
		return std::chrono::duration<double>(Clock::now() - t0).count() * 1e3;
	};
	std::vector<double> host, server, unrelated, idle, full, forced, decide_only;
	std::vector<double> reread, check, repair, reread_part, check_part, repair_part;
	// A step in parts: the reconciles until it is over.
	auto timed_parts = [&](auto &&ask, std::vector<double> &sums, std::vector<double> &longest,
			       std::vector<double> &parts) {
		ask();
		parts.clear();
		do {
			const auto t0 = Clock::now();
			e->reconcile();
			parts.push_back(std::chrono::duration<double>(Clock::now() - t0).count() * 1e3);
		} while (e->audit_step_waiting());
		sums.push_back(std::accumulate(parts.begin(), parts.end(), 0.0));
		longest.push_back(*std::max_element(parts.begin(), parts.end()));
	};
	const int reps = quick ? 20 : 100;
	for (int i = 0; i < reps; ++i) {
		// A monitored host moves to another VTEP (no entry depends on it).
		const Mac h = host_mac(rng() % n);
		host.push_back(timed([&] { e->neigh(MacSource::Fpm, remote_mac(h, kServerVtep)); }));
		host.push_back(timed([&] { e->neigh(MacSource::Fpm, remote_mac(h, kOtherVtep)); }));
		// A server moves: its target changes, its 10 sessions' 20 entries stay.
		const Mac sv = server_mac(static_cast<std::uint32_t>(rng() % servers));
		server.push_back(timed([&] { e->neigh(MacSource::Fpm, remote_mac(sv, kOtherVtep)); }));
		server.push_back(timed([&] { e->neigh(MacSource::Fpm, remote_mac(sv, kServerVtep)); }));
		// A MAC no session names.
		const Mac other{2, 3, 0, 0, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
		unrelated.push_back(timed([&] { e->neigh(MacSource::Fpm, remote_mac(other, kOtherVtep)); }));
		idle.push_back(timed([] {}));
		if (i % (reps / 10) == 0) { // the audit's full pass (decide all + check + whole diff)
			full.push_back(timed([&] { e->audit(); }));
			timed_parts([&] { e->ask_reread(); }, reread, reread_part, row.reread_parts);
			timed_parts([&] { e->ask_check(); }, check, check_part, row.check_parts);
			timed_parts([&] { e->ask_repair(); }, repair, repair_part, row.repair_parts);
			forced.push_back(timed([&] { e->reconcile(true); }));
			decide_only.push_back(timed([&] {
				(void)decide(e->sessions(), e->macs(), e->routes(), e->config().decision, false);
			}));
			// This baseline's garbage is the benchmark's, not the engine's
			// (the engine sorts its check's: core/heap.hpp).
			sort_freed_chunks();
		}
	}
	row.host_move_ms = median(host);
	row.server_move_ms = median(server);
	row.unrelated_ms = median(unrelated);
	row.idle_ms = median(idle);
	row.full_ms = median(full);
	row.forced_ms = median(forced);
	row.decide_ms = median(decide_only);
	row.reread_ms = median(reread);
	row.check_ms = median(check);
	row.repair_ms = median(repair);
	row.reread_part_ms = median(reread_part);
	row.check_part_ms = median(check_part);
	row.repair_part_ms = median(repair_part);
	// 1,000 server moves in one second, each reconciled when it arrives
	// (events are 1 ms apart; a reconcile of a few tens of microseconds
	// never overlaps the next, so latency = event handling + reconcile).
	std::vector<double> lat;
	double busy = 0;
	// Where each server is now (every one starts behind kServerVtep): each
	// event really moves its server.
	std::vector<bool> moved(servers, false);
	for (int i = 0; i < 1000; ++i) {
		const auto j = static_cast<std::uint32_t>(rng() % servers);
		const Mac sv = server_mac(j);
		moved[j] = !moved[j];
		const Ipv4 to = moved[j] ? kOtherVtep : kServerVtep;
		lat.push_back(timed([&] { e->neigh(MacSource::Fpm, remote_mac(sv, to)); }));
		busy += lat.back();
	}
	row.churn_p50_ms = percentile(lat, 0.5);
	row.churn_p99_ms = percentile(lat, 0.99);
	row.churn_cpu = busy / 1000.0; // ms busy per 1000 ms: a fraction of one core
	// With the audits: every 60 s (the interval alone), and spaced so that
	// they take at most 0.5 % of the time (the daemon's --audit-max-load).
	const double audit_ms = row.reread_ms + row.check_ms + row.repair_ms;
	row.audit_gap_s = std::max(60.0, audit_ms * (100.0 / 0.5) / 1e3);
	row.loop_p99_ms = percentile(loop_latencies(lat, {}, 60e3, false), 0.99);
	const auto waits = [&](const std::vector<Hold> &holds, double interval_ms, bool paced) {
		const auto v = loop_latencies(lat, holds, interval_ms, paced);
		return ScaleRow::Waits{percentile(v, 0.99), share_over(v, 5.0),
				       *std::max_element(v.begin(), v.end())};
	};
	// In steps: the daemon runs one per tick (250 ms) when nothing waits,
	// and at most step_patience (1 s) after the last when its loop is busy,
	// as under these moves: 1 s apart here; a step in parts, each part in
	// the pass after the last (the last audit's parts).
	std::vector<Hold> steps;
	for (const auto &[at, parts] : {std::pair{0.0, &row.reread_parts}, {1e3, &row.check_parts},
					{2e3, &row.repair_parts}})
		for (double t = at; const double ms : *parts) {
			steps.push_back({t, ms});
			t += ms + 1.0;
		}
	row.whole = waits({{0, row.full_ms}}, row.audit_gap_s * 1e3, true);
	row.every = waits(steps, 60e3, false);
	row.spaced = waits(steps, row.audit_gap_s * 1e3, false);

	if (e->counters().full_pass_differences != 0)
		std::cerr << "warning: the full pass found differences\n";
	return row;
}

// One local server watching n hosts (one entry 3 shared by n sessions).
struct LocalServerRow {
	double port_ms = 0; // to another port: its target and entry 3
	double away_ms = 0; // to a remote VTEP and back (its entry 3 goes and comes, each way)
	// Leaves this VTEP with its port (unknown here), then its remote MAC
	// arrives: what the leaf a server leaves does on every move.
	double leave_ms = 0, arrive_ms = 0;
	double full_ms = 0; // decide() over all sessions, the same run
	std::uint64_t port_plans = 0, away_plans = 0; // sessions planned per move
	std::uint64_t leave_plans = 0, arrive_plans = 0;
	std::uint64_t leave_changes = 0; // entries installed + removed + replaced, both steps
};
LocalServerRow measure_local_server(std::uint32_t n)
{
	dp::MemoryDataplane dataplane;
	std::set<std::uint32_t> gone_ports;
	auto cfg = engine_config();
	cfg.port_exists = [&](std::uint32_t ifindex) { return !gone_ports.contains(ifindex); };
	Engine e(dataplane, cfg);
	add_vtep_route(e, kServerVtep);
	const Mac server = server_mac(0);
	e.local_mac({dp::MacEvent::Kind::Learned, server, 5, kVni, 0});
	for (std::uint32_t i = 0; i < n; ++i) {
		Session s;
		s.key.vni = kVni;
		s.key.host_mac = host_mac(i);
		s.key.host_id = 1;
		s.server_mac = server;
		s.id = make_session_id(s.key);
		e.upsert_session(s);
	}
	for (auto g : {Gate::Feed, Gate::LocalMacs, Gate::Fpm})
		e.open_gate(g);
	e.reconcile();
	std::vector<double> port, away, leave, arrive, full;
	LocalServerRow row;
	auto timed = [&](auto &&event, std::vector<double> &into, std::uint64_t &plans) {
		const auto p0 = e.plans();
		const auto t0 = Clock::now();
		event();
		const auto st = e.reconcile();
		into.push_back(std::chrono::duration<double>(Clock::now() - t0).count() * 1e3);
		plans = e.plans() - p0;
		return st ? st->installed + st->removed + st->replaced : 0;
	};
	// Leaves with its port: its MAC goes and its port with it (the kept
	// location is dropped: unknown here); then zebra installs its remote
	// MAC; then it comes back to port 5 (its FPM record withdrawn).
	for (int i = 0; i < 6; ++i) {
		gone_ports.insert(5);
		row.leave_changes = timed(
		    [&] { e.local_mac({dp::MacEvent::Kind::Removed, server, 5, kVni, 0}); }, leave,
		    row.leave_plans);
		row.leave_changes += timed([&] { e.neigh(MacSource::Fpm, remote_mac(server, kServerVtep)); },
					   arrive, row.arrive_plans);
		gone_ports.erase(5);
		e.local_mac({dp::MacEvent::Kind::Learned, server, 5, kVni, 0});
		auto del = remote_mac(server, kServerVtep);
		del.add = false;
		e.neigh(MacSource::Fpm, del);
		e.reconcile();
		sort_freed_chunks();
	}
	for (int i = 0; i < 6; ++i) {
		const auto to = static_cast<std::uint32_t>(6 + i % 2);
		timed([&] { e.local_mac({dp::MacEvent::Kind::Learned, server, to, kVni, 0}); }, port,
		      row.port_plans);
		timed([&] { e.neigh(MacSource::Fpm, remote_mac(server, kServerVtep)); }, away,
		      row.away_plans);
		timed([&] { e.local_mac({dp::MacEvent::Kind::Learned, server, 5, kVni, 0}); }, away,
		      row.away_plans);
		const auto t1 = Clock::now();
		(void)decide(e.sessions(), e.macs(), e.routes(), e.config().decision, false);
		full.push_back(std::chrono::duration<double>(Clock::now() - t1).count() * 1e3);
		sort_freed_chunks();
	}
	if (e.counters().full_pass_differences != 0 || dataplane.list().size() != 2 * n + 1)
		std::cerr << "warning: the local server's entries are not right\n";
	row.port_ms = median(port);
	row.away_ms = median(away);
	row.leave_ms = median(leave);
	row.arrive_ms = median(arrive);
	row.full_ms = median(full);
	return row;
}

struct Results {
	std::size_t cap_msgs = 0, cap_bytes = 0;
	double ours_s = 0, libnl_s = 0;
	std::uint32_t sessions = 0;
	std::size_t entries = 0;
	double move_ms = 0, full_ms = 0, idle_ms = 0;
	double engine_bytes = 0, with_dp_bytes = 0;
};

} // namespace

int main(int argc, char **argv)
{
	std::string doc;
	bool quick = false;
	for (int i = 1; i < argc; ++i) {
		const std::string a = argv[i];
		if (a == "--update-doc" && i + 1 < argc)
			doc = argv[++i];
		else if (a == "--quick")
			quick = true;
	}
	Results r;

	// 1. decode throughput
	const auto cap = make_capture(quick ? 20000 : 200000);
	r.cap_bytes = cap.size();
	std::size_t m1 = 0, m2 = 0;
	std::uint64_t s1 = 0, s2 = 0;
	const int reps = quick ? 2 : 5;
	// interleave to share the noise of a shared machine
	std::vector<double> ours, libnl;
	for (int i = 0; i < reps; ++i) {
		ours.push_back(best_seconds(1, [&] { s1 = decode_ours(cap, m1); }));
		libnl.push_back(best_seconds(1, [&] { s2 = decode_libnl(cap, m2); }));
	}
	r.cap_msgs = m1;
	r.ours_s = median(ours);
	r.libnl_s = median(libnl);
	if (s1 != s2 || m1 != m2)
		std::cerr << "warning: decoders disagree (" << s1 << " vs " << s2 << ")\n";

	// 2. reconcile at 1k, 10k and 100k sessions
	r.sessions = 10000;
	std::vector<ScaleRow> rows;
	for (std::uint32_t n : {1000u, 10000u, 100000u})
		if (!quick || n <= 10000)
			rows.push_back(measure_scale(n, quick));

	std::vector<std::pair<std::uint32_t, LocalServerRow>> local_rows;
	for (std::uint32_t n : {1000u, 10000u, 100000u})
		if (!quick || n <= 10000)
			local_rows.emplace_back(n, measure_local_server(n));

	// 3. memory per session
	{
		const std::size_t base = heap_used();
		auto dataplane = std::make_unique<dp::MemoryDataplane>();
		const std::size_t after_dp = heap_used();
		auto e = std::make_unique<Engine>(*dataplane, engine_config());
		const std::size_t before = heap_used();
		populate(*e, r.sessions);
		e->reconcile();
		const std::size_t after = heap_used();
		(void)base;
		(void)after_dp;
		// engine share: everything but the dataplane's own tables
		const std::size_t dp_only = [&] {
			std::size_t h0 = heap_used();
			dp::MemoryDataplane probe;
			for (const auto &[k, target] : dataplane->servers())
				probe.set_server(k, target);
			for (const auto &en : dataplane->list())
				probe.install(en);
			return heap_used() - h0;
		}();
		r.with_dp_bytes = static_cast<double>(after - before) / r.sessions;
		r.engine_bytes = static_cast<double>(after - before - std::min(dp_only, after - before)) / r.sessions;
	}

	// report
	std::ostringstream md;
	const auto waits = [](const ScaleRow::Waits &w) {
		std::ostringstream o;
		o << std::fixed << std::setprecision(4) << w.p99_ms << " ms / " << std::setprecision(2)
		  << w.over5 * 100.0 << " % / " << std::setprecision(1) << w.max_ms << " ms";
		return o.str();
	};
	utsname u{};
	uname(&u);
	const double ours_mps = r.cap_msgs / r.ours_s / 1e6, libnl_mps = r.cap_msgs / r.libnl_s / 1e6;
	md << std::fixed << std::setprecision(2);
	md << "## fpm-consumer\n\n"
	   << "Generated by `bench_fpm_consumer --update-doc docs/benchmarks.md` (build target in\n"
	   << "bench/fpm-consumer) on " << u.release << ", " << u.machine
	   << ", 2 CPUs shared with other builds: compare the ratios, measured in the same run.\n\n"
	   << "### FPM decode throughput (one core)\n\n"
	   << "Capture: " << r.cap_msgs << " netlink messages in FPM frames (" << r.cap_bytes / 1024
	   << " KiB), like zebra under MAC churn: 90 % remote-MAC RTM_NEWNEIGH/RTM_DELNEIGH (AF_BRIDGE, "
	   << "NDA_LLADDR/NDA_DST/NDA_MASTER), 10 % RTM_NEWROUTE with RTA_NH_ID. Both decoders do the "
	   << "same FPM framing and extract the same fields; median of " << reps << " interleaved runs.\n\n"
	   << "| decoder | messages/s | MB/s | ratio |\n|---|---:|---:|---:|\n"
	   << "| fpm-consumer (libmnl, zero-copy attribute walk) | " << ours_mps << " M | "
	   << r.cap_bytes / r.ours_s / 1e6 << " | " << r.libnl_s / r.ours_s << " |\n"
	   << "| plain libnl (`rtnl_neigh_parse` / `rtnl_route_parse`) | " << libnl_mps << " M | "
	   << r.cap_bytes / r.libnl_s / 1e6 << " | 1.00 |\n\n"
	   << "### Reconcile: cost by change, at 1k, 10k and 100k sessions\n\n"
	   << "N sessions (one monitored host each, half local, half remote; one server per "
	   << kSessionsPerServer << " sessions, every server behind one remote VTEP) = 2N entries in the "
	   << "in-memory dataplane. Each figure is one input event handed to the engine plus the "
	   << "reconcile it causes (decide the sessions the event names, diff their entries, apply "
	   << "the difference to the in-memory dataplane), median of " << (quick ? 40 : 200)
	   << " events. Baseline, in the same run at the same N: decide() over every session, the "
	   << "least that every event cost before. Full pass: decide() + compare with the "
	   << "incremental state + diff every entry (`reconcile(true)`); audit: the same after "
	   << "re-reading every entry from the dataplane, every `--audit-interval` (60 s, "
	   << "or longer: `--audit-max-load`), in one go (`Engine::audit()`) and in the daemon's "
	   << "steps: re-read (`ask_reread()`), check (decide(), `ask_check()`), repair "
	   << "(compare + diff every entry, `ask_repair()`), each in parts of "
	   << "`--audit-part` (the re-read and the repair twice as many entries), a reconcile "
	   << "each: their sums, and in brackets their longest part. Excluded: FPM decoding "
	   << "(above), and the daemon's event loop except in the modelled columns below.\n\n"
	   << "| sessions | entries | host MAC move | server move (10 sessions: its target, no entry) | "
	      "unrelated MAC | nothing changed | baseline: decide() over all sessions | full pass | "
	      "audit in one go | audit steps: re-read / check / repair (their longest part) | server "
	      "move / decide() |\n"
	   << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
	for (const auto &row : rows)
		md << std::setprecision(1) << "| " << row.sessions << " | " << row.entries << " | "
		   << row.host_move_ms * 1e3 << " µs | " << row.server_move_ms * 1e3 << " µs | "
		   << row.unrelated_ms * 1e3 << " µs | " << row.idle_ms * 1e3 << " µs | "
		   << row.decide_ms << " ms | " << row.forced_ms << " ms | " << row.full_ms << " ms | "
		   << row.reread_ms << " (" << row.reread_part_ms << ") / " << row.check_ms << " ("
		   << row.check_part_ms << ") / "
		   << row.repair_ms << " (" << row.repair_part_ms << ") ms | "
		   << std::setprecision(4) << row.server_move_ms / row.decide_ms << " |\n";
	md << "\n1,000 server moves per second (a random server each, to its other VTEP), each "
	   << "reconciled as it arrives; latency = event to its target changed in the in-memory "
	   << "dataplane; CPU = the sum of those times over the simulated second. In the loop: "
	   << "those times as the cost of events that reach the daemon's loop every 1 ms, which "
	   << "reconciles what has arrived in one pass and whose pacer starts the next pass only "
	   << "clamp(4 d, 1, 50) ms after a pass of d (`ReconcilePacer`); a pass is charged the sum "
	   << "of its events' times, more than the daemon's batched pass, so the waits behind an "
	   << "audit are overstated. With audits: the interval begins with an audit (on the "
	   << "in-memory dataplane; the Linux one adds its FDB re-dump, a step of its own). In one "
	   << "hold: the loop held for the whole audit at once, paced as any pass. In "
	   << "steps: re-read, check and repair, each in the pass after its tick, 1 s apart (a step "
	   << "waits while events are pending, at most 1 s, and these never stop), each in parts "
	   << "of `--audit-part` (4,096 sessions; the re-read and the repair twice as many "
	   << "entries), each part in the pass after the last; a pass with a "
	   << "step and the pass after it impose the pacer's least gap, 1 ms (in one hold, the "
	   << "hold counted in the pass's length). Every 60 s: "
	   << "`--audit-interval` alone (`--audit-max-load 0`); spaced: the default "
	   << "`--audit-max-load 0.5`, audits at least 200 times their steps' sum apart. A p99 near "
	   << "the edge of the delayed share moves a lot with the audit's cost: the share of events "
	   << "over 5 ms and the longest wait say more.\n\n"
	   << "| sessions | p50 | p99 | share of one core | in the loop, no audit: p99 | audit in one "
	      "hold, spaced: p99 / over 5 ms / longest | in steps, every 60 s: p99 / over 5 ms / "
	      "longest | in steps, spaced (interval): p99 / over 5 ms / longest "
	      "|\n|---:|---:|---:|---:|---:|---:|---:|---:|\n";
	for (const auto &row : rows)
		md << "| " << row.sessions << " | " << row.churn_p50_ms << " ms | " << row.churn_p99_ms
		   << " ms | " << std::setprecision(2) << row.churn_cpu * 100.0 << " % | "
		   << std::setprecision(4) << row.loop_p99_ms << " ms | " << waits(row.whole) << " | "
		   << waits(row.every) << " | " << waits(row.spaced) << " (" << std::setprecision(3)
		   << row.audit_gap_s << " s) |\n"
		   << std::setprecision(4);
	md << "\nOne local server watching all N hosts (its entry 3 shared by N sessions) "
	   << "moves: to another port (its target and its entry 3 change), and to a remote VTEP "
	   << "and back (its target changes, its entry 3, claimed by the server for all its "
	   << "sessions, goes and comes back). Entries 1 and 2 name the server: none changes. "
	   << "Each figure is the event plus its reconcile into the in-memory dataplane, median "
	   << "of 6 (12 to a VTEP or back), against decide() over all sessions in the same "
	   << "run.\n\n"
	   << "| sessions | port to port | sessions planned | ratio to decide() | to a VTEP or "
	      "back | sessions planned | ratio to decide() | decide() over all |\n"
	   << "|---:|---:|---:|---:|---:|---:|---:|---:|\n";
	for (const auto &[n, t] : local_rows)
		md << "| " << n << " | " << std::setprecision(3) << t.port_ms << " ms | "
		   << t.port_plans << " | " << std::setprecision(6) << t.port_ms / t.full_ms << " | "
		   << std::setprecision(3) << t.away_ms << " ms | " << t.away_plans << " | "
		   << std::setprecision(6) << t.away_ms / t.full_ms << " | " << std::setprecision(1)
		   << t.full_ms << " ms |\n";
	md << "\nThe same server leaves this VTEP with its port, as on the leaf a server leaves "
	   << "at each move: its MAC removed and its port gone (its kept location dropped: "
	   << "unknown here, its target none), then zebra's remote MAC for it (its target VXLAN); "
	   << "each step the event plus its reconcile, median of 6; entries changed in the "
	   << "dataplane, both steps together.\n\n"
	   << "| sessions | leaves (unknown) | sessions planned | its remote MAC arrives | sessions "
	      "planned | entries changed | both / decide() |\n"
	   << "|---:|---:|---:|---:|---:|---:|---:|\n";
	for (const auto &[n, t] : local_rows)
		md << "| " << n << " | " << std::setprecision(3) << t.leave_ms << " ms | "
		   << t.leave_plans << " | " << t.arrive_ms << " ms | " << t.arrive_plans << " | "
		   << t.leave_changes << " | " << std::setprecision(6)
		   << (t.leave_ms + t.arrive_ms) / t.full_ms << " |\n";
	md << std::setprecision(4);
	md << "\nMemory: heap growth of engine + in-memory dataplane per session: ";
	for (const auto &row : rows)
		md << std::setprecision(0) << row.sessions << ": " << row.engine_bytes << " B; ";
	md << "\n\n" << std::setprecision(2)
	   << "### Memory per session\n\n"
	   << "Heap growth (mallinfo2) for " << r.sessions << " sessions after reconciliation.\n\n"
	   << "| what | bytes per session |\n|---|---:|\n"
	   << "| consumer engine (session table, MAC table, desired set, installed cache) | "
	   << std::setprecision(0) << r.engine_bytes << " |\n"
	   << "| engine + in-memory dataplane entries | " << r.with_dp_bytes << " |\n";
	std::cout << md.str();

	if (!doc.empty()) {
		std::ifstream in(doc);
		std::stringstream all;
		all << in.rdbuf();
		std::string text = all.str();
		if (text.empty())
			text = "# Benchmarks\n";
		const auto start = text.find("\n## fpm-consumer\n");
		std::string out;
		if (start == std::string::npos) {
			out = text + (text.ends_with("\n") ? "\n" : "\n\n") + md.str();
		} else {
			auto end = text.find("\n## ", start + 1);
			out = text.substr(0, start + 1) + md.str() +
			      (end == std::string::npos ? "" : "\n" + text.substr(end + 1));
		}
		std::ofstream(doc) << out;
		std::cerr << "updated " << doc << "\n";
	}
	return 0;
}
