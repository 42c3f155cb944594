// TCP server for zebra's FPM client (zebra connects, we listen). One
// connection at a time: a new one (zebra restarted) replaces the old one.
// Frames are decoded as they arrive; a lost framing closes the connection
// (zebra reconnects and replays), malformed messages are skipped and counted.
#pragma once

#include "daemon/event_loop.hpp"
#include <evpnmon/unique_fd.hpp>
#include "fpm/fpm_framer.hpp"
#include "fpm/netlink_decoder.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace evpnmon::consumer {

struct FpmCounters {
	std::uint64_t connections = 0;
	std::uint64_t disconnections = 0;
	std::uint64_t bytes = 0;
	std::uint64_t frames = 0;
	std::uint64_t non_netlink_frames = 0;
	std::uint64_t broken_frames = 0; // netlink chain broken inside a frame
	std::uint64_t framing_resets = 0;
	fpm::DecodeCounters decode;
};

class FpmServer {
public:
	struct Hooks {
		std::function<void()> connected;
		std::function<void()> disconnected;
	};

	FpmServer(EventLoop &loop, const std::string &address, std::uint16_t port,
		  fpm::UpdateSink &sink, Hooks hooks);
	~FpmServer();

	bool connected() const { return static_cast<bool>(conn_); }
	const std::string &peer() const { return peer_; }
	std::string listen_address() const;
	std::uint16_t port() const { return port_; } // actual port (0 -> ephemeral)
	const FpmCounters &counters() const { return counters_; }

private:
	void accept_one();
	void read_some();
	void drop(const char *why);

	EventLoop &loop_;
	fpm::UpdateSink &sink_;
	Hooks hooks_;
	UniqueFd listen_;
	UniqueFd conn_;
	std::string address_;
	std::uint16_t port_ = 0;
	std::string peer_;
	fpm::Framer framer_;
	FpmCounters counters_;
};

} // namespace evpnmon::consumer
