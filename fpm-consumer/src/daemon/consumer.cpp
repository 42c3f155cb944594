#include "daemon/consumer.hpp"

#include "core/heap.hpp"
#include "core/metrics_text.hpp"
#include "core/state_json.hpp"
#include "daemon/log.hpp"

#include <net/if.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace evpnmon::consumer {

namespace {

std::uint32_t resolve_ifindex(const std::string &dev)
{
	if (!dev.empty() && dev[0] == '@')
		return static_cast<std::uint32_t>(std::stoul(dev.substr(1)));
	const unsigned idx = if_nametoindex(dev.c_str());
	if (idx == 0)
		throw std::invalid_argument("VXLAN device '" + dev + "' does not exist");
	return idx;
}

} // namespace

Consumer::Consumer(const Options &o)
    : options_(o), started_(Clock::now()),
      audit_({.interval = o.audit_interval, .max_load = o.audit_max_load}, started_)
{
	log::set_level(log::parse_level(o.log_level));

	dp::Config dcfg;
	EngineConfig ecfg;
	for (const auto &v : o.l2vnis) {
		dcfg.bridges.push_back({v.bridge, v.vxlan_device[0] == '@' ? "" : v.vxlan_device, v.vni});
		ecfg.vxlan_ifindex_to_vni[resolve_ifindex(v.vxlan_device)] = v.vni;
		if (const unsigned br = if_nametoindex(v.bridge.c_str()))
			ecfg.bridge_ifindex_to_vni[br] = v.vni;
		ecfg.decision.local_vnis.insert(v.vni);
	}
	dcfg.mirror_device = o.mirror_device;
	dcfg.mirror_udp_port = o.mirror_udp_port;
	if (!o.local_vtep.empty())
		dcfg.local_vtep = *parse_ipv4_text(o.local_vtep);
	dcfg.keep_on_exit = !o.cleanup_on_exit;
	dcfg.pin_dir = o.bpf_pin_dir;
	dcfg.tc_hook = dp::parse_tc_hook(o.tc_hook).value(); // checked by options
	dcfg.erspan_hw_id = o.erspan_hw_id;
	static_assert(kDefaultDpMaxEntries == dp::kDefaultMaxEntries &&
		      kDpMaxEntriesLimit == dp::kMaxEntriesLimit);
	static_assert(kDefaultDpMaxProfiles == dp::kDefaultMaxProfiles &&
		      kDpMaxProfilesLimit == dp::kMaxProfilesLimit);
	dcfg.max_entries = o.dp_max_entries;
	dcfg.max_profiles = o.dp_max_profiles;
	static_assert(kDefaultMirrorCeilingBps == dp::kDefaultMirrorCeilingBps);
	dcfg.mirror_ceiling_bps = o.mirror_ceiling_bps;
	dcfg.mirror_ceiling_burst = o.mirror_ceiling_burst;
	static_assert(kDefaultMirrorCeilingPps == dp::kDefaultMirrorCeilingPps &&
		      kMaxMirrorCeilingPps == dp::kMaxMirrorCeilingPps &&
		      kMaxMirrorCeilingPacketBurst == dp::kMaxMirrorCeilingPacketBurst);
	dcfg.mirror_ceiling_pps = o.mirror_ceiling_pps;
	dcfg.mirror_ceiling_packet_burst = o.mirror_ceiling_packet_burst;
	static_assert(kDefaultAuditHistoryOption == kDefaultAuditHistory &&
		      kMaxAuditHistoryOption == kMaxAuditHistory);
	ecfg.audit_history = o.audit_history;
	ecfg.release_in_background = true;
	ecfg.audit_part_sessions = o.audit_part;
	ecfg.audit_sink = [this](const AuditEvent &e) {
		// Lines of held sessions are limited (a flood of denied routes
		// must not flood the log of every VTEP); the ring and the
		// counters keep every event.
		if (!audit_lines_.admit(e))
			return;
		// Held sessions are what an operator looks for after an attack
		// or a misconfiguration: a level above the routine ones.
		if (e.kind == AuditEvent::Kind::Deny || e.kind == AuditEvent::Kind::Refuse)
			LOG_WARN(format_line(e));
		else
			LOG_INFO(format_line(e));
	};
	// The decapsulation sources come from the kernel's flood entries only
	// (zebra does not send them over FPM).
	ecfg.decap_sources = o.kernel_fdb;
	ecfg.decision.require_vtep_route = o.require_vtep_route;
	if (o.backend == "linux")
		ecfg.port_exists = [](std::uint32_t ifindex) {
			char name[IF_NAMESIZE];
			return if_indextoname(ifindex, name) != nullptr;
		};
	dataplane_ = dp::make_dataplane(o.backend, dcfg);
	if (!o.kernel_fdb)
		LOG_WARN("--no-kernel-fdb: the decapsulation sources (the VNIs' remote VTEPs, "
			 "from the kernel's flood entries) are not maintained; entry 3 accepts "
			 "copies only from the "
			 << dataplane_->decap_sources().size()
			 << " source(s) the dataplane already holds");
	engine_ = std::make_unique<Engine>(*dataplane_, ecfg);
	// Drops counted by a previous run (adopted maps) are not this run's news.
	no_route_log_.prime(dataplane_->erspan_counters());

	// Local MAC learning (the dataplane listens to the bridge FDB).
	dataplane_->set_mac_listener([this](const dp::MacEvent &e) { engine_->local_mac(e); });
	if (dataplane_->event_fd() >= 0)
		loop_.add(dataplane_->event_fd(), EPOLLIN, [this](std::uint32_t) { dataplane_->process_events(); });
	dataplane_->dump_macs();
	dataplane_->process_events();
	engine_->open_gate(Gate::LocalMacs);

	// Remote MACs from the kernel FDB (covers FPM's missing L2VNI replay).
	kernel_sink_.engine = engine_.get();
	if (o.kernel_fdb) {
		kernel_ = std::make_unique<KernelFdb>(
			loop_, kernel_sink_,
			KernelFdb::Hooks{[this] { engine_->kernel_resync_begin(); },
					 [this] {
						 engine_->kernel_resync_done();
						 LOG_INFO("kernel FDB: dump complete, "
							  << engine_->macs().count(MacSource::Kernel)
							  << " remote MACs");
					 }});
		kernel_->request_dump();
	}

	// zebra's FPM stream.
	fpm_ = std::make_unique<FpmServer>(
		loop_, o.fpm_address, o.fpm_port, *this,
		FpmServer::Hooks{[this] { fpm_settle_at_ = Clock::now() + options_.fpm_resync; },
				 [this] {
					 engine_->fpm_lost();
					 fpm_settle_at_.reset();
				 }});

	// bgpd's monitor sessions.
	FeedConfig fcfg;
	fcfg.endpoint = o.feed_endpoint;
	fcfg.hold_time = o.feed_hold;
	char host[64] = "?";
	::gethostname(host, sizeof(host) - 1);
	fcfg.client_name = std::string("fpm-consumer ") + host;
	feed_ = std::make_unique<FeedClient>(zmq_, fcfg, *this);
	loop_.add(feed_->fd(), EPOLLIN, [this](std::uint32_t) { feed_->process(Clock::now()); });

	state_ = std::make_unique<StateServer>(loop_, o.state_socket,
					       [this](const std::string &request) {
						       return answer(request);
					       });
	if (!o.metrics_listen.empty()) {
		const auto addr = parse_listen_address(o.metrics_listen);
		if (!addr)
			throw std::invalid_argument("bad --metrics address '" + o.metrics_listen + "'");
		metrics_ = std::make_unique<MetricsServer>(loop_, *addr, [this] {
			auto text = render_metrics(state(), &reconcile_seconds_);
			sort_freed_chunks(); // as answer(): the whole document is gone
			return text;
		});
	}

	// Deferred reconciles under bursts (one-shot, absolute deadline).
	pace_timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
	if (!pace_timer_)
		throw std::system_error(errno, std::generic_category(), "timerfd_create");
	loop_.add(pace_timer_.get(), EPOLLIN, [this](std::uint32_t) {
		std::uint64_t expirations;
		[[maybe_unused]] auto n = ::read(pace_timer_.get(), &expirations, sizeof(expirations));
		pace_armed_.reset(); // the idle handler after this batch reconciles
	});

	// The first audit one interval after the start-up, not after the
	// constructor began (the dataplane's set-up can take seconds).
	audit_.restart(Clock::now());
	loop_.set_tick(std::chrono::milliseconds(250), [this] { tick(); });
	loop_.set_idle([this] { reconcile(); });
	// On demand: the audit (its steps from the next tick, or after the
	// audit in progress).
	loop_.set_usr1([this] {
		LOG_INFO("SIGUSR1: an audit from the next tick");
		audit_.ask();
	});
	loop_.set_error_handler([](const std::exception &e) { LOG_ERROR("event handler: " << e.what()); });
	LOG_INFO("started: backend " << o.backend << ", feed " << o.feed_endpoint << ", "
				      << o.l2vnis.size() << " L2 VNI(s), ERSPAN HW ID "
				      << unsigned(dcfg.erspan_hw_id)
				      << (o.config_file.empty() ? "" : ", options from " + o.config_file));
	LOG_INFO("trust: mirror ceiling "
		 << (dcfg.mirror_ceiling_bps ? std::to_string(dcfg.mirror_ceiling_bps) + " bit/s, burst " +
						       (dcfg.mirror_ceiling_burst
								? std::to_string(dcfg.mirror_ceiling_burst) + " octets"
								: std::string("default"))
					     : std::string("no bit limit"))
		 << ", "
		 << (dcfg.mirror_ceiling_pps
			     ? std::to_string(dcfg.mirror_ceiling_pps) + " copies/s, burst " +
				       std::to_string(dp::mirror_ceiling_packet_burst(dcfg)) + " copies"
			     : std::string("no packet limit"))
		 << ", audit history " << o.audit_history << " events, "
		 << dataplane_->decap_sources().size() << " decapsulation source(s) in the dataplane");
}

