// fpm-consumer core: the daemon's state as Prometheus text exposition format
// 0.0.4. One job, no I/O: the state document that `evpnmon-ctl --json`
// prints (built by state_json.*, the single source of truth) plus the
// reconcile duration histogram, in; the text of GET /metrics, out.
//
// Families (docs/fpm-consumer.md, "Metrics"):
//   evpnmon_gate_open{gate}, evpnmon_fpm_connected, evpnmon_fpm_resyncing,
//   evpnmon_feed_state{state}, evpnmon_sessions{state}, evpnmon_entries{kind},
//   evpnmon_entry_{packets,bytes,drops,filtered,sampled_out,policed}_total
//     {kind,vni,host_mac,host_ip,host_id,collector_id,session},
//   evpnmon_erspan_{packets,bytes,no_route,mtu_truncated,errors}_total and
//     evpnmon_erspan_last_seq {collector,span_id},
//   one family per counter of the state ("counters" list, see
//   counter_metrics()), evpnmon_reconcile_duration_seconds (histogram).
#pragma once

#include "core/histogram.hpp"
#include "daemon/prometheus_text.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace evpnmon::consumer {

enum class MetricType { Counter, Gauge };

// How one counter of the state JSON is exported. Rule: evpnmon_ + the name
// with '-' -> '_', + _total for a counter; a value in another unit is
// converted to the base unit (last-reconcile-us -> seconds).
struct CounterMetric {
	const char *counter; // name in the state JSON's "counters" list
	const char *metric;  // Prometheus metric name
	MetricType type;
	double scale; // exported value = state value * scale
	const char *help;
};

// Every counter the daemon's state carries. A counter missing here is still
// exported, as `untyped` (the integration test fails on that).
const std::vector<CounterMetric> &counter_metrics();

// `state`: the document `evpnmon-ctl --json` prints, or its inner object.
// `reconcile_duration` may be null (family omitted).
std::string render_metrics(const nlohmann::json &state, const Histogram *reconcile_duration);

} // namespace evpnmon::consumer
