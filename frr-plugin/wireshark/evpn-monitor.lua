-- SPDX-License-Identifier: GPL-2.0-or-later
--
-- evpn-monitor.lua: Wireshark/tshark (4.0+) Lua plugin for evpn-monitor's
-- BGP extensions (docs/wire-format.md, section 1):
--
--   * the EVPN monitor-config route, EVPN route type 254, inside
--     MP_REACH_NLRI / MP_UNREACH_NLRI (AFI 25 / SAFI 70): every field (the
--     destination kind: a monitoring server or an ERSPAN collector), the
--     session's options (mirror profile: versioned TLVs after the originator
--     IP, docs/wire-format.md "Options"), and every malformation the C codec
--     (proto/session/evpn_mon_codec.c and evpn_mon_options.c,
--     evpn_mon_decode) knows, with its stable reason name;
--   * BGP capability 239, "EVPN extension route types", in OPEN messages.
--
-- Load:   tshark -X lua_script:frr-plugin/wireshark/evpn-monitor.lua -V -r cap.pcap
--   or copy the file to ~/.local/lib/wireshark/plugins/ (personal Lua
--   plugins folder; "Help > About > Folders" in Wireshark shows it).
-- Filter: evpnmon, evpnmon.nlri.host_id == 21, evpnmon.nlri.status != "ok",
--   evpnmon.cap.route_type == 254 ... (field list: docs/wire-format.md,
--   "3. Wireshark dissector").
--
-- How it hooks into Wireshark's BGP dissector, and why this way
-- ---------------------------------------------------------------
-- Wireshark 4.0's BGP dissector (epan/dissectors/packet-bgp.c) has no
-- extension point for either thing: it registers no dissector table for EVPN
-- route types nor for capability codes (`tshark -G dissector-tables` lists no
-- "bgp.*" table), and no heuristic sub-dissector list. An unknown EVPN route
-- type makes it add "Invalid EVPN Route Type (254)" (Error/Malformed) and stop
-- decoding the rest of that MP_REACH/MP_UNREACH attribute; capability 239 is
-- shown as "Unknown capability 239" with its value as bytes.
--
-- The alternatives and why they were not taken:
--   * Replacing the BGP dissector on TCP port 179 (DissectorTable
--     "tcp.port") with a Lua one would mean re-implementing BGP (every
--     message, attribute and AFI) or feeding the stock dissector rewritten
--     bytes (a second data source whose offsets are not the packet's), and
--     it would miss BGP on other ports and inside BMP.
--   * A heuristic dissector cannot run "inside" the BGP dissector either:
--     BGP calls no heuristic list.
-- So this is a POST-DISSECTOR (register_postdissector): it runs after the
-- stock dissection of every frame, finds every BGP message through the stock
-- dissector's own "bgp.marker" field (a Field extractor; FieldInfo.source is
-- the data source the message lies in, i.e. the reassembled TCP data when a
-- message spans segments, and FieldInfo.offset its start), and walks the raw
-- octets of each OPEN and UPDATE itself. The stock BGP tree, including its
-- decoding of every other route in the same UPDATE, stays exactly as it is;
-- the decoded monitor routes and capability appear in a separate "evpnmon"
-- tree after it, whose items point at the message bytes (clicking one
-- highlights the octets). Limitation: the stock "Invalid EVPN Route Type
-- (254)" expert info stays (a Lua plugin cannot retract another dissector's
-- expert info; Wireshark's Expert Info severity configuration can lower it),
-- and route types 1-5 that follow a type-254 NLRI in the same attribute are
-- not decoded by the stock dissector (it stops there): they are listed here
-- as evpnmon.other_nlri with their type and length.
--
-- One codec per wire format: decode_monitor() below follows evpn_mon_decode()
-- and evpn_mon_validate() step by step, and decode_options() follows
-- evpn_mon_options_decode() and evpn_mon_options_validate() (same checks,
-- same order, same reason names as evpn_mon_errname());
-- tests/frr-plugin/test_dissector.py
-- checks it against the compiled C codec and against a real FRR fabric.
-- Nothing here throws out of the dissector: every read is bounds-checked and
-- the whole walk runs under pcall (an unexpected Lua error becomes the
-- expert info evpnmon.internal_error).

local ROUTE_TYPE = 254           -- EVPN_MON_ROUTE_TYPE
local CAP_CODE = 239             -- EVPN_MON_CAPABILITY_CODE
local NLRI_MIN, NLRI_MAX = 35, 255 -- EVPN_MON_NLRI_MIN_LEN / _MAX_LEN
local OPT_VERSION, OPTIONS_MAX_LEN = 1, 182 -- EVPN_MON_OPT_VERSION / EVPN_MON_OPTIONS_MAX_LEN
local HOST_ID_MIN, HOST_ID_MAX = 1, 65535
local DEST_SERVER, DEST_COLLECTOR = 0, 1 -- enum evpn_mon_dest: the HOST ID field's first octet
local TLV_ERSPAN = 6
local GRE_PROTO = { [2] = 0x88BE, [3] = 0x22EB } -- a version's own GRE protocol (sent as 0)
local AFI_L2VPN, SAFI_EVPN = 25, 70
local ATTR_MP_REACH, ATTR_MP_UNREACH = 14, 15

local evpnmon = Proto("evpnmon", "EVPN monitor-config extension (evpn-monitor)")

-- Reasons, in enum evpn_mon_error order: stable name (evpn_mon_errname),
-- text (evpn_mon_strerror), class.
local REASONS = {
    { "tooShort", "NLRI shorter than the minimum", true },
    { "tooLong", "NLRI longer than the maximum", true },
    { "hostMacLength", "host MAC length not 0 or 48", true },
    { "hostIpLength", "host IP length not 0, 32 or 128", true },
    { "serverMacLength", "server MAC length not 48", true },
    { "serverIpLength", "server IP length not 0, 32 or 128", true },
    { "originatorIpLength", "originating router IP length not 32", true },
    { "truncated", "field runs past the NLRI length", true },
    { "trailingOctets", "octets after the last field", true },
    { "hostIdOutOfRange", "HOST ID 0 or above 65535", false },
    { "noHost", "neither host MAC nor host IP", false },
    { "hostMacNotUnicast", "host MAC not unicast", false },
    { "serverMacNotUnicast", "server MAC not unicast", false },
    { "vniZero", "VNI 0", false },
    { "optionsVersion", "options area version unknown", false },
    { "optionsTruncated", "option TLV runs past the NLRI", false },
    { "optionsLength", "option TLV with a wrong length", false },
    { "optionsDuplicate", "single-valued option TLV given twice", false },
    { "optionsUnknownMandatory", "unknown mandatory option TLV", false },
    { "optionsValue", "option out of range", false },
    { "destination", "destination kind unknown, or fields that do not fit it", false },
}

local REASONS_TEXT, STRUCTURAL = {}, {}
for _, r in ipairs(REASONS) do
    REASONS_TEXT[r[1]] = r[2]
    STRUCTURAL[r[1]] = r[3]
end

local tlv_names = {
    [1] = "direction", [2] = "filter", [3] = "sample", [4] = "truncate", [5] = "police",
    [6] = "erspan", [0x81] = "name",
}
local dir_names = { [0] = "both", [1] = "rx (to the host)", [2] = "tx (from the host)" }

