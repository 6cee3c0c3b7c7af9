"""Visibility queries confined to the routes a caller may list, and opaque page tokens.

``GET /workflows?query=`` takes Temporal's visibility query language, but the gateway sends
Temporal ``(<restriction>) AND (<caller's query>)``, where the restriction names, per route the
caller may list, its id prefix and workflow type. The caller's text must therefore never be able
to leave its parentheses. Rather than parse the whole language (Temporal's parser decides what
is valid, and a query it refuses is a 400 anyway), :func:`parse` tokenizes just enough to know
where strings, parentheses and comments are, and refuses anything that could reach past the
closing parenthesis: an unbalanced ``)``, an unterminated quote, a comment (``--``, ``#``,
``/*``), a ``;``, a backslash (Temporal's parser reads escapes in strings; refusing them means
this tokenizer and that parser always agree on where a string ends) and an ``ORDER BY``
anywhere but at the very end, where it is moved after the wrapped expression.

Page tokens are Temporal's, with an HMAC of it and the query it belongs to in front, by a key
the server holds: a garbage or forged token, or one from another query, is a 400 here rather
than an error there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway_api.errors import InvalidQuery
from gateway_core.routes import CompiledRoute

MAX_QUERY_LENGTH = 2000
"""Characters in a caller's query; real filters are a few clauses long."""
_QUOTES = "'\"`"
_WORD = re.compile(r"[A-Za-z0-9_.$]+")
_SORT_DIRECTIONS = frozenset({"ASC", "DESC"})
_TOKEN_DIGEST_BYTES = 16


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int
    depth: int
    """Parenthesis depth before the token."""
    quoted: bool = False


def _tokens(query: str) -> list[_Token]:
    """The query's tokens outside and including quoted strings, with their depth.

    Raises:
        InvalidQuery: something that could end the caller's expression early.
    """
    tokens: list[_Token] = []
    depth = 0
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char == "\\":
            raise InvalidQuery("query", "backslashes are not allowed")
        elif char in _QUOTES:
            end = i + 1
            while True:
                end = query.find(char, end)
                if end < 0:
                    raise InvalidQuery("query", f"unterminated {char} quote at {i}")
                if query.startswith(char * 2, end):  # a doubled quote stands for itself
                    end += 2
                    continue
                break
            text = query[i : end + 1]
            if "\\" in text:
                raise InvalidQuery("query", "backslashes are not allowed")
            tokens.append(_Token(text, i, depth, quoted=True))
            i = end + 1
        elif char == ";" or char == "#" or query.startswith(("--", "/*", "*/"), i):
            raise InvalidQuery("query", f"{query[i : i + 2].strip()!r} is not allowed (at {i})")
        elif char == "(":
            tokens.append(_Token(char, i, depth))
            depth += 1
            i += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise InvalidQuery("query", f"')' at {i} closes a parenthesis never opened")
            tokens.append(_Token(char, i, depth))
            i += 1
        elif match := _WORD.match(query, i):
            tokens.append(_Token(match[0], i, depth))
            i = match.end()
        elif char.isprintable():
            tokens.append(_Token(char, i, depth))
            i += 1
        else:
            raise InvalidQuery("query", f"control character at {i}")
    if depth != 0:
        raise InvalidQuery("query", f"{depth} parenthesis(es) left open")
    return tokens


def _split_order_by(query: str, tokens: list[_Token]) -> tuple[str, str]:
    """The filter and the trailing ``ORDER BY ...`` clause (empty when there is none).

    Raises:
        InvalidQuery: ``ORDER BY`` inside parentheses or followed by anything but sort keys.
    """
    for n, token in enumerate(tokens[:-1]):
        if token.quoted or token.text.upper() != "ORDER" or tokens[n + 1].text.upper() != "BY":
            continue
        if token.depth != 0:
            raise InvalidQuery("query", "ORDER BY may only end the query")
        keys = tokens[n + 2 :]
        expect_key = True
        for key in keys:
            if expect_key:
                ok = key.text.startswith("`") or (not key.quoted and _WORD.fullmatch(key.text))
                expect_key = False
            elif key.text == ",":
                ok, expect_key = True, True
            else:
                ok = key.text.upper() in _SORT_DIRECTIONS and not key.quoted
            if not ok or key.text.upper() in {"ORDER", "BY"}:
                raise InvalidQuery(
                    "query", "ORDER BY may only end the query, followed by sort keys"
                )
        if expect_key:
            raise InvalidQuery("query", "ORDER BY needs a sort key")
        return query[: token.start].strip(), query[token.start :].strip()
    return query.strip(), ""


