#include "publish/metrics.hpp"

#include "daemon/metrics_server.hpp"
#include "daemon/prometheus_text.hpp"
#include "decode/decode.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

namespace evpnmon::collector {

namespace {

using Writer = consumer::PrometheusWriter;
using Labels = Writer::Labels;

std::string seconds(std::uint64_t ns)
{
	const double v = static_cast<double>(ns) / 1e9;
	char buf[64];
	const auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
	return ec == std::errc() ? std::string(buf, p) : "NaN";
}

struct SessionSum {
	std::uint64_t copies = 0, bytes = 0, losses = 0, truncated = 0, files_written = 0,
		      write_errors = 0, tcp_records = 0, roce_records = 0;
};
struct SourceSum {
	std::uint64_t copies = 0, losses = 0, reordered = 0, last_seq = 0;
};

} // namespace

std::string render_metrics(const std::vector<v1::SessionStats> &sessions,
			   const v1::CollectorStatus &status, const PublisherStats &publisher,
			   const consumer::MetricsServerCounters *http)
{
	// Series are keyed by name: two snapshots entries with one name (should
	// not happen) are summed rather than written as duplicate series.
	std::map<std::string, SessionSum> by_session;
	std::map<std::pair<std::string, std::string>, SourceSum> by_source;
	for (const auto &s : sessions) {
		auto &sum = by_session[s.session().name()];
		sum.copies += s.copies();
		sum.bytes += s.bytes();
		sum.losses += s.losses();
		sum.truncated += s.truncated();
		sum.files_written += s.files_written();
		sum.write_errors += s.write_errors();
		sum.tcp_records += s.tcp_records();
		sum.roce_records += s.roce_records();
		for (const auto &src : s.sources()) {
			auto &ss = by_source[{s.session().name(), src.source()}];
			ss.copies += src.copies();
			ss.losses += src.losses();
			ss.reordered += src.reordered();
			ss.last_seq = src.last_seq();
		}
	}

	Writer w;
	w.family("evpnmon_collector_sessions", "gauge", "Mirror sessions the collector has seen or was configured with");
	w.sample("evpnmon_collector_sessions", {}, by_session.size());

	struct PerSession {
		const char *metric, *help;
		std::uint64_t SessionSum::*value;
	};
	constexpr PerSession per_session[] = {
		{"evpnmon_collector_copies_total", "Mirrored copies received for the session", &SessionSum::copies},
		{"evpnmon_collector_bytes_total", "Octets of the mirrored frames received for the session, as received (truncated copies count what arrived)", &SessionSum::bytes},
		{"evpnmon_collector_losses_total", "Copies of the session missing by GRE sequence gaps (ERSPAN II/III only)", &SessionSum::losses},
		{"evpnmon_collector_truncated_total", "Copies of the session marked truncated (ERSPAN T bit, or shorter than their IP length)", &SessionSum::truncated},
		{"evpnmon_collector_files_written_total", "pcapng files opened for the session", &SessionSum::files_written},
		{"evpnmon_collector_write_errors_total", "Copies of the session not written to pcapng: write errors and copies dropped while the disk is full", &SessionSum::write_errors},
	};
	for (const auto &m : per_session) {
		w.family(m.metric, "counter", m.help);
		for (const auto &[name, sum] : by_session)
			w.sample(m.metric, {{"session", name}}, sum.*m.value);
	}
	w.family("evpnmon_collector_session_records_total", "counter", "Records published for the session, by record type");
	for (const auto &[name, sum] : by_session) {
		w.sample("evpnmon_collector_session_records_total", {{"session", name}, {"type", "tcp"}}, sum.tcp_records);
		w.sample("evpnmon_collector_session_records_total", {{"session", name}, {"type", "roce"}}, sum.roce_records);
	}

	struct PerSource {
		const char *metric, *type, *help;
		std::uint64_t SourceSum::*value;
	};
	constexpr PerSource per_source[] = {
		{"evpnmon_collector_source_copies_total", "counter", "Copies received from one source VTEP of the session", &SourceSum::copies},
		{"evpnmon_collector_source_losses_total", "counter", "Copies from one source VTEP of the session missing by GRE sequence gaps", &SourceSum::losses},
		{"evpnmon_collector_source_reordered_total", "counter", "Copies from one source VTEP whose GRE sequence number was behind the expected one (reordered or duplicate; not losses)", &SourceSum::reordered},
		{"evpnmon_collector_source_last_seq", "gauge", "Last GRE sequence number received from the source VTEP for the session", &SourceSum::last_seq},
	};
	for (const auto &m : per_source) {
		w.family(m.metric, m.type, m.help);
		for (const auto &[key, sum] : by_source)
			w.sample(m.metric, {{"session", key.first}, {"source", key.second}}, sum.*m.value);
	}

	std::uint64_t tcp = 0, roce = 0;
	for (const auto &[name, sum] : by_session) {
		tcp += sum.tcp_records;
		roce += sum.roce_records;
	}
	w.family("evpnmon_collector_records_total", "counter", "Records published, all sessions, by record type (TCP: one at the handshake and one at the close of each connection; RoCEv2: one per queue pair and report interval while it changes)");
	w.sample("evpnmon_collector_records_total", {{"type", "tcp"}}, tcp);
	w.sample("evpnmon_collector_records_total", {{"type", "roce"}}, roce);

	w.family("evpnmon_collector_decode_errors_total", "counter", "Received packets skipped as malformed or unsupported, by reason");
	// Every reason the decoder knows, 0 when absent, then any other the
	// snapshot names.
	{
		std::map<std::string, std::uint64_t> reasons(status.decode_errors_by_reason().begin(),
							     status.decode_errors_by_reason().end());
		for (std::size_t i = 1; i < kDecodeErrorCount; ++i) {
			const std::string reason = to_string(static_cast<DecodeError>(i));
			const auto it = reasons.find(reason);
			w.sample("evpnmon_collector_decode_errors_total", {{"reason", reason}},
				 it == reasons.end() ? 0 : it->second);
			if (it != reasons.end())
				reasons.erase(it);
		}
		for (const auto &[reason, n] : reasons)
			w.sample("evpnmon_collector_decode_errors_total", {{"reason", reason}}, n);
	}
	w.family("evpnmon_collector_unknown_session_total", "counter", "Frames captured on the port input that matched no configured session");
	w.sample("evpnmon_collector_unknown_session_total", {}, status.unknown_session());
	w.family("evpnmon_collector_input_drops_total", "counter", "Copies the kernel dropped before the collector read them (socket buffer or packet ring full)");
	w.sample("evpnmon_collector_input_drops_total", {}, status.input_drops());
	w.family("evpnmon_collector_flow_table_entries", "gauge", "Entries in the TCP and RoCEv2 flow tables");
	w.sample("evpnmon_collector_flow_table_entries", {}, status.flow_table_entries());
	w.family("evpnmon_collector_flow_evictions_total", "counter", "Flow table entries evicted because a table was full (least recently used first)");
	w.sample("evpnmon_collector_flow_evictions_total", {}, status.flow_evictions());
	w.family("evpnmon_collector_disk_full", "gauge", "1 while pcapng writing is stopped because the disk is full (records go on)");
	w.sample("evpnmon_collector_disk_full", {}, status.disk_full() ? "1" : "0");
	w.family("evpnmon_collector_uptime_seconds", "gauge", "Time since the collector started");
	w.sample("evpnmon_collector_uptime_seconds", {}, seconds(status.uptime_ns()));

	w.family("evpnmon_collector_published_total", "counter", "Messages published on the record stream, by topic");
	for (std::size_t t = 0; t < kTopicCount; ++t)
		w.sample("evpnmon_collector_published_total", {{"topic", to_string(static_cast<Topic>(t))}}, publisher.sent[t]);
	w.family("evpnmon_collector_publish_dropped_total", "counter", "Messages not published because a subscriber's queue was full, by topic");
	for (std::size_t t = 0; t < kTopicCount; ++t)
		w.sample("evpnmon_collector_publish_dropped_total", {{"topic", to_string(static_cast<Topic>(t))}}, publisher.dropped[t]);
	w.family("evpnmon_collector_publish_bytes_total", "counter", "Octets of serialized envelopes published");
	w.sample("evpnmon_collector_publish_bytes_total", {}, publisher.bytes);
	w.family("evpnmon_collector_publish_errors_total", "counter", "Messages not published because of an error (empty envelope, serialization or socket error)");
	w.sample("evpnmon_collector_publish_errors_total", {}, publisher.errors);
	w.family("evpnmon_collector_publish_subscriptions", "gauge", "Distinct topic prefixes subscribers are subscribed to");
	w.sample("evpnmon_collector_publish_subscriptions", {}, publisher.subscriptions);

	if (http) {
		struct Http {
			const char *metric, *help;
			std::uint64_t consumer::MetricsServerCounters::*value;
		};
		constexpr Http families[] = {
			{"evpnmon_collector_metrics_connections_total", "Connections accepted on the metrics endpoint", &consumer::MetricsServerCounters::connections},
			{"evpnmon_collector_metrics_requests_total", "Metrics requests answered (200)", &consumer::MetricsServerCounters::requests},
			{"evpnmon_collector_metrics_bad_requests_total", "Metrics requests refused: malformed, oversized, not GET, or another path", &consumer::MetricsServerCounters::bad_requests},
			{"evpnmon_collector_metrics_timeouts_total", "Metrics connections closed for being too slow", &consumer::MetricsServerCounters::timeouts},
			{"evpnmon_collector_metrics_connections_over_limit_total", "Metrics connections closed because the connection limit was reached", &consumer::MetricsServerCounters::over_limit},
		};
		for (const auto &f : families) {
			w.family(f.metric, "counter", f.help);
			w.sample(f.metric, {}, (*http).*f.value);
		}
	}
	return w.take();
}

} // namespace evpnmon::collector
