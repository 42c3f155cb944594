#include "core/reconciler.hpp"

#include <algorithm>

namespace evpnmon::consumer {

void Reconciler::refresh()
{
	installed_.clear();
	users_.clear();
	idle_.clear();
	servers_.clear();
	servers_supported_ = dp_.supports_servers();
	for (auto &[key, target] : dp_.servers())
		servers_.emplace(key, target);
	// list() is in key order: each insert at the end is O(1), and the keys
	// are moved, not copied. A copy and a search per key would hold the
	// loop about 0.1 s more at 100,000 sessions.
	auto entries = dp_.list();
	for (auto &entry : entries) {
		EntrySpec spec(entry.action, entry.options);
		if (entry.action.kind == dp::Action::Kind::Server) {
			// Its action is its server's target (a server not set
			// leaves the Server action: no desired spec equals it).
			spec.server = entry.action.server;
			if (auto t = servers_.find(*spec.server); t != servers_.end())
				spec.action = t->second;
		}
		use(spec, +1);
		installed_.insert_or_assign(installed_.end(), std::move(entry.key), std::move(spec));
	}
	for (const auto &[key, _] : servers_)
		if (!users_.contains(key))
			idle_.insert(key);
	loaded_ = true;
}

void Reconciler::use(const EntrySpec &spec, int delta)
{
	if (!spec.server)
		return;
	auto &n = users_[*spec.server];
	n = delta > 0 ? n + 1 : n > 0 ? n - 1 : 0;
	if (n) {
		idle_.erase(*spec.server);
	} else {
		users_.erase(*spec.server);
		idle_.insert(*spec.server);
	}
}

const EntrySpec &Reconciler::held(const EntrySpec &want, EntrySpec &own) const
{
	if (servers_supported_ || !want.server)
		return want;
	own = want;
	own.server.reset();
	return own;
}

std::error_code Reconciler::place_server(const EntrySpec &want, ReconcileStats &st)
{
	if (!want.server || !servers_supported_)
		return {};
	auto it = servers_.find(*want.server);
	if (it != servers_.end() && it->second == want.action)
		return {};
	if (auto ec = dp_.set_server(*want.server, want.action))
		return ec;
	if (it != servers_.end()) {
		it->second = want.action;
		++st.server_moves;
	} else {
		servers_.emplace(*want.server, want.action);
		if (!users_.contains(*want.server))
			idle_.insert(*want.server);
	}
	return {};
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
		use(have->second, -1);
		installed_.erase(have);
		++st.removed;
		failed_.erase(key);
		return;
	}
	if (auto ec = place_server(*want, st))
		return note_error(ec, "server");
	EntrySpec own;
	const EntrySpec &w = held(*want, own);
	if (have == installed_.end()) {
		if (auto ec = dp_.install(to_entry(key, w)))
			return note_error(ec, "install");
		installed_.emplace(key, w);
		use(w, +1);
		++st.installed;
	} else if (have->second == w) {
		++st.unchanged;
	} else if (EntrySpec moved = have->second;
		   w.server && moved.server == w.server && (moved.action = w.action, moved == w)) {
		have->second = w; // its server's target is the new action
		++st.followed;
	} else {
		if (auto ec = dp_.install(to_entry(key, w)))
			return note_error(ec, "replace");
		use(have->second, -1);
		use(w, +1);
		have->second = w;
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
	// After the flush: until then a removed entry may still name its server.
	for (auto it = idle_.begin(); it != idle_.end();) {
		if (auto ec = dp_.remove_server(*it)) {
			++st.errors;
			st.last_error = "remove server: " + ec.message();
			++it; // retried at the next flush
			continue;
		}
		servers_.erase(*it);
		it = idle_.erase(it);
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
	st.unchanged = installed_.size() - st.installed - st.replaced - st.followed;
	flush(st);
	return st;
}

} // namespace evpnmon::consumer
