#include "records/tcp_tracker.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace records_test;
using rec::TcpTracker;
using R = v1::TcpRecord;

namespace {

constexpr std::uint64_t T = 1'764'700'000'000'000'000ULL;
constexpr std::uint64_t US = 1000, MS = 1'000'000, S = 1'000'000'000;
const Endpoint C{"10.0.0.1", 40000}, SV{"10.0.0.2", 80};

struct Fixture {
	Log log;
	v1::SessionRef sref = session("s1");
	TcpTracker tr;
	explicit Fixture(TcpTracker::Limits l = {}) : tr(l, log.sink()) {}
	void feed(std::uint64_t ts, const Frame &f, std::uint32_t vni = 100)
	{
		rec::Context ctx{&sref, vni, ts};
		tr.on_frame(ctx, f);
	}
};

} // namespace

TEST_CASE("tcp: established handshake, data, FIN both ways, last ACK")
{
	Fixture fx;
	Frame syn = tcp(C, SV, SYN, 100);
	syn.tcp.mss = 1460;
	syn.tcp.window_scale = 7;
	syn.tcp.sack_permitted = true;
	syn.tcp.timestamps = true;
	Frame synack = tcp(SV, C, SYN | ACK, 500, 101);
	synack.tcp.mss = 1400;
	synack.tcp.window_scale = 0;
	fx.feed(T, syn);
	fx.feed(T + 100 * US, synack);
	CHECK(fx.log.all.empty());
	fx.feed(T + 130 * US, tcp(C, SV, ACK, 101, 501));
	auto hs = fx.log.tcp(R::HANDSHAKE);
	REQUIRE(hs.size() == 1);
	CHECK(hs[0].outcome() == R::ESTABLISHED);
	CHECK(hs[0].syn_to_synack_ns() == 100 * US);
	CHECK(hs[0].synack_to_ack_ns() == 30 * US);
	CHECK(hs[0].handshake_ns() == 130 * US);
	CHECK(hs[0].id_orig_h() == "10.0.0.1");
	CHECK(hs[0].id_orig_p() == 40000);
	CHECK(hs[0].id_resp_h() == "10.0.0.2");
	CHECK(hs[0].id_resp_p() == 80);
	CHECK(hs[0].vni() == 100);
	CHECK(hs[0].session().name() == "s1");
	CHECK(hs[0].session().source() == "192.0.2.1");
	CHECK(hs[0].session().span_id() == 7);
	CHECK(hs[0].orig_options().mss() == 1460);
	CHECK(hs[0].orig_options().window_scale() == 7);
	CHECK(hs[0].orig_options().sack_permitted());
	CHECK(hs[0].orig_options().timestamps());
	CHECK(hs[0].resp_options().mss() == 1400);
	CHECK(hs[0].resp_options().window_scale() == 0);
	CHECK_FALSE(hs[0].resp_options().sack_permitted());
	CHECK(hs[0].close_reason() == R::CLOSE_UNSPECIFIED);
	CHECK(hs[0].conn_state() == "S1");
	CHECK(hs[0].uid().size() > 1);
	CHECK(hs[0].uid()[0] == 'C');

	fx.feed(T + 200 * US, tcp(C, SV, PSH | ACK, 101, 501, 1000));
	fx.feed(T + 300 * US, tcp(SV, C, ACK, 501, 1101));
	fx.feed(T + 400 * US, tcp(SV, C, PSH | ACK, 501, 1101, 50));
	fx.feed(T + 500 * US, tcp(C, SV, FIN | ACK, 1101, 551));
	fx.feed(T + 600 * US, tcp(SV, C, FIN | ACK, 551, 1102));
	CHECK(fx.log.tcp(R::CLOSE).empty()); // waits for the last ACK
	fx.feed(T + 700 * US, tcp(C, SV, ACK, 1102, 552));
	auto cl = fx.log.tcp(R::CLOSE);
	REQUIRE(cl.size() == 1);
	CHECK(cl[0].close_reason() == R::FIN);
	CHECK(cl[0].conn_state() == "SF");
	CHECK(cl[0].history() == "ShADadFf");
	CHECK(cl[0].uid() == hs[0].uid());
	CHECK(cl[0].ts_ns() == T);
	CHECK(cl[0].last_seen_ns() == T + 700 * US);
	CHECK(cl[0].duration_ns() == 700 * US);
	CHECK(cl[0].orig_pkts() == 5);
	CHECK(cl[0].resp_pkts() == 4);
	CHECK(cl[0].orig_bytes() == 1000);
	CHECK(cl[0].resp_bytes() == 50);
	CHECK(cl[0].orig_ip_bytes() == 5 * 40 + 1000);
	CHECK(cl[0].resp_ip_bytes() == 4 * 40 + 50);
	CHECK(cl[0].handshake_ns() == 130 * US);
	CHECK(cl[0].outcome() == R::ESTABLISHED);
	CHECK(fx.tr.records() == 2);

	// Stragglers of the closed connection open nothing new.
	fx.feed(T + 800 * US, tcp(C, SV, ACK, 1102, 552));
	fx.tr.close_all(T + 1 * S);
	CHECK(fx.log.all.size() == 2);
}

