// Cost of the eBPF programs per packet, measured with BPF_PROG_TEST_RUN
// (repeat >= 1,000,000 per measurement) on the programs the linux backend
// attaches, in a private network namespace. Prints markdown tables
// (run_bench.sh puts them in docs/benchmarks.md).
//
//   bench_dataplane_testrun [REPEAT] [REPS] [SESSIONS,...]     (root)
//
// The flow cache is off (Config::flow_cache): a repeated test_run sends the
// same frame, which the cache would match once and then reuse, so every
// row would measure the reuse. Off, each run pays the lookups of a packet
// that is not its flow's second in a row. EVPNMON_BENCH_FLOW_CACHE=1 turns
// it on: then each row measures a flow's packets back to back.
//
// First table: every program path, at each number of background sessions
// (default 0, 1 and 10000). A background session is what the consumer
// installs for a MAC-keyed session whose server is on this VTEP: entry 1
// and entry 2 by the host's MAC (VNI 100, HOST ID 8, copies to port srv),
// plus one entry 3 (VNI 100, HOST ID 8) for all of them. The frames of
// the paths never match a background entry. Per block of one session
// count, the paths (the empty program included) are interleaved REPS
// times; the median per path, and its difference to the empty program of
// the same block. A path that needs its own entries installs them before
// its measurement and removes them after (outside the timed runs):
//   empty        a TC program that returns TC_ACT_OK (r0 = 0; exit);
//   other-vni    evpnmon_mirror at a port whose VNI (200) has no entry 1/2;
//   nomatch      evpnmon_mirror at h1 (VNI 100), a frame of hosts without
//                entries;
//   nomatch-ip   the same with one more session keyed by IPv4 (another
//                host) in VNI 100, so the IP lookups are made too;
//   e1-nocopy    entry 1 of the frame's source MAC, whose profile (direction
//                rx) does not select the packet: lookup hit, counters,
//                profile, no copy;
//   e2-nocopy    the same for entry 2 of the destination MAC (direction tx);
//   e1-local     entry 1 of the source MAC, copy to port srv: lookup, one
//                bpf_clone_redirect to a veth whose peer is down (the clone
//                passes srv's evpnmon_egress and is freed by veth_xmit; it
//                counts as a drop);
//   e2-local     the same through entry 2 of the destination MAC;
//   e1-vxlan     entry 1, VXLAN-GBP copy: the clone is encapsulated by the
//                mirror device and sent to the underlay veth (peer down);
//   e1-server    e1-local through a server: the entry names a server whose
//                target is port srv (its slot read once, then the copy);
//   shim         the decap rows' baseline: a program that sets the tunnel
//                key and GBP option (what the VXLAN receive path attaches)
//                and tail-calls an empty program;
//   decap-hit    the same tail-calling evpnmon_decap, a known (VNI, HOST
//                ID): entry 3 lookup, counters, mark, bpf_redirect (not
//                performed by test_run);
//   decap-miss   an unknown HOST ID: dropped and counted;
//   decap-forged a known (VNI, HOST ID) from an outer source that is not a
//                decap source of the VNI: the source check drops it
//                (decap-hit and decap-miss pass the check: their source,
//                127.0.0.1, is listed for VNI 100);
//   (a copy at the egress, mark set, is not a row: a repeated test_run
//   reuses the skb, and the first run clears the mark; its cost is in the
//   local-copy rows, whose clone passes srv's evpnmon_egress.)
//   eg-noserver  evpnmon_egress at h2, a port no entry copies to;
//   eg-flood     evpnmon_egress at srv (a server port once a session is
//                installed) on a flooded original of unmonitored hosts;
//   eg-dup       evpnmon_egress at srv on a flooded original from a host
//                whose entry 1 copies to srv: dropped (the copy has it).
//
// Every copy in this table passes the mirror ceiling (on, at a rate no
// run reaches): its lock and counters are in every copy row, as on a
// leaf. The next table isolates them.
//
// The mirror ceiling's per-copy cost (0 sessions; the dp_ceiling map
// rewritten between rows, interleaved REPS times): e1-local and e1-vxlan
// with the ceiling off, on and under its rate (copy sent), and on and over
// it (copy dropped before the clone), each as the difference to the empty
// program.
//
// Further tables (0 sessions), the profile and ERSPAN costs:
// Scenarios, interleaved REPS times, median per scenario:
//   empty    a TC program that returns TC_ACT_OK (r0 = 0; exit), the
//            baseline every ratio is relative to;
//   none     evpnmon_mirror, no entry installed: the port's VNI and the
//            VNI's kind word (absent: no entry 1/2 in the VNI), nothing else;
//   plain    one entry 1 for the frame's source MAC without a profile: the
//            above, a hit, counters, and ONE copy: bpf_clone_redirect to a
//            veth whose peer is down (the clone is dropped by veth_xmit and
//            counted as a drop);
//   full     the same entry with a full profile: direction, one filter line
//            with IPv4 src/dst prefixes, protocol, src/dst port ranges and
//            8 UDFs (l5), sampler, policer (pps, never over rate), and the
//            same copy. The sampler is configured 1-in-2 and then set, in
//            the pinned map, to select every packet (threshold 2^32 - 1),
//            so that `full` makes the same copy per run as `plain` while
//            still drawing a random number;
//   filtered the full profile whose last UDF does not match: every step up
//            to the 8th UDF, no sampler, no policer, no copy.
//
// A second table, ERSPAN: evpnmon_erspan (the ERSPAN device's egress)
// pushes headers, so a repeated test_run would encapsulate its own output;
// every row of that table is measured as N single runs (repeat 1, the
// kernel's duration of each run, summed), the baseline included:
//   empty       the empty program;
//   erspan2/3   evpnmon_erspan alone on the frame as the mirror program
//               hands it over (mark: slot, direction): route lookup (one
//               bpf_fib_lookup with the MTU check), bpf_skb_change_head,
//               Ethernet/IPv4 (checksum)/GRE (atomic sequence)/ERSPAN II or
//               III (+ TAI clock) written with one store; test_run does not
//               perform the final bpf_redirect;
//   vxlan       evpnmon_mirror with one entry whose copy is VXLAN-GBP: the
//               lookups, tunnel key, bpf_clone_redirect, and the kernel's
//               VXLAN encapsulation and route lookup of the clone, which
//               then leaves through the underlay veth (peer down: dropped
//               there);
//   mirror+erspan2/3  evpnmon_mirror with one entry whose copy is ERSPAN:
//               the lookups, bpf_clone_redirect to the ERSPAN device, whose
//               egress program runs within (the row above) and redirects
//               the copy to the same underlay veth.
// The last three rows are the whole per-copy cost, like for like.
#include <evpnmon/dataplane/dataplane.hpp>

