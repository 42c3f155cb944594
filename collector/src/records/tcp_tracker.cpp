// TCP connection records. The handshake latency follows Wireshark's
// tcp.analysis.initial_rtt: from the most recent SYN (a retransmitted SYN
// restarts the clock) to the first ACK without SYN that completes the
// handshake. Connection state and history follow Zeek's conn.log so that
// the records read like it.
#include "records/tcp_tracker.hpp"

#include "records/flow_common.hpp"
#include "records/lru_table.hpp"

#include <algorithm>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <utility>

namespace evpnmon::collector::records {

namespace {

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;

// After both FINs, the last ACK normally follows within an RTT; a flow
// whose last ACK never shows up is closed this long after the second FIN.
constexpr std::uint64_t kCloseDelayNs = 2'000'000'000;
// Zeek's history has no bound; a record's does (hostile traffic could
// otherwise grow it with SYNs or FINs of changing sequence numbers).
constexpr std::size_t kMaxHistory = 64;
// A closed connection's key stays this long so that stragglers (a last
// ACK, a second RST) do not open a phantom midstream connection.
constexpr std::uint64_t kLingerNs = 5'000'000'000;

struct FlowKey {
	std::uint32_t session = 0;
	std::uint32_t vni = 0;
	IpAddr a, b; // a/pa is the lower endpoint
	std::uint16_t pa = 0, pb = 0;
	bool operator==(const FlowKey &o) const
	{
		return session == o.session && vni == o.vni && pa == o.pa && pb == o.pb && ip_equal(a, o.a) &&
		       ip_equal(b, o.b);
	}
};

struct FlowKeyHash {
	std::size_t operator()(const FlowKey &k) const
	{
		std::size_t h = 0xcbf29ce484222325ULL ^ (std::size_t(k.session) << 32) ^ k.vni;
		h = hash_ip(k.a, h);
		h = hash_ip(k.b, h);
		h = (h ^ ((std::size_t(k.pa) << 16) | k.pb)) * 0x100000001b3ULL;
		return h ^ (h >> 29);
	}
};

// Zeek's TCP endpoint states (TCP_INACTIVE ... TCP_RESET).
enum class EpState : std::uint8_t { Inactive, SynSent, SynAckSent, Partial, Established, Closed, Reset };

// Zeek's history letter groups (one bit each per endpoint).
enum HistBit : std::uint16_t {
	HSyn = 1 << 0, HFin = 1 << 1, HRst = 1 << 2, HAck = 1 << 3, HData = 1 << 4,
	HMulti = 1 << 5, HFinRst = 1 << 6,
};

struct Endpoint {
	IpAddr ip;
	std::uint16_t port = 0;
	EpState state = EpState::Inactive;
	std::uint64_t pkts = 0, ip_bytes = 0;
	// Payload octets from sequence numbers, as Zeek counts them:
	// retransmissions are not counted twice.
	bool have_base = false;
	std::uint32_t base = 0;
	std::uint64_t max_end = 0;
	bool syn_seen = false;
	std::uint32_t isn = 0;
	bool fin_seen = false;
	std::uint32_t fin_seq = 0; // sequence number the FIN occupies
	std::uint16_t hist = 0;
	std::uint32_t last_syn = 0, last_fin = 0, last_rst = 0;
	std::uint64_t retrans = 0, zero_win = 0;
	std::uint64_t retrans_next = 1, zero_win_next = 1; // logarithmic letters
	// as sent in this side's SYN (or SYN/ACK)
	bool options_seen = false;
	bool sack_permitted = false, timestamps = false;
	std::int8_t window_scale = -1;
	std::uint16_t mss = 0;
};

enum class Phase : std::uint8_t { Open, ClosePending, Tombstone };

struct Flow {
	std::uint32_t session = 0;
	std::uint32_t vni = 0;
	std::string source;
	std::string uid;
	Endpoint orig, resp;
	std::uint64_t first_ns = 0, last_ns = 0;
	std::string history;

