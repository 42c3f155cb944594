// Feed client against a fake bgpd publisher: snapshot, deltas, gap and epoch
// resync, garbage, hold-time withdrawal, late publisher (start order).
#include "fabric.hpp"
#include "fake_publisher.hpp"
#include "feed/feed_client.hpp"

#include <doctest/doctest.h>

#include "monitor_feed.pb.h"

#include <atomic>
#include <functional>
#include <thread>
#include <unistd.h>

using namespace evpnmon;
using namespace evpnmon::test;
using consumer::FeedClient;
using Clock = std::chrono::steady_clock;

namespace {

struct Recorder : consumer::FeedListener {
	std::map<consumer::SessionKey, consumer::Session> sessions;
	std::vector<std::string> notices; // what the daemon would log
	int snapshots = 0, lost = 0;
	void on_feed_notice(const std::string &m) override { notices.push_back(m); }
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
	pub.add(make_session(H1, S1, 21));
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

	pub.add(make_session(H2, S1, 21));
	REQUIRE(pump(pub, cli, now, [&] { return rec.sessions.size() == 2; }));
	pub.del(make_session(H1, S1, 21));
	REQUIRE(pump(pub, cli, now, [&] { return rec.sessions.size() == 1; }));
	CHECK(cli.seq() == 3);

	SUBCASE("a lost delta is detected by the next delta: resubscribe, fresh snapshot")
	{
		pub.add_silently(make_session(H1, S1, 22));
		pub.add(make_session(H1, S1, 23));
		REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 2; }));
		CHECK(cli.counters().gaps == 1);
		CHECK(rec.sessions.size() == 3);
	}
	SUBCASE("a lost delta is detected by the heartbeat")
	{
		pub.add_silently(make_session(H1, S1, 22));
		pub.heartbeat();
		REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 2; }));
		CHECK(rec.sessions.size() == 2);
	}
	SUBCASE("bgpd restart: silence -> resubscribe, sessions kept until the new snapshot")
	{
		pub.restart(8); // forgets its subscribers, as a new process would
		pub.add_silently(make_session(H1, S1, 30));
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

// A busy bgpd is silent for seconds; the client subscribes again meanwhile,
// and every subscription is answered with a snapshot. One of the point the
// client holds already changes nothing and is not applied again; after the
// hold time (sessions withdrawn) the same snapshot is applied.
TEST_CASE("a snapshot of the point the client already holds is not applied again")
{
	zmq::context_t ctx;
	FakePublisher pub(ctx, endpoint() + "-same", 7);
	pub.add(make_session(H1, S1, 21));
	Recorder rec;
	consumer::FeedConfig cfg;
	cfg.endpoint = endpoint() + "-same";
	cfg.hold_time = std::chrono::seconds(10);
	cfg.resubscribe_interval = std::chrono::milliseconds(100);
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 1; }));
	pub.add(make_session(H2, S1, 21));
	REQUIRE(pump(pub, cli, now, [&] { return rec.sessions.size() == 2; }));
	REQUIRE(cli.counters().snapshots == 1);

	// Silence: the client asks again, several times, before bgpd answers.
	now += cfg.silence_resubscribe + std::chrono::milliseconds(1);
	cli.tick(now);
	REQUIRE(cli.state() == FeedClient::State::Subscribing);
	for (int i = 0; i < 3; ++i) {
		now += cfg.resubscribe_interval;
		cli.tick(now);
	}
	REQUIRE(cli.counters().subscribes >= 4);
	REQUIRE(pump(pub, cli, now, [&] {
		return cli.counters().snapshots >= cli.counters().subscribes;
	}));
	CHECK(cli.state() == FeedClient::State::Synced);
	CHECK(rec.snapshots == 1); // none applied again
	CHECK(rec.sessions.size() == 2);

	// Something changed meanwhile (no delta seen): that snapshot is applied.
	pub.add_silently(make_session(H1, S1, 22));
	now += cfg.silence_resubscribe + std::chrono::milliseconds(1);
	cli.tick(now);
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 2; }));
	CHECK(rec.sessions.size() == 3);

	// Lost: the sessions are withdrawn, the same point is applied again.
	now += cfg.hold_time;
	cli.tick(now);
	REQUIRE(cli.state() == FeedClient::State::Lost);
	REQUIRE(rec.sessions.empty());
	pub.heartbeat();
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 3; }));
	CHECK(rec.sessions.size() == 3);
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
	pub->add(make_session(H1, S1, 21));
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
	again.add(make_session(H2, S1, 21));
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
	auto bad = make_session(H1, S1, 21);
	bad.key.host_id = 0; // HOST ID 0 is invalid
	pub.add(bad);
	pub.add(make_session(H2, S1, 21));
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 1; }));
	CHECK(rec.sessions.size() == 1);
	CHECK(cli.counters().rejected_sessions == 1);
}