TEST_CASE("tcp: retransmitted SYNs restart the handshake clock (Wireshark initial_rtt)")
{
	Fixture fx;
	fx.feed(T, tcp(C, SV, SYN, 100));
	fx.feed(T + 1 * S, tcp(C, SV, SYN, 100));
	fx.feed(T + 3 * S, tcp(C, SV, SYN, 100));
	fx.feed(T + 3 * S + 200 * US, tcp(SV, C, SYN | ACK, 9, 101));
	fx.feed(T + 3 * S + 210 * US, tcp(SV, C, SYN | ACK, 9, 101));
	fx.feed(T + 3 * S + 250 * US, tcp(C, SV, ACK, 101, 10));
	auto hs = fx.log.tcp(R::HANDSHAKE);
	REQUIRE(hs.size() == 1);
	CHECK(hs[0].syn_retransmissions() == 2);
	CHECK(hs[0].synack_retransmissions() == 1);
	CHECK(hs[0].handshake_ns() == 250 * US);
	CHECK(hs[0].syn_to_synack_ns() == 200 * US);
	CHECK(hs[0].synack_to_ack_ns() == 50 * US);
	CHECK(hs[0].history() == "ShA"); // same sequence numbers: letters once
	CHECK(hs[0].ts_ns() == T);
}

TEST_CASE("tcp: SYN retransmitted after the SYN/ACK left keeps the sum right")
{
	Fixture fx;
	fx.feed(T, tcp(C, SV, SYN, 100));
	fx.feed(T + 100 * US, tcp(SV, C, SYN | ACK, 9, 101));
	fx.feed(T + 150 * US, tcp(C, SV, SYN, 100)); // crossed the SYN/ACK
	fx.feed(T + 260 * US, tcp(C, SV, ACK, 101, 10));
	auto hs = fx.log.tcp(R::HANDSHAKE);
	REQUIRE(hs.size() == 1);
	CHECK(hs[0].handshake_ns() == 110 * US);
	CHECK(hs[0].syn_to_synack_ns() + hs[0].synack_to_ack_ns() == hs[0].handshake_ns());
	CHECK(hs[0].syn_to_synack_ns() == 0);
}

TEST_CASE("tcp: refused by RST, and RST from the originator")
{
	Fixture fx;
	fx.feed(T, tcp(C, SV, SYN, 100));
	fx.feed(T + 80 * US, tcp(SV, C, RST | ACK, 0, 101));
	auto hs = fx.log.tcp(R::HANDSHAKE);
	auto cl = fx.log.tcp(R::CLOSE);
	REQUIRE(hs.size() == 1);
	REQUIRE(cl.size() == 1);
	CHECK(hs[0].outcome() == R::REFUSED);
	CHECK(hs[0].handshake_ns() == 0);
	CHECK(cl[0].close_reason() == R::RST);
	CHECK(cl[0].conn_state() == "REJ");
	CHECK(cl[0].history() == "Sr");

	Fixture f2;
	const Endpoint c2{"10.0.0.9", 40001};
	f2.feed(T, tcp(c2, SV, SYN, 1));
	f2.feed(T + 5 * US, tcp(c2, SV, RST, 2));
	REQUIRE(f2.log.tcp(R::CLOSE).size() == 1);
	CHECK(f2.log.tcp(R::HANDSHAKE).empty()); // undecided: no handshake record
	CHECK(f2.log.tcp(R::CLOSE)[0].conn_state() == "RSTOS0");
	CHECK(f2.log.tcp(R::CLOSE)[0].outcome() == R::OUTCOME_UNSPECIFIED);
}

