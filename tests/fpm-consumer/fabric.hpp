// Test helper: N VTEPs, each with its own dataplane and consumer engine, all
// in one process. A host "lives" at one VTEP: that VTEP learns it locally
// (dataplane MAC event) and every other VTEP hears it from zebra's FPM stream
// as a remote MAC behind the host's VTEP, exactly as in the real fabric.
#pragma once

#include "core/engine.hpp"
#include "core/session_route.hpp"
#include <evpnmon/dataplane/memory.hpp>

#include <cstdio>
#include <map>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace evpnmon::test {

using consumer::Ipv4;
using dp::Mac;

inline constexpr std::uint32_t kVni = 1000;
inline constexpr std::uint32_t kVxlanIfindex = 100;

// The action a packet meets: an entry naming a server, its server's target
// (the Server action itself if the server is not set).
inline dp::Action resolved(const dp::Dataplane &dataplane, const dp::Action &a)
{
	if (a.kind != dp::Action::Kind::Server)
		return a;
	for (const auto &[k, target] : dataplane.servers())
		if (k == a.server)
			return target;
	return a;
}

// Key -> resolved action of every installed entry that copies: an entry
// whose server has no target here (Unresolved) copies nothing and is left
// out (listed() has it).
inline std::map<dp::EntryKey, dp::Action> resolved_entries(const dp::Dataplane &dataplane)
{
	std::map<dp::EntryKey, dp::Action> m;
	for (const auto &e : dataplane.list())
		if (auto a = resolved(dataplane, e.action); a.kind != dp::Action::Kind::Unresolved)
			m[e.key] = a;
	return m;
}

// The action of an entry naming server (kVni, mac, host_id).
inline dp::Action server_named(const Mac &mac, std::uint16_t host_id)
{
	return dp::Action::naming(dp::ServerKey{kVni, mac, host_id});
}

struct Vtep {
	std::string name;
	Ipv4 ip;
	dp::MemoryDataplane dataplane;
	std::unique_ptr<consumer::Engine> engine;

	// Key -> action a packet meets, entries that copy (the options are
	// checked with specs()).
	std::map<dp::EntryKey, dp::Action> entries() const { return resolved_entries(dataplane); }
	// Key -> resolved action of every installed entry, Unresolved ones too.
	std::map<dp::EntryKey, dp::Action> listed() const
	{
		std::map<dp::EntryKey, dp::Action> m;
		for (const auto &e : dataplane.list())
			m[e.key] = resolved(dataplane, e.action);
		return m;
	}
	consumer::EntryMap specs() const
	{
		consumer::EntryMap m;
		for (const auto &e : dataplane.list())
			if (auto a = resolved(dataplane, e.action); a.kind != dp::Action::Kind::Unresolved)
				m[e.key] = consumer::EntrySpec(a, e.options);
		return m;
	}
};

inline constexpr std::uint32_t kMirrorIfindex = 999;

class Fabric {
public:
	explicit Fabric(const std::vector<std::pair<std::string, Ipv4>> &vteps)
	{
		for (const auto &[name, ip] : vteps) {
			auto v = std::make_unique<Vtep>();
			v->name = name;
			v->ip = ip;
			v->dataplane.set_mirror_ifindex(kMirrorIfindex);
			consumer::EngineConfig cfg;
			cfg.decision.local_vnis = {kVni};
			cfg.vxlan_ifindex_to_vni = {{kVxlanIfindex, kVni}};
			v->engine = std::make_unique<consumer::Engine>(v->dataplane, cfg);
			for (auto g : {consumer::Gate::Feed, consumer::Gate::LocalMacs, consumer::Gate::Fpm})
				v->engine->open_gate(g);
			vteps_.push_back(std::move(v));
		}
		// Every VTEP has a route to every other VTEP (learnt via BGP, sent by FPM).
		for (auto &v : vteps_)
			for (auto &o : vteps_)
				if (v != o) {
					consumer::RouteUpdate r;
					r.dst = o->ip;
					r.dst_len = 32;
					r.table = 254;
					r.type = 1; // RTN_UNICAST
					v->engine->route(r);
					// zebra's flood entry for the VTEP (from its IMET
					// route): the VNI's decapsulation source.
					consumer::NeighUpdate flood;
					flood.ifindex = kVxlanIfindex;
					flood.mac = Mac{};
					flood.dst = o->ip;
					flood.flags = 0x02; // NTF_SELF
					flood.state = 0x80 | 0x40; // NUD_PERMANENT | NUD_NOARP
					v->engine->neigh(consumer::MacSource::Kernel, flood);
				}
	}

	Vtep &operator[](const std::string &name)
	{
		for (auto &v : vteps_)
			if (v->name == name)
				return *v;
		throw std::out_of_range(name);
	}
	std::vector<std::unique_ptr<Vtep>> &vteps() { return vteps_; }

	// Place (or move) a MAC behind `port` of VTEP `at`.
	void place(const Mac &mac, const std::string &at, std::uint32_t port)
	{
		auto &home = (*this)[at];
		for (auto &v : vteps_) {
			if (v.get() == &home) {
				v->dataplane.add_port(port, "p" + std::to_string(port), kVni);
				v->engine->local_mac({dp::MacEvent::Kind::Learned, mac, port, kVni, 0});
				// zebra withdraws its remote entry once the MAC is local here
				consumer::NeighUpdate del;
				del.add = false;
				del.ifindex = kVxlanIfindex;
				del.mac = mac;
				v->engine->neigh(consumer::MacSource::Fpm, del);
			} else {
				consumer::NeighUpdate add;
				add.ifindex = kVxlanIfindex;
				add.mac = mac;
				add.dst = home.ip;
				v->engine->neigh(consumer::MacSource::Fpm, add);
				v->engine->local_mac({dp::MacEvent::Kind::Removed, mac, 0, kVni, 0});
			}
		}
	}