namespace {

namespace pb = evpnmon::feed::v1;

pb::MonitorSession wire(const consumer::Session &s, std::uint32_t version = 2)
{
	pb::MonitorSession m;
	consumer::to_proto(s, m, version);
	return m;
}

const consumer::Rejection *refused(const std::variant<consumer::Session, consumer::Rejection> &r)
{
	return std::get_if<consumer::Rejection>(&r);
}
const consumer::Rejection *refused(std::variant<consumer::Session, consumer::Rejection> &&) = delete;

bool mentions(const std::vector<std::string> &lines, const std::string &what)
{
	for (const auto &l : lines)
		if (l.find(what) != std::string::npos)
			return true;
	return false;
}

} // namespace

TEST_CASE("session_convert: options and session id of a version-2 feed")
{
	auto s = make_session(H1, S1, 21, ip4(10, 0, 0, 101));
	s.options = test_profile("roce", EVPN_MON_DIR_RX, 100);
	const auto m = wire(s);
	CHECK(!m.options().empty());
	CHECK(m.session_id() == "10.0.0.101/1000/21/02:00:00:00:00:01/-");
	auto r = consumer::from_proto(m);
	REQUIRE(std::holds_alternative<consumer::Session>(r));
	const auto &got = std::get<consumer::Session>(r);
	CHECK(got == s);
	CHECK(got.options.has_profile());
	CHECK(got.options.c().direction == EVPN_MON_DIR_RX);
	CHECK(got.options.c().sample == 100);

	SUBCASE("the feed's session id is taken as it is")
	{
		auto other = m;
		other.set_session_id("10.0.0.101/1000/21/02:00:00:00:00:01/-/named-by-bgpd");
		auto r2 = consumer::from_proto(other);
		REQUIRE(std::holds_alternative<consumer::Session>(r2));
		CHECK(std::get<consumer::Session>(r2).id == other.session_id());
	}
	SUBCASE("a session id that is no printable identifier is refused")
	{
		for (const std::string &bad : {std::string("a b"), std::string("x\n"), std::string(200, 'x')}) {
			auto other = m;
			other.set_session_id(bad);
			const auto res = consumer::from_proto(other);
		const auto *why = refused(res);
			REQUIRE(why);
			CHECK(why->session == "10.0.0.101/1000/21/02:00:00:00:00:01/-");
			CHECK(!why->options);
		}
	}
	SUBCASE("no profile: no options area, and back")
	{
		auto plain = make_session(H1, S1, 21);
		const auto pm = wire(plain);
		CHECK(pm.options().empty());
		auto r2 = consumer::from_proto(pm);
		REQUIRE(std::holds_alternative<consumer::Session>(r2));
		CHECK(!std::get<consumer::Session>(r2).options.has_profile());
	}
}

TEST_CASE("session_convert: an invalid options area refuses the session, by the shared decoder")
{
	auto s = make_session(H1, S1, 21, ip4(10, 0, 0, 101));
	s.options = test_profile("roce", EVPN_MON_DIR_TX);
	const auto good = wire(s);
	const std::string area = good.options();
	REQUIRE(area.size() > 2);
	std::vector<std::string> bad = {
		std::string("\x09", 1) + area.substr(1), // unknown options version
		area.substr(0, area.size() - 1),         // last TLV cut short
		area + std::string("\x05\x03\x01", 3),   // police TLV of a wrong length / cut
		std::string("\x01\x7f\x00", 3),          // unknown mandatory TLV
	};
	for (const auto &b : bad) {
		CAPTURE(b.size());
		auto m = good;
		m.set_options(b);
		const auto res = consumer::from_proto(m);
		const auto *why = refused(res);
		REQUIRE(why);
		CHECK(why->options);
		CHECK(why->session == "10.0.0.101/1000/21/02:00:00:00:00:01/-");
		CHECK(why->reason.find("options area") != std::string::npos);
		// a withdrawal needs the key only: it still goes through
		CHECK(std::holds_alternative<consumer::Session>(consumer::from_proto(m, true)));
	}
}

