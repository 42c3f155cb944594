#include "core/reconciler.hpp"

#include <algorithm>

namespace evpnmon::consumer {

void Reconciler::refresh()
{
	installed_.clear();
	// list() is in key order: each insert at the end is O(1), and the keys
	// are moved, not copied. A copy and a search per key would hold the
	// loop about 0.1 s more at 100,000 sessions.
	auto entries = dp_.list();
	for (auto &entry : entries)
		installed_.insert_or_assign(installed_.end(), std::move(entry.key),
					    EntrySpec(entry.action, entry.options));
	loaded_ = true;
}

void Reconciler::converge(const dp::EntryKey &key, const EntrySpec *want, ReconcileStats &st)
{
	auto note_error = [&](const std::error_code &ec, const char *what) {
		++st.errors;
		st.last_error = std::string(what) + ": " + ec.message();
		if (dp::is_capacity_error(ec))
			++st.capacity_errors;
		// The backend changes one key atomically or not at all, and the
		// cache keeps the key's old state: retrying the key alone repairs
		// it (the audit re-reads everything anyway). A re-read and whole
		// diff per failure would make every event's pass a full one while
		// one key keeps failing.
		failed_.insert(key);
	};
	auto have = installed_.find(key);
	if (!want) {
		if (have == installed_.end()) {
			failed_.erase(key);
			return;
		}
		if (auto ec = dp_.remove(key))
			return note_error(ec, "remove");
		installed_.erase(have);
		++st.removed;
	} else if (have == installed_.end()) {
		if (auto ec = dp_.install(to_entry(key, *want)))
			return note_error(ec, "install");
		installed_.emplace(key, *want);
		++st.installed;
	} else if (have->second == *want) {
		++st.unchanged;
	} else {
		if (auto ec = dp_.install(to_entry(key, *want)))
			return note_error(ec, "replace");
		have->second = *want;
		++st.replaced;
	}
	failed_.erase(key);
}

ReconcileStats Reconciler::apply(const EntryMap &desired)
{
	if (!loaded_)
		refresh();
	failed_.clear();
	ReconcileStats st;
	dp_.begin_batch(); // the pass reaches the packet path at its flush
	// Both maps are ordered by key: one merge pass. (A full map's refusals
	// wait in failed_ for the retry; the removals of this pass make room.)
	auto want = desired.begin();
	auto have = installed_.begin();
	while (want != desired.end() || have != installed_.end()) {
		if (have == installed_.end() || (want != desired.end() && want->first < have->first)) {
			converge(want->first, &want->second, st);
			++want;
		} else if (want == desired.end() || have->first < want->first) {
			const auto key = (have++)->first; // converge() may erase it
			converge(key, nullptr, st);
		} else {
			converge(want->first, &want->second, st);
			++want;
			++have;
		}
	}
	flush(st);
	return st;
}

void Reconciler::flush(ReconcileStats &st)
{
	if (auto ec = dp_.flush()) {
		++st.errors;
		st.last_error = "flush: " + ec.message();
	}
}

ReconcileStats Reconciler::apply(const EntryMap &desired, const std::vector<dp::EntryKey> &keys,
				 bool retry)
{
	if (!loaded_)
		refresh();
	ReconcileStats st;
	dp_.begin_batch();
	std::vector<dp::EntryKey> work = keys;
	if (retry)
		work.insert(work.end(), failed_.begin(), failed_.end());
	std::sort(work.begin(), work.end());
	work.erase(std::unique(work.begin(), work.end()), work.end());
	for (const auto &key : work) {
		auto want = desired.find(key);
		converge(key, want == desired.end() ? nullptr : &want->second, st);
	}
	st.unchanged = installed_.size() - st.installed - st.replaced;
	flush(st);
	return st;
}

} // namespace evpnmon::consumer
