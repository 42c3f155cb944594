// The in-memory reference backend: entries indexed exactly like the BPF maps
// (same match keys, same slot order, same limits), and a packet simulator
// that applies the exactly-once rule of the TC program.
#include "../codec.hpp"
#include "../visit_range.hpp"
#include <evpnmon/unique_fd.hpp>
#include "frame.hpp"

#include <evpnmon/dataplane/memory.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <set>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

namespace evpnmon::dp {

namespace {

struct Record {
	Action action;
	dp_action raw{};
	Counters counters;
	session::Options options; // stored and listed, never evaluated
};

using RecordMap = std::map<EntryKey, Record>;
using RecordPtr = RecordMap::value_type *;

struct Port {
	std::string name;
	std::uint32_t vni = 0;
	bool fabric = false;     // the bridge's VXLAN device: no mirror program
	bool forwarding = false; // report originals the bridge sends out here
};

} // namespace

struct MemoryDataplane::Impl {
	Config config;
	RecordMap records;
	std::unordered_map<dp_match_key, std::vector<RecordPtr>,
			   codec::BytesHash<dp_match_key>,
			   codec::BytesEq<dp_match_key>>
	    match;
	std::unordered_map<dp_decap_key, RecordPtr, codec::BytesHash<dp_decap_key>,
			   codec::BytesEq<dp_decap_key>>
	    decap;
	std::map<std::uint32_t, Port> ports;
	std::uint32_t mirror_ifindex = 0;
	Counters gstat[DP_GSTAT_MAX];
	// (VNI, IPv4 VTEP) pairs entry 3 accepts copies from, and the copies
	// it dropped because their source was not one (dp_decap_src,
	// DP_TSTAT_DECAP_SOURCE).
	std::set<std::pair<std::uint32_t, std::array<std::uint8_t, 4>>> decap_src;
	Counters decap_src_drops;
	// Servers and their targets (dp_server); entries name them by key.
	std::map<ServerKey, Action> servers;

	MacListener listener;
	std::deque<MacEvent> pending;
	std::map<std::pair<std::uint32_t, Mac>, MacEvent> fdb; // (vni, mac)
	// dp_local_mac: (vni, mac) -> port it was learned on; kept after it
	// ages out on a port that copies are sent to (a silent server).
	std::map<std::pair<std::uint32_t, Mac>, std::uint32_t> local_mac;
	UniqueFd efd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};

	std::error_code install(const Entry &entry);
	std::vector<Output> mirror(std::span<const std::uint8_t> frame,
				   const Port &port);
	std::vector<Output> decapsulate(std::span<const std::uint8_t> frame,
					const std::optional<TunnelMeta> &tun);
	std::vector<Output> bridge(std::span<const std::uint8_t> frame,
				   std::uint32_t ingress, std::uint32_t vni);
	bool egress(std::span<const std::uint8_t> frame, std::uint32_t ifindex,
		    std::uint32_t vni);
	bool targets_port(std::uint32_t ifindex) const;
	void note_mac(const MacEvent &ev);
	// The action as a packet sees it: a server's target for a Server
	// action (kind 0, no copy, if it is unresolved or not set).
	dp_action resolved(const Record &rec) const;
};

MemoryDataplane::MemoryDataplane(Config config) : impl_(std::make_unique<Impl>())
{
	if (config.max_entries == 0 || config.max_entries > kMaxEntriesLimit)
		throw std::invalid_argument("dataplane/memory: max_entries must be 1.." +
					    std::to_string(kMaxEntriesLimit));
	check_mirror_ceiling(config, "dataplane/memory");
	impl_->config = std::move(config);
	if (!impl_->efd)
		throw std::system_error(errno, std::generic_category(), "eventfd");
}

MemoryDataplane::~MemoryDataplane() = default;

std::error_code MemoryDataplane::install(const Entry &entry)
{
	if (!codec::valid(entry))
		return std::make_error_code(std::errc::invalid_argument);
	auto &im = *impl_;
	const Entry e{entry.key, codec::normalized(entry.action), entry.options};
	return im.install(e);
}