TEST_CASE("session_convert: the key is validated by evpn_mon_validate, not by rules of our own")
{
	const auto good = wire(make_session(H1, S1, 21, ip4(10, 0, 0, 101)));
	auto refuse = [&](auto &&change) {
		auto m = good;
		change(m);
		const auto res = consumer::from_proto(m);
		const auto *why = refused(res);
		if (why) {
			CHECK(!why->options);
			CHECK(!why->reason.empty());
			CHECK(!why->session.empty());
		}
		return why != nullptr;
	};
	CHECK(refuse([](pb::MonitorSession &m) { m.set_host_id(0); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_host_id(65536); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_vni(0); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_vni(1u << 24); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_host_mac(std::string(5, '\2')); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_host_mac(std::string(300, '\2')); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_host_mac(std::string("\1\0\0\0\0\1", 6)); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.clear_host_mac(); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_host_ip(std::string(5, '\1')); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_server_mac(std::string(7, '\2')); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_server_mac(std::string(6, '\xff')); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_server_ip(std::string(3, '\1')); }));
	CHECK(refuse([](pb::MonitorSession &m) { m.set_originator(std::string(3, '\1')); }));
	CHECK(!refuse([](pb::MonitorSession &m) { m.set_host_ip(std::string(16, '\x20')); }));
	CHECK(!refuse([](pb::MonitorSession &m) {
		m.clear_host_mac();
		m.set_host_ip(std::string("\x0a\0\0\x05", 4));
	}));
}

TEST_CASE("feed v2 end to end: version asked, options kept, bad options refused and counted")
{
	zmq::context_t ctx;
	Recorder rec;
	consumer::FeedConfig cfg;
	cfg.endpoint = endpoint() + "-v2";
	cfg.resubscribe_interval = std::chrono::milliseconds(100);
	FakePublisher pub(ctx, cfg.endpoint, 1);
	auto profiled = make_session(H1, S1, 21, ip4(10, 0, 0, 101));
	profiled.options = test_profile("cnp", EVPN_MON_DIR_BOTH, 10);
	pub.add(profiled);
	auto broken = wire(make_session(H2, S1, 21, ip4(10, 0, 0, 102)));
	broken.set_options(std::string("\x09\x01\x01\x01", 4)); // unknown options version
	pub.add_raw(broken);
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 1; }));
	CHECK(pub.last_request_version == consumer::kFeedVersion);
	CHECK(cli.peer_version() == 2);
	REQUIRE(rec.sessions.size() == 1);
	CHECK(rec.sessions.begin()->second == profiled);
	CHECK(cli.counters().rejected_sessions == 1);
	CHECK(cli.counters().rejected_options == 1);
	CHECK(mentions(rec.notices, "10.0.0.102/1000/21/02:00:00:00:00:02/-"));
	CHECK(cli.last_error().find("options area") != std::string::npos);

	SUBCASE("an options change arrives as an update of the same session")
	{
		auto changed = profiled;
		changed.options = test_profile("cnp", EVPN_MON_DIR_RX, 10);
		pub.add(changed);
		REQUIRE(pump(pub, cli, now, [&] {
			return rec.sessions.begin()->second.options == changed.options;
		}));
		CHECK(rec.sessions.size() == 1);
	}
	SUBCASE("an update that makes a session invalid withdraws it, as bgpd does")
	{
		auto m = wire(profiled);
		m.set_options(std::string("\x01\x7f\x00", 3));
		pub.add_raw(m);
		REQUIRE(pump(pub, cli, now, [&] { return rec.sessions.empty(); }));
		CHECK(cli.counters().rejected_options == 2);
	}
	SUBCASE("a withdrawal with an undecodable options area still withdraws")
	{
		auto m = wire(profiled);
		m.set_options(std::string("\xff", 1));
		m.clear_server_mac(); // nor does it need the server
		pub.del_raw(m);
		REQUIRE(pump(pub, cli, now, [&] { return rec.sessions.empty(); }));
		CHECK(cli.counters().rejected_sessions == 1); // the broken one of the snapshot only
	}
}

