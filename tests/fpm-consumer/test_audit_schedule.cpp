// When the periodic audit runs (core/audit_schedule.hpp): synthetic time
// points, no clock, no timing assertions.
#include "core/audit_schedule.hpp"

#include <doctest/doctest.h>

using evpnmon::consumer::AuditSchedule;
using namespace std::chrono_literals;

namespace {
const AuditSchedule::TimePoint T0{std::chrono::seconds(1000)};

AuditSchedule schedule(double load = 0.5)
{
	return AuditSchedule({.interval = 60s, .max_load = load, .quiet = 1s, .step_patience = 1s}, T0);
}
} // namespace

TEST_CASE("an audit is due one interval after the start, then one interval after it began")
{
	auto a = schedule();
	CHECK(!a.due(T0 + 59s, false));
	REQUIRE(a.due(T0 + 60s, false));
	a.started(T0 + 60s);
	CHECK(a.in_progress());
	CHECK(!a.due(T0 + 61s, false)); // in progress
	// a cheap audit: the interval stands, counted from the audit's start
	CHECK(a.done(100ms) == 60s);
	CHECK(!a.in_progress());
	CHECK(!a.due(T0 + 119s, false));
	CHECK(a.due(T0 + 120s, false));
}

TEST_CASE("restart: the first audit one interval after the end of the start-up")
{
	auto a = schedule();
	a.restart(T0 + 5s);
	CHECK(!a.due(T0 + 60s, false));
	CHECK(a.due(T0 + 65s, false));
}

TEST_CASE("a costly audit spaces the next: cost * 100 / max_load after its start")
{
	auto a = schedule(0.5);
	a.started(T0 + 60s);
	CHECK(a.done(600ms) == 120s); // 0.6 s at 0.5 %: 200 x 0.6 s
	CHECK(a.next() == T0 + 180s);
	CHECK(!a.due(T0 + 179s, false));
	CHECK(a.due(T0 + 180s, false));
	a.started(T0 + 180s);
	CHECK(a.done(100ms) == 60s); // cheap again: the interval
	CHECK(a.next() == T0 + 240s);
}

TEST_CASE("max_load 0 keeps the interval whatever the cost; a tiny load stops at a day")
{
	auto a = schedule(0);
	a.started(T0 + 60s);
	CHECK(a.done(10s) == 60s);
	auto b = schedule(1e-12);
	b.started(T0 + 60s);
	CHECK(b.done(1s) == std::chrono::duration_cast<AuditSchedule::Duration>(24h));
}

TEST_CASE("a due audit waits while the consumer is busy, at most one more interval")
{
	auto a = schedule();
	CHECK(!a.due(T0 + 60s, true));
	CHECK(!a.due(T0 + 119s, true));
	CHECK(a.due(T0 + 90s, false)); // a quiet moment
	CHECK(a.due(T0 + 120s, true)); // busy for a whole interval: it runs anyway
}

TEST_CASE("busy: work pending, or entries changed within the quiet time")
{
	auto a = schedule();
	CHECK(!a.busy(T0, false));
	CHECK(a.busy(T0, true));
	a.changed(T0 + 10s);
	CHECK(a.busy(T0 + 10s + 999ms, false));
	CHECK(!a.busy(T0 + 11s, false));
}

TEST_CASE("asked (SIGUSR1): at the next look, busy or not; during an audit, right after it")
{
	auto a = schedule();
	a.ask();
	CHECK(a.due(T0 + 1s, true));
	a.started(T0 + 1s);
	CHECK(!a.due(T0 + 2s, false)); // the request was this audit
	a.ask();                        // asked during it
	CHECK(!a.due(T0 + 2s, false));  // not while it runs
	a.done(1s);                     // 200 s spacing...
	CHECK(a.due(T0 + 3s, false));   // ...but asked: right after it
	a.started(T0 + 3s);
	a.done(10ms);
	CHECK(!a.due(T0 + 4s, false));
}

TEST_CASE("an audit whose full pass never runs is not waited for")
{
	auto a = schedule();
	a.started(T0 + 60s);
	CHECK(!a.due(T0 + 100s, false));
	// one interval and one step_patience after it began: still its time
	CHECK(!a.due(T0 + 121s, false));
	CHECK(a.due(T0 + 121s + 1ms, false));
	CHECK(!a.in_progress());
}

TEST_CASE("the steps in order, one at a time, each once the last has run; the repair ends it")
{
	using Step = AuditSchedule::Step;
	auto a = schedule();
	CHECK(a.next(T0 + 59s, false, false) == Step::None);
	CHECK(a.next(T0 + 60s, false, false) == Step::Reread);
	CHECK(a.in_progress());
	// not before the re-read has run
	CHECK(a.next(T0 + 60s + 250ms, false, false) == Step::None);
	CHECK(!a.ran(T0 + 60s, T0 + 60s + 100ms));
	CHECK(a.next(T0 + 60s + 250ms, false, false) == Step::LocalMacs);
	CHECK(!a.ran(T0 + 60s + 250ms, T0 + 60s + 260ms));
	CHECK(a.next(T0 + 60s + 500ms, false, false) == Step::Check);
	CHECK(a.next(T0 + 60s + 750ms, false, false) == Step::None); // the check has not run
	CHECK(!a.ran(T0 + 60s + 750ms, T0 + 60s + 900ms));
	CHECK(a.next(T0 + 61s, false, false) == Step::Repair);
	// a report without a step handed out counts for nothing
	const auto gap = a.ran(T0 + 61s, T0 + 61s + 40ms);
	REQUIRE(gap);
	CHECK(!a.in_progress());
	CHECK(a.cost() == 300ms);
	CHECK(a.longest_step() == 150ms);
	// spaced by the sum of its steps: 300 ms * 200 = 60 s, the interval
	CHECK(*gap == 60s);
	CHECK(!a.ran(T0 + 62s, T0 + 63s));
	CHECK(a.next(T0 + 62s, false, false) == Step::None);
	CHECK(a.next(T0 + 120s, false, false) == Step::Reread);
}