def _literal(value: str) -> str:
    """``value`` as a single-quoted string Temporal's parser reads back unchanged."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def restriction(routes: Iterable[CompiledRoute], *, owner: str | None = None) -> str:
    """The filter matching only workflows started through ``routes``; of an owner-only route,
    only those of the caller whose scope is ``owner`` (None: an administrator, all of them).

    Raises:
        ValueError: no routes (there is nothing to match: do not ask Temporal).
    """
    clauses = [
        f"(WorkflowId STARTS_WITH {_literal(_prefix(r, owner))} "
        f"AND WorkflowType = {_literal(r.spec.workflow_type)})"
        for r in routes
    ]
    if not clauses:
        raise ValueError("no routes to restrict the query to")
    return " OR ".join(clauses)


def _prefix(route: CompiledRoute, owner: str | None) -> str:
    return (
        route.owned_prefix(owner)
        if route.owner_only and owner is not None
        else route.spec.id_prefix
    )


@dataclass(frozen=True, slots=True)
class Filter:
    """A caller's query, checked: it cannot reach past the parentheses it is sent in."""

    where: str
    order_by: str
    """``ORDER BY ...`` when the query ended with one, else empty."""

    def within(
        self, routes: Iterable[CompiledRoute], *, ordered: bool = True, owner: str | None = None
    ) -> str:
        """The visibility query to send: this filter within ``routes``' workflows.

        Raises:
            ValueError: no routes.
        """
        confined = f"({restriction(routes, owner=owner)})"
        if self.where:
            confined += f" AND ({self.where})"
        return f"{confined} {self.order_by}" if ordered and self.order_by else confined


def parse(query: str | None) -> Filter:
    """Check a caller's query.

    Raises:
        InvalidQuery: the query could widen the restriction, or is too long.
    """
    text = query or ""
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQuery("query", f"longer than {MAX_QUERY_LENGTH} characters")
    where, order_by = _split_order_by(text, _tokens(text))
    return Filter(where, order_by)


class PageTokenKeys:
    """The keys page tokens are signed with: the first signs, any verifies, so a key is rotated
    by putting the new one first and dropping the old one a page's lifetime later. From
    ``API_PAGE_TOKEN_KEYS`` (every replica the same, from one Secret); unset, a key of this
    process's own, and a token is good only on the replica that made it."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key")
        self.keys = tuple(keys)

    @classmethod
    def from_setting(cls, text: str | None) -> PageTokenKeys:
        if not text:
            return cls([secrets.token_bytes(32)])
        return cls([k.strip().encode() for k in text.split(",") if k.strip()])

    def sign(self, query: str, token: bytes) -> bytes:
        return self._mac(self.keys[0], query, token)

    def verifies(self, query: str, token: bytes, digest: bytes) -> bool:
        return any(hmac.compare_digest(self._mac(k, query, token), digest) for k in self.keys)

    @staticmethod
    def _mac(key: bytes, query: str, token: bytes) -> bytes:
        mac = hmac.new(key, query.encode() + b"\0" + token, hashlib.sha256)
        return mac.digest()[:_TOKEN_DIGEST_BYTES]


def encode_page_token(keys: PageTokenKeys, query: str, token: bytes | None) -> str | None:
    """The opaque ``next_page_token`` for Temporal's ``token`` of ``query``: Temporal's token
    behind an HMAC of it and the query, so no caller can make one up."""
    if not token:
        return None
    return base64.urlsafe_b64encode(keys.sign(query, token) + token).rstrip(b"=").decode()


def decode_page_token(keys: PageTokenKeys, query: str, page_token: str | None) -> bytes | None:
    """Temporal's token back from :func:`encode_page_token` for the same ``query``.

    Raises:
        InvalidQuery: not a token this API made for this query (forged, or another query's).
    """
    if not page_token:
        return None
    try:
        raw = base64.urlsafe_b64decode(page_token + "=" * (-len(page_token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidQuery("page_token", "not a page token") from None
    digest, token = raw[:_TOKEN_DIGEST_BYTES], raw[_TOKEN_DIGEST_BYTES:]
    if not token or not keys.verifies(query, token, digest):
        raise InvalidQuery(
            "page_token", "not a page token of this query: pass the same query and route"
        )
    return token