TEST_CASE("a version-1 bgpd: no version, no options, no session ids")
{
	zmq::context_t ctx;
	Recorder rec;
	consumer::FeedConfig cfg;
	cfg.endpoint = endpoint() + "-v1";
	cfg.resubscribe_interval = std::chrono::milliseconds(100);
	FakePublisher pub(ctx, cfg.endpoint, 1);
	pub.version = 0;
	auto s = make_session(H1, S1, 21, ip4(10, 0, 0, 101));
	s.options = test_profile("dropped-by-v1"); // a v1 bgpd cannot send it
	pub.add(s);
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 1; }));
	CHECK(cli.peer_version() == 1);
	REQUIRE(rec.sessions.size() == 1);
	const auto &got = rec.sessions.begin()->second;
	CHECK(!got.options.has_profile());
	CHECK(got.id == "10.0.0.101/1000/21/02:00:00:00:00:01/-"); // computed here
	CHECK(cli.counters().rejected_sessions == 0);
	CHECK(rec.notices.empty());
}

TEST_CASE("a newer bgpd: logged once, its sessions used")
{
	zmq::context_t ctx;
	Recorder rec;
	consumer::FeedConfig cfg;
	cfg.endpoint = endpoint() + "-v5";
	cfg.resubscribe_interval = std::chrono::milliseconds(100);
	FakePublisher pub(ctx, cfg.endpoint, 1);
	pub.version = 5;
	pub.add(make_session(H1, S1, 21));
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 1; }));
	pub.heartbeat();
	pub.heartbeat();
	REQUIRE(pump(pub, cli, now, [&] { return cli.counters().heartbeats >= 2; }));
	CHECK(cli.peer_version() == 5);
	CHECK(rec.sessions.size() == 1);
	CHECK(cli.state() == FeedClient::State::Synced);
	CHECK(rec.notices.size() == 1);
	CHECK(mentions(rec.notices, "feed version 5"));
}

TEST_CASE("a snapshot full of refused sessions logs a few lines, counts all")
{
	zmq::context_t ctx;
	Recorder rec;
	consumer::FeedConfig cfg;
	cfg.endpoint = endpoint() + "-many";
	cfg.resubscribe_interval = std::chrono::milliseconds(100);
	FakePublisher pub(ctx, cfg.endpoint, 1);
	for (std::uint16_t id = 1; id <= 25; ++id) {
		auto m = wire(make_session(H1, S1, id));
		m.set_options(std::string("\x09", 1));
		pub.add_raw(m);
	}
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 1; }));
	CHECK(cli.counters().rejected_sessions == 25);
	CHECK(cli.counters().rejected_options == 25);
	CHECK(rec.notices.size() == 11); // 10 lines and one summary
	CHECK(mentions(rec.notices, "15 more session(s) rejected"));
}

// Feed version 3: collector sessions.
namespace {
const dp::IpAddr COLL = ipv4_addr(10, 9, 0, 1);

consumer::Session collector_session(std::uint16_t id = 7)
{
	return make_collector_session(H1, id, COLL, erspan_options(3, id, 10, 32), ip4(10, 0, 0, 101));
}

// A canonical options area holding only the given TLVs after the version.
std::string area(const std::string &tlvs)
{
	return std::string("\x01", 1) + tlvs;
}
// The ERSPAN TLV (type 6, 8 octets).
std::string erspan_tlv(std::uint8_t version, std::uint16_t span, std::uint8_t dscp = 0,
		       std::uint8_t ttl = 64, std::uint8_t flags = 0)
{
	const char v[] = {6,
			  8,
			  static_cast<char>(version),
			  static_cast<char>(flags),
			  static_cast<char>(span >> 8),
			  static_cast<char>(span & 0xff),
			  static_cast<char>(dscp),
			  static_cast<char>(ttl),
			  0,
			  0};
	return std::string(v, sizeof(v));
}
} // namespace

