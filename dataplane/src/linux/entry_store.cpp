#include "entry_store.hpp"

#include "../visit_range.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "evpnmon_kinds.h"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <utility>

namespace evpnmon::dp::linux_dp {

namespace {

std::error_code errno_code(int r)
{
	return {r < 0 ? -r : errno, std::generic_category()};
}

} // namespace

static_assert(kDefaultMaxProfiles == DP_MAX_PROFILES);

EntryStore::EntryStore(MapFds fds, dp_u32 max_entries, dp_u32 max_profiles)
    : fds_(fds), match_bits_(fds.match_bits), vni_words_(fds.vni_words), max_entries_(max_entries),
      max_profiles_(max_profiles), ncpus_(libbpf_num_possible_cpus()),
      prof_slots_(max_profiles, kProfileGrace), srv_slots_(max_entries, kProfileGrace),
      er_slots_(DP_MAX_ERSPAN, kProfileGrace)
{
	if (ncpus_ <= 0)
		throw std::system_error(-ncpus_, std::generic_category(),
					"dataplane/linux: number of CPUs");
	zero_stats_.resize(static_cast<std::size_t>(ncpus_));
	if (fds_.vni_kinds < 0)
		throw std::invalid_argument("dataplane/linux: no dp_vni_kinds map");
	adopt_servers(); // before the entries that name them
	// Adopt entries of a previous run.
	std::vector<dp_u32> idxs;
	dp_u32 key, next;
	dp_u32 *prev = nullptr;
	while (bpf_map_get_next_key(fds_.meta, prev, &next) == 0) {
		idxs.push_back(next);
		key = next;
		prev = &key;
	}
	std::set<dp_u32> used;
	for (dp_u32 idx : idxs) {
		dp_entry_meta m{};
		if (bpf_map_lookup_elem(fds_.meta, &idx, &m) != 0)
			continue;
		Entry e = codec::entry(m);
		// An ERSPAN action's destination lives in its slot.
		const dp_u32 es = m.action.ifindex;
		dp_erspan d{};
		if (e.action.kind == Action::Kind::Erspan) {
			if (es == 0 || es >= DP_MAX_ERSPAN ||
			    bpf_map_lookup_elem(fds_.erspan, &es, &d) != 0 || !d.collector) {
				bpf_map_delete_elem(fds_.meta, &idx);
				continue;
			}
			e.action.erspan = codec::erspan(d);
		}
		if (e.action.kind == Action::Kind::Server) {
			// The server whose slot it names (its MAC is there).
			auto own = srv_owner_.find(m.action.ifindex);
			if (own == srv_owner_.end() || own->second.vni != e.action.server.vni ||
			    own->second.host_id != e.action.server.host_id) {
				bpf_map_delete_elem(fds_.meta, &idx);
				continue;
			}
			e.action.server = own->second;
		}
		if (!codec::valid(e) || idx >= max_entries_ || recs_.contains(e.key)) {
			bpf_map_delete_elem(fds_.meta, &idx);
			continue;
		}
		Rec rec{e.action, idx, e.options, 0};
		if (e.action.kind == Action::Kind::Erspan) {
			// The slot and its sequence counter go on (shared by
			// every entry that names the same destination).
			const Erspan &x = e.action.erspan;
			auto own = er_owner_.find(es);
			if (own != er_owner_.end() && !(own->second == x)) {
				bpf_map_delete_elem(fds_.meta, &idx);
				continue;
			}
			auto [it, fresh] = erspans_.try_emplace(x, ErSlot{es, 0});
			if (fresh && own == er_owner_.end())
				er_owner_[es] = x;
			if (it->second.idx != es) { // same destination in two slots
				bpf_map_delete_elem(fds_.meta, &idx);
				continue;
			}
			it->second.refs++;
			rec.eslot = es;
		}
		if (e.key.kind != EntryKind::Decap && e.options.has_profile() &&
		    m.prof > 0 && m.prof < max_profiles_) {
			// Same (session, options) as an adopted entry: its slot.
			ProfKey pk{e.key.session, e.options};
			auto [it, fresh] = profiles_.try_emplace(pk, ProfSlot{m.prof, 0});
			if (fresh && prof_owner_.contains(m.prof)) {
				profiles_.erase(it); // slot claimed by other options
			} else {
				if (fresh)
					prof_owner_[m.prof] = pk;
				it->second.refs++;
				rec.prof = it->second.idx;
			}
		}
		recs_[e.key] = rec;
		if (e.key.kind != EntryKind::Decap)
			by_match_[codec::match_key(e.key)].insert(e.key);
		used.insert(idx);
	}
	if (!prof_owner_.empty())
		prof_slots_.adopt_up_to(prof_owner_.rbegin()->first);
	prof_slots_.retire_unowned([&](dp_u32 i) { return prof_owner_.contains(i); });
	if (!er_owner_.empty())
		er_slots_.adopt_up_to(er_owner_.rbegin()->first);
	er_slots_.retire_unowned([&](dp_u32 i) { return er_owner_.contains(i); });
	// Slots no adopted entry names: nothing sends copies there any more.
	for (dp_u32 i = er_slots_.next(); i < DP_MAX_ERSPAN; ++i) {
		dp_erspan d{};
		if (bpf_map_lookup_elem(fds_.erspan, &i, &d) == 0 && d.collector) {
			const dp_erspan none{};
			bpf_map_update_elem(fds_.erspan, &i, &none, BPF_ANY);
		}
	}
	// Entries whose slot could not be adopted get a new one; the
	// profiles are rewritten from the options (same bytes for an adopted
	// slot, so a packet never sees a torn profile).
	for (auto &[k, r] : recs_) {
		if (k.kind == EntryKind::Decap || !r.options.has_profile())
			continue;
		if (r.prof == 0) {
			dp_u32 slot = 0;
			if (!acquire_profile(k, r.options, slot)) {
				r.prof = slot;
				write_meta(k, r);
			}
			continue;
		}
		dp_profile pr = codec::profile(r.options);
		bpf_map_update_elem(fds_.profile, &r.prof, &pr, BPF_ANY);
	}
	adopted_ = recs_.size();
	next_ = used.empty() ? 0 : *used.rbegin() + 1;
	for (dp_u32 i = 0; i < next_; ++i)
		if (!used.contains(i))
			free_.push_back(i);
	// Drop lookup entries without a description, rewrite the others.
	std::vector<dp_match_key> stale;
	dp_match_key mk, mnext;
	dp_match_key *mprev = nullptr;
	while (bpf_map_get_next_key(fds_.match, mprev, &mnext) == 0) {
		if (!by_match_.contains(mnext))
			stale.push_back(mnext);
		mk = mnext;
		mprev = &mk;
	}
	for (auto &k : stale)
		bpf_map_delete_elem(fds_.match, &k);
	raise_match_gen();
	// The adopted keys' bits; those only deleted keys had are cleared.
	for (const auto &[k, _] : by_match_)
		match_bits_.add(k);
	match_bits_.rewrite();
	rebuild_kinds(); // before the lookups name the adopted entries
	std::vector<dp_decap_key> dstale;
	dp_decap_key dk, dnext;
	dp_decap_key *dprev = nullptr;
	while (bpf_map_get_next_key(fds_.decap, dprev, &dnext) == 0) {
		EntryKey ek;
		ek.kind = EntryKind::Decap;
		ek.vni = dnext.vni;
		ek.host_id = dnext.host_id;
		if (!recs_.contains(ek))
			dstale.push_back(dnext);
		dk = dnext;
		dprev = &dk;
	}
	for (auto &k : dstale)
		bpf_map_delete_elem(fds_.decap, &k);
	for (const auto &[k, _] : recs_)
		write_lookup(k);
	// Server ports: rebuilt from the adopted entries.
	std::vector<dp_u32> sstale;
	dp_u32 sk, snext;
	dp_u32 *sprev = nullptr;
	while (bpf_map_get_next_key(fds_.srv_port, sprev, &snext) == 0) {
		sstale.push_back(snext);
		sk = snext;
		sprev = &sk;
	}
	for (const auto &[_, r] : recs_)
		count_target(r.action, +1);
	for (auto s : sstale)
		if (!targets_.contains(s))
			write_port_kinds(s, 0);
	flush(); // descriptions of entries given a new profile slot
}

EntryStore::~EntryStore()
{
	flush(); // a stop or an upgrade: the next run adopts every entry
}

// The number of entries whose action is a local port (targets_port()).
// dp_srv_port itself is written by add_kinds/drop_kinds.
void EntryStore::count_target(const Action &a, int delta)
{
	if (a.kind == Action::Kind::Server)
		if (auto s = servers_.find(a.server); s != servers_.end()) {
			auto &u = s->second.users;
			u = delta > 0 ? u + 1 : u > 0 ? u - 1 : 0;
		}
	const dp_u32 port = port_of(a);
	if (port == 0)
		return;
	auto &n = targets_[port];
	if (delta > 0)
		n++;
	else if (n > 0 && --n == 0)
		targets_.erase(port);
}

std::error_code EntryStore::acquire_profile(const EntryKey &key,
					    const session::Options &options, dp_u32 &slot)
{
	slot = 0;
	if (key.kind == EntryKind::Decap || !options.has_profile())
		return {};
	ProfKey pk{key.session, options};
	if (auto it = profiles_.find(pk); it != profiles_.end()) {
		it->second.refs++;
		slot = it->second.idx;
		return {};
	}
	prof_slots_.reap();
	const auto taken = prof_slots_.take();
	if (!taken)
		return std::make_error_code(std::errc::no_buffer_space);
	const dp_u32 idx = *taken;
	// Counters, bucket, then the profile: nothing references the slot
	// yet (make before break).
	std::vector<dp_profile_stats> zero(static_cast<std::size_t>(ncpus_));
	dp_policer bucket{}; // last_ns 0: the first copy finds it full
	dp_profile pr = codec::profile(options);
	int r = bpf_map_update_elem(fds_.profile_stats, &idx, zero.data(), BPF_ANY);
	if (!r)
		r = bpf_map_update_elem(fds_.policer, &idx, &bucket, BPF_ANY);
	if (!r)
		r = bpf_map_update_elem(fds_.profile, &idx, &pr, BPF_ANY);
	if (r) {
		prof_slots_.put_back(idx);
		return errno_code(r);
	}
	profiles_.emplace(pk, ProfSlot{idx, 1});
	prof_owner_[idx] = pk;
	slot = idx;
	return {};
}

// The slot's last user is gone: it is retired, and reused only after
// kProfileGrace (a packet may still be reading it).
void EntryStore::release_profile(dp_u32 slot)
{
	auto o = prof_owner_.find(slot);
	if (slot == 0 || o == prof_owner_.end())
		return;
	auto it = profiles_.find(o->second);
	if (it != profiles_.end() && --it->second.refs > 0)
		return;
	if (it != profiles_.end())
		profiles_.erase(it);
	prof_owner_.erase(o);
	prof_slots_.retire(slot);
}

std::error_code EntryStore::acquire_erspan(const Action &a, dp_u32 &slot)
{
	slot = 0;
	if (a.kind != Action::Kind::Erspan)
		return {};
	if (auto it = erspans_.find(a.erspan); it != erspans_.end()) {
		it->second.refs++;
		slot = it->second.idx;
		return {};
	}
	er_slots_.reap();
	const auto taken = er_slots_.take();
	if (!taken)
		return std::make_error_code(std::errc::no_buffer_space);
	const dp_u32 idx = *taken;
	// Counters and sequence first, then the destination: nothing names
	// the slot yet (make before break).
	std::vector<dp_erspan_stats> zero(static_cast<std::size_t>(ncpus_));
	const dp_u32 seq0 = 0;
	const dp_erspan d = codec::erspan(a.erspan);
	int r = bpf_map_update_elem(fds_.erspan_stats, &idx, zero.data(), BPF_ANY);
	if (!r)
		r = bpf_map_update_elem(fds_.erspan_seq, &idx, &seq0, BPF_ANY);
	if (!r)
		r = bpf_map_update_elem(fds_.erspan, &idx, &d, BPF_ANY);
	if (r) {
		er_slots_.put_back(idx);
		return errno_code(r);
	}
	erspans_.emplace(a.erspan, ErSlot{idx, 1});
	er_owner_[idx] = a.erspan;
	slot = idx;
	return {};
}

// The slot's last user is gone: retired (its parameters stay for copies in
// flight) and reused after the grace period.
void EntryStore::release_erspan(dp_u32 slot)
{
	auto o = er_owner_.find(slot);
	if (slot == 0 || o == er_owner_.end())
		return;
	auto it = erspans_.find(o->second);
	if (it != erspans_.end() && --it->second.refs > 0)
		return;
	if (it != erspans_.end())
		erspans_.erase(it);
	er_owner_.erase(o);
	er_slots_.retire(slot);
}

dp_action EntryStore::raw_action(const Rec &rec) const
{
	dp_action a = codec::action(rec.action);
	if (a.kind == DP_ACT_ERSPAN)
		a.ifindex = rec.eslot;
	if (a.kind == DP_ACT_SERVER)
		if (auto s = servers_.find(rec.action.server); s != servers_.end())
			a.ifindex = s->second.slot;
	return a;
}

std::vector<std::pair<Erspan, ErspanCounters>> EntryStore::erspan_counters() const
{
	std::vector<std::pair<Erspan, ErspanCounters>> out;
	std::vector<dp_erspan_stats> v(static_cast<std::size_t>(ncpus_));
	for (const auto &[x, s] : erspans_) {
		ErspanCounters c;
		if (bpf_map_lookup_elem(fds_.erspan_stats, &s.idx, v.data()) == 0)
			for (const auto &p : v) {
				c.packets += p.packets;
				c.bytes += p.bytes;
				c.no_route += p.no_route;
				c.mtu_truncated += p.mtu_truncated;
				c.errors += p.errors;
			}
		dp_u32 next = 0;
		if (bpf_map_lookup_elem(fds_.erspan_seq, &s.idx, &next) == 0 && next)
			c.last_seq = next - 1;
		out.emplace_back(x, c);
	}
	return out;
}

// The description waits in the batch (one per slot: a later write of the
// same slot replaces it); a full batch goes to the kernel at once.
void EntryStore::write_meta(const EntryKey &key, const Rec &rec)
{
	dp_entry_meta m = codec::meta(Entry{key, rec.action, rec.options}, rec.prof);
	m.action = raw_action(rec);
	if (auto it = meta_pos_.find(rec.idx); it != meta_pos_.end()) {
		meta_vals_[it->second] = m;
		return;
	}
	meta_pos_.emplace(rec.idx, meta_keys_.size());
	meta_keys_.push_back(rec.idx);
	meta_vals_.push_back(m);
	if (meta_keys_.size() >= kMetaBatch)
		flush_meta(); // what fails stays in the batch for the next flush
}

// A slot given up before its description was written: none is written.
void EntryStore::drop_meta(dp_u32 idx)
{
	auto it = meta_pos_.find(idx);
	if (it == meta_pos_.end())
		return;
	const std::size_t pos = it->second, last = meta_keys_.size() - 1;
	meta_pos_.erase(it);
	if (pos != last) {
		meta_keys_[pos] = meta_keys_[last];
		meta_vals_[pos] = meta_vals_[last];
		meta_pos_[meta_keys_[pos]] = pos;
	}
	meta_keys_.pop_back();
	meta_vals_.pop_back();
}

std::error_code EntryStore::flush()
{
	const std::error_code lookups = write_lookups();
	if (!meta_gone_.empty()) {
		// A slot whose description was never written has none (ENOENT).
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 n = static_cast<__u32>(meta_gone_.size());
		const std::vector<dp_u32> gone(meta_gone_.begin(), meta_gone_.end());
		if (bpf_map_delete_batch(fds_.meta, gone.data(), &n, &opts) != 0)
			for (dp_u32 idx : gone)
				bpf_map_delete_elem(fds_.meta, &idx);
		meta_gone_.clear();
	}
	const std::error_code meta = flush_meta();
	reap_servers();
	return lookups ? lookups : meta;
}

std::error_code EntryStore::flush_meta()
{
	if (meta_keys_.empty())
		return {};
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	__u32 n = static_cast<__u32>(meta_keys_.size());
	int r = bpf_map_update_batch(fds_.meta, meta_keys_.data(), meta_vals_.data(), &n, &opts);
	meta_pos_.clear();
	if (r == 0) { // the buffers keep their capacity for the next batch
		meta_keys_.clear();
		meta_vals_.clear();
		return {};
	}
	// The kernel stops at the first element it refuses (and one without
	// batch updates for this map type refuses all, the count untouched):
	// every one again on its own (writing one twice does no harm), so one
	// bad element holds back no other. What fails waits.
	std::error_code ec;
	std::size_t kept = 0;
	for (std::size_t i = 0; i < meta_keys_.size(); ++i)
		if (int e = bpf_map_update_elem(fds_.meta, &meta_keys_[i], &meta_vals_[i], BPF_ANY)) {
			ec = errno_code(e);
			meta_keys_[kept] = meta_keys_[i];
			meta_vals_[kept] = meta_vals_[i];
			meta_pos_.emplace(meta_keys_[kept], kept);
			++kept;
		}
	meta_keys_.resize(kept);
	meta_vals_.resize(kept);
	return ec;
}

// The dp_match element of a key, from recs_; none when no entry has it.
std::optional<dp_match_val> EntryStore::match_val(const dp_match_key &mk) const
{
	auto g = by_match_.find(mk);
	if (g == by_match_.end() || g->second.empty())
		return std::nullopt;
	dp_match_val v{};
	for (const auto &k : g->second) { // sorted by EntryKey, as in memory
		const Rec &r = recs_.at(k);
		v.slots[v.n].action = raw_action(r);
		v.slots[v.n].stat_idx = r.idx;
		v.slots[v.n].prof = r.prof;
		if (++v.n == DP_MAX_ACTIONS)
			break;
	}
	return v;
}

// Rewrite the lookup-map element that `key` belongs to from recs_ (in a
// batch: mark it for flush()).
std::error_code EntryStore::write_lookup(const EntryKey &key, bool absent_before)
{
	if (key.kind == EntryKind::Decap) {
		dp_decap_key dk = codec::decap_key(key);
		auto it = recs_.find(key);
		if (it == recs_.end()) {
			bpf_map_delete_elem(fds_.decap, &dk);
			return {};
		}
		dp_decap_val v{it->second.action.ifindex, it->second.idx};
		if (int r = bpf_map_update_elem(fds_.decap, &dk, &v, BPF_ANY))
			return errno_code(r);
		return {};
	}
	const dp_match_key mk = codec::match_key(key);
	const auto v = match_val(mk);
	if (batching_) {
		mark(mk, !absent_before, v);
		return {};
	}
	int r = v ? bpf_map_update_elem(fds_.match, &mk, &*v, BPF_ANY)
		  : bpf_map_delete_elem(fds_.match, &mk);
	raise_match_gen();
	if (r && (v || r != -ENOENT)) {
		// Refused (a deletion finding no element is not): the kernel keeps
		// the element it had (or none), which may still name what the
		// caller's old state owns. Marked like a refused batch's element:
		// retire() then waits for its write, and a flush tries it again
		// (a mark already there keeps what it said about the kernel).
		mark(mk, v ? !absent_before : true, v, false);
		return errno_code(r);
	}
	// Written (or deleted, or already gone): a mark a refused batch left
	// on it, and what waited for it, are done.
	if (dirty_.contains(mk)) {
		unmark(mk);
		run_ready_retires();
	}
	return {};
}

// A marked key keeps what it said about the kernel (`present`) and takes
// the new element.
void EntryStore::mark(const dp_match_key &mk, bool present, const std::optional<dp_match_val> &v,
		      bool may_write)
{
	auto [it, fresh] = dirty_.try_emplace(mk, pend_keys_.size());
	if (fresh) {
		pend_keys_.push_back(mk);
		pend_vals_.emplace_back();
		pend_put_.push_back(0);
		pend_present_.push_back(present);
	}
	const std::size_t i = it->second;
	pend_put_[i] = v.has_value();
	if (v)
		pend_vals_[i] = *v;
	// What a write refused stays marked and is tried again by the flush
	// (which reports it), not by every mark after it.
	if (may_write && pend_keys_.size() >= pend_floor_ + kLookupBatch)
		write_pending();
}

void EntryStore::unmark(const dp_match_key &mk)
{
	auto it = dirty_.find(mk);
	if (it == dirty_.end())
		return;
	const std::size_t i = it->second, last = pend_keys_.size() - 1;
	dirty_.erase(it);
	if (i != last) {
		pend_keys_[i] = pend_keys_[last];
		pend_vals_[i] = pend_vals_[last];
		pend_put_[i] = pend_put_[last];
		pend_present_[i] = pend_present_[last];
		dirty_[pend_keys_[i]] = i;
	}
	pend_keys_.pop_back();
	pend_vals_.pop_back();
	pend_put_.pop_back();
	pend_present_.pop_back();
}

void EntryStore::retire(Retire r)
{
	if (r.key.kind != EntryKind::Decap && dirty_.contains(codec::match_key(r.key))) {
		waiting_.add(r, +1);
		retires_.push_back(std::move(r));
	} else {
		run_retire(r);
	}
}

void EntryStore::Waiting::add(const Retire &r, int d)
{
	auto count = [d](std::size_t &n, bool holds) {
		if (holds)
			n = d > 0 ? n + 1 : n - 1;
	};
	count(idx, r.idx.has_value());
	count(prof, r.prof != 0);
	count(eslot, r.eslot != 0);
}

void EntryStore::run_retire(const Retire &r)
{
	if (r.last_of_key)
		match_bits_.remove(codec::match_key(r.key)); // after its element is gone
	drop_kinds(r.key, r.action); // after: no window without the kind's bit
	count_target(r.action, -1);
	release_profile(r.prof);
	release_erspan(r.eslot);
	if (r.idx)
		free_.push_back(*r.idx);
}

// In order: a slot freed by one retirement is not taken before the next.
void EntryStore::run_ready_retires()
{
	if (retires_.empty())
		return;
	std::vector<Retire> waiting;
	for (auto &r : retires_)
		if (dirty_.contains(codec::match_key(r.key))) {
			waiting.push_back(std::move(r));
		} else {
			waiting_.add(r, -1);
			run_retire(r);
		}
	retires_ = std::move(waiting);
}

// The pending dp_match writes: deletions first (room in a full map), then
// updates, each in one system call; an element the kernel refuses holds
// back no other (below). The generation is raised once, after all of
// them; then what waited for them is retired.
std::error_code EntryStore::write_lookups()
{
	batching_ = false;
	return write_pending();
}

std::error_code EntryStore::write_pending()
{
	pend_floor_ = 0;
	if (pend_keys_.empty())
		return {};
	// The updates to the front of the arrays, in place; the deletions aside.
	std::vector<dp_match_key> del_k;
	std::size_t nput = 0;
	for (std::size_t i = 0; i < pend_keys_.size(); ++i)
		if (pend_put_[i]) {
			if (nput != i) {
				pend_keys_[nput] = pend_keys_[i];
				pend_vals_[nput] = pend_vals_[i];
			}
			++nput;
		} else if (pend_present_[i]) {
			del_k.push_back(pend_keys_[i]);
		}
	std::error_code ec;
	std::vector<std::pair<dp_match_key, std::optional<dp_match_val>>> refused;
	if (!del_k.empty()) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 n = static_cast<__u32>(del_k.size());
		if (bpf_map_delete_batch(fds_.match, del_k.data(), &n, &opts) != 0)
			for (const auto &k : del_k) // ENOENT: already gone
				if (int r = bpf_map_delete_elem(fds_.match, &k); r && r != -ENOENT) {
					ec = errno_code(r);
					refused.emplace_back(k, std::nullopt);
				}
	}
	// The kernel stops at the element it refuses and says how many went
	// before it: that one alone (its own verdict), then on after it. A
	// failure without progress (no batch updates at all) goes one by one.
	LIBBPF_OPTS(bpf_map_batch_opts, uopts, .elem_flags = BPF_ANY);
	for (std::size_t i = 0; i < nput;) {
		const auto want = static_cast<__u32>(nput - i);
		__u32 n = want;
		if (bpf_map_update_batch(fds_.match, &pend_keys_[i], &pend_vals_[i], &n, &uopts) == 0)
			break;
		const std::size_t bad = n < want ? i + n : i;
		const std::size_t end = n < want ? bad + 1 : nput;
		for (std::size_t j = bad; j < end; ++j)
			if (int r = bpf_map_update_elem(fds_.match, &pend_keys_[j], &pend_vals_[j],
							BPF_ANY)) {
				ec = errno_code(r);
				refused.emplace_back(pend_keys_[j], pend_vals_[j]);
			}
		i = end;
	}
	// The arrays keep their capacity for the next batch.
	pend_keys_.clear();
	pend_vals_.clear();
	pend_put_.clear();
	pend_present_.clear();
	dirty_.clear();
	for (const auto &[k, v] : refused)
		mark(k, true, v, false);
	pend_floor_ = pend_keys_.size();
	raise_match_gen();
	run_ready_retires();
	return ec;
}