std::error_code MemoryDataplane::Impl::install(const Entry &entry)
{
	auto &im = *this;
	if (entry.action.kind == Action::Kind::Server && !servers.contains(entry.action.server))
		return std::make_error_code(std::errc::no_such_device_or_address);
	if (auto it = im.records.find(entry.key); it != im.records.end()) {
		it->second.action = entry.action;
		it->second.raw = codec::action(entry.action);
		it->second.options = entry.options;
		return {};
	}
	if (im.records.size() >= im.config.max_entries) // full: is_capacity_error()
		return std::make_error_code(std::errc::argument_list_too_long);
	if (entry.key.kind == EntryKind::Decap) {
		auto [it, _] = im.records.emplace(
		    entry.key, Record{entry.action, codec::action(entry.action), {}, entry.options});
		im.decap[codec::decap_key(entry.key)] = &*it;
		return {};
	}
	auto &slots = im.match[codec::match_key(entry.key)];
	if (slots.size() >= DP_MAX_ACTIONS) {
		if (slots.empty())
			im.match.erase(codec::match_key(entry.key));
		return std::make_error_code(std::errc::no_buffer_space);
	}
	auto [it, _] = im.records.emplace(
	    entry.key, Record{entry.action, codec::action(entry.action), {}, entry.options});
	auto pos = std::upper_bound(
	    slots.begin(), slots.end(), entry.key,
	    [](const EntryKey &k, RecordPtr p) { return k < p->first; });
	slots.insert(pos, &*it);
	return {};
}

std::error_code MemoryDataplane::remove(const EntryKey &key)
{
	auto &im = *impl_;
	auto it = im.records.find(key);
	if (it == im.records.end())
		return {};
	if (key.kind == EntryKind::Decap) {
		im.decap.erase(codec::decap_key(key));
	} else {
		auto mk = codec::match_key(key);
		auto &slots = im.match[mk];
		std::erase(slots, &*it);
		if (slots.empty())
			im.match.erase(mk);
	}
	im.records.erase(it);
	return {};
}

std::optional<EntryKey> MemoryDataplane::visit_entries(const std::optional<EntryKey> &from,
						      std::size_t limit,
						      const EntryVisitor &visit) const
{
	return visit_range(impl_->records, from, limit, visit);
}

std::vector<Entry> MemoryDataplane::list() const
{
	std::vector<Entry> out;
	out.reserve(impl_->records.size());
	for_each_entry([&out](const EntryKey &k, const Action &a, const session::Options &o) {
		out.push_back(Entry{k, a, o});
	});
	return out;
}

std::optional<Counters> MemoryDataplane::counters(const EntryKey &key) const
{
	auto it = impl_->records.find(key);
	if (it == impl_->records.end())
		return std::nullopt;
	return it->second.counters;
}

Counters MemoryDataplane::global_counters() const
{
	const auto &g = impl_->gstat;
	Counters c = g[DP_GSTAT_DECAP_UNKNOWN];
	c.drops += g[DP_GSTAT_DECAP_NOMETA].drops + g[DP_GSTAT_COPY_OVERFLOW].drops +
		   impl_->decap_src_drops.drops;
	return c;
}

Counters MemoryDataplane::dropped_originals() const
{
	return impl_->gstat[DP_GSTAT_EGRESS_DUP];
}

namespace {

// The linux backend's validity rule: VNI 1..2^24-1, a non-zero IPv4 VTEP.
bool valid_decap_source(std::uint32_t vni, const IpAddr &vtep)
{
	return vni != 0 && vni <= 0xffffff && vtep.family == IpAddr::Family::V4 &&
	       std::any_of(vtep.bytes.begin(), vtep.bytes.begin() + 4,
			   [](std::uint8_t b) { return b != 0; });
}

std::array<std::uint8_t, 4> v4_of(const IpAddr &ip)
{
	std::array<std::uint8_t, 4> a{};
	std::copy_n(ip.bytes.begin(), 4, a.begin());
	return a;
}

} // namespace

std::error_code MemoryDataplane::add_decap_source(std::uint32_t vni, const IpAddr &vtep)
{
	if (!valid_decap_source(vni, vtep))
		return std::make_error_code(std::errc::invalid_argument);
	auto &src = impl_->decap_src;
	const auto k = std::make_pair(vni, v4_of(vtep));
	if (!src.contains(k) && src.size() >= DP_MAX_DECAP_SOURCES)
		return std::make_error_code(std::errc::argument_list_too_long);
	src.insert(k);
	return {};
}

std::error_code MemoryDataplane::remove_decap_source(std::uint32_t vni, const IpAddr &vtep)
{
	if (!valid_decap_source(vni, vtep))
		return std::make_error_code(std::errc::invalid_argument);
	impl_->decap_src.erase(std::make_pair(vni, v4_of(vtep)));
	return {};
}

