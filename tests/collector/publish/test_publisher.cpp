// Publisher: the two-frame messages a subscriber receives (topic, Envelope),
// topic filtering, snapshots, drops counted instead of blocking, endpoints.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "publish/publisher.hpp"
#include "sub_helper.hpp"

#include <zmq.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

using namespace evpnmon::collector;
using evpnmon::test::wait_subscribed;
using evpnmon::test::receive_message;

namespace {

v1::Envelope tcp_envelope(const std::string &uid)
{
	v1::Envelope e; // no version: the publisher stamps VERSION_1
	auto *t = e.mutable_tcp();
	t->mutable_session()->set_name("span-7");
	t->set_event(v1::TcpRecord::HANDSHAKE);
	t->set_uid(uid);
	t->set_id_orig_h("10.0.0.1");
	t->set_id_orig_p(40000);
	t->set_id_resp_h("10.0.0.2");
	t->set_id_resp_p(80);
	t->set_handshake_ns(123456);
	t->set_outcome(v1::TcpRecord::ESTABLISHED);
	return e;
}

v1::Envelope roce_envelope(std::uint32_t qp)
{
	v1::Envelope e;
	e.set_version(v1::VERSION_1);
	auto *r = e.mutable_roce();
	r->mutable_session()->set_name("span-7");
	r->set_src_ip("10.0.0.1");
	r->set_dst_ip("10.0.0.2");
	r->set_dest_qp(qp);
	r->set_cnp(5);
	return e;
}

} // namespace

TEST_CASE("topic names and topic_of")
{
	CHECK(std::string(to_string(Topic::Tcp)) == "tcp");
	CHECK(std::string(to_string(Topic::Roce)) == "roce");
	CHECK(std::string(to_string(Topic::Session)) == "session");
	CHECK(std::string(to_string(Topic::Status)) == "status");
	v1::Envelope e;
	CHECK(topic_of(e) == nullptr);
	e.mutable_status();
	CHECK(std::string(topic_of(e)) == "status");
	e.mutable_session();
	CHECK(std::string(topic_of(e)) == "session");
	CHECK(std::string(topic_of(tcp_envelope("C1"))) == "tcp");
	CHECK(std::string(topic_of(roce_envelope(1))) == "roce");
}

TEST_CASE("publish -> subscribe round trip over inproc: two frames, version stamped")
{
	zmq::context_t ctx;
	Publisher pub(ctx, "inproc://publisher-roundtrip", {});
	zmq::socket_t sub(ctx, zmq::socket_type::sub);
	sub.set(zmq::sockopt::subscribe, "");
	sub.connect("inproc://publisher-roundtrip");
	REQUIRE(wait_subscribed(pub, 1));
	CHECK(pub.stats().subscriptions == 1);

	pub.publish(tcp_envelope("CabC1"));
	const auto frames = receive_message(sub);
	REQUIRE(frames.size() == 2);
	CHECK(frames[0] == "tcp");
	v1::Envelope got;
	REQUIRE(got.ParseFromString(frames[1]));
	CHECK(got.version() == v1::VERSION_1);
	REQUIRE(got.has_tcp());
	CHECK(got.tcp().uid() == "CabC1");
	CHECK(got.tcp().session().name() == "span-7");
	CHECK(got.tcp().id_orig_p() == 40000);
	CHECK(got.tcp().handshake_ns() == 123456);
	CHECK(got.tcp().outcome() == v1::TcpRecord::ESTABLISHED);

	const auto s = pub.stats();
	CHECK(s.sent[static_cast<std::size_t>(Topic::Tcp)] == 1);
	CHECK(s.sent_total() == 1);
	CHECK(s.dropped_total() == 0);
	CHECK(s.errors == 0);
	CHECK(s.bytes == frames[1].size());
}

