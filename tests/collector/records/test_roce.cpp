#include "records/roce_tracker.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace records_test;
using rec::RoceTracker;

namespace {
constexpr std::uint64_t T = 1'764'700'000'000'000'000ULL;
constexpr std::uint64_t MS = 1'000'000, S = 1'000'000'000;
} // namespace

TEST_CASE("roce: CNP and NAK counts per (src, dst, QP), reports while changed")
{
	Log log;
	v1::SessionRef sref = session("rdma");
	RoceTracker tr({}, log.sink());
	auto feed = [&](std::uint64_t ts, const Frame &f) { tr.on_frame({&sref, 0, ts}, f); };
	for (int i = 0; i < 10; ++i)
		feed(T + i * 10 * MS, roce("10.0.0.1", "10.0.0.2", 0x81, 0x123));
	feed(T + 1, roce("10.0.0.2", "10.0.0.1", 0x11, 0x456, 1000, 0x60));
	feed(T + 2, roce("10.0.0.2", "10.0.0.1", 0x11, 0x456, 1001, 0x61));
	feed(T + 3, roce("10.0.0.2", "10.0.0.1", 0x11, 0x456, 1002, 0x62));
	feed(T + 4, roce("10.0.0.2", "10.0.0.1", 0x11, 0x456, 1003, 0x63));
	feed(T + 5, roce("10.0.0.2", "10.0.0.1", 0x11, 0x456, 1004, 0x2a)); // RNR
	feed(T + 6, roce("10.0.0.2", "10.0.0.1", 0x11, 0x456, 1005, 0x3f)); // RNR
	feed(T + 7, roce("10.0.0.2", "10.0.0.1", 0x11, 0x456, 1006, 0x64)); // other NAK
	feed(T + 8, roce("10.0.0.2", "10.0.0.1", 0x11, 0x456, 1007, 0x1f)); // ACK: not counted
	feed(T + 9, roce("10.0.0.2", "10.0.0.1", 0x04, 0x456, 1008));       // data: ignored
	CHECK(tr.size() == 2);
	CHECK(log.all.empty());

	tr.tick(T + 1 * S);
	auto r = log.roce();
	REQUIRE(r.size() == 2);
	const auto &cnp = r[0].dest_qp() == 0x123 ? r[0] : r[1];
	const auto &nak = r[0].dest_qp() == 0x123 ? r[1] : r[0];
	CHECK(cnp.src_ip() == "10.0.0.1");
	CHECK(cnp.dst_ip() == "10.0.0.2");
	CHECK(cnp.cnp() == 10);
	CHECK(cnp.cnp_rate() == doctest::Approx(10.0)); // over >= 1 s
	CHECK(cnp.first_seen_ns() == T);
	CHECK(cnp.last_seen_ns() == T + 90 * MS);
	CHECK_FALSE(cnp.final());
	CHECK(cnp.session().name() == "rdma");
	CHECK(nak.nak_psn_sequence_error() == 1);
	CHECK(nak.nak_invalid_request() == 1);
	CHECK(nak.nak_remote_access_error() == 1);
	CHECK(nak.nak_remote_operational_error() == 1);
	CHECK(nak.rnr_nak() == 2);
	CHECK(nak.nak_other() == 1);
	CHECK(nak.last_nak_psn() == 1006);
	CHECK(nak.last_nak_syndrome() == 0x64);
	CHECK(nak.cnp() == 0);

	// Unchanged: no report. Changed: report after the interval.
	tr.tick(T + 2 * S);
	CHECK(log.roce().size() == 2);
	for (int i = 0; i < 5; ++i)
		feed(T + 2 * S + i, roce("10.0.0.1", "10.0.0.2", 0x81, 0x123));
	tr.tick(T + 2 * S + 500 * MS); // interval not over since the last report? it is (1.5 s)
	r = log.roce();
	REQUIRE(r.size() == 3);
	CHECK(r[2].cnp() == 15);
	CHECK(r[2].cnp_rate() == doctest::Approx(5.0 / 1.5));
	feed(T + 3 * S, roce("10.0.0.1", "10.0.0.2", 0x81, 0x123));
	tr.tick(T + 3 * S); // only 0.5 s since the last report
	CHECK(log.roce().size() == 3);
	tr.tick(T + 3 * S + 500 * MS);
	CHECK(log.roce().size() == 4);

	tr.close_all(T + 4 * S);
	r = log.roce();
	REQUIRE(r.size() == 6);
	CHECK(r[4].final());
	CHECK(r[5].final());
	CHECK(tr.size() == 0);
	CHECK(tr.records() == 6);
}

TEST_CASE("roce: idle entries get a final record; QP scan bounded with evictions")
{
	Log log;
	v1::SessionRef sref = session("rdma");
	RoceTracker::Limits l;
	l.max_entries = 100;
	l.idle_ns = 10 * S;
	RoceTracker tr(l, log.sink());
	for (std::uint32_t qp = 0; qp < 1000; ++qp) {
		tr.on_frame({&sref, 5, T + qp}, roce("10.0.0.1", "10.0.0.2", 0x81, qp));
		REQUIRE(tr.size() <= 100);
	}
	CHECK(tr.evictions() == 900);
	auto r = log.roce();
	REQUIRE(r.size() == 900);
	CHECK(r[0].final());
	CHECK(r[0].dest_qp() == 0);
	CHECK(r[0].cnp() == 1);
	CHECK(r[0].vni() == 5);
	tr.tick(T + 5 * S);
	CHECK(log.roce().size() == 1000); // 100 regular reports
	tr.tick(T + 11 * S);
	CHECK(tr.size() == 0);
	r = log.roce();
	REQUIRE(r.size() == 1100);
	CHECK(r.back().final());
}

TEST_CASE("roce: ACK without AETH (truncated copy) and reserved syndromes are not counted")
{
	Log log;
	RoceTracker tr({}, log.sink());
	Frame f = roce("10.0.0.1", "10.0.0.2", 0x11, 1, 0, 0x60);
	f.bth.has_aeth = false;
	tr.on_frame({nullptr, 0, T}, f);
	tr.on_frame({nullptr, 0, T}, roce("10.0.0.1", "10.0.0.2", 0x11, 1, 0, 0x40));
	tr.on_frame({nullptr, 0, T}, roce("10.0.0.1", "10.0.0.2", 0x80, 1)); // IB CNP opcode, not RoCEv2's
	CHECK(tr.size() == 0);
	tr.on_frame({nullptr, 0, T}, roce("2001:db8::1", "2001:db8::2", 0x81, 0xffffff));
	tr.close_all(T);
	REQUIRE(log.roce().size() == 1);
	CHECK(log.roce()[0].src_ip() == "2001:db8::1");
	CHECK(log.roce()[0].dest_qp() == 0xffffff);
	CHECK(log.roce()[0].session().name().empty());
}
