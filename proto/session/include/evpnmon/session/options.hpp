// evpn-monitor: C++ view of a session's options (proto/session/evpn_mon_options.h).
// A value type over the one C definition: the fpm-consumer and the dataplane
// hold sessions' options as this, never as a second model.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "evpn_mon_options.h"

namespace evpnmon::session {

class Options {
public:
	Options() = default; // no profile: every packet, both directions, whole

	// From the C struct: canonicalized. Does not validate (see validate()).
	explicit Options(const evpn_mon_options &c);

	// From an options area (route or feed octets). Empty span = no profile.
	// On failure *error (if given) holds the reason and a no-profile
	// Options is returned.
	static Options decode(std::span<const std::uint8_t> area,
			      evpn_mon_opt_error *error = nullptr);

	const evpn_mon_options &c() const { return c_ ? *c_ : kNone; }
	// True for every collector session too: without a profile of its own
	// it is an empty one (every packet, whole), as decoded from the wire.
	bool has_profile() const { return c().present != 0; }
	// A collector session's ERSPAN encapsulation (version 0 otherwise).
	bool has_erspan() const { return c().erspan.version != 0; }
	const evpn_mon_erspan &erspan() const { return c().erspan; }
	evpn_mon_opt_error validate() const;

	// Canonical options area (empty without a profile or ERSPAN parameters).
	std::vector<std::uint8_t> encode() const;

	// One line for logs and `fpm-consumer-ctl`, e.g.
	// "profile roce dir rx filters 2 sample 1/100 truncate 128 police 1000pps/100".
	std::string to_string() const;

	bool operator==(const Options &o) const;
	std::strong_ordering operator<=>(const Options &o) const;

private:
	// Held once and shared: a session, its entries and the dataplane's
	// records of them copy one session's options several times, and the
	// struct is 432 octets. Immutable once made; null for all-zero
	// options (no profile, no ERSPAN), which most sessions have.
	explicit Options(std::shared_ptr<const evpn_mon_options> c) : c_(std::move(c)) {}
	static Options held(const evpn_mon_options &c);
	static const evpn_mon_options kNone;
	std::shared_ptr<const evpn_mon_options> c_;
};

} // namespace evpnmon::session
