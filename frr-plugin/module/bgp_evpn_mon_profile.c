// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * evpn-monitor bgpd module: mirror profiles ("monitor profile NAME ...").
 *
 * A profile is the configured form of a session's options: filter lines and
 * UDFs keep the numbers the operator gave them, and a line remembers the
 * preset it was set from (running-config writes it back as the preset while
 * it still equals it). evpn_mon_profile_build() turns it into the options a
 * route carries (proto/session/evpn_mon_options.h), which is also what is
 * validated: the CLI never checks a value on its own.
 */
#include <zebra.h>

#include "lib/memory.h"
#include "lib/linklist.h"

#include "bgpd/bgpd.h"

#include "bgpd/bgp_evpn_mon.h"

DEFINE_MTYPE_STATIC(EVPN_MON, EVPN_MON_PROFILE, "EVPN monitor profile");

static int profile_cmp(void *a, void *b)
{
	const struct mon_profile *x = a, *y = b;

	return strcmp(x->name, y->name);
}

void evpn_mon_profile_init(void)
{
	evpn_mon.profiles = list_new();
	evpn_mon.profiles->cmp = profile_cmp;
}

static void profile_free(void *arg)
{
	XFREE(MTYPE_EVPN_MON_PROFILE, arg);
}

void evpn_mon_profile_fini(void)
{
	if (!evpn_mon.profiles)
		return;
	evpn_mon.profiles->del = profile_free;
	list_delete(&evpn_mon.profiles);
}

struct mon_profile *evpn_mon_profile_find(const char *name)
{
	struct listnode *node;
	struct mon_profile *p;

	if (!name || !*name)
		return NULL;
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.profiles, node, p))
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

/* Only for the sessions naming it: re-originate (or withdraw) each. */
static void profile_resync_users(struct bgp *bgp, const char *name)
{
	struct listnode *node;
	struct mon_host *h;

	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h))
		if (strcmp(h->profile, name) == 0)
			evpn_mon_host_resync(bgp, h);
}

struct mon_profile *evpn_mon_profile_get(const char *name, bool *created)
{
	struct mon_profile *p = evpn_mon_profile_find(name);

	if (created)
		*created = !p;
	if (p)
		return p;
	p = XCALLOC(MTYPE_EVPN_MON_PROFILE, sizeof(*p));
	strlcpy(p->name, name, sizeof(p->name));
	p->cfg.direction = EVPN_MON_DIR_BOTH;
	listnode_add_sort(evpn_mon.profiles, p);
	/* Sessions that named it before it existed are advertised now. */
	profile_resync_users(bgp_get_evpn(), p->name);
	return p;
}

void evpn_mon_profile_delete(struct bgp *bgp, struct mon_profile *p)
{
	char name[sizeof(p->name)];

	strlcpy(name, p->name, sizeof(name));
	listnode_delete(evpn_mon.profiles, p);
	XFREE(MTYPE_EVPN_MON_PROFILE, p);
	profile_resync_users(bgp, name);
}

/* The options as configured, not canonical yet: the validator sees the
 * operator's values (a prefix with host bits set is refused, not masked). */
static void profile_build_raw(const char *name,
			      const struct mon_profile_cfg *cfg,
			      struct evpn_mon_options *o)
{
	const struct mon_profile_line *l;
	struct evpn_mon_filter *f;
	int n, u;

	memset(o, 0, sizeof(*o));
	o->present = 1;
	o->direction = cfg->direction;
	o->sample = cfg->sample;
	o->truncate = cfg->truncate;
	o->police_unit = cfg->police_unit;
	o->police_rate = cfg->police_rate;
	o->police_burst = cfg->police_burst;
	strlcpy(o->name, name, sizeof(o->name));
	/* Lines and UDFs in number order: the route has no gaps. */
	for (n = 0; n < EVPN_MON_MAX_FILTERS; n++) {
		l = &cfg->line[n];
		if (!l->tuple_set && !l->udf_set)
			continue;
		f = &o->filters[o->nfilters++];
		*f = l->f;
		memset(f->udf, 0, sizeof(f->udf));
		f->nudf = 0;
		for (u = 0; u < EVPN_MON_MAX_UDFS; u++)
			if (l->udf_set & (1u << u))
				f->udf[f->nudf++] = l->f.udf[u];
	}
}

void evpn_mon_profile_build(const char *name, const struct mon_profile_cfg *cfg,
			    struct evpn_mon_options *o)
{
	profile_build_raw(name, cfg, o);
	evpn_mon_options_canonicalize(o);
}

/* Size of the options area o would need, also when it does not fit:
 * evpn_mon_options_encoded_len() refuses what does not fit, but every part
 * alone does (one filter line with every field is well below the limit), so
 * add up the scalar part and each line's share. */