// After a dp_match element changed (never before: a packet that read the
// new generation must not find the old element): the mirror program's
// per-CPU reuse of the previous packet's matches ends.
void EntryStore::raise_match_gen()
{
	if (fds_.match_gen)
		__atomic_fetch_add(fds_.match_gen, 1, __ATOMIC_RELEASE);
}

std::error_code EntryStore::zero_stats(dp_u32 idx)
{
	if (int r = bpf_map_update_elem(fds_.stats, &idx, zero_stats_.data(), BPF_ANY))
		return errno_code(r);
	return {};
}

std::error_code EntryStore::room_for(const Entry &entry) const
{
	if (entry.action.kind == Action::Kind::Server && !servers_.contains(entry.action.server))
		return std::make_error_code(std::errc::no_such_device_or_address);
	const bool fresh = !recs_.contains(entry.key);
	const bool decap = entry.key.kind == EntryKind::Decap;
	if (fresh && recs_.size() >= max_entries_)
		return std::make_error_code(std::errc::argument_list_too_long);
	// Slots of removed entries a batch's lookups may still name are not
	// free yet (see retire()).
	if (fresh && free_.empty() && next_ >= max_entries_)
		return std::make_error_code(std::errc::argument_list_too_long);
	if (fresh && !decap) {
		auto g = by_match_.find(codec::match_key(entry.key));
		if (g != by_match_.end() && g->second.size() >= DP_MAX_ACTIONS)
			return std::make_error_code(std::errc::no_buffer_space);
	}
	if (!decap && entry.options.has_profile() && prof_slots_.exhausted() &&
	    !profiles_.contains(ProfKey{entry.key.session, entry.options}))
		return std::make_error_code(std::errc::no_buffer_space);
	const Action a = codec::normalized(entry.action);
	if (a.kind == Action::Kind::Erspan && er_slots_.exhausted() &&
	    !erspans_.contains(a.erspan))
		return std::make_error_code(std::errc::no_buffer_space);
	return {};
}

