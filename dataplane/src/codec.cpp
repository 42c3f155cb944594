#include "codec.hpp"

#include "lib/bucket.h"

#include <algorithm>
#include <cstring>

namespace evpnmon::dp::codec {

static_assert(kDefaultMaxEntries == DP_MAX_ENTRIES);
static_assert(kMaxEntriesLimit <= 0xffffffffu); // slot indexes are dp_u32
static_assert(kMaxEntriesPerMatch == DP_MAX_ACTIONS);
static_assert(kMaxCopiesPerPacket == DP_MAX_COPIES);
static_assert(DP_MAX_FILTERS == EVPN_MON_MAX_FILTERS);
static_assert(DP_MAX_UDFS == EVPN_MON_MAX_UDFS);
static_assert(sizeof(dp_entry_meta::opts) >= EVPN_MON_OPTIONS_MAX_LEN);

dp_match_key match_key(const EntryKey &key)
{
	dp_match_key k{};
	k.vni = key.vni;
	k.kind = key.kind == EntryKind::MirrorSource ? DP_KIND_SRC : DP_KIND_DST;
	if (key.host.mac) {
		k.mtype = DP_MATCH_MAC;
		std::copy(key.host.mac->begin(), key.host.mac->end(), k.addr);
	} else if (key.host.ip) {
		const bool v4 = key.host.ip->family == IpAddr::Family::V4;
		k.mtype = v4 ? DP_MATCH_V4 : DP_MATCH_V6;
		std::copy_n(key.host.ip->bytes.begin(), v4 ? 4 : 16, k.addr);
	}
	return k;
}

static dp_u32 load_be(const std::array<std::uint8_t, 4> &a)
{
	dp_u32 v;
	std::memcpy(&v, a.data(), 4);
	return v;
}

dp_action action(const Action &a)
{
	dp_action d{};
	if (a.kind == Action::Kind::Unresolved)
		return d; // kind 0: no copy
	if (a.kind == Action::Kind::LocalPort) {
		d.kind = DP_ACT_LOCAL;
		d.ifindex = a.ifindex;
	} else if (a.kind == Action::Kind::Erspan) {
		// ifindex = the destination slot, set by the entry store.
		d.kind = DP_ACT_ERSPAN;
		std::memcpy(&d.remote_vtep, a.erspan.collector.bytes.data(), 4);
	} else if (a.kind == Action::Kind::Server) {
		// ifindex = the server's slot, set by the entry store; VNI and
		// HOST ID tell a restarted process which server a slot holds.
		d.kind = DP_ACT_SERVER;
		d.vni = a.server.vni;
		d.host_id = a.server.host_id;
	} else {
		d.kind = DP_ACT_VXLAN;
		d.host_id = a.host_id;
		d.remote_vtep = load_be(a.remote_vtep);
		d.vni = a.vni;
	}
	return d;
}

Action action(const dp_action &d)
{
	Action a;
	if (d.kind == DP_ACT_NONE) {
		a.kind = Action::Kind::Unresolved;
	} else if (d.kind == DP_ACT_LOCAL) {
		a.kind = Action::Kind::LocalPort;
		a.ifindex = d.ifindex;
	} else if (d.kind == DP_ACT_SERVER) {
		// The MAC is in the server's slot (dp_server).
		a.kind = Action::Kind::Server;
		a.server.vni = d.vni;
		a.server.host_id = d.host_id;
	} else if (d.kind == DP_ACT_ERSPAN) {
		// The rest of the destination is in its slot (dp_erspan).
		a.kind = Action::Kind::Erspan;
		a.erspan.collector.family = IpAddr::Family::V4;
		std::memcpy(a.erspan.collector.bytes.data(), &d.remote_vtep, 4);
	} else {
		a.kind = Action::Kind::Vxlan;
		a.host_id = d.host_id;
		std::memcpy(a.remote_vtep.data(), &d.remote_vtep, 4);
		a.vni = d.vni;
	}
	return a;
}

dp_erspan erspan(const Erspan &e)
{
	dp_erspan d{};
	std::memcpy(&d.collector, e.collector.bytes.data(), 4);
	d.version = e.version;
	d.dscp = e.dscp;
	d.ttl = e.ttl;
	d.span_id = e.span_id;
	d.gre_proto_cfg = e.gre_proto;
	d.gre_proto = e.gre_proto ? e.gre_proto
		      : e.version == 3 ? DP_ERSPAN_GRE_III
				       : DP_ERSPAN_GRE_II;
	return d;
}

Erspan erspan(const dp_erspan &d)
{
	Erspan e;
	e.collector.family = IpAddr::Family::V4;
	std::memcpy(e.collector.bytes.data(), &d.collector, 4);
	e.version = d.version;
	e.dscp = d.dscp;
	e.ttl = d.ttl;
	e.span_id = d.span_id;
	e.gre_proto = d.gre_proto_cfg;
	return e;
}

dp_decap_key decap_key(const EntryKey &key)
{
	dp_decap_key k{};
	k.vni = key.vni;
	k.host_id = key.host_id;
	return k;
}

dp_entry_meta meta(const Entry &e, dp_u32 prof)
{
	dp_entry_meta m{};
	m.prof = prof;
	std::copy_n(e.key.session.data(),
		    std::min(e.key.session.size(), sizeof m.session - 1), m.session);
	const auto area = e.options.encode();
	if (area.size() <= sizeof m.opts) {
		m.opt_len = static_cast<dp_u16>(area.size());
		std::copy(area.begin(), area.end(), m.opts);
	}
	m.kind = static_cast<dp_u8>(e.key.kind);
	m.vni = e.key.vni;
	m.host_id = e.key.host_id;
	if (e.key.host.mac) {
		m.has_mac = 1;
		std::copy(e.key.host.mac->begin(), e.key.host.mac->end(), m.mac);
	}
	if (e.key.host.ip) {
		m.has_ip = 1;
		m.ip_family = static_cast<dp_u8>(e.key.host.ip->family);
		std::copy(e.key.host.ip->bytes.begin(), e.key.host.ip->bytes.end(),
			  m.ip);
	}
	m.action = action(e.action);
	return m;
}

Entry entry(const dp_entry_meta &m)
{
	Entry e;
	e.key.kind = static_cast<EntryKind>(m.kind);
	e.key.vni = m.vni;
	e.key.host_id = m.host_id;
	if (m.has_mac) {
		Mac mac;
		std::copy_n(m.mac, 6, mac.begin());
		e.key.host.mac = mac;
	}
	if (m.has_ip) {
		IpAddr ip;
		ip.family = static_cast<IpAddr::Family>(m.ip_family);
		std::copy_n(m.ip, 16, ip.bytes.begin());
		e.key.host.ip = ip;
	}
	e.action = action(m.action);
	e.key.session.assign(m.session, strnlen(m.session, sizeof m.session));
	if (m.opt_len && m.opt_len <= sizeof m.opts)
		e.options = session::Options::decode({m.opts, m.opt_len});
	return e;
}

namespace {

void prefix(const evpn_mon_prefix &p, std::size_t alen, dp_u8 addr[16], dp_u8 mask[16])
{
	const std::size_t bits = std::min<std::size_t>(p.len, alen * 8);
	for (std::size_t i = 0; i < 16; ++i) {
		std::size_t b = bits > i * 8 ? std::min<std::size_t>(bits - i * 8, 8) : 0;
		mask[i] = static_cast<dp_u8>(b ? 0xff << (8 - b) : 0);
		addr[i] = static_cast<dp_u8>(p.addr[i] & mask[i]);
	}
}

} // namespace

dp_profile profile(const session::Options &options)
{
	const evpn_mon_options &o = options.c();
	dp_profile d{};
	d.direction = o.direction == EVPN_MON_DIR_RX   ? DP_DIR_RX
		      : o.direction == EVPN_MON_DIR_TX ? DP_DIR_TX
						       : DP_DIR_RX | DP_DIR_TX;
	d.truncate = o.truncate;
	d.sample_n = o.sample;
	// p = thr / 2^32 = 1/N; 2^32 / N fits 32 bits for N >= 2.
	d.sample_thr = o.sample > 1
			   ? static_cast<dp_u32>((std::uint64_t{1} << 32) / o.sample)
			   : 0;
	if (o.police_unit == EVPN_MON_POLICE_PPS || o.police_unit == EVPN_MON_POLICE_BPS) {
		const bool pps = o.police_unit == EVPN_MON_POLICE_PPS;
		d.police_unit = pps ? DP_POLICE_PPS : DP_POLICE_BPS;
		// bps: tokens are octets (rate in bits/s), at least 1 octet/s.
		d.police_rate = std::max<std::uint64_t>(pps ? o.police_rate : o.police_rate / 8, 1);
		const std::uint64_t burst = std::max<std::uint64_t>(o.police_burst, 1);
		d.police_burst = burst * DP_TOKEN_SCALE;
		d.police_fill_ns = dp_bucket_fill_ns(d.police_burst, d.police_rate);
	}
	const std::size_t nf = std::min<std::size_t>(o.nfilters, DP_MAX_FILTERS);
	d.nfilters = static_cast<dp_u8>(nf);
	for (std::size_t i = 0; i < nf; ++i) {
		const evpn_mon_filter &f = o.filters[i];
		dp_filter &g = d.filters[i];
		g.family = f.family;
		g.proto = f.proto;
		const std::size_t alen = f.family == 6 ? 16 : 4;
		if (f.family && f.src.len) {
			g.flags |= DP_FF_SRC;
			prefix(f.src, alen, g.src_addr, g.src_mask);
		}
		if (f.family && f.dst.len) {
			g.flags |= DP_FF_DST;
			prefix(f.dst, alen, g.dst_addr, g.dst_mask);
		}
		if (evpn_mon_filter_has_sport(&f)) {
			g.flags |= DP_FF_SPORT;
			g.sport_lo = f.sport_lo;
			g.sport_hi = f.sport_hi;
		}
		if (evpn_mon_filter_has_dport(&f)) {
			g.flags |= DP_FF_DPORT;
			g.dport_lo = f.dport_lo;
			g.dport_hi = f.dport_hi;
		}
		const std::size_t nu = std::min<std::size_t>(f.nudf, DP_MAX_UDFS);
		g.nudf = static_cast<dp_u8>(nu);
		bool l45 = false;
		for (std::size_t u = 0; u < nu; ++u) {
			g.udf[u].base = f.udf[u].base;
			g.udf[u].offset = f.udf[u].offset;
			g.udf[u].mask = f.udf[u].mask;
			g.udf[u].value = static_cast<dp_u16>(f.udf[u].value & f.udf[u].mask);
			l45 |= f.udf[u].base != EVPN_MON_UDF_L3;
		}
		if (f.family || f.proto || (g.flags & (DP_FF_SPORT | DP_FF_DPORT)) || l45)
			g.flags |= DP_FF_IP;
	}
	return d;
}

bool valid_server(const ServerKey &key, const Action &target, std::string *why)
{
	auto fail = [&](const char *msg) {
		if (why)
			*why = msg;
		return false;
	};
	if (key.vni == 0 || key.vni > 0xffffff)
		return fail("VNI must be 1..16777215");
	if (key.host_id == 0)
		return fail("HOST ID must be 1..65535");
	if (target.kind == Action::Kind::Unresolved)
		return true;
	if (target.kind == Action::Kind::LocalPort)
		return target.ifindex != 0 || fail("local-port target needs an ifindex");
	if (target.kind != Action::Kind::Vxlan)
		return fail("a server's target is a local port, VXLAN or unresolved");
	if (target.vni != key.vni || target.host_id != key.host_id)
		return fail("a server's VXLAN target carries its VNI and HOST ID");
	if (load_be(target.remote_vtep) == 0)
		return fail("VXLAN target needs a VTEP");
	return true;
}

bool valid(const Entry &e, std::string *why)
{
	auto fail = [&](const char *msg) {
		if (why)
			*why = msg;
		return false;
	};
	if (e.key.vni == 0 || e.key.vni > 0xffffff)
		return fail("VNI must be 1..16777215");
	if (e.key.host_id == 0)
		return fail("HOST ID must be 1..65535");
	switch (e.key.kind) {
	case EntryKind::MirrorSource:
	case EntryKind::MirrorDest:
		if (!e.key.host.mac && !e.key.host.ip)
			return fail("entry 1/2 needs a MAC or an IP");
		if (e.action.kind == Action::Kind::Unresolved)
			return fail("entry 1/2 needs a target (only a server's may be unresolved)");
		if (e.action.kind == Action::Kind::Vxlan &&
		    (e.action.vni == 0 || e.action.vni > 0xffffff ||
		     e.action.host_id == 0 || load_be(e.action.remote_vtep) == 0))
			return fail("VXLAN action needs VNI, HOST ID and VTEP");
		if (e.action.kind == Action::Kind::Server &&
		    (e.action.server.vni == 0 || e.action.server.vni > 0xffffff ||
		     e.action.server.host_id == 0))
			return fail("server action needs the server's VNI and HOST ID");
		if (e.action.kind == Action::Kind::Erspan) {
			const Erspan &x = e.action.erspan;
			if (x.collector.family != IpAddr::Family::V4)
				return fail("ERSPAN collector must be IPv4");
			std::array<std::uint8_t, 4> c{};
			std::copy_n(x.collector.bytes.begin(), 4, c.begin());
			if (load_be(c) == 0)
				return fail("ERSPAN action needs a collector address");
			if (x.version != 2 && x.version != 3)
				return fail("ERSPAN version must be 2 or 3");
			if (x.span_id > 1023 || x.dscp > 63 || x.ttl == 0)
				return fail("ERSPAN session id 0..1023, dscp 0..63, ttl 1..255");
		}
		break;
	case EntryKind::Decap:
		if (e.key.host.mac || e.key.host.ip)
			return fail("decap entry must not carry a host match");
		if (e.action.kind != Action::Kind::LocalPort)
			return fail("decap entry action must be a local port");
		break;
	default:
		return fail("unknown entry kind");
	}
	if (e.action.kind == Action::Kind::LocalPort && e.action.ifindex == 0)
		return fail("local-port action needs an ifindex");
	if (e.options.has_profile() && e.options.validate() != EVPN_MON_OPT_OK)
		return fail(evpn_mon_opt_strerror(e.options.validate()));
	return true;
}

} // namespace evpnmon::dp::codec