static size_t options_len_unbounded(const struct evpn_mon_options *o)
{
	struct evpn_mon_options base = *o, one;
	size_t base_len, len;
	int i;

	len = evpn_mon_options_encoded_len(o);
	if (len)
		return len;
	base.nfilters = 0;
	memset(base.filters, 0, sizeof(base.filters));
	base_len = len = evpn_mon_options_encoded_len(&base);
	for (i = 0; i < o->nfilters; i++) {
		one = base;
		one.nfilters = 1;
		one.filters[0] = o->filters[i];
		len += evpn_mon_options_encoded_len(&one) - base_len;
	}
	return len;
}

/* A collector session's route carries the profile and the collector's
 * ERSPAN TLV in one options area. The TLV has the same size whatever its
 * values: any valid one tells whether a profile fits with it. */
static void add_some_erspan(struct evpn_mon_options *o)
{
	evpn_mon_collector_defaults(1, 3, &o->erspan);
}

/* The first collector session naming the profile, or NULL. */
static const struct mon_host *profile_collector_user(const char *name)
{
	struct listnode *node;
	struct mon_host *h;

	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h))
		if (h->dest == EVPN_MON_DEST_COLLECTOR
		    && strcmp(h->profile, name) == 0)
			return h;
	return NULL;
}

enum evpn_mon_opt_error evpn_mon_profile_check(const char *name,
					       const struct mon_profile_cfg *cfg,
					       char *err, size_t errsize)
{
	struct evpn_mon_options o;
	enum evpn_mon_opt_error ret;
	const struct mon_host *user;

	profile_build_raw(name, cfg, &o);
	ret = evpn_mon_options_validate(&o);
	if (ret == EVPN_MON_OPT_TOO_LARGE) {
		snprintf(err, errsize,
			 "profile %s would not fit in a route (%zu octets of options, at most %d)",
			 name, options_len_unbounded(&o),
			 EVPN_MON_OPTIONS_MAX_LEN);
		return ret;
	}
	if (ret != EVPN_MON_OPT_OK) {
		snprintf(err, errsize, "%s", evpn_mon_opt_strerror(ret));
		return ret;
	}
	/* Sessions to a collector also carry its ERSPAN TLV. */
	user = profile_collector_user(name);
	if (!user)
		return EVPN_MON_OPT_OK;
	add_some_erspan(&o);
	ret = evpn_mon_options_validate(&o);
	if (ret == EVPN_MON_OPT_TOO_LARGE)
		snprintf(err, errsize,
			 "profile %s would not fit in a route with the ERSPAN parameters of collector %u, used with it by a session in VNI %u (%zu octets of options, at most %d)",
			 name, user->host_id, user->vni,
			 options_len_unbounded(&o), EVPN_MON_OPTIONS_MAX_LEN);
	else if (ret != EVPN_MON_OPT_OK)
		snprintf(err, errsize, "%s", evpn_mon_opt_strerror(ret));
	return ret;
}

enum evpn_mon_opt_error evpn_mon_profile_check_collector(const char *name,
							 uint32_t collector,
							 char *err,
							 size_t errsize)
{
	const struct mon_profile *p = evpn_mon_profile_find(name);
	struct evpn_mon_options o;
	enum evpn_mon_opt_error ret;

	/* A missing profile is checked when it is configured. */
	if (!p)
		return EVPN_MON_OPT_OK;
	profile_build_raw(p->name, &p->cfg, &o);
	add_some_erspan(&o);
	ret = evpn_mon_options_validate(&o);
	if (ret == EVPN_MON_OPT_TOO_LARGE)
		snprintf(err, errsize,
			 "profile %s and the ERSPAN parameters of collector %u would not fit in a route (%zu octets of options, at most %d)",
			 p->name, collector, options_len_unbounded(&o),
			 EVPN_MON_OPTIONS_MAX_LEN);
	else if (ret != EVPN_MON_OPT_OK)
		snprintf(err, errsize, "%s", evpn_mon_opt_strerror(ret));
	return ret;
}

void evpn_mon_profile_commit(struct bgp *bgp, struct mon_profile *p,
			     const struct mon_profile_cfg *cfg)
{
	if (memcmp(&p->cfg, cfg, sizeof(*cfg)) == 0)
		return;
	p->cfg = *cfg;
	profile_resync_users(bgp, p->name);
}

unsigned int evpn_mon_profile_users(const char *name)
{
	struct listnode *node;
	struct mon_host *h;
	unsigned int n = 0;

	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h))
		if (strcmp(h->profile, name) == 0)
			n++;
	return n;
}

bool evpn_mon_profile_options(const char *name, struct evpn_mon_options *o)
{
	const struct mon_profile *p = evpn_mon_profile_find(name);

	if (!p) {
		memset(o, 0, sizeof(*o));
		return false;
	}
	evpn_mon_profile_build(p->name, &p->cfg, o);
	return true;
}
