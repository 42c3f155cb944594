/* SPDX-License-Identifier: GPL-2.0-or-later
 *
 * evpn-monitor: a monitoring session's options (mirror profile): validation,
 * canonical form and the options area codec. See evpn_mon_options.h and
 * docs/wire-format.md ("Options").
 */
#include "evpn_mon_options.h"

#include <string.h>

/* One table: stable name (counters, JSON; never change a published name)
 * and the text shown to an operator. */
static const struct {
	const char *name;
	const char *text;
} opt_errtab[EVPN_MON_OPT__MAX] = {
	[EVPN_MON_OPT_OK] = {"ok", "ok"},
	[EVPN_MON_OPT_DIRECTION] = {"directionUnknown",
				    "direction not rx, tx or both"},
	[EVPN_MON_OPT_TOO_MANY_FILTERS] = {"tooManyFilters",
					   "more than 4 filter lines"},
	[EVPN_MON_OPT_FAMILY] = {"familyUnknown",
				 "address family not IPv4 or IPv6, or a prefix without a family"},
	[EVPN_MON_OPT_PREFIX] = {"prefixInvalid",
				 "prefix length too long or host bits set"},
	[EVPN_MON_OPT_PORTS] = {"portsInvalid",
				"port range reversed, or ports without protocol tcp, udp or sctp"},
	[EVPN_MON_OPT_TOO_MANY_UDFS] = {"tooManyUdfs",
					"more than 8 user-defined fields in a filter line"},
	[EVPN_MON_OPT_UDF] = {"udfOutOfRange",
			      "user-defined field base not l3, l4 or l5, or offset above 126"},
	[EVPN_MON_OPT_SAMPLE] = {"sampleOutOfRange",
				 "sample 1-in-N above 8388608"},
	[EVPN_MON_OPT_TRUNCATE] = {"truncateOutOfRange",
				   "truncate length not 64..9216"},
	[EVPN_MON_OPT_POLICE] = {"policeOutOfRange",
				 "police unit unknown, or rate or burst out of range"},
	[EVPN_MON_OPT_NAME] = {"nameInvalid",
			       "profile name longer than 16 or not printable"},
	[EVPN_MON_OPT_TOO_LARGE] = {"tooLarge",
				    "options do not fit in a route (more than 182 octets)"},
	[EVPN_MON_OPT_ERSPAN] = {"erspanOutOfRange",
				 "ERSPAN version not 2 or 3, or session id, dscp, ttl or flags out of range"},
	[EVPN_MON_OPT_VERSION_UNKNOWN] = {"versionUnknown",
					  "options version unknown"},
	[EVPN_MON_OPT_TLV_TRUNCATED] = {"tlvTruncated",
					"option TLV runs past the options area"},
	[EVPN_MON_OPT_TLV_LENGTH] = {"tlvLength",
				     "option TLV with a wrong length"},
	[EVPN_MON_OPT_TLV_DUPLICATE] = {"tlvDuplicate",
					"single-valued option TLV given twice"},
	[EVPN_MON_OPT_TLV_UNKNOWN_MANDATORY] = {"tlvUnknownMandatory",
						"unknown mandatory option TLV"},
};

const char *evpn_mon_opt_strerror(enum evpn_mon_opt_error err)
{
	if ((unsigned int)err >= EVPN_MON_OPT__MAX || !opt_errtab[err].text)
		return "unknown error";
	return opt_errtab[err].text;
}

const char *evpn_mon_opt_errname(enum evpn_mon_opt_error err)
{
	if ((unsigned int)err >= EVPN_MON_OPT__MAX || !opt_errtab[err].name)
		return "unknown";
	return opt_errtab[err].name;
}

/* strnlen() is POSIX, not C11: this file builds with any C compiler. */
static size_t bounded_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

static size_t plen_octets(uint8_t plen)
{
	return ((size_t)plen + 7) / 8;
}

static bool ports_any(uint16_t lo, uint16_t hi)
{
	return lo == 0 && (hi == 0 || hi == 0xffff);
}

bool evpn_mon_filter_has_sport(const struct evpn_mon_filter *f)
{
	return !ports_any(f->sport_lo, f->sport_hi);
}

