/* SPDX-License-Identifier: GPL-2.0 */
/* Reserved for mirror profiles: per matched entry, in this order,
 * direction, filter (5-tuple, then user-defined fields), 1:N sampler and
 * policer decide whether the entry asks for a copy; copies are then deduped
 * by (action, profile). The hook is collect() in match.h, before an entry's
 * action joins the copy set. Nothing here yet: a session has no profile and
 * every matched entry asks for its copy. */
#ifndef EVPNMON_LIB_PROFILE_H
#define EVPNMON_LIB_PROFILE_H
#endif /* EVPNMON_LIB_PROFILE_H */