	// The MAC is not seen any more (aged out of `at`'s bridge behind
	// `port`; zebra withdraws its type-2 everywhere else).
	void forget(const Mac &mac, const std::string &at, std::uint32_t port)
	{
		auto &home = (*this)[at];
		for (auto &v : vteps_) {
			if (v.get() == &home) {
				v->engine->local_mac({dp::MacEvent::Kind::Removed, mac, port, kVni, 0});
			} else {
				consumer::NeighUpdate del;
				del.add = false;
				del.ifindex = kVxlanIfindex;
				del.mac = mac;
				v->engine->neigh(consumer::MacSource::Fpm, del);
			}
		}
	}

	void add_session(const consumer::Session &s)
	{
		for (auto &v : vteps_)
			v->engine->upsert_session(s);
	}

	void converge()
	{
		for (auto &v : vteps_)
			v->engine->reconcile();
	}

private:
	std::vector<std::unique_ptr<Vtep>> vteps_;
};

inline Ipv4 ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
{
	return {a, b, c, d};
}

inline consumer::Session make_session(const Mac &host, const Mac &server, std::uint16_t host_id,
				 Ipv4 originator = {})
{
	consumer::Session s;
	s.key.vni = kVni;
	s.key.host_mac = host;
	s.key.host_id = host_id;
	s.key.originator = originator;
	s.key.rd = "192.0.2.1:2";
	s.server_mac = server;
	s.id = consumer::make_session_id(s.key); // as the feed gives it
	return s;
}

// A mirror profile for tests: direction (evpn_mon_direction), 1-in-N
// sampler, a name.
inline session::Options test_profile(const char *name, std::uint8_t direction = EVPN_MON_DIR_BOTH,
				     std::uint32_t sample = 0)
{
	evpn_mon_options o{};
	o.present = 1;
	o.direction = direction;
	o.sample = sample;
	std::snprintf(o.name, sizeof(o.name), "%s", name);
	return session::Options(o);
}

// The key of an entry. Entries 1/2 belong to the session of (host, HOST ID,
// originator) as make_session() makes it; Decap entries to none.
inline dp::EntryKey key(dp::EntryKind kind, const std::optional<Mac> &host, std::uint16_t host_id,
			Ipv4 originator = {})
{
	dp::EntryKey k;
	k.kind = kind;
	k.vni = kVni;
	if (host)
		k.host.mac = *host;
	k.host_id = host_id;
	if (kind != dp::EntryKind::Decap && host)
		k.session = make_session(*host, Mac{2, 0, 0, 0, 0, 1}, host_id, originator).id;
	return k;
}

// The key of an entry of session `s`.
inline dp::EntryKey key(dp::EntryKind kind, const consumer::Session &s)
{
	dp::EntryKey k;
	k.kind = kind;
	k.vni = s.key.vni;
	k.host_id = s.key.host_id;
	if (kind != dp::EntryKind::Decap) {
		k.host = {s.key.host_mac, s.key.host_ip};
		k.session = s.id;
	}
	return k;
}

inline dp::Action local_port(std::uint32_t ifindex)
{
	dp::Action a;
	a.kind = dp::Action::Kind::LocalPort;
	a.ifindex = ifindex;
	return a;
}

inline dp::IpAddr ipv4_addr(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
{
	dp::IpAddr ip;
	ip.family = dp::IpAddr::Family::V4;
	ip.bytes = {a, b, c, d};
	return ip;
}

// A collector's ERSPAN encapsulation, over an optional profile.
inline session::Options erspan_options(std::uint8_t version, std::uint16_t span_id,
				       std::uint8_t dscp = 0, std::uint8_t ttl = 64,
				       std::uint16_t gre_proto = 0,
				       const session::Options &profile = {})
{
	evpn_mon_options o = profile.c();
	o.erspan.version = version;
	o.erspan.span_id = span_id;
	o.erspan.dscp = dscp;
	o.erspan.ttl = ttl;
	o.erspan.gre_proto = gre_proto;
	return session::Options(o);
}

// A collector session of `host` to collector `collector_id` at `collector`,
// as the feed gives it (id "ORIGINATOR/VNI/cID/HOST-MAC/-").
inline consumer::Session make_collector_session(const Mac &host, std::uint16_t collector_id,
						const dp::IpAddr &collector,
						const session::Options &options, Ipv4 originator = {})
{
	consumer::Session s;
	s.key.vni = kVni;
	s.key.host_mac = host;
	s.key.host_id = collector_id;
	s.key.collector = true;
	s.key.originator = originator;
	s.key.rd = "192.0.2.1:2";
	s.server_ip = collector;
	s.options = options;
	s.id = consumer::make_session_id(s.key);
	return s;
}

// The action of a collector session's entries.
inline dp::Action erspan_to(const dp::IpAddr &collector, std::uint8_t version,
			    std::uint16_t span_id, std::uint8_t dscp = 0, std::uint8_t ttl = 64,
			    std::uint16_t gre_proto = 0)
{
	dp::Action a;
	a.kind = dp::Action::Kind::Erspan;
	a.erspan.collector = collector;
	a.erspan.version = version;
	a.erspan.span_id = span_id;
	a.erspan.dscp = dscp;
	a.erspan.ttl = ttl;
	a.erspan.gre_proto = gre_proto;
	return a;
}

inline dp::Action vxlan_to(Ipv4 vtep, std::uint16_t host_id)
{
	dp::Action a;
	a.kind = dp::Action::Kind::Vxlan;
	a.remote_vtep = vtep;
	a.vni = kVni;
	a.host_id = host_id;
	return a;
}

} // namespace evpnmon::test
