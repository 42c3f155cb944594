// Replay of a real FPM stream recorded from stock zebra 8.4.4
// (integration/record_capture.sh): decoding, and the consumer's decisions
// frame by frame.
#include "core/engine.hpp"
#include "fabric.hpp"
#include "fpm/fpm_framer.hpp"
#include "fpm/netlink_decoder.hpp"

#include <evpnmon/dataplane/memory.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <sstream>

using namespace evpnmon;
using namespace evpnmon::test;
using namespace evpnmon::consumer;

#ifndef FPMC_DATA_DIR
#error FPMC_DATA_DIR
#endif

namespace {

struct Capture {
	std::vector<std::uint8_t> bytes;
	std::uint32_t vxlan_ifindex = 0;
};

Capture load(const std::string &name)
{
	Capture c;
	std::ifstream f(std::string(FPMC_DATA_DIR) + "/" + name + ".fpm", std::ios::binary);
	REQUIRE(f.good());
	c.bytes.assign(std::istreambuf_iterator<char>(f), {});
	std::ifstream m(std::string(FPMC_DATA_DIR) + "/" + name + ".meta");
	std::string tok;
	while (m >> tok)
		if (tok.rfind("vxlan100_ifindex=", 0) == 0)
			c.vxlan_ifindex = static_cast<std::uint32_t>(std::stoul(tok.substr(17)));
	REQUIRE(c.vxlan_ifindex != 0);
	return c;
}

// Forwards decoded updates to an engine as the FPM source, and remembers them.
struct EngineSink : fpm::UpdateSink {
	Engine &e;
	std::vector<NeighUpdate> neighs;
	explicit EngineSink(Engine &engine) : e(engine) {}
	void on_neigh(const NeighUpdate &u) override
	{
		neighs.push_back(u);
		e.neigh(MacSource::Fpm, u);
	}
	void on_route(const RouteUpdate &u) override { e.route(u); }
	void on_nexthop(const NexthopUpdate &u) override { e.nexthop(u); }
};

const Mac MAC_A{2, 0, 0, 0, 2, 0x10}, MAC_B{2, 0, 0, 0, 2, 0x20}, LOCAL_HOST{2, 0, 0, 0, 1, 1};
const Ipv4 LEAF2{10, 0, 0, 2};

} // namespace

TEST_CASE("stock zebra 8.4.4 capture decodes cleanly")
{
	auto cap = load("zebra-8.4.4-evpn");
	fpm::Framer framer;
	framer.feed(cap.bytes);
	struct Count : fpm::UpdateSink {
		int neigh_add = 0, neigh_del = 0, routes = 0, nexthops = 0;
		void on_neigh(const NeighUpdate &u) override { (u.add ? neigh_add : neigh_del)++; }
		void on_route(const RouteUpdate &) override { ++routes; }
		void on_nexthop(const NexthopUpdate &) override { ++nexthops; }
	} sink;
	fpm::DecodeCounters c;
	fpm::Frame f;
	int frames = 0;
	while (framer.next(f) == fpm::Framer::Status::Frame) {
		++frames;
		CHECK(f.type == fpm::kTypeNetlink);
		CHECK(fpm::decode_netlink(f.payload, sink, c));
	}
	CHECK(framer.buffered() == 0);
	CHECK(c.malformed == 0);
	CHECK(sink.neigh_add == 1); // MAC B only: MAC A was installed before the connection
	CHECK(sink.neigh_del == 2);
	CHECK(sink.routes >= 1);
	CHECK(sink.nexthops >= 1);
	CHECK(frames == static_cast<int>(c.messages)); // zebra: one message per frame here
}

TEST_CASE("replay: the consumer follows MAC B and shows the 8.4.4 replay gap for MAC A")
{
	auto cap = load("zebra-8.4.4-evpn");
	dp::MemoryDataplane dataplane;
	EngineConfig cfg;
	cfg.decision.local_vnis = {100};
	cfg.vxlan_ifindex_to_vni = {{cap.vxlan_ifindex, 100}};
	Engine e(dataplane, cfg);
	for (auto g : {Gate::Feed, Gate::LocalMacs, Gate::Fpm})
		e.open_gate(g);
	dataplane.add_port(5, "host1", 100);
	e.local_mac({dp::MacEvent::Kind::Learned, LOCAL_HOST, 5, 100, 0});
	Session s;
	s.key.vni = 100;
	s.key.host_mac = LOCAL_HOST;
	s.key.host_id = 7;
	s.server_mac = MAC_B; // the monitoring server is MAC B
	e.upsert_session(s);

	EngineSink sink(e);
	fpm::Framer framer;
	framer.feed(cap.bytes);
	fpm::DecodeCounters c;
	fpm::Frame f;
	bool saw_b = false, saw_b_gone = false;
	while (framer.next(f) == fpm::Framer::Status::Frame) {
		const auto before = sink.neighs.size();
		fpm::decode_netlink(f.payload, sink, c);
		e.reconcile();
		if (sink.neighs.size() == before)
			continue;
		const auto &u = sink.neighs.back();
		if (u.mac == MAC_B && u.add) {
			saw_b = true;
			CHECK(e.macs().locate(100, MAC_B) == MacLocation::remote(LEAF2));
			CHECK(e.routes().reachable(LEAF2));
			// host local, server behind leaf2: entries 1 and 2 towards 10.0.0.2
			auto entries = dataplane.list();
			REQUIRE(entries.size() == 2);
			for (const auto &en : entries) {
				const auto a = resolved(dataplane, en.action); // its server's target
				CHECK(a.kind == dp::Action::Kind::Vxlan);
				CHECK(a.remote_vtep == LEAF2);
				CHECK(a.host_id == 7);
			}
		} else if (u.mac == MAC_B && !u.add) {
			saw_b_gone = true;
			// The server's MAC is withdrawn: no record left, but a
			// monitoring server's last location is kept (a silent
			// server ages out; see docs/fpm-consumer.md).
			CHECK(e.macs().count(consumer::MacSource::Fpm) == 0);
			CHECK(e.macs().locate(100, MAC_B).kept);
			CHECK(e.macs().locate(100, MAC_B).same_place(MacLocation::remote(LEAF2)));
			CHECK(resolved_entries(dataplane).size() == 2);
		} else if (u.mac == MAC_A) {
			CHECK(!u.add);
			// never announced by this stream (installed before the FPM
			// connection): FRR 8.4.4's replay gap, closed by the kernel FDB
			// source and by patch 0201.
			CHECK(e.macs().locate(100, MAC_A).kind == MacLocation::Kind::Unknown);
		}
	}
	CHECK(saw_b);
	CHECK(saw_b_gone);
}

TEST_CASE("replay: zebra with patch 0202 sends the MAC installed before the connection")
{
	auto cap = load("zebra-8.4.4-patched-replay");
	dp::MemoryDataplane dataplane;
	EngineConfig cfg;
	cfg.decision.local_vnis = {100};
	cfg.vxlan_ifindex_to_vni = {{cap.vxlan_ifindex, 100}};
	Engine e(dataplane, cfg);
	EngineSink sink(e);
	fpm::Framer framer;
	framer.feed(cap.bytes);
	fpm::DecodeCounters c;
	fpm::Frame f;
	while (framer.next(f) == fpm::Framer::Status::Frame)
		fpm::decode_netlink(f.payload, sink, c);
	CHECK(c.malformed == 0);
	// The stock capture never announces MAC A; this one does.
	CHECK(e.macs().locate(100, MAC_A) == MacLocation::remote(LEAF2));
	CHECK(e.routes().reachable(LEAF2));
}