std::error_code EntryStore::make_room(const Entry &entry)
{
	auto ec = room_for(entry);
	if (!ec || !is_capacity_error(ec))
		return ec;
	// Only for a shortage that a waiting retirement ends: entry slots
	// (the entries are fewer than the size), profile or ERSPAN slots.
	const bool fresh = !recs_.contains(entry.key);
	const bool slots = fresh && free_.empty() && next_ >= max_entries_ &&
			   recs_.size() < max_entries_ && waiting_.idx;
	const bool profs = entry.key.kind != EntryKind::Decap && entry.options.has_profile() &&
			   prof_slots_.exhausted() && waiting_.prof;
	const bool ers = codec::normalized(entry.action).kind == Action::Kind::Erspan &&
			 er_slots_.exhausted() && waiting_.eslot;
	if (slots || profs || ers) {
		write_pending(); // the removals waiting in the batch free theirs
		ec = room_for(entry);
	}
	return ec;
}

std::error_code EntryStore::install(const Entry &entry)
{
	if (!codec::valid(entry))
		return std::make_error_code(std::errc::invalid_argument);
	const Entry e{entry.key, codec::normalized(entry.action), entry.options};
	if (auto ec = make_room(e)) // full: see is_capacity_error()
		return ec;
	if (auto it = recs_.find(e.key); it != recs_.end()) {
		Rec old = it->second;
		dp_u32 slot = 0, eslot = 0;
		if (auto ec = acquire_profile(e.key, e.options, slot))
			return ec;
		if (auto ec = acquire_erspan(e.action, eslot)) {
			release_profile(slot);
			return ec;
		}
		if (auto ec = add_kinds(e.key, e.action)) {
			release_profile(slot);
			release_erspan(eslot);
			return ec;
		}
		it->second.action = e.action;
		it->second.options = e.options;
		it->second.prof = slot;
		it->second.eslot = eslot;
		write_meta(e.key, it->second);
		count_target(e.action, +1);
		// The new slots (and kind bits) are in place before the lookup
		// names them, and the old ones are retired only after it no
		// longer does.
		auto ec = write_lookup(e.key);
		retire(Retire{e.key, old.action, old.prof, old.eslot, false, std::nullopt});
		return ec;
	}
	const bool decap = e.key.kind == EntryKind::Decap;
	dp_u32 slot = 0, eslot = 0;
	if (auto ec = acquire_profile(e.key, e.options, slot))
		return ec;
	if (auto ec = acquire_erspan(e.action, eslot)) {
		release_profile(slot);
		return ec;
	}
	dp_u32 idx;
	bool counted_before = true; // the slot's counters may be non-zero
	if (!free_.empty()) {
		idx = free_.back();
		free_.pop_back();
	} else {
		idx = next_++;
		counted_before = !fds_.fresh_maps;
	}
	Rec rec{e.action, idx, e.options, slot, eslot};
	std::error_code ec = add_kinds(e.key, e.action);
	const bool kinds = !ec;
	if (!ec && counted_before)
		ec = zero_stats(idx);
	if (ec) {
		if (kinds)
			drop_kinds(e.key, e.action);
		free_.push_back(idx);
		release_profile(slot);
		release_erspan(eslot);
		return ec;
	}
	meta_gone_.erase(idx); // a reused slot: its new description replaces the old
	write_meta(e.key, rec);
	recs_[e.key] = rec;
	count_target(rec.action, +1);
	bool first_of_key = false;
	if (!decap) {
		const dp_match_key mk = codec::match_key(e.key);
		auto &group = by_match_[mk];
		first_of_key = group.empty();
		if (first_of_key)
			match_bits_.add(mk); // before the element exists
		group.insert(e.key);
	}
	if (auto wec = write_lookup(e.key, first_of_key)) {
		remove(e.key);
		return wec;
	}
	return {};
}

