// The collector's state as Prometheus text exposition format 0.0.4, for the
// metrics endpoint (consumer::MetricsServer's provider). No I/O: a snapshot
// (Collector::snapshot) and the publisher's counters in, the text out.
// Conventions are fpm-consumer's (docs/fpm-consumer.md, "Metrics"): every
// family has HELP and TYPE, counters end in _total, times in seconds,
// enumerated labels (topic, record type, decode reason) are always all
// present so a series does not vanish and come back.
//
// Families (docs/collector.md, "Metrics"): evpnmon_collector_
//   {copies,bytes,losses,truncated,files_written,write_errors}_total{session},
//   session_records_total{session,type}, sessions, source_{copies,losses,
//   reordered}_total{session,source}, source_last_seq{session,source},
//   records_total{type}, decode_errors_total{reason}, unknown_session_total,
//   flow_table_entries, flow_evictions_total, disk_full, uptime_seconds,
//   published_total{topic}, publish_dropped_total{topic},
//   publish_bytes_total, publish_errors_total, publish_subscriptions,
//   metrics_{connections,requests,bad_requests,timeouts,
//   connections_over_limit}_total (when the endpoint's counters are given).
#pragma once

#include "publish/publisher.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace evpnmon::consumer {
struct MetricsServerCounters;
}

namespace evpnmon::collector {

// Sessions with the same name are summed into one series. `http` may be
// null (the metrics_* families are then omitted).
std::string render_metrics(const std::vector<v1::SessionStats> &sessions,
			   const v1::CollectorStatus &status, const PublisherStats &publisher,
			   const consumer::MetricsServerCounters *http = nullptr);

} // namespace evpnmon::collector