TEST_CASE("session_convert: a collector session of a version-3 feed")
{
	const auto s = collector_session();
	const auto m = wire(s, 3);
	CHECK(m.collector_id() == 7);
	CHECK(m.host_id() == 0);
	CHECK(m.server_mac().empty());
	CHECK(m.server_ip() == std::string("\x0a\x09\x00\x01", 4));
	CHECK(m.session_id() == "10.0.0.101/1000/c7/02:00:00:00:00:01/-");
	CHECK(m.options() == area(erspan_tlv(3, 7, 10, 32)));
	const auto r = consumer::from_proto(m);
	REQUIRE(std::holds_alternative<consumer::Session>(r));
	const auto &got = std::get<consumer::Session>(r);
	CHECK(got == s);
	CHECK(got.is_collector());
	CHECK(got.key.host_id == 7);
	CHECK(got.options.has_erspan());
	CHECK(got.options.erspan().span_id == 7);
	CHECK(got.options.erspan().dscp == 10);
	CHECK(got.options.erspan().ttl == 32);
	CHECK(got.server_ip == COLL);

	SUBCASE("a collector ID and a HOST ID of the same number are two sessions")
	{
		auto server = wire(make_session(H1, S1, 7, ip4(10, 0, 0, 101)));
		const auto rs = consumer::from_proto(server);
		REQUIRE(std::holds_alternative<consumer::Session>(rs));
		CHECK(std::get<consumer::Session>(rs).key != got.key);
		CHECK(std::get<consumer::Session>(rs).id != got.id);
	}
	SUBCASE("with a profile: the area has both, and both survive")
	{
		auto p = collector_session();
		p.options = erspan_options(2, 7, 0, 64, 0x8949, test_profile("cnp", EVPN_MON_DIR_RX, 4));
		const auto r2 = consumer::from_proto(wire(p, 3));
		REQUIRE(std::holds_alternative<consumer::Session>(r2));
		CHECK(std::get<consumer::Session>(r2).options == p.options);
		CHECK(std::get<consumer::Session>(r2).options.c().sample == 4);
		CHECK(std::get<consumer::Session>(r2).options.erspan().gre_proto == 0x8949);
	}
	SUBCASE("an IPv6 collector is a valid session (the decision says what it can do)")
	{
		auto m6 = m;
		m6.set_server_ip(std::string("\x20\x01\x0d\xb8", 4) + std::string(11, '\0') + "\x01");
		CHECK(std::holds_alternative<consumer::Session>(consumer::from_proto(m6)));
	}
	SUBCASE("a withdrawal needs the key only")
	{
		auto del = m;
		del.clear_options();
		del.clear_server_ip();
		const auto rd = consumer::from_proto(del, true);
		REQUIRE(std::holds_alternative<consumer::Session>(rd));
		CHECK(std::get<consumer::Session>(rd).key == s.key);
	}
}

