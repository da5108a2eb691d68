"""Reading JDs and SOPs as a person does, for the builtin composer.

A reader goes by the document's sections: lines under "Key responsibilities" are duties, under
"Rules and standards" rules, under "Health and safety" safety constraints, and what sits under
"Purpose", "Qualifications" or "Contacts" does not describe the work. The cover page
("Location: …", "Reports to: …", "Version 4.2, effective …") is metadata, except that the
working hours it states bound when scheduled work may run (``schedules.py`` reads the
recurring work a line states). Under a heading that names a topic instead ("Returns",
"End of shift"), the shape of each sentence decides: a limit or a prohibition is a rule, a
hazard or protected data is safety, a description or a target is left out, and the rest, in
the passive too ("the invoice is sent to the customer"), is work to do. Only where a
document has no headings at all does the wording alone decide. Nothing is added that the
documents do not say: no duty, figure, day or time.

Measured on the labelled set in ``bench/data/profiles`` by ``bench/profile_composer.py``
(figures in docs/benchmarks.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from phi_core_api.profiles.schedules import TIME, Schedule, WorkingHours, schedules_of

Kind = Literal["duties", "rules", "safety"]
# A section of rules and safety lines together ("Do's and don'ts"): the wording decides which.
Section = Literal["duties", "rules", "safety", "mixed"]

# Section headings, by what their lines are. Checked in this order: "Safety rules" is safety.
SECTION_WORDS: tuple[tuple[Section | None, re.Pattern[str]], ...] = (
    (
        None,
        re.compile(
            r"\b(purpose|scope|overview|about (the role|the job|us|you)|summary|introduction|"
            r"qualifications?|skills?|experience|person spec\w*|what you bring|about you|"
            r"(what )?we('re| are)? look(ing)? for|"
            r"what you need|you('ll| will) (have|need)|benefits|what we offer|salary|"
            r"contacts?|kpis?|targets?|key (figures|indicators)|performance|"
            r"^(?:\d+(?:\.\d+)*\.?\s+)?measures$|"
            r"definitions?|references?|appendix|revision history|document control|"
            r"distribution|glossary|training|working (hours|pattern|time)|hours of work|"
            r"shift pattern|rota|^(working |your )?schedule)\b",
            re.I,
        ),
    ),
    (
        "mixed",
        re.compile(r"\b(do'?s and don'?ts|dos and donts|do and do not|general rules)\b", re.I),
    ),
    (
        "safety",
        re.compile(
            r"\b(safety|safe|health|hazards?|coshh|ppe|emergenc\w*|security|data protection|"
            r"confidential\w*|privacy|gdpr|fraud|safeguarding)\b",
            re.I,
        ),
    ),
    (
        "rules",
        re.compile(
            r"\b(rules?|standards?|polic\w*|controls|internal controls?|compliance|requirements|"
            r"service levels?|sla|approvals?|limits?|conduct|escalation)\b",
            re.I,
        ),
    ),
    (
        "duties",
        re.compile(
            r"\b(responsibilit\w*|duties|tasks|accountabilit\w*|what you will do|"
            r"day[- ]to[- ]day|procedure|process|steps|method|activities|routine|"
            r"handling|operations?|main work|(the|your) (job|role)|key tasks|how we)\b",
            re.I,
        ),
    ),
)
PERSON_SPEC = re.compile(r"\b(requirements|essential|desirable|criteria|profile)\b", re.I)
# Cover-page and document-control fields: never profile lines.
META_LINE = re.compile(
    r"^\W*(location|site|office|reports? to|line manager|manager|department|team|division|"
    r"grade|band|salary|pay|contract|owner|document owner|author|approved by|prepared by|"
    r"review(ed)? date|next review|version|revision|rev|issue|issued|effective( date| from)?|"
    r"applies from|date|sop (no|number)|document (no|number|ref)|ref(erence)?|"
    r"company|employer|shift|hours|working hours|job title|role|status)\b[^:]{0,20}:",
    re.I,
)
DOC_CONTROL = re.compile(
    r"^\W*(version|revision|rev\.?|issue)\s*\d[\w.]*\b|\bpage \d+ of \d+\b|"
    r"\b(effective|issued|applies from)\b.*\b(19|20)\d\d\b",
    re.I,
)
TAIL_HEADING = re.compile(r"(?<=[a-z0-9)])\s+((?:[A-Z][a-z'-]+)(?:\s+[a-z'-]+){0,4})$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# A full stop that ends an abbreviation, not a sentence ("Northline Haulage Ltd. The…" is
# ambiguous; "Ltd. Manager runs…" split there would leave "Manager runs…" without its subject).
ABBREVIATION = re.compile(
    r"(?:\b(?:ltd|co|inc|plc|mr|mrs|ms|dr|st|approx|incl|dept|vs|ref|fig)|\b[a-z]\.[a-z])\.$",
    re.I,
)
FIELD_LINE = re.compile(r"^\W*[A-Z][\w /&'().-]{0,30}(?<!\d):\s*\S")  # not "At 06:45"
HOURS_RANGE = re.compile(TIME + r"\s*(?:-|–|—|to|until)\s*" + TIME)
HOURS_CONTEXT = re.compile(r"\b(hours?|shift|working|contract|rota|monday|weekdays?)\b", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•·▪►●◦]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+")
# A list run into one paragraph by extraction: "…in the system. - Review the…".
_INLINE_BULLET = re.compile(r"\s+[•▪●◦]\s+(?=\S)|(?<=[.!?;:])\s+(?:[-*]|\d{1,2}[.)])\s+(?=[A-Z])")
_NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(?=[A-Z])")
IMPERATIVE = re.compile(
    r"^(answer|assign|book|brief|calculate|carry|chair|chase|check|coach|collect|compile|"
    r"complete|confirm|coordinate|count|create|deliver|download|draft|enter|file|follow|"
    r"generate|handle|hold|inspect|investigate|issue|keep|load|log|maintain|manage|match|"
    r"monitor|order|organi[sz]e|plan|post|prepare|print|process|produce|publish|put|raise|"
    r"receive|recount|reconcile|record|register|replenish|report|review|run|schedule|send|"
    r"set|sign|submit|supervise|support|track|train|update|verify|walk|write)\b",
    re.I,
)
# Words a line can start with that are not a verb telling someone what to do.
NOT_VERBS = frozenset(
    """the a an all any each every no our your their this that these those it its we you they
    he she i there where when if in on at for with by from to of as after before during until
    within only not never daily weekly monthly annual key main other new staff employees
    drivers customers visitors people one two three some most many such both either neither
    also please note""".split()
)
NOT_SECOND = frozenset(
    """is are was were be been has have had will would must should can could may might shall
    within of in on at for from to with by as than""".split()
)
# "Every Sunday, count the cages": the schedule phrase comes before the verb.
LEADING_WHEN = re.compile(
    r"^(?:(?:every|each|on|at|by|if|when|where)\s+[^,]{1,80},\s*|(?:daily|weekly|monthly),\s*)",
    re.I,
)
RESPONSIBLE = re.compile(
    r"\b(responsible for|you will|your (duties|job|role) (is|are|includes?))\b", re.I
)
# "The planner sends the route list…", "Every morning the clerk counts…": a role doing the work.
ROLE_DOES = re.compile(
    r"^(?:(?:every|each|at|on|after|before)\b[^,]{0,40}?,?\s+)?the\s+(?:[\w&-]+\s+){0,3}"
    r"(?:analyst|auditor|coordinator|manager|officer|planner|supervisor|controller|clerk|"
    r"technician|engineer|operator|setter|storekeeper|receptionist|specialist|assistant|"
    r"administrator|lead|agent|driver|handler)\s+(?!is\b|are\b|was\b|has\b|have\b|may\b|"
    r"can\b|must\b|should\b|will\b)[a-z]+s\b",
    re.I,
)
RULE_WORDS = re.compile(
    r"\b(must|shall|only|required?|requires|need|needs|approval|approved|may not|cannot|"
    r"no later than|at least|within|is not|are not|policy)\b|^no\b|"
    r"\b(over|above|more than|less than|under|below)\s+[$€£]?\d",
    re.I,
)
SAFETY_WORDS = re.compile(
    r"\b(safety|safe|hazard\w*|injur\w*|ppe|hi-vis|high-visibility|fire|emergenc\w*|"
    r"evacuat\w*|first aid|spill\w*|forklift\w*|lockout|locked off|accident\w*|danger\w*|"
    r"confidential\w*|personal data|password\w*|privacy|gdpr|fatigue|gloves|goggles|"
    r"fraud\w*|falsif\w*|tamper\w*|"
    r"protective|boots|guard(ing)?|isolat\w*|locked|unlocked|permit to work|hot work|"
    r"third part(y|ies)|unattended|"
    r"(patient|personal|customer|guest|employee|health)'?s?\s+(data|information|records?))\b",
    re.I,
)
# What makes a line a rule even when a role is doing the work in it.
STRICT_RULE = re.compile(r"\b(must|shall|only|required?|requires|may not|cannot|approval)\b", re.I)
# Conformity to a standard, a threshold in words other than RULE_WORDS' ("fewer than 20").
STANDARD = re.compile(
    r"\b(?:according to|in accordance with|fewer than\s+\d|no more than\s+\d)", re.I
)
AUTOMATIC = re.compile(r"\bautomatically\b", re.I)
# Clauses that state no limit of their own: a purpose ("so that nobody uses it"), a target
# ("the target is under 1% of orders").
NUMERIC_LIMIT = re.compile(
    r"\b(?:no more than|not more than|more than|less than|fewer than|over|above|under|below|"
    r"at most|at least|up to)\s+[$€£]?\d",
    re.I,
)
PURPOSE = re.compile(r"\bso that\b[^;]*|\b(?:the|its|our)\s+(?:[\w&-]+\s+)?target\b[^;]*", re.I)
# A time limit on the work of the line's own subject ("completes the assessment within 5 days").
DEADLINE = re.compile(r"\bwithin\s+(?:\d+|one|two|three|four|five|ten)\b", re.I)
# What someone may do ("A customer may ask for a refund"); "can" is as often what may happen
# ("if the fault can come back").
PERMISSION = re.compile(r"\bmay\s+(?!be\b|not\b)[a-z]+", re.I)
# How long something is kept ("kept for 6 years after the contract ends").
RETENTION = re.compile(
    r"\b(?:kept|retained|stored|archived)\s+for\s+(?:at least\s+)?(?:\d+|one|two|three|six|ten)\s+"
    r"(?:days|weeks|months|years)\b",
    re.I,
)
NEGATION = re.compile(
    r"\b(never|must not|do not|don't|may not|prohibited|forbidden|not (allowed|permitted))\b", re.I
)
_PARTICIPLE = (
    r"(?:\w{3,}ed|done|set|kept|sent|held|paid|put|run|given|told|shown|taken|written|thrown|"
    r"sold|brought|chosen|drawn|read|left|bought|found|cut|shut|met|spent|sought|struck)"
)
_ADVERB = r"(?:(?:also|then|only|not|first|\w+ly)\s+)?"
# Statements of work in the passive ("X is reconciled daily", "the invoice is sent to the
# customer"): a form of "be" and a past participle, not "is made of" or "is used to".
PASSIVE = re.compile(
    rf"\b(?:is|are|be|been|gets?)\s+{_ADVERB}{_PARTICIPLE}\b(?!\s+(?:of|to|on)\b)", re.I
)
# A line that describes rather than says what is done: a subject and "is"/"has" with no
# participle ("The standard price is the lowest…", "Every van has a log…"), or what
# something is made of.
DESCRIPTIVE = re.compile(
    r"^\W*(?!(?:when|if|after|before|once|where|while|as|until|unless)\b)"
    rf"(?:[\w&()'%-]+\s+){{1,7}}?(?:is|are|has|have)\s+(?!{_ADVERB}{_PARTICIPLE}\b)|"
    r"\b(?:made|composed) of\b|\bconsists? of\b",
    re.I,
)
# A figure the work is measured against ("The target error rate is under 2%"): not a rule.
TARGET = re.compile(r"^\W*(?:the |our |its )?(?:[\w&-]+ ){0,3}targets?\b", re.I)


@dataclass
class Reading:
    duties: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    safety: list[dict[str, Any]] = field(default_factory=list)
    hours: WorkingHours | None = None
    schedules: list[Schedule] = field(default_factory=list)

    def lines(self, kind: Kind) -> list[dict[str, Any]]:
        return getattr(self, kind)  # type: ignore[no-any-return]


# -- the text of a document --------------------------------------------------------------------


def _source(doc: dict[str, Any], chunk: dict[str, Any]) -> dict[str, Any]:
    return {
        "document_id": doc.get("id"),
        "document": doc["name"],
        "source_type": doc.get("source_type"),
        "page": chunk.get("page"),
        "page_end": chunk.get("page_end"),
    }


def _segments(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The document's text as (text, chunk) pieces without the overlap chunks repeat."""
    chunks = sorted(doc.get("chunks", []), key=lambda c: c.get("index") or 0)
    out: list[tuple[str, dict[str, Any]]] = []
    covered: int | None = None
    for chunk in chunks:
        text = chunk.get("text") or ""
        start, end = chunk.get("char_start"), chunk.get("char_end")
        if isinstance(start, int) and isinstance(covered, int) and covered > start:
            text = text[covered - start :]
        elif out:
            text = "\n\n" + text  # no offsets: chunks are separate passages
        covered = end if isinstance(end, int) else None
        out.append((text, chunk))
    return out