std::error_code EntryStore::remove(const EntryKey &key)
{
	auto it = recs_.find(key);
	if (it == recs_.end())
		return {};
	const dp_u32 idx = it->second.idx;
	const Action action = it->second.action;
	const dp_u32 prof = it->second.prof;
	const dp_u32 eslot = it->second.eslot;
	recs_.erase(it);
	bool last_of_key = false;
	if (key.kind != EntryKind::Decap) {
		const dp_match_key mk = codec::match_key(key);
		auto g = by_match_.find(mk);
		if (g != by_match_.end()) {
			g->second.erase(key);
			if (g->second.empty()) {
				by_match_.erase(g);
				last_of_key = true;
			}
		}
	}
	auto ec = write_lookup(key); // lookup first: BPF never sees a dangling idx
	drop_meta(idx);
	if (batching_)
		meta_gone_.insert(idx); // deleted at the flush, unless the slot is reused first
	else
		bpf_map_delete_elem(fds_.meta, &idx);
	retire(Retire{key, action, prof, eslot, last_of_key, idx});
	return ec;
}

std::optional<EntryKey> EntryStore::visit_entries(const std::optional<EntryKey> &from,
						 std::size_t limit,
						 const Dataplane::EntryVisitor &visit) const
{
	return visit_range(recs_, from, limit, visit);
}

