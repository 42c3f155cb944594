// evpnmon-ctl: print fpm-consumer's sessions, roles, entries and counters.
//   evpnmon-ctl [-s SOCKET] [--json] [sessions|roles|entries|collectors|counters|status|all]
//   evpnmon-ctl [-s SOCKET] [--json] history [N]   (the audit's last N events)
#include "ctl/render.hpp"

#include <CLI/CLI.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

namespace {

// One request, one JSON reply, then the daemon closes the connection.
std::string query(const std::string &path, const std::string &request)
{
	int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
	struct Closer {
		int fd;
		~Closer() { ::close(fd); }
	} closer{fd};
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (path.size() >= sizeof(addr.sun_path))
		throw std::runtime_error("socket path too long: " + path);
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
	if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0)
		throw std::runtime_error("cannot connect to " + path + ": " + std::strerror(errno) +
					 " (is fpm-consumer running?)");
	const std::string req = request + "\n";
	if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size()))
		throw std::runtime_error("write to " + path + " failed");
	std::string reply;
	char buf[65536];
	while (true) {
		ssize_t n = ::read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			throw std::runtime_error(std::string("read: ") + std::strerror(errno));
		if (n == 0)
			break;
		reply.append(buf, static_cast<std::size_t>(n));
	}
	return reply;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"evpnmon-ctl: show fpm-consumer state"};
	std::string socket_path = "/run/evpn-monitor/fpm-consumer.sock";
	bool json_out = false;
	std::string what = "all";
	app.add_option("-s,--socket", socket_path, "fpm-consumer state socket")->capture_default_str();
	app.add_flag("-j,--json", json_out, "print JSON (RFC 7951, yang/evpn-monitor.yang)");
	app.add_option("what", what, "what to show (history: the audit's last events)")
		->check(CLI::IsMember({"sessions", "roles", "entries", "collectors", "counters", "status",
				       "all", "history"}))
		->capture_default_str();
	std::size_t count = 0;
	app.add_option("count", count, "history: the last N events (default: every one kept)")
		->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
	CLI11_PARSE(app, argc, argv);
	if (count && what != "history") {
		std::cerr << "evpnmon-ctl: a count is for `history` only\n";
		return 2;
	}
	try {
		if (what == "history") {
			auto doc = nlohmann::json::parse(
				query(socket_path, "history" + (count ? " " + std::to_string(count) : "")));
			if (!evpnmon::ctl::is_history(doc)) {
				std::cerr << "evpnmon-ctl: this fpm-consumer is too old to keep an audit "
					     "history (it answered `history` with its state)\n";
				return 1;
			}
			if (json_out)
				std::cout << doc.dump(2) << "\n";
			else
				evpnmon::ctl::render_history(doc, std::cout);
			return 0;
		}
		// Counters and status need neither sessions nor entries: the daemon
		// answers "status" without them, at a cost that does not grow with
		// the sessions (a daemon that predates it answers the whole state,
		// from which the same parts are selected).
		const bool small = what == "counters" || what == "status";
		auto doc = nlohmann::json::parse(query(socket_path, small ? "status" : "state"));
		if (json_out)
			std::cout << evpnmon::ctl::select_json(doc, what).dump(2) << "\n";
		else
			evpnmon::ctl::render_text(doc, what, std::cout);
	} catch (const std::exception &e) {
		std::cerr << "evpnmon-ctl: " << e.what() << "\n";
		return 1;
	}
	return 0;
}
