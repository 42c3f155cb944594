// libFuzzer target: an arbitrary byte stream from "zebra" through the FPM
// framer and the netlink decoder, delivered in fuzzer-chosen chunk sizes.
#include "fpm/fpm_framer.hpp"
#include "fpm/netlink_decoder.hpp"

#include <cstddef>
#include <cstdint>

namespace {
struct Sink : evpnmon::consumer::fpm::UpdateSink {
	std::uint64_t n = 0;
	void on_neigh(const evpnmon::consumer::NeighUpdate &u) override { n += u.ifindex; }
	void on_route(const evpnmon::consumer::RouteUpdate &u) override { n += u.dst_len; }
	void on_nexthop(const evpnmon::consumer::NexthopUpdate &u) override { n += u.id; }
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace evpnmon::consumer::fpm;
	if (size == 0)
		return 0;
	// First byte picks the chunking, so split headers/messages get exercised.
	const std::size_t chunk = 1 + data[0] % 97;
	++data;
	--size;
	Framer framer;
	Sink sink;
	DecodeCounters counters;
	for (std::size_t off = 0; off < size; off += chunk) {
		const std::size_t n = size - off < chunk ? size - off : chunk;
		framer.feed({data + off, n});
		Frame frame;
		Framer::Status st;
		while ((st = framer.next(frame)) == Framer::Status::Frame)
			if (frame.type == kTypeNetlink)
				decode_netlink(frame.payload, sink, counters);
		if (st == Framer::Status::Lost)
			framer.reset(); // what the daemon does: drop the connection
	}
	// The decoder alone, on the raw input as one netlink payload.
	decode_netlink({data, size}, sink, counters);
	return 0;
}