local attr_names = { [ATTR_MP_REACH] = "MP_REACH_NLRI", [ATTR_MP_UNREACH] = "MP_UNREACH_NLRI" }
local rtype_names = {
    [1] = "Ethernet A-D", [2] = "MAC/IP Advertisement", [3] = "Inclusive Multicast Ethernet Tag",
    [4] = "Ethernet Segment", [5] = "IP Prefix", [254] = "monitor-config",
}

local F = {
    nlri          = ProtoField.none("evpnmon.nlri", "Monitor-config NLRI"),
    attribute     = ProtoField.uint8("evpnmon.nlri.attribute", "Carried in", base.DEC, attr_names),
    withdrawal    = ProtoField.bool("evpnmon.nlri.withdrawal", "Withdrawal"),
    route_type    = ProtoField.uint8("evpnmon.nlri.route_type", "Route Type", base.DEC, rtype_names),
    length        = ProtoField.uint8("evpnmon.nlri.length", "Length"),
    available     = ProtoField.uint16("evpnmon.nlri.available", "Octets present in the attribute"),
    rd            = ProtoField.string("evpnmon.nlri.rd", "Route Distinguisher"),
    rd_type       = ProtoField.uint16("evpnmon.nlri.rd_type", "RD type"),
    eth_tag       = ProtoField.uint32("evpnmon.nlri.eth_tag", "Ethernet Tag ID"),
    vni           = ProtoField.uint24("evpnmon.nlri.vni", "VNI"),
    flags         = ProtoField.uint8("evpnmon.nlri.flags", "Flags (reserved)", base.HEX),
    dest          = ProtoField.uint8("evpnmon.nlri.dest", "Destination kind", base.DEC,
                                     { [0] = "server (VXLAN-GBP)", [1] = "collector (ERSPAN)" }),
    host_id       = ProtoField.uint24("evpnmon.nlri.host_id", "HOST ID"),
    collector_id  = ProtoField.uint24("evpnmon.nlri.collector_id", "Collector ID"),
    host_mac_len  = ProtoField.uint8("evpnmon.nlri.host_mac_len", "Host MAC Length (bits)"),
    host_mac      = ProtoField.ether("evpnmon.nlri.host_mac", "Host MAC"),
    host_ip_len   = ProtoField.uint8("evpnmon.nlri.host_ip_len", "Host IP Length (bits)"),
    host_ip       = ProtoField.ipv4("evpnmon.nlri.host_ip", "Host IPv4"),
    host_ipv6     = ProtoField.ipv6("evpnmon.nlri.host_ipv6", "Host IPv6"),
    server_mac_len = ProtoField.uint8("evpnmon.nlri.server_mac_len", "Server MAC Length (bits)"),
    server_mac    = ProtoField.ether("evpnmon.nlri.server_mac", "Server MAC"),
    server_ip_len = ProtoField.uint8("evpnmon.nlri.server_ip_len", "Server IP Length (bits)"),
    server_ip     = ProtoField.ipv4("evpnmon.nlri.server_ip", "Server IPv4"),
    server_ipv6   = ProtoField.ipv6("evpnmon.nlri.server_ipv6", "Server IPv6"),
    collector_ip  = ProtoField.ipv4("evpnmon.nlri.collector_ip", "Collector IPv4"),
    collector_ipv6 = ProtoField.ipv6("evpnmon.nlri.collector_ipv6", "Collector IPv6"),
    orig_ip_len   = ProtoField.uint8("evpnmon.nlri.orig_ip_len", "Originating Router's IP Length (bits)"),
    orig_ip       = ProtoField.ipv4("evpnmon.nlri.orig_ip", "Originating Router's IP"),
    options_length = ProtoField.uint8("evpnmon.nlri.options_length", "Options area length"),
    -- the options area (its own prefix: fields that repeat per TLV, line
    -- and UDF live under evpnmon.opt, not evpnmon.nlri)
    opt           = ProtoField.none("evpnmon.opt", "Options (mirror profile)"),
    opt_version   = ProtoField.uint8("evpnmon.opt.version", "Version"),
    opt_tlv       = ProtoField.none("evpnmon.opt.tlv", "Option TLV"),
    opt_type      = ProtoField.uint8("evpnmon.opt.tlv.type", "Type", base.DEC, tlv_names),
    opt_optional  = ProtoField.bool("evpnmon.opt.tlv.optional", "Optional (bit 0x80: unknown = ignored)"),
    opt_len       = ProtoField.uint8("evpnmon.opt.tlv.length", "Length"),
    opt_direction = ProtoField.uint8("evpnmon.opt.direction", "Direction", base.DEC, dir_names),
    opt_filter    = ProtoField.uint8("evpnmon.opt.filter", "Filter line"),
    opt_family    = ProtoField.uint8("evpnmon.opt.filter.family", "Address family", base.DEC,
                                     { [0] = "any", [4] = "IPv4", [6] = "IPv6" }),
    opt_proto     = ProtoField.uint8("evpnmon.opt.filter.protocol", "IP protocol (0 = any)"),
    opt_src_len   = ProtoField.uint8("evpnmon.opt.filter.src_len", "Source prefix length"),
    opt_dst_len   = ProtoField.uint8("evpnmon.opt.filter.dst_len", "Destination prefix length"),
    opt_src       = ProtoField.string("evpnmon.opt.filter.src", "Source prefix"),
    opt_dst       = ProtoField.string("evpnmon.opt.filter.dst", "Destination prefix"),
    opt_pflags    = ProtoField.uint8("evpnmon.opt.filter.port_flags", "Port flags", base.HEX),
    opt_sport_lo  = ProtoField.uint16("evpnmon.opt.filter.sport_lo", "Source port from"),
    opt_sport_hi  = ProtoField.uint16("evpnmon.opt.filter.sport_hi", "Source port to"),
    opt_dport_lo  = ProtoField.uint16("evpnmon.opt.filter.dport_lo", "Destination port from"),
    opt_dport_hi  = ProtoField.uint16("evpnmon.opt.filter.dport_hi", "Destination port to"),
    opt_nudf      = ProtoField.uint8("evpnmon.opt.filter.nudf", "User-defined fields"),
    opt_udf       = ProtoField.none("evpnmon.opt.udf", "User-defined field"),
    opt_udf_base  = ProtoField.uint8("evpnmon.opt.udf.base", "Base", base.DEC,
                                     { [0] = "l3", [1] = "l4", [2] = "l5" }),
    opt_udf_off   = ProtoField.uint8("evpnmon.opt.udf.offset", "Offset"),
    opt_udf_value = ProtoField.uint16("evpnmon.opt.udf.value", "Value", base.HEX),
    opt_udf_mask  = ProtoField.uint16("evpnmon.opt.udf.mask", "Mask", base.HEX),
    opt_sample    = ProtoField.uint32("evpnmon.opt.sample", "Sample 1-in-N"),
    opt_truncate  = ProtoField.uint16("evpnmon.opt.truncate", "Truncate to (octets)"),
    opt_pol_unit  = ProtoField.uint8("evpnmon.opt.police.unit", "Police unit", base.DEC,
                                     { [0] = "none", [1] = "pps", [2] = "bps" }),
    opt_pol_rate  = ProtoField.uint64("evpnmon.opt.police.rate", "Police rate"),
    opt_pol_burst = ProtoField.uint32("evpnmon.opt.police.burst", "Police burst"),
    opt_name      = ProtoField.string("evpnmon.opt.name", "Profile name"),
    opt_er_version = ProtoField.uint8("evpnmon.opt.erspan.version", "ERSPAN version", base.DEC,
                                      { [2] = "type II", [3] = "type III" }),
    opt_er_flags  = ProtoField.uint8("evpnmon.opt.erspan.flags", "ERSPAN flags (none defined)", base.HEX),
    opt_er_span   = ProtoField.uint16("evpnmon.opt.erspan.span_id", "ERSPAN session ID"),
    opt_er_dscp   = ProtoField.uint8("evpnmon.opt.erspan.dscp", "Outer DSCP"),
    opt_er_ttl    = ProtoField.uint8("evpnmon.opt.erspan.ttl", "Outer TTL"),
    opt_er_gre    = ProtoField.uint16("evpnmon.opt.erspan.gre_proto", "GRE protocol (0 = the version's own)",
                                      base.HEX),
    opt_unknown   = ProtoField.bytes("evpnmon.opt.unknown", "Unknown optional TLV value (ignored)"),
    opt_undecoded = ProtoField.bytes("evpnmon.opt.undecoded", "Undecoded option octets"),
    opt_status    = ProtoField.string("evpnmon.opt.status", "Options result"),
    undecoded     = ProtoField.bytes("evpnmon.nlri.undecoded", "Undecoded octets"),
    trailing      = ProtoField.bytes("evpnmon.nlri.trailing", "Trailing octets"),
    status        = ProtoField.string("evpnmon.nlri.status", "Decoder result"),
    action        = ProtoField.string("evpnmon.nlri.action", "Receiver action"),
    other         = ProtoField.none("evpnmon.other_nlri", "EVPN NLRI not decoded by the BGP dissector"),
    other_type    = ProtoField.uint8("evpnmon.other_nlri.route_type", "Route Type", base.DEC, rtype_names),
    other_len     = ProtoField.uint8("evpnmon.other_nlri.length", "Length"),
    cap           = ProtoField.none("evpnmon.cap", "Capability 239: EVPN extension route types"),
    cap_code      = ProtoField.uint8("evpnmon.cap.code", "Capability Code"),
    cap_len       = ProtoField.uint8("evpnmon.cap.length", "Capability Length"),
    cap_rtype     = ProtoField.uint8("evpnmon.cap.route_type", "Route Type", base.DEC, rtype_names),
}
evpnmon.fields = F

