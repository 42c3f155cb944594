// fpm-consumer core: level-triggered reconciliation. Diff the desired entry
// set against what the dataplane has and apply only the difference; correct
// entries are never touched.
#pragma once

#include "core/model.hpp"

#include <evpnmon/dataplane/dataplane.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace evpnmon::consumer {

struct ReconcileStats {
	std::uint64_t installed = 0; // new keys
	std::uint64_t replaced = 0;  // same key, new action or options (updated in place)
	std::uint64_t removed = 0;
	std::uint64_t unchanged = 0;
	std::uint64_t errors = 0;          // every failed operation, full maps included
	std::uint64_t capacity_errors = 0; // installs refused for lack of room
	std::string last_error;
};

class Reconciler {
public:
	explicit Reconciler(dp::Dataplane &dataplane) : dp_(dataplane) {}

	// Re-read the dataplane (start-up, after errors, periodic audit).
	void refresh();
	// Whole diff. An entry whose key is installed but whose action or
	// options differ is install()ed again under the same key: the dataplane
	// updates it in place, so the session is never without its entry nor
	// copied twice.
	ReconcileStats apply(const EntryMap &desired);
	// The same for the listed keys only (the rest is known to agree), and,
	// with `retry`, the keys whose last operation failed.
	ReconcileStats apply(const EntryMap &desired, const std::vector<dp::EntryKey> &keys,
			     bool retry);

	// False until the first read of the dataplane.
	bool in_sync() const { return loaded_; }
	// Keys whose last install or removal failed (a full map keeps them
	// here until there is room, other errors until the backend accepts
	// them); retried on their own.
	const std::set<dp::EntryKey> &failed() const { return failed_; }
	const EntryMap &installed() const { return installed_; }

private:
	// One key: make the dataplane hold `want` (null: nothing).
	void converge(const dp::EntryKey &key, const EntrySpec *want, ReconcileStats &st);
	// The end of a pass: the dataplane writes what it batched.
	void flush(ReconcileStats &st);

	dp::Dataplane &dp_;
	EntryMap installed_;
	std::set<dp::EntryKey> failed_;
	bool loaded_ = false;
};

} // namespace evpnmon::consumer
