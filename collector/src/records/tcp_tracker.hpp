// TCP connections of the monitored hosts: handshake latencies and outcome,
// negotiated options, per-direction packets/bytes, Zeek conn_state and
// history, close reason. Two records per connection: HANDSHAKE when the
// handshake is decided, CLOSE when the connection ends. The flow table is
// bounded; the least recently seen connection is evicted (and reported
// with close reason EVICTED) when a new one does not fit.
#pragma once

#include "decode/frame.hpp"
#include "records/context.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace evpnmon::collector::records {

class TcpTracker {
public:
	struct Limits {
		std::size_t max_flows = 65536;
		std::uint64_t idle_ns = 300'000'000'000;
		std::uint64_t handshake_timeout_ns = 10'000'000'000;
	};

	TcpTracker(Limits limits, Sink sink);
	~TcpTracker();
	TcpTracker(const TcpTracker &) = delete;
	TcpTracker &operator=(const TcpTracker &) = delete;

	// Frames that are not TCP (or whose TCP header is missing) are ignored.
	void on_frame(const Context &ctx, const Frame &frame);
	// Handshake timeouts and idle connections, by packet-time clock `now_ns`.
	void expire(std::uint64_t now_ns);
	// Every tracked connection gets its CLOSE record (SHUTDOWN); table empty.
	void close_all(std::uint64_t now_ns);

	std::size_t size() const;
	std::uint64_t evictions() const;
	std::uint64_t records() const; // records handed to the sink

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace evpnmon::collector::records