TEST_CASE("tcp: handshake timeout, then idle close")
{
	TcpTracker::Limits l;
	l.handshake_timeout_ns = 10 * S;
	l.idle_ns = 60 * S;
	Fixture fx(l);
	fx.feed(T, tcp(C, SV, SYN, 100));
	fx.feed(T + 3 * S, tcp(C, SV, SYN, 100));
	fx.tr.expire(T + 9 * S);
	CHECK(fx.log.all.empty());
	fx.tr.expire(T + 10 * S);
	auto hs = fx.log.tcp(R::HANDSHAKE);
	REQUIRE(hs.size() == 1);
	CHECK(hs[0].outcome() == R::TIMED_OUT);
	CHECK(hs[0].syn_retransmissions() == 1);
	CHECK(hs[0].conn_state() == "S0");
	fx.tr.expire(T + 62 * S);
	CHECK(fx.log.tcp(R::CLOSE).empty());
	fx.tr.expire(T + 63 * S);
	auto cl = fx.log.tcp(R::CLOSE);
	REQUIRE(cl.size() == 1);
	CHECK(cl[0].close_reason() == R::IDLE);
	CHECK(cl[0].outcome() == R::TIMED_OUT);
	// The tombstone goes after its linger time; size drops to 0.
	fx.tr.expire(T + 100 * S);
	CHECK(fx.tr.size() == 0);
}

TEST_CASE("tcp: FIN without the last ACK closes after the close delay")
{
	Fixture fx;
	fx.feed(T, tcp(C, SV, SYN, 100));
	fx.feed(T + 1 * US, tcp(SV, C, SYN | ACK, 9, 101));
	fx.feed(T + 2 * US, tcp(C, SV, ACK, 101, 10));
	fx.feed(T + 3 * US, tcp(C, SV, FIN | ACK, 101, 10));
	fx.feed(T + 4 * US, tcp(SV, C, FIN | ACK, 10, 102));
	fx.tr.expire(T + 1 * S);
	CHECK(fx.log.tcp(R::CLOSE).empty());
	fx.tr.expire(T + 3 * S);
	auto cl = fx.log.tcp(R::CLOSE);
	REQUIRE(cl.size() == 1);
	CHECK(cl[0].close_reason() == R::FIN);
	CHECK(cl[0].conn_state() == "SF");
}

TEST_CASE("tcp: midstream pickup, service port decides the originator")
{
	Fixture fx;
	// first packet is the server's (port 22 -> high port): flipped
	fx.feed(T, tcp({"10.0.0.2", 22}, {"10.0.0.1", 50000}, PSH | ACK, 1000, 2000, 20));
	fx.feed(T + 1 * US, tcp({"10.0.0.1", 50000}, {"10.0.0.2", 22}, ACK, 2000, 1020));
	fx.tr.close_all(T + 1 * S);
	auto cl = fx.log.tcp(R::CLOSE);
	REQUIRE(cl.size() == 1);
	CHECK(cl[0].outcome() == R::UNSEEN);
	CHECK(cl[0].id_orig_p() == 50000);
	CHECK(cl[0].id_resp_p() == 22);
	CHECK(cl[0].close_reason() == R::SHUTDOWN);
	CHECK(cl[0].conn_state() == "OTH");
	CHECK(cl[0].history() == "^dA"); // Zeek marks the flip
	CHECK(cl[0].resp_bytes() == 20);
	CHECK(cl[0].handshake_ns() == 0);
	CHECK(fx.tr.size() == 0);
}

TEST_CASE("tcp: retransmitted payload counts once, 't' in history; zero window 'w'")
{
	Fixture fx;
	fx.feed(T, tcp(C, SV, SYN, 0xfffffff0u)); // sequence space wraps
	fx.feed(T + 1, tcp(SV, C, SYN | ACK, 9, 0xfffffff1u));
	fx.feed(T + 2, tcp(C, SV, ACK, 0xfffffff1u, 10));
	fx.feed(T + 3, tcp(C, SV, ACK, 0xfffffff1u, 10, 100));
	fx.feed(T + 4, tcp(C, SV, ACK, 0xfffffff1u, 10, 100)); // retransmission
	fx.feed(T + 5, tcp(C, SV, ACK, 0x55u, 10, 100));       // after the wrap
	fx.feed(T + 6, tcp(SV, C, ACK, 10, 0xb9u, 0, 0));      // zero window
	fx.tr.close_all(T + 10);
	auto cl = fx.log.tcp(R::CLOSE);
	REQUIRE(cl.size() == 1);
	CHECK(cl[0].orig_bytes() == 200);
	CHECK(cl[0].orig_pkts() == 5);
	CHECK(cl[0].history() == "ShADTaw");
}

