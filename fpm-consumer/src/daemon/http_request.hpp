// Minimal HTTP/1.x for the metrics endpoint, pure (no sockets): parse a
// request head, route it, build a response. Anything but a well-formed
// "GET /metrics HTTP/1.x" head is refused; the connection is always closed
// after one response.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace evpnmon::consumer::http {

struct Request {
	std::string method;
	std::string target; // as sent, e.g. "/metrics" or "/metrics?x=1"
};

enum class Parse {
	Incomplete, // no empty line yet, nothing wrong so far: read more
	Complete,   // `out` is filled
	Malformed,  // not an HTTP/1.x request head
	TooLarge,   // no complete head within `max_size` bytes
};

// `buffer`: every byte received so far on the connection. Garbage is
// refused as soon as it is seen (a control byte, a bad request line), not
// only when the head ends.
Parse parse_request(std::string_view buffer, std::size_t max_size, Request &out);

// 200 for GET /metrics (a query string is ignored), 405 for another
// method, 404 for another path.
int route(const Request &request);

const char *reason_phrase(int status);

// A complete response with Content-Length and "Connection: close".
std::string response(int status, std::string_view content_type, std::string_view body);

// Content type of the Prometheus text exposition format 0.0.4.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

} // namespace evpnmon::consumer::http
