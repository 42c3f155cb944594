#include "feed/feed_client.hpp"

#include "feed/session_convert.hpp"
#include "monitor_feed.pb.h"

#include <cerrno>
#include <variant>

namespace evpnmon::consumer {

namespace pb = evpnmon::feed::v1;

FeedClient::FeedClient(zmq::context_t &context, FeedConfig config, FeedListener &listener)
    : config_(std::move(config)), listener_(listener), socket_(context, zmq::socket_type::dealer)
{
	socket_.set(zmq::sockopt::linger, 0);
	// Do not queue requests for a bgpd that is not there: retry instead.
	socket_.set(zmq::sockopt::immediate, 1);
	socket_.set(zmq::sockopt::reconnect_ivl, 200);
	socket_.set(zmq::sockopt::reconnect_ivl_max, 2000);
	socket_.connect(config_.endpoint);
	last_heard_ = Clock::now();
	subscribe_pending_ = true;
}

int FeedClient::fd() const
{
	return socket_.get(zmq::sockopt::fd);
}

const char *FeedClient::state_name() const
{
	switch (state_) {
	case State::Subscribing:
		return "subscribing";
	case State::Synced:
		return "synced";
	case State::Lost:
		return "lost";
	}
	return "?";
}

void FeedClient::subscribe(Clock::time_point now)
{
	pb::Request req;
	req.set_kind(pb::Request::SUBSCRIBE);
	req.set_client(config_.client_name);
	req.set_version(kFeedVersion);
	std::string bytes;
	req.SerializeToString(&bytes);
	last_subscribe_ = now;
	zmq::send_result_t sent;
	try {
		sent = socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
	} catch (const zmq::error_t &e) {
		last_error_ = std::string("feed send: ") + e.what();
	}
	if (sent) {
		++counters_.subscribes;
		subscribe_pending_ = false;
	} else {
		subscribe_pending_ = true; // not connected yet: retried by tick()
	}
}

void FeedClient::note_version(std::uint32_t version)
{
	// Fields are only ever added: a newer bgpd's messages still hold what
	// this consumer knows, and protobuf skips the rest.
	peer_version_ = version == 0 ? 1 : version;
	if (peer_version_ > kFeedVersion && !newer_version_noted_) {
		newer_version_noted_ = true;
		listener_.on_feed_notice("bgpd speaks feed version " + std::to_string(peer_version_) +
					 ", this consumer " + std::to_string(kFeedVersion) +
					 ": going on with the fields of version " +
					 std::to_string(kFeedVersion));
	}
}

void FeedClient::rejected(const Rejection &why, bool quiet)
{
	++counters_.rejected_sessions;
	counters_.rejected_options += why.options;
	last_error_ = "rejected session " + why.session + ": " + why.reason;
	if (!quiet)
		listener_.on_feed_notice(last_error_);
}

void FeedClient::process(Clock::time_point now)
{
	if (subscribe_pending_)
		subscribe(now);
	while (true) {
		// A message is one or more frames; ROUTER peers may prepend an empty
		// delimiter. The protobuf payload is the last frame.
		zmq::message_t part, payload;
		bool got = false;
		while (true) {
			zmq::recv_result_t r;
			try {
				r = socket_.recv(part, zmq::recv_flags::dontwait);
			} catch (const zmq::error_t &e) {
				if (e.num() == EINTR)
					continue;
				last_error_ = std::string("feed receive: ") + e.what();
				break;
			}
			if (!r)
				break;
			got = true;
			const bool more = part.more();
			if (part.size() > 0 || !more)
				payload = std::move(part);
			if (!more)
				break;
		}
		if (!got)
			break;
		handle(payload, now);
	}
}

void FeedClient::handle(const zmq::message_t &payload, Clock::time_point now)
{
	pb::FeedMessage msg;
	if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
		++counters_.bad_messages;
		last_error_ = "undecodable feed message of " + std::to_string(payload.size()) + " bytes";
		return;
	}
	last_heard_ = now;
	auto resync = [&](const std::string &why) {
		++counters_.gaps;
		last_error_ = why;
		state_ = State::Subscribing;
		subscribe(now); // sessions stay as they are until the snapshot
	};
	switch (msg.body_case()) {
	case pb::FeedMessage::kSnapshot: {
		++counters_.snapshots;
		const auto &snap = msg.snapshot();
		if (holding_ && snap.epoch() == epoch_ && snap.seq() == seq_) {
			// What the listener holds already: an answer to a repeated
			// subscription (sent while bgpd was too busy to answer the
			// first), or one after silence with nothing changed. At
			// scale, applying it again cost the consumer as much as the
			// first (every leaf of a busy fabric got several).
			note_version(snap.version());
			state_ = State::Synced;
			break;
		}
		std::vector<Session> sessions;
		sessions.reserve(static_cast<std::size_t>(snap.sessions_size()));
		// A snapshot repeats every refused session at each resync: the
		// first few are logged, the rest counted and summed up.
		constexpr std::uint64_t kLogged = 10;
		std::uint64_t refused = 0;
		for (const auto &m : snap.sessions()) {
			auto r = from_proto(m);
			if (auto *s = std::get_if<Session>(&r))
				sessions.push_back(std::move(*s));
			else
				rejected(std::get<Rejection>(r), ++refused > kLogged);
		}
		if (refused > kLogged)
			listener_.on_feed_notice("snapshot: " + std::to_string(refused - kLogged) +
						 " more session(s) rejected (counter feed-rejected-sessions)");
		note_version(snap.version());
		epoch_ = snap.epoch();
		seq_ = snap.seq();
		state_ = State::Synced;
		ever_synced_ = true;
		holding_ = true;
		listener_.on_snapshot(sessions);
		break;
	}
	case pb::FeedMessage::kDelta: {
		++counters_.deltas;
		const auto &d = msg.delta();
		if (state_ != State::Synced)
			break; // waiting for the snapshot that covers it
		if (d.epoch() != epoch_) {
			resync("epoch changed " + std::to_string(epoch_) + " -> " + std::to_string(d.epoch()));
			break;
		}
		if (d.seq() != seq_ + 1) {
			if (d.seq() <= seq_)
				break; // old news (already in the snapshot)
			resync("sequence gap: expected " + std::to_string(seq_ + 1) + ", got " +
			       std::to_string(d.seq()));
			break;
		}
		seq_ = d.seq();
		const bool del = d.op() == pb::Delta::DEL;
		auto r = from_proto(d.session(), del);
		auto *s = std::get_if<Session>(&r);
		if (!s) {
			rejected(std::get<Rejection>(r));
			// An update bgpd made invalid replaces nothing: the session
			// goes, as bgpd treats such a route as withdrawn.
			if (!del)
				if (auto k = from_proto(d.session(), true); auto *ks = std::get_if<Session>(&k))
					listener_.on_erase(ks->key);
			break;
		}
		if (del)
			listener_.on_erase(s->key);
		else
			listener_.on_upsert(*s);
		break;
	}
	case pb::FeedMessage::kHeartbeat: {
		++counters_.heartbeats;
		const auto &h = msg.heartbeat();
		note_version(h.version());
		if (state_ == State::Synced) {
			if (h.epoch() != epoch_)
				resync("epoch changed " + std::to_string(epoch_) + " -> " +
				       std::to_string(h.epoch()));
			else if (h.seq() > seq_)
				resync("heartbeat seq " + std::to_string(h.seq()) + " ahead of " +
				       std::to_string(seq_));
		} else if (state_ == State::Lost) {
			state_ = State::Subscribing;
			subscribe(now);
		}
		break;
	}
	case pb::FeedMessage::BODY_NOT_SET:
		++counters_.bad_messages;
		break;
	}
}

void FeedClient::tick(Clock::time_point now)
{
	process(now);
	if (state_ == State::Synced && now - last_heard_ >= config_.silence_resubscribe &&
	    now - last_subscribe_ >= config_.silence_resubscribe)
		state_ = State::Subscribing; // keep sessions, ask for a fresh snapshot
	if (state_ != State::Synced && now - last_subscribe_ >= config_.resubscribe_interval)
		subscribe(now);
	if (state_ != State::Lost && now - last_heard_ >= config_.hold_time) {
		++counters_.hold_expiries;
		last_error_ = "nothing heard from the feed for the hold time";
		state_ = State::Lost;
		holding_ = false;
		listener_.on_feed_lost();
	}
}

} // namespace evpnmon::consumer
