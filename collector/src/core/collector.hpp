// The copy pipeline: a received copy -> its mirror session (created on first
// sight for ERSPAN span ids and VXLAN (VNI, HOST ID) nobody configured) ->
// sequence/loss tracking per (source VTEP, session) -> the session's pcapng
// FileSet (one interface per source VTEP) and the TCP/RoCEv2 record
// trackers. Single-threaded: the daemon's event loop calls everything.
#pragma once

#include "core/sequence.hpp"
#include "core/sessions.hpp"
#include "decode/copy.hpp"
#include "decode/decode.hpp"
#include "decode/frame.hpp"
#include "pcapng/file_set.hpp"
#include "records/context.hpp"
#include "records/roce_tracker.hpp"
#include "records/tcp_tracker.hpp"

#include "collector_records.pb.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace evpnmon::collector {

class Collector {
public:
	struct Config {
		std::vector<SessionSpec> sessions; // named sessions (and the port input's hosts)
		std::filesystem::path dir;         // DIR/<session>/...
		pcapng::Policy policy;
		bool records = true;
		records::TcpTracker::Limits tcp;
		records::RoceTracker::Limits roce;
		std::string port_interface = "port"; // IDB name of the port input's frames
		// Sessions created on first sight (ERSPAN span ids, VXLAN VNI +
		// HOST ID) and source VTEPs per session are bounded so that a
		// spoofing sender cannot grow the tables without limit; copies past
		// the limit count as unknown_session.
		// Each session holds an open file and its 128 KiB buffer; the
		// sources of all sessions share one budget.
		std::size_t max_sessions = 1024;
		std::size_t max_sources_per_session = 4096;
		std::size_t max_sources_total = 65536;
	};

	Collector(Config config, pcapng::Io &io, records::Sink sink);
	~Collector();
	Collector(const Collector &) = delete;
	Collector &operator=(const Collector &) = delete;

	// A decoded ERSPAN or VXLAN copy received at rx_ns (UNIX ns).
	void on_copy(const Copy &copy, std::uint64_t rx_ns);
	// A frame captured on the monitoring server's port (input 3).
	void on_port_frame(std::span<const std::uint8_t> frame, std::uint64_t rx_ns);
	// A received packet the decoders refused.
	void on_decode_error(DecodeError error);
	// Periodic (the daemon's tick): record timeouts and reports, flushes.
	void tick(std::uint64_t now_ns);
	// Stop: CLOSE/final records (SHUTDOWN), files closed with their ISBs.
	void shutdown(std::uint64_t now_ns);

	void snapshot(std::vector<v1::SessionStats> &sessions, v1::CollectorStatus &status) const;

	// Test and metrics helpers.
	std::size_t session_count() const { return sessions_.size(); }
	std::uint64_t unknown_session() const { return unknown_session_; }
	std::uint64_t decode_errors() const;

private:
	struct Source {
		IpAddr address;
		std::string address_text;   // SourceStats.source, SessionRef.source
		std::string interface_name; // "erspan:10.0.0.1", "vxlan:10.0.0.1"
		SequenceTracker seq;
		std::uint64_t copies = 0;
		std::uint64_t pending_drops = 0; // loss not yet written as epb_dropcount
		std::uint8_t hw_id = 0;
	};
	struct Session {
		SessionSpec spec;
		v1::SessionRef ref; // what records name
		std::unique_ptr<pcapng::FileSet> files;
		std::map<IpAddr, Source> sources;
		Source *last_source = nullptr; // lookup cache: copies come in runs per source
		const Source *ref_source = nullptr; // whose address `ref.source` holds
		std::uint64_t copies = 0, bytes = 0, losses = 0, truncated = 0;
		std::uint64_t tcp_records = 0, roce_records = 0;
	};

	Session *session_for(const Copy &copy);
	Session *make_session(SessionSpec spec);
	Source *source_for(Session &s, const Copy &copy);
	// true: the packet (and its drops_before) went into the file
	bool write(Session &s, const std::string &interface_name, const Frame &frame,
		   std::span<const std::uint8_t> data, bool erspan_truncated, Direction direction,
		   std::uint64_t drops_before, std::uint64_t ts_ns, std::uint64_t rx_ns);
	void track(Session &s, std::uint32_t vni, const Frame &frame, std::uint64_t ts_ns);
	void count_record(const v1::Envelope &e);

	Config config_;
	pcapng::Io &io_;
	records::Sink sink_;
	std::vector<std::unique_ptr<Session>> sessions_;
	std::array<Session *, 1024> by_span_{};
	Session *erspan_i_ = nullptr;
	std::map<std::pair<std::uint32_t, std::uint16_t>, Session *> by_vxlan_;
	std::map<std::string, Session *> by_name_;
	std::vector<Session *> hosts_; // port input, in configuration order
	std::unique_ptr<records::TcpTracker> tcp_;
	std::unique_ptr<records::RoceTracker> roce_;
	std::array<std::uint64_t, static_cast<std::size_t>(DecodeError::Count_)> errors_{};
	std::uint64_t unknown_session_ = 0;
	std::size_t sources_total_ = 0;
	std::uint64_t start_steady_ns_ = 0;
	bool shut_down_ = false;
};

} // namespace evpnmon::collector
