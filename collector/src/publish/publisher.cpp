#include "publish/publisher.hpp"

#include <zmq.hpp>

#include <algorithm>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace evpnmon::collector {

namespace {

constexpr const char *kTopicNames[kTopicCount] = {"tcp", "roce", "session", "status"};

// Envelope field 1 (version), varint VERSION_1: appended to an envelope
// serialized without a version. Field order does not matter to a parser.
constexpr char kVersion1Field[] = {0x08, 0x01};

std::size_t index(Topic t)
{
	return static_cast<std::size_t>(t);
}

std::optional<Topic> topic_enum(const v1::Envelope &e)
{
	switch (e.body_case()) {
	case v1::Envelope::kTcp:
		return Topic::Tcp;
	case v1::Envelope::kRoce:
		return Topic::Roce;
	case v1::Envelope::kSession:
		return Topic::Session;
	case v1::Envelope::kStatus:
		return Topic::Status;
	case v1::Envelope::BODY_NOT_SET:
		break;
	}
	return std::nullopt;
}

std::unique_ptr<zmq::socket_t> make_socket(zmq::context_t &ctx, const std::string &endpoint,
					   const Publisher::Options &options)
{
	auto s = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::xpub);
	s->set(zmq::sockopt::sndhwm, options.send_hwm);
	s->set(zmq::sockopt::linger, options.linger_ms);
	// EAGAIN instead of a silent drop when a subscriber's queue is full:
	// the only way to count drops.
	s->set(zmq::sockopt::xpub_nodrop, true);
	try {
		s->bind(endpoint);
	} catch (const zmq::error_t &e) {
		throw std::runtime_error("cannot bind the publisher to '" + endpoint + "': " + e.what());
	}
	return s;
}

} // namespace

const char *to_string(Topic topic)
{
	return index(topic) < kTopicCount ? kTopicNames[index(topic)] : "unknown";
}

const char *topic_of(const v1::Envelope &envelope)
{
	const auto t = topic_enum(envelope);
	return t ? to_string(*t) : nullptr;
}

std::uint64_t PublisherStats::sent_total() const
{
	return std::accumulate(sent.begin(), sent.end(), std::uint64_t{0});
}

std::uint64_t PublisherStats::dropped_total() const
{
	return std::accumulate(dropped.begin(), dropped.end(), std::uint64_t{0});
}

Publisher::Publisher(const std::string &endpoint) : Publisher(endpoint, Options{}) {}

Publisher::Publisher(const std::string &endpoint, Options options)
    : own_context_(std::make_unique<zmq::context_t>(1))
{
	socket_ = make_socket(*own_context_, endpoint, options);
	endpoint_ = socket_->get(zmq::sockopt::last_endpoint);
}

Publisher::Publisher(zmq::context_t &context, const std::string &endpoint, Options options)
{
	socket_ = make_socket(context, endpoint, options);
	endpoint_ = socket_->get(zmq::sockopt::last_endpoint);
}

Publisher::~Publisher()
{
	// The socket closes (lingering up to linger_ms) before its context ends.
	socket_.reset();
	own_context_.reset();
}

int Publisher::fd() const
{
	return static_cast<int>(socket_->get(zmq::sockopt::fd));
}

void Publisher::drain_subscriptions()
{
	// XPUB delivers (un)subscriptions as messages: byte 1 = subscribe,
	// 0 = unsubscribe, then the prefix. Without NODROP's verbose modes only
	// the first subscribe and the last unsubscribe of a prefix arrive.
	for (;;) {
		zmq::message_t msg;
		zmq::recv_result_t r;
		try {
			r = socket_->recv(msg, zmq::recv_flags::dontwait);
		} catch (const zmq::error_t &) {
			return;
		}
		if (!r || msg.size() == 0)
			return;
		const auto *d = static_cast<const char *>(msg.data());
		std::string prefix(d + 1, msg.size() - 1);
		const auto it = std::find(subscribed_.begin(), subscribed_.end(), prefix);
		if (d[0] == 1 && it == subscribed_.end())
			subscribed_.push_back(std::move(prefix));
		else if (d[0] == 0 && it != subscribed_.end())
			subscribed_.erase(it);
		update_wanted();
	}
}

void Publisher::update_wanted()
{
	for (std::size_t t = 0; t < kTopicCount; ++t) {
		const std::string_view name = kTopicNames[t];
		wanted_[t] = std::any_of(subscribed_.begin(), subscribed_.end(),
					 [&](const std::string &p) { return name.starts_with(p); });
	}
}

void Publisher::poll()
{
	drain_subscriptions();
}

void Publisher::send(Topic topic, const v1::Envelope &envelope)
{
	if (!wanted_[index(topic)]) {
		// ZeroMQ would take it and discard it: spare the serialization
		// and the message copy (a record per few copies at full rate).
		++stats_.sent[index(topic)];
		return;
	}
	buffer_.clear();
	if (!envelope.SerializeToString(&buffer_)) {
		++stats_.errors;
		return;
	}
	if (envelope.version() == v1::VERSION_UNSPECIFIED)
		buffer_.append(kVersion1Field, sizeof kVersion1Field);
	const char *name = kTopicNames[index(topic)];
	try {
		const auto first = socket_->send(zmq::const_buffer(name, std::char_traits<char>::length(name)),
						 zmq::send_flags::sndmore | zmq::send_flags::dontwait);
		if (!first) { // EAGAIN: some matching subscriber is at its high-water mark
			++stats_.dropped[index(topic)];
			return;
		}
		// The high-water mark counts whole messages: once the first frame
		// is accepted the last one is too.
		const auto second = socket_->send(zmq::const_buffer(buffer_.data(), buffer_.size()),
						  zmq::send_flags::dontwait);
		if (!second) {
			++stats_.errors;
			return;
		}
	} catch (const zmq::error_t &) {
		++stats_.errors;
		return;
	}
	++stats_.sent[index(topic)];
	stats_.bytes += buffer_.size();
}

void Publisher::publish(const v1::Envelope &envelope)
{
	// Subscriptions are not read here: that costs a poll(2) per record
	// (~0.75 us of the ~1 us a publish took); the event loop calls poll().
	const auto t = topic_enum(envelope);
	if (!t) {
		++stats_.errors;
		return;
	}
	send(*t, envelope);
}

void Publisher::publish_snapshot(const std::vector<v1::SessionStats> &sessions,
				 const v1::CollectorStatus &status)
{
	drain_subscriptions();
	v1::Envelope e;
	e.set_version(v1::VERSION_1);
	for (const auto &s : sessions) {
		*e.mutable_session() = s;
		send(Topic::Session, e);
	}
	*e.mutable_status() = status;
	send(Topic::Status, e);
}

PublisherStats Publisher::stats() const
{
	PublisherStats s = stats_;
	s.subscriptions = subscribed_.size();
	return s;
}

} // namespace evpnmon::collector
