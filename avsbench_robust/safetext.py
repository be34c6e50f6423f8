"""One function that makes any text safe to print as (part of) a one-line message.

Names and fields come from strangers (file names, CSV cells, entry folders, JSON values): printed raw,
a newline or carriage return forges output lines, an ANSI escape drives the terminal, a 5 MB field
floods the log. Every error, warning, progress and ci line that shows such text passes it through here.
"""
from __future__ import annotations

import re

#: Longest piece of untrusted text shown in one message (characters, before the "+N chars" note).
MAX_FIELD_CHARS = 300
#: Longest whole message line (the CLI's last guard on everything it prints to stderr).
MAX_LINE_CHARS = 8000

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}
# C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators and bidi overrides that
# terminals and editors honour; everything else (accents, CJK, emoji) stays as it is.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: "re.Match[str]") -> str:
    ch = match.group(0)
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: object, limit: int = MAX_FIELD_CHARS) -> str:
    """`text` on one line: control characters escaped (`\\n`, `\\x1b`, ...), at most `limit` characters kept.

    Idempotent (escaped text has nothing left to escape) and never raises, whatever `str(text)` holds.
    """
    try:
        s = text if isinstance(text, str) else str(text)
    except Exception:  # a hostile __str__ must not turn an error message into a traceback
        s = f"<unprintable {type(text).__name__}>"
    if len(s) > 4 * limit + 64:  # escape only what can be shown: a 5 MB field costs no more than a short one
        s, dropped = s[: 4 * limit], len(s) - 4 * limit
    else:
        dropped = 0
    out = _UNSAFE.sub(_escape, s)
    if len(out) > limit:
        dropped += len(out) - limit
        out = out[:limit]
    # a cut must not leave half an escape ("\x1" reads as something else): trim to the last whole one
    tail = out[-6:]
    cut = tail.rfind("\\")
    if dropped and cut >= 0 and not re.fullmatch(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|[nrt])", tail[cut:]):
        dropped += len(tail) - cut
        out = out[: len(out) - (len(tail) - cut)]
    return f"{out}... (+{dropped} chars)" if dropped else out