	// Handshake
	std::uint32_t syns = 0, synacks = 0;
	std::uint64_t first_syn_ns = 0, last_syn_ns = 0;
	std::uint64_t synack_after_syn_ns = 0; // first SYN/ACK after the last SYN
	std::uint64_t last_synack_ns = 0;
	std::uint64_t syn_to_synack = 0, synack_to_ack = 0, handshake = 0;
	v1::TcpRecord::Outcome outcome = v1::TcpRecord::OUTCOME_UNSPECIFIED;
	bool handshake_reported = false;

	Phase phase = Phase::Open;
	std::uint64_t phase_since = 0;
};

bool seq_after(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) > 0; }

// Extends a 32-bit offset from the base of the sequence space to 64 bits
// near `ref` (the highest offset so far): long connections wrap the
// sequence space; segments from before the base count from 0.
std::uint64_t extend(std::uint64_t ref, std::uint32_t rel)
{
	const auto delta = static_cast<std::int32_t>(rel - static_cast<std::uint32_t>(ref));
	if (delta < 0 && static_cast<std::uint64_t>(-static_cast<std::int64_t>(delta)) > ref)
		return 0;
	return static_cast<std::uint64_t>(static_cast<std::int64_t>(ref) + delta);
}

std::string base62(std::uint64_t v)
{
	static constexpr char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	std::string s;
	do {
		s.push_back(digits[v % 62]);
		v /= 62;
	} while (v);
	return s;
}

std::uint64_t splitmix(std::uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

} // namespace

struct TcpTracker::Impl {
	Limits limits;
	Sink sink;
	SessionTable sessions;
	LruTable<FlowKey, Flow, FlowKeyHash> table;
	std::uint64_t evictions = 0;
	std::uint64_t records = 0;
	std::uint64_t uid_seed;
	std::uint64_t uid_counter = 0;
	RecordArena arena; // where emit() builds records

	Impl(Limits l, Sink s)
		: limits(l), sink(std::move(s)), table(l.max_flows),
		  uid_seed((std::uint64_t(std::random_device{}()) << 32) ^ std::random_device{}())
	{
	}

	std::string new_uid()
	{
		// A bijection of a counter: unique within the run, unpredictable
		// across runs, short like Zeek's.
		return "C" + base62(splitmix(uid_seed + uid_counter++));
	}

	static void add_history(Flow &f, bool is_orig, char letter)
	{
		if (f.history.size() < kMaxHistory)
			f.history.push_back(is_orig ? letter : static_cast<char>(letter - 'A' + 'a'));
	}
	// Once per direction for the letter group.
	static void once(Flow &f, Endpoint &e, bool is_orig, HistBit bit, char letter)
	{
		if (!(e.hist & bit)) {
			e.hist |= bit;
			add_history(f, is_orig, letter);
		}
	}
	// Zeek repeats s/h/f/r when the sequence number differs from the last
	// packet of the same kind.
	static void repeatable(Flow &f, Endpoint &e, bool is_orig, HistBit bit, char letter,
			       std::uint32_t &last, std::uint32_t seq)
	{
		if (!(e.hist & bit) || last != seq)
			add_history(f, is_orig, letter);
		e.hist |= bit;
		last = seq;
	}
	// c/g/t/w: logged at the 1st, 10th, 100th ... occurrence.
	static void logarithmic(Flow &f, bool is_orig, char letter, std::uint64_t &count, std::uint64_t &next)
	{
		if (++count == next) {
			add_history(f, is_orig, letter);
			next *= 10;
		}
	}