std::vector<Entry> EntryStore::list() const
{
	std::vector<Entry> out;
	out.reserve(recs_.size());
	visit_entries(std::nullopt, SIZE_MAX,
		      [&out](const EntryKey &k, const Action &a, const session::Options &o) {
			      out.push_back(Entry{k, a, o});
		      });
	return out;
}

Counters EntryStore::read_stats(int fd, dp_u32 idx) const
{
	std::vector<dp_stats> v(static_cast<std::size_t>(ncpus_));
	Counters c;
	if (bpf_map_lookup_elem(fd, &idx, v.data()) != 0)
		return c;
	for (const auto &s : v) {
		c.packets += s.packets;
		c.bytes += s.bytes;
		c.drops += s.drops;
		c.filtered += s.filtered;
		c.sampled_out += s.sampled_out;
		c.policed += s.policed;
	}
	return c;
}

std::optional<Counters> EntryStore::counters(const EntryKey &key) const
{
	auto it = recs_.find(key);
	if (it == recs_.end())
		return std::nullopt;
	return read_stats(fds_.stats, it->second.idx);
}

Counters EntryStore::global_counters() const
{
	Counters c = read_stats(fds_.gstats, DP_GSTAT_DECAP_UNKNOWN);
	c.drops += read_stats(fds_.gstats, DP_GSTAT_DECAP_NOMETA).drops +
		   read_stats(fds_.gstats, DP_GSTAT_COPY_OVERFLOW).drops +
		   read_stats(fds_.gstats, DP_GSTAT_ERSPAN_FOREIGN).drops;
	return c;
}