Consumer::~Consumer()
{
	// Members are torn down in reverse order; the state sockets go first.
	metrics_.reset();
	state_.reset();
	LOG_INFO("stopped");
}

void Consumer::run()
{
	loop_.run();
}

namespace {

// A bgpd before feed version 4 decides nothing: its sessions are installed,
// and the audit says why.
constexpr std::uint32_t kImportFeedVersion = 4;

std::string no_policy_reason(std::uint32_t version)
{
	return "bgpd feed version " + std::to_string(version) + ": no import policy";
}

} // namespace

void Consumer::on_upsert(const Session &s)
{
	if (feed_->peer_version() >= kImportFeedVersion || !s.import_reason.empty())
		return engine_->upsert_session(s);
	Session copy = s;
	copy.import_reason = no_policy_reason(feed_->peer_version());
	engine_->upsert_session(copy);
}

void Consumer::on_snapshot(const std::vector<Session> &sessions)
{
	LOG_INFO("feed: snapshot with " << sessions.size() << " session(s), epoch " << feed_->epoch()
					<< " seq " << feed_->seq() << ", feed version "
					<< feed_->peer_version());
	if (feed_->peer_version() >= kImportFeedVersion) {
		engine_->replace_sessions(sessions);
	} else {
		auto copy = sessions;
		for (auto &s : copy)
			if (s.import_reason.empty())
				s.import_reason = no_policy_reason(feed_->peer_version());
		engine_->replace_sessions(copy);
	}
	engine_->open_gate(Gate::Feed);
}

