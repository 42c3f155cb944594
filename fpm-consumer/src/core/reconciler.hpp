// fpm-consumer core: level-triggered reconciliation. Diff the desired entry
// set against what the dataplane has and apply only the difference; correct
// entries are never touched.
#pragma once

#include "core/model.hpp"

#include <evpnmon/dataplane/dataplane.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace evpnmon::consumer {

struct ReconcileStats {
	std::uint64_t installed = 0; // new keys
	std::uint64_t replaced = 0;  // same key, new action or options (updated in place)
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
	// An entry whose key is installed but whose action or options differ is
	// install()ed again under the same key: the dataplane updates it in
	// place, so the session is never without its entry nor copied twice.
	ReconcileStats apply(const EntryMap &desired);

	const EntryMap &installed() const { return installed_; }

private:
	dp::Dataplane &dp_;
	EntryMap installed_;
	bool loaded_ = false;
};

} // namespace evpnmon::consumer