#include "evpnmon_shared.h"
#include "lib/bucket.h"
#include "tunnel_shim.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace evpnmon::dp;

namespace {

void sh(const std::string &cmd)
{
	if (std::system(cmd.c_str()) != 0)
		throw std::runtime_error("command failed: " + cmd);
}

// The program the backend attached on a device's TC hook, as a new fd.
int attached(const std::string &dev, bool egress)
{
	const std::uint32_t id = evpnmon::dp::attached_program_id(
	    static_cast<int>(if_nametoindex(dev.c_str())), egress);
	if (!id)
		throw std::runtime_error("no program on " + dev);
	return bpf_prog_get_fd_by_id(id);
}

int attached_mirror(const std::string &dev)
{
	return attached(dev, false);
}

int empty_prog()
{
	// r0 = 0 (TC_ACT_OK); exit: bench/dataplane/empty.bpf.c, without a
	// build step.
	struct bpf_insn insns[2] = {};
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
	insns[0].dst_reg = BPF_REG_0;
	insns[0].imm = 0;
	insns[1].code = BPF_JMP | BPF_EXIT;
	const int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "empty", "GPL", insns, 2, nullptr);
	if (fd < 0)
		throw std::runtime_error("load empty program");
	return fd;
}

// ns per run (the kernel's average over `repeat` runs).
double run(int prog, const std::vector<std::uint8_t> &frame, std::uint32_t ifindex,
	   unsigned repeat)
{
	__sk_buff ctx{};
	ctx.ingress_ifindex = ifindex;
	ctx.ifindex = ifindex;
	std::vector<std::uint8_t> out(frame.size() + 256);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(), .data_out = out.data(),
		    .data_size_in = static_cast<__u32>(frame.size()),
		    .data_size_out = static_cast<__u32>(out.size()), .ctx_in = &ctx,
		    .ctx_size_in = sizeof ctx, .repeat = repeat);
	if (bpf_prog_test_run_opts(prog, &o) != 0)
		throw std::runtime_error("BPF_PROG_TEST_RUN");
	return o.duration;
}

// Mean ns per run over n single runs (repeat 1: the program may change
// the packet, so each run starts from the same frame).
double run_single(int prog, const std::vector<std::uint8_t> &frame, const __sk_buff &ctx_in,
		  unsigned n)
{
	std::vector<std::uint8_t> out(frame.size() + 256);
	std::uint64_t total = 0;
	for (unsigned i = 0; i < n; ++i) {
		__sk_buff ctx = ctx_in;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(), .data_out = out.data(),
			    .data_size_in = static_cast<__u32>(frame.size()),
			    .data_size_out = static_cast<__u32>(out.size()), .ctx_in = &ctx,
			    .ctx_size_in = sizeof ctx, .repeat = 1);
		if (bpf_prog_test_run_opts(prog, &o) != 0)
			throw std::runtime_error("BPF_PROG_TEST_RUN");
		total += o.duration;
	}
	return static_cast<double>(total) / n;
}

