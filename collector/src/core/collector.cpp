#include "core/collector.hpp"

#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace evpnmon::collector {

namespace {

std::string mac_text(const std::array<std::uint8_t, 6> &m)
{
	char b[18];
	std::snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
		      m[5]);
	return b;
}

std::string describe(const SessionSpec &s)
{
	switch (s.kind) {
	case SessionSpec::Kind::Span:
		return "ERSPAN session " + std::to_string(s.span_id);
	case SessionSpec::Kind::Vxlan:
		return "VXLAN-GBP VNI " + std::to_string(s.vni) + " HOST ID " + std::to_string(s.host_id);
	case SessionSpec::Kind::Host: {
		std::string d = "host";
		if (s.has_mac)
			d += " " + mac_text(s.mac);
		if (s.has_ip)
			d += " " + s.ip.to_string();
		if (s.vni)
			d += " VNI " + std::to_string(s.vni);
		return d;
	}
	}
	return {};
}

std::uint64_t steady_ns()
{
	return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
						  std::chrono::steady_clock::now().time_since_epoch())
						  .count());
}

} // namespace

Collector::Collector(Config config, pcapng::Io &io, records::Sink sink)
    : config_(std::move(config)), io_(io), sink_(std::move(sink))
{
	start_steady_ns_ = steady_ns();
	for (const auto &spec : config_.sessions) {
		if (by_name_.count(spec.name))
			throw std::invalid_argument("session name '" + spec.name + "' used twice");
		Session *s = make_session(spec);
		switch (spec.kind) {
		case SessionSpec::Kind::Span:
			if (spec.span_id >= by_span_.size() || by_span_[spec.span_id])
				throw std::invalid_argument("span id " + std::to_string(spec.span_id) +
							    " bad or named twice");
			by_span_[spec.span_id] = s;
			break;
		case SessionSpec::Kind::Vxlan:
			if (!by_vxlan_.emplace(std::make_pair(spec.vni, spec.host_id), s).second)
				throw std::invalid_argument("vxlan " + std::to_string(spec.vni) + ":" +
							    std::to_string(spec.host_id) + " named twice");
			break;
		case SessionSpec::Kind::Host:
			hosts_.push_back(s);
			break;
		}
	}
	if (config_.records) {
		// Records are counted per session on their way to the sink.
		auto counted = [this](v1::Envelope &&e) {
			count_record(e);
			if (sink_)
				sink_(std::move(e));
		};
		tcp_ = std::make_unique<records::TcpTracker>(config_.tcp, counted);
		roce_ = std::make_unique<records::RoceTracker>(config_.roce, counted);
	}
}

Collector::~Collector() = default;

Collector::Session *Collector::make_session(SessionSpec spec)
{
	// A derived name may collide with a configured one ("span-7" given to
	// span 8): the later session gets a suffix, names stay unique.
	std::string name = spec.name;
	for (unsigned n = 2; by_name_.count(name); ++n)
		name = spec.name + "_" + std::to_string(n);
	spec.name = name;
	auto s = std::make_unique<Session>();
	s->spec = std::move(spec);
	s->ref.set_name(s->spec.name);
	switch (s->spec.kind) {
	case SessionSpec::Kind::Span:
		s->ref.set_span_id(s->spec.span_id);
		break;
	case SessionSpec::Kind::Vxlan:
		s->ref.set_vni(s->spec.vni);
		s->ref.set_host_id(s->spec.host_id);
		break;
	case SessionSpec::Kind::Host:
		s->ref.set_vni(s->spec.vni);
		break;
	}
	s->files = std::make_unique<pcapng::FileSet>(config_.dir, s->spec.name, describe(s->spec),
						     config_.policy, io_);
	Session *raw = s.get();
	by_name_[raw->spec.name] = raw;
	sessions_.push_back(std::move(s));
	return raw;
}

Collector::Session *Collector::session_for(const Copy &copy)
{
	switch (copy.encap) {
	case Encap::ErspanI:
		if (!erspan_i_ && sessions_.size() < config_.max_sessions) {
			SessionSpec spec;
			spec.kind = SessionSpec::Kind::Span;
			spec.name = erspan_i_session_name();
			erspan_i_ = make_session(std::move(spec));
		}
		return erspan_i_;
	case Encap::ErspanII:
	case Encap::ErspanIII: {
		const std::uint16_t id = copy.span_id & 0x3FF;
		Session *&slot = by_span_[id];
		if (!slot && sessions_.size() < config_.max_sessions) {
			SessionSpec spec;
			spec.kind = SessionSpec::Kind::Span;
			spec.span_id = id;
			spec.name = span_session_name(id);
			slot = make_session(std::move(spec));
		}
		return slot;
	}
	case Encap::VxlanGbp: {
		const std::uint16_t host_id = copy.has_gbp ? copy.gbp : 0;
		const auto key = std::make_pair(copy.vni, host_id);
		auto it = by_vxlan_.find(key);
		if (it != by_vxlan_.end())
			return it->second;
		if (sessions_.size() >= config_.max_sessions)
			return nullptr;
		SessionSpec spec;
		spec.kind = SessionSpec::Kind::Vxlan;
		spec.vni = copy.vni;
		spec.host_id = host_id;
		spec.name = vxlan_session_name(copy.vni, host_id);
		Session *s = make_session(std::move(spec));
		by_vxlan_.emplace(key, s);
		return s;
	}
	case Encap::Port:
		break;
	}
	return nullptr;
}

