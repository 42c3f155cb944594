// FPM framing and netlink decoding, including malformed input.
#include "fpm/fpm_framer.hpp"
#include "fpm/netlink_decoder.hpp"
#include "nl_builder.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace evpnmon;
using namespace evpnmon::test;
using namespace evpnmon::consumer;

namespace {

struct Collect : fpm::UpdateSink {
	std::vector<NeighUpdate> neighs;
	std::vector<RouteUpdate> routes;
	std::vector<NexthopUpdate> nexthops;
	void on_neigh(const NeighUpdate &u) override { neighs.push_back(u); }
	void on_route(const RouteUpdate &u) override { routes.push_back(u); }
	void on_nexthop(const NexthopUpdate &u) override { nexthops.push_back(u); }
};

const dp::Mac MAC{0x02, 0xaa, 0, 0, 0, 0x01};
const Ipv4 VTEP{10, 0, 0, 2};

// Feed a byte stream in chunks of `chunk` bytes and decode every frame.
fpm::Framer::Status run(const std::vector<std::uint8_t> &stream, std::size_t chunk, Collect &sink,
			fpm::DecodeCounters &c, std::size_t &frames)
{
	fpm::Framer framer;
	frames = 0;
	fpm::Framer::Status st = fpm::Framer::Status::NeedMore;
	for (std::size_t off = 0; off < stream.size(); off += chunk) {
		const auto n = std::min(chunk, stream.size() - off);
		framer.feed({stream.data() + off, n});
		fpm::Frame f;
		while ((st = framer.next(f)) == fpm::Framer::Status::Frame) {
			++frames;
			if (f.type == fpm::kTypeNetlink)
				fpm::decode_netlink(f.payload, sink, c);
		}
		if (st == fpm::Framer::Status::Lost)
			break;
	}
	return st;
}

} // namespace

TEST_CASE("remote MAC, routes and next hops decode; frames split at any byte")
{
	std::vector<std::uint8_t> stream;
	for (auto &f : {fpm_frame({neigh_msg(true, 100, MAC, VTEP)}),
			fpm_frame({route_msg(false, VTEP, 32), route_msg(true, VTEP, 32, RTN_UNICAST, 7)}),
			fpm_frame({nexthop_msg(true, 7)}), fpm_frame({neigh_msg(false, 100, MAC, VTEP)})})
		stream.insert(stream.end(), f.begin(), f.end());
	for (std::size_t chunk : {1ul, 3ul, 7ul, 64ul, 4096ul}) {
		CAPTURE(chunk);
		Collect sink;
		fpm::DecodeCounters c;
		std::size_t frames;
		CHECK(run(stream, chunk, sink, c, frames) == fpm::Framer::Status::NeedMore);
		CHECK(frames == 4);
		REQUIRE(sink.neighs.size() == 2);
		CHECK(sink.neighs[0].add);
		CHECK(sink.neighs[0].ifindex == 100);
		CHECK(sink.neighs[0].mac == MAC);
		CHECK(sink.neighs[0].dst == VTEP);
		CHECK(sink.neighs[0].master == 50u);
		CHECK(!sink.neighs[1].add);
		REQUIRE(sink.routes.size() == 2);
		CHECK(!sink.routes[0].add);
		CHECK(sink.routes[1].add);
		CHECK(sink.routes[1].dst == VTEP);
		CHECK(sink.routes[1].dst_len == 32);
		CHECK(sink.routes[1].table == 254);
		CHECK(sink.routes[1].nh_id == 7u);
		REQUIRE(sink.nexthops.size() == 1);
		CHECK(sink.nexthops[0].id == 7);
		CHECK(c.messages == 5);
		CHECK(c.malformed == 0);
	}
}

TEST_CASE("malformed messages are skipped and counted, the rest of the frame survives")
{
	auto bad_mac = neigh_msg(true, 100, MAC, VTEP);
	// NDA_LLADDR is the 2nd attribute: shrink its length from 10 (4+6) to 7
	// (4+3): a 3-byte MAC is malformed, the message chain stays intact.
	const std::size_t attr2 = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndmsg)) + 8;
	REQUIRE(bad_mac[attr2 + 2] == NDA_LLADDR);
	bad_mac[attr2] = 7;
	auto truncated_attr = neigh_msg(true, 100, MAC, VTEP);
	truncated_attr[attr2] = 200; // attribute runs past the message
	auto short_msg = neigh_msg(true, 100, MAC, VTEP);
	short_msg.resize(NLMSG_HDRLEN + 4); // no room for struct ndmsg
	reinterpret_cast<nlmsghdr *>(short_msg.data())->nlmsg_len = static_cast<std::uint32_t>(short_msg.size());

	Collect sink;
	fpm::DecodeCounters c;
	auto frame = fpm_frame({bad_mac, truncated_attr, short_msg, neigh_msg(true, 100, MAC, VTEP)});
	fpm::Framer framer;
	framer.feed(frame);
	fpm::Frame f;
	REQUIRE(framer.next(f) == fpm::Framer::Status::Frame);
	CHECK(fpm::decode_netlink(f.payload, sink, c));
	CHECK(c.malformed == 3);
	CHECK(sink.neighs.size() == 1); // the good one after the bad ones

	SUBCASE("a broken nlmsg_len ends the frame, not the connection")
	{
		auto broken = neigh_msg(true, 100, MAC, VTEP);
		reinterpret_cast<nlmsghdr *>(broken.data())->nlmsg_len = 9999;
		fpm::DecodeCounters c2;
		Collect s2;
		auto fr = fpm_frame({broken});
		CHECK(!fpm::decode_netlink({fr.data() + 4, fr.size() - 4}, s2, c2));
		CHECK(c2.malformed == 1);
		CHECK(s2.neighs.empty());
	}
}

TEST_CASE("framing loss is detected; other frame types are skipped")
{
	Collect sink;
	fpm::DecodeCounters c;
	std::size_t frames;
	auto proto = fpm_frame({neigh_msg(true, 100, MAC, VTEP)}, 1, 2); // protobuf frame
	auto good = fpm_frame({neigh_msg(true, 100, MAC, VTEP)});
	std::vector<std::uint8_t> s = proto;
	s.insert(s.end(), good.begin(), good.end());
	CHECK(run(s, 5, sink, c, frames) == fpm::Framer::Status::NeedMore);
	CHECK(frames == 2);
	CHECK(sink.neighs.size() == 1);

	auto bad_version = fpm_frame({neigh_msg(true, 100, MAC, VTEP)}, 9);
	CHECK(run(bad_version, 64, sink, c, frames) == fpm::Framer::Status::Lost);
	std::vector<std::uint8_t> tiny_len = {1, 1, 0, 2, 0, 0};
	CHECK(run(tiny_len, 64, sink, c, frames) == fpm::Framer::Status::Lost);
}

TEST_CASE("random garbage never crashes the decoder")
{
	std::mt19937 rng(1234);
	auto base = fpm_frame({neigh_msg(true, 100, MAC, VTEP), route_msg(true, VTEP, 32),
			       nexthop_msg(true, 3, true)});
	for (int i = 0; i < 20000; ++i) {
		auto f = base;
		const int flips = 1 + static_cast<int>(rng() % 8);
		for (int k = 0; k < flips; ++k)
			f[4 + rng() % (f.size() - 4)] = static_cast<std::uint8_t>(rng());
		Collect sink;
		fpm::DecodeCounters c;
		fpm::decode_netlink({f.data() + 4, f.size() - 4}, sink, c);
	}
	CHECK(true);
}