	static const char *conn_state(const Flow &f)
	{
		const EpState os = f.orig.state, rs = f.resp.state;
		const bool o_inactive = os == EpState::Inactive || os == EpState::Partial;
		const bool r_inactive = rs == EpState::Inactive || rs == EpState::Partial;
		if (rs == EpState::Reset) {
			if (os == EpState::SynSent || os == EpState::SynAckSent ||
			    (os == EpState::Reset && f.orig.max_end == 0 && f.resp.max_end == 0))
				return "REJ";
			return o_inactive ? "RSTRH" : "RSTR";
		}
		if (os == EpState::Reset) {
			if (r_inactive) {
				// Zeek: history ~ /^\^?S[^HAFGIQ]*R.*/
				std::size_t i = 0;
				if (i < f.history.size() && f.history[i] == '^')
					++i;
				if (i < f.history.size() && f.history[i] == 'S') {
					for (++i; i < f.history.size(); ++i) {
						const char c = f.history[i];
						if (c == 'R')
							return "RSTOS0";
						if (std::string_view("HAFGIQ").find(c) != std::string_view::npos)
							break;
					}
				}
				return "OTH";
			}
			return "RSTO";
		}
		if (rs == EpState::Closed && os == EpState::Closed)
			return "SF";
		if (os == EpState::Closed)
			return r_inactive ? "SH" : "S2";
		if (rs == EpState::Closed)
			return o_inactive ? "SHR" : "S3";
		if (os == EpState::SynSent && rs == EpState::Inactive)
			return "S0";
		if (os == EpState::Established && rs == EpState::Established)
			return "S1";
		return "OTH";
	}

	void emit(const Flow &f, v1::TcpRecord::Event event, v1::TcpRecord::CloseReason reason)
	{
		v1::Envelope &env = arena.envelope();
		auto *r = env.mutable_tcp();
		fill_session(*r->mutable_session(), sessions.get(f.session), f.source);
		r->set_event(event);
		r->set_uid(f.uid);
		r->set_ts_ns(f.first_ns);
		format_ip(f.orig.ip, *r->mutable_id_orig_h());
		r->set_id_orig_p(f.orig.port);
		format_ip(f.resp.ip, *r->mutable_id_resp_h());
		r->set_id_resp_p(f.resp.port);
		r->set_vni(f.vni);
		r->set_syn_to_synack_ns(f.syn_to_synack);
		r->set_synack_to_ack_ns(f.synack_to_ack);
		r->set_handshake_ns(f.handshake);
		r->set_syn_retransmissions(f.syns ? f.syns - 1 : 0);
		r->set_synack_retransmissions(f.synacks ? f.synacks - 1 : 0);
		r->set_outcome(f.outcome);
		auto opts = [](const Endpoint &e, v1::TcpOptions *o) {
			o->set_mss(e.mss);
			o->set_window_scale(e.window_scale);
			o->set_sack_permitted(e.sack_permitted);
			o->set_timestamps(e.timestamps);
		};
		opts(f.orig, r->mutable_orig_options());
		opts(f.resp, r->mutable_resp_options());
		r->set_last_seen_ns(f.last_ns);
		r->set_duration_ns(f.last_ns - f.first_ns);
		r->set_orig_pkts(f.orig.pkts);
		r->set_orig_bytes(f.orig.max_end);
		r->set_orig_ip_bytes(f.orig.ip_bytes);
		r->set_resp_pkts(f.resp.pkts);
		r->set_resp_bytes(f.resp.max_end);
		r->set_resp_ip_bytes(f.resp.ip_bytes);
		r->set_conn_state(conn_state(f));
		r->set_history(f.history);
		r->set_close_reason(reason);
		++records;
		if (sink)
			sink(std::move(env));
		arena.reset();
	}

	void decide(Flow &f, v1::TcpRecord::Outcome outcome)
	{
		if (f.handshake_reported)
			return;
		f.outcome = outcome;
		f.handshake_reported = true;
		emit(f, v1::TcpRecord::HANDSHAKE, v1::TcpRecord::CLOSE_UNSPECIFIED);
	}

	// The CLOSE record; the key stays as a tombstone for stragglers.
	void close(Flow &f, v1::TcpRecord::CloseReason reason, std::uint64_t now)
	{
		if (f.phase == Phase::Tombstone)
			return;
		emit(f, v1::TcpRecord::CLOSE, reason);
		f.phase = Phase::Tombstone;
		f.phase_since = now;
	}

