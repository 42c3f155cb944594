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

// Copies each MAC (server) receives for one packet src -> dst, computed by
// running the packet through the in-memory dataplane simulator of the ingress
// VTEP and every VXLAN copy through the target VTEP's decap program.
inline std::map<Mac, int> copies_for_packet(Fabric &fabric, const std::map<Mac, Endpoint> &where,
					    const Mac &src, const Mac &dst)
{
	std::vector<std::uint8_t> frame(14 + 20, 0);
	std::copy(dst.begin(), dst.end(), frame.begin());
	std::copy(src.begin(), src.end(), frame.begin() + 6);
	frame[12] = 0x08; // IPv4
	frame[14] = 0x45;
	auto who = [&](const std::string &vtep, std::uint32_t port) -> std::optional<Mac> {
		for (const auto &[mac, ep] : where)
			if (ep.vtep == vtep && ep.port == port)
				return mac;
		return std::nullopt;
	};
	std::map<Mac, int> got;
	auto &ingress = fabric[where.at(src).vtep];
	for (const auto &out : ingress.dataplane.simulate(frame, where.at(src).port)) {
		std::optional<Mac> receiver;
		if (out.kind == dp::Output::Kind::LocalCopy) {
			receiver = who(ingress.name, out.ifindex);
		} else if (out.kind == dp::Output::Kind::VxlanCopy) {
			for (auto &v : fabric.vteps()) {
				if (v->ip != out.remote_vtep)
					continue;
				dp::TunnelMeta meta{out.vni, out.host_id, ingress.ip};
				for (const auto &d : v->dataplane.simulate(out.frame, kMirrorIfindex, meta))
					if (d.kind == dp::Output::Kind::Deliver)
						receiver = who(v->name, d.ifindex);
			}
		}
		if (receiver)
			++got[*receiver];
	}
	return got;
}

} // namespace evpnmon::test