// The destination slot of the ERSPAN entry 1 of MAC 02:..:01 in VNI 100.
std::uint32_t erspan_slot(const std::string &pin)
{
	const int fd = bpf_obj_get((pin + "/dp_match").c_str());
	dp_match_key k{};
	k.vni = 100;
	k.kind = DP_KIND_SRC;
	k.mtype = DP_MATCH_MAC;
	const std::uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	std::copy(mac, mac + 6, k.addr);
	dp_match_val v{};
	std::uint32_t slot = 0;
	if (bpf_map_lookup_elem(fd, &k, &v) == 0 && v.n && v.slots[0].action.kind == DP_ACT_ERSPAN)
		slot = v.slots[0].action.ifindex;
	::close(fd);
	if (!slot)
		throw std::runtime_error("no ERSPAN slot");
	return slot;
}

void put16(std::vector<std::uint8_t> &f, std::uint16_t v)
{
	f.push_back(static_cast<std::uint8_t>(v >> 8));
	f.push_back(static_cast<std::uint8_t>(v));
}

// 02:..:01 -> 02:..:02, 10.1.0.1:49152 -> 10.1.0.2:4791, a BTH and 20
// octets of payload: 74 octets.
std::vector<std::uint8_t> frame()
{
	std::vector<std::uint8_t> f = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
	const std::size_t l5 = 12 + 20;
	std::vector<std::uint8_t> ip = {0x45, 0};
	put16(ip, static_cast<std::uint16_t>(20 + 8 + l5));
	for (auto b : {0, 1, 0, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 1, 0, 2})
		ip.push_back(static_cast<std::uint8_t>(b));
	f.insert(f.end(), ip.begin(), ip.end());
	put16(f, 49152);
	put16(f, 4791);
	put16(f, static_cast<std::uint16_t>(8 + l5));
	put16(f, 0);
	for (std::size_t i = 0; i < l5; ++i)
		f.push_back(static_cast<std::uint8_t>(0x81 + i));
	return f;
}

evpn_mon_options full_profile(const std::vector<std::uint8_t> &f, bool last_udf_matches)
{
	evpn_mon_options o{};
	o.present = 1;
	o.direction = EVPN_MON_DIR_TX;
	o.nfilters = 1;
	auto &l = o.filters[0];
	l.family = 4;
	l.proto = 17;
	l.src.len = 24;
	l.src.addr[0] = 10;
	l.src.addr[1] = 1;
	l.dst.len = 32;
	std::copy_n(f.begin() + 30, 4, l.dst.addr);
	l.sport_lo = 49152;
	l.sport_hi = 65535;
	l.dport_lo = l.dport_hi = 4791;
	l.nudf = 8;
	for (int i = 0; i < 8; ++i) {
		const std::size_t at = 42 + 2 * i;
		l.udf[i] = {EVPN_MON_UDF_L5, static_cast<std::uint8_t>(2 * i),
			    static_cast<std::uint16_t>(f[at] << 8 | f[at + 1]), 0xffff};
	}
	if (!last_udf_matches)
		l.udf[7].value ^= 1;
	o.sample = 2;
	o.police_unit = EVPN_MON_POLICE_PPS;
	o.police_rate = EVPN_MON_POLICE_PPS_MAX;
	o.police_burst = EVPN_MON_POLICE_BURST_MAX;
	return o;
}

// The entry's profile slot selects every packet at the sampler.
void sampler_always(const std::string &pin)
{
	const int m = bpf_obj_get((pin + "/dp_profile").c_str());
	for (dp_u32 slot = 1; slot < 64; ++slot) {
		dp_profile p{};
		if (bpf_map_lookup_elem(m, &slot, &p) == 0 && p.sample_thr) {
			p.sample_thr = 0xffffffffu;
			bpf_map_update_elem(m, &slot, &p, BPF_ANY);
		}
	}
	::close(m);
}

// A shim program whose tail call goes to `target` (its own slot).
tunnel_shim *shim_to(int target)
{
	tunnel_shim *sh = tunnel_shim__open_and_load();
	const __u32 zero = 0;
	if (!sh || bpf_map_update_elem(bpf_map__fd(sh->maps.decap_prog), &zero, &target, BPF_ANY))
		throw std::runtime_error("tunnel shim");
	return sh;
}

Mac mac_of(std::uint32_t i)
{
	return Mac{0x02, 0x10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
		   static_cast<std::uint8_t>(i), 0x01};
}

// n background sessions (entries 1 and 2 by MAC to srv, HOST ID 8) and
// their server's entry 3.
void install_background(Dataplane &dp, std::uint32_t n, std::uint32_t srv)
{
	for (std::uint32_t i = 0; i < n; ++i)
		for (auto kind : {EntryKind::MirrorSource, EntryKind::MirrorDest}) {
			Entry e;
			e.key.kind = kind;
			e.key.vni = 100;
			e.key.host.mac = mac_of(i);
			e.key.host_id = 8;
			e.key.session = "bg-" + std::to_string(i);
			e.action.ifindex = srv;
			if (auto ec = dp.install(e))
				throw std::runtime_error("install background: " + ec.message());
		}
	if (n) {
		Entry d;
		d.key.kind = EntryKind::Decap;
		d.key.vni = 100;
		d.key.host_id = 8;
		d.action.ifindex = srv;
		if (auto ec = dp.install(d))
			throw std::runtime_error("install entry 3: " + ec.message());
	}
}