	Flow make_flow(const Context &ctx, std::uint32_t session, const Frame &fr)
	{
		Flow f;
		f.session = session;
		f.vni = ctx.vni;
		if (ctx.session)
			f.source = ctx.session->source();
		f.uid = new_uid();
		f.first_ns = f.last_ns = ctx.ts_ns;
		const std::uint8_t fl = fr.tcp.flags;
		// The originator sends the SYN; a flow first seen at its SYN/ACK
		// was opened by the receiver of that SYN/ACK (Zeek marks such a
		// flip with '^'). Midstream: the sender of the first packet,
		// unless only the destination port looks like a service.
		bool sender_is_orig = true;
		if ((fl & (kSyn | kAck)) == (kSyn | kAck))
			sender_is_orig = false;
		else if (!(fl & kSyn) && fr.sport < 1024 && fr.dport >= 1024)
			sender_is_orig = false;
		Endpoint &s = sender_is_orig ? f.orig : f.resp;
		Endpoint &d = sender_is_orig ? f.resp : f.orig;
		s.ip = fr.src_ip;
		s.port = fr.sport;
		d.ip = fr.dst_ip;
		d.port = fr.dport;
		if (!sender_is_orig)
			f.history.push_back('^');
		// Without the originator's SYN there is no handshake to time: such
		// a connection gets its CLOSE record only.
		if ((fl & (kSyn | kAck | kRst)) != kSyn) {
			f.outcome = v1::TcpRecord::UNSEEN;
			f.handshake_reported = true;
		}
		return f;
	}

	static void take_options(Endpoint &e, const TcpSegment &t)
	{
		e.mss = t.mss;
		e.window_scale = t.window_scale;
		e.sack_permitted = t.sack_permitted;
		e.timestamps = t.timestamps;
		e.options_seen = true;
	}

	void payload(Endpoint &e, Flow &f, bool is_orig, const TcpSegment &t)
	{
		std::uint32_t seq = t.seq + ((t.flags & kSyn) ? 1 : 0);
		if (!e.have_base) {
			e.have_base = true;
			e.base = e.syn_seen ? e.isn + 1 : seq;
		}
		if (t.payload_len == 0)
			return;
		const std::uint64_t start = extend(e.max_end, seq - e.base);
		const std::uint64_t end = start + t.payload_len;
		if (end <= e.max_end)
			logarithmic(f, is_orig, 'T', e.retrans, e.retrans_next);
		e.max_end = std::max(e.max_end, end);
	}