void Consumer::on_feed_notice(const std::string &message)
{
	LOG_WARN("feed: " << message);
}

void Consumer::on_feed_lost()
{
	LOG_WARN("feed: nothing heard for " << options_.feed_hold.count() / 1000
					     << " s, withdrawing " << engine_->sessions().size()
					     << " session(s)");
	engine_->replace_sessions({}, "feed lost: nothing heard from bgpd for the hold time");
	engine_->open_gate(Gate::Feed);
}

std::string Consumer::answer(const std::string &request) const
{
	// "history [N]": the audit's last N events (all kept: N absent or 0);
	// "status": the gates, FPM, feed and counters, at a cost that does not
	// grow with the sessions (what monitoring polls); anything else: the
	// whole state.
	if (request == "history" || request.rfind("history ", 0) == 0) {
		std::size_t n = 0;
		const auto arg = request.find_first_not_of(' ', 7);
		if (arg != std::string::npos) {
			try {
				n = std::stoul(request.substr(arg));
			} catch (const std::exception &) {
				n = 0;
			}
		}
		return history_json(engine_->audit_log(), n).dump();
	}
	if (request == "status")
		return state_json(StateParts::Status);
	auto document = state_json(StateParts::Full);
	// It was built from a whole decision (every session's view) and its
	// JSON tree, both freed by now: sorted here, not by the next events.
	sort_freed_chunks();
	return document;
}