struct Path {
	std::string id, label;
	std::function<double()> measure;
	std::vector<Entry> entries; // installed around the measurement
	std::string base = "empty"; // the row its difference is taken to
};

// Every program path at each background session count.
void path_table(Dataplane &dp, unsigned repeat, int reps, const std::vector<std::uint32_t> &counts,
		int mirror, int egress, int empty, int decap, const std::vector<std::uint8_t> &f)
{
	const std::uint32_t h1 = if_nametoindex("h1"), h2 = if_nametoindex("h2"),
			    g1 = if_nametoindex("g1"), srv = if_nametoindex("srv");
	tunnel_shim *shim_empty = shim_to(empty), *shim_decap = shim_to(decap);
	auto at = [&](int prog, std::uint32_t in, std::uint32_t out, std::uint32_t mark = 0,
		      std::uint32_t cb0 = 0, std::uint32_t cb1 = 0, std::uint32_t cb2 = 0) {
		return [=, &f]() {
			__sk_buff ctx{};
			ctx.ingress_ifindex = in;
			ctx.ifindex = out;
			ctx.mark = mark;
			ctx.cb[0] = cb0;
			ctx.cb[1] = cb1;
			ctx.cb[2] = cb2; // the shim's outer source (0: 127.0.0.1)
			std::vector<std::uint8_t> o(f.size() + 256);
			LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data(), .data_out = o.data(),
				    .data_size_in = static_cast<__u32>(f.size()),
				    .data_size_out = static_cast<__u32>(o.size()), .ctx_in = &ctx,
				    .ctx_size_in = sizeof ctx, .repeat = repeat);
			if (bpf_prog_test_run_opts(prog, &opts) != 0)
				throw std::runtime_error("BPF_PROG_TEST_RUN");
			return static_cast<double>(opts.duration);
		};
	};
	auto entry = [&](EntryKind kind, const char *mac, const char *ip, std::uint32_t dir) {
		Entry e;
		e.key.kind = kind;
		e.key.vni = 100;
		if (mac)
			e.key.host.mac = parse_mac(mac);
		if (ip)
			e.key.host.ip = parse_ip(ip);
		e.key.host_id = 7;
		e.key.session = std::string("path-") + (mac ? mac : ip);
		e.action.ifindex = srv;
		if (dir) {
			evpn_mon_options o{};
			o.present = 1;
			o.direction = static_cast<std::uint8_t>(dir);
			e.options = evpnmon::session::Options(o);
		}
		return e;
	};
	const char *A = "02:00:00:00:00:01", *B = "02:00:00:00:00:02";
	Entry vx = entry(EntryKind::MirrorSource, A, nullptr, 0);
	vx.action.kind = Action::Kind::Vxlan;
	vx.action.ifindex = 0;
	vx.action.remote_vtep = {10, 9, 9, 2};
	vx.action.vni = 100;
	vx.action.host_id = 7;
	Entry d7;
	d7.key.kind = EntryKind::Decap;
	d7.key.vni = 100;
	d7.key.host_id = 7;
	d7.action.ifindex = srv;
	// A server on srv, for the entry that names it (set once: a server
	// no entry names costs nothing).
	const ServerKey sk{100, *parse_mac("02:00:00:00:00:0a"), 7};
	Action to_srv;
	to_srv.kind = Action::Kind::LocalPort;
	to_srv.ifindex = srv;
	if (auto ec = dp.set_server(sk, to_srv))
		throw std::runtime_error("set_server: " + ec.message());
	Entry named = entry(EntryKind::MirrorSource, A, nullptr, 0);
	named.action = Action::naming(sk);
	const int sh_e = bpf_program__fd(shim_empty->progs.with_tunnel),
		  sh_d = bpf_program__fd(shim_decap->progs.with_tunnel);
	std::vector<Path> paths = {
	    {"empty", "empty TC program (baseline)", at(empty, h1, h1), {}},
	    {"other-vni", "mirror: port's VNI has no entry 1/2", at(mirror, g1, g1), {}},
	    {"nomatch", "mirror: no match (frame of hosts without entries)", at(mirror, h1, h1), {}},
	    {"nomatch-ip", "mirror: no match, + one IPv4-keyed session in the VNI",
	     at(mirror, h1, h1),
	     {entry(EntryKind::MirrorSource, nullptr, "10.7.0.1", 0),
	      entry(EntryKind::MirrorDest, nullptr, "10.7.0.1", 0)}},
	    {"e1-nocopy", "mirror: entry 1 (source MAC) hit, profile selects no copy",
	     at(mirror, h1, h1), {entry(EntryKind::MirrorSource, A, nullptr, EVPN_MON_DIR_RX)}},
	    {"e2-nocopy", "mirror: entry 2 (destination MAC) hit, profile selects no copy",
	     at(mirror, h1, h1), {entry(EntryKind::MirrorDest, B, nullptr, EVPN_MON_DIR_TX)}},
	    {"e1-local", "mirror: entry 1 hit, local copy", at(mirror, h1, h1),
	     {entry(EntryKind::MirrorSource, A, nullptr, 0)}},
	    {"e2-local", "mirror: entry 2 hit, local copy", at(mirror, h1, h1),
	     {entry(EntryKind::MirrorDest, B, nullptr, 0)}},
	    {"e1-vxlan", "mirror: entry 1 hit, VXLAN-GBP copy (kernel encapsulation, sent)",
	     at(mirror, h1, h1), {vx}},
	    {"e1-server", "mirror: entry 1 hit, naming a server on srv (slot resolved), local copy",
	     at(mirror, h1, h1), {named}},
	    {"shim", "decap baseline: tunnel-metadata shim + tail call to an empty program",
	     at(sh_e, 0, 0, 0, 100, 7), {}},
	    {"decap-hit", "decap: known HOST ID (entry 3, redirect) — difference to the shim row",
	     at(sh_d, 0, 0, 0, 100, 7), {d7}, "shim"},
	    {"decap-miss", "decap: unknown HOST ID (dropped, counted) — difference to the shim row",
	     at(sh_d, 0, 0, 0, 100, 9), {}, "shim"},
	    {"decap-forged",
	     "decap: known HOST ID from a source that is not a VTEP of the VNI (dropped, "
	     "counted) — difference to the shim row",
	     at(sh_d, 0, 0, 0, 100, 7, 0x0a090906), {d7}, "shim"},
	    {"eg-noserver", "egress at a port without a server", at(egress, h1, h2), {}},
	    {"eg-flood", "egress at srv: flooded original of unmonitored hosts", at(egress, h1, srv),
	     {}},
	    {"eg-dup", "egress at srv: flooded original from a watched host (dropped)",
	     at(egress, h1, srv), {entry(EntryKind::MirrorSource, A, nullptr, 0)}},
	};
	// [count][path] -> runs
	std::map<std::uint32_t, std::map<std::string, std::vector<double>>> ns;
	for (std::uint32_t n : counts) {
		for (const auto &x : dp.list())
			dp.remove(x.key);
		install_background(dp, n, srv);
		std::cerr << "bench_dataplane_testrun: " << n << " background sessions ("
			  << dp.list().size() << " entries)\n";
		for (int r = 0; r < reps; ++r)
			for (const auto &p : paths) {
				for (const auto &e : p.entries)
					if (auto ec = dp.install(e))
						throw std::runtime_error(p.id + ": " + ec.message());
				ns[n][p.id].push_back(p.measure());
				for (const auto &e : p.entries)
					dp.remove(e.key);
			}
	}
	for (const auto &x : dp.list())
		dp.remove(x.key);
	dp.flush();
	dp.remove_server(sk);
	tunnel_shim__destroy(shim_empty);
	tunnel_shim__destroy(shim_decap);
	if (dp.decap_drops().unknown_source == 0)
		throw std::runtime_error("decap-forged: the source check dropped nothing");

	auto med = [](std::vector<double> v) {
		std::sort(v.begin(), v.end());
		return v[v.size() / 2];
	};
	std::printf("| path | ");
	for (auto n : counts)
		std::printf("%u session%s: ns (+ over baseline) | ", n, n == 1 ? "" : "s");
	std::printf("\n|---|");
	for (std::size_t i = 0; i < counts.size(); ++i)
		std::printf("---:|");
	std::printf("\n");
	for (const auto &p : paths) {
		std::printf("| %s | ", p.label.c_str());
		for (auto n : counts) {
			const double m = med(ns[n][p.id]);
			if (p.id == "empty")
				std::printf("%.0f | ", m);
			else
				std::printf("%.0f (%+.0f) | ", m, m - med(ns[n][p.base]));
		}
		std::printf("\n");
	}
	std::printf("\nMedian of %d interleaved measurements of %u runs each, %u-octet frame; "
		    "\"+\": the median minus the empty program's (the shim's for the decap "
		    "rows) in the same block.\n",
		    reps, repeat, static_cast<unsigned>(f.size()));
	for (auto n : counts) {
		const double e = med(ns[n]["empty"]);
		std::printf("%s%u sessions: no match %+.0f ns over the empty program (target <= 40), "
			    "egress flooded original %+.0f ns",
			    n == counts.front() ? "\n" : "; ", n, med(ns[n]["nomatch"]) - e,
			    med(ns[n]["eg-flood"]) - e);
	}
	std::printf(".\n\n");
}