	void update(Flow &f, const Context &ctx, const Frame &fr)
	{
		const TcpSegment &t = fr.tcp;
		const bool is_orig = fr.sport == f.orig.port && ip_equal(fr.src_ip, f.orig.ip);
		Endpoint &e = is_orig ? f.orig : f.resp;
		Endpoint &peer = is_orig ? f.resp : f.orig;
		const std::uint64_t now = ctx.ts_ns;
		const std::uint8_t fl = t.flags;

		if (ctx.session && f.source != ctx.session->source())
			f.source = ctx.session->source();
		f.last_ns = std::max(f.last_ns, now);
		e.pkts++;
		e.ip_bytes += fr.ip_len;

		// History letters (Zeek's update_history).
		const int bits = ((fl & kSyn) ? 1 : 0) + ((fl & kFin) ? 1 : 0) + ((fl & kRst) ? 1 : 0);
		if (bits > 1) {
			if ((fl & kFin) && (fl & kRst))
				once(f, e, is_orig, HFinRst, 'I');
			else
				once(f, e, is_orig, HMulti, 'Q');
		} else if (bits == 1) {
			if (fl & kSyn)
				repeatable(f, e, is_orig, HSyn, (fl & kAck) ? 'H' : 'S', e.last_syn, t.seq);
			if (fl & kFin)
				repeatable(f, e, is_orig, HFin, 'F', e.last_fin, t.seq);
			if (fl & kRst)
				repeatable(f, e, is_orig, HRst, 'R', e.last_rst, t.seq);
		} else if ((fl & kAck) && t.payload_len == 0) {
			once(f, e, is_orig, HAck, 'A');
		}
		if (t.payload_len > 0)
			once(f, e, is_orig, HData, 'D');
		if (t.window == 0 && !(fl & (kSyn | kFin | kRst)))
			logarithmic(f, is_orig, 'W', e.zero_win, e.zero_win_next);

		// Sequence space: SYN fixes the base of the payload count.
		if (fl & kSyn) {
			if (!e.syn_seen) {
				e.syn_seen = true;
				e.isn = t.seq;
				if (!e.have_base || e.max_end == 0) {
					e.have_base = true;
					e.base = t.seq + 1;
				}
			}
			if (t.options_complete || !e.options_seen)
				take_options(e, t);
		}
		payload(e, f, is_orig, t);

		// Zeek's endpoint state machine, reduced to what conn_state reads.
		if (fl & kRst) {
			e.state = EpState::Reset;
		} else if (fl & kFin) {
			if (e.state != EpState::Reset)
				e.state = EpState::Closed;
			if (!e.fin_seen) {
				e.fin_seen = true;
				e.fin_seq = t.seq + t.payload_len;
			}
		} else if (fl & kSyn) {
			if (fl & kAck) {
				if (e.state == EpState::Inactive || e.state == EpState::SynSent ||
				    e.state == EpState::SynAckSent)
					e.state = is_orig ? EpState::SynAckSent : EpState::Established;
			} else if (e.state == EpState::Inactive) {
				e.state = EpState::SynSent;
			}
		} else if (e.state == EpState::Inactive) {
			if ((fl & kAck) || t.payload_len)
				e.state = EpState::Partial;
		} else if ((e.state == EpState::SynSent || e.state == EpState::SynAckSent) && (fl & kAck) &&
			   peer.state == EpState::Established) {
			e.state = EpState::Established;
		}

		// Handshake: Wireshark's initial_rtt clock.
		if ((fl & (kSyn | kAck | kRst)) == kSyn && is_orig) {
			++f.syns;
			if (!f.first_syn_ns)
				f.first_syn_ns = now;
			f.last_syn_ns = now;
			f.synack_after_syn_ns = 0;
		} else if ((fl & (kSyn | kAck | kRst)) == (kSyn | kAck) && !is_orig) {
			++f.synacks;
			f.last_synack_ns = now;
			if (f.last_syn_ns && !f.synack_after_syn_ns)
				f.synack_after_syn_ns = now;
		}
		if (f.outcome == v1::TcpRecord::UNSEEN) {
			// Picked up at the SYN/ACK: the second half is still known.
			if (is_orig && (fl & (kSyn | kAck | kRst)) == kAck && f.synacks && !f.synack_to_ack)
				f.synack_to_ack = now >= f.last_synack_ns ? now - f.last_synack_ns : 0;
		} else if (!f.handshake_reported) {
			if (is_orig && (fl & (kSyn | kAck | kRst)) == kAck && f.synacks) {
				if (f.syns) {
					const std::uint64_t sa = f.synack_after_syn_ns ? f.synack_after_syn_ns : f.last_synack_ns;
					f.handshake = now >= f.last_syn_ns ? now - f.last_syn_ns : 0;
					f.syn_to_synack = sa >= f.last_syn_ns ? std::min(sa - f.last_syn_ns, f.handshake) : 0;
					f.synack_to_ack = f.handshake - f.syn_to_synack;
					decide(f, v1::TcpRecord::ESTABLISHED);
				}
			} else if (!is_orig && (fl & kRst) && f.syns && !f.synacks) {
				decide(f, v1::TcpRecord::REFUSED);
			}
		}

		// Close decisions.
		if (f.phase == Phase::Open) {
			if (fl & kRst) {
				close(f, v1::TcpRecord::RST, now);
			} else if (f.orig.fin_seen && f.resp.fin_seen) {
				f.phase = Phase::ClosePending;
				f.phase_since = now;
			}
		} else if (f.phase == Phase::ClosePending) {
			// The last ACK: the ACK of the second FIN by the first closer.
			const bool acks_peer_fin = (fl & kAck) && peer.fin_seen && !seq_after(peer.fin_seq + 1, t.ack);
			if ((fl & kRst) || (acks_peer_fin && !(fl & kFin)))
				close(f, (fl & kRst) ? v1::TcpRecord::RST : v1::TcpRecord::FIN, now);
		}
	}