void Consumer::tick()
{
	const auto now = Clock::now();
	feed_->tick(now);
	engine_->tick();
	if (const auto n = audit_lines_.take_suppressed())
		LOG_WARN(suppressed_line(n));
	if (fpm_settle_at_ && now >= *fpm_settle_at_) {
		fpm_settle_at_.reset();
		engine_->fpm_resync_done();
		engine_->open_gate(Gate::Fpm);
		LOG_INFO("FPM: resync complete (" << engine_->macs().count(MacSource::Fpm)
						  << " remote MACs, " << engine_->routes().route_count()
						  << " routes)");
	}
	if (!engine_->gate_open(Gate::Fpm) && now - started_ >= options_.startup_grace) {
		LOG_WARN("FPM: no zebra connection after start-up grace; deciding without it");
		engine_->open_gate(Gate::Fpm);
	}
	advance_audit(now);
	log_collector_drops(now);
	reconcile();
}

// Starts the audit or runs its next step (core/audit_schedule.hpp), one per
// tick at most. The re-read, the check and the repair run in the reconciles
// that follow (in parts, a reconcile each), which report them to the
// schedule.
void Consumer::advance_audit(Clock::time_point now)
{
	using Step = AuditSchedule::Step;
	const auto step =
		audit_.next(now, audit_.busy(now, engine_->dirty()), engine_->inputs_pending());
	const auto t0 = Clock::now();
	switch (step) {
	case Step::None:
		return;
	case Step::Reread:
		engine_->ask_reread();
		return;
	case Step::LocalMacs: {
		const auto fixes = engine_->counters().local_audit_fixes;
		engine_->local_resync_begin();
		dataplane_->dump_macs();
		dataplane_->process_events();
		engine_->local_resync_done();
		if (engine_->counters().local_audit_fixes != fixes)
			LOG_WARN("local MAC audit corrected " << engine_->counters().local_audit_fixes - fixes
							      << " location(s) (missed FDB events)");
		break;
	}
	case Step::Check:
		engine_->ask_check();
		return;
	case Step::Repair:
		engine_->ask_repair();
		return;
	}
	const auto t1 = Clock::now();
	audit_.ran(t0, t1);
	// The events that arrived during the step are no burst to pace.
	pacer_.ran_audit_step(t1);
}

void Consumer::log_collector_drops(Clock::time_point now)
{
	for (const auto &line : no_route_log_.observe(dataplane_->erspan_counters(), now))
		LOG_WARN(line);
}

void Consumer::log_decap_waiting()
{
	const auto waiting = engine_->decap_waiting();
	if (waiting > 0 && !decap_waiting_logged_) {
		LOG_ERROR("dataplane: " << waiting
					<< " decapsulation source(s) could not be added or removed; "
					   "retried every tick (decap-source-errors counts the attempts)");
		decap_waiting_logged_ = true;
	} else if (waiting == 0 && decap_waiting_logged_) {
		LOG_INFO("dataplane: every decapsulation source is added or removed now");
		decap_waiting_logged_ = false;
	}
}

void Consumer::log_dataplane_full()
{
	const auto waiting = engine_->entries_waiting();
	if (waiting > 0 && !dataplane_full_logged_) {
		LOG_ERROR("dataplane: " << waiting << " entries could not be installed or removed ("
					 << engine_->counters().totals.last_error << "; --dp-max-entries "
					 << options_.dp_max_entries << ", --dp-max-profiles "
					 << options_.dp_max_profiles
					 << "); they are retried every tick, the rest is installed");
		dataplane_full_logged_ = true;
	} else if (waiting == 0 && dataplane_full_logged_) {
		LOG_INFO("dataplane: every waiting entry is installed or removed now");
		dataplane_full_logged_ = false;
	}
}

