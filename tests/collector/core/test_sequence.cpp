#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "core/sequence.hpp"

using evpnmon::collector::SequenceTracker;

TEST_CASE("sequence: first copy of a source is never a loss")
{
	SequenceTracker t;
	const auto r = t.on_seq(123456);
	CHECK(r.lost == 0);
	CHECK_FALSE(r.reordered);
	CHECK(t.last() == 123456);
	CHECK(t.losses() == 0);
}

TEST_CASE("sequence: contiguous numbers, then a gap counts the missing copies")
{
	SequenceTracker t;
	for (std::uint32_t s = 10; s < 20; ++s)
		CHECK(t.on_seq(s).lost == 0);
	const auto r = t.on_seq(25); // 20..24 missing
	CHECK(r.lost == 5);
	CHECK(t.losses() == 5);
	CHECK(t.on_seq(26).lost == 0);
	CHECK(t.losses() == 5);
	CHECK(t.last() == 26);
}

TEST_CASE("sequence: wrap-around modulo 2^32")
{
	SequenceTracker t;
	t.on_seq(0xFFFFFFFEu);
	CHECK(t.on_seq(0xFFFFFFFFu).lost == 0);
	CHECK(t.on_seq(0).lost == 0);
	CHECK(t.on_seq(3).lost == 2);
	CHECK(t.losses() == 2);

	SequenceTracker u;
	u.on_seq(0xFFFFFFF0u);
	CHECK(u.on_seq(5).lost == 20); // 0xFFFFFFF1..0xFFFFFFFF (15) + 0..4 (5)
}

TEST_CASE("sequence: late and duplicate copies are reordered, not lost, and keep the expectation")
{
	SequenceTracker t;
	t.on_seq(100);
	CHECK(t.on_seq(103).lost == 2); // 101, 102 missing for now
	auto r = t.on_seq(101);          // arrives late
	CHECK(r.reordered);
	CHECK(r.lost == 0);
	r = t.on_seq(103); // duplicate
	CHECK(r.reordered);
	CHECK(t.reordered() == 2);
	CHECK(t.last() == 103);
	CHECK(t.on_seq(104).lost == 0); // the expectation did not move back
	CHECK(t.losses() == 2);
}

TEST_CASE("sequence: a jump of 2^31 or more is behind (reordered), not a loss")
{
	SequenceTracker u;
	u.on_seq(0);
	const auto r = u.on_seq(0x80000001u); // expected 1: 0x80000000 ahead -> behind
	CHECK(r.reordered);
	CHECK(u.losses() == 0);
}

TEST_CASE("sequence: a gap up to kMaxGap is a loss, a larger one restarts the expectation")
{
	SequenceTracker t;
	t.on_seq(0);
	CHECK(t.on_seq(SequenceTracker::kMaxGap + 1).lost == SequenceTracker::kMaxGap);
	SequenceTracker u;
	u.on_seq(0);
	const auto r = u.on_seq(0x7FFFFFFFu); // a forged copy far ahead
	CHECK(r.resynced);
	CHECK(r.lost == 0);
	CHECK(u.losses() == 0);
	CHECK(u.resyncs() == 1);
	CHECK(u.on_seq(0x80000000u).lost == 0); // counting goes on from there
	CHECK(u.on_seq(0x80000003u).lost == 2);
}

TEST_CASE("sequence: a sender that restarted its counter is followed after kResyncAfter copies")
{
	SequenceTracker t;
	for (std::uint32_t s = 1000; s < 1100; ++s)
		t.on_seq(s);
	std::uint32_t s = 0;
	for (; s + 1 < SequenceTracker::kResyncAfter; ++s)
		CHECK(t.on_seq(s).reordered);
	const auto r = t.on_seq(s++);
	CHECK(r.resynced);
	CHECK(t.last() == s - 1);
	CHECK(t.on_seq(s + 1).lost == 1); // losses count again
	CHECK(t.losses() == 1);
	CHECK(t.resyncs() == 1);
}
