#include "codec.hpp"

#include <algorithm>

namespace evpnmon::dp::codec {

static_assert(kMaxEntries == DP_MAX_ENTRIES);
static_assert(kMaxEntriesPerMatch == DP_MAX_ACTIONS);
static_assert(kMaxCopiesPerPacket == DP_MAX_COPIES);

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
	if (a.kind == Action::Kind::LocalPort) {
		d.kind = DP_ACT_LOCAL;
		d.ifindex = a.ifindex;
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
	if (d.kind == DP_ACT_LOCAL) {
		a.kind = Action::Kind::LocalPort;
		a.ifindex = d.ifindex;
	} else {
		a.kind = Action::Kind::Vxlan;
		a.host_id = d.host_id;
		std::memcpy(a.remote_vtep.data(), &d.remote_vtep, 4);
		a.vni = d.vni;
	}
	return a;
}

dp_decap_key decap_key(const EntryKey &key)
{
	dp_decap_key k{};
	k.vni = key.vni;
	k.host_id = key.host_id;
	return k;
}

dp_entry_meta meta(const Entry &e)
{
	dp_entry_meta m{};
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
	return e;
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
		if (e.action.kind == Action::Kind::Vxlan &&
		    (e.action.vni == 0 || e.action.vni > 0xffffff ||
		     e.action.host_id == 0 || load_be(e.action.remote_vtep) == 0))
			return fail("VXLAN action needs VNI, HOST ID and VTEP");
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
	return true;
}

} // namespace evpnmon::dp::codec