bool evpn_mon_filter_has_dport(const struct evpn_mon_filter *f)
{
	return !ports_any(f->dport_lo, f->dport_hi);
}

/* Octets of one FILTER TLV value. */
static size_t filter_value_len(const struct evpn_mon_filter *f)
{
	size_t n = 4 + plen_octets(f->src.len) + plen_octets(f->dst.len) + 1;

	if (evpn_mon_filter_has_sport(f))
		n += 4;
	if (evpn_mon_filter_has_dport(f))
		n += 4;
	return n + 1 + (size_t)f->nudf * 6;
}

static size_t name_len(const struct evpn_mon_options *o)
{
	return bounded_len(o->name, sizeof(o->name));
}

/* An area is sent for a profile, and for a collector session's ERSPAN
 * parameters even without one. */
static bool has_area(const struct evpn_mon_options *o)
{
	return o->present || o->erspan.version != 0;
}

/* The ERSPAN TLV value: version 1, flags 1, span id 2, dscp 1, ttl 1, GRE
 * protocol 2. */
#define ERSPAN_TLV_LEN 8

static uint16_t gre_proto_default(uint8_t version)
{
	return version == 2 ? EVPN_MON_GRE_PROTO_ERSPAN2
			    : EVPN_MON_GRE_PROTO_ERSPAN3;
}

/* Length of the canonical area; assumes counts within their limits. */
static size_t area_len(const struct evpn_mon_options *o)
{
	size_t n = 1;

	if (!has_area(o))
		return 0;
	if (o->erspan.version)
		n += 2 + ERSPAN_TLV_LEN;
	if (!o->present)
		return n;
	if (o->direction != EVPN_MON_DIR_BOTH)
		n += 2 + 1;
	for (unsigned int i = 0; i < o->nfilters; i++)
		n += 2 + filter_value_len(&o->filters[i]);
	if (o->sample > 1)
		n += 2 + 4;
	if (o->truncate)
		n += 2 + 2;
	if (o->police_unit != EVPN_MON_POLICE_NONE)
		n += 2 + 13;
	if (name_len(o))
		n += 2 + name_len(o);
	return n;
}

