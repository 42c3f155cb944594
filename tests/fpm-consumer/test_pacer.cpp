// Reconcile pacing under bursts (core/pacer.hpp): synthetic time points, no
// clock, no timing assertions.
#include "core/pacer.hpp"

#include <doctest/doctest.h>

using evpnmon::consumer::ReconcilePacer;
using namespace std::chrono_literals;

namespace {
const ReconcilePacer::TimePoint T0{std::chrono::seconds(1000)};
}

TEST_CASE("the gap is 4x the last reconcile, between 1 ms and 50 ms")
{
	CHECK(ReconcilePacer::gap(7ms) == 28ms);
	CHECK(ReconcilePacer::gap(0ms) == 1ms);
	CHECK(ReconcilePacer::gap(100us) == 1ms);
	CHECK(ReconcilePacer::gap(12500us) == 50ms);
	CHECK(ReconcilePacer::gap(2s) == 50ms);
}

TEST_CASE("first event and events after a quiet period reconcile at once")
{
	ReconcilePacer p;
	CHECK(!p.defer_until(T0)); // nothing ran yet
	p.ran(T0, T0 + 7ms);
	CHECK(!p.defer_until(T0 + 7ms + 28ms)); // exactly at the deadline
	CHECK(!p.defer_until(T0 + 1s));         // long past
}

TEST_CASE("a burst is deferred to the deadline, which is then allowed")
{
	ReconcilePacer p;
	p.ran(T0, T0 + 7ms);
	auto due = p.defer_until(T0 + 8ms);
	REQUIRE(due);
	CHECK(*due == T0 + 35ms);
	// More events of the same burst: same deadline (one timer, not one per event).
	CHECK(p.defer_until(T0 + 20ms) == due);
	CHECK(p.defer_until(T0 + 34ms) == due);
	// The timer fires at the deadline: the deferred reconcile runs.
	CHECK(!p.defer_until(*due));
	p.ran(*due, *due + 7ms);
	CHECK(p.defer_until(*due + 8ms) == *due + 35ms);
}

TEST_CASE("duty cycle under a continuous burst stays at most 1/5")
{
	// Events every 10 ms for 3 s; each reconcile takes 7 ms.
	ReconcilePacer p;
	ReconcilePacer::TimePoint now = T0, busy_until = T0;
	ReconcilePacer::TimePoint timer = ReconcilePacer::TimePoint::max(); // disarmed
	ReconcilePacer::Duration busy{};
	int runs = 0;
	for (auto t = T0; t < T0 + 3s; t += 1ms) {
		now = std::max(t, busy_until);
		const bool event = (t - T0) % 10ms == 0ms;
		const bool fired = now >= timer;
		if (fired)
			timer = ReconcilePacer::TimePoint::max();
		if (!event && !fired)
			continue;
		if (auto due = p.defer_until(now)) {
			timer = std::min(timer, *due);
			continue;
		}
		p.ran(now, now + 7ms);
		busy_until = now + 7ms;
		busy += 7ms;
		++runs;
	}
	CHECK(runs > 0);
	CHECK(busy <= 3000ms / 5 + 7ms); // 1/5 of the burst, plus the one in flight
	CHECK(runs < 300); // without pacing: one per event, 300
}

TEST_CASE("a clock going backwards does not make a negative duration")
{
	ReconcilePacer p;
	p.ran(T0 + 5ms, T0);
	CHECK(p.last_took() == ReconcilePacer::Duration::zero());
	CHECK(p.defer_until(T0 + 1ms) == std::nullopt);
}

TEST_CASE("an audit step's reconcile and the next impose the least gap; then pacing resumes")
{
	ReconcilePacer p;
	p.ran_audit_step(T0 + 200ms); // a 200 ms step: no 50 ms gap after it
	CHECK(p.defer_until(T0 + 200ms + 500us) == T0 + 201ms);
	CHECK(!p.defer_until(T0 + 201ms));
	p.ran(T0 + 201ms, T0 + 221ms); // the backlog behind the step: 20 ms
	CHECK(!p.defer_until(T0 + 222ms));
	p.ran(T0 + 222ms, T0 + 229ms); // an ordinary pass again: paced
	CHECK(p.defer_until(T0 + 230ms) == T0 + 257ms);
}