	void on_frame(const Context &ctx, const Frame &fr)
	{
		if (!fr.has_ip || fr.ip_proto != 6 || !fr.has_tcp)
			return;
		FlowKey key;
		key.session = sessions.intern(ctx.session);
		key.vni = ctx.vni;
		const int c = ip_compare(fr.src_ip, fr.dst_ip);
		const bool src_low = c < 0 || (c == 0 && fr.sport <= fr.dport);
		key.a = src_low ? fr.src_ip : fr.dst_ip;
		key.pa = src_low ? fr.sport : fr.dport;
		key.b = src_low ? fr.dst_ip : fr.src_ip;
		key.pb = src_low ? fr.dport : fr.sport;

		Flow *f = table.find(key);
		if (f && f->phase == Phase::Tombstone) {
			// A new SYN reuses the 4-tuple for a new connection; anything
			// else is a straggler of the closed one.
			const bool new_syn = (fr.tcp.flags & (kSyn | kAck | kRst)) == kSyn &&
					     (!f->orig.syn_seen || fr.tcp.seq != f->orig.isn);
			if (!new_syn)
				return;
			*f = make_flow(ctx, key.session, fr);
			table.protect(*f, false);
		}
		if (!f) {
			f = &table.insert(key, make_flow(ctx, key.session, fr), [this](const FlowKey &, Flow &victim) {
				if (victim.phase != Phase::Tombstone) {
					++evictions;
					close(victim, v1::TcpRecord::EVICTED, victim.last_ns);
				}
			});
		}
		update(*f, ctx, fr);
		if (f->phase == Phase::Tombstone) {
			// Closed: its key is the first to go when room is needed.
			if (!table.is_retired(*f))
				table.retire(*f);
			return;
		}
		// Connections that got going are kept over new, unanswered keys
		// when the table is full (a SYN flood evicts its own SYNs first).
		if (f->phase == Phase::Open && !table.is_protected(*f) &&
		    (f->outcome == v1::TcpRecord::ESTABLISHED ||
		     (f->outcome == v1::TcpRecord::UNSEEN && f->orig.pkts && f->resp.pkts)))
			table.protect(*f, true);
	}

	void expire(std::uint64_t now)
	{
		for (auto it = table.begin(); it != table.end();) {
			Flow &f = it->second;
			if (f.phase == Phase::Tombstone) {
				if (now >= f.phase_since + kLingerNs) {
					it = table.erase(it);
					continue;
				}
			} else {
				if (!f.handshake_reported && f.syns && now >= f.first_syn_ns + limits.handshake_timeout_ns)
					decide(f, v1::TcpRecord::TIMED_OUT);
				if (f.phase == Phase::ClosePending && now >= f.phase_since + kCloseDelayNs)
					close(f, v1::TcpRecord::FIN, now);
				else if (now >= f.last_ns + limits.idle_ns)
					close(f, v1::TcpRecord::IDLE, now);
				if (f.phase == Phase::Tombstone) {
					// To the retired list, which the iteration has passed
					// already: the next entry is taken first.
					auto next = std::next(it);
					table.retire(f);
					it = next;
					continue;
				}
			}
			++it;
		}
	}

	void close_all(std::uint64_t now)
	{
		for (auto &[key, f] : table)
			if (f.phase != Phase::Tombstone)
				close(f, v1::TcpRecord::SHUTDOWN, now);
		table.clear();
	}
};

TcpTracker::TcpTracker(Limits limits, Sink sink) : impl_(std::make_unique<Impl>(limits, std::move(sink))) {}
TcpTracker::~TcpTracker() = default;

void TcpTracker::on_frame(const Context &ctx, const Frame &frame) { impl_->on_frame(ctx, frame); }
void TcpTracker::expire(std::uint64_t now_ns) { impl_->expire(now_ns); }
void TcpTracker::close_all(std::uint64_t now_ns) { impl_->close_all(now_ns); }
std::size_t TcpTracker::size() const { return impl_->table.size(); }
std::uint64_t TcpTracker::evictions() const { return impl_->evictions; }
std::uint64_t TcpTracker::records() const { return impl_->records; }

} // namespace evpnmon::collector::records