static bool prefix_ok(const struct evpn_mon_prefix *p, uint8_t family)
{
	unsigned int max = family == 4 ? 32 : 128;

	if (p->len > max)
		return false;
	/* every bit past the length is zero (the unused tail included) */
	for (unsigned int bit = p->len; bit < 128; bit++)
		if (p->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

static enum evpn_mon_opt_error
filter_validate(const struct evpn_mon_filter *f)
{
	if (f->family != 0 && f->family != 4 && f->family != 6)
		return EVPN_MON_OPT_FAMILY;
	if (f->family == 0 && (f->src.len || f->dst.len))
		return EVPN_MON_OPT_FAMILY;
	if (!prefix_ok(&f->src, f->family) || !prefix_ok(&f->dst, f->family))
		return EVPN_MON_OPT_PREFIX;
	if (f->sport_lo > f->sport_hi && !ports_any(f->sport_lo, f->sport_hi))
		return EVPN_MON_OPT_PORTS;
	if (f->dport_lo > f->dport_hi && !ports_any(f->dport_lo, f->dport_hi))
		return EVPN_MON_OPT_PORTS;
	if ((evpn_mon_filter_has_sport(f) || evpn_mon_filter_has_dport(f))
	    && f->proto != 6 && f->proto != 17 && f->proto != 132)
		return EVPN_MON_OPT_PORTS;
	if (f->nudf > EVPN_MON_MAX_UDFS)
		return EVPN_MON_OPT_TOO_MANY_UDFS;
	for (unsigned int i = 0; i < f->nudf; i++)
		if (f->udf[i].base > EVPN_MON_UDF_L5
		    || f->udf[i].offset > EVPN_MON_UDF_OFFSET_MAX)
			return EVPN_MON_OPT_UDF;
	return EVPN_MON_OPT_OK;
}

static bool name_ok(const char *name, size_t size)
{
	size_t n = bounded_len(name, size);

	if (n > EVPN_MON_PROFILE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20
		    || (unsigned char)name[i] > 0x7e)
			return false;
	return true;
}

/* Version 0 = no ERSPAN parameters: the other fields are unused. A TTL of
 * 0 is refused rather than read as "default": whoever builds the value
 * (the CLI) fills in EVPN_MON_ERSPAN_TTL_DEFAULT. */
static bool erspan_ok(const struct evpn_mon_erspan *e)
{
	if (e->version == 0)
		return true;
	return (e->version == 2 || e->version == 3)
	       && e->span_id <= EVPN_MON_ERSPAN_SPAN_ID_MAX
	       && e->dscp <= EVPN_MON_ERSPAN_DSCP_MAX && e->ttl != 0;
}

enum evpn_mon_opt_error evpn_mon_options_validate(const struct evpn_mon_options *o)
{
	enum evpn_mon_opt_error err;

	if (!erspan_ok(&o->erspan))
		return EVPN_MON_OPT_ERSPAN;
	if (!o->present)
		/* no profile: only the ERSPAN TLV, which always fits */
		return EVPN_MON_OPT_OK;
	if (o->direction > EVPN_MON_DIR_TX)
		return EVPN_MON_OPT_DIRECTION;
	if (o->nfilters > EVPN_MON_MAX_FILTERS)
		return EVPN_MON_OPT_TOO_MANY_FILTERS;
	for (unsigned int i = 0; i < o->nfilters; i++) {
		err = filter_validate(&o->filters[i]);
		if (err != EVPN_MON_OPT_OK)
			return err;
	}
	if (o->sample > EVPN_MON_SAMPLE_MAX)
		return EVPN_MON_OPT_SAMPLE;
	if (o->truncate != 0 && (o->truncate < EVPN_MON_TRUNCATE_MIN
				 || o->truncate > EVPN_MON_TRUNCATE_MAX))
		return EVPN_MON_OPT_TRUNCATE;
	switch (o->police_unit) {
	case EVPN_MON_POLICE_NONE:
		break;
	case EVPN_MON_POLICE_PPS:
		if (o->police_rate < 1 || o->police_rate > EVPN_MON_POLICE_PPS_MAX)
			return EVPN_MON_OPT_POLICE;
		break;
	case EVPN_MON_POLICE_BPS:
		if (o->police_rate < EVPN_MON_POLICE_BPS_MIN
		    || o->police_rate > EVPN_MON_POLICE_BPS_MAX)
			return EVPN_MON_OPT_POLICE;
		break;
	default:
		return EVPN_MON_OPT_POLICE;
	}
	if (o->police_unit != EVPN_MON_POLICE_NONE
	    && (o->police_burst < 1 || o->police_burst > EVPN_MON_POLICE_BURST_MAX))
		return EVPN_MON_OPT_POLICE;
	if (!name_ok(o->name, sizeof(o->name)))
		return EVPN_MON_OPT_NAME;
	if (area_len(o) > EVPN_MON_OPTIONS_MAX_LEN)
		return EVPN_MON_OPT_TOO_LARGE;
	return EVPN_MON_OPT_OK;
}

static void canon_prefix(struct evpn_mon_prefix *dst,
			 const struct evpn_mon_prefix *src)
{
	unsigned int len = src->len > 128 ? 128 : src->len;

	dst->len = src->len;
	memcpy(dst->addr, src->addr, plen_octets(len));
	if (len % 8)
		dst->addr[len / 8] &= (uint8_t)(0xff << (8 - len % 8));
}

static void canon_filter(struct evpn_mon_filter *d,
			 const struct evpn_mon_filter *s)
{
	d->family = s->family;
	d->proto = s->proto;
	canon_prefix(&d->src, &s->src);
	canon_prefix(&d->dst, &s->dst);
	if (!ports_any(s->sport_lo, s->sport_hi)) {
		d->sport_lo = s->sport_lo;
		d->sport_hi = s->sport_hi;
	}
	if (!ports_any(s->dport_lo, s->dport_hi)) {
		d->dport_lo = s->dport_lo;
		d->dport_hi = s->dport_hi;
	}
	/* A count beyond its limit is kept (validation must still see it);
	 * only the slots that exist are copied. */
	d->nudf = s->nudf;
	for (unsigned int i = 0; i < d->nudf && i < EVPN_MON_MAX_UDFS; i++) {
		d->udf[i].base = s->udf[i].base;
		d->udf[i].offset = s->udf[i].offset;
		d->udf[i].mask = s->udf[i].mask;
		/* bits outside the mask never take part in a match */
		d->udf[i].value = s->udf[i].value & s->udf[i].mask;
	}
}

void evpn_mon_options_canonicalize(struct evpn_mon_options *o)
{
	struct evpn_mon_options c;

	/* Rebuilt in a zeroed copy so that padding is zero too (memcmp). */
	memset(&c, 0, sizeof(c));
	if (o->present) {
		c.present = 1;
		c.direction = o->direction;
		c.nfilters = o->nfilters;
		for (unsigned int i = 0; i < c.nfilters && i < EVPN_MON_MAX_FILTERS;
		     i++)
			canon_filter(&c.filters[i], &o->filters[i]);
		c.truncate = o->truncate;
		c.sample = o->sample > 1 ? o->sample : 0;
		c.police_unit = o->police_unit;
		if (o->police_unit != EVPN_MON_POLICE_NONE) {
			c.police_rate = o->police_rate;
			c.police_burst = o->police_burst;
		}
		/* an unterminated name stays so: validation refuses it */
		memcpy(c.name, o->name, bounded_len(o->name, sizeof(c.name)));
	}
	if (o->erspan.version) {
		/* A collector session without a profile has an area all the
		 * same, and decodes as an empty profile (which behaves the
		 * same): present = 1 keeps both forms equal. */
		c.present = 1;
		c.erspan.version = o->erspan.version;
		c.erspan.dscp = o->erspan.dscp;
		c.erspan.ttl = o->erspan.ttl;
		c.erspan.span_id = o->erspan.span_id;
		if (o->erspan.gre_proto != gre_proto_default(o->erspan.version))
			c.erspan.gre_proto = o->erspan.gre_proto;
	}
	memcpy(o, &c, sizeof(c));
}

static uint8_t *put_be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = n; i-- > 0; v >>= 8)
		p[i] = v & 0xff;
	return p + n;
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static uint8_t *put_filter(uint8_t *p, const struct evpn_mon_filter *f)
{
	uint8_t flags = 0;

	*p++ = EVPN_MON_TLV_FILTER;
	*p++ = (uint8_t)filter_value_len(f);
	*p++ = f->family;
	*p++ = f->proto;
	*p++ = f->src.len;
	*p++ = f->dst.len;
	memcpy(p, f->src.addr, plen_octets(f->src.len));
	p += plen_octets(f->src.len);
	memcpy(p, f->dst.addr, plen_octets(f->dst.len));
	p += plen_octets(f->dst.len);
	if (evpn_mon_filter_has_sport(f))
		flags |= 0x01;
	if (evpn_mon_filter_has_dport(f))
		flags |= 0x02;
	*p++ = flags;
	if (flags & 0x01) {
		p = put_be(p, f->sport_lo, 2);
		p = put_be(p, f->sport_hi, 2);
	}
	if (flags & 0x02) {
		p = put_be(p, f->dport_lo, 2);
		p = put_be(p, f->dport_hi, 2);
	}
	*p++ = f->nudf;
	for (unsigned int i = 0; i < f->nudf; i++) {
		*p++ = f->udf[i].base;
		*p++ = f->udf[i].offset;
		p = put_be(p, f->udf[i].value, 2);
		p = put_be(p, f->udf[i].mask, 2);
	}
	return p;
}

size_t evpn_mon_options_encoded_len(const struct evpn_mon_options *o)
{
	struct evpn_mon_options c = *o;

	if (!has_area(o) || evpn_mon_options_validate(o) != EVPN_MON_OPT_OK)
		return 0;
	evpn_mon_options_canonicalize(&c);
	return area_len(&c);
}

size_t evpn_mon_options_encode(const struct evpn_mon_options *o, uint8_t *buf,
			       size_t size)
{
	struct evpn_mon_options c = *o;
	size_t len, nlen;
	uint8_t *p = buf;

	if (!has_area(o) || evpn_mon_options_validate(o) != EVPN_MON_OPT_OK)
		return 0;
	evpn_mon_options_canonicalize(&c);
	len = area_len(&c);
	if (len > size)
		return 0;

	*p++ = EVPN_MON_OPT_VERSION;
	if (c.direction != EVPN_MON_DIR_BOTH) {
		*p++ = EVPN_MON_TLV_DIRECTION;
		*p++ = 1;
		*p++ = c.direction;
	}
	for (unsigned int i = 0; i < c.nfilters; i++)
		p = put_filter(p, &c.filters[i]);
	if (c.sample > 1) {
		*p++ = EVPN_MON_TLV_SAMPLE;
		*p++ = 4;
		p = put_be(p, c.sample, 4);
	}
	if (c.truncate) {
		*p++ = EVPN_MON_TLV_TRUNCATE;
		*p++ = 2;
		p = put_be(p, c.truncate, 2);
	}
	if (c.police_unit != EVPN_MON_POLICE_NONE) {
		*p++ = EVPN_MON_TLV_POLICE;
		*p++ = 13;
		*p++ = c.police_unit;
		p = put_be(p, c.police_rate, 8);
		p = put_be(p, c.police_burst, 4);
	}
	if (c.erspan.version) {
		*p++ = EVPN_MON_TLV_ERSPAN;
		*p++ = ERSPAN_TLV_LEN;
		*p++ = c.erspan.version;
		*p++ = 0; /* flags */
		p = put_be(p, c.erspan.span_id, 2);
		*p++ = c.erspan.dscp;
		*p++ = c.erspan.ttl;
		p = put_be(p, c.erspan.gre_proto, 2);
	}
	nlen = name_len(&c);
	if (nlen) {
		*p++ = EVPN_MON_TLV_NAME;
		*p++ = (uint8_t)nlen;
		memcpy(p, c.name, nlen);
		p += nlen;
	}
	return (size_t)(p - buf);
}

/* One FILTER TLV value of exactly len octets. */
static enum evpn_mon_opt_error get_filter(const uint8_t *v, size_t len,
					  struct evpn_mon_filter *f)
{
	size_t need = 4, so, dso;
	uint8_t flags;

	memset(f, 0, sizeof(*f));
	if (len < need)
		return EVPN_MON_OPT_TLV_LENGTH;
	f->family = v[0];
	f->proto = v[1];
	f->src.len = v[2];
	f->dst.len = v[3];
	if (f->src.len > 128 || f->dst.len > 128)
		return EVPN_MON_OPT_PREFIX;
	so = plen_octets(f->src.len);
	dso = plen_octets(f->dst.len);
	need += so + dso + 1;
	if (len < need)
		return EVPN_MON_OPT_TLV_LENGTH;
	memcpy(f->src.addr, v + 4, so);
	memcpy(f->dst.addr, v + 4 + so, dso);
	flags = v[need - 1];
	if (flags & ~0x03)
		return EVPN_MON_OPT_PORTS;
	if (flags & 0x01) {
		if (len < need + 4)
			return EVPN_MON_OPT_TLV_LENGTH;
		f->sport_lo = (uint16_t)get_be(v + need, 2);
		f->sport_hi = (uint16_t)get_be(v + need + 2, 2);
		need += 4;
	}
	if (flags & 0x02) {
		if (len < need + 4)
			return EVPN_MON_OPT_TLV_LENGTH;
		f->dport_lo = (uint16_t)get_be(v + need, 2);
		f->dport_hi = (uint16_t)get_be(v + need + 2, 2);
		need += 4;
	}
	if (len < need + 1)
		return EVPN_MON_OPT_TLV_LENGTH;
	f->nudf = v[need++];
	if (f->nudf > EVPN_MON_MAX_UDFS) {
		f->nudf = 0;
		return EVPN_MON_OPT_TOO_MANY_UDFS;
	}
	if (len != need + (size_t)f->nudf * 6)
		return EVPN_MON_OPT_TLV_LENGTH;
	for (unsigned int i = 0; i < f->nudf; i++, need += 6) {
		f->udf[i].base = v[need];
		f->udf[i].offset = v[need + 1];
		f->udf[i].value = (uint16_t)get_be(v + need + 2, 2);
		f->udf[i].mask = (uint16_t)get_be(v + need + 4, 2);
	}
	return EVPN_MON_OPT_OK;
}

static enum evpn_mon_opt_error decode_area(const uint8_t *buf, size_t len,
					   struct evpn_mon_options *out)
{
	/* single-valued TLVs seen, by type */
	bool seen[EVPN_MON_TLV_ERSPAN + 1] = {false};
	bool seen_name = false;
	size_t pos = 1;
	enum evpn_mon_opt_error err;

	if (buf[0] != EVPN_MON_OPT_VERSION)
		return EVPN_MON_OPT_VERSION_UNKNOWN;
	out->present = 1;

	while (pos < len) {
		uint8_t type, tlen;
		const uint8_t *v;

		if (len - pos < 2)
			return EVPN_MON_OPT_TLV_TRUNCATED;
		type = buf[pos];
		tlen = buf[pos + 1];
		if (len - pos - 2 < tlen)
			return EVPN_MON_OPT_TLV_TRUNCATED;
		v = buf + pos + 2;
		pos += 2 + (size_t)tlen;

		if (type != EVPN_MON_TLV_FILTER && type <= EVPN_MON_TLV_ERSPAN) {
			if (seen[type])
				return EVPN_MON_OPT_TLV_DUPLICATE;
			seen[type] = true;
		}
		switch (type) {
		case EVPN_MON_TLV_DIRECTION:
			if (tlen != 1)
				return EVPN_MON_OPT_TLV_LENGTH;
			out->direction = v[0];
			break;
		case EVPN_MON_TLV_FILTER:
			if (out->nfilters >= EVPN_MON_MAX_FILTERS)
				return EVPN_MON_OPT_TOO_MANY_FILTERS;
			err = get_filter(v, tlen, &out->filters[out->nfilters]);
			if (err != EVPN_MON_OPT_OK)
				return err;
			out->nfilters++;
			break;
		case EVPN_MON_TLV_SAMPLE:
			if (tlen != 4)
				return EVPN_MON_OPT_TLV_LENGTH;
			out->sample = (uint32_t)get_be(v, 4);
			break;
		case EVPN_MON_TLV_TRUNCATE:
			if (tlen != 2)
				return EVPN_MON_OPT_TLV_LENGTH;
			out->truncate = (uint16_t)get_be(v, 2);
			break;
		case EVPN_MON_TLV_POLICE:
			if (tlen != 13)
				return EVPN_MON_OPT_TLV_LENGTH;
			out->police_unit = v[0];
			out->police_rate = get_be(v + 1, 8);
			out->police_burst = (uint32_t)get_be(v + 9, 4);
			break;
		case EVPN_MON_TLV_ERSPAN:
			if (tlen != ERSPAN_TLV_LEN)
				return EVPN_MON_OPT_TLV_LENGTH;
			/* No flag is defined: one set may change how copies
			 * are built, so a receiver that does not know it must
			 * not build them (treat-as-withdraw). */
			if (v[0] == 0 || v[1] != 0)
				return EVPN_MON_OPT_ERSPAN;
			out->erspan.version = v[0];
			out->erspan.span_id = (uint16_t)get_be(v + 2, 2);
			out->erspan.dscp = v[4];
			out->erspan.ttl = v[5];
			out->erspan.gre_proto = (uint16_t)get_be(v + 6, 2);
			break;
		case EVPN_MON_TLV_NAME:
			if (seen_name)
				return EVPN_MON_OPT_TLV_DUPLICATE;
			seen_name = true;
			if (tlen < 1 || tlen > EVPN_MON_PROFILE_NAME_MAX)
				return EVPN_MON_OPT_TLV_LENGTH;
			/* a NUL inside would silently shorten the name */
			if (memchr(v, 0, tlen))
				return EVPN_MON_OPT_NAME;
			memcpy(out->name, v, tlen);
			break;
		default:
			if (!(type & EVPN_MON_TLV_OPTIONAL))
				return EVPN_MON_OPT_TLV_UNKNOWN_MANDATORY;
			break; /* unknown optional TLV: skipped */
		}
	}
	return evpn_mon_options_validate(out);
}

enum evpn_mon_opt_error evpn_mon_options_decode(const uint8_t *buf, size_t len,
						struct evpn_mon_options *out)
{
	enum evpn_mon_opt_error err;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return EVPN_MON_OPT_OK;
	err = decode_area(buf, len, out);
	if (err != EVPN_MON_OPT_OK) {
		memset(out, 0, sizeof(*out));
		return err;
	}
	evpn_mon_options_canonicalize(out);
	return EVPN_MON_OPT_OK;
}

bool evpn_mon_options_equal(const struct evpn_mon_options *a,
			    const struct evpn_mon_options *b)
{
	struct evpn_mon_options ca = *a, cb = *b;

	evpn_mon_options_canonicalize(&ca);
	evpn_mon_options_canonicalize(&cb);
	return memcmp(&ca, &cb, sizeof(ca)) == 0;
}

void evpn_mon_filter_preset(enum evpn_mon_preset preset,
			    struct evpn_mon_filter *f)
{
	memset(f, 0, sizeof(*f));
	switch (preset) {
	case EVPN_MON_PRESET_ROCEV2_CNP:
		f->proto = 17;
		f->dport_lo = f->dport_hi = 4791;
		f->nudf = 1;
		/* BTH opcode 0x81: congestion notification packet */
		f->udf[0] = (struct evpn_mon_udf){.base = EVPN_MON_UDF_L5,
						  .offset = 0,
						  .value = 0x8100,
						  .mask = 0xff00};
		break;
	case EVPN_MON_PRESET_ROCEV2_NAK:
		f->proto = 17;
		f->dport_lo = f->dport_hi = 4791;
		f->nudf = 2;
		/* BTH opcode 0x11: RC acknowledge */
		f->udf[0] = (struct evpn_mon_udf){.base = EVPN_MON_UDF_L5,
						  .offset = 0,
						  .value = 0x1100,
						  .mask = 0xff00};
		/* AETH syndrome 011xxxxx: NAK (BTH is 12 octets) */
		f->udf[1] = (struct evpn_mon_udf){.base = EVPN_MON_UDF_L5,
						  .offset = 12,
						  .value = 0x6000,
						  .mask = 0xe000};
		break;
	case EVPN_MON_PRESET_NONE:
		break;
	}
}

enum evpn_mon_preset evpn_mon_filter_which_preset(const struct evpn_mon_filter *f)
{
	static const enum evpn_mon_preset all[] = {EVPN_MON_PRESET_ROCEV2_CNP,
						   EVPN_MON_PRESET_ROCEV2_NAK};
	struct evpn_mon_filter a, b;

	memset(&b, 0, sizeof(b));
	canon_filter(&b, f);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct evpn_mon_filter p;

		evpn_mon_filter_preset(all[i], &p);
		memset(&a, 0, sizeof(a));
		canon_filter(&a, &p);
		if (memcmp(&a, &b, sizeof(a)) == 0)
			return all[i];
	}
	return EVPN_MON_PRESET_NONE;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* n hex digits at s into *v; false unless all are hex digits. */
static bool hexn(const char *s, size_t n, unsigned int *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hexval(s[i]);

		if (d < 0)
			return false;
		*v = (*v << 4) | (unsigned int)d;
	}
	return true;
}

bool evpn_mon_parse_mac(const char *text, uint8_t mac[6])
{
	uint8_t m[6];
	unsigned int v;
	size_t len;

	if (!text)
		return false;
	len = strlen(text);
	if (len == 17) {
		/* 02:00:00:00:00:01 or 02-00-00-00-00-01, one separator */
		char sep = text[2];

		if (sep != ':' && sep != '-')
			return false;
		for (size_t i = 0; i < 6; i++) {
			if (i && text[i * 3 - 1] != sep)
				return false;
			if (!hexn(text + i * 3, 2, &v))
				return false;
			m[i] = (uint8_t)v;
		}
	} else if (len == 14) {
		/* 0200.0000.0001 */
		if (text[4] != '.' || text[9] != '.')
			return false;
		for (size_t i = 0; i < 3; i++) {
			if (!hexn(text + i * 5, 4, &v))
				return false;
			m[i * 2] = (uint8_t)(v >> 8);
			m[i * 2 + 1] = (uint8_t)v;
		}
	} else {
		return false;
	}
	memcpy(mac, m, 6);
	return true;
}
