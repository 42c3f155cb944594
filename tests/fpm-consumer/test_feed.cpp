// Feed client against a fake bgpd publisher: snapshot, deltas, gap and epoch
// resync, garbage, hold-time withdrawal, late publisher (start order).
#include "fabric.hpp"
#include "fake_publisher.hpp"
#include "feed/feed_client.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <unistd.h>

using namespace evpnmon;
using namespace evpnmon::test;
using consumer::FeedClient;
using Clock = std::chrono::steady_clock;

namespace {

struct Recorder : consumer::FeedListener {
	std::map<consumer::SessionKey, consumer::Session> sessions;
	int snapshots = 0, lost = 0;
	void on_snapshot(const std::vector<consumer::Session> &s) override
	{
		++snapshots;
		sessions.clear();
		for (const auto &x : s)
			sessions[x.key] = x;
	}
	void on_upsert(const consumer::Session &s) override { sessions[s.key] = s; }
	void on_erase(const consumer::SessionKey &k) override { sessions.erase(k); }
	void on_feed_lost() override
	{
		++lost;
		sessions.clear();
	}
};

std::string endpoint()
{
	return "ipc:///tmp/fpmc-test-feed-" + std::to_string(::getpid());
}

const Mac H1{2, 0, 0, 0, 0, 1}, H2{2, 0, 0, 0, 0, 2}, S1{2, 0, 0, 0, 0, 0x21};

// Pump both sides until `done` or ~2 s.
template <typename F> bool pump(FakePublisher &pub, FeedClient &cli, Clock::time_point &now, F done)
{
	for (int i = 0; i < 200; ++i) {
		pub.serve(5);
		now += std::chrono::milliseconds(10);
		cli.tick(now);
		if (done())
			return true;
	}
	return false;
}

} // namespace

TEST_CASE("snapshot, deltas, gap and epoch resync, garbage")
{
	zmq::context_t ctx;
	FakePublisher pub(ctx, endpoint(), 7);
	pub.add(session(H1, S1, 21));
	Recorder rec;
	consumer::FeedConfig cfg;
	cfg.endpoint = endpoint();
	cfg.hold_time = std::chrono::seconds(10);
	cfg.resubscribe_interval = std::chrono::milliseconds(100);
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();

	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 1; }));
	CHECK(cli.state() == FeedClient::State::Synced);
	CHECK(cli.epoch() == 7);
	CHECK(rec.sessions.size() == 1);

	pub.add(session(H2, S1, 21));
	REQUIRE(pump(pub, cli, now, [&] { return rec.sessions.size() == 2; }));
	pub.del(session(H1, S1, 21));
	REQUIRE(pump(pub, cli, now, [&] { return rec.sessions.size() == 1; }));
	CHECK(cli.seq() == 3);

	SUBCASE("a lost delta is detected by the next delta: resubscribe, fresh snapshot")
	{
		pub.add_silently(session(H1, S1, 22));
		pub.add(session(H1, S1, 23));
		REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 2; }));
		CHECK(cli.counters().gaps == 1);
		CHECK(rec.sessions.size() == 3);
	}
	SUBCASE("a lost delta is detected by the heartbeat")
	{
		pub.add_silently(session(H1, S1, 22));
		pub.heartbeat();
		REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 2; }));
		CHECK(rec.sessions.size() == 2);
	}
	SUBCASE("bgpd restart: silence -> resubscribe, sessions kept until the new snapshot")
	{
		pub.restart(8); // forgets its subscribers, as a new process would
		pub.add_silently(session(H1, S1, 30));
		now += std::chrono::milliseconds(2500);
		cli.tick(now);
		CHECK(rec.sessions.size() == 1); // still the old picture
		REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 2; }));
		CHECK(cli.epoch() == 8);
		CHECK(rec.sessions.size() == 2);
		CHECK(cli.counters().hold_expiries == 0);
	}
	SUBCASE("garbage is counted and ignored")
	{
		pub.send_garbage();
		REQUIRE(pump(pub, cli, now, [&] { return cli.counters().bad_messages == 1; }));
		CHECK(rec.sessions.size() == 1);
		CHECK(cli.state() == FeedClient::State::Synced);
	}
}

TEST_CASE("publisher gone: sessions withdrawn only after the hold time")
{
	zmq::context_t ctx;
	Recorder rec;
	consumer::FeedConfig cfg;
	cfg.endpoint = endpoint() + "-hold";
	cfg.hold_time = std::chrono::seconds(5);
	cfg.resubscribe_interval = std::chrono::milliseconds(100);
	auto pub = std::make_unique<FakePublisher>(ctx, cfg.endpoint, 1);
	pub->add(session(H1, S1, 21));
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();
	REQUIRE(pump(*pub, cli, now, [&] { return rec.snapshots == 1; }));
	pub.reset(); // bgpd dies
	now += std::chrono::seconds(4);
	cli.tick(now);
	CHECK(rec.sessions.size() == 1); // within hold time: kept
	CHECK(rec.lost == 0);
	now += std::chrono::seconds(2);
	cli.tick(now);
	CHECK(rec.lost == 1);
	CHECK(rec.sessions.empty());
	CHECK(cli.state() == FeedClient::State::Lost);

	// bgpd comes back (start order does not matter): the client re-subscribes.
	FakePublisher again(ctx, cfg.endpoint, 2);
	again.add(session(H2, S1, 21));
	REQUIRE(pump(again, cli, now, [&] { return rec.snapshots == 2; }));
	CHECK(rec.sessions.size() == 1);
	CHECK(cli.epoch() == 2);
}

TEST_CASE("invalid sessions in the feed are rejected, valid ones kept")
{
	zmq::context_t ctx;
	Recorder rec;
	consumer::FeedConfig cfg;
	cfg.endpoint = endpoint() + "-bad";
	cfg.resubscribe_interval = std::chrono::milliseconds(100);
	FakePublisher pub(ctx, cfg.endpoint, 1);
	auto bad = session(H1, S1, 21);
	bad.key.host_id = 0; // HOST ID 0 is invalid
	pub.add(bad);
	pub.add(session(H2, S1, 21));
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 1; }));
	CHECK(rec.sessions.size() == 1);
	CHECK(cli.counters().rejected_sessions == 1);
}
