"""Text from a configuration, made plain ASCII before anything else reads it.

Contract: ``plain(text, what)`` returns ``text`` in Unicode NFKC form (so full-width
``＋５５`` becomes ``+55``) when every character of the result is ASCII, and otherwise
raises ``ValueError`` naming the first offending character, its code point
and its Unicode name. Phone numbers, caller patterns, SIP addresses, audio names and
e-mail addresses all pass through it, so look-alike digits (``٣``), invisible
characters (U+200B) and mixed scripts are refused with a message that says which
character to remove, instead of reaching a dial string or silently never matching.

ASCII control characters are left to each field's own check (its alphabet is stricter
and its message more useful). Values from the switch are not normalised (a caller ID with such characters is no
valid number: ``rules.numbers`` reads it as an unknown caller).
"""
from __future__ import annotations

import functools
import unicodedata

__all__ = ["plain"]


@functools.lru_cache(maxsize=65_536)
def plain(text: str, what: str) -> str:
    if text.isascii():
        return text
    normal = unicodedata.normalize("NFKC", text)
    for char in normal:
        if not char.isascii():
            name = unicodedata.name(char, "unnamed character")
            raise ValueError(f"{what} may only hold ASCII characters: {char!r} "
                             f"(U+{ord(char):04X} {name}) is not allowed")
    return normal
