// fpm-consumer core: level-triggered reconciliation. Diff the desired entry
// set against what the dataplane has and apply only the difference; correct
// entries are never touched.
#pragma once

#include <evpnmon/dataplane/dataplane.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace evpnmon::consumer {

struct ReconcileStats {
	std::uint64_t installed = 0; // new keys
	std::uint64_t replaced = 0;  // same key, new action
	std::uint64_t removed = 0;
	std::uint64_t unchanged = 0;
	std::uint64_t errors = 0;
	std::string last_error;
};

class Reconciler {
public:
	explicit Reconciler(dp::Dataplane &dataplane) : dp_(dataplane) {}

	// Re-read the dataplane (start-up, after errors, periodic audit).
	void refresh();
	ReconcileStats apply(const std::map<dp::EntryKey, dp::Action> &desired);

	const std::map<dp::EntryKey, dp::Action> &installed() const { return installed_; }

private:
	dp::Dataplane &dp_;
	std::map<dp::EntryKey, dp::Action> installed_;
	bool loaded_ = false;
};

} // namespace evpnmon::consumer
