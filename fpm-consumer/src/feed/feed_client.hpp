// Client of bgpd's monitor-session feed (proto/monitor_feed.proto): a ZeroMQ
// DEALER that subscribes, applies Snapshot + consecutive Deltas, re-subscribes
// on a sequence gap or epoch change, and declares the feed lost (sessions
// withdrawn) only after nothing was heard for the hold time.
#pragma once

#include "core/model.hpp"
#include "feed/session_convert.hpp"

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace evpnmon::consumer {

class FeedListener {
public:
	virtual ~FeedListener() = default;
	virtual void on_snapshot(const std::vector<Session> &sessions) = 0;
	virtual void on_upsert(const Session &session) = 0;
	virtual void on_erase(const SessionKey &key) = 0;
	// Nothing heard for the hold time: the sessions are gone.
	virtual void on_feed_lost() = 0;
	// One line for the log: a refused session (with its id and the reason),
	// a bgpd speaking a newer feed version.
	virtual void on_feed_notice(const std::string &message) { (void)message; }
};

struct FeedConfig {
	std::string endpoint = "ipc:///var/run/frr/evpnmon-feed.sock";
	std::string client_name = "fpm-consumer";
	std::chrono::milliseconds hold_time{10000};
	std::chrono::milliseconds resubscribe_interval{1000};
	// Heartbeats come every second: after this much silence, subscribe again
	// (a restarted bgpd does not know us), keeping the sessions meanwhile.
	std::chrono::milliseconds silence_resubscribe{3000};
};

struct FeedCounters {
	std::uint64_t snapshots = 0;
	std::uint64_t deltas = 0;
	std::uint64_t heartbeats = 0;
	std::uint64_t subscribes = 0;
	std::uint64_t gaps = 0;          // seq gap or epoch change -> re-subscribe
	std::uint64_t bad_messages = 0;  // undecodable protobuf
	std::uint64_t rejected_sessions = 0; // invalid sessions, options included
	std::uint64_t rejected_options = 0;  // of which: the options area
	std::uint64_t hold_expiries = 0;
};

class FeedClient {
public:
	using Clock = std::chrono::steady_clock;
	enum class State { Subscribing, Synced, Lost };

	FeedClient(zmq::context_t &context, FeedConfig config, FeedListener &listener);

	// File descriptor to poll for reading (ZMQ_FD, edge-triggered semantics:
	// call process() whenever it fires and on every tick).
	int fd() const;
	void process(Clock::time_point now);
	void tick(Clock::time_point now);

	State state() const { return state_; }
	const char *state_name() const;
	std::uint64_t epoch() const { return epoch_; }
	std::uint64_t seq() const { return seq_; }
	// Feed version of the last Snapshot/Heartbeat: 1 for a bgpd that sends
	// none, 0 before the first.
	std::uint32_t peer_version() const { return peer_version_; }
	const FeedCounters &counters() const { return counters_; }
	const FeedConfig &config() const { return config_; }
	const std::string &last_error() const { return last_error_; }

private:
	void subscribe(Clock::time_point now);
	void handle(const zmq::message_t &payload, Clock::time_point now);
	void note_version(std::uint32_t version);
	// Counts and reports a refused session; `quiet`: count only.
	void rejected(const Rejection &why, bool quiet = false);

	FeedConfig config_;
	FeedListener &listener_;
	zmq::socket_t socket_;
	State state_ = State::Subscribing;
	bool ever_synced_ = false;
	// The listener holds the feed's sessions at (epoch_, seq_): a snapshot
	// of that same point changes nothing (not while Lost: withdrawn).
	bool holding_ = false;
	std::uint64_t epoch_ = 0;
	std::uint64_t seq_ = 0;
	std::uint32_t peer_version_ = 0;
	bool newer_version_noted_ = false;
	Clock::time_point last_heard_;
	Clock::time_point last_subscribe_{};
	bool subscribe_pending_ = false;
	FeedCounters counters_;
	std::string last_error_;
};

} // namespace evpnmon::consumer