std::vector<std::pair<std::uint32_t, IpAddr>> MemoryDataplane::decap_sources() const
{
	std::vector<std::pair<std::uint32_t, IpAddr>> out;
	for (const auto &[vni, a] : impl_->decap_src) {
		IpAddr ip;
		std::copy(a.begin(), a.end(), ip.bytes.begin());
		out.emplace_back(vni, ip);
	}
	return out; // sorted: (VNI, address octets) order
}

DecapDrops MemoryDataplane::decap_drops() const
{
	const auto &g = impl_->gstat;
	return {g[DP_GSTAT_DECAP_NOMETA].drops, impl_->decap_src_drops.drops,
		g[DP_GSTAT_DECAP_UNKNOWN].drops};
}

// The simulator has no clock: the ceiling is not modelled (docs/dataplane.md).
CeilingCounters MemoryDataplane::ceiling_counters() const { return {}; }

void MemoryDataplane::set_mac_listener(MacListener listener)
{
	impl_->listener = std::move(listener);
}

void MemoryDataplane::dump_macs()
{
	if (!impl_->listener)
		return;
	for (const auto &[_, ev] : impl_->fdb)
		impl_->listener(ev);
}

int MemoryDataplane::event_fd() const { return impl_->efd.get(); }

void MemoryDataplane::process_events()
{
	std::uint64_t n;
	[[maybe_unused]] auto r = ::read(impl_->efd.get(), &n, sizeof n);
	auto pending = std::move(impl_->pending);
	impl_->pending.clear();
	if (impl_->listener)
		for (const auto &ev : pending)
			impl_->listener(ev);
}

std::string MemoryDataplane::port_name(std::uint32_t ifindex) const
{
	if (auto it = impl_->ports.find(ifindex); it != impl_->ports.end())
		return it->second.name;
	if (ifindex && ifindex == impl_->mirror_ifindex)
		return impl_->config.mirror_device;
	return "if" + std::to_string(ifindex);
}

void MemoryDataplane::add_port(std::uint32_t ifindex, std::string name,
			       std::uint32_t vni)
{
	impl_->ports[ifindex] = Port{std::move(name), vni};
}

void MemoryDataplane::add_fabric_port(std::uint32_t ifindex, std::string name,
				      std::uint32_t vni)
{
	impl_->ports[ifindex] = Port{std::move(name), vni, true, false};
}

void MemoryDataplane::set_forwarding(std::uint32_t ifindex, bool on)
{
	if (auto it = impl_->ports.find(ifindex); it != impl_->ports.end())
		it->second.forwarding = on;
}

void MemoryDataplane::remove_port(std::uint32_t ifindex)
{
	impl_->ports.erase(ifindex);
}

void MemoryDataplane::set_mirror_ifindex(std::uint32_t ifindex)
{
	impl_->mirror_ifindex = ifindex;
}

std::uint32_t MemoryDataplane::mirror_ifindex() const
{
	return impl_->mirror_ifindex;
}

void MemoryDataplane::inject_mac_event(const MacEvent &ev)
{
	auto &im = *impl_;
	auto key = std::make_pair(ev.vni, ev.mac);
	if (ev.kind == MacEvent::Kind::Learned)
		im.fdb[key] = ev;
	else
		im.fdb.erase(key);
	im.note_mac(ev);
	im.pending.push_back(ev);
	const std::uint64_t one = 1;
	[[maybe_unused]] auto r = ::write(im.efd.get(), &one, sizeof one);
}

std::vector<Output> MemoryDataplane::simulate(std::span<const std::uint8_t> frame,
					      std::uint32_t ingress,
					      std::optional<TunnelMeta> tunnel)
{
	auto &im = *impl_;
	if (ingress != 0 && ingress == im.mirror_ifindex)
		return im.decapsulate(frame, tunnel);
	auto it = im.ports.find(ingress);
	if (it == im.ports.end())
		return {}; // no program on this device
	std::vector<Output> out;
	if (!it->second.fabric)
		out = im.mirror(frame, it->second);
	for (auto &o : im.bridge(frame, ingress, it->second.vni))
		out.push_back(std::move(o));
	return out;
}

