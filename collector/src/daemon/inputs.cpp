#include "daemon/inputs.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>
#include <iterator>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <system_error>

namespace evpnmon::collector {

namespace {

std::system_error sys_error(const std::string &what)
{
	return std::system_error(errno, std::generic_category(), what);
}

void set_rcvbuf(int fd, int bytes)
{
	// FORCE passes rmem_max when we have CAP_NET_ADMIN; otherwise the
	// plain option (capped by rmem_max) is the best we get.
	if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

void enable_timestamps(int fd)
{
	const int on = 1;
	if (::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0)
		throw sys_error("setsockopt SO_TIMESTAMPNS");
	// Kernel queue drops, per message (cumulative counter).
	::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
}

constexpr std::size_t kControl = CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(std::uint32_t)) + 64;

} // namespace

std::uint64_t realtime_ns()
{
	timespec ts;
	::clock_gettime(CLOCK_REALTIME, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

BatchReceiver::BatchReceiver(unsigned batch, std::size_t slot_size)
    : batch_(batch), slot_(slot_size), buffers_(batch * slot_size), control_(batch * kControl),
      msgs_(batch), names_(batch * sizeof(sockaddr_storage)), ts_(batch), iovs_(batch)
{
	for (unsigned i = 0; i < batch_; ++i) {
		iovs_[i] = {buffers_.data() + i * slot_, slot_};
		auto &h = msgs_[i].msg_hdr;
		h = {};
		h.msg_iov = &iovs_[i];
		h.msg_iovlen = 1;
		h.msg_control = control_.data() + i * kControl;
		h.msg_name = names_.data() + i * sizeof(sockaddr_storage);
	}
}

BatchReceiver::~BatchReceiver() = default;

unsigned BatchReceiver::receive(int fd, InputStats &stats)
{
	for (unsigned i = 0; i < batch_; ++i) {
		auto &h = msgs_[i].msg_hdr;
		h.msg_controllen = kControl;
		h.msg_namelen = sizeof(sockaddr_storage);
		h.msg_flags = 0;
		msgs_[i].msg_len = 0;
	}
	const int n = ::recvmmsg(fd, msgs_.data(), batch_, MSG_DONTWAIT, nullptr);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		++stats.errors;
		throw sys_error("recvmmsg");
	}
	++stats.calls;
	fallback_ns_ = 0;
	for (int i = 0; i < n; ++i) {
		auto &h = msgs_[static_cast<std::size_t>(i)].msg_hdr;
		std::uint64_t ts = 0;
		for (cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
			if (c->cmsg_level != SOL_SOCKET)
				continue;
			if (c->cmsg_type == SO_TIMESTAMPNS) {
				timespec t;
				std::memcpy(&t, CMSG_DATA(c), sizeof(t));
				ts = static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000ull +
				     static_cast<std::uint64_t>(t.tv_nsec);
			} else if (c->cmsg_type == SO_RXQ_OVFL) {
				std::uint32_t v;
				std::memcpy(&v, CMSG_DATA(c), sizeof(v));
				if (have_ovfl_)
					stats.kernel_drops += v - last_ovfl_;
				else
					stats.kernel_drops += v;
				have_ovfl_ = true;
				last_ovfl_ = v;
			}
		}
		if (ts == 0) {
			if (fallback_ns_ == 0)
				fallback_ns_ = realtime_ns();
			ts = fallback_ns_;
		}
		ts_[static_cast<std::size_t>(i)] = ts;
		++stats.packets;
		stats.bytes += msgs_[static_cast<std::size_t>(i)].msg_len;
	}
	return static_cast<unsigned>(n);
}

std::span<const std::uint8_t> BatchReceiver::data(unsigned i) const
{
	std::size_t len = msgs_[i].msg_len;
	if (len > slot_)
		len = slot_; // MSG_TRUNC: the slot is all we have
	return {buffers_.data() + i * slot_, len};
}

std::uint64_t BatchReceiver::rx_ns(unsigned i) const
{
	return ts_[i];
}

IpAddr BatchReceiver::from(unsigned i) const
{
	IpAddr a;
	const auto *ss = reinterpret_cast<const sockaddr_storage *>(names_.data() + i * sizeof(sockaddr_storage));
	if (ss->ss_family == AF_INET) {
		const auto *sin = reinterpret_cast<const sockaddr_in *>(ss);
		std::memcpy(a.bytes.data(), &sin->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(ss);
		a.v6 = true;
		std::memcpy(a.bytes.data(), &sin6->sin6_addr, 16);
	}
	return a;
}

// --- raw GRE

namespace {
// One packet's processing failing (an allocation, a bug) must not lose the
// rest of its batch, nor keep a ring block from going back to the kernel.
template <typename F> void per_packet(InputStats &stats, F &&process)
{
	try {
		process();
	} catch (const std::exception &) {
		++stats.handler_errors;
	}
}
} // namespace

RawGreInput::RawGreInput(int rcvbuf, unsigned batch)
    : fd_(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_GRE)), rx_(batch, 65536)
{
	if (!fd_)
		throw sys_error("socket(AF_INET, SOCK_RAW, IPPROTO_GRE)");
	set_rcvbuf(fd_.get(), rcvbuf);
	enable_timestamps(fd_.get());
}

bool RawGreInput::drain(const PacketHandler &handler, unsigned max_batches)
{
	for (unsigned b = 0; b < max_batches; ++b) {
		const unsigned n = rx_.receive(fd_.get(), stats_);
		for (unsigned i = 0; i < n; ++i)
			per_packet(stats_, [&] { handler(rx_.data(i), rx_.rx_ns(i)); });
		if (n == 0)
			return false;
	}
	return true;
}

// --- VXLAN UDP

UdpInput::UdpInput(const std::string &bind_address, std::uint16_t port, int rcvbuf, unsigned batch)
    : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)), rx_(batch, 65536)
{
	if (!fd_)
		throw sys_error("socket(AF_INET, SOCK_DGRAM)");
	set_rcvbuf(fd_.get(), rcvbuf);
	enable_timestamps(fd_.get());
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (::inet_pton(AF_INET, bind_address.c_str(), &sin.sin_addr) != 1)
		throw std::invalid_argument("bad VXLAN bind address '" + bind_address + "'");
	if (::bind(fd_.get(), reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) < 0)
		throw sys_error("bind VXLAN " + bind_address + ":" + std::to_string(port));
	socklen_t len = sizeof(sin);
	::getsockname(fd_.get(), reinterpret_cast<sockaddr *>(&sin), &len);
	port_ = ntohs(sin.sin_port);
}

