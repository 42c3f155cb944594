// Test helper: a fake bgpd side of the monitor-session feed (ZeroMQ ROUTER,
// proto/monitor_feed.proto): Snapshot on SUBSCRIBE, Deltas with consecutive
// seq, Heartbeats; can skip a seq or restart with a new epoch on demand.
#pragma once

#include "feed/session_convert.hpp"
#include "monitor_feed.pb.h"

#include <zmq.hpp>

#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace evpnmon::test {

class FakePublisher {
public:
	FakePublisher(zmq::context_t &ctx, const std::string &endpoint, std::uint64_t epoch = 1)
	    : socket_(ctx, zmq::socket_type::router), epoch_(epoch), endpoint_(endpoint)
	{
		socket_.set(zmq::sockopt::linger, 0);
		socket_.set(zmq::sockopt::router_mandatory, 1);
		socket_.bind(endpoint);
	}
	// An ipc endpoint's socket file outlives the socket: removed here, so
	// that a test leaves nothing behind.
	~FakePublisher()
	{
		socket_.close();
		if (endpoint_.starts_with("ipc://"))
			::unlink(endpoint_.c_str() + 6);
	}
	FakePublisher(const FakePublisher &) = delete;
	FakePublisher &operator=(const FakePublisher &) = delete;

	// Answer pending requests (SUBSCRIBE -> Snapshot). Returns how many.
	int serve(int timeout_ms = 0)
	{
		int n = 0;
		zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
		while (true) {
			try {
				if (zmq::poll(&item, 1, std::chrono::milliseconds(n ? 0 : timeout_ms)) <= 0)
					break;
			} catch (const zmq::error_t &) {
				break; // EINTR (signal): the caller decides
			}
			zmq::message_t id, body;
			if (!socket_.recv(id, zmq::recv_flags::dontwait))
				break;
			while (id.more() && socket_.recv(body, zmq::recv_flags::dontwait) && body.more() &&
			       body.size() == 0)
				;
			evpnmon::feed::v1::Request req;
			if (!req.ParseFromArray(body.data(), static_cast<int>(body.size())))
				continue;
			const std::string ident(static_cast<const char *>(id.data()), id.size());
			++n;
			++requests;
			last_request_version = req.version();
			if (req.kind() == evpnmon::feed::v1::Request::SUBSCRIBE) {
				subscribers_.insert(ident);
				if (answer_subscribe)
					send_snapshot(ident);
			} else {
				subscribers_.erase(ident);
			}
		}
		return n;
	}

	// A session as raw feed fields (invalid ones included): sent as an ADD
	// delta now and in every snapshot until cleared.
	void add_raw(const evpnmon::feed::v1::MonitorSession &m)
	{
		raw_.push_back(m);
		evpnmon::feed::v1::FeedMessage msg;
		auto *d = msg.mutable_delta();
		d->set_epoch(epoch_);
		d->set_seq(++seq_);
		d->set_op(evpnmon::feed::v1::Delta::ADD);
		*d->mutable_session() = m;
		broadcast(msg);
	}
	void clear_raw() { raw_.clear(); }
	// A DEL delta with raw feed fields (the publisher's own state is kept).
	void del_raw(const evpnmon::feed::v1::MonitorSession &m)
	{
		evpnmon::feed::v1::FeedMessage msg;
		auto *d = msg.mutable_delta();
		d->set_epoch(epoch_);
		d->set_seq(++seq_);
		d->set_op(evpnmon::feed::v1::Delta::DEL);
		*d->mutable_session() = m;
		broadcast(msg);
	}

	void add(const consumer::Session &s)
	{
		sessions_[s.key] = s;
		delta(evpnmon::feed::v1::Delta::ADD, s);
	}
	void del(const consumer::Session &s)
	{
		sessions_.erase(s.key);
		delta(evpnmon::feed::v1::Delta::DEL, s);
	}
	// Change state without telling anyone (a lost delta).
	void add_silently(const consumer::Session &s)
	{
		sessions_[s.key] = s;
		++seq_;
	}
	void heartbeat()
	{
		evpnmon::feed::v1::FeedMessage m;
		m.mutable_heartbeat()->set_epoch(epoch_);
		m.mutable_heartbeat()->set_seq(seq_);
		if (version)
			m.mutable_heartbeat()->set_version(version);
		broadcast(m);
	}
	// bgpd restart: new epoch, seq from 0, subscribers forgotten.
	void restart(std::uint64_t epoch)
	{
		epoch_ = epoch;
		seq_ = 0;
		subscribers_.clear();
	}
	void send_garbage()
	{
		for (const auto &id : subscribers_) {
			socket_.send(zmq::buffer(id), zmq::send_flags::sndmore);
			socket_.send(zmq::str_buffer("\x08\xff\xff garbage"), zmq::send_flags::none);
		}
	}

	std::size_t subscribers() const { return subscribers_.size(); }
	std::uint64_t seq() const { return seq_; }
	bool answer_subscribe = true;
	int requests = 0;
	// The feed version this bgpd plays: 0 = a version-1 bgpd (no version
	// field, no options, no session ids), 2 = today's, higher = a newer one.
	std::uint32_t version = 2;
	std::uint32_t last_request_version = 0;

private:
	void delta(evpnmon::feed::v1::Delta::Op op, const consumer::Session &s)
	{
		evpnmon::feed::v1::FeedMessage m;
		auto *d = m.mutable_delta();
		d->set_epoch(epoch_);
		d->set_seq(++seq_);
		d->set_op(op);
		consumer::to_proto(s, *d->mutable_session(), version);
		broadcast(m);
	}
	void send_snapshot(const std::string &ident)
	{
		evpnmon::feed::v1::FeedMessage m;
		auto *snap = m.mutable_snapshot();
		snap->set_epoch(epoch_);
		snap->set_seq(seq_);
		if (version)
			snap->set_version(version);
		for (const auto &[k, s] : sessions_)
			consumer::to_proto(s, *snap->add_sessions(), version);
		for (const auto &m : raw_)
			*snap->add_sessions() = m;
		send_to(ident, m);
	}
	void broadcast(const evpnmon::feed::v1::FeedMessage &m)
	{
		const auto ids = subscribers_; // send_to() may drop a gone peer
		for (const auto &id : ids)
			send_to(id, m);
	}
	void send_to(const std::string &ident, const evpnmon::feed::v1::FeedMessage &m)
	{
		std::string bytes;
		m.SerializeToString(&bytes);
		try {
			socket_.send(zmq::buffer(ident), zmq::send_flags::sndmore);
			socket_.send(zmq::buffer(bytes), zmq::send_flags::none);
		} catch (const zmq::error_t &) {
			subscribers_.erase(ident); // peer gone
		}
	}

	zmq::socket_t socket_;
	std::uint64_t epoch_;
	std::string endpoint_;
	std::uint64_t seq_ = 0;
	std::map<consumer::SessionKey, consumer::Session> sessions_;
	std::vector<evpnmon::feed::v1::MonitorSession> raw_;
	std::set<std::string> subscribers_;
};

} // namespace evpnmon::test