TEST_CASE("tcp: flows are kept apart by session and VNI, IPv6 addresses print per RFC 5952")
{
	Fixture fx;
	const Endpoint c6{"2001:db8::1", 40000}, s6{"2001:db8:0:0:0:0:0:2", 443};
	fx.feed(T, tcp(c6, s6, SYN, 1), 100);
	fx.feed(T, tcp(c6, s6, SYN, 1), 200);
	v1::SessionRef other = session("s2", "192.0.2.9");
	fx.tr.on_frame({&other, 100, T}, tcp(c6, s6, SYN, 1));
	CHECK(fx.tr.size() == 3);
	fx.tr.close_all(T + 1);
	auto cl = fx.log.tcp(R::CLOSE);
	REQUIRE(cl.size() == 3);
	std::set<std::string> uids;
	for (const auto &r : cl) {
		uids.insert(r.uid());
		CHECK(r.id_orig_h() == "2001:db8::1");
		CHECK(r.id_resp_h() == "2001:db8::2");
	}
	CHECK(uids.size() == 3);
	int s2 = 0;
	for (const auto &r : cl)
		if (r.session().name() == "s2") {
			++s2;
			CHECK(r.session().source() == "192.0.2.9");
		}
	CHECK(s2 == 1);
}

TEST_CASE("tcp: SYN flood stays within the flow limit, evictions counted and reported")
{
	TcpTracker::Limits l;
	l.max_flows = 1000;
	Fixture fx(l);
	for (std::uint32_t i = 0; i < 50000; ++i) {
		const std::string src = "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) +
					"." + std::to_string(i & 255);
		fx.feed(T + i, tcp({src.c_str(), static_cast<std::uint16_t>(1024 + i % 60000)}, SV, SYN, i));
		REQUIRE(fx.tr.size() <= 1000);
	}
	CHECK(fx.tr.size() == 1000);
	CHECK(fx.tr.evictions() == 49000);
	auto cl = fx.log.tcp(R::CLOSE);
	CHECK(cl.size() == 49000);
	CHECK(cl.front().close_reason() == R::EVICTED);
	CHECK(cl.front().id_orig_h() == "10.0.0.0"); // the oldest went first
	fx.tr.close_all(T + 1 * S);
	CHECK(fx.tr.size() == 0);
	CHECK(fx.log.tcp(R::CLOSE).size() == 50000);
}

TEST_CASE("tcp: a new SYN on a closed 4-tuple is a new connection")
{
	Fixture fx;
	fx.feed(T, tcp(C, SV, SYN, 100));
	fx.feed(T + 10, tcp(SV, C, RST | ACK, 0, 101));
	fx.feed(T + 20, tcp(C, SV, SYN, 5000));
	fx.feed(T + 30, tcp(SV, C, SYN | ACK, 9, 5001));
	fx.feed(T + 45, tcp(C, SV, ACK, 5001, 10));
	auto hs = fx.log.tcp(R::HANDSHAKE);
	REQUIRE(hs.size() == 2);
	CHECK(hs[0].outcome() == R::REFUSED);
	CHECK(hs[1].outcome() == R::ESTABLISHED);
	CHECK(hs[1].handshake_ns() == 25);
	CHECK(hs[0].uid() != hs[1].uid());
}

TEST_CASE("tcp: non-TCP and headerless frames are ignored")
{
	Fixture fx;
	Frame f = tcp(C, SV, SYN, 1);
	f.has_tcp = false;
	fx.feed(T, f);
	Frame u = roce("10.0.0.1", "10.0.0.2", 0x81, 5);
	fx.feed(T, u);
	Frame arp;
	arp.ethertype = 0x0806;
	fx.feed(T, arp);
	CHECK(fx.tr.size() == 0);
	CHECK(fx.log.all.empty());
}