Counters EntryStore::dropped_originals() const
{
	return read_stats(fds_.gstats, DP_GSTAT_EGRESS_DUP);
}

bool EntryStore::targets_port(std::uint32_t ifindex) const
{
	return targets_.contains(ifindex);
}

std::uint32_t EntryStore::port_of_key(const EntryKey &key) const
{
	auto it = recs_.find(key);
	return it == recs_.end() ? 0 : port_of(it->second.action);
}

dp_u32 EntryStore::server_port(const ServerKey &key) const
{
	auto s = servers_.find(key);
	return s == servers_.end() ? 0 : port_of(s->second.target);
}

bool EntryStore::server_named(const ServerKey &key) const
{
	auto s = servers_.find(key);
	return s != servers_.end() && s->second.users > 0;
}

std::vector<std::pair<ServerKey, Action>> EntryStore::servers() const
{
	std::vector<std::pair<ServerKey, Action>> out;
	out.reserve(servers_.size());
	for (const auto &[k, r] : servers_)
		out.emplace_back(k, r.target);
	return out;
}

std::error_code EntryStore::write_server(dp_u32 slot, const ServerKey &key,
					 const Action &target)
{
	dp_server_val v{};
	v.target = codec::action(target);
	v.vni = key.vni;
	std::copy(key.mac.begin(), key.mac.end(), v.mac);
	v.host_id = key.host_id;
	if (int r = bpf_map_update_elem(fds_.server, &slot, &v, BPF_ANY))
		return errno_code(r);
	return {};
}

void EntryStore::reap_servers(bool all)
{
	srv_slots_.reap(all, [this](dp_u32 slot) {
		// A slot whose element stays is retried at the next reap.
		const int e = bpf_map_delete_elem(fds_.server, &slot);
		return !e || e == -ENOENT;
	});
}

