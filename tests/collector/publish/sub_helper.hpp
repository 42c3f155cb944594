// Test helpers: wait until the publisher has seen its subscribers (ZeroMQ's
// subscription is asynchronous), receive one whole message with a bound.
#pragma once

#include "publish/publisher.hpp"

#include <zmq.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace evpnmon::test {

// true once the publisher counts `n` subscribed prefixes (within 10 s)
inline bool wait_subscribed(collector::Publisher &pub, std::uint64_t n)
{
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	while (std::chrono::steady_clock::now() < deadline) {
		pub.poll();
		if (pub.stats().subscriptions == n)
			return true;
		zmq_pollitem_t item{nullptr, pub.fd(), ZMQ_POLLIN, 0};
		zmq_poll(&item, 1, 10); // ZMQ_FD is edge-like: poll() again after a short wait anyway
	}
	return false;
}

// The frames of the next message, empty when none arrives within 10 s.
inline std::vector<std::string> receive_message(zmq::socket_t &sub)
{
	std::vector<std::string> frames;
	zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
	if (zmq::poll(&item, 1, std::chrono::milliseconds(10000)) <= 0)
		return frames;
	do {
		zmq::message_t m;
		if (!sub.recv(m, zmq::recv_flags::none))
			break;
		frames.emplace_back(m.to_string());
	} while (sub.get(zmq::sockopt::rcvmore));
	return frames;
}

} // namespace evpnmon::test
