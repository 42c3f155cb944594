// Test helper: a packet-level model of the dataplane contract the consumer
// relies on, to check the exactly-once rule on a whole fabric:
//  - a packet is seen once, at TC ingress of the host port where it enters;
//  - there every matching entry 1 (src) and entry 2 (dst) is collected and one
//    copy is emitted per DISTINCT action;
//  - a LocalPort copy reaches whatever sits behind that port of that VTEP;
//  - a Vxlan copy reaches the target VTEP, whose entry 3 for the HOST ID
//    delivers it to a port (no entry 3 -> dropped).
#pragma once

#include "fabric.hpp"

#include <map>
#include <set>

namespace evpnmon::test {

struct Endpoint {
	std::string vtep;
	std::uint32_t port;
};

// Copies each MAC (server) receives for one packet src -> dst.
inline std::map<Mac, int> copies_for_packet(Fabric &fabric, const std::map<Mac, Endpoint> &where,
					    const Mac &src, const Mac &dst)
{
	std::map<Mac, int> got;
	const auto &ingress = fabric[where.at(src).vtep];
	std::set<dp::Action> actions;
	for (const auto &[k, a] : ingress.dataplane.entries) {
		if (k.kind == dp::EntryKind::MirrorSource && k.host.mac == src)
			actions.insert(a);
		if (k.kind == dp::EntryKind::MirrorDest && k.host.mac == dst)
			actions.insert(a);
	}
	auto who = [&](const std::string &vtep, std::uint32_t port) -> std::optional<Mac> {
		for (const auto &[mac, ep] : where)
			if (ep.vtep == vtep && ep.port == port)
				return mac;
		return std::nullopt;
	};
	for (const auto &a : actions) {
		std::optional<Mac> receiver;
		if (a.kind == dp::Action::Kind::LocalPort) {
			receiver = who(ingress.name, a.ifindex);
		} else {
			for (auto &v : fabric.vteps()) {
				if (v->ip != a.remote_vtep)
					continue;
				for (const auto &[k, d] : v->dataplane.entries)
					if (k.kind == dp::EntryKind::Decap && k.vni == a.vni &&
					    k.host_id == a.host_id)
						receiver = who(v->name, d.ifindex);
			}
		}
		if (receiver)
			++got[*receiver];
	}
	return got;
}

} // namespace evpnmon::test
