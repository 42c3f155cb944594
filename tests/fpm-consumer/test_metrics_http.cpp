// The metrics endpoint's pure parts: HTTP request parsing and routing,
// response framing, the --metrics address and its loopback rule.
#include "daemon/http_request.hpp"
#include "daemon/listen_address.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using namespace evpnmon::consumer;
using http::Parse;

namespace {

Parse parse(const std::string &buf, http::Request *out = nullptr, std::size_t max = 8192)
{
	http::Request r;
	const auto p = http::parse_request(buf, max, r);
	if (out)
		*out = r;
	return p;
}

} // namespace

TEST_CASE("a Prometheus scrape request is complete and routed to 200")
{
	http::Request r;
	const std::string req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9417\r\n"
				"User-Agent: Prometheus/2.45.0\r\n"
				"Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
				"Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n";
	CHECK(parse(req, &r) == Parse::Complete);
	CHECK(r.method == "GET");
	CHECK(r.target == "/metrics");
	CHECK(http::route(r) == 200);
	// every prefix is incomplete, not an error
	for (std::size_t n = 0; n < req.size(); ++n) {
		CAPTURE(n);
		CHECK(parse(req.substr(0, n)) == Parse::Incomplete);
	}
	// bare LF line ends, HTTP/1.0, query string
	CHECK(parse("GET /metrics?name[]=x HTTP/1.0\n\n", &r) == Parse::Complete);
	CHECK(http::route(r) == 200);
}

TEST_CASE("routing: other paths 404, other methods 405")
{
	http::Request r;
	REQUIRE(parse("GET / HTTP/1.1\r\n\r\n", &r) == Parse::Complete);
	CHECK(http::route(r) == 404);
	REQUIRE(parse("GET /metricsx HTTP/1.1\r\n\r\n", &r) == Parse::Complete);
	CHECK(http::route(r) == 404);
	REQUIRE(parse("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r) == Parse::Complete);
	CHECK(http::route(r) == 405);
	REQUIRE(parse("HEAD /metrics HTTP/1.1\r\n\r\n", &r) == Parse::Complete);
	CHECK(http::route(r) == 405);
}

TEST_CASE("garbage is refused as soon as it is seen")
{
	CHECK(parse(std::string("\x16\x03\x01\x02\x00", 5)) == Parse::Malformed); // a TLS hello
	CHECK(parse("get /metrics HTTP/1.1\r\n\r\n") == Parse::Malformed);
	CHECK(parse("hello") == Parse::Malformed);              // not even the start of a method
	CHECK(parse(" GET") == Parse::Malformed);
	CHECK(parse("GETTINGVERYLONGMETHODNAME") == Parse::Malformed);
	CHECK(parse("GET /metrics\r\n") == Parse::Malformed);   // HTTP/0.9
	CHECK(parse("GET metrics HTTP/1.1\r\n") == Parse::Malformed);
	CHECK(parse("GET /metrics HTTP/2.0\r\n") == Parse::Malformed);
	CHECK(parse("GET /met rics HTTP/1.1\r\n") == Parse::Malformed);
	CHECK(parse("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n") == Parse::Malformed);
	CHECK(parse("GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n") == Parse::Malformed);
	CHECK(parse("GET /metrics HTTP/1.1\r\nX: a" + std::string(1, '\0') + "b\r\n\r\n") == Parse::Malformed);
	CHECK(parse("\r\n\r\n") == Parse::Malformed);
}

TEST_CASE("a request head beyond the limit is too large, complete or not")
{
	const std::string head = "GET /metrics HTTP/1.1\r\n";
	CHECK(parse(head + "X-Pad: " + std::string(200, 'a'), nullptr, 100) == Parse::TooLarge);
	CHECK(parse(head + "X-Pad: " + std::string(200, 'a') + "\r\n\r\n", nullptr, 100) == Parse::TooLarge);
	CHECK(parse("GET /" + std::string(200, 'a'), nullptr, 100) == Parse::TooLarge);
	CHECK(parse("GET /" + std::string(200, 'a') + " HTTP/1.1\r\n\r\n", nullptr, 100) == Parse::TooLarge);
	CHECK(parse(head + "X-Pad: " + std::string(50, 'a') + "\r\n\r\n", nullptr, 100) == Parse::Complete);
}

TEST_CASE("responses: status line, Content-Type, Content-Length, close")
{
	const auto r = http::response(200, http::kMetricsContentType, "a 1\n");
	CHECK(r == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		   "Content-Length: 4\r\nConnection: close\r\n\r\na 1\n");
	const auto n = http::response(405, "text/plain", "no\n");
	CHECK(n.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
	CHECK(n.find("\r\nAllow: GET\r\n") != std::string::npos);
	CHECK(std::string(http::reason_phrase(431)) == "Request Header Fields Too Large");
}

TEST_CASE("--metrics addresses and the loopback rule")
{
	auto a = parse_listen_address("127.0.0.1:9417");
	REQUIRE(a);
	CHECK(!a->v6);
	CHECK(a->port == 9417);
	CHECK(a->loopback());
	CHECK(a->to_string() == "127.0.0.1:9417");
	CHECK(parse_listen_address("127.1.2.3:0")->loopback());
	CHECK(parse_listen_address("[::1]:9417")->loopback());
	CHECK(parse_listen_address("[::1]:9417")->to_string() == "[::1]:9417");
	CHECK(parse_listen_address("[::ffff:127.0.0.1]:1")->loopback());
	CHECK(!parse_listen_address("0.0.0.0:9417")->loopback());
	CHECK(!parse_listen_address("10.0.0.1:9417")->loopback());
	CHECK(!parse_listen_address("[::]:9417")->loopback());
	CHECK(!parse_listen_address("[2001:db8::1]:9417")->loopback());
	CHECK(!parse_listen_address("[::ffff:10.0.0.1]:1")->loopback());
	CHECK(!parse_listen_address("128.0.0.1:1")->loopback());
	for (const char *bad : {"", "127.0.0.1", "127.0.0.1:", ":9417", "localhost:9417", "127.0.0.1:65536",
				"127.0.0.1:-1", "127.0.0.1:94x", "::1:9417", "[::1]", "[::1:9417", "1.2.3:80"}) {
		CAPTURE(bad);
		CHECK(!parse_listen_address(bad));
	}
}

TEST_CASE("random input never throws, and only a finished head is complete")
{
	std::uint64_t x = 88172645463325252ull; // xorshift: reproducible
	auto next = [&] {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		return x;
	};
	const std::string valid = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
	for (int i = 0; i < 20000; ++i) {
		std::string buf;
		if (i % 2 == 0) {
			buf.resize(next() % 300);
			for (auto &c : buf)
				c = static_cast<char>(next() & 0xff);
		} else {
			// a valid request with a few bytes changed, cut anywhere
			buf = valid;
			for (int k = static_cast<int>(next() % 4); k > 0; --k)
				buf[next() % buf.size()] = static_cast<char>(next() & 0xff);
			buf.resize(next() % (buf.size() + 1));
		}
		http::Request r;
		Parse p = Parse::Incomplete;
		CHECK_NOTHROW(p = http::parse_request(buf, 128, r));
		if (p == Parse::Complete) {
			CHECK((buf.find("\n\n") != std::string::npos || buf.find("\n\r\n") != std::string::npos));
			CHECK(!r.method.empty());
			CHECK(r.target[0] == '/');
		}
	}
}