dp_action MemoryDataplane::Impl::resolved(const Record &rec) const
{
	if (rec.action.kind != Action::Kind::Server)
		return rec.raw;
	auto it = servers.find(rec.action.server);
	return it == servers.end() ? dp_action{} : codec::action(it->second);
}

bool MemoryDataplane::Impl::targets_port(std::uint32_t ifindex) const
{
	for (const auto &[_, r] : records) {
		const dp_action a = resolved(r);
		if (a.kind == DP_ACT_LOCAL && a.ifindex == ifindex)
			return true;
	}
	return false;
}

std::error_code MemoryDataplane::set_server(const ServerKey &key, const Action &target)
{
	if (!codec::valid_server(key, target))
		return std::make_error_code(std::errc::invalid_argument);
	auto &sv = impl_->servers;
	if (!sv.contains(key) && sv.size() + 1 >= impl_->config.max_entries) // slot 0 unused
		return std::make_error_code(std::errc::argument_list_too_long);
	sv[key] = codec::normalized(target);
	return {};
}

std::error_code MemoryDataplane::remove_server(const ServerKey &key)
{
	for (const auto &[_, r] : impl_->records)
		if (r.action.kind == Action::Kind::Server && r.action.server == key)
			return std::make_error_code(std::errc::device_or_resource_busy);
	impl_->servers.erase(key);
	return {};
}

std::vector<std::pair<ServerKey, Action>> MemoryDataplane::servers() const
{
	return {impl_->servers.begin(), impl_->servers.end()};
}

// Same rule as the linux backend's dp_local_mac updates.
void MemoryDataplane::Impl::note_mac(const MacEvent &ev)
{
	auto key = std::make_pair(ev.vni, ev.mac);
	if (ev.kind == MacEvent::Kind::Learned) {
		if (local_mac.size() < DP_MAX_LOCAL_MACS || local_mac.contains(key))
			local_mac[key] = ev.ifindex;
		return;
	}
	auto it = local_mac.find(key);
	if (it != local_mac.end() && it->second == ev.ifindex && !targets_port(ev.ifindex))
		local_mac.erase(it);
}

// The bridge: flood (broadcast, multicast, unknown unicast) to every port of
// the VNI but the ingress, or forward to the port of a known destination.
// Only ports with forwarding on are reported, after their egress program.
std::vector<Output> MemoryDataplane::Impl::bridge(std::span<const std::uint8_t> frame,
						  std::uint32_t ingress,
						  std::uint32_t vni)
{
	auto h = parse_frame(frame);
	if (!h)
		return {};
	std::vector<std::uint32_t> to;
	auto known = fdb.find(std::make_pair(vni, h->dst));
	if (!(h->dst[0] & 1) && known != fdb.end()) {
		to.push_back(known->second.ifindex);
	} else {
		for (const auto &[ifindex, p] : ports)
			if (p.vni == vni)
				to.push_back(ifindex);
	}
	std::vector<Output> out;
	for (auto ifindex : to) {
		auto p = ports.find(ifindex);
		if (ifindex == ingress || p == ports.end() || p->second.fabric ||
		    !p->second.forwarding || p->second.vni != vni)
			continue;
		if (!egress(frame, ifindex, vni))
			continue;
		Output o;
		o.kind = Output::Kind::Original;
		o.ifindex = ifindex;
		o.frame.assign(frame.begin(), frame.end());
		out.push_back(std::move(o));
	}
	return out;
}