// Rewrites the ceiling (BPF_F_LOCK, as the backend does): rate in bit/s
// and burst in octets, pps in copies/s and pburst in copies (a rate of 0
// leaves its bucket out); the buckets start full.
void set_ceiling(const std::string &pin, std::uint64_t rate, std::uint64_t burst,
		 std::uint64_t pps = 0, std::uint64_t pburst = 0)
{
	const int fd = bpf_obj_get((pin + "/dp_ceiling").c_str());
	dp_ceiling c{};
	c.bits.rate = rate;
	c.bits.burst = burst * 8 * DP_TOKEN_SCALE;
	c.bits.fill_ns = rate ? dp_bucket_fill_ns(c.bits.burst, rate) : 0;
	c.packets.rate = pps;
	c.packets.burst = pburst * DP_TOKEN_SCALE;
	c.packets.fill_ns = pps ? dp_bucket_fill_ns(c.packets.burst, pps) : 0;
	const dp_u32 zero = 0;
	const int err = fd < 0 ? -1 : bpf_map_update_elem(fd, &zero, &c, BPF_F_LOCK);
	::close(fd);
	if (err)
		throw std::runtime_error("write dp_ceiling");
}

// The mirror ceiling's cost per copy: off, on and under the rate, on and
// over it, for a local and a VXLAN-GBP copy.
void ceiling_table(Dataplane &dp, const std::string &pin, unsigned repeat, int reps, int mirror,
		   int empty, const std::vector<std::uint8_t> &f)
{
	const std::uint32_t h1 = if_nametoindex("h1");
	Entry local;
	local.key.kind = EntryKind::MirrorSource;
	local.key.vni = 100;
	local.key.host.mac = parse_mac("02:00:00:00:00:01");
	local.key.host_id = 7;
	local.key.session = "ceiling";
	local.action.ifindex = if_nametoindex("srv");
	Entry vx = local;
	vx.action = Action{};
	vx.action.kind = Action::Kind::Vxlan;
	vx.action.remote_vtep = {10, 9, 9, 2};
	vx.action.vni = 100;
	vx.action.host_id = 7;
	struct Row {
		std::string id, label;
		const Entry *entry;
		std::uint64_t rate, burst, pps = 0, pburst = 0;
	};
	// "under": rates no run reaches (the buckets refill within ns), both
	// buckets on as by default; "over": a one-octet bucket, or an empty
	// packet bucket, so that every copy is refused.
	const std::uint64_t never = 1'000'000'000'000'000'000ull, big = 1ull << 31;
	const std::uint64_t pnever = kMaxMirrorCeilingPps, pbig = kMaxMirrorCeilingPacketBurst;
	const std::vector<Row> rows = {
	    {"empty", "empty TC program (baseline)", nullptr, 0, 0},
	    {"local-off", "entry 1, local copy, ceiling off", &local, 0, 0},
	    {"local-on", "entry 1, local copy, ceiling on, under both rates (sent)", &local, never,
	     big, pnever, pbig},
	    {"local-over", "entry 1, local copy, ceiling on, over its bit rate (dropped)", &local, 8,
	     1, pnever, pbig},
	    {"local-over-pkt", "entry 1, local copy, ceiling on, over its packet rate (dropped)",
	     &local, never, big, 1, 0},
	    {"vxlan-off", "entry 1, VXLAN-GBP copy, ceiling off", &vx, 0, 0},
	    {"vxlan-on", "entry 1, VXLAN-GBP copy, ceiling on, under both rates (sent)", &vx, never,
	     big, pnever, pbig},
	    {"vxlan-over", "entry 1, VXLAN-GBP copy, ceiling on, over its bit rate (dropped)", &vx,
	     8, 1, pnever, pbig},
	};
	std::map<std::string, std::vector<double>> ns;
	for (int r = 0; r < reps; ++r)
		for (const auto &row : rows) {
			for (const auto &x : dp.list())
				dp.remove(x.key);
			if (row.entry)
				if (auto ec = dp.install(*row.entry))
					throw std::runtime_error("install: " + ec.message());
			set_ceiling(pin, row.rate, row.burst, row.pps, row.pburst);
			ns[row.id].push_back(run(row.entry ? mirror : empty, f, h1, repeat));
		}
	for (const auto &x : dp.list())
		dp.remove(x.key);
	const auto cc = dp.ceiling_counters();
	if (cc.dropped_packets == 0 || cc.passed_packets == 0 || cc.dropped_by_packet_rate == 0)
		throw std::runtime_error("ceiling rows: the ceiling did not pass, drop by bits and "
					 "drop by packets");
	auto med = [&](const std::string &n) {
		auto v = ns[n];
		std::sort(v.begin(), v.end());
		return v[v.size() / 2];
	};
	std::printf("| mirror ceiling | ns per run: median | + over the empty program |\n");
	std::printf("|---|---:|---:|\n");
	for (const auto &row : rows)
		std::printf("| %s | %.0f | %+.0f |\n", row.label.c_str(), med(row.id),
			    med(row.id) - med("empty"));
	std::printf("\nCeiling on and under its rate, per copy: %+.0f ns (local), %+.0f ns "
		    "(VXLAN-GBP) over the ceiling off; median of %d interleaved measurements "
		    "of %u runs, %u-octet frame.\n\n",
		    med("local-on") - med("local-off"), med("vxlan-on") - med("vxlan-off"), reps,
		    repeat, static_cast<unsigned>(f.size()));
}

} // namespace