-- Expert infos: one per codec reason (evpnmon.malformed.<reasonName>),
-- structural = Error, semantic = Warning, both in group Malformed (they are
-- what bgpd counts in counters.rxMalformed).
local E = {}
local E_reason = {}
local experts = {}
for _, r in ipairs(REASONS) do
    local ex = ProtoExpert.new("evpnmon.malformed." .. r[1],
        "Malformed monitor-config NLRI: " .. r[2],
        expert.group.MALFORMED, r[3] and expert.severity.ERROR or expert.severity.WARN)
    E_reason[r[1]] = ex
    experts[#experts + 1] = ex
end
E.overrun = ProtoExpert.new("evpnmon.overrun",
    "Monitor-config NLRI length runs past the end of the attribute",
    expert.group.MALFORMED, expert.severity.ERROR)
E.flags = ProtoExpert.new("evpnmon.flags_not_zero",
    "Reserved flags not 0 (ignored on receipt)", expert.group.PROTOCOL, expert.severity.NOTE)
E.evpn_header = ProtoExpert.new("evpnmon.evpn_header_short",
    "Less than 2 octets left for an EVPN NLRI's route type and length",
    expert.group.MALFORMED, expert.severity.ERROR)
E.cap_trunc = ProtoExpert.new("evpnmon.cap.truncated",
    "Capability 239 runs past its optional parameter", expert.group.MALFORMED, expert.severity.ERROR)
E.cap_empty = ProtoExpert.new("evpnmon.cap.empty",
    "Capability 239 lists no route type", expert.group.PROTOCOL, expert.severity.WARN)
E.cut = ProtoExpert.new("evpnmon.capture_truncated",
    "BGP message cut short by the capture (snaplen): NLRIs past the captured octets not decoded",
    expert.group.UNDECODED, expert.severity.NOTE)
E.opt_unknown = ProtoExpert.new("evpnmon.opt.unknown_optional",
    "Unknown optional option TLV (ignored by the receiver)", expert.group.PROTOCOL, expert.severity.NOTE)
E.opt_ignored = ProtoExpert.new("evpnmon.opt.ignored_in_withdrawal",
    "Malformed options in a withdrawal (ignored: a withdrawal needs only the key)",
    expert.group.PROTOCOL, expert.severity.NOTE)
E.internal = ProtoExpert.new("evpnmon.internal_error",
    "evpn-monitor.lua could not finish this message", expert.group.UNDECODED, expert.severity.WARN)
for _, k in ipairs({ "overrun", "flags", "evpn_header", "cap_trunc", "cap_empty", "cut",
                     "opt_unknown", "opt_ignored", "internal" }) do
    experts[#experts + 1] = E[k]
end
evpnmon.experts = experts

local f_marker = Field.new("bgp.marker")

---------------------------------------------------------------------------
-- small helpers (all reads bounds-checked by the callers)

local function u(tvb, off, n)
    return tvb:range(off, n):uint()
end

local function mac_str(tvb, off)
    local t = {}
    for i = 0, 5 do t[#t + 1] = string.format("%02x", u(tvb, off + i, 1)) end
    return table.concat(t, ":")
end

-- evpn_mon_mac_is_unicast: I/G bit clear and not all zero
local function mac_unicast(tvb, off)
    if u(tvb, off, 1) % 2 == 1 then return false end
    for i = 0, 5 do
        if u(tvb, off + i, 1) ~= 0 then return true end
    end
    return false
end

local function ip_str(tvb, off, n)
    if n == 4 then
        return string.format("%d.%d.%d.%d", u(tvb, off, 1), u(tvb, off + 1, 1),
            u(tvb, off + 2, 1), u(tvb, off + 3, 1))
    end
    return tostring(tvb:range(off, n):ipv6())
end

-- RD text as FRR prints it (prefix_rd2str): type 0 ASN:nn, 1 IP:nn, 2 ASN4:nn
local function rd_str(tvb, off)
    local t = u(tvb, off, 2)
    if t == 0 then
        return string.format("%d:%d", u(tvb, off + 2, 2), u(tvb, off + 4, 4))
    elseif t == 1 then
        return string.format("%s:%d", ip_str(tvb, off + 2, 4), u(tvb, off + 6, 2))
    elseif t == 2 then
        return string.format("%d:%d", u(tvb, off + 2, 4), u(tvb, off + 6, 2))
    end
    return string.format("type %d:%s", t, string.lower(tostring(tvb:range(off + 2, 6):bytes())))
end

---------------------------------------------------------------------------
-- The options area: evpn_mon_options_decode() + evpn_mon_options_validate()
-- (proto/session/evpn_mon_options.c). Every error is an "options*" reason
-- of the codec: the key stays readable, the route is treated as withdrawn.

local function plen_octets(n)
    return math.floor((n + 7) / 8)
end

-- bit operations on small non-negative integers without the bit library
local function band_low(x, nbits) -- x mod 2^nbits
    return x % (2 ^ nbits)
end

local function ipv6_text(bytes)
    local g = {}
    for i = 0, 7 do g[i + 1] = bytes[2 * i + 1] * 256 + bytes[2 * i + 2] end
    -- RFC 5952: the longest run (>= 2) of zero groups becomes "::"
    local best, best_len, cur, cur_len = 0, 0, 0, 0
    for i = 1, 8 do
        if g[i] == 0 then
            if cur_len == 0 then cur = i end
            cur_len = cur_len + 1
            if cur_len > best_len then best, best_len = cur, cur_len end
        else
            cur_len = 0
        end
    end
    local parts = {}
    local i = 1
    while i <= 8 do
        if best_len >= 2 and i == best then
            parts[#parts + 1] = (i == 1) and ":" or ""
            i = i + best_len
            if i > 8 then parts[#parts + 1] = "" end
        else
            parts[#parts + 1] = string.format("%x", g[i])
            i = i + 1
        end
    end
    return table.concat(parts, ":")
end

-- a prefix as text: the octets present, zero-filled to the family's size
local function prefix_text(tvb, at, family, plen)
    local n = plen_octets(plen)
    local size = family == 4 and 4 or 16
    if family ~= 4 and family ~= 6 or n > size then
        return string.format("%s/%d", n > 0 and tostring(tvb:range(at, n):bytes()) or "-", plen)
    end
    local b = {}
    for i = 1, size do b[i] = i <= n and u(tvb, at + i - 1, 1) or 0 end
    if family == 4 then
        return string.format("%d.%d.%d.%d/%d", b[1], b[2], b[3], b[4], plen)
    end
    return ipv6_text(b) .. "/" .. plen
end

local function ports_any(lo, hi)
    return lo == 0 and (hi == 0 or hi == 65535)
end

-- one FILTER TLV value [v, v + len): get_filter(). Returns nil or
-- (reason, detail).
local function decode_filter(tvb, v, len, tl, f)
    if len < 4 then
        return "optionsLength", string.format("filter length %d, at least 6", len)
    end
    f.family, f.proto = u(tvb, v, 1), u(tvb, v + 1, 1)
    f.src_len, f.dst_len = u(tvb, v + 2, 1), u(tvb, v + 3, 1)
    tl:add(F.opt_family, tvb:range(v, 1))
    tl:add(F.opt_proto, tvb:range(v + 1, 1))
    tl:add(F.opt_src_len, tvb:range(v + 2, 1))
    tl:add(F.opt_dst_len, tvb:range(v + 3, 1))
    if f.src_len > 128 or f.dst_len > 128 then
        return "optionsValue", string.format("prefix length %d above 128", math.max(f.src_len, f.dst_len))
    end
    local so, dso = plen_octets(f.src_len), plen_octets(f.dst_len)
    local need = 4 + so + dso + 1
    if len < need then
        return "optionsLength", string.format("filter length %d, prefixes need %d", len, need)
    end
    f.src_at, f.dst_at = v + 4, v + 4 + so
    if f.src_len > 0 then
        tl:add(F.opt_src, tvb:range(f.src_at, so), prefix_text(tvb, f.src_at, f.family, f.src_len))
    end
    if f.dst_len > 0 then
        tl:add(F.opt_dst, tvb:range(f.dst_at, dso), prefix_text(tvb, f.dst_at, f.family, f.dst_len))
    end
    local flags = u(tvb, v + need - 1, 1)
    tl:add(F.opt_pflags, tvb:range(v + need - 1, 1))
    if flags > 3 then
        return "optionsValue", string.format("port flags 0x%02x (reserved bits set)", flags)
    end
    f.sport_lo, f.sport_hi, f.dport_lo, f.dport_hi = 0, 0, 0, 0
    if flags % 2 == 1 then
        if len < need + 4 then
            return "optionsLength", string.format("filter length %d, source ports need %d", len, need + 4)
        end
        f.sport_lo, f.sport_hi = u(tvb, v + need, 2), u(tvb, v + need + 2, 2)
        tl:add(F.opt_sport_lo, tvb:range(v + need, 2))
        tl:add(F.opt_sport_hi, tvb:range(v + need + 2, 2))
        need = need + 4
    end
    if flags >= 2 then
        if len < need + 4 then
            return "optionsLength", string.format("filter length %d, destination ports need %d", len, need + 4)
        end
        f.dport_lo, f.dport_hi = u(tvb, v + need, 2), u(tvb, v + need + 2, 2)
        tl:add(F.opt_dport_lo, tvb:range(v + need, 2))
        tl:add(F.opt_dport_hi, tvb:range(v + need + 2, 2))
        need = need + 4
    end
    if len < need + 1 then
        return "optionsLength", string.format("filter length %d, UDF count needs %d", len, need + 1)
    end
    f.nudf = u(tvb, v + need, 1)
    tl:add(F.opt_nudf, tvb:range(v + need, 1))
    need = need + 1
    if f.nudf > 8 then
        return "optionsValue", string.format("%d user-defined fields, at most 8", f.nudf)
    end
    if len ~= need + 6 * f.nudf then
        return "optionsLength", string.format("filter length %d, its fields make %d", len, need + 6 * f.nudf)
    end
    f.udf = {}
    for i = 1, f.nudf do
        local a = v + need + 6 * (i - 1)
        local ut = tl:add(F.opt_udf, tvb:range(a, 6))
        local d = { base = u(tvb, a, 1), offset = u(tvb, a + 1, 1),
                    value = u(tvb, a + 2, 2), mask = u(tvb, a + 4, 2) }
        f.udf[i] = d
        ut:add(F.opt_udf_base, tvb:range(a, 1))
        ut:add(F.opt_udf_off, tvb:range(a + 1, 1))
        ut:add(F.opt_udf_value, tvb:range(a + 2, 2))
        ut:add(F.opt_udf_mask, tvb:range(a + 4, 2))
        ut:set_text(string.format("UDF %d: %s+%d & 0x%04x == 0x%04x", i,
            ({ [0] = "l3", [1] = "l4", [2] = "l5" })[d.base] or ("base " .. d.base), d.offset,
            d.mask, d.value))
    end
    return nil
end

-- host bits past the prefix length (only its octets are on the wire)
local function prefix_ok(tvb, at, family, plen)
    if plen > (family == 4 and 32 or 128) then return false end
    local r = plen % 8
    if r == 0 then return true end
    return band_low(u(tvb, at + plen_octets(plen) - 1, 1), 8 - r) == 0
end

-- evpn_mon_options_validate(), on the decoded values
local function validate_options(tvb, o)
    local e = o.erspan
    if e then
        if e.version ~= 2 and e.version ~= 3 then
            return string.format("ERSPAN version %d", e.version)
        end
        if e.span_id > 1023 then
            return string.format("ERSPAN session ID %d, at most 1023", e.span_id)
        end
        if e.dscp > 63 then
            return string.format("ERSPAN DSCP %d, at most 63", e.dscp)
        end
        if e.ttl == 0 then
            return "ERSPAN TTL 0"
        end
    end
    if o.direction > 2 then
        return string.format("direction %d", o.direction)
    end
    for i, f in ipairs(o.filters) do
        if f.family ~= 0 and f.family ~= 4 and f.family ~= 6 then
            return string.format("filter %d: family %d", i, f.family)
        end
        if f.family == 0 and (f.src_len > 0 or f.dst_len > 0) then
            return string.format("filter %d: prefix without a family", i)
        end
        if not prefix_ok(tvb, f.src_at, f.family, f.src_len) or
            not prefix_ok(tvb, f.dst_at, f.family, f.dst_len) then
            return string.format("filter %d: prefix length too long or host bits set", i)
        end
        if f.sport_lo > f.sport_hi or f.dport_lo > f.dport_hi then
            return string.format("filter %d: port range reversed", i)
        end
        if (not ports_any(f.sport_lo, f.sport_hi) or not ports_any(f.dport_lo, f.dport_hi))
            and f.proto ~= 6 and f.proto ~= 17 and f.proto ~= 132 then
            return string.format("filter %d: ports with protocol %d", i, f.proto)
        end
        for j, d in ipairs(f.udf) do
            if d.base > 2 or d.offset > 126 then
                return string.format("filter %d UDF %d: base %d offset %d", i, j, d.base, d.offset)
            end
        end
    end
    if o.sample > 8388608 then
        return string.format("sample 1-in-%d", o.sample)
    end
    if o.truncate ~= 0 and (o.truncate < 64 or o.truncate > 9216) then
        return string.format("truncate %d", o.truncate)
    end
    if o.police_unit == 1 then
        if o.police_rate < 1 or o.police_rate > 100000000 then
            return string.format("police %.0f pps", o.police_rate)
        end
    elseif o.police_unit == 2 then
        if o.police_rate < 8000 or o.police_rate > 400000000000 then
            return string.format("police %.0f bps", o.police_rate)
        end
    elseif o.police_unit ~= 0 then
        return string.format("police unit %d", o.police_unit)
    end
    if o.police_unit ~= 0 and (o.police_burst < 1 or o.police_burst > 100000000) then
        return string.format("police burst %d", o.police_burst)
    end
    if o.name then
        for i = 1, #o.name do
            local c = o.name:byte(i)
            if c < 0x20 or c > 0x7e then
                return string.format("name octet 0x%02x not printable", c)
            end
        end
    end
    -- the canonical encoding must fit a route
    local n = 1
    if o.direction ~= 0 then n = n + 3 end
    for _, f in ipairs(o.filters) do
        n = n + 2 + 4 + plen_octets(f.src_len) + plen_octets(f.dst_len) + 1 + 1 + 6 * f.nudf
        if not ports_any(f.sport_lo, f.sport_hi) then n = n + 4 end
        if not ports_any(f.dport_lo, f.dport_hi) then n = n + 4 end
    end
    if o.sample > 1 then n = n + 6 end
    if o.truncate ~= 0 then n = n + 4 end
    if o.police_unit ~= 0 then n = n + 15 end
    if o.name then n = n + 2 + #o.name end
    if o.erspan then n = n + 10 end
    if n > OPTIONS_MAX_LEN then
        return string.format("%d octets canonically, at most %d", n, OPTIONS_MAX_LEN)
    end
    return nil
end

-- The options area [off, off + len). Returns reason (nil when valid),
-- detail, the decoded values and the options subtree.
local function decode_options(tvb, off, len, tree)
    local o = { direction = 0, filters = {}, sample = 0, truncate = 0,
                police_unit = 0, police_rate = 0, police_burst = 0 }
    local otree = tree:add(F.opt, tvb:range(off, len))
    local stop = off + len

    local function fail(name, detail, from)
        if from and stop > from then
            otree:add(F.opt_undecoded, tvb:range(from, stop - from))
        end
        otree:add(F.opt_status, name):set_generated()
        return name, detail, o, otree
    end

    local ver = u(tvb, off, 1)
    otree:add(F.opt_version, tvb:range(off, 1))
    if ver ~= OPT_VERSION then
        return fail("optionsVersion", string.format("version %d", ver), off + 1)
    end
    local pos = off + 1
    local seen = {}
    while pos < stop do
        if stop - pos < 2 then
            return fail("optionsTruncated", "1 octet left for a TLV header", pos)
        end
        local t, l = u(tvb, pos, 1), u(tvb, pos + 1, 1)
        if stop - pos - 2 < l then
            return fail("optionsTruncated", string.format("TLV type %d length %d, %d octet(s) left",
                t, l, stop - pos - 2), pos)
        end
        local tl = otree:add(F.opt_tlv, tvb:range(pos, 2 + l))
        tl:add(F.opt_type, tvb:range(pos, 1))
        tl:add(F.opt_optional, t >= 0x80):set_generated()
        tl:add(F.opt_len, tvb:range(pos + 1, 1))
        tl:set_text(string.format("Option TLV %s (type %d, length %d)", tlv_names[t] or "unknown", t, l))
        local v, nxt = pos + 2, pos + 2 + l
        if (t ~= 2 and t <= TLV_ERSPAN) or t == 0x81 then
            if seen[t] then
                return fail("optionsDuplicate", string.format("%s TLV twice", tlv_names[t] or t), nxt)
            end
            seen[t] = true
        end
        local function want_len(n)
            if l ~= n then
                return string.format("%s TLV length %d, not %d", tlv_names[t], l, n)
            end
        end
        local bad
        if t == 1 then
            bad = want_len(1)
            if bad then return fail("optionsLength", bad, nxt) end
            o.direction = u(tvb, v, 1)
            tl:add(F.opt_direction, tvb:range(v, 1))
        elseif t == 2 then
            if #o.filters >= 4 then
                return fail("optionsValue", "more than 4 filter lines", pos)
            end
            local f = {}
            tl:add(F.opt_filter, #o.filters + 1):set_generated()
            tl:set_text(string.format("Filter line %d (length %d)", #o.filters + 1, l))
            local err, detail = decode_filter(tvb, v, l, tl, f)
            if err then return fail(err, detail, nxt) end
            o.filters[#o.filters + 1] = f
        elseif t == 3 then
            bad = want_len(4)
            if bad then return fail("optionsLength", bad, nxt) end
            o.sample = u(tvb, v, 4)
            tl:add(F.opt_sample, tvb:range(v, 4))
        elseif t == 4 then
            bad = want_len(2)
            if bad then return fail("optionsLength", bad, nxt) end
            o.truncate = u(tvb, v, 2)
            tl:add(F.opt_truncate, tvb:range(v, 2))
        elseif t == 5 then
            bad = want_len(13)
            if bad then return fail("optionsLength", bad, nxt) end
            o.police_unit = u(tvb, v, 1)
            o.police_rate = u(tvb, v + 1, 4) * 4294967296 + u(tvb, v + 5, 4)
            o.police_burst = u(tvb, v + 9, 4)
            tl:add(F.opt_pol_unit, tvb:range(v, 1))
            tl:add(F.opt_pol_rate, tvb:range(v + 1, 8))
            tl:add(F.opt_pol_burst, tvb:range(v + 9, 4))
        elseif t == TLV_ERSPAN then
            bad = want_len(8)
            if bad then return fail("optionsLength", bad, nxt) end
            local e = { version = u(tvb, v, 1), flags = u(tvb, v + 1, 1), span_id = u(tvb, v + 2, 2),
                        dscp = u(tvb, v + 4, 1), ttl = u(tvb, v + 5, 1), gre_proto = u(tvb, v + 6, 2) }
            tl:add(F.opt_er_version, tvb:range(v, 1))
            tl:add(F.opt_er_flags, tvb:range(v + 1, 1))
            tl:add(F.opt_er_span, tvb:range(v + 2, 2))
            tl:add(F.opt_er_dscp, tvb:range(v + 4, 1))
            tl:add(F.opt_er_ttl, tvb:range(v + 5, 1))
            local gi = tl:add(F.opt_er_gre, tvb:range(v + 6, 2))
            if e.gre_proto == 0 and GRE_PROTO[e.version] then
                gi:append_text(string.format(" (0x%04x)", GRE_PROTO[e.version]))
            end
            -- refused as it is read, as the codec does: no flag is defined
            if e.version == 0 then
                return fail("optionsValue", "ERSPAN version 0", nxt)
            end
            if e.flags ~= 0 then
                return fail("optionsValue", string.format("ERSPAN flags 0x%02x (none defined)", e.flags), nxt)
            end
            o.erspan = e
        elseif t == 0x81 then
            if l < 1 or l > 16 then
                return fail("optionsLength", string.format("name TLV length %d, not 1..16", l), nxt)
            end
            local chars = {}
            for i = 0, l - 1 do
                local c = u(tvb, v + i, 1)
                if c == 0 then
                    return fail("optionsValue", "name contains a NUL octet", nxt)
                end
                chars[#chars + 1] = string.char(c)
            end
            o.name = table.concat(chars)
            -- shown escaped: a name that is not printable ASCII is refused
            -- below, and must not put invalid UTF-8 into tshark's output
            tl:add(F.opt_name, tvb:range(v, l), (o.name:gsub("[^\32-\126]", function(c)
                return string.format("\\x%02x", c:byte())
            end)))
        elseif t < 0x80 then
            return fail("optionsUnknownMandatory", string.format("type %d", t), pos)
        else
            if l > 0 then tl:add(F.opt_unknown, tvb:range(v, l)) end
            tl:add_proto_expert_info(E.opt_unknown, string.format(
                "Unknown optional option TLV type %d (0x%02x), %d octet(s): ignored", t, t, l))
        end
        pos = nxt
    end
    local detail = validate_options(tvb, o)
    if detail then
        return fail("optionsValue", detail)
    end
    otree:add(F.opt_status, "ok"):set_generated()
    local txt = {}
    if o.erspan then
        local e = o.erspan
        txt[1] = string.format("erspan %d span %d dscp %d ttl %d gre 0x%04x", e.version, e.span_id,
            e.dscp, e.ttl, e.gre_proto ~= 0 and e.gre_proto or GRE_PROTO[e.version])
    end
    txt[#txt + 1] = "profile " .. (o.name or "-")
    if o.direction ~= 0 then txt[#txt + 1] = "dir " .. (o.direction == 1 and "rx" or "tx") end
    txt[#txt + 1] = "filters " .. #o.filters
    if o.sample > 1 then txt[#txt + 1] = "sample 1/" .. o.sample end
    if o.truncate ~= 0 then txt[#txt + 1] = "truncate " .. o.truncate end
    if o.police_unit ~= 0 then
        txt[#txt + 1] = string.format("police %.0f%s/%d", o.police_rate,
            o.police_unit == 1 and "pps" or "bps", o.police_burst)
    end
    o.text = table.concat(txt, " ")
    otree:set_text(string.format("Options (version %d, %d octets): %s", ver, len, o.text))
    return nil, nil, o, otree
end

---------------------------------------------------------------------------
-- The monitor-config NLRI body: evpn_mon_decode() + evpn_mon_validate().
-- tvb/off/len: the body octets the decoder gets (for an NLRI overrunning
-- its attribute, only those present, as bgpd's core hands them over).
-- Returns the reason name ("ok" or evpn_mon_errname) and a summary table.

local function decode_monitor(tvb, off, len, withdraw, tree)
    local s = {}
    local pos, left = off, len

    local function structural(name, item, detail, from)
        -- flag and show the octets the decoder did not get to
        local it = item or tree
        it:add_proto_expert_info(E_reason[name], string.format(
            "Malformed monitor-config NLRI (%s): %s%s; structural, the receiver ignores it",
            name, REASONS_TEXT[name], detail and (" (" .. detail .. ")") or ""))
        from = from or pos
        if off + len > from then
            tree:add(F.undecoded, tvb:range(from, off + len - from))
        end
        return name, s
    end

    if len < NLRI_MIN then
        return structural("tooShort", nil, string.format("%d octets, at least %d", len, NLRI_MIN), off)
    end
    if len > NLRI_MAX then
        return structural("tooLong", nil, string.format("%d octets, at most %d", len, NLRI_MAX), off)
    end

    -- fixed part: RD 8, Ethernet Tag 4, VNI 3, Flags 1, HOST ID 4
    s.rd = rd_str(tvb, off)
    tree:add(F.rd, tvb:range(off, 8), s.rd)
    tree:add(F.rd_type, tvb:range(off, 2))
    tree:add(F.eth_tag, tvb:range(off + 8, 4))
    s.vni = u(tvb, off + 12, 3)
    local vni_item = tree:add(F.vni, tvb:range(off + 12, 3))
    local flags_item = tree:add(F.flags, tvb:range(off + 15, 1))
    if u(tvb, off + 15, 1) ~= 0 then
        flags_item:add_proto_expert_info(E.flags)
    end
    -- HOST ID field: destination kind (1), then 24 bits: 0 and the 16-bit
    -- id (a server's HOST ID or a collector ID)
    s.dest = u(tvb, off + 16, 1)
    local dest_item = tree:add(F.dest, tvb:range(off + 16, 1))
    s.id = u(tvb, off + 17, 3)
    local host_id_item
    if s.dest == DEST_COLLECTOR then
        s.collector_id = s.id
        host_id_item = tree:add(F.collector_id, tvb:range(off + 17, 3))
    else
        s.host_id = s.id
        host_id_item = tree:add(F.host_id, tvb:range(off + 17, 3))
    end
    pos, left = off + 20, len - 20

    -- one length-prefixed field: returns (octets, len_item) or a reason
    local function lenfield(f_len, allowed, reason, what)
        if left < 1 then
            return nil, nil, "truncated", what .. " length octet missing"
        end
        local bits = u(tvb, pos, 1)
        local item = tree:add(f_len, tvb:range(pos, 1))
        pos, left = pos + 1, left - 1
        local octets = allowed[bits]
        if not octets then
            return nil, item, reason, string.format("%s length %d bits", what, bits)
        end
        if left < octets then
            return nil, item, "truncated", string.format("%s needs %d octets, %d left", what, octets, left)
        end
        return octets, item
    end

    local fail = nil
    local function field(f_len, allowed, reason, what)
        local octets, item, err, detail = lenfield(f_len, allowed, reason, what)
        if err then
            fail = { err, item, detail }
            return nil
        end
        local at = pos
        pos, left = pos + octets, left - octets
        return at, octets
    end

    -- host MAC: 0 or 48 bits
    local at, n = field(F.host_mac_len, { [0] = 0, [48] = 6 }, "hostMacLength", "host MAC")
    if fail then return structural(fail[1], fail[2], fail[3]) end
    local host_mac_item
    if n == 6 then
        s.host_mac = mac_str(tvb, at)
        host_mac_item = tree:add(F.host_mac, tvb:range(at, 6))
    end
    s.host_mac_at = n == 6 and at or nil

    -- host IP: 0, 32 or 128 bits
    at, n = field(F.host_ip_len, { [0] = 0, [32] = 4, [128] = 16 }, "hostIpLength", "host IP")
    if fail then return structural(fail[1], fail[2], fail[3]) end
    if n > 0 then
        s.host_ip = ip_str(tvb, at, n)
        tree:add(n == 4 and F.host_ip or F.host_ipv6, tvb:range(at, n))
    end

    -- server MAC: 48 bits
    at, n = field(F.server_mac_len, { [48] = 6 }, "serverMacLength", "server MAC")
    if fail then return structural(fail[1], fail[2], fail[3]) end
    s.server_mac = mac_str(tvb, at)
    local server_mac_at = at
    local server_mac_item = tree:add(F.server_mac, tvb:range(at, 6))

    -- server IP: 0, 32 or 128 bits (a collector route: the collector IP)
    at, n = field(F.server_ip_len, { [0] = 0, [32] = 4, [128] = 16 }, "serverIpLength", "server IP")
    if fail then return structural(fail[1], fail[2], fail[3]) end
    if n > 0 then
        s.server_ip = ip_str(tvb, at, n)
        if s.dest == DEST_COLLECTOR then
            tree:add(n == 4 and F.collector_ip or F.collector_ipv6, tvb:range(at, n))
        else
            tree:add(n == 4 and F.server_ip or F.server_ipv6, tvb:range(at, n))
        end
    end

    -- originating router's IP: 32 bits
    at, n = field(F.orig_ip_len, { [32] = 4 }, "originatorIpLength", "originating router IP")
    if fail then return structural(fail[1], fail[2], fail[3]) end
    s.orig_ip = ip_str(tvb, at, 4)
    tree:add(F.orig_ip, tvb:range(at, 4))

    -- everything after the originator IP is the options area
    local opt_err, opt_detail, opt_item, erspan
    if left ~= 0 then
        tree:add(F.options_length, left):set_generated()
        s.options_length = left
        local o
        opt_err, opt_detail, o, opt_item = decode_options(tvb, pos, left, tree)
        if not opt_err then
            s.profile = o.text
            erspan = o.erspan
        end
    end

    -- evpn_mon_validate(): semantic checks, the key is readable. The first
    -- one is the codec's reason; every one found is flagged.
    local found = {}
    local function semantic(name, item, detail)
        found[#found + 1] = name
        item:add_proto_expert_info(E_reason[name], string.format(
            "Malformed monitor-config NLRI (%s): %s (%s); semantic, the receiver treats the route as withdrawn",
            name, REASONS_TEXT[name], detail))
    end
    local known = s.dest == DEST_SERVER or s.dest == DEST_COLLECTOR
    if not known then
        semantic("destination", dest_item, string.format("kind %d", s.dest))
    end
    if s.id < HOST_ID_MIN or s.id > HOST_ID_MAX then
        semantic("hostIdOutOfRange", host_id_item, tostring(s.id))
    end
    if not s.host_mac and not s.host_ip then
        semantic("noHost", tree, "host MAC and host IP lengths 0")
    end
    if s.host_mac and not mac_unicast(tvb, s.host_mac_at) then
        semantic("hostMacNotUnicast", host_mac_item, s.host_mac)
    end
    if s.vni == 0 then
        semantic("vniZero", vni_item, "0")
    end
    -- the server fields, then the options, then whether the options fit
    -- the kind: none of it in a withdrawal, nor for a kind not known
    if not withdraw and s.dest == DEST_SERVER and not mac_unicast(tvb, server_mac_at) then
        semantic("serverMacNotUnicast", server_mac_item, s.server_mac)
    end
    if not withdraw and s.dest == DEST_COLLECTOR then
        if s.server_mac ~= "00:00:00:00:00:00" then
            semantic("destination", server_mac_item, "a collector route with server MAC " .. s.server_mac)
        end
        if not s.server_ip then
            semantic("destination", tree, "a collector route without a collector IP")
        end
    end
    if opt_err then
        if withdraw then
            opt_item:add_proto_expert_info(E.opt_ignored, string.format(
                "Malformed options in a withdrawal (%s: %s, %s): ignored, a withdrawal needs only the key",
                opt_err, REASONS_TEXT[opt_err], opt_detail))
        else
            semantic(opt_err, opt_item, opt_detail)
        end
    elseif not withdraw and known and (s.dest == DEST_COLLECTOR) ~= (erspan ~= nil) then
        semantic("destination", opt_item or tree, s.dest == DEST_COLLECTOR
            and "a collector route without the ERSPAN option" or "a server route with the ERSPAN option")
    end
    return found[1] or "ok", s
end

---------------------------------------------------------------------------
-- Walking BGP messages

local Ctx = {}
Ctx.__index = Ctx

function Ctx:root()
    if not self.root_item then
        self.root_item = self.tree:add(evpnmon)
    end
    return self.root_item
end

-- one type-254 NLRI at `q` (route type octet) with declared length `l`,
-- `avail` body octets present (< l when it overruns the attribute)
function Ctx:monitor_nlri(tvb, q, l, avail, attr_type)
    local withdraw = attr_type == ATTR_MP_UNREACH
    local item = self:root():add(F.nlri, tvb:range(q, 2 + avail))
    item:add(F.attribute, attr_type):set_generated()
    item:add(F.withdrawal, withdraw):set_generated()
    item:add(F.route_type, tvb:range(q, 1))
    local len_item = item:add(F.length, tvb:range(q + 1, 1))
    if avail < l then
        item:add(F.available, avail):set_generated()
        len_item:add_proto_expert_info(E.overrun, string.format(
            "Monitor-config NLRI length %d runs past the end of %s: %d octets there "
            .. "(it is the attribute's last NLRI)",
            l, attr_names[attr_type], avail))
    end
    local status, s
    if avail < l then
        -- bgpd decodes nothing of it: the octets there are not a route,
        -- even when they would make one (counted as truncated, ignored)
        status, s = "truncated", {}
        item:add_proto_expert_info(E_reason.truncated, string.format(
            "Malformed monitor-config NLRI (truncated): %s (length %d, %d octets there); "
            .. "structural, the receiver ignores it", REASONS_TEXT.truncated, l, avail))
        if avail > 0 then item:add(F.undecoded, tvb:range(q + 2, avail)) end
    else
        status, s = decode_monitor(tvb, q + 2, avail, withdraw, item)
    end
    local action
    if status == "ok" then
        action = withdraw and "withdraw" or "install"
    elseif STRUCTURAL[status] then
        action = "ignore"
    else
        action = "treat-as-withdraw"
    end
    item:add(F.status, status):set_generated()
    item:add(F.action, action):set_generated()

    local function join(...)      -- the non-nil arguments, space-separated
        local t = {}
        for i = 1, select("#", ...) do
            local v = select(i, ...)
            if v then t[#t + 1] = v end
        end
        return table.concat(t, " ")
    end
    local txt = {}
    if s.host_id then txt[#txt + 1] = "HOST ID " .. s.host_id end
    if s.dest and s.dest ~= DEST_SERVER and s.dest ~= DEST_COLLECTOR then
        txt[#txt + 1] = "destination kind " .. s.dest
    end
    if s.collector_id then txt[#txt + 1] = "collector " .. s.collector_id end
    if s.host_mac or s.host_ip then
        txt[#txt + 1] = "host " .. join(s.host_mac, s.host_ip)
    end
    if s.vni then txt[#txt + 1] = "VNI " .. s.vni end
    if s.rd then txt[#txt + 1] = "RD " .. s.rd end
    if s.collector_id then
        if s.server_ip then txt[#txt + 1] = "collector IP " .. s.server_ip end
    elseif s.server_mac then
        txt[#txt + 1] = "server " .. join(s.server_mac, s.server_ip)
    end
    if s.orig_ip then txt[#txt + 1] = "originator " .. s.orig_ip end
    if s.profile then txt[#txt + 1] = s.profile end
    item:set_text(string.format("Monitor-config NLRI (%s%s): %s%s",
        attr_names[attr_type], withdraw and ", withdrawn" or "",
        table.concat(txt, ", "),
        status == "ok" and "" or string.format(" [malformed: %s, %s]", status, action)))
    self.n_nlri = self.n_nlri + 1
    if status ~= "ok" then self.n_bad = self.n_bad + 1 end
end

-- the EVPN NLRIs of one MP_REACH/MP_UNREACH attribute, [q, vend)
function Ctx:evpn_nlris(tvb, q, vend, attr_type)
    local stock_stopped = false -- or the route type the stock dissector stopped at
    while q < vend do
        if q + 2 > vend then
            self:root():add_proto_expert_info(E.evpn_header, string.format(
                "%d octet(s) left in %s after the last EVPN NLRI", vend - q, attr_names[attr_type]))
            return
        end
        local rt, l = u(tvb, q, 1), u(tvb, q + 1, 1)
        local avail = math.min(l, vend - q - 2)
        if avail < l and self.cap_end and vend >= self.cap_end then
            -- not the attribute's end but the capture's: nothing to judge
            self:root():add_proto_expert_info(E.cut)
            return
        end
        if rt == ROUTE_TYPE then
            self:monitor_nlri(tvb, q, l, avail, attr_type)
        elseif stock_stopped then
            local it = self:root():add(F.other, tvb:range(q, 2 + avail))
            it:add(F.other_type, tvb:range(q, 1))
            it:add(F.other_len, tvb:range(q + 1, 1))
            it:append_text(string.format(": route type %d, length %d (the BGP dissector stops "
                .. "decoding this attribute at route type %d)", rt, l, stock_stopped))
        end
        if not stock_stopped and (rt == 0 or rt > 5) then stock_stopped = rt end
        if avail < l then return end -- overrun: necessarily the last one
        q = q + 2 + l
    end
end

-- UPDATE message [off, mend) (off = marker)
function Ctx:update(tvb, off, mend)
    local p = off + 19
    if p + 2 > mend then return end
    p = p + 2 + u(tvb, p, 2)          -- withdrawn routes
    if p + 2 > mend then return end
    local aend = math.min(p + 2 + u(tvb, p, 2), mend)
    p = p + 2
    while p + 3 <= aend do
        local flags, t = u(tvb, p, 1), u(tvb, p + 1, 1)
        local hl = (math.floor(flags / 16) % 2 == 1) and 4 or 3
        if p + hl > aend then return end
        local vlen = hl == 4 and u(tvb, p + 2, 2) or u(tvb, p + 2, 1)
        local v, vend = p + hl, math.min(p + hl + vlen, aend)
        if (t == ATTR_MP_REACH or t == ATTR_MP_UNREACH) and v + 3 <= vend
            and u(tvb, v, 2) == AFI_L2VPN and u(tvb, v + 2, 1) == SAFI_EVPN then
            local q = v + 3
            if t == ATTR_MP_REACH then
                -- next hop length, next hop, reserved (SNPA count)
                if q + 1 > vend then return end
                q = q + 1 + u(tvb, q, 1) + 1
            end
            if q <= vend then self:evpn_nlris(tvb, q, vend, t) end
        end
        p = p + hl + vlen
    end
end

-- OPEN message: optional parameters (RFC 5492; RFC 9072 extended form)
function Ctx:open(tvb, off, mend)
    local p = off + 29
    if p > mend then return end
    local optlen, ext = u(tvb, off + 28, 1), false
    if optlen == 255 and p + 3 <= mend and u(tvb, p, 1) == 255 then
        ext, optlen, p = true, u(tvb, p + 1, 2), p + 3
    end
    local oend = math.min(p + optlen, mend)
    local hl = ext and 3 or 2
    while p + hl <= oend do
        local ptype = u(tvb, p, 1)
        local plen = ext and u(tvb, p + 1, 2) or u(tvb, p + 1, 1)
        local v, pend = p + hl, math.min(p + hl + plen, oend)
        if ptype == 2 then                         -- Capabilities
            local c = v
            while c + 2 <= pend do
                local code, clen = u(tvb, c, 1), u(tvb, c + 1, 1)
                local avail = math.min(clen, pend - c - 2)
                if code == CAP_CODE then
                    local it = self:root():add(F.cap, tvb:range(c, 2 + avail))
                    it:add(F.cap_code, tvb:range(c, 1))
                    local li = it:add(F.cap_len, tvb:range(c + 1, 1))
                    local types = {}
                    for i = 0, avail - 1 do
                        it:add(F.cap_rtype, tvb:range(c + 2 + i, 1))
                        local t = u(tvb, c + 2 + i, 1)
                        types[#types + 1] = string.format("%d (%s)", t, rtype_names[t] or "unknown")
                    end
                    if avail < clen then
                        li:add_proto_expert_info(E.cap_trunc, string.format(
                            "Capability 239 length %d, %d octets in the parameter", clen, avail))
                    elseif clen == 0 then
                        it:add_proto_expert_info(E.cap_empty)
                    end
                    it:set_text("Capability 239, EVPN extension route types: "
                        .. (#types > 0 and table.concat(types, ", ") or "none"))
                    self.n_cap = self.n_cap + 1
                end
                c = c + 2 + clen
            end
        end
        p = p + hl + plen
    end
end

function evpnmon.dissector(tvb, pinfo, tree)
    local markers = { f_marker() }
    if #markers == 0 then return end
    local ctx = setmetatable({ tree = tree, n_nlri = 0, n_bad = 0, n_cap = 0 }, Ctx)
    for _, fi in ipairs(markers) do
        local ok, err = pcall(function()
            local src, off = fi.source, fi.offset
            local have = src:len()                 -- captured octets
            if off + 19 > have then return end
            local mlen, mtype = u(src, off + 16, 2), u(src, off + 18, 1)
            if mlen < 19 then return end
            local mend = math.min(off + mlen, have)
            ctx.cap_end = (off + mlen > have) and have or nil
            if mtype == 1 then
                ctx:open(src, off, mend)
            elseif mtype == 2 then
                ctx:update(src, off, mend)
            end
        end)
        if not ok then
            ctx:root():add_proto_expert_info(E.internal, "evpn-monitor.lua: " .. tostring(err))
        end
    end
    if ctx.n_nlri > 0 then
        pcall(function()
            pinfo.cols.info:append(string.format(" [EVPN monitor-config: %d NLRI%s]",
                ctx.n_nlri, ctx.n_bad > 0 and string.format(", %d malformed", ctx.n_bad) or ""))
        end)
    end
end

register_postdissector(evpnmon)
