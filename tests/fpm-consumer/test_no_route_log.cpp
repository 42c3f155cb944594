// The rate limiter of "collector has no route" log lines (core/no_route_log.*),
// with an injected clock: at most one line per collector per 10 s, carrying
// the copies dropped since that collector's previous line.
#include "core/no_route_log.hpp"
#include "fabric.hpp"

#include <doctest/doctest.h>

using namespace evpnmon;
using namespace evpnmon::test;
using consumer::NoRouteLog;
using namespace std::chrono_literals;

namespace {

dp::Erspan dest(std::uint8_t last, std::uint16_t span)
{
	return erspan_to(ipv4_addr(10, 9, 0, last), 3, span).erspan;
}

NoRouteLog::Snapshot counts(std::initializer_list<std::pair<dp::Erspan, std::uint64_t>> l)
{
	NoRouteLog::Snapshot out;
	for (const auto &[d, n] : l) {
		dp::ErspanCounters c;
		c.no_route = n;
		c.packets = 1000; // sent copies never make a line
		out.push_back({d, c});
	}
	return out;
}

} // namespace

TEST_CASE("one line at the first drop, then at most one per 10 s with the drops since the last")
{
	NoRouteLog log;
	const auto A = dest(1, 7);
	const NoRouteLog::Clock::time_point t0{};
	CHECK(log.observe(counts({{A, 0}}), t0).empty());
	auto lines = log.observe(counts({{A, 5}}), t0 + 250ms);
	REQUIRE(lines.size() == 1);
	CHECK(lines[0] == "collector 10.9.0.1 (span 7): no route from this VTEP, 5 copies dropped");
	// more drops within 10 s of that line: held back
	CHECK(log.observe(counts({{A, 50}}), t0 + 1s).empty());
	CHECK(log.observe(counts({{A, 900}}), t0 + 10s).empty());
	// 10 s after the line: one line with everything since it
	lines = log.observe(counts({{A, 1000}}), t0 + 250ms + 10s);
	REQUIRE(lines.size() == 1);
	CHECK(lines[0] == "collector 10.9.0.1 (span 7): no route from this VTEP, 995 copies dropped");
	// no new drop (the route is back): silence, however long
	CHECK(log.observe(counts({{A, 1000}}), t0 + 60s).empty());
	CHECK(log.observe(counts({{A, 1000}}), t0 + 600s).empty());
	// drops again after a quiet spell: at once
	lines = log.observe(counts({{A, 1001}}), t0 + 601s);
	REQUIRE(lines.size() == 1);
	CHECK(lines[0].find(", 1 copies dropped") != std::string::npos);
}

TEST_CASE("every collector has its own limit; a line per second of drops gives 1 in 10")
{
	NoRouteLog log;
	const auto A = dest(1, 7), B = dest(2, 9);
	const NoRouteLog::Clock::time_point t0{};
	int lines_a = 0, lines_b = 0;
	std::uint64_t reported_a = 0;
	for (int s = 1; s <= 60; ++s) {
		const std::uint64_t a = 100 * s, b = s > 30 ? s - 30 : 0;
		for (const auto &l : log.observe(counts({{A, a}, {B, b}}), t0 + std::chrono::seconds(s))) {
			if (l.find("10.9.0.1 (span 7)") != std::string::npos) {
				++lines_a;
				reported_a += std::stoull(l.substr(l.rfind(", ") + 2));
			} else {
				CHECK(l.find("10.9.0.2 (span 9)") != std::string::npos);
				++lines_b;
			}
		}
	}
	CHECK(lines_a == 6); // s = 1, 11, 21, 31, 41, 51
	CHECK(reported_a == 5100); // every drop up to the last line, each once
	CHECK(lines_b == 3); // s = 31, 41, 51
}

TEST_CASE("drops of a previous run are not reported; a new or recreated destination counts from 0")
{
	const auto A = dest(1, 7), B = dest(2, 9);
	const NoRouteLog::Clock::time_point t0{};
	NoRouteLog log;
	log.prime(counts({{A, 12345}}));
	CHECK(log.observe(counts({{A, 12345}}), t0).empty());
	auto lines = log.observe(counts({{A, 12346}, {B, 4}}), t0 + 1s);
	REQUIRE(lines.size() == 2);
	CHECK(lines[0].find("10.9.0.1 (span 7): no route from this VTEP, 1 copies") != std::string::npos);
	CHECK(lines[1].find("10.9.0.2 (span 9): no route from this VTEP, 4 copies") != std::string::npos);
	// A's slot freed (no entry uses it) and made again: its counter restarts
	CHECK(log.observe(counts({{B, 4}}), t0 + 2s).empty());
	lines = log.observe(counts({{A, 3}, {B, 4}}), t0 + 3s);
	REQUIRE(lines.size() == 1);
	CHECK(lines[0].find("10.9.0.1 (span 7): no route from this VTEP, 3 copies") != std::string::npos);
	// a counter that goes back while listed counts from 0 too
	lines = log.observe(counts({{A, 2}, {B, 4}}), t0 + 20s);
	REQUIRE(lines.size() == 1);
	CHECK(lines[0].find(", 2 copies") != std::string::npos);
}

TEST_CASE("the interval is the limiter's own: 1 s gives a line per second")
{
	NoRouteLog log(1s);
	const auto A = dest(1, 7);
	const NoRouteLog::Clock::time_point t0{};
	int n = 0;
	for (int ms = 0; ms <= 5000; ms += 250)
		n += static_cast<int>(log.observe(counts({{A, std::uint64_t(ms + 1)}}), t0 + std::chrono::milliseconds(ms)).size());
	CHECK(n == 6); // 0, 1, 2, 3, 4, 5 s
}