TEST_CASE("a subscriber filters by topic")
{
	zmq::context_t ctx;
	Publisher pub(ctx, "inproc://publisher-filter", {});
	zmq::socket_t sub(ctx, zmq::socket_type::sub);
	sub.set(zmq::sockopt::subscribe, "roce");
	sub.connect("inproc://publisher-filter");
	REQUIRE(wait_subscribed(pub, 1));

	// Messages of one publisher reach a subscriber in order: if the tcp one
	// had passed the filter it would arrive first.
	pub.publish(tcp_envelope("C1"));
	pub.publish(roce_envelope(17));
	const auto frames = receive_message(sub);
	REQUIRE(frames.size() == 2);
	CHECK(frames[0] == "roce");
	v1::Envelope got;
	REQUIRE(got.ParseFromString(frames[1]));
	CHECK(got.roce().dest_qp() == 17);
	CHECK(got.roce().cnp() == 5);
}

TEST_CASE("a topic no subscription wants is not serialized, counted as sent")
{
	zmq::context_t ctx;
	Publisher pub(ctx, "inproc://publisher-unwanted", {});
	pub.publish(tcp_envelope("C0")); // no subscriber at all
	CHECK(pub.stats().sent[static_cast<std::size_t>(Topic::Tcp)] == 1);
	CHECK(pub.stats().bytes == 0);

	zmq::socket_t sub(ctx, zmq::socket_type::sub);
	sub.set(zmq::sockopt::subscribe, "ro");
	sub.connect("inproc://publisher-unwanted");
	REQUIRE(wait_subscribed(pub, 1));
	pub.publish(tcp_envelope("C1"));
	CHECK(pub.stats().sent[static_cast<std::size_t>(Topic::Tcp)] == 2);
	CHECK(pub.stats().bytes == 0);
	pub.publish(roce_envelope(3)); // "ro" is a prefix of "roce"
	const auto frames = receive_message(sub);
	REQUIRE(frames.size() == 2);
	CHECK(frames[0] == "roce");
	CHECK(pub.stats().bytes == frames[1].size());
	CHECK(pub.stats().sent_total() == 3);

	sub.set(zmq::sockopt::unsubscribe, "ro");
	REQUIRE(wait_subscribed(pub, 0));
	const auto bytes = pub.stats().bytes;
	pub.publish(roce_envelope(4));
	CHECK(pub.stats().bytes == bytes);
	CHECK(pub.stats().sent_total() == 4);
}