TEST_CASE("tcp: midstream reordering does not inflate the byte count; history stays bounded")
{
	Fixture fx;
	fx.feed(T, tcp(C, SV, PSH | ACK, 5000, 1, 100));
	fx.feed(T + 1, tcp(C, SV, PSH | ACK, 4900, 1, 100)); // older segment, arrived late
	fx.feed(T + 2, tcp(C, SV, PSH | ACK, 5100, 1, 100));
	for (std::uint32_t i = 0; i < 1000; ++i) // SYN/ACKs of changing ISN: 'h' each time
		fx.feed(T + 3 + i, tcp(SV, C, SYN | ACK, i * 7, 1));
	fx.tr.close_all(T + 1 * S);
	auto cl = fx.log.tcp(R::CLOSE);
	REQUIRE(cl.size() == 1);
	CHECK(cl[0].orig_bytes() == 200);
	CHECK(cl[0].history().size() <= 64);
	CHECK(cl[0].history().substr(0, 3) == "DTh");
}

TEST_CASE("tcp: an established connection survives a SYN flood larger than the table")
{
	TcpTracker::Limits l;
	l.max_flows = 100;
	Fixture fx(l);
	fx.feed(T, tcp(C, SV, SYN, 100));
	fx.feed(T + 1, tcp(SV, C, SYN | ACK, 9, 101));
	fx.feed(T + 2, tcp(C, SV, ACK, 101, 10));
	for (std::uint32_t i = 0; i < 10000; ++i) {
		const std::string src = "172.16." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
		fx.feed(T + 10 + i, tcp({src.c_str(), 5555}, SV, SYN, i));
	}
	CHECK(fx.tr.size() == 100);
	CHECK(fx.tr.evictions() == 10000 - 99);
	for (const auto &r : fx.log.tcp(R::CLOSE))
		CHECK(r.id_orig_p() == 5555); // only flood SYNs were evicted
	fx.feed(T + 20000, tcp(C, SV, FIN | ACK, 101, 10));
	fx.feed(T + 20001, tcp(SV, C, FIN | ACK, 10, 102));
	fx.feed(T + 20002, tcp(C, SV, ACK, 102, 11));
	auto cl = fx.log.tcp(R::CLOSE);
	REQUIRE(!cl.empty());
	CHECK(cl.back().id_orig_p() == 40000);
	CHECK(cl.back().close_reason() == R::FIN);
	CHECK(cl.back().conn_state() == "SF");
}

TEST_CASE("tcp: at a high connection rate closed connections make room, live ones are not evicted")
{
	// Far more short connections within the linger time than the table
	// holds, interleaved: the keys of closed connections must go before
	// any live handshake.
	TcpTracker::Limits l;
	l.max_flows = 64;
	Fixture fx(l);
	constexpr int kConns = 2000, kPar = 4;
	std::uint64_t t = T;
	for (int base = 0; base < kConns; base += kPar) {
		for (int step = 0; step < 8; ++step)
			for (int j = 0; j < kPar; ++j) {
				const std::uint16_t cp = static_cast<std::uint16_t>(1024 + base + j);
				const Endpoint c{"10.0.0.1", cp};
				static constexpr std::uint8_t fl[8] = {SYN, SYN | ACK, ACK, PSH | ACK, ACK, FIN | ACK, FIN | ACK, ACK};
				static constexpr bool reply[8] = {false, true, false, false, true, false, true, false};
				static constexpr std::uint32_t cs[8] = {0, 0, 1, 1, 0, 11, 0, 12}, ca[8] = {0, 0, 1, 1, 0, 1, 0, 2};
				static constexpr std::uint32_t ss[8] = {0, 0, 0, 0, 1, 0, 1, 0}, sa[8] = {0, 1, 0, 0, 11, 0, 12, 0};
				const Frame f = reply[step] ? tcp(SV, c, fl[step], ss[step], sa[step])
							    : tcp(c, SV, fl[step], cs[step], ca[step], step == 3 ? 10 : 0);
				fx.feed(t += 10 * US, f);
				REQUIRE(fx.tr.size() <= 64);
			}
	}
	CHECK(fx.tr.evictions() == 0);
	const auto hs = fx.log.tcp(R::HANDSHAKE);
	const auto cl = fx.log.tcp(R::CLOSE);
	REQUIRE(hs.size() == kConns);
	REQUIRE(cl.size() == kConns);
	for (const auto &r : hs)
		CHECK(r.outcome() == R::ESTABLISHED);
	for (const auto &r : cl) {
		CHECK(r.close_reason() == R::FIN);
		CHECK(r.conn_state() == "SF");
		CHECK(r.orig_bytes() == 10);
	}
}
