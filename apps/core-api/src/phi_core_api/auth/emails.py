"""One spelling per email address, so that look-alikes are not separate accounts.

Before this, ``аlice@example.com`` (Cyrillic ``а``) and ``ａｌｉｃｅ@example.com`` (fullwidth
letters) signed up as accounts of their own beside ``alice@example.com``, and an
administrator reading a member list could not tell them apart. :func:`canonical_email`:

* applies NFKC, which turns compatibility forms (fullwidth letters, ligatures, the
  ideographic full stop) into the plain characters they stand for, then lowercases;
* refuses a local part (before the ``@``) that is still not ASCII: mail systems treat
  Unicode local parts inconsistently and they are where look-alikes hide;
* writes the domain in its IDNA ASCII form (``xn--...``), whichever form it came in, and
  refuses a domain label that mixes scripts (``exаmple``: Latin with a Cyrillic letter),
  allowing only the mixes Unicode's "highly restrictive" profile (UTS #39) allows: Latin
  with Han and Japanese kana, with Han and Bopomofo, or with Han and Hangul.
"""

from __future__ import annotations

import unicodedata

import idna
from confusable_homoglyphs import categories

# Scripts that may share one domain label (UTS #39, highly restrictive).
ALLOWED_SCRIPT_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Characters of no script of their own: digits, hyphens, combining marks.
NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED"})


def _scripts(label: str) -> set[str]:
    return set(categories.unique_aliases(label)) - NEUTRAL_SCRIPTS


def canonical_email(email: str) -> str:
    """The address as accounts are stored and looked up; ``ValueError`` naming the problem
    when it cannot be an account's address (see the module docstring)."""
    text = unicodedata.normalize("NFKC", email).strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("an email address needs a part before and after '@'")
    if not local.isascii():
        odd = next(c for c in local if not c.isascii())
        raise ValueError(
            f"the part before '@' must be ASCII; it has {unicodedata.name(odd, repr(odd))}"
        )
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
        unicode_domain = idna.decode(ascii_domain)
    except idna.IDNAError as exc:
        raise ValueError(f"the domain is not a valid domain name ({exc})") from None
    for label in unicode_domain.split("."):
        scripts = _scripts(label)
        if len(scripts) > 1 and not any(scripts <= mix for mix in ALLOWED_SCRIPT_MIXES):
            raise ValueError(
                f"the domain part {label!r} mixes scripts ({', '.join(sorted(scripts))}); "
                "look-alike addresses are not accepted"
            )
    return f"{local.lower()}@{ascii_domain.lower()}"