// Egress program of a host port, for an original frame (copies carry the
// copy mark and always pass). Drops it when the mirror already copies it to
// the server on this port: unicast, not to a MAC learned on this port, and
// its destination has an entry 2, or its source an entry 1 or 2, whose
// action is this port.
bool MemoryDataplane::Impl::egress(std::span<const std::uint8_t> frame,
				   std::uint32_t ifindex, std::uint32_t vni)
{
	auto h = parse_frame(frame);
	if (!h || (h->dst[0] & 1))
		return true;
	if (auto it = local_mac.find(std::make_pair(vni, h->dst));
	    it != local_mac.end() && it->second == ifindex)
		return true;
	auto copies_to = [&](dp_u8 kind, dp_u8 mtype, const std::uint8_t *addr,
			     std::size_t len) {
		dp_match_key k{};
		k.vni = vni;
		k.kind = kind;
		k.mtype = mtype;
		std::copy_n(addr, len, k.addr);
		auto m = match.find(k);
		if (m == match.end())
			return false;
		return std::any_of(m->second.begin(), m->second.end(), [&](RecordPtr r) {
			const dp_action a = resolved(r->second);
			return a.kind == DP_ACT_LOCAL && a.ifindex == ifindex;
		});
	};
	auto watched = [&](dp_u8 mtype, const std::uint8_t *addr, std::size_t len,
			   bool is_src) {
		return copies_to(DP_KIND_DST, mtype, addr, len) ||
		       (is_src && copies_to(DP_KIND_SRC, mtype, addr, len));
	};
	auto watched_ip = [&](const std::optional<IpAddr> &ip, bool is_src) {
		if (!ip)
			return false;
		const bool v4 = ip->family == IpAddr::Family::V4;
		return watched(v4 ? DP_MATCH_V4 : DP_MATCH_V6, ip->bytes.data(),
			       v4 ? 4 : 16, is_src);
	};
	const bool dup = watched(DP_MATCH_MAC, h->dst.data(), 6, false) ||
			 watched(DP_MATCH_MAC, h->src.data(), 6, true) ||
			 watched_ip(h->dst_ip, false) || watched_ip(h->src_ip, true);
	if (!dup)
		return true;
	auto &g = gstat[DP_GSTAT_EGRESS_DUP];
	g.packets++;
	g.bytes += frame.size();
	g.drops++;
	return false;
}

// Mirror program (TC ingress of a host-facing port): collect every matching
// entry 1 (by source) and entry 2 (by destination), one copy per distinct
// action, at most DP_MAX_COPIES copies. Mirrors evpnmon_mirror
// (bpf/mirror.bpf.c), which is the reference: test_dataplane_bpf runs the
// same semantic table on it with BPF_PROG_TEST_RUN.
std::vector<Output> MemoryDataplane::Impl::mirror(std::span<const std::uint8_t> frame,
						  const Port &port)
{
	auto h = parse_frame(frame);
	if (!h)
		return {};
	dp_match_key keys[4];
	int nkeys = 0;
	auto add_key = [&](dp_u8 kind, dp_u8 mtype, const std::uint8_t *addr,
			   std::size_t len) {
		dp_match_key k{};
		k.vni = port.vni;
		k.kind = kind;
		k.mtype = mtype;
		std::copy_n(addr, len, k.addr);
		keys[nkeys++] = k;
	};
	auto add_ip = [&](dp_u8 kind, const std::optional<IpAddr> &ip) {
		if (!ip)
			return;
		const bool v4 = ip->family == IpAddr::Family::V4;
		add_key(kind, v4 ? DP_MATCH_V4 : DP_MATCH_V6, ip->bytes.data(),
			v4 ? 4 : 16);
	};
	// The lookup order of collect_packet() in bpf/lib/match.h: beyond
	// DP_MAX_COPIES distinct actions the earlier lookups win, so it is
	// part of the semantics (the semantic table checks it on both).
	add_key(DP_KIND_SRC, DP_MATCH_MAC, h->src.data(), 6);
	add_key(DP_KIND_DST, DP_MATCH_MAC, h->dst.data(), 6);
	add_ip(DP_KIND_SRC, h->src_ip);
	add_ip(DP_KIND_DST, h->dst_ip);

	struct Copy {
		dp_action action;
		bool ok = false;
	};
	std::vector<Copy> copies;
	std::vector<std::pair<RecordPtr, int>> matched;
	// Profiles (direction, filter, sampler, policer, truncation) and ERSPAN
	// encapsulation are the eBPF program's alone: a second implementation
	// here could only drift from it. A packet that meets one is refused,
	// before any counter moves.
	for (int i = 0; i < nkeys; ++i) {
		auto m = match.find(keys[i]);
		if (m == match.end())
			continue;
		for (RecordPtr rec : m->second) {
			if (rec->second.options.has_profile())
				throw std::logic_error(
				    "MemoryDataplane::simulate: entry of session '" +
				    rec->first.session +
				    "' has a mirror profile; profiles are simulated only by "
				    "the eBPF program (test with BPF_PROG_TEST_RUN)");
			if (rec->second.action.kind == Action::Kind::Erspan)
				throw std::logic_error(
				    "MemoryDataplane::simulate: entry of session '" +
				    rec->first.session +
				    "' sends ERSPAN copies; the encapsulation is implemented "
				    "only by the eBPF program (test with BPF_PROG_TEST_RUN)");
		}
	}
	for (int i = 0; i < nkeys; ++i) {
		auto m = match.find(keys[i]);
		if (m == match.end())
			continue;
		for (RecordPtr rec : m->second) {
			auto &c = rec->second.counters;
			c.packets++;
			c.bytes += frame.size();
			// A server's target, the same for every entry of this
			// packet (the program reads each slot once per packet).
			const dp_action act = resolved(rec->second);
			if (act.kind == DP_ACT_NONE)
				continue; // its server has no target here: no copy, no drop
			int idx = -1;
			for (std::size_t j = 0; j < copies.size(); ++j)
				if (codec::same(copies[j].action, act))
					idx = static_cast<int>(j);
			if (idx < 0 && copies.size() < DP_MAX_COPIES) {
				copies.push_back(Copy{act});
				idx = static_cast<int>(copies.size() - 1);
			}
			if (idx < 0)
				gstat[DP_GSTAT_COPY_OVERFLOW].drops++;
			matched.emplace_back(rec, idx);
		}
	}
	std::vector<Output> out;
	for (auto &cp : copies) {
		Output o;
		o.frame.assign(frame.begin(), frame.end());
		if (cp.action.kind == DP_ACT_LOCAL) {
			cp.ok = ports.contains(cp.action.ifindex);
			o.kind = Output::Kind::LocalCopy;
			o.ifindex = cp.action.ifindex;
		} else {
			cp.ok = mirror_ifindex != 0 && cp.action.kind == DP_ACT_VXLAN;
			o.kind = Output::Kind::VxlanCopy;
			std::memcpy(o.remote_vtep.data(), &cp.action.remote_vtep, 4);
			o.vni = cp.action.vni;
			o.host_id = cp.action.host_id;
		}
		if (cp.ok)
			out.push_back(std::move(o));
	}
	for (auto &[rec, idx] : matched)
		if (idx < 0 || !copies[static_cast<std::size_t>(idx)].ok)
			rec->second.counters.drops++;
	return out;
}

