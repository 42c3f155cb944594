#include "core/reconciler.hpp"

#include <algorithm>
#include <limits>

namespace evpnmon::consumer {

void Reconciler::begin_refresh()
{
	servers_.clear();
	servers_supported_ = dp_.supports_servers();
	for (auto &[key, target] : dp_.servers())
		servers_.emplace(key, target);
	refreshing_ = true;
	refresh_from_.reset();
}

bool Reconciler::refresh_part(std::size_t budget)
{
	if (!refreshing_)
		return true;
	// The dataplane hands its entries over in key order, the view's own:
	// one merge into the view, in place. An entry read as the view holds
	// it (nearly every one, every audit) costs a comparison and allocates
	// nothing; only what differs is inserted, replaced or erased, with
	// its server's users counted as any change of the view counts them.
	// A view built anew from a copy of the entries allocated and freed
	// them all (at 100,000 sessions the audit's longest step).
	auto have = refresh_from_ ? installed_.lower_bound(*refresh_from_) : installed_.begin();
	// The view's keys the dataplane lacks are erased `budget` at most a
	// part too. Once that is spent, the rest of the entries visited are
	// left alone and the next part starts at the first key not erased:
	// the dataplane has no key between it and the entry that stopped it.
	std::size_t erasable = budget;
	bool spent = false;
	const auto next = dp_.visit_entries(refresh_from_, budget, [&](const dp::EntryKey &key,
									const dp::Action &action,
									const session::Options &options) {
		while (!spent) {
			const auto order = have == installed_.end() ? std::strong_ordering::greater
								    : have->first <=> key;
			if (order < 0) { // the view's, not the dataplane's
				if (erasable == 0) {
					spent = true;
					return;
				}
				--erasable;
				use(have->second, -1);
				have = installed_.erase(have);
				continue;
			}
			if (order > 0) { // the dataplane's alone
				use(installed_.emplace_hint(have, key, EntrySpec(action, options))->second,
				    +1);
			} else {
				if (!have->second.holds(action, options)) {
					use(have->second, -1);
					have->second = EntrySpec(action, options);
					use(have->second, +1);
				}
				++have;
			}
			return;
		}
	});
	// The view's keys left before the next part's first matched no entry
	// read: the dataplane lacks them.
	while (!spent && have != installed_.end() && (!next || have->first < *next)) {
		if (erasable == 0) {
			spent = true;
			break;
		}
		--erasable;
		use(have->second, -1);
		have = installed_.erase(have);
	}
	refresh_from_ = spent ? std::optional(have->first) : next;
	if (refresh_from_)
		return false;
	refreshing_ = false;
	idle_.clear();
	for (const auto &[key, _] : servers_)
		if (!users_.contains(key))
			idle_.insert(key);
	// failed_ and failed_servers_ stay: retried against what was just read.
	loaded_ = true;
	return true;
}

void Reconciler::use(const EntrySpec &spec, int delta)
{
	const auto *server = spec.server();
	if (!server)
		return;
	auto &n = users_[*server];
	n = delta > 0 ? n + 1 : n > 0 ? n - 1 : 0;
	if (n) {
		idle_.erase(*server);
	} else {
		users_.erase(*server);
		idle_.insert(*server);
	}
}

const EntrySpec *Reconciler::held(const EntrySpec &want, const ServerMap &servers,
				  EntrySpec &own) const
{
	const auto *server = want.server();
	if (servers_supported_ || !server)
		return &want;
	auto target = servers.find(*server);
	if (target == servers.end())
		return nullptr;
	own = want;
	own.action = target->second;
	return &own;
}

std::error_code Reconciler::place_server(const EntrySpec &want, const ServerMap &servers,
					 ReconcileStats &st)
{
	const auto *server = want.server();
	if (!server || !servers_supported_)
		return {};
	auto target = servers.find(*server);
	if (target == servers.end()) // the decision names no server without a target
		return std::make_error_code(std::errc::invalid_argument);
	auto it = servers_.find(*server);
	if (it != servers_.end() && it->second == target->second)
		return {};
	if (auto ec = dp_.set_server(*server, target->second))
		return ec;
	failed_servers_.erase(*server);
	if (it != servers_.end()) {
		it->second = target->second;
		++st.server_moves;
	} else {
		servers_.emplace(*server, target->second);
		if (!users_.contains(*server))
			idle_.insert(*server);
	}
	return {};
}

void Reconciler::converge(const dp::EntryKey &key, const EntrySpec *want, const ServerMap &servers,
			  ReconcileStats &st)
{
	converge(key, want, servers, st, installed_.find(key));
}

void Reconciler::converge(const dp::EntryKey &key, const EntrySpec *want, const ServerMap &servers,
			  ReconcileStats &st, EntryMap::iterator have)
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
	// Without servers in the dataplane, an entry whose server has no
	// target carries nothing to copy: it is left out.
	if (!servers_supported_ && want->server())
		if (auto t = servers.find(*want->server());
		    t != servers.end() && t->second.kind == dp::Action::Kind::Unresolved)
			return converge(key, nullptr, servers, st, have);
	if (auto ec = place_server(*want, servers, st))
		return note_error(ec, "server");
	EntrySpec own;
	const EntrySpec *w = held(*want, servers, own);
	if (!w)
		return note_error(std::make_error_code(std::errc::invalid_argument), "server target");
	if (have == installed_.end()) {
		if (auto ec = dp_.install(to_entry(key, *w)))
			return note_error(ec, "install");
		installed_.emplace(key, *w);
		use(*w, +1);
		++st.installed;
	} else if (have->second == *w) {
		++st.unchanged;
	} else {
		if (auto ec = dp_.install(to_entry(key, *w)))
			return note_error(ec, "replace");
		use(have->second, -1);
		use(*w, +1);
		have->second = *w;
		++st.replaced;
	}
	failed_.erase(key);
}