int main(int argc, char **argv)
{
	const unsigned repeat = argc > 1 ? static_cast<unsigned>(std::stoul(argv[1])) : 1000000;
	const int reps = argc > 2 ? std::stoi(argv[2]) : 5;
	std::vector<std::uint32_t> counts = {0, 1, 10000};
	if (argc > 3) {
		counts.clear();
		std::stringstream ss(argv[3]);
		for (std::string x; std::getline(ss, x, ',');)
			counts.push_back(static_cast<std::uint32_t>(std::stoul(x)));
	}
	if (::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0) {
		std::cerr << "bench_dataplane_testrun: needs root (netns, BPF)\n";
		return 1;
	}
	try {
		const std::string pin = "/sys/fs/bpf/evpnmon-bench-" + std::to_string(::getpid());
		sh("ip link set lo up && ip link add br100 type bridge && "
		   "ip link add vxlan100 type vxlan id 100 dstport 4789 nolearning && "
		   "ip link set vxlan100 master br100 up");
		sh("ip link add h1 type veth peer name h1p && ip link set h1 master br100 up");
		sh("ip link add srv type veth peer name srvp && ip link set srv master br100 up");
		sh("ip link add h2 type veth peer name h2p && ip link set h2 master br100 up");
		sh("ip link add br200 type bridge && "
		   "ip link add vxlan200 type vxlan id 200 dstport 4789 nolearning && "
		   "ip link set vxlan200 master br200 up && "
		   "ip link add g1 type veth peer name g1p && ip link set g1 master br200 up && "
		   "ip link set br200 up");
		sh("ip link set br100 up");
		// The underlay: a veth whose peer is down (a sink), a route to the
		// collector and a remote VTEP through a permanent neighbour.
		sh("ip link add ul0 type veth peer name ul1 && ip link set ul0 up && "
		   "ip addr add 10.9.9.1/24 dev ul0 && "
		   "ip neigh add 10.9.9.2 lladdr 02:99:00:00:00:01 dev ul0 nud permanent && "
		   "ip route add 10.50.0.0/24 via 10.9.9.2");
		Config cfg;
		cfg.bridges = {{"br100", "vxlan100", 100}, {"br200", "vxlan200", 200}};
		cfg.local_vtep = {10, 9, 9, 1};
		cfg.pin_dir = pin;
		const char *fc = std::getenv("EVPNMON_BENCH_FLOW_CACHE");
		cfg.flow_cache = fc && std::string(fc) == "1";
		std::cout << "flow cache: " << (cfg.flow_cache ? "on (a flow's packets back to back)"
							 : "off (every packet looked up)")
			  << "\n\n";
		// The ceiling on, at a rate no run reaches: every copy pays its
		// check, none is refused (the rows measure sending copies).
		cfg.mirror_ceiling_bps = 1'000'000'000'000'000'000ull;
		cfg.mirror_ceiling_pps = kMaxMirrorCeilingPps;
		auto dp = make_dataplane("linux", cfg);
		// The decap rows' copies come from the shim's 127.0.0.1.
		if (auto ec = dp->add_decap_source(100, *parse_ip("127.0.0.1")))
			throw std::runtime_error("decap source: " + ec.message());
		const std::uint32_t h1 = if_nametoindex("h1");
		// The backend attaches the egress program only while copies go
		// to the port: one entry to h1 while the fds are taken (an fd
		// keeps its program).
		Entry probe;
		probe.key.kind = EntryKind::MirrorSource;
		probe.key.vni = 100;
		probe.key.host.mac = parse_mac("02:ee:ee:ee:ee:ee");
		probe.key.host_id = 1;
		probe.action.ifindex = h1;
		if (dp->install(probe))
			throw std::runtime_error("program probe entry");
		const int mirror = attached_mirror("h1"), empty = empty_prog();
		const int probe_egress = attached("h1", true);
		if (dp->remove(probe.key))
			throw std::runtime_error("program probe entry");
		const auto f = frame();
		{
			const int egress = probe_egress, decap = attached("evpnmon0", false);
			path_table(*dp, repeat, reps, counts, mirror, egress, empty, decap, f);
			::close(egress);
			::close(decap);
		}
		ceiling_table(*dp, pin, repeat, reps, mirror, empty, f);
		set_ceiling(pin, cfg.mirror_ceiling_bps, 1ull << 31, cfg.mirror_ceiling_pps, 1ull << 24);

		Entry e;
		e.key.kind = EntryKind::MirrorSource;
		e.key.vni = 100;
		e.key.host.mac = parse_mac("02:00:00:00:00:01");
		e.key.host_id = 7;
		e.key.session = "bench";
		e.action.ifindex = if_nametoindex("srv");

		const std::vector<std::string> names = {"empty", "none", "plain", "full", "filtered"};
		std::map<std::string, std::vector<double>> ns;
		for (int r = 0; r < reps; ++r) {
			for (const auto &n : names) {
				for (const auto &x : dp->list())
					dp->remove(x.key);
				if (n == "plain") {
					e.options = {};
					dp->install(e);
				} else if (n == "full" || n == "filtered") {
					e.options = evpnmon::session::Options(full_profile(f, n == "full"));
					if (auto ec = dp->install(e))
						throw std::runtime_error("install: " + ec.message());
					sampler_always(pin);
				}
				ns[n].push_back(run(n == "empty" ? empty : mirror, f, h1, repeat));
			}
		}
		auto med = [&](const std::string &n) {
			auto v = ns[n];
			std::sort(v.begin(), v.end());
			return v[v.size() / 2];
		};
		const double base = med("empty");
		std::printf("| scenario | ns per run: median (min–max of %d) | ratio to empty |\n", reps);
		std::printf("|---|---|---|\n");
		const std::map<std::string, std::string> label = {
		    {"empty", "empty TC program (baseline)"},
		    {"none", "mirror, no entry"},
		    {"plain", "mirror, plain entry (one copy)"},
		    {"full", "mirror, full profile: 5-tuple + 8 UDFs + sampler + policer (one copy)"},
		    {"filtered", "mirror, full profile, last UDF does not match (no copy)"}};
		for (const auto &n : names) {
			auto [lo, hi] = std::minmax_element(ns[n].begin(), ns[n].end());
			std::printf("| %s | %.0f (%.0f–%.0f) | %.2f |\n", label.at(n).c_str(), med(n),
				    *lo, *hi, med(n) / base);
		}
		std::printf("\nfull profile / plain entry: %.2f (target <= 2); repeat %u per "
			    "measurement, %u-octet frame.\n",
			    med("full") / med("plain"), repeat, static_cast<unsigned>(f.size()));

		// ERSPAN against VXLAN-GBP, single runs.
		const unsigned n1 = std::max(1u, repeat / 10);
		const int encap = attached("evpnmon-er", true);
		const std::vector<std::string> enames = {"empty", "erspan2", "erspan3", "vxlan",
							 "mirror+erspan2", "mirror+erspan3"};
		std::map<std::string, std::vector<double>> ens;
		for (int r = 0; r < reps; ++r) {
			for (const auto &n : enames) {
				for (const auto &x : dp->list())
					dp->remove(x.key);
				Entry c = e;
				c.options = {};
				if (n == "vxlan") {
					c.action.kind = Action::Kind::Vxlan;
					c.action.remote_vtep = {10, 9, 9, 2};
					c.action.vni = 100;
					c.action.host_id = 7;
				} else if (n != "empty") {
					c.action.kind = Action::Kind::Erspan;
					c.action.erspan.collector = *parse_ip("10.50.0.1");
					c.action.erspan.version = n.back() == '3' ? 3 : 2;
					c.action.erspan.span_id = 7;
				}
				if (n != "empty")
					if (auto ec = dp->install(c))
						throw std::runtime_error("install: " + ec.message());
				__sk_buff ctx{};
				ctx.ingress_ifindex = h1;
				ctx.ifindex = h1;
				int prog = mirror;
				if (n == "empty") {
					prog = empty;
				} else if (n == "erspan2" || n == "erspan3") {
					prog = encap;
					ctx.ifindex = if_nametoindex("evpnmon-er");
					ctx.mark = DP_ERSPAN_MARK | erspan_slot(pin);
				}
				ens[n].push_back(run_single(prog, f, ctx, n1));
			}
		}
		for (const auto &[x, c] : dp->erspan_counters())
			if (c.errors || c.no_route)
				throw std::runtime_error("ERSPAN copies failed in the benchmark");
		auto emed = [&](const std::string &n) {
			auto v = ens[n];
			std::sort(v.begin(), v.end());
			return v[v.size() / 2];
		};
		const double ebase = emed("empty");
		std::printf("\n| ERSPAN scenario | ns per run: median (min–max of %d) | ratio to empty |\n",
			    reps);
		std::printf("|---|---|---|\n");
		const std::map<std::string, std::string> elabel = {
		    {"empty", "empty TC program (baseline, single runs)"},
		    {"erspan2", "evpnmon_erspan alone, type II"},
		    {"erspan3", "evpnmon_erspan alone, type III"},
		    {"vxlan", "mirror + one VXLAN-GBP copy (kernel encapsulation, sent)"},
		    {"mirror+erspan2", "mirror + one ERSPAN II copy (evpnmon_erspan, sent)"},
		    {"mirror+erspan3", "mirror + one ERSPAN III copy (evpnmon_erspan, sent)"}};
		for (const auto &n : enames) {
			auto [lo, hi] = std::minmax_element(ens[n].begin(), ens[n].end());
			std::printf("| %s | %.0f (%.0f–%.0f) | %.2f |\n", elabel.at(n).c_str(), emed(n),
				    *lo, *hi, emed(n) / ebase);
		}
		std::printf("\nERSPAN III copy / VXLAN-GBP copy: %.2f; %u single runs per "
			    "measurement.\n",
			    emed("mirror+erspan3") / emed("vxlan"), n1);
		::close(encap);

		for (const auto &x : dp->list())
			dp->remove(x.key);
		::close(mirror);
		::close(empty);
	} catch (const std::exception &ex) {
		std::cerr << "bench_dataplane_testrun: " << ex.what() << "\n";
		return 1;
	}
	return 0;
}
