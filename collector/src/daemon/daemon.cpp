#include "daemon/daemon.hpp"

#include "core/collector.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/inputs.hpp"
#include "daemon/listen_address.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics_server.hpp"
#include "daemon/options.hpp"
#include "publish/metrics.hpp"
#include "publish/publisher.hpp"

#include <CLI/CLI.hpp>

#include <sys/epoll.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <chrono>
#include <optional>
#include <sys/resource.h>
#include <sstream>

namespace evpnmon::collector {

namespace {

// The disk-full state change goes to the daemon's log (once per change).
class LoggingIo : public pcapng::PosixIo {
protected:
	void on_disk_full_change(bool full, std::string_view detail) override
	{
		if (full)
			LOG_ERROR("disk full, pcapng writing stopped (records go on), retrying every 5 s: "
				  << detail);
		else
			LOG_WARN("disk space back, pcapng writing resumed: " << detail);
	}
};

// One open file per session: take the hard limit of open files, so that
// the session limit, not the default soft limit of 1024, decides.
void raise_open_file_limit()
{
	rlimit r{};
	if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		::setrlimit(RLIMIT_NOFILE, &r);
	}
}

int run(const RunOptions &o)
{
	consumer::log::set_program("evpnmon-collector");
	consumer::log::set_level(consumer::log::parse_level(o.log_level));
	consumer::EventLoop loop;
	loop.set_error_handler([](const std::exception &e) { LOG_ERROR("event loop: " << e.what()); });

	Publisher publisher(o.publish);
	LoggingIo io;

	Collector::Config cfg;
	cfg.sessions = o.sessions;
	cfg.dir = o.dir;
	cfg.policy.max_file_bytes = o.rotate_size;
	cfg.policy.max_file_seconds = o.rotate_seconds;
	cfg.policy.keep_files = o.keep_files;
	cfg.policy.keep_bytes = o.keep_bytes;
	cfg.records = o.records;
	cfg.tcp.max_flows = o.flow_limit;
	cfg.tcp.idle_ns = o.tcp_idle_s * 1'000'000'000ull;
	cfg.tcp.handshake_timeout_ns = o.handshake_timeout_s * 1'000'000'000ull;
	cfg.roce.max_entries = o.flow_limit;
	cfg.roce.report_interval_ns = o.report_interval_ms * 1'000'000ull;
	cfg.roce.idle_ns = o.tcp_idle_s * 1'000'000'000ull;
	if (!o.port_capture.empty())
		cfg.port_interface = o.port_capture;
	Collector collector(std::move(cfg), io, [&publisher](v1::Envelope &&e) { publisher.publish(e); });

	std::vector<std::string> opened;
	std::unique_ptr<RawGreInput> gre;
	std::unique_ptr<UdpInput> vxlan;
	std::unique_ptr<PacketRingInput> port;
	Copy copy; // reused: a view into the receive buffer
	UniqueFd gre_sink;
	std::unique_ptr<PacketRingInput> erspan_ring;
	if (o.erspan && o.erspan_ring.empty()) {
		gre = std::make_unique<RawGreInput>(o.rcvbuf, o.batch);
		auto handler = [&](std::span<const std::uint8_t> pkt, std::uint64_t rx_ns) {
			const DecodeError e = decode_gre_ip(pkt, copy);
			if (e == DecodeError::None)
				collector.on_copy(copy, rx_ns);
			else
				collector.on_decode_error(e);
		};
		loop.add(gre->fd(), EPOLLIN, [&gre, handler](std::uint32_t) { gre->drain(handler); });
		opened.push_back("erspan(raw-gre)");
	} else if (o.erspan) {
		gre_sink = open_gre_sink();
		erspan_ring = std::make_unique<PacketRingInput>(o.erspan_ring, PacketRingInput::Ring{}, true,
								PacketRingInput::Filter::Ipv4Gre);
		auto handler = [&](std::span<const std::uint8_t> frame, std::uint64_t rx_ns) {
			const DecodeError e = decode_gre_ether(frame, copy);
			if (e == DecodeError::None)
				collector.on_copy(copy, rx_ns);
			else
				collector.on_decode_error(e);
		};
		loop.add(erspan_ring->fd(), EPOLLIN,
			 [&erspan_ring, handler](std::uint32_t) { erspan_ring->drain(handler); });
		opened.push_back("erspan(" + o.erspan_ring + " tpacket-v3)");
	}
	if (o.vxlan_port != 0) {
		vxlan = std::make_unique<UdpInput>(o.vxlan_bind, o.vxlan_port, o.rcvbuf, o.batch);
		auto handler = [&](std::span<const std::uint8_t> payload, const IpAddr &from,
				   std::uint64_t rx_ns) {
			const DecodeError e = decode_vxlan(payload, from, copy);
			if (e == DecodeError::None)
				collector.on_copy(copy, rx_ns);
			else
				collector.on_decode_error(e);
		};
		loop.add(vxlan->fd(), EPOLLIN, [&vxlan, handler](std::uint32_t) { vxlan->drain(handler); });
		opened.push_back("vxlan(udp " + o.vxlan_bind + ":" + std::to_string(vxlan->port()) + ")");
	}
	if (!o.port_capture.empty()) {
		port = std::make_unique<PacketRingInput>(o.port_capture);
		auto handler = [&](std::span<const std::uint8_t> frame, std::uint64_t rx_ns) {
			collector.on_port_frame(frame, rx_ns);
		};
		loop.add(port->fd(), EPOLLIN, [&port, handler](std::uint32_t) { port->drain(handler); });
		opened.push_back("port(" + o.port_capture + " tpacket-v3)");
	}

	const auto input_drops = [&] {
		std::uint64_t n = 0;
		if (gre)
			n += gre->stats().kernel_drops;
		if (vxlan)
			n += vxlan->stats().kernel_drops;
		if (port)
			n += port->stats().kernel_drops;
		if (erspan_ring)
			n += erspan_ring->stats().kernel_drops;
		return n;
	};
	std::unique_ptr<consumer::MetricsServer> metrics;
	if (!o.metrics.empty()) {
		const auto addr = consumer::parse_listen_address(o.metrics);
		metrics = std::make_unique<consumer::MetricsServer>(loop, *addr, [&] {
			std::vector<v1::SessionStats> sessions;
			v1::CollectorStatus status;
			collector.snapshot(sessions, status);
			status.set_input_drops(input_drops());
			return render_metrics(sessions, status, publisher.stats(), &metrics->counters());
		});
	}
	if (publisher.fd() >= 0)
		loop.add(publisher.fd(), EPOLLIN, [&publisher](std::uint32_t) { publisher.poll(); });

	// The tick drives record timeouts, RoCE reports and file flushes; the
	// session stats go out every report interval.
	const auto report_ns = o.report_interval_ms * 1'000'000ull;
	const auto tick_ms = std::min<std::uint64_t>(o.report_interval_ms, 100);
	// Reports are paced by the monotonic clock: a step of the wall clock
	// neither stops them nor bunches them up.
	const auto monotonic_ns = [] {
		return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
							  std::chrono::steady_clock::now().time_since_epoch())
							  .count());
	};
	std::uint64_t next_report = monotonic_ns() + report_ns;
	std::vector<v1::SessionStats> sessions;
	v1::CollectorStatus status;
	loop.set_tick(std::chrono::milliseconds(tick_ms), [&] {
		collector.tick(realtime_ns());
		publisher.poll();
		if (const std::uint64_t mono = monotonic_ns(); mono >= next_report) {
			next_report = mono + report_ns;
			collector.snapshot(sessions, status);
			status.set_input_drops(input_drops());
			publisher.publish_snapshot(sessions, status);
		}
	});

	std::ostringstream ready;
	ready << "ready: inputs";
	for (const auto &i : opened)
		ready << " " << i;
	ready << "; sessions " << o.sessions.size() << "; dir " << o.dir << "; records "
	      << (o.records ? "on" : "off") << "; publish " << publisher.endpoint() << "; metrics "
	      << (metrics ? metrics->listen_address() : std::string("off"));
	LOG_INFO(ready.str());

	loop.run();

	const std::uint64_t now = realtime_ns();
	collector.shutdown(now);
	collector.snapshot(sessions, status);
	status.set_input_drops(input_drops());
	publisher.publish_snapshot(sessions, status);
	std::uint64_t copies = 0, losses = 0;
	for (const auto &s : sessions) {
		copies += s.copies();
		losses += s.losses();
	}
	LOG_INFO("stopped: copies " << copies << " losses " << losses << " socket drops " << status.input_drops()
				    << " decode errors " << status.decode_errors() << " unknown session "
				    << status.unknown_session());
	return 0;
}

} // namespace

int run_main(int argc, char **argv)
{
	RunOptions o;
	try {
		o = parse_run_options(argc, argv);
	} catch (const CLI::CallForHelp &) {
		std::cout << run_usage();
		return 0;
	} catch (const CLI::CallForAllHelp &) {
		std::cout << run_usage();
		return 0;
	} catch (const CLI::ParseError &e) {
		std::cerr << "evpnmon-collector run: " << e.what() << "\n";
		return 2;
	}
	raise_open_file_limit();
	try {
		return run(o);
	} catch (const std::exception &e) {
		LOG_ERROR(e.what());
		return 1;
	}
}

} // namespace evpnmon::collector
