#include "daemon/http_request.hpp"

#include <algorithm>

namespace evpnmon::consumer::http {

namespace {

constexpr std::size_t kMaxMethod = 16;

bool is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

std::string_view strip_cr(std::string_view line)
{
	if (!line.empty() && line.back() == '\r')
		line.remove_suffix(1);
	return line;
}

bool valid_method(std::string_view m)
{
	return !m.empty() && m.size() <= kMaxMethod &&
	       std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool valid_target(std::string_view t)
{
	return !t.empty() && t[0] == '/' && std::all_of(t.begin(), t.end(), [](char c) {
		return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
	});
}

bool parse_request_line(std::string_view line, Request &out)
{
	line = strip_cr(line);
	const auto a = line.find(' ');
	if (a == std::string_view::npos)
		return false;
	const auto b = line.find(' ', a + 1);
	if (b == std::string_view::npos)
		return false;
	const auto method = line.substr(0, a);
	const auto target = line.substr(a + 1, b - a - 1);
	const auto version = line.substr(b + 1);
	if (!valid_method(method) || !valid_target(target) ||
	    (version != "HTTP/1.0" && version != "HTTP/1.1"))
		return false;
	out.method = std::string(method);
	out.target = std::string(target);
	return true;
}

bool valid_header(std::string_view line)
{
	line = strip_cr(line);
	const auto colon = line.find(':');
	if (colon == 0 || colon == std::string_view::npos)
		return false;
	// field name: visible characters, no separators that HTTP forbids there
	return std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
		const auto u = static_cast<unsigned char>(c);
		return u > 0x20 && u < 0x7f && c != '"' && c != '(' && c != ')' && c != ',' &&
		       c != '/' && c != ';' && c != '<' && c != '=' && c != '>' && c != '?' &&
		       c != '@' && c != '[' && c != '\\' && c != ']' && c != '{' && c != '}';
	});
}

} // namespace

Parse parse_request(std::string_view buffer, std::size_t max_size, Request &out)
{
	// Control bytes never belong in a request head.
	const std::size_t scan = std::min(buffer.size(), max_size + 4);
	for (std::size_t i = 0; i < scan; ++i)
		if (is_ctl(static_cast<unsigned char>(buffer[i])))
			return Parse::Malformed;

	// The request line, as soon as it is complete (or clearly not one).
	const auto eol = buffer.find('\n');
	if (eol == std::string_view::npos) {
		// What is there must be able to start a request line: a method.
		const auto sp = buffer.find(' ');
		const auto method = buffer.substr(0, std::min(sp, buffer.size()));
		const bool could_be = method.size() <= kMaxMethod &&
				      std::all_of(method.begin(), method.end(),
						  [](char c) { return c >= 'A' && c <= 'Z'; }) &&
				      (sp == std::string_view::npos || !method.empty());
		if (!could_be)
			return Parse::Malformed;
		return buffer.size() > max_size ? Parse::TooLarge : Parse::Incomplete;
	}
	if (eol + 1 > max_size)
		return Parse::TooLarge;
	Request req;
	if (!parse_request_line(buffer.substr(0, eol), req))
		return Parse::Malformed;

	// Header lines up to the empty line.
	std::size_t pos = eol + 1;
	while (true) {
		const auto next = buffer.find('\n', pos);
		if (next == std::string_view::npos)
			return buffer.size() > max_size ? Parse::TooLarge : Parse::Incomplete;
		if (next + 1 > max_size)
			return Parse::TooLarge;
		const auto line = buffer.substr(pos, next - pos);
		if (strip_cr(line).empty())
			break;
		if (!valid_header(line))
			return Parse::Malformed;
		pos = next + 1;
	}
	out = std::move(req);
	return Parse::Complete;
}

int route(const Request &request)
{
	if (request.method != "GET")
		return 405;
	const std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
	return path == "/metrics" ? 200 : 404;
}

const char *reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	}
	return "Error";
}

std::string response(int status, std::string_view content_type, std::string_view body)
{
	std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
	r += "Content-Type: ";
	r += content_type;
	r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
	if (status == 405)
		r += "Allow: GET\r\n";
	r += "Connection: close\r\n\r\n";
	r += body;
	return r;
}

} // namespace evpnmon::consumer::http