std::error_code EntryStore::shift_port_kinds(dp_u32 port,
					     const std::array<std::size_t, 9> &kinds, int sign)
{
	if (!port)
		return {};
	auto &r = port_kinds_[port];
	const KindRefs before = r;
	for (std::size_t b = 0; b < kinds.size(); ++b)
		r.n[b] = sign > 0 ? r.n[b] + kinds[b] : r.n[b] - std::min(r.n[b], kinds[b]);
	const dp_u32 w = r.word();
	if (w != before.word())
		if (int e = write_port_kinds(port, w); e && sign > 0) {
			if (before.word())
				r = before;
			else
				port_kinds_.erase(port);
			return errno_code(e);
		}
	if (!w)
		port_kinds_.erase(port);
	return {};
}

std::error_code EntryStore::set_server(const ServerKey &key, const Action &target)
{
	if (fds_.server < 0)
		return std::make_error_code(std::errc::operation_not_supported);
	if (!codec::valid_server(key, target))
		return std::make_error_code(std::errc::invalid_argument);
	const Action t = codec::normalized(target);
	reap_servers();
	auto it = servers_.find(key);
	if (it == servers_.end()) {
		const auto taken = srv_slots_.take();
		if (!taken)
			return std::make_error_code(std::errc::argument_list_too_long);
		const dp_u32 slot = *taken;
		if (auto ec = write_server(slot, key, t)) {
			srv_slots_.put_back(slot);
			return ec; // E2BIG: the map is full
		}
		servers_.emplace(key, ServerRec{slot, t});
		srv_owner_[slot] = key;
		return {};
	}
	ServerRec &r = it->second;
	if (r.target == t)
		return {};
	// A move: the new port's kinds first, then the slot (every entry
	// naming the server follows at once), then the old port's are gone.
	const dp_u32 from = port_of(r.target), to = port_of(t);
	if (from != to)
		if (auto ec = shift_port_kinds(to, r.kinds, +1))
			return ec;
	if (auto ec = write_server(r.slot, key, t)) {
		if (from != to)
			shift_port_kinds(to, r.kinds, -1);
		return ec;
	}
	raise_match_gen(); // the flow cache holds resolved targets
	if (from != to) {
		shift_port_kinds(from, r.kinds, -1);
		if (r.users && from) {
			auto n = targets_.find(from);
			if (n != targets_.end() && (n->second -= std::min(n->second, r.users)) == 0)
				targets_.erase(n);
		}
		if (r.users && to)
			targets_[to] += r.users;
	}
	r.target = t;
	return {};
}

std::error_code EntryStore::remove_server(const ServerKey &key)
{
	auto it = servers_.find(key);
	if (it == servers_.end())
		return {};
	if (it->second.users)
		return std::make_error_code(std::errc::device_or_resource_busy);
	// The element stays for the grace time with its target (a packet may
	// have read an element naming it) but without its key, so that a
	// restart meanwhile does not adopt it as the server.
	dp_server_val v{};
	v.target = codec::action(it->second.target);
	if (int r = bpf_map_update_elem(fds_.server, &it->second.slot, &v, BPF_EXIST))
		return errno_code(r); // nothing changed; the caller retries
	srv_slots_.retire(it->second.slot);
	srv_owner_.erase(it->second.slot);
	servers_.erase(it);
	return {};
}

// The slots a previous run left: each a server with its target, until the
// entries naming it are adopted (or the consumer removes it).
void EntryStore::adopt_servers()
{
	if (fds_.server < 0)
		return;
	std::vector<dp_u32> slots;
	dp_u32 key, next;
	dp_u32 *prev = nullptr;
	while (bpf_map_get_next_key(fds_.server, prev, &next) == 0) {
		slots.push_back(next);
		key = next;
		prev = &key;
	}
	for (dp_u32 slot : slots) {
		if (slot == 0 || slot >= max_entries_) { // never a slot of this size
			bpf_map_delete_elem(fds_.server, &slot);
			continue;
		}
		srv_slots_.adopt_up_to(slot);
		dp_server_val v{};
		if (bpf_map_lookup_elem(fds_.server, &slot, &v) != 0)
			continue;
		ServerKey k;
		k.vni = v.vni;
		std::copy(std::begin(v.mac), std::end(v.mac), k.mac.begin());
		k.host_id = v.host_id;
		const Action t = codec::normalized(codec::action(v.target));
		// A removed server's slot (no key) or a second slot of one key:
		// not a server; retired below like a free slot. A second slot
		// loses its key now, so that a restart within the grace cannot
		// adopt it instead of the first.
		if (!codec::valid_server(k, t))
			continue;
		if (servers_.contains(k)) {
			dp_server_val keyless{};
			keyless.target = v.target;
			bpf_map_update_elem(fds_.server, &slot, &keyless, BPF_EXIST);
			continue;
		}
		servers_.emplace(k, ServerRec{slot, t});
		srv_owner_[slot] = k;
	}
	// Every other slot below the highest waits for the grace time (a
	// packet may still read its element), then its element goes.
	srv_slots_.retire_unowned([&](dp_u32 i) { return srv_owner_.contains(i); });
}

dp_u32 EntryStore::KindRefs::word() const
{
	dp_u32 w = 0;
	for (std::size_t b = 0; b < n.size(); ++b)
		if (n[b])
			w |= 1u << b;
	return w;
}

dp_u32 EntryStore::entry_kind_bit(const EntryKey &key)
{
	if (key.kind == EntryKind::Decap)
		return 0;
	const dp_match_key mk = codec::match_key(key);
	return dp_kind_flag(mk.kind, mk.mtype);
}

dp_u32 EntryStore::port_of(const Action &a) const
{
	if (a.kind == Action::Kind::Server) {
		auto s = servers_.find(a.server);
		return s == servers_.end() ? 0 : port_of(s->second.target);
	}
	return a.kind == Action::Kind::LocalPort ? a.ifindex : 0;
}

// word 0: the element is deleted (the programs treat absent as "none").
int EntryStore::write_kinds(int fd, dp_u32 key, dp_u32 word)
{
	if (!word) {
		bpf_map_delete_elem(fd, &key);
		return 0;
	}
	return bpf_map_update_elem(fd, &key, &word, BPF_ANY);
}

