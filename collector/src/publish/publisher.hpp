// The record stream: a ZeroMQ publisher of v1::Envelope. Each message has
// two frames, the topic ("tcp", "roce", "session" or "status", from the
// envelope's body, so a subscriber filters with ZMQ_SUBSCRIBE) and the
// serialized Envelope.
//
// It must never hold up the ingest path: the socket is an XPUB with a send
// high-water mark and ZMQ_XPUB_NODROP, sends are non-blocking, and a message
// that does not fit (a subscriber too slow, its queue at the mark) is dropped
// for every subscriber and counted. Plain PUB would drop silently, without a
// way to count. A message no subscription wants (no subscriber at all, or
// none to its topic) is neither serialized nor handed to ZeroMQ, which
// would discard it: that is not a drop, it counts as sent. What is
// subscribed is known from the subscription messages poll() reads, so a
// new subscriber gets records from the first poll() after its
// subscription arrived (ZeroMQ's own filter has such a window too: the
// connection and the subscription are asynchronous).
#pragma once

#include "collector_records.pb.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zmq {
class context_t;
class socket_t;
} // namespace zmq

namespace evpnmon::collector {

enum class Topic : std::uint8_t { Tcp, Roce, Session, Status, Count_ };
inline constexpr std::size_t kTopicCount = static_cast<std::size_t>(Topic::Count_);
// "tcp", "roce", "session", "status": the first frame of each message
const char *to_string(Topic topic);
// The topic of an envelope's body; nullptr when it has none (not published).
const char *topic_of(const v1::Envelope &envelope);

struct PublisherStats {
	// per Topic, indexed by static_cast<size_t>(Topic)
	std::array<std::uint64_t, kTopicCount> sent{};    // messages handed to ZeroMQ or wanted by nobody
	std::array<std::uint64_t, kTopicCount> dropped{}; // not sent: a subscriber's queue full
	std::uint64_t bytes = 0;         // serialized Envelope octets handed to ZeroMQ
	std::uint64_t errors = 0;        // no body, serialization or socket errors (not sent)
	std::uint64_t subscriptions = 0; // topic prefixes subscribed to right now
	std::uint64_t sent_total() const;
	std::uint64_t dropped_total() const;
};

class Publisher {
public:
	struct Options {
		int send_hwm = 10000; // messages queued per subscriber before drops
		int linger_ms = 500;  // at close: time to deliver what is queued (SHUTDOWN records)
	};

	// Binds `endpoint` ("tcp://127.0.0.1:9520", "tcp://*:0", "ipc://...",
	// "inproc://..." with the context overload). Throws std::runtime_error
	// when the endpoint does not bind.
	explicit Publisher(const std::string &endpoint);
	Publisher(const std::string &endpoint, Options options);
	// With the caller's context: required for inproc:// (tests).
	Publisher(zmq::context_t &context, const std::string &endpoint, Options options);
	~Publisher();
	Publisher(const Publisher &) = delete;
	Publisher &operator=(const Publisher &) = delete;

	// Non-blocking. An envelope without a version is sent as VERSION_1.
	void publish(const v1::Envelope &envelope);
	// One "session" message per session, then one "status" message.
	void publish_snapshot(const std::vector<v1::SessionStats> &sessions,
			      const v1::CollectorStatus &status);
	// Reads pending subscription messages (publish_snapshot() does it too,
	// publish() does not: it would cost a system call per record). Call it
	// when fd() is readable and on a timer so stats().subscriptions stays
	// current. Sending does not depend on it: ZeroMQ applies subscriptions
	// by itself.
	void poll();

	PublisherStats stats() const;
	// The bound endpoint, port resolved ("tcp://127.0.0.1:41234" for ":0").
	const std::string &endpoint() const { return endpoint_; }
	// The socket's file descriptor (ZMQ_FD), to watch in an epoll loop:
	// readable means "call poll()" (edge-triggered semantics of ZeroMQ).
	int fd() const;

private:
	void send(Topic topic, const v1::Envelope &envelope);
	void drain_subscriptions();
	void update_wanted();

	std::unique_ptr<zmq::context_t> own_context_;
	std::unique_ptr<zmq::socket_t> socket_;
	std::string endpoint_;
	std::string buffer_; // reused serialization buffer
	PublisherStats stats_;
	std::vector<std::string> subscribed_; // active prefixes
	// per Topic: some active prefix is a prefix of its name
	std::array<bool, kTopicCount> wanted_{};
};

} // namespace evpnmon::collector
