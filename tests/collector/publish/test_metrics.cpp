// render_metrics: valid Prometheus text (parsed by the strict parser the
// fpm-consumer tests use), every family and value as documented.
#include <doctest/doctest.h>

#include "../../fpm-consumer/prom_text.hpp"
#include "daemon/metrics_server.hpp"
#include "decode/decode.hpp"
#include "publish/metrics.hpp"

#include <string>

using namespace evpnmon::collector;
namespace prom = evpnmon::test::prom;

namespace {

struct Snapshot {
	std::vector<v1::SessionStats> sessions;
	v1::CollectorStatus status;
	PublisherStats publisher;
};

Snapshot sample_snapshot()
{
	Snapshot s;
	auto &a = s.sessions.emplace_back();
	a.mutable_session()->set_name("span-7");
	a.mutable_session()->set_span_id(7);
	a.set_copies(1000);
	a.set_bytes(64000);
	a.set_losses(3);
	a.set_truncated(12);
	a.set_files_written(2);
	a.set_write_errors(1);
	a.set_tcp_records(4);
	a.set_roce_records(9);
	auto *src1 = a.add_sources();
	src1->set_source("10.0.0.1");
	src1->set_copies(600);
	src1->set_losses(1);
	src1->set_last_seq(4000000000u);
	src1->set_reordered(2);
	auto *src2 = a.add_sources();
	src2->set_source("10.0.0.2");
	src2->set_copies(400);
	src2->set_losses(2);
	src2->set_last_seq(399);

	// a name that needs escaping: the renderer must not trust names
	auto &b = s.sessions.emplace_back();
	b.mutable_session()->set_name("odd\"name\\x\ny");
	b.set_copies(5);
	b.set_tcp_records(1);

	s.status.set_uptime_ns(90'500'000'000);
	s.status.set_disk_full(true);
	s.status.set_decode_errors(7);
	(*s.status.mutable_decode_errors_by_reason())["gre_flags"] = 4;
	(*s.status.mutable_decode_errors_by_reason())["future_reason"] = 3;
	s.status.set_unknown_session(11);
	s.status.set_input_drops(13);
	s.status.set_flow_table_entries(42);
	s.status.set_flow_evictions(6);

	s.publisher.sent = {13, 21, 8, 4};
	s.publisher.dropped = {2, 0, 1, 0};
	s.publisher.bytes = 12345;
	s.publisher.errors = 1;
	s.publisher.subscriptions = 2;
	return s;
}

double v(const prom::Exposition &e, const std::string &name,
	 const std::map<std::string, std::string> &labels = {})
{
	const auto x = e.value(name, labels);
	INFO(name);
	REQUIRE(x.has_value());
	return *x;
}

} // namespace

TEST_CASE("metrics text parses strictly and carries every value")
{
	const auto s = sample_snapshot();
	evpnmon::consumer::MetricsServerCounters http;
	http.connections = 3;
	http.requests = 2;
	http.bad_requests = 1;
	const std::string text = render_metrics(s.sessions, s.status, s.publisher, &http);
	const auto e = prom::parse(text);
	for (const auto &err : e.errors)
		FAIL_CHECK(err);
	CHECK(e.errors.empty());

	const std::map<std::string, std::string> span7{{"session", "span-7"}};
	CHECK(v(e, "evpnmon_collector_sessions") == 2);
	CHECK(v(e, "evpnmon_collector_copies_total", span7) == 1000);
	CHECK(v(e, "evpnmon_collector_bytes_total", span7) == 64000);
	CHECK(v(e, "evpnmon_collector_losses_total", span7) == 3);
	CHECK(v(e, "evpnmon_collector_truncated_total", span7) == 12);
	CHECK(v(e, "evpnmon_collector_files_written_total", span7) == 2);
	CHECK(v(e, "evpnmon_collector_write_errors_total", span7) == 1);
	CHECK(v(e, "evpnmon_collector_session_records_total", {{"session", "span-7"}, {"type", "tcp"}}) == 4);
	CHECK(v(e, "evpnmon_collector_session_records_total", {{"session", "span-7"}, {"type", "roce"}}) == 9);
	CHECK(v(e, "evpnmon_collector_copies_total", {{"session", "odd\"name\\x\ny"}}) == 5);

	const std::map<std::string, std::string> src1{{"session", "span-7"}, {"source", "10.0.0.1"}};
	CHECK(v(e, "evpnmon_collector_source_copies_total", src1) == 600);
	CHECK(v(e, "evpnmon_collector_source_losses_total", src1) == 1);
	CHECK(v(e, "evpnmon_collector_source_reordered_total", src1) == 2);
	CHECK(e.value_text("evpnmon_collector_source_last_seq", src1) == "4000000000");
	CHECK(v(e, "evpnmon_collector_source_copies_total", {{"session", "span-7"}, {"source", "10.0.0.2"}}) == 400);

	CHECK(v(e, "evpnmon_collector_records_total", {{"type", "tcp"}}) == 5);
	CHECK(v(e, "evpnmon_collector_records_total", {{"type", "roce"}}) == 9);

	// every reason of the decoder is there (0 when absent), and an unknown one too
	for (std::size_t i = 1; i < kDecodeErrorCount; ++i) {
		const std::string reason = to_string(static_cast<DecodeError>(i));
		INFO(reason);
		CHECK(v(e, "evpnmon_collector_decode_errors_total", {{"reason", reason}}) ==
		      (reason == "gre_flags" ? 4 : 0));
	}
	CHECK(v(e, "evpnmon_collector_decode_errors_total", {{"reason", "future_reason"}}) == 3);

	CHECK(v(e, "evpnmon_collector_unknown_session_total") == 11);
	CHECK(v(e, "evpnmon_collector_input_drops_total") == 13);
	CHECK(v(e, "evpnmon_collector_flow_table_entries") == 42);
	CHECK(v(e, "evpnmon_collector_flow_evictions_total") == 6);
	CHECK(v(e, "evpnmon_collector_disk_full") == 1);
	CHECK(v(e, "evpnmon_collector_uptime_seconds") == doctest::Approx(90.5));

	CHECK(v(e, "evpnmon_collector_published_total", {{"topic", "tcp"}}) == 13);
	CHECK(v(e, "evpnmon_collector_published_total", {{"topic", "roce"}}) == 21);
	CHECK(v(e, "evpnmon_collector_published_total", {{"topic", "session"}}) == 8);
	CHECK(v(e, "evpnmon_collector_published_total", {{"topic", "status"}}) == 4);
	CHECK(v(e, "evpnmon_collector_publish_dropped_total", {{"topic", "tcp"}}) == 2);
	CHECK(v(e, "evpnmon_collector_publish_dropped_total", {{"topic", "session"}}) == 1);
	CHECK(v(e, "evpnmon_collector_publish_dropped_total", {{"topic", "roce"}}) == 0);
	CHECK(v(e, "evpnmon_collector_publish_bytes_total") == 12345);
	CHECK(v(e, "evpnmon_collector_publish_errors_total") == 1);
	CHECK(v(e, "evpnmon_collector_publish_subscriptions") == 2);

	CHECK(v(e, "evpnmon_collector_metrics_connections_total") == 3);
	CHECK(v(e, "evpnmon_collector_metrics_requests_total") == 2);
	CHECK(v(e, "evpnmon_collector_metrics_bad_requests_total") == 1);
	CHECK(v(e, "evpnmon_collector_metrics_timeouts_total") == 0);
	CHECK(v(e, "evpnmon_collector_metrics_connections_over_limit_total") == 0);

	// conventions: HELP + TYPE everywhere, counters end in _total, gauges do not
	for (const auto &f : e.families) {
		INFO(f.name);
		CHECK(f.has_help);
		CHECK(!f.help.empty());
		CHECK((f.type == "counter" || f.type == "gauge"));
		CHECK(f.name.rfind("evpnmon_collector_", 0) == 0);
		const bool total = f.name.size() > 6 && f.name.compare(f.name.size() - 6, 6, "_total") == 0;
		CHECK(total == (f.type == "counter"));
	}
}

TEST_CASE("metrics: sessions with one name are summed, empty snapshot still complete")
{
	std::vector<v1::SessionStats> sessions(2);
	sessions[0].mutable_session()->set_name("dup");
	sessions[0].set_copies(1);
	sessions[1].mutable_session()->set_name("dup");
	sessions[1].set_copies(2);
	const auto e = prom::parse(render_metrics(sessions, {}, {}));
	CHECK(e.errors.empty());
	CHECK(v(e, "evpnmon_collector_copies_total", {{"session", "dup"}}) == 3);
	CHECK(v(e, "evpnmon_collector_sessions") == 1);
	// no endpoint counters given: no metrics_* family
	CHECK(e.family("evpnmon_collector_metrics_requests_total") == nullptr);

	const auto empty = prom::parse(render_metrics({}, {}, {}));
	CHECK(empty.errors.empty());
	CHECK(v(empty, "evpnmon_collector_sessions") == 0);
	CHECK(v(empty, "evpnmon_collector_disk_full") == 0);
	CHECK(v(empty, "evpnmon_collector_records_total", {{"type", "tcp"}}) == 0);
	CHECK(v(empty, "evpnmon_collector_published_total", {{"topic", "status"}}) == 0);
	CHECK(empty.family("evpnmon_collector_copies_total") != nullptr); // family present, no series
}
