"""IP_ADDRESS: valid, globally routable IPv4/IPv6; private, reserved and well-known DNS servers
kept; versions, OIDs and number lists are not addresses."""

from __future__ import annotations

import ipaddress
import re

import regex

from codecorpus.pii.recognizers.base import CodeRecognizer, ScanState, _finditer
from codecorpus.pii.recognizers.heuristics import identifier_words

# --- IP_ADDRESS ----------------------------------------------------------------------------

_IPV4_HINT = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d")             # literal first: the engine skips to each "."
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")
_IPV4 = regex.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
# An IPv4 tail (``::ffff:1.2.3.4``, ``64:ff9b::1.2.3.4``) is part of the address: the lookahead
# refuses to stop before ``.\d``, so the match takes the whole dotted tail.
_IPV6 = regex.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}+(?:[0-9A-Fa-f]{1,4}|(?<=:):)?"
                      r"(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?(?![\w:]|\.\d)")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_DECIMAL = re.compile(r"-?\d*\.\d+")
_NUMBER_SPLIT = re.compile(r"[,\s\-]+")


def _numeric_data(text: str, start: int, end: int) -> bool:
    """Whether an address-looking match sits among plain decimal numbers (2.54, -.6)."""
    window = text[max(0, start - 30):start] + " " + text[end:end + 30]
    score = 0.0
    for t in _NUMBER_SPLIT.split(window):
        if _DECIMAL.fullmatch(t):
            score += 1
        elif t.isdigit():
            score += 0.5
    return score >= 2


_VERSION_WORD = regex.compile(r"(?i)version|\bver\b|release|\brev\b|runtime|\bos\b|build|assembly|\bv\d")
_IP_CONTEXT = frozenset(("ip", "host", "server", "dns", "addr", "address", "gateway", "route", "listen", "bind",
               "connect", "proxy", "endpoint", "nameserver", "resolver", "peer", "remote", "upstream", "inet",
               "subnet", "cidr", "network", "ping", "ssh", "url", "http", "https", "socket", "client", "ipv4",
                         "ips", "hostname", "hosts", "servers", "addr", "tcp", "udp", "firewall", "allow", "deny",
                         "whitelist", "allowlist", "blacklist", "blocklist", "vpn"))
_VERSION_CONTEXT = regex.compile(r"(?i)(?:\b(?:v|version|ver|release|rev|revision|build|tag)|==|>=|<=|~=|\^|@)"
                                r"[ \t]*[:=]?[ \t]*[\"']?$")


class CodeIpRecognizer(CodeRecognizer):
    ENTITIES = ("IP_ADDRESS",)

    def find(self, text, state, nlp_artifacts=None):
        state.charge(2 * len(text))  # the two hint searches
        if _IPV4_HINT.search(text):
            for m in _finditer(_IPV4, text, state):
                state.tick()
                if self._keep_v4(m.group(), text, m.start(), m.end(), state):
                    continue
                yield "IP_ADDRESS", m.start(), m.end()
        if "::" in text or _IPV6_HINT.search(text):
            for m in _finditer(_IPV6, text, state):
                state.tick()
                value = m.group()
                if value.count(":") < 2 or not any(c.isdigit() for c in value):
                    continue
                if sum(2 if "." in g else 1 for g in value.split(":") if g) < 3:
                    continue
                try:
                    ip = ipaddress.IPv6Address(value)
                except ValueError:
                    continue
                embedded = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None)
                if embedded is not None:  # judged as the IPv4 address it carries
                    if self._keep(embedded, str(embedded)):
                        continue
                elif self._keep(ip, value):
                    continue
                yield "IP_ADDRESS", m.start(), m.end()

    def _keep(self, ip, value: str) -> bool:
        if value in self.settings.keep_ips or str(ip) in self.settings.keep_ips:
            return True
        if ip.is_multicast or ip.is_unspecified or ip.is_loopback:
            return True
        return self.settings.keep_non_global_ips and not ip.is_global

    def _keep_v4(self, value: str, text: str, start: int, end: int, state: ScanState) -> bool:
        try:
            ip = ipaddress.IPv4Address(value)
        except ValueError:
            return True  # 999.1.1.1, leading zeros: not an address
        if self._keep(ip, value):
            return True
        window = text[max(0, start - 60):min(len(text), end + 60)]
        network = not _IP_CONTEXT.isdisjoint(identifier_words(window))
        line_before = text[max(0, start - 40):start].rsplit("\n", 1)[-1]
        if _VERSION_CONTEXT.search(line_before):
            return True
        if value.endswith(".0.0"):
            return True  # 17.0.0.0: a network or a version, never one host
        if _numeric_data(text, start, end):
            return True  # SVG paths, coordinate lists: "…2.54,3.38.85.9,3.79…"
        if not network and (len(value) == 7 or _VERSION_WORD.search(line_before)):
            return True  # x.x.x.x, "Version: Unix 6.14.0.32": versions unless the context says network
        return False
