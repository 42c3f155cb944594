// The collector's receive paths. Each is a non-blocking file descriptor for
// the event loop plus a drain() that hands every received packet, with its
// receive time (UNIX ns), to a handler:
// - RawGreInput: socket(AF_INET, SOCK_RAW, IPPROTO_GRE). The kernel (no GRE
//   module here) delivers every GRE datagram addressed to this host, IPv4
//   header included, to such a socket; recvmmsg takes a batch per system
//   call and SO_TIMESTAMPNS gives the kernel's receive time.
// - UdpInput: a UDP socket on the VXLAN port, recvmmsg + SO_TIMESTAMPNS;
//   the handler also gets the sender (the VTEP).
// - PacketRingInput: AF_PACKET with a TPACKET_V3 memory-mapped ring on one
//   interface: frames are read in place, block by block, without a system
//   call per batch (the monitoring server's port).
#pragma once

#include "decode/copy.hpp"

#include <evpnmon/unique_fd.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

struct mmsghdr;
struct iovec;

namespace evpnmon::collector {

struct InputStats {
	std::uint64_t packets = 0;
	std::uint64_t bytes = 0;
	std::uint64_t calls = 0;        // recvmmsg calls / ring blocks
	std::uint64_t kernel_drops = 0; // socket queue overflow / ring full
	std::uint64_t errors = 0;       // receive errors
	std::uint64_t handler_errors = 0; // packets whose processing threw (skipped, the batch goes on)
};

using PacketHandler = std::function<void(std::span<const std::uint8_t> packet, std::uint64_t rx_ns)>;
using DatagramHandler =
	std::function<void(std::span<const std::uint8_t> payload, const IpAddr &from, std::uint64_t rx_ns)>;

std::uint64_t realtime_ns();

// recvmmsg batches with per-message SO_TIMESTAMPNS and SO_RXQ_OVFL.
class BatchReceiver {
public:
	BatchReceiver(unsigned batch, std::size_t slot_size);
	~BatchReceiver();
	BatchReceiver(const BatchReceiver &) = delete;
	BatchReceiver &operator=(const BatchReceiver &) = delete;
	// One recvmmsg; returns the number of messages (0: nothing ready).
	// Throws std::system_error on errors other than EAGAIN/EINTR.
	unsigned receive(int fd, InputStats &stats);
	std::span<const std::uint8_t> data(unsigned i) const;
	std::uint64_t rx_ns(unsigned i) const;
	IpAddr from(unsigned i) const;

private:
	unsigned batch_;
	std::size_t slot_;
	std::vector<std::uint8_t> buffers_;
	std::vector<std::uint8_t> control_;
	std::vector<::mmsghdr> msgs_;
	std::vector<std::uint8_t> names_; // sockaddr_storage per slot
	std::vector<std::uint64_t> ts_;
	std::vector<::iovec> iovs_;
	std::uint32_t last_ovfl_ = 0;
	bool have_ovfl_ = false;
	std::uint64_t fallback_ns_ = 0;
};

class RawGreInput {
public:
	RawGreInput(int rcvbuf, unsigned batch);
	int fd() const { return fd_.get(); }
	// Reads up to max_batches batches (fairness with the other inputs);
	// true when the socket may still hold packets.
	bool drain(const PacketHandler &handler, unsigned max_batches = 16);
	const InputStats &stats() const { return stats_; }

private:
	UniqueFd fd_;
	BatchReceiver rx_;
	InputStats stats_;
};

class UdpInput {
public:
	UdpInput(const std::string &bind_address, std::uint16_t port, int rcvbuf, unsigned batch);
	int fd() const { return fd_.get(); }
	std::uint16_t port() const { return port_; }
	bool drain(const DatagramHandler &handler, unsigned max_batches = 16);
	const InputStats &stats() const { return stats_; }

private:
	UniqueFd fd_;
	std::uint16_t port_ = 0;
	BatchReceiver rx_;
	InputStats stats_;
};

// A raw IPPROTO_GRE socket whose filter drops everything: while it is open
// the kernel delivers GRE to it (and drops it there) instead of answering
// every copy with ICMP protocol-unreachable. Needed when a packet ring
// reads the copies.
UniqueFd open_gre_sink();

class PacketRingInput {
public:
	struct Ring {
		unsigned block_size = 1u << 22; // 4 MiB
		unsigned block_count = 16;
		unsigned block_timeout_ms = 10; // a partly filled block is handed over after this
	};
	enum class Filter : std::uint8_t { All, Ipv4Gre };
	// `ignore_outgoing`: only frames the interface received (the copies
	// delivered to the monitoring server), not what this host sends.
	// Filter::Ipv4Gre: a socket filter keeps only untagged IPv4 frames of
	// protocol 47 (the ERSPAN input on the underlay interface).
	PacketRingInput(const std::string &ifname, Ring ring, bool ignore_outgoing = true,
			Filter filter = Filter::All);
	PacketRingInput(const std::string &ifname) : PacketRingInput(ifname, Ring{}) {}
	~PacketRingInput();
	PacketRingInput(const PacketRingInput &) = delete;
	PacketRingInput &operator=(const PacketRingInput &) = delete;
	int fd() const { return fd_.get(); }
	const std::string &ifname() const { return ifname_; }
	// Hands over every block the kernel has filled (at most max_blocks).
	bool drain(const PacketHandler &handler, unsigned max_blocks = 64);
	// Adds the kernel's drop counter (PACKET_STATISTICS) to stats.
	const InputStats &stats();

private:
	UniqueFd fd_;
	std::string ifname_;
	Ring ring_;
	std::uint8_t *map_ = nullptr;
	std::size_t map_size_ = 0;
	unsigned next_block_ = 0;
	InputStats stats_;
};

} // namespace evpnmon::collector