// dp_vni_kinds's element of `vni`, then its word in dp_vni_word (VniWords
// places it); on failure neither changed.
int EntryStore::write_vni_kinds(dp_u32 vni, dp_u32 word)
{
	if (int e = write_kinds(fds_.vni_kinds, vni, word))
		return e;
	vni_words_.set(vni, word);
	return 0;
}

// dp_srv_port's element of `port` and, below DP_PORT_WORDS, its word in
// dp_srv_word (which the egress program reads instead), written after the
// element; on failure neither changed.
int EntryStore::write_port_kinds(dp_u32 port, dp_u32 word)
{
	if (int e = write_kinds(fds_.srv_port, port, word))
		return e;
	if (port < fds_.srv_words.size())
		fds_.srv_words[port] = word;
	return 0;
}

// A kind's bit is set by the first entry of that kind and stays while one
// is installed. Each map element is one word, replaced atomically for
// readers. On failure (dp_vni_kinds or dp_srv_port full) nothing changed.
std::error_code EntryStore::add_kinds(const EntryKey &key, const Action &a)
{
	const dp_u32 bit = entry_kind_bit(key);
	const dp_u32 port = port_of(a);
	const dp_u32 pbit = key.kind == EntryKind::Decap ? DP_KIND_F_DECAP_PORT : bit;
	auto index = [](dp_u32 b) { return static_cast<std::size_t>(__builtin_ctz(b)); };
	if (bit) {
		auto &r = vni_kinds_[key.vni];
		const dp_u32 before = r.word();
		r.n[index(bit)]++;
		if (r.word() != before) {
			if (int e = write_vni_kinds(key.vni, r.word())) {
				if (--r.n[index(bit)] == 0 && !before)
					vni_kinds_.erase(key.vni);
				return errno_code(e); // E2BIG when full
			}
		}
	}
	if (port && pbit) {
		auto &r = port_kinds_[port];
		const dp_u32 before = r.word();
		r.n[index(pbit)]++;
		if (r.word() != before)
			if (int e = write_port_kinds(port, r.word())) {
				if (--r.n[index(pbit)] == 0 && !before)
					port_kinds_.erase(port);
				if (bit)
					drop_kinds(key, Action{});
				return errno_code(e);
			}
	}
	if (a.kind == Action::Kind::Server && pbit)
		if (auto s = servers_.find(a.server); s != servers_.end())
			s->second.kinds[index(pbit)]++; // moves with the server
	return {};
}

void EntryStore::drop_kinds(const EntryKey &key, const Action &a)
{
	const dp_u32 bit = entry_kind_bit(key);
	const dp_u32 port = port_of(a);
	const dp_u32 pbit = key.kind == EntryKind::Decap ? DP_KIND_F_DECAP_PORT : bit;
	auto drop = [](auto &refs, dp_u32 k, dp_u32 b, auto write) {
		auto it = refs.find(k);
		if (it == refs.end())
			return;
		auto &c = it->second.n[static_cast<std::size_t>(__builtin_ctz(b))];
		if (c == 0 || --c > 0)
			return;
		const dp_u32 w = it->second.word();
		write(k, w);
		if (!w)
			refs.erase(it);
	};
	if (bit)
		drop(vni_kinds_, key.vni, bit, [this](dp_u32 k, dp_u32 w) { write_vni_kinds(k, w); });
	if (port && pbit)
		drop(port_kinds_, port, pbit,
		     [this](dp_u32 k, dp_u32 w) { write_port_kinds(k, w); });
	if (a.kind == Action::Kind::Server && pbit)
		if (auto s = servers_.find(a.server); s != servers_.end()) {
			auto &c = s->second.kinds[static_cast<std::size_t>(__builtin_ctz(pbit))];
			c -= c > 0;
		}
}

// After a restart: the words of the adopted entries, written before their
// lookup elements are; elements no adopted entry needs are deleted.
void EntryStore::rebuild_kinds()
{
	vni_kinds_.clear();
	port_kinds_.clear();
	for (auto &[_, s] : servers_)
		s.kinds = {};
	for (const auto &[k, r] : recs_) {
		const dp_u32 bit = entry_kind_bit(k);
		const dp_u32 pbit = k.kind == EntryKind::Decap ? DP_KIND_F_DECAP_PORT : bit;
		const auto b = static_cast<std::size_t>(__builtin_ctz(pbit | 1u << 31));
		if (bit)
			vni_kinds_[k.vni].n[static_cast<std::size_t>(__builtin_ctz(bit))]++;
		if (port_of(r.action) && pbit)
			port_kinds_[port_of(r.action)].n[b]++;
		if (r.action.kind == Action::Kind::Server && pbit)
			servers_.at(r.action.server).kinds[b]++;
	}
	for (auto [fd, refs] : {std::pair{fds_.vni_kinds, &vni_kinds_},
				std::pair{fds_.srv_port, &port_kinds_}}) {
		for (const auto &[k, r] : *refs)
			write_kinds(fd, k, r.word());
		std::vector<dp_u32> stale;
		dp_u32 key, next;
		dp_u32 *prev = nullptr;
		while (bpf_map_get_next_key(fd, prev, &next) == 0) {
			if (!refs->contains(next))
				stale.push_back(next);
			key = next;
			prev = &key;
		}
		for (auto k : stale)
			bpf_map_delete_elem(fd, &k);
	}
	std::map<dp_u32, dp_u32> words;
	for (const auto &[vni, r] : vni_kinds_)
		words.emplace(vni, r.word());
	vni_words_.rewrite(words);
	// dp_srv_word: the words of the ports above, none for any other.
	for (dp_u32 i = 0; i < fds_.srv_words.size(); ++i) {
		auto r = port_kinds_.find(i);
		const dp_u32 w = r == port_kinds_.end() ? 0 : r->second.word();
		if (fds_.srv_words[i] != w)
			fds_.srv_words[i] = w;
	}
}

} // namespace evpnmon::dp::linux_dp