def _heading_levels(doc: dict[str, Any]) -> dict[str, int]:
    """Headings the extraction recognised (the chunks' heading paths), with their level."""
    levels: dict[str, int] = {}
    for chunk in doc.get("chunks", []):
        for depth, heading in enumerate(chunk.get("heading_path") or [], start=1):
            levels.setdefault(_norm(heading), depth)
    return levels


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip("#*_ ").rstrip(":")).lower()


def _rows(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """Lines of the document, each with the chunk it starts in and whether it is a list item;
    list items split apart and wrapped lines joined."""
    rows: list[tuple[str, dict[str, Any], bool]] = []
    full = ""
    marks: list[tuple[int, dict[str, Any]]] = []
    for text, chunk in _segments(doc):
        marks.append((len(full), chunk))
        full += text
    position = 0
    for block in re.split(r"(\n\s*\n)", full):
        start = position
        position += len(block)
        if not block.strip() or block.startswith("\n"):
            continue
        chunk = next(c for offset, c in reversed(marks) if offset <= start) if marks else {}
        merged: list[str] = []
        for raw in block.split("\n"):
            row = raw.strip()
            if not row:
                continue
            prev = merged[-1] if merged else None
            if (
                prev is not None
                and not _BULLET.match(row)
                and not _looks_like_heading(prev)
                and not FIELD_LINE.match(row)
                and not prev.endswith((".", "!", "?", ":", ";"))
            ):
                merged[-1] = f"{prev} {row}"
            else:
                merged.append(row)
        for row in merged:
            pieces = _INLINE_BULLET.split(row)
            for piece in pieces:
                item = len(pieces) > 1 or bool(_BULLET.match(piece))
                rows.append((piece.strip(), chunk, item))
    return rows


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences, not after an abbreviation or an initial."""
    out: list[str] = []
    for piece in SENTENCE_END.split(text):
        if out and ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _looks_like_heading(row: str) -> bool:
    text = row.strip()
    if text.startswith("#"):
        return True
    if _BULLET.match(text) and not _NUMBERED_HEADING.match(text):
        return False
    body = text.strip("*_ ").rstrip(":")
    return (
        0 < len(body) < 80
        and len(body.split()) <= 9
        and not body.endswith((".", "!", "?", ";", ","))
        and body[:1].isupper() | body[:1].isdigit()
    )


def _heading(row: str, levels: dict[str, int]) -> tuple[str, int | None] | None:
    """(title, level) when ``row`` is a heading; level None when the layout does not say."""
    key = _norm(row)
    if key in levels:
        return key, levels[key]
    hashes = len(row) - len(row.lstrip("#"))
    if hashes:
        return _norm(row), hashes
    number = _NUMBERED_HEADING.match(row)
    if number and _looks_like_heading(row) and not row.rstrip().endswith("."):
        return _norm(row[number.end() :]), number.group(1).count(".") + 1
    if _looks_like_heading(row) and not FIELD_LINE.match(row.rstrip(":")):
        return key, None
    return None


def _run_in_heading(row: str) -> tuple[str, str] | None:
    """(heading, rest) when a row starts with a section heading the extraction ran into it."""
    words = _NUMBERED_HEADING.sub("", row.strip()).split()
    if words and words[0].lower() in SENTENCE_OPENERS:
        return None  # "The Operations Manager runs…", "This form lists…": a sentence
    for n in range(1, min(4, len(words) - 3) + 1):
        title, following = " ".join(words[:n]), words[n]
        if title.endswith(":"):
            return None  # "Escalation: Head of Logistics" is a field, not a heading
        if following[:1].isupper() and _present_verb(words[n + 1]):
            # "Operations Manager runs the dispatch": the words are the subject of a verb,
            # and cutting a heading off them would leave the sentence without its subject.
            return None
        if (
            _section_kind(title)[0]
            and title[:1].isupper()
            and following[:1].isupper()
            and following.lower() not in NOT_VERBS | {"a", "i"}
            or following in ("This", "These", "The", "All", "Every", "Each")
            and _section_kind(title)[0]
        ):
            return title.lower(), " ".join(words[n:])
    return None


# Words a sentence starts with that a section heading does not.
SENTENCE_OPENERS = frozenset(
    "this these that those it its the a an our your their each every all any".split()
)


def _present_verb(word: str) -> bool:
    """Whether a lower-case word reads as a verb in the present tense ("runs", "checks")."""
    return (
        word[:1].islower()
        and word.endswith("s")
        and not word.endswith(("ss", "us", "is", "ous"))
        and word.lower() not in NOT_SECOND
        and len(word) > 3
    )


def _section_kind(title: str, source_type: str | None = None) -> tuple[bool, Section | None]:
    """(known, kind): a known heading that says what its lines are, or (False, None)."""
    if source_type == "JD" and PERSON_SPEC.search(title):
        return True, None  # a JD's "Requirements" are the candidate's, not the job's rules
    for kind, pattern in SECTION_WORDS:
        if pattern.search(title):
            return True, kind
    return False, None


def _is_metadata(row: str) -> bool:
    return bool(META_LINE.match(row) or DOC_CONTROL.search(row))


def working_hours(row: str) -> WorkingHours | None:
    match = HOURS_RANGE.search(row)
    if not match or not (HOURS_CONTEXT.search(row) or _is_metadata(row)):
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if not (0 <= h1 <= 23 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
        return None
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        return None  # a night shift over midnight: not bounded here
    weekdays = "1-5" if re.search(r"monday\s+(to|-|–)\s+friday|weekdays", row, re.I) else None
    return WorkingHours(start, end, weekdays)


def _by_wording(text: str, source_type: str | None) -> Kind | None:
    """Kind of a line in a section that does not say, or in a document without sections."""
    if NEGATION.search(text) and SAFETY_WORDS.search(text):
        return "safety"
    if IMPERATIVE.match(LEADING_WHEN.sub("", text)):
        return "duties"  # "Reconcile the outlets: every check must be posted…" is work to do
    if NEGATION.search(text) or RULE_WORDS.search(text):
        return "rules" if not SAFETY_WORDS.search(text) else "safety"
    if _imperative(text) or RESPONSIBLE.search(text) or ROLE_DOES.match(text):
        return "duties"
    return None


def _sentence_after_label(line: str) -> bool:
    """Whether a "Label: …" line goes on with a sentence ("Scrap: parts are destroyed…",
    "Weekly: the clerk checks…") rather than a value ("Reporting line: Supply Chain Manager")."""
    label, rest = line.split(":", 1)
    rest = rest.strip()
    return _section_kind(label) != (True, None) and rest[:1].islower() and len(rest.split()) >= 4


def _states_limit(text: str) -> bool:
    """Whether a sentence under a topic heading states a limit, a deadline or a permission.
    "need" and "policy" are left to the section headings here ("visitors who need a badge
    are signed in…", "an email explaining the policy" describe work), and "is not" counts
    only before a participle ("is not issued", not "are not in scope")."""
    text = re.sub(rf"\b(?:is|are)\s+not\s+(?!{_PARTICIPLE}\b)", " ", text, flags=re.I)
    text = re.sub(r"\b(?:need|needs|policy)\b", " ", text, flags=re.I)
    return bool(
        RULE_WORDS.search(text)
        or PERMISSION.search(text)
        or RETENTION.search(text)
        or STANDARD.search(text)
    )


def _verbless(text: str) -> bool:
    """A short noun phrase with no word that could be its verb ("The delivery note and the
    stock card."): an item of a list of things, not a line of work."""
    words = re.findall(r"[A-Za-z']+", text)
    return len(words) <= 10 and not any(
        re.search(r"(?:[^s]s|ed|en|ing)$", w.lower()) for w in words[1:]
    )


def _by_topic(text: str, source_type: str | None) -> Kind | None:
    """Kind of a line under a heading that names a topic ("End of shift", "Returns"), not
    what its lines are: a procedure section is work to do unless a line states a limit or a
    prohibition (a rule) or a hazard or protected data (safety); a line that only describes
    or sets a target is left out."""
    safety = bool(SAFETY_WORDS.search(text))
    if TARGET.search(text):
        return None
    stated = PURPOSE.sub("", text)
    if NEGATION.search(stated) and safety:
        return "safety"
    own_clause = re.split(r"[;,]", stated, maxsplit=1)[0]
    if ROLE_DOES.match(stated) and not (
        NEGATION.search(stated) or STRICT_RULE.search(stated) or DEADLINE.search(own_clause)
    ):
        return "duties"  # "The clerk checks each invoice … against the order"
    if IMPERATIVE.match(LEADING_WHEN.sub("", stated)):
        # "Keep no more than 40 parcels on a cage": an instruction that sets a limit
        return "rules" if NUMERIC_LIMIT.search(own_clause) else "duties"
    if NEGATION.search(stated) or _states_limit(stated):
        return "safety" if safety else "rules"
    if DESCRIPTIVE.search(text) or AUTOMATIC.search(text):
        return None  # a description ("A transfer is the same process…"), or a system's work
    if safety:
        return "safety"  # "Anyone who finds customer information left on a printer…"
    if _imperative(stated):
        return "duties"  # "Seal the bag with a witness present."
    if _verbless(text):
        return None  # a list of things ("The delivery note and the stock card.")
    return "duties"


_NAME_JOINERS = frozenset("of and the for & - – · , ltd plc inc gmbh llc".split())


def _name_only(text: str) -> bool:
    """A name and nothing else ("Northline Haulage Ltd.", "Unit 4, Calder Park,
    Wakefield"): every word capitalised, a number or a joining word, and nothing that says
    what to do or not to do. A company's name is not one of its rules."""
    words = re.findall(r"[\w&'’-]+", text)
    if (
        not words
        or len(words) > 12
        or any(p.search(text) for p in (NEGATION, RULE_WORDS, SAFETY_WORDS))
    ):
        return False
    return all(
        w[:1].isupper() or w[:1].isdigit() or w.lower() in _NAME_JOINERS for w in words
    ) and not IMPERATIVE.match(text)


def _imperative(text: str) -> bool:
    """Whether a line tells someone what to do ("Allocate parcels to routes")."""
    text = LEADING_WHEN.sub("", text)
    if IMPERATIVE.match(text):
        return True
    words = re.findall(r"[A-Za-z']+", text)
    if len(words) < 3:
        return False
    first, second = words[0].lower(), words[1].lower()
    return (
        first not in NOT_VERBS
        and second not in NOT_SECOND
        and (not first.endswith("s") or first.endswith("ss"))
        and not first.endswith(("ing", "ed", "ly"))
    )


def _clean(row: str) -> str:
    line = _BULLET.sub("", row).strip().strip("*_").strip()
    return line.rstrip(";").strip()


@dataclass
class _Section:
    """Where a reader is in a document: what the current section's lines are."""

    source_type: str | None = None
    kind: Section | None = None
    known: bool = False
    level: int | None = None
    # Under a heading that names a topic ("Returns", "End of shift"), not the document's
    # title: the shape of each sentence decides (``_by_topic``).
    topic: bool = False

    def enter(self, title: str, depth: int | None) -> None:
        is_known, kind = _section_kind(title, self.source_type)
        deeper = depth is not None and self.level is not None and depth > self.level
        if is_known or not (deeper and self.known):
            # A sub-heading ("3.1 Daily checks") stays in its section.
            self.kind, self.known, self.level = kind, is_known, depth
            self.topic = not is_known


def read_documents(documents: list[dict[str, Any]]) -> Reading:
    """Duties, rules and safety lines of the documents (each citing its source), the working
    hours they state and the recurring work their duties state."""
    reading = Reading()
    seen: set[str] = set()
    for doc in documents:
        levels = _heading_levels(doc)
        rows = _rows(doc)
        has_sections = any(
            _section_kind(h[0])[0] for r, _, _ in rows if (h := _heading(r, levels)) is not None
        )
        section = _Section(doc.get("source_type"))
        depths = [h[1] for r, _, _ in rows if (h := _heading(r, levels)) is not None]
        # Text under a title that has sections below it is the document's introduction.
        first, second = ([*depths, None, None])[:2]
        titled = first is not None and second is not None and first < second
        seen_headings = 0
        for row, chunk, item in rows:
            if reading.hours is None and (hours := working_hours(row)) is not None:
                reading.hours = hours
            heading = _heading(row, levels)
            if heading is not None:
                section.enter(*heading)
                if seen_headings == 0 and titled:
                    # A title ("Goods-in procedure") names the document, not a section.
                    section.kind, section.known, section.topic = None, False, False
                seen_headings += 1
                continue
            if seen_headings == 1 and titled and not item:
                continue  # the introduction under the title ("Warehouse policy WH-02.")
            # A list item is one line however many sentences it has; a paragraph is read
            # sentence by sentence.
            for sentence in [row] if item else sentences(row):
                run_in = _run_in_heading(sentence)
                if run_in is not None:
                    # "1. Purpose This procedure sets out…": a heading run into its paragraph.
                    section.enter(run_in[0], None)
                    sentence = run_in[1]
                if _is_metadata(sentence):
                    tail = TAIL_HEADING.search(sentence)
                    if tail is not None and _section_kind(tail.group(1))[0]:
                        # Some PDFs run the first heading into the cover lines above it.
                        section.enter(tail.group(1), None)
                    continue
                _file_line(reading, seen, doc, chunk, sentence, section, has_sections)
    reading.schedules = [
        s for line in reading.duties + reading.rules for s in schedules_of(line, reading.hours)
    ]
    return reading


def _file_line(
    reading: Reading,
    seen: set[str],
    doc: dict[str, Any],
    chunk: dict[str, Any],
    row: str,
    section: _Section,
    has_sections: bool,
) -> None:
    """File one line under the kind its section (or, without one, its wording) gives it."""
    line = _clean(row)
    if len(line) < 15 or line.endswith(":") or _name_only(line):
        return
    line_kind: Kind | None
    if section.kind == "mixed":
        line_kind = "safety" if SAFETY_WORDS.search(line) else "rules"
    elif section.known:
        line_kind = section.kind
    elif FIELD_LINE.match(line) and not (section.topic and _sentence_after_label(line)):
        return  # "Targets: 98%…", "Business unit: Packaging": a field, not a line of work
    elif section.topic:
        line_kind = _by_topic(line, doc.get("source_type"))
    else:
        line_kind = _by_wording(line, doc.get("source_type"))
    if line_kind is None:
        return
    pieces = [line] if len(line) <= 500 else sentences(line)
    for piece in pieces:
        key = piece.lower()
        if key in seen or len(piece) > 500:
            continue
        seen.add(key)
        reading.lines(line_kind).append({"text": piece, "source": _source(doc, chunk)})
