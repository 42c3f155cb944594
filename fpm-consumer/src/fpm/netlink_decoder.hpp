// Decode the netlink messages of one FPM frame (or of a kernel rtnetlink
// datagram) with libmnl. Malformed messages are skipped and counted; the
// decoder never reads outside the buffer it is given.
#pragma once

#include "core/updates.hpp"

#include <cstdint>
#include <span>

namespace evpnmon::consumer::fpm {

struct DecodeCounters {
	std::uint64_t messages = 0;
	std::uint64_t neigh = 0;
	std::uint64_t routes = 0;
	std::uint64_t nexthops = 0;
	std::uint64_t ignored = 0;   // well-formed but of no interest
	std::uint64_t malformed = 0; // bad length, truncated attributes, ...
};

// Receives decoded updates.
class UpdateSink {
public:
	virtual ~UpdateSink() = default;
	virtual void on_neigh(const NeighUpdate &update) = 0;
	virtual void on_route(const RouteUpdate &update) = 0;
	virtual void on_nexthop(const NexthopUpdate &update) = 0;
};

// Decodes every netlink message in `payload`. Returns false when the message
// chain itself was broken (the rest of the payload was skipped).
bool decode_netlink(std::span<const std::uint8_t> payload, UpdateSink &sink,
		    DecodeCounters &counters);

} // namespace evpnmon::consumer::fpm