Collector::Source *Collector::source_for(Session &s, const Copy &copy)
{
	if (s.last_source && s.last_source->address == copy.source)
		return s.last_source;
	auto it = s.sources.find(copy.source);
	if (it == s.sources.end()) {
		if (s.sources.size() >= config_.max_sources_per_session ||
		    sources_total_ >= config_.max_sources_total)
			return nullptr;
		++sources_total_;
		Source src;
		src.address = copy.source;
		src.address_text = copy.source.to_string();
		src.interface_name =
			(copy.encap == Encap::VxlanGbp ? "vxlan:" : "erspan:") + src.address_text;
		it = s.sources.emplace(copy.source, std::move(src)).first;
	}
	s.last_source = &it->second;
	return &it->second;
}

void Collector::on_copy(const Copy &copy, std::uint64_t rx_ns)
{
	if (shut_down_)
		return;
	Session *s = session_for(copy);
	Source *src = s ? source_for(*s, copy) : nullptr;
	if (!src) {
		++unknown_session_;
		return;
	}
	if (copy.has_seq && copy.encap != Encap::VxlanGbp) {
		const auto r = src->seq.on_seq(copy.seq);
		s->losses += r.lost;
		src->pending_drops += r.lost;
	}
	src->hw_id = copy.hw_id;
	++src->copies;
	const std::uint64_t ts = copy_time_ns(copy, rx_ns).value_or(rx_ns);
	Frame frame;
	const DecodeError err = decode_frame(copy.frame, frame);
	if (err != DecodeError::None)
		++errors_[static_cast<std::size_t>(err)];
	++s->copies;
	s->bytes += copy.frame.size();
	if (write(*s, src->interface_name, frame, copy.frame, copy.truncated, copy.direction,
		  src->pending_drops, ts, rx_ns))
		src->pending_drops = 0;
	if (err == DecodeError::None && tcp_) {
		if (s->ref_source != src) {
			s->ref.set_source(src->address_text);
			s->ref_source = src;
		}
		const std::uint32_t vni = copy.encap == Encap::VxlanGbp ? copy.vni : s->spec.vni;
		track(*s, vni, frame, ts);
	}
}

void Collector::on_port_frame(std::span<const std::uint8_t> data, std::uint64_t rx_ns)
{
	if (shut_down_)
		return;
	Frame frame;
	const DecodeError err = decode_frame(data, frame);
	if (err != DecodeError::None)
		++errors_[static_cast<std::size_t>(err)];
	const bool l2 = data.size() >= 14;
	bool matched = false;
	for (Session *s : hosts_) {
		const SessionSpec &h = s->spec;
		Direction dir = Direction::Unknown;
		// The switch port of the host received what the host sent
		// (Inbound) and sent what the host receives (Outbound).
		if (h.has_mac && l2 && frame.src_mac == h.mac)
			dir = Direction::Inbound;
		else if (h.has_mac && l2 && frame.dst_mac == h.mac)
			dir = Direction::Outbound;
		else if (h.has_ip && frame.has_ip && frame.src_ip == h.ip)
			dir = Direction::Inbound;
		else if (h.has_ip && frame.has_ip && frame.dst_ip == h.ip)
			dir = Direction::Outbound;
		else
			continue;
		matched = true;
		if (s->sources.empty()) {
			Source src;
			src.address_text = config_.port_interface;
			src.interface_name = config_.port_interface;
			s->sources.emplace(IpAddr{}, std::move(src));
		}
		Source &src = s->sources.begin()->second;
		++src.copies;
		++s->copies;
		s->bytes += data.size();
		write(*s, src.interface_name, frame, data, false, dir, 0, rx_ns, rx_ns);
		if (err == DecodeError::None && tcp_) {
			if (s->ref_source != &src) {
				s->ref.set_source(src.address_text);
				s->ref_source = &src;
			}
			track(*s, h.vni, frame, rx_ns);
		}
	}
	if (!matched)
		++unknown_session_;
}

