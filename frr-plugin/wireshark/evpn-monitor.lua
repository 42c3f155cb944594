-- SPDX-License-Identifier: GPL-2.0-or-later
--
-- evpn-monitor.lua: Wireshark/tshark (4.0+) Lua plugin for evpn-monitor's
-- BGP extensions (docs/wire-format.md, section 1):
--
--   * the EVPN monitor-config route, EVPN route type 254, inside
--     MP_REACH_NLRI / MP_UNREACH_NLRI (AFI 25 / SAFI 70): every field, and
--     every malformation the C codec (frr-plugin/module/evpn_mon_codec.c,
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
-- and evpn_mon_validate() step by step (same checks, same order, same
-- reason names as evpn_mon_errname()); tests/frr-plugin/test_dissector.py
-- checks it against the compiled C codec and against a real FRR fabric.
-- Nothing here throws out of the dissector: every read is bounds-checked and
-- the whole walk runs under pcall (an unexpected Lua error becomes the
-- expert info evpnmon.internal_error).

local ROUTE_TYPE = 254           -- EVPN_MON_ROUTE_TYPE
local CAP_CODE = 239             -- EVPN_MON_CAPABILITY_CODE
local NLRI_MIN, NLRI_MAX = 35, 73 -- EVPN_MON_NLRI_MIN_LEN / _MAX_LEN
local HOST_ID_MIN, HOST_ID_MAX = 1, 65535
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
}

local REASONS_TEXT, STRUCTURAL = {}, {}
for _, r in ipairs(REASONS) do
    REASONS_TEXT[r[1]] = r[2]
    STRUCTURAL[r[1]] = r[3]
end

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
    host_id       = ProtoField.uint32("evpnmon.nlri.host_id", "HOST ID"),
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
    orig_ip_len   = ProtoField.uint8("evpnmon.nlri.orig_ip_len", "Originating Router's IP Length (bits)"),
    orig_ip       = ProtoField.ipv4("evpnmon.nlri.orig_ip", "Originating Router's IP"),
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
E.internal = ProtoExpert.new("evpnmon.internal_error",
    "evpn-monitor.lua could not finish this message", expert.group.UNDECODED, expert.severity.WARN)
for _, k in ipairs({ "overrun", "flags", "evpn_header", "cap_trunc", "cap_empty", "cut", "internal" }) do
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
    s.host_id = u(tvb, off + 16, 4)
    local host_id_item = tree:add(F.host_id, tvb:range(off + 16, 4))
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

    -- server IP: 0, 32 or 128 bits
    at, n = field(F.server_ip_len, { [0] = 0, [32] = 4, [128] = 16 }, "serverIpLength", "server IP")
    if fail then return structural(fail[1], fail[2], fail[3]) end
    if n > 0 then
        s.server_ip = ip_str(tvb, at, n)
        tree:add(n == 4 and F.server_ip or F.server_ipv6, tvb:range(at, n))
    end

    -- originating router's IP: 32 bits
    at, n = field(F.orig_ip_len, { [32] = 4 }, "originatorIpLength", "originating router IP")
    if fail then return structural(fail[1], fail[2], fail[3]) end
    s.orig_ip = ip_str(tvb, at, 4)
    tree:add(F.orig_ip, tvb:range(at, 4))

    if left ~= 0 then
        local it = tree:add(F.trailing, tvb:range(pos, left))
        it:add_proto_expert_info(E_reason.trailingOctets, string.format(
            "Malformed monitor-config NLRI (trailingOctets): %s (%d); structural, the receiver ignores it",
            REASONS_TEXT.trailingOctets, left))
        return "trailingOctets", s
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
    if s.host_id < HOST_ID_MIN or s.host_id > HOST_ID_MAX then
        semantic("hostIdOutOfRange", host_id_item, tostring(s.host_id))
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
    if not withdraw and not mac_unicast(tvb, server_mac_at) then
        semantic("serverMacNotUnicast", server_mac_item, s.server_mac)
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
    if s.host_mac or s.host_ip then
        txt[#txt + 1] = "host " .. join(s.host_mac, s.host_ip)
    end
    if s.vni then txt[#txt + 1] = "VNI " .. s.vni end
    if s.rd then txt[#txt + 1] = "RD " .. s.rd end
    if s.server_mac then
        txt[#txt + 1] = "server " .. join(s.server_mac, s.server_ip)
    end
    if s.orig_ip then txt[#txt + 1] = "originator " .. s.orig_ip end
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
