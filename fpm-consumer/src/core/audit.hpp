// fpm-consumer core: the audit of what this VTEP mirrors for whom. Every
// session that enters or leaves this VTEP's installed set, every change of
// an installed session's destination or profile, and every session the
// import decision holds back (denied, over a limit) is one event: one log
// line, and kept in a bounded ring that evpnmon-ctl reads (`history`).
#pragma once

#include "core/model.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace evpnmon::consumer {

inline constexpr std::size_t kDefaultAuditHistory = 1000;
inline constexpr std::size_t kMaxAuditHistory = 100000;

struct AuditEvent {
	enum class Kind : std::uint8_t {
		Install, // enters the installed set (new, or was denied / over limit)
		Update,  // installed, and its destination or profile changed
		Remove,  // leaves the installed set (withdrawn, feed lost)
		Deny,    // held: denied by the import policy (new, or a flip)
		Refuse,  // held: over a session limit (new, or a flip)
		Forget,  // a held session withdrawn (it was never installed here)
	};
	std::uint64_t seq = 0;    // 1, 2, ... in this run (the ring may have lost older ones)
	std::int64_t time_ms = 0; // Unix time, milliseconds
	Kind kind = Kind::Install;
	std::string session; // the session id
	Ipv4 originator{};
	std::uint32_t vni = 0;
	std::optional<Mac> host_mac;
	std::optional<IpAddr> host_ip;
	bool collector = false;  // destination: an ERSPAN collector, else a server
	std::uint16_t dest_id = 0; // HOST ID or collector ID
	std::optional<Mac> server_mac;
	std::optional<IpAddr> dest_ip; // the server's IP, or the collector's
	std::string profile_name;   // the options' name ("" = none given)
	std::string profile_digest; // short digest of the options octets ("" = no options)
	ImportState decision = ImportState::Installed;
	// bgpd's reason for the decision; for Remove / Forget the cause.
	std::string reason;
	// The state before: none for a session new to this VTEP.
	std::optional<ImportState> previous;
};

const char *to_string(AuditEvent::Kind kind); // install, update, remove, deny, refuse, forget
// The identity of a session's options: a short digest (8 hex digits of
// FNV-1a 64 over the canonical options area); empty without options.
std::string options_digest(const session::Options &options);
// An event for `session` (its identity, destination, profile, decision).
AuditEvent audit_event(AuditEvent::Kind kind, const Session &session,
		       std::optional<ImportState> previous, std::string reason);
// One log line, "audit: install session ... decision installed (...)".
std::string format_line(const AuditEvent &event);
// RFC 7951 JSON of one event (yang/evpn-monitor.yang, audit event).
nlohmann::json event_json(const AuditEvent &event);

class AuditLog {
public:
	using Sink = std::function<void(const AuditEvent &)>;
	using Clock = std::function<std::int64_t()>; // Unix time in ms

	// capacity 0: nothing kept (the log lines and counters remain).
	explicit AuditLog(std::size_t capacity = kDefaultAuditHistory, Sink sink = {},
			  Clock clock = {});
	void record(AuditEvent event);
	// The last `n` events, oldest first (all kept when n is 0 or larger).
	std::vector<AuditEvent> last(std::size_t n = 0) const;
	std::size_t capacity() const { return capacity_; }
	std::size_t size() const { return ring_.size(); }
	std::uint64_t total() const { return total_; }
	std::uint64_t count(AuditEvent::Kind kind) const
	{
		return by_kind_[static_cast<std::size_t>(kind)];
	}
	void set_sink(Sink sink) { sink_ = std::move(sink); }

private:
	std::size_t capacity_;
	Sink sink_;
	Clock clock_;
	std::deque<AuditEvent> ring_;
	std::uint64_t total_ = 0;
	std::uint64_t by_kind_[6] = {};
};

// Log lines of held sessions (deny, refuse, forget) are limited: bgpd's
// session limits bound the installed set, not what a route reflector may
// relay that the policy denies. The first `per_second` such lines of each
// second are written; the others are counted, and summarised by one line
// once their second is over (the ring and the counters keep every event).
// Installs, updates and removals are never limited.
inline constexpr std::size_t kAuditLinesPerSecond = 10;

class AuditLineLimiter {
public:
	using Clock = std::function<std::int64_t()>; // ms, monotonic enough

	explicit AuditLineLimiter(std::size_t per_second = kAuditLinesPerSecond, Clock clock = {});
	static bool limited(AuditEvent::Kind kind)
	{
		return kind == AuditEvent::Kind::Deny || kind == AuditEvent::Kind::Refuse ||
		       kind == AuditEvent::Kind::Forget;
	}
	// Write this event's line now? (false: counted for the summary)
	bool admit(const AuditEvent &event);
	// Events not written, once the second they fell in is over (then
	// reset; 0: nothing to summarise yet). Call it on every tick.
	std::uint64_t take_suppressed();
	std::uint64_t suppressed_total() const { return suppressed_total_; }

private:
	std::size_t per_second_;
	Clock clock_;
	std::int64_t second_ = -1; // the current second (ms / 1000)
	std::size_t written_ = 0;  // limited lines written in it
	std::uint64_t suppressed_ = 0;
	std::uint64_t suppressed_total_ = 0;
};
// "audit: N more audit events not logged (...)"
std::string suppressed_line(std::uint64_t n);

// The history document the state socket serves for "history [N]":
// {"evpn-monitor:fpm-consumer": {"audit": {capacity, events-total, event[]}}}.
nlohmann::json history_json(const AuditLog &log, std::size_t n = 0);

} // namespace evpnmon::consumer