TEST_CASE("publish_snapshot: one session message per session, then status")
{
	zmq::context_t ctx;
	Publisher pub(ctx, "inproc://publisher-snapshot", {});
	zmq::socket_t sub(ctx, zmq::socket_type::sub);
	sub.set(zmq::sockopt::subscribe, "");
	sub.connect("inproc://publisher-snapshot");
	REQUIRE(wait_subscribed(pub, 1));

	std::vector<v1::SessionStats> sessions(2);
	sessions[0].mutable_session()->set_name("span-1");
	sessions[0].set_copies(10);
	sessions[1].mutable_session()->set_name("vni-1000-host-21");
	sessions[1].set_copies(20);
	v1::CollectorStatus status;
	status.set_uptime_ns(5'000'000'000);
	status.set_disk_full(true);
	pub.publish_snapshot(sessions, status);

	const auto m1 = receive_message(sub), m2 = receive_message(sub), m3 = receive_message(sub);
	REQUIRE(m1.size() == 2);
	REQUIRE(m2.size() == 2);
	REQUIRE(m3.size() == 2);
	CHECK(m1[0] == "session");
	CHECK(m2[0] == "session");
	CHECK(m3[0] == "status");
	v1::Envelope e1, e2, e3;
	REQUIRE(e1.ParseFromString(m1[1]));
	REQUIRE(e2.ParseFromString(m2[1]));
	REQUIRE(e3.ParseFromString(m3[1]));
	CHECK(e1.session().session().name() == "span-1");
	CHECK(e1.session().copies() == 10);
	CHECK(e2.session().session().name() == "vni-1000-host-21");
	CHECK(e3.status().disk_full());
	CHECK(e3.status().uptime_ns() == 5'000'000'000);
	CHECK(e3.version() == v1::VERSION_1);
	CHECK(pub.stats().sent[static_cast<std::size_t>(Topic::Session)] == 2);
	CHECK(pub.stats().sent[static_cast<std::size_t>(Topic::Status)] == 1);
}

TEST_CASE("a subscriber that does not read: drops counted, publish never blocks")
{
	zmq::context_t ctx;
	Publisher::Options o;
	o.send_hwm = 10;
	o.linger_ms = 0;
	Publisher pub(ctx, "inproc://publisher-drops", o);
	zmq::socket_t sub(ctx, zmq::socket_type::sub);
	sub.set(zmq::sockopt::rcvhwm, 10);
	sub.set(zmq::sockopt::subscribe, "");
	sub.connect("inproc://publisher-drops");
	REQUIRE(wait_subscribed(pub, 1));

	constexpr int n = 5000;
	const auto start = std::chrono::steady_clock::now();
	for (int i = 0; i < n; ++i)
		pub.publish(roce_envelope(static_cast<std::uint32_t>(i)));
	const auto elapsed = std::chrono::steady_clock::now() - start;
	const auto s = pub.stats();
	CHECK(s.sent_total() + s.dropped_total() == n);
	CHECK(s.dropped[static_cast<std::size_t>(Topic::Roce)] > 0);
	CHECK(s.sent_total() >= 10);
	CHECK(s.sent_total() < n);
	CHECK(s.errors == 0);
	// generous: 5000 non-blocking sends take milliseconds
	CHECK(elapsed < std::chrono::seconds(5));

	// what was queued arrives intact, in order, from the first one
	const auto frames = receive_message(sub);
	REQUIRE(frames.size() == 2);
	v1::Envelope got;
	REQUIRE(got.ParseFromString(frames[1]));
	CHECK(got.roce().dest_qp() == 0);
}

TEST_CASE("no subscriber: messages are discarded by ZeroMQ, not counted as drops")
{
	Publisher pub("tcp://127.0.0.1:0", {.send_hwm = 1, .linger_ms = 0});
	for (int i = 0; i < 100; ++i)
		pub.publish(tcp_envelope("C" + std::to_string(i)));
	CHECK(pub.stats().sent_total() == 100);
	CHECK(pub.stats().dropped_total() == 0);
}

TEST_CASE("loopback TCP endpoint: port 0 resolved, round trip")
{
	Publisher pub("tcp://127.0.0.1:0");
	const std::string ep = pub.endpoint();
	CHECK(ep.rfind("tcp://127.0.0.1:", 0) == 0);
	CHECK(ep != "tcp://127.0.0.1:0");
	CHECK(pub.fd() >= 0);

	zmq::context_t ctx;
	zmq::socket_t sub(ctx, zmq::socket_type::sub);
	sub.set(zmq::sockopt::subscribe, "tcp");
	sub.set(zmq::sockopt::linger, 0);
	sub.connect(ep);
	REQUIRE(wait_subscribed(pub, 1));
	pub.publish(tcp_envelope("Cloop"));
	const auto frames = receive_message(sub);
	REQUIRE(frames.size() == 2);
	CHECK(frames[0] == "tcp");
	v1::Envelope got;
	REQUIRE(got.ParseFromString(frames[1]));
	CHECK(got.tcp().uid() == "Cloop");

	// unsubscribing is seen too
	sub.set(zmq::sockopt::unsubscribe, "tcp");
	REQUIRE(wait_subscribed(pub, 0));
}

TEST_CASE("errors: bad endpoint throws, an envelope without body is counted, not sent")
{
	CHECK_THROWS_AS(Publisher("nonsense://x"), std::runtime_error);
	CHECK_THROWS_AS(Publisher("tcp://256.1.1.1:1"), std::runtime_error);
	Publisher a("tcp://127.0.0.1:0");
	// the same address twice cannot bind
	CHECK_THROWS_AS(Publisher(a.endpoint()), std::runtime_error);
	a.publish(v1::Envelope{});
	CHECK(a.stats().errors == 1);
	CHECK(a.stats().sent_total() == 0);
}