bool UdpInput::drain(const DatagramHandler &handler, unsigned max_batches)
{
	for (unsigned b = 0; b < max_batches; ++b) {
		const unsigned n = rx_.receive(fd_.get(), stats_);
		for (unsigned i = 0; i < n; ++i)
			per_packet(stats_, [&] { handler(rx_.data(i), rx_.from(i), rx_.rx_ns(i)); });
		if (n == 0)
			return false;
	}
	return true;
}

// --- AF_PACKET TPACKET_V3

UniqueFd open_gre_sink()
{
	UniqueFd fd(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_GRE));
	if (!fd)
		throw sys_error("socket(AF_INET, SOCK_RAW, IPPROTO_GRE)");
	sock_filter drop[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
	sock_fprog prog{1, drop};
	if (::setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		throw sys_error("SO_ATTACH_FILTER (GRE sink)");
	return fd;
}

PacketRingInput::PacketRingInput(const std::string &ifname, Ring ring, bool ignore_outgoing, Filter filter)
    : fd_(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)), ifname_(ifname), ring_(ring)
{
	// Protocol 0 until bound: nothing is queued before the ring exists.
	if (!fd_)
		throw sys_error("socket(AF_PACKET)");
	const unsigned ifindex = ::if_nametoindex(ifname.c_str());
	if (ifindex == 0)
		throw sys_error("interface '" + ifname + "'");
	int version = TPACKET_V3;
	if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0)
		throw sys_error("PACKET_VERSION TPACKET_V3");
	if (ignore_outgoing) {
		const int on = 1;
		// Older kernels lack it: the ring then also holds this host's own
		// transmissions, which match no monitored host unless they are
		// its traffic (harmless but costly).
		::setsockopt(fd_.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof(on));
	}
	if (filter == Filter::Ipv4Gre) {
		// ethertype IPv4 and IP protocol GRE, whole frame; else nothing
		sock_filter code[] = {
			BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, 3),
			BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 47, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, 0x40000),
			BPF_STMT(BPF_RET | BPF_K, 0),
		};
		sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
		if (::setsockopt(fd_.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
			throw sys_error("SO_ATTACH_FILTER");
	}
	tpacket_req3 req{};
	req.tp_block_size = ring_.block_size;
	req.tp_block_nr = ring_.block_count;
	req.tp_frame_size = 2048; // V3 packs frames of any size into blocks; this is only checked
	req.tp_frame_nr = ring_.block_size / req.tp_frame_size * ring_.block_count;
	req.tp_retire_blk_tov = ring_.block_timeout_ms;
	req.tp_feature_req_word = 0;
	if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		throw sys_error("PACKET_RX_RING");
	map_size_ = static_cast<std::size_t>(ring_.block_size) * ring_.block_count;
	void *m = ::mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd_.get(), 0);
	if (m == MAP_FAILED)
		m = ::mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
	if (m == MAP_FAILED)
		throw sys_error("mmap packet ring");
	map_ = static_cast<std::uint8_t *>(m);
	sockaddr_ll sll{};
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = static_cast<int>(ifindex);
	if (::bind(fd_.get(), reinterpret_cast<sockaddr *>(&sll), sizeof(sll)) < 0) {
		const int e = errno;
		::munmap(map_, map_size_);
		map_ = nullptr;
		errno = e;
		throw sys_error("bind AF_PACKET to " + ifname);
	}
}

PacketRingInput::~PacketRingInput()
{
	if (map_)
		::munmap(map_, map_size_);
}

bool PacketRingInput::drain(const PacketHandler &handler, unsigned max_blocks)
{
	for (unsigned b = 0; b < max_blocks; ++b) {
		auto *block = reinterpret_cast<tpacket_block_desc *>(map_ + static_cast<std::size_t>(next_block_) *
										   ring_.block_size);
		if ((__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0)
			return false;
		++stats_.calls;
		const std::uint32_t count = block->hdr.bh1.num_pkts;
		auto *p = reinterpret_cast<std::uint8_t *>(block) + block->hdr.bh1.offset_to_first_pkt;
		for (std::uint32_t i = 0; i < count; ++i) {
			const auto *h = reinterpret_cast<const tpacket3_hdr *>(p);
			const std::uint64_t ts = static_cast<std::uint64_t>(h->tp_sec) * 1'000'000'000ull + h->tp_nsec;
			++stats_.packets;
			stats_.bytes += h->tp_len;
			per_packet(stats_, [&] { handler({p + h->tp_mac, h->tp_snaplen}, ts); });
			p += h->tp_next_offset;
		}
		__atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		next_block_ = (next_block_ + 1) % ring_.block_count;
	}
	return true;
}

const InputStats &PacketRingInput::stats()
{
	tpacket_stats_v3 st{};
	socklen_t len = sizeof(st);
	// Reading resets the kernel's counters: accumulate.
	if (::getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		stats_.kernel_drops += st.tp_drops;
	return stats_;
}

} // namespace evpnmon::collector