void Consumer::log_unsupported_collectors()
{
	const auto &ids = engine_->desired().unsupported_collectors;
	std::set<std::string> now(ids.begin(), ids.end());
	for (const auto &id : now)
		if (!unsupported_logged_.contains(id))
			LOG_WARN("session " << id
					    << ": collector-unsupported (an IPv6 collector; ERSPAN "
					       "copies are sent over IPv4 only), nothing installed");
	// A session that leaves the state and comes back is logged again.
	unsupported_logged_ = std::move(now);
}

void Consumer::arm_pace_timer(Clock::time_point due)
{
	if (pace_armed_ && *pace_armed_ <= due)
		return;
	// steady_clock is CLOCK_MONOTONIC on Linux.
	const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(due.time_since_epoch()).count();
	itimerspec its{};
	its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
	its.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1; // 0 would disarm
	if (::timerfd_settime(pace_timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr) == 0)
		pace_armed_ = due;
	else
		LOG_WARN("reconcile pacing timer: " << std::strerror(errno) << " (the tick retries)");
}

void Consumer::reconcile()
{
	if (!engine_->dirty() || !engine_->all_gates_open())
		return;
	const auto start = Clock::now();
	if (auto due = pacer_.defer_until(start)) {
		++reconciles_deferred_;
		arm_pace_timer(*due);
		return;
	}
	const bool audit_step = engine_->audit_step_waiting();
	const auto parts = engine_->counters().audit_parts;
	auto st = engine_->reconcile();
	const auto end = Clock::now();
	if (audit_step && !engine_->audit_step_waiting()) {
		pacer_.ran_audit_step(end);
		if (const auto gap = audit_.ran(start, end))
			log_audit_spacing(*gap);
	} else if (audit_step) {
		// A step in parts goes on: the next part once the events that
		// arrived meanwhile are in (the loop wakes for the timer). A
		// pass that left its part to the next (it carried events) is
		// an ordinary pass.
		if (engine_->counters().audit_parts != parts) {
			pacer_.ran_audit_step(end);
			audit_.ran_part(start, end);
		} else {
			pacer_.ran(start, end);
		}
		arm_pace_timer(end);
	} else {
		pacer_.ran(start, end);
	}
	if (st && st->installed + st->replaced + st->removed + st->server_moves)
		audit_.changed(end);
	if (st) {
		log_unsupported_collectors();
		reconcile_seconds_.observe(std::chrono::duration<double>(end - start).count());
		// Failed keys are logged once each way (below), not on every retry.
		if (st->installed + st->replaced + st->removed + st->server_moves)
			LOG_INFO("reconcile: +" << st->installed << " ~" << st->replaced << " -"
						<< st->removed << " =" << st->unchanged
						<< (st->server_moves
							? " servers moved " + std::to_string(st->server_moves)
							: std::string())
						<< (st->errors ? " errors " + std::to_string(st->errors) : std::string()));
		log_dataplane_full();
		log_decap_waiting();
		const auto diffs = engine_->counters().full_pass_differences;
		if (diffs != full_pass_differences_seen_)
			LOG_ERROR("full pass: the incremental decision had "
				  << diffs - full_pass_differences_seen_
				  << " desired entries wrong; built anew and diffed whole (a defect: "
				     "please report)");
		full_pass_differences_seen_ = diffs;
	}
}

// Logged when the spacing by cost (core/audit_schedule.hpp) starts, when
// it grows by a quarter or shrinks by a fifth, and when it ends.
void Consumer::log_audit_spacing(Clock::duration gap)
{
	using std::chrono::duration_cast;
	using std::chrono::milliseconds;
	// Tenths of a millisecond: a small audit's steps take less than one.
	const auto tenths = [](Clock::duration d) {
		char buf[32];
		std::snprintf(buf, sizeof(buf), "%.1f",
			      std::chrono::duration<double, std::milli>(d).count());
		return std::string(buf);
	};
	const auto ms = tenths(audit_.cost());
	const auto step_ms = tenths(audit_.longest_step());
	const auto g = duration_cast<milliseconds>(gap).count();
	const auto logged = audit_gap_logged_.count();
	if (gap > options_.audit_interval) {
		if (!logged || g * 4 > logged * 5 || g * 5 < logged * 4) {
			LOG_INFO("audit took " << ms << " ms (longest step " << step_ms
					       << " ms): the next in " << static_cast<double>(g) / 1000.0
					       << " s, so that audits take at most "
					       << options_.audit_max_load
					       << " % of the time (--audit-max-load)");
			audit_gap_logged_ = milliseconds(g);
		}
	} else if (logged) {
		LOG_INFO("audit took " << ms << " ms (longest step " << step_ms << " ms): the next in "
				       << options_.audit_interval.count() / 1000
				       << " s (--audit-interval)");
		audit_gap_logged_ = milliseconds{0};
	}
}