// Decap program (TC ingress of the mirror device): tunnel metadata, then the
// outer source is a VTEP of the VNI, then entry 3 for (VNI, HOST ID).
std::vector<Output>
MemoryDataplane::Impl::decapsulate(std::span<const std::uint8_t> frame,
				   const std::optional<TunnelMeta> &tun)
{
	if (!tun) {
		gstat[DP_GSTAT_DECAP_NOMETA].drops++;
		return {};
	}
	if (!decap_src.contains(std::make_pair(tun->vni, tun->remote_vtep))) {
		decap_src_drops.packets++;
		decap_src_drops.bytes += frame.size();
		decap_src_drops.drops++;
		return {};
	}
	dp_decap_key k{};
	k.vni = tun->vni;
	k.host_id = tun->host_id;
	auto it = decap.find(k);
	if (it == decap.end()) {
		auto &g = gstat[DP_GSTAT_DECAP_UNKNOWN];
		g.packets++;
		g.bytes += frame.size();
		g.drops++;
		return {};
	}
	auto &rec = it->second->second;
	rec.counters.packets++;
	rec.counters.bytes += frame.size();
	if (!ports.contains(rec.action.ifindex)) {
		rec.counters.drops++;
		return {};
	}
	Output o;
	o.kind = Output::Kind::Deliver;
	o.ifindex = rec.action.ifindex;
	o.frame.assign(frame.begin(), frame.end());
	return {o};
}

std::string to_string(const Output &o)
{
	char buf[128];
	switch (o.kind) {
	case Output::Kind::LocalCopy:
		std::snprintf(buf, sizeof buf, "copy->port %u", o.ifindex);
		break;
	case Output::Kind::VxlanCopy:
		std::snprintf(buf, sizeof buf,
			      "copy->vxlan vtep %u.%u.%u.%u vni %u host-id %u",
			      o.remote_vtep[0], o.remote_vtep[1], o.remote_vtep[2],
			      o.remote_vtep[3], o.vni, o.host_id);
		break;
	case Output::Kind::Deliver:
		std::snprintf(buf, sizeof buf, "deliver->port %u", o.ifindex);
		break;
	case Output::Kind::Original:
		std::snprintf(buf, sizeof buf, "original->port %u", o.ifindex);
		break;
	}
	return std::string(buf) + " (" + std::to_string(o.frame.size()) + " bytes)";
}

} // namespace evpnmon::dp
