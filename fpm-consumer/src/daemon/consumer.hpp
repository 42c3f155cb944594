// The fpm-consumer process: wires the inputs (FPM server, kernel FDB, the
// dataplane's MAC learning, the bgpd feed) into the engine, runs the timers
// (FPM resync sweep, start-up grace, feed hold, audits) and serves the state.
#pragma once

#include "core/audit_schedule.hpp"
#include "core/engine.hpp"
#include "core/histogram.hpp"
#include "core/no_route_log.hpp"
#include "core/pacer.hpp"
#include "core/state_json.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/fpm_server.hpp"
#include "daemon/kernel_fdb.hpp"
#include "daemon/metrics_server.hpp"
#include "daemon/options.hpp"
#include "daemon/state_server.hpp"
#include "feed/feed_client.hpp"

#include <evpnmon/dataplane/dataplane.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace evpnmon::consumer {

class Consumer : public fpm::UpdateSink, public FeedListener {
public:
	explicit Consumer(const Options &options);
	~Consumer() override;
	void run();
	// The state evpnmon-ctl shows (RFC 7951, yang/evpn-monitor.yang); the
	// metrics endpoint renders the same document.
	nlohmann::json state(StateParts parts = StateParts::Full) const;
	std::string state_json(StateParts parts = StateParts::Full) const
	{
		return state(parts).dump();
	}
	// A request line of the state socket: "state" or "history [N]".
	std::string answer(const std::string &request) const;

private:
	using Clock = std::chrono::steady_clock;

	// fpm::UpdateSink (FPM stream)
	void on_neigh(const NeighUpdate &u) override { engine_->neigh(MacSource::Fpm, u); }
	void on_route(const RouteUpdate &u) override { engine_->route(u); }
	void on_nexthop(const NexthopUpdate &u) override { engine_->nexthop(u); }
	// FeedListener
	void on_snapshot(const std::vector<Session> &sessions) override;
	void on_upsert(const Session &s) override;
	void on_erase(const SessionKey &k) override { engine_->erase_session(k); }
	void on_feed_lost() override;
	void on_feed_notice(const std::string &message) override;

	void tick();
	// Collectors this VTEP cannot route to: rate-limited log lines.
	void log_collector_drops(Clock::time_point now);
	// Collector sessions this dataplane cannot serve (IPv6): once each.
	void log_unsupported_collectors();
	void log_dataplane_full();
	void log_decap_waiting();
	// Paced (see core/pacer.hpp): reconciles now, or arms pace_timer_.
	void reconcile();
	// Starts the audit when due, or runs its next step (core/audit_schedule.hpp).
	void advance_audit(Clock::time_point now);
	void log_audit_spacing(Clock::duration gap);
	void arm_pace_timer(Clock::time_point due);

	// Kernel FDB updates go to the engine under their own source.
	struct KernelSink : fpm::UpdateSink {
		Engine *engine = nullptr;
		void on_neigh(const NeighUpdate &u) override { engine->neigh(MacSource::Kernel, u); }
		void on_route(const RouteUpdate &) override {}
		void on_nexthop(const NexthopUpdate &) override {}
	};

	Options options_;
	EventLoop loop_;
	std::unique_ptr<dp::Dataplane> dataplane_;
	std::unique_ptr<Engine> engine_;
	zmq::context_t zmq_;
	std::unique_ptr<FeedClient> feed_;
	std::unique_ptr<FpmServer> fpm_;
	KernelSink kernel_sink_;
	std::unique_ptr<KernelFdb> kernel_;
	std::unique_ptr<StateServer> state_;
	std::unique_ptr<MetricsServer> metrics_;
	Histogram reconcile_seconds_{reconcile_duration_buckets()};
	Clock::time_point started_;
	std::optional<Clock::time_point> fpm_settle_at_;
	AuditSchedule audit_;
	std::chrono::milliseconds audit_gap_logged_{0};
	ReconcilePacer pacer_;
	UniqueFd pace_timer_;
	std::optional<Clock::time_point> pace_armed_;
	NoRouteLog no_route_log_;
	std::set<std::string> unsupported_logged_;
	bool dataplane_full_logged_ = false;
	bool decap_waiting_logged_ = false;
	AuditLineLimiter audit_lines_;
	std::uint64_t full_pass_differences_seen_ = 0;
	std::uint64_t reconciles_deferred_ = 0;
};

} // namespace evpnmon::consumer