TEST_CASE("a step in parts: each part counts in the cost, the longest part is the longest step")
{
	using Step = AuditSchedule::Step;
	auto a = schedule();
	REQUIRE(a.next(T0 + 60s, false, false) == Step::Reread);
	a.ran(T0 + 60s, T0 + 60s + 20ms);
	REQUIRE(a.next(T0 + 60s + 250ms, false, false) == Step::LocalMacs);
	a.ran(T0 + 60s + 250ms, T0 + 60s + 260ms);
	REQUIRE(a.next(T0 + 60s + 500ms, false, false) == Step::Check);
	// The check's decision in three parts: the step goes on after each
	// but the last, which ran() reports.
	a.ran_part(T0 + 60s + 500ms, T0 + 60s + 508ms);
	CHECK(a.next(T0 + 60s + 510ms, false, false) == Step::None);
	a.ran_part(T0 + 60s + 520ms, T0 + 60s + 545ms);
	CHECK(a.next(T0 + 60s + 550ms, false, false) == Step::None);
	CHECK(!a.ran(T0 + 60s + 560ms, T0 + 60s + 567ms));
	CHECK(a.cost() == 70ms); // 20 + 10 + 8 + 25 + 7
	CHECK(a.longest_step() == 25ms);
	REQUIRE(a.next(T0 + 61s, false, false) == Step::Repair);
	REQUIRE(a.ran(T0 + 61s, T0 + 61s + 6ms));
	CHECK(a.cost() == 76ms);
	CHECK(a.longest_step() == 25ms);
	// A part reported once the audit is over counts for nothing.
	a.ran_part(T0 + 62s, T0 + 62s + 30ms);
	CHECK(a.cost() == 76ms);
	CHECK(a.longest_step() == 25ms);
}

TEST_CASE("the next step waits while events are pending, at most step_patience after the last")
{
	using Step = AuditSchedule::Step;
	auto a = schedule();
	REQUIRE(a.next(T0 + 60s, false, false) == Step::Reread);
	a.ran(T0 + 60s, T0 + 60s + 300ms);
	CHECK(a.next(T0 + 60s + 500ms, false, true) == Step::None);
	CHECK(a.next(T0 + 61s + 299ms, true, true) == Step::None);
	CHECK(a.next(T0 + 61s + 300ms, true, true) == Step::LocalMacs); // busy for a second
	a.ran(T0 + 61s + 300ms, T0 + 61s + 400ms);
	CHECK(a.next(T0 + 61s + 500ms, false, true) == Step::None); // counted from the last step
	CHECK(a.next(T0 + 61s + 500ms, true, false) == Step::Check); // `busy` is for the start only
}

TEST_CASE("an audit whose steps stop for an interval is left; one that goes on is not")
{
	using Step = AuditSchedule::Step;
	auto a = schedule();
	REQUIRE(a.next(T0 + 60s, false, false) == Step::Reread);
	a.ran(T0 + 60s, T0 + 60s + 10ms);
	REQUIRE(a.next(T0 + 100s, false, false) == Step::LocalMacs);
	a.ran(T0 + 100s, T0 + 100s + 10ms);
	REQUIRE(a.next(T0 + 110s, false, false) == Step::Check);
	// more than an interval after its start, less after its last step: on
	CHECK(a.next(T0 + 150s, false, false) == Step::None);
	CHECK(a.in_progress());
	// the check never runs (the gates closed): left one interval and one
	// step_patience after the last step, and the next audit starts
	CHECK(a.next(T0 + 161s + 10ms, false, false) == Step::None);
	CHECK(a.next(T0 + 161s + 20ms, false, false) == Step::Reread);
	CHECK(a.cost() == 0ms);
}

TEST_CASE("a 1 s interval under a constant stream of events: every audit still finishes")
{
	using Step = AuditSchedule::Step;
	AuditSchedule a({.interval = 1s, .max_load = 0, .quiet = 1s, .step_patience = 1s}, T0);
	// The daemon's tick every 250 ms, events always pending; each step
	// takes 10 ms (the check and the repair in the reconcile after it).
	int finished = 0;
	for (auto t = T0; t < T0 + 60s; t += 250ms) {
		const auto step = a.next(t, true, true);
		if (step == Step::None)
			continue;
		if (a.ran(t, t + 10ms))
			++finished;
	}
	// at least a re-read, three more steps a second apart (patience) and
	// the busy start's extra interval: one audit in under 6 s
	CHECK(finished >= 10);
}