bool Collector::write(Session &s, const std::string &interface_name, const Frame &frame,
		      std::span<const std::uint8_t> data, bool erspan_truncated, Direction direction,
		      std::uint64_t drops_before, std::uint64_t ts_ns, std::uint64_t rx_ns)
{
	pcapng::Packet p;
	p.data = data;
	p.ts_ns = ts_ns;
	p.direction = direction;
	p.drops_before = drops_before;
	const std::uint64_t captured = data.size();
	const std::uint64_t original = frame.original_len;
	const bool longer = original > captured;
	p.original_len = static_cast<std::uint32_t>(longer ? original : captured);
	if (erspan_truncated || longer) {
		++s.truncated;
		// The mirroring switch said it cut the frame, but the frame does
		// not tell how long it was (no IP length): say so in the file.
		p.truncated_unknown_len = !longer;
	}
	const auto r = s.files->write(interface_name, p, rx_ns);
	return r == pcapng::FileSet::Result::Written;
}

void Collector::track(Session &s, std::uint32_t vni, const Frame &frame, std::uint64_t ts_ns)
{
	const records::Context ctx{&s.ref, vni, ts_ns};
	if (frame.has_tcp)
		tcp_->on_frame(ctx, frame);
	else if (frame.has_bth)
		roce_->on_frame(ctx, frame);
}

void Collector::count_record(const v1::Envelope &e)
{
	const std::string *name = nullptr;
	bool tcp = false;
	if (e.has_tcp()) {
		name = &e.tcp().session().name();
		tcp = true;
	} else if (e.has_roce()) {
		name = &e.roce().session().name();
	}
	if (!name)
		return;
	auto it = by_name_.find(*name);
	if (it == by_name_.end())
		return;
	++(tcp ? it->second->tcp_records : it->second->roce_records);
}

void Collector::on_decode_error(DecodeError error)
{
	const auto i = static_cast<std::size_t>(error);
	if (error != DecodeError::None && i < errors_.size())
		++errors_[i];
}

std::uint64_t Collector::decode_errors() const
{
	std::uint64_t n = 0;
	for (auto v : errors_)
		n += v;
	return n;
}

void Collector::tick(std::uint64_t now_ns)
{
	if (shut_down_)
		return;
	if (tcp_) {
		tcp_->expire(now_ns);
		roce_->tick(now_ns);
	}
	// Buffered blocks reach the disk at least once per tick, so a reader
	// (tshark on a live file) is never far behind.
	for (auto &s : sessions_)
		s->files->flush();
}

void Collector::shutdown(std::uint64_t now_ns)
{
	if (shut_down_)
		return;
	if (tcp_) {
		tcp_->close_all(now_ns);
		roce_->close_all(now_ns);
	}
	for (auto &s : sessions_)
		s->files->close(now_ns);
	shut_down_ = true;
}

void Collector::snapshot(std::vector<v1::SessionStats> &sessions, v1::CollectorStatus &status) const
{
	sessions.clear();
	sessions.reserve(sessions_.size());
	for (const auto &s : sessions_) {
		v1::SessionStats st;
		*st.mutable_session() = s->ref;
		st.set_copies(s->copies);
		st.set_bytes(s->bytes);
		st.set_losses(s->losses);
		st.set_truncated(s->truncated);
		const auto &fs = s->files->stats();
		st.set_files_written(fs.files_opened);
		st.set_current_file(fs.current);
		st.set_write_errors(fs.write_errors);
		st.set_tcp_records(s->tcp_records);
		st.set_roce_records(s->roce_records);
		for (const auto &[addr, src] : s->sources) {
			auto *o = st.add_sources();
			o->set_source(src.address_text);
			o->set_copies(src.copies);
			o->set_losses(src.seq.losses());
			o->set_last_seq(src.seq.last());
			o->set_reordered(src.seq.reordered());
			o->set_resyncs(src.seq.resyncs());
			o->set_hw_id(src.hw_id);
		}
		sessions.push_back(std::move(st));
	}
	status.Clear();
	status.set_uptime_ns(steady_ns() - start_steady_ns_);
	status.set_disk_full(io_.disk_full());
	status.set_decode_errors(decode_errors());
	status.set_unknown_session(unknown_session_);
	if (tcp_) {
		status.set_flow_table_entries(tcp_->size() + roce_->size());
		status.set_flow_evictions(tcp_->evictions() + roce_->evictions());
	}
	auto &by_reason = *status.mutable_decode_errors_by_reason();
	for (std::size_t i = 1; i < errors_.size(); ++i)
		by_reason[to_string(static_cast<DecodeError>(i))] = errors_[i];
}

} // namespace evpnmon::collector