TEST_CASE("session_convert: every malformed collector session is refused, with its reason")
{
	const auto good = wire(collector_session(), 3);
	struct Bad {
		const char *what;
		std::function<void(pb::MonitorSession &)> change;
		bool options; // the options area is what failed
		const char *reason;
	};
	const std::vector<Bad> bad = {
		{"host_id set too", [](auto &m) { m.set_host_id(21); }, false, "destination"},
		{"a server MAC", [](auto &m) { m.set_server_mac(std::string("\x02\0\0\0\0\x21", 6)); }, false,
		 "destination"},
		{"a zero server MAC", [](auto &m) { m.set_server_mac(std::string(6, '\0')); }, false,
		 "destination"},
		{"no collector IP", [](auto &m) { m.clear_server_ip(); }, false, "destination"},
		{"a collector IP of 5 octets", [](auto &m) { m.set_server_ip(std::string(5, '\1')); }, false,
		 nullptr},
		{"no options area", [](auto &m) { m.clear_options(); }, false, "destination"},
		{"a profile without the ERSPAN TLV",
		 [](auto &m) { m.set_options(area(std::string("\x01\x01\x01", 3))); }, false, "destination"},
		{"ERSPAN version 1", [](auto &m) { m.set_options(area(erspan_tlv(1, 7))); }, true, nullptr},
		{"span id 1024", [](auto &m) { m.set_options(area(erspan_tlv(3, 1024))); }, true, nullptr},
		{"DSCP 64", [](auto &m) { m.set_options(area(erspan_tlv(3, 7, 64))); }, true, nullptr},
		{"TTL 0", [](auto &m) { m.set_options(area(erspan_tlv(3, 7, 0, 0))); }, true, nullptr},
		{"flags set", [](auto &m) { m.set_options(area(erspan_tlv(3, 7, 0, 64, 1))); }, true, nullptr},
		{"the ERSPAN TLV cut short",
		 [](auto &m) { m.set_options(area(erspan_tlv(3, 7)).substr(0, 8)); }, true, nullptr},
		{"the ERSPAN TLV twice",
		 [](auto &m) { m.set_options(area(erspan_tlv(3, 7) + erspan_tlv(3, 7))); }, true, nullptr},
		{"an ERSPAN TLV of 7 octets",
		 [](auto &m) { m.set_options(area(std::string("\x06\x07\x03\0\0\x07\0\x40\0", 9))); }, true,
		 nullptr},
		{"collector ID 65536", [](auto &m) { m.set_collector_id(65536); }, false, nullptr},
	};
	for (const auto &b : bad) {
		CAPTURE(b.what);
		auto m = good;
		b.change(m);
		const auto res = consumer::from_proto(m);
		const auto *why = refused(res);
		REQUIRE(why);
		CHECK(!why->reason.empty());
		CHECK(!why->session.empty());
		CHECK(why->options == b.options);
		if (b.reason)
			CHECK(why->reason.find(b.reason) != std::string::npos);
	}

	SUBCASE("a server session with the ERSPAN TLV is refused too")
	{
		auto s = make_session(H1, S1, 21, ip4(10, 0, 0, 101));
		auto m = wire(s);
		m.set_options(area(erspan_tlv(3, 7)));
		const auto res = consumer::from_proto(m);
		const auto *why = refused(res);
		REQUIRE(why);
		CHECK(why->reason.find("destination") != std::string::npos);
		CHECK(why->session == s.id);
	}
	SUBCASE("both IDs set: not even a withdrawal is trusted")
	{
		auto m = good;
		m.set_host_id(21);
		CHECK(std::holds_alternative<consumer::Rejection>(consumer::from_proto(m, true)));
	}
}

TEST_CASE("feed v3 end to end: version 3 asked, collector sessions kept, bad ones counted")
{
	zmq::context_t ctx;
	Recorder rec;
	consumer::FeedConfig cfg;
	cfg.endpoint = endpoint() + "-v3";
	cfg.resubscribe_interval = std::chrono::milliseconds(100);
	FakePublisher pub(ctx, cfg.endpoint, 1);
	pub.version = 3;
	const auto good = collector_session(7);
	pub.add(good);
	auto no_ip = wire(collector_session(8), 3);
	no_ip.clear_server_ip();
	pub.add_raw(no_ip);
	auto bad_tlv = wire(collector_session(9), 3);
	bad_tlv.set_options(area(erspan_tlv(3, 2000)));
	pub.add_raw(bad_tlv);
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 1; }));
	CHECK(pub.last_request_version == 4);
	CHECK(consumer::kFeedVersion == 4);
	CHECK(cli.peer_version() == 3);
	CHECK(rec.notices.size() == 2); // the two refusals, no "newer version"
	CHECK(mentions(rec.notices, "10.0.0.101/1000/c8/02:00:00:00:00:01/-"));
	CHECK(mentions(rec.notices, "10.0.0.101/1000/c9/02:00:00:00:00:01/-"));
	REQUIRE(rec.sessions.size() == 1);
	CHECK(rec.sessions.begin()->second == good);
	CHECK(cli.counters().rejected_sessions == 2);
	CHECK(cli.counters().rejected_options == 1);
	CHECK(cli.state() == FeedClient::State::Synced);

	SUBCASE("a collector change arrives as an update of the same session")
	{
		auto moved = good;
		moved.server_ip = ipv4_addr(10, 9, 0, 2);
		pub.add(moved);
		REQUIRE(pump(pub, cli, now, [&] { return rec.sessions.begin()->second.server_ip == moved.server_ip; }));
		CHECK(rec.sessions.size() == 1);
	}
	SUBCASE("a withdrawal removes it")
	{
		pub.del(good);
		REQUIRE(pump(pub, cli, now, [&] { return rec.sessions.empty(); }));
	}
}