ReconcileStats Reconciler::apply(const EntryMap &desired, const ServerMap &servers)
{
	if (!loaded_)
		refresh();
	// Every key is converged again: those that failed go back in failed_.
	failed_.clear();
	// Set servers nothing in this pass names any more (an entry's server
	// is set as the entry converges) go at the flush; one still named is
	// put right by its first entry.
	failed_servers_.clear();
	ReconcileStats st;
	std::size_t budget = std::numeric_limits<std::size_t>::max();
	apply_part(desired, servers, std::nullopt, budget, st);
	return st;
}

std::optional<dp::EntryKey> Reconciler::apply_part(const EntryMap &desired, const ServerMap &servers,
						   const std::optional<dp::EntryKey> &from,
						   std::size_t &budget, ReconcileStats &st)
{
	if (!loaded_)
		refresh();
	dp_.begin_batch(); // the part reaches the packet path at its flush
	auto want = from ? desired.lower_bound(*from) : desired.begin();
	auto have = from ? installed_.lower_bound(*from) : installed_.begin();
	// Both maps are ordered by key: one merge, `budget` steps of it, one
	// comparison per step, and converge() is handed what the merge found
	// instead of searching installed_ again. (A full map's refusals wait
	// in failed_ for the retry; the removals of this pass make room.)
	for (; budget > 0 && (want != desired.end() || have != installed_.end()); --budget) {
		const auto order = want == desired.end()     ? std::strong_ordering::greater
				   : have == installed_.end() ? std::strong_ordering::less
							      : want->first <=> have->first;
		if (order < 0) {
			converge(want->first, &want->second, servers, st, installed_.end());
			++want;
		} else if (order > 0) {
			const auto at = have++;
			const auto key = at->first; // a copy: converge() erases `at`
			converge(key, nullptr, servers, st, at);
		} else {
			const auto at = have++;
			converge(want->first, &want->second, servers, st, at);
			++want;
		}
	}
	flush(st);
	// Both stand on the first key not diffed yet: the smaller one is where
	// the next part starts (a key added before it meanwhile was diffed by
	// its own pass).
	if (want == desired.end() && have == installed_.end())
		return std::nullopt;
	if (want == desired.end())
		return have->first;
	if (have == installed_.end())
		return want->first;
	return std::min(want->first, have->first);
}

void Reconciler::flush(ReconcileStats &st)
{
	if (auto ec = dp_.flush()) {
		++st.errors;
		st.last_error = "flush: " + ec.message();
	}
	// After the flush: until then a removed entry may still name its server.
	if (refreshing_)
		return; // an entry not read yet may name one the view thinks idle
	for (auto it = idle_.begin(); it != idle_.end();) {
		if (auto ec = dp_.remove_server(*it)) {
			++st.errors;
			st.last_error = "remove server: " + ec.message();
			++it; // retried at the next flush
			continue;
		}
		servers_.erase(*it);
		failed_servers_.erase(*it);
		it = idle_.erase(it);
	}
}

void Reconciler::retarget(const std::set<dp::ServerKey> &moved, const EntryMap &desired,
			  const ServerMap &servers, std::vector<dp::EntryKey> &work,
			  ReconcileStats &st)
{
	if (!servers_supported_) {
		// Without servers every entry naming one holds its target: a
		// walk of the desired entries (both backends have servers).
		for (const auto &[key, spec] : desired)
			if (const auto *server = spec.server(); server && moved.contains(*server))
				work.push_back(key);
		return;
	}
	for (const auto &key : moved) {
		auto want = servers.find(key);
		auto have = servers_.find(key);
		// A server not set yet is set by its first entry; one without a
		// target goes with its last entry.
		if (want == servers.end() || have == servers_.end() || have->second == want->second) {
			failed_servers_.erase(key);
			continue;
		}
		if (auto ec = dp_.set_server(key, want->second)) {
			++st.errors;
			st.last_error = "server: " + ec.message();
			if (dp::is_capacity_error(ec))
				++st.capacity_errors;
			failed_servers_.insert(key);
			continue;
		}
		have->second = want->second;
		++st.server_moves;
		failed_servers_.erase(key);
	}
}

ReconcileStats Reconciler::apply(const EntryMap &desired, const ServerMap &servers,
				 const std::vector<dp::EntryKey> &keys,
				 const std::vector<dp::ServerKey> &moved, bool retry)
{
	if (!loaded_)
		refresh();
	ReconcileStats st;
	dp_.begin_batch();
	std::vector<dp::EntryKey> work = keys;
	std::set<dp::ServerKey> servers_work(moved.begin(), moved.end());
	if (retry) {
		work.insert(work.end(), failed_.begin(), failed_.end());
		servers_work.insert(failed_servers_.begin(), failed_servers_.end());
	}
	if (!servers_work.empty())
		retarget(servers_work, desired, servers, work, st);
	std::sort(work.begin(), work.end());
	work.erase(std::unique(work.begin(), work.end()), work.end());
	for (const auto &key : work) {
		auto want = desired.find(key);
		converge(key, want == desired.end() ? nullptr : &want->second, servers, st);
	}
	st.unchanged = installed_.size() - st.installed - st.replaced;
	flush(st);
	return st;
}

} // namespace evpnmon::consumer
