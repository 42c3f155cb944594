// RoCEv2 congestion and error counters per (source IP, destination IP,
// destination QP), from the BTH opcode (CNP 0x81) and, in RC ACKs (0x11),
// the AETH syndrome: bits 6:5 = 01 RNR NAK (0x20-0x3f), 11 NAK (0x60
// PSN sequence error, 0x61 invalid request, 0x62 remote access error,
// 0x63 remote operational error, others 0x64-0x7f).
#include "records/roce_tracker.hpp"

#include "records/flow_common.hpp"
#include "records/lru_table.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace evpnmon::collector::records {

namespace {

constexpr std::uint8_t kOpCnp = 0x81;
constexpr std::uint8_t kOpRcAck = 0x11;

struct QpKey {
	std::uint32_t session = 0;
	std::uint32_t vni = 0;
	IpAddr src, dst;
	std::uint32_t qp = 0;
	bool operator==(const QpKey &o) const
	{
		return session == o.session && vni == o.vni && qp == o.qp && ip_equal(src, o.src) && ip_equal(dst, o.dst);
	}
};

struct QpKeyHash {
	std::size_t operator()(const QpKey &k) const
	{
		std::size_t h = 0xcbf29ce484222325ULL ^ (std::size_t(k.session) << 32) ^ k.vni;
		h = hash_ip(k.src, h);
		h = hash_ip(k.dst, h);
		h = (h ^ k.qp) * 0x100000001b3ULL;
		return h ^ (h >> 29);
	}
};

struct Counters {
	std::uint64_t cnp = 0, psn_seq = 0, invalid_req = 0, remote_access = 0, remote_op = 0, rnr = 0, other = 0;
};

struct Entry {
	std::string source;
	Counters c;
	std::uint32_t last_nak_psn = 0;
	std::uint8_t last_nak_syndrome = 0;
	std::uint64_t first_ns = 0, last_ns = 0;
	bool changed = false;
	bool reported = false;
	std::uint64_t last_report_ns = 0;
	std::uint64_t cnp_at_report = 0;
};

} // namespace

struct RoceTracker::Impl {
	Limits limits;
	Sink sink;
	SessionTable sessions;
	LruTable<QpKey, Entry, QpKeyHash> table;
	std::uint64_t evictions = 0;
	std::uint64_t records = 0;
	RecordArena arena; // where emit() builds records

	Impl(Limits l, Sink s) : limits(l), sink(std::move(s)), table(l.max_entries) {}

	void emit(const QpKey &k, Entry &e, std::uint64_t now, bool final)
	{
		v1::Envelope &env = arena.envelope();
		auto *r = env.mutable_roce();
		fill_session(*r->mutable_session(), sessions.get(k.session), e.source);
		format_ip(k.src, *r->mutable_src_ip());
		format_ip(k.dst, *r->mutable_dst_ip());
		r->set_dest_qp(k.qp);
		r->set_vni(k.vni);
		r->set_cnp(e.c.cnp);
		// Over the time since the previous report (or since the entry was
		// made), never shorter than the report interval: a burst right
		// before a tick does not read as a huge rate.
		const std::uint64_t since = e.reported ? e.last_report_ns : e.first_ns;
		const std::uint64_t span = std::max<std::uint64_t>(limits.report_interval_ns ? limits.report_interval_ns : 1,
								   now > since ? now - since : 0);
		r->set_cnp_rate(static_cast<double>(e.c.cnp - e.cnp_at_report) * 1e9 / static_cast<double>(span));
		r->set_nak_psn_sequence_error(e.c.psn_seq);
		r->set_nak_invalid_request(e.c.invalid_req);
		r->set_nak_remote_access_error(e.c.remote_access);
		r->set_nak_remote_operational_error(e.c.remote_op);
		r->set_rnr_nak(e.c.rnr);
		r->set_nak_other(e.c.other);
		r->set_last_nak_psn(e.last_nak_psn);
		r->set_last_nak_syndrome(e.last_nak_syndrome);
		r->set_first_seen_ns(e.first_ns);
		r->set_last_seen_ns(e.last_ns);
		r->set_final(final);
		e.changed = false;
		e.reported = true;
		e.last_report_ns = now;
		e.cnp_at_report = e.c.cnp;
		++records;
		if (sink)
			sink(std::move(env));
		arena.reset();
	}

	void on_frame(const Context &ctx, const Frame &fr)
	{
		if (!fr.has_bth || !fr.has_ip)
			return;
		const Bth &b = fr.bth;
		bool cnp = false;
		std::uint8_t syn = 0;
		if (b.opcode == kOpCnp) {
			cnp = true;
		} else if (b.opcode == kOpRcAck && b.has_aeth) {
			syn = b.syndrome;
			const std::uint8_t type = syn & 0xe0;
			if (type != 0x20 && type != 0x60)
				return; // ACK, reserved
		} else {
			return;
		}

		QpKey key;
		key.session = sessions.intern(ctx.session);
		key.vni = ctx.vni;
		key.src = fr.src_ip;
		key.dst = fr.dst_ip;
		key.qp = b.dest_qp;
		Entry *e = table.find(key);
		if (!e) {
			Entry fresh;
			fresh.first_ns = ctx.ts_ns;
			e = &table.insert(key, std::move(fresh), [this](const QpKey &k, Entry &victim) {
				++evictions;
				emit(k, victim, victim.last_ns, true);
			});
		}
		if (ctx.session && e->source != ctx.session->source())
			e->source = ctx.session->source();
		e->last_ns = std::max(e->last_ns, ctx.ts_ns);
		e->changed = true;
		if (cnp) {
			++e->c.cnp;
			return;
		}
		switch (syn) {
		case 0x60: ++e->c.psn_seq; break;
		case 0x61: ++e->c.invalid_req; break;
		case 0x62: ++e->c.remote_access; break;
		case 0x63: ++e->c.remote_op; break;
		default:
			if ((syn & 0xe0) == 0x20)
				++e->c.rnr;
			else
				++e->c.other;
		}
		e->last_nak_psn = b.psn;
		e->last_nak_syndrome = syn;
	}

	void tick(std::uint64_t now)
	{
		for (auto it = table.begin(); it != table.end();) {
			Entry &e = it->second;
			if (now >= e.last_ns + limits.idle_ns) {
				emit(it->first, e, now, true);
				it = table.erase(it);
				continue;
			}
			if (e.changed && (!e.reported || now >= e.last_report_ns + limits.report_interval_ns))
				emit(it->first, e, now, false);
			++it;
		}
	}

	void close_all(std::uint64_t now)
	{
		for (auto &[k, e] : table)
			emit(k, e, now, true);
		table.clear();
	}
};

RoceTracker::RoceTracker(Limits limits, Sink sink) : impl_(std::make_unique<Impl>(limits, std::move(sink))) {}
RoceTracker::~RoceTracker() = default;

void RoceTracker::on_frame(const Context &ctx, const Frame &frame) { impl_->on_frame(ctx, frame); }
void RoceTracker::tick(std::uint64_t now_ns) { impl_->tick(now_ns); }
void RoceTracker::close_all(std::uint64_t now_ns) { impl_->close_all(now_ns); }
std::size_t RoceTracker::size() const { return impl_->table.size(); }
std::uint64_t RoceTracker::evictions() const { return impl_->evictions; }
std::uint64_t RoceTracker::records() const { return impl_->records; }

} // namespace evpnmon::collector::records