// --- feed version 4: the import decision ---

TEST_CASE("feed v4: the import decision converted and back")
{
	auto s = make_session(H1, S1, 21);
	for (auto state : {consumer::ImportState::Installed, consumer::ImportState::Denied,
			   consumer::ImportState::OverLimit}) {
		s.import_state = state;
		s.import_reason = "rule 10 deny (originator prefix-list ROGUE)";
		pb::MonitorSession m;
		consumer::to_proto(s, m, 4);
		CHECK(static_cast<int>(m.import_state()) == static_cast<int>(state));
		auto r = consumer::from_proto(m);
		REQUIRE(std::holds_alternative<consumer::Session>(r));
		CHECK(std::get<consumer::Session>(r) == s);
	}
	SUBCASE("a version-3 bgpd sends no decision: installed")
	{
		s.import_state = consumer::ImportState::Denied;
		pb::MonitorSession m;
		consumer::to_proto(s, m, 3);
		auto r = consumer::from_proto(m);
		REQUIRE(std::holds_alternative<consumer::Session>(r));
		CHECK(std::get<consumer::Session>(r).import_state == consumer::ImportState::Installed);
		CHECK(std::get<consumer::Session>(r).import_reason.empty());
	}
	SUBCASE("a state this consumer does not know is never installed")
	{
		pb::MonitorSession m;
		consumer::to_proto(s, m, 4);
		m.set_import_state(static_cast<pb::ImportState>(7));
		m.set_import_reason("a future reason");
		auto r = consumer::from_proto(m);
		REQUIRE(std::holds_alternative<consumer::Session>(r));
		const auto &got = std::get<consumer::Session>(r);
		CHECK(got.import_state == consumer::ImportState::Denied);
		CHECK(got.import_reason == "import state 7 unknown to this consumer: a future reason");
	}
	SUBCASE("the reason is made printable and bounded")
	{
		pb::MonitorSession m;
		consumer::to_proto(s, m, 4);
		m.set_import_reason(std::string("bad\nline\x01") + std::string(300, 'x'));
		auto r = consumer::from_proto(m);
		REQUIRE(std::holds_alternative<consumer::Session>(r));
		const auto &reason = std::get<consumer::Session>(r).import_reason;
		CHECK(reason.substr(0, 9) == "bad?line?");
		CHECK(reason.size() == 203);
		CHECK(reason.ends_with("..."));
	}
}

TEST_CASE("feed v4 end to end: version 4 asked, held sessions delivered with their decision, a flip as an update")
{
	zmq::context_t ctx;
	Recorder rec;
	consumer::FeedConfig cfg;
	cfg.endpoint = endpoint() + "-v4";
	cfg.resubscribe_interval = std::chrono::milliseconds(100);
	FakePublisher pub(ctx, cfg.endpoint, 1);
	pub.version = 4;
	auto allowed = make_session(H1, S1, 21);
	allowed.import_reason = "default permit";
	auto denied = make_session(H2, S1, 21);
	denied.import_state = consumer::ImportState::Denied;
	denied.import_reason = "rule 10 deny";
	pub.add(allowed);
	pub.add(denied);
	FeedClient cli(ctx, cfg, rec);
	auto now = Clock::now();
	REQUIRE(pump(pub, cli, now, [&] { return rec.snapshots == 1; }));
	CHECK(pub.last_request_version == 4);
	CHECK(cli.peer_version() == 4);
	CHECK(rec.notices.empty()); // version 4 is not "newer"
	REQUIRE(rec.sessions.size() == 2);
	CHECK(rec.sessions.at(allowed.key) == allowed);
	CHECK(rec.sessions.at(denied.key) == denied);

	auto flipped = denied;
	flipped.import_state = consumer::ImportState::Installed;
	flipped.import_reason = "rule 20 permit";
	pub.add(flipped);
	REQUIRE(pump(pub, cli, now, [&] { return rec.sessions.at(denied.key).installed(); }));
	CHECK(rec.sessions.at(denied.key) == flipped);
	CHECK(cli.counters().rejected_sessions == 0);
}