nlohmann::json Consumer::state(StateParts parts) const
{
	const auto &fc = fpm_->counters();
	const auto &fd = feed_->counters();
	const auto global = dataplane_->global_counters();
	std::vector<Counter> extra = {
		{"fpm-connections", fc.connections},
		{"fpm-disconnections", fc.disconnections},
		{"fpm-bytes", fc.bytes},
		{"fpm-frames", fc.frames},
		{"fpm-non-netlink-frames", fc.non_netlink_frames},
		{"fpm-broken-frames", fc.broken_frames},
		{"fpm-framing-resets", fc.framing_resets},
		{"fpm-messages", fc.decode.messages},
		{"fpm-neigh-messages", fc.decode.neigh},
		{"fpm-route-messages", fc.decode.routes},
		{"fpm-nexthop-messages", fc.decode.nexthops},
		{"fpm-ignored-messages", fc.decode.ignored},
		{"fpm-malformed-messages", fc.decode.malformed},
		{"feed-snapshots", fd.snapshots},
		{"feed-deltas", fd.deltas},
		{"feed-heartbeats", fd.heartbeats},
		{"feed-subscribes", fd.subscribes},
		{"feed-gaps", fd.gaps},
		{"feed-bad-messages", fd.bad_messages},
		{"feed-rejected-sessions", fd.rejected_sessions},
		{"feed-rejected-options", fd.rejected_options},
		{"feed-hold-expiries", fd.hold_expiries},
		{"dataplane-global-drops", global.drops},
		{"dataplane-unknown-host-id-copies", global.packets},
		{"dataplane-dropped-originals", dataplane_->dropped_originals().packets},
		{"event-handler-errors", loop_.errors()},
		{"reconciles-deferred", reconciles_deferred_},
		{"last-reconcile-us",
		 static_cast<std::uint64_t>(
			 std::chrono::duration_cast<std::chrono::microseconds>(pacer_.last_took()).count())},
	};
	if (kernel_) {
		extra.push_back({"kernel-fdb-messages", kernel_->counters().messages});
		extra.push_back({"kernel-fdb-overruns", kernel_->overruns()});
	}
	if (metrics_) {
		const auto &mc = metrics_->counters();
		extra.push_back({"metrics-connections", mc.connections});
		extra.push_back({"metrics-requests", mc.requests});
		extra.push_back({"metrics-bad-requests", mc.bad_requests});
		extra.push_back({"metrics-timeouts", mc.timeouts});
		extra.push_back({"metrics-connections-over-limit", mc.over_limit});
	}
	auto inner = engine_state_json(*engine_, dataplane_.get(), extra, parts);
	inner["fpm"] = {{"listen", fpm_->listen_address()},
			{"connected", fpm_->connected()},
			{"resyncing", engine_->fpm_resyncing() || fpm_settle_at_.has_value()}};
	if (fpm_->connected())
		inner["fpm"]["peer"] = fpm_->peer();
	inner["feed"] = {{"endpoint", feed_->config().endpoint},
			 {"state", feed_->state_name()},
			 {"epoch", std::to_string(feed_->epoch())},
			 {"seq", std::to_string(feed_->seq())}};
	if (feed_->peer_version())
		inner["feed"]["version"] = feed_->peer_version();
	if (!feed_->last_error().empty())
		inner["feed"]["last-error"] = feed_->last_error();
	return nlohmann::json{{"evpn-monitor:fpm-consumer", inner}};
}

} // namespace evpnmon::consumer
