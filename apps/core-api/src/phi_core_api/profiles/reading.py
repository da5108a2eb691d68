"""Reading JDs and SOPs as a person does, for the builtin composer.

A reader goes by the document's sections: lines under "Key responsibilities" are duties, under
"Rules and standards" rules, under "Health and safety" safety constraints, and what sits under
"Purpose", "Qualifications" or "Contacts" does not describe the work. The cover page
("Location: …", "Reports to: …", "Version 4.2, effective …") is metadata, except that the
working hours it states bound when scheduled work may run. Recurring work is what a duty says
recurs ("every Monday", "on the 5th of each month", "at 07:00 every day"); an adjective alone
("daily and weekly driving time") schedules nothing. Only where a document has no sections
that say what their lines are does the wording decide. Nothing is added that the documents do
not say: no duty, figure, day or time.

Measured on the labelled set in ``bench/data/profiles`` by ``bench/profile_composer.py``
(figures in docs/benchmarks.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["duties", "rules", "safety"]
# A section of rules and safety lines together ("Do's and don'ts"): the wording decides which.
Section = Literal["duties", "rules", "safety", "mixed"]
Period = Literal["DAILY", "WEEKLY", "MONTHLY"]

# Section headings, by what their lines are. Checked in this order: "Safety rules" is safety.
SECTION_WORDS: tuple[tuple[Section | None, re.Pattern[str]], ...] = (
    (
        None,
        re.compile(
            r"\b(purpose|scope|overview|about (the role|the job|us|you)|summary|introduction|"
            r"qualifications?|skills?|experience|person spec\w*|what you bring|about you|"
            r"what you need|you('ll| will) (have|need)|benefits|what we offer|salary|"
            r"contacts?|kpis?|targets?|key (figures|indicators)|performance|"
            r"^(?:\d+(?:\.\d+)*\.?\s+)?(?:measures|records?)$|"
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
    r"applies from|date|sop (no|number)|document (no|number|ref)|ref(erence)?|pharmacy|"
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
FIELD_LINE = re.compile(r"^\W*[A-Z][\w /&'().-]{0,30}(?<!\d):\s*\S")  # not "At 06:45"
TIME = r"(\d{1,2})[:.](\d{2})"
HOURS_RANGE = re.compile(TIME + r"\s*(?:-|–|—|to|until)\s*" + TIME)
HOURS_CONTEXT = re.compile(r"\b(hours?|shift|working|contract|rota|monday|weekdays?)\b", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•·▪►●◦]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+")
# A list run into one paragraph by extraction: "…(Mandata). - Review the…".
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
# "The analyst sends the denial rate…", "Every morning the auditor counts…": a role doing the work.
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
    r"protective|boots|guard(ing)?|isolat\w*|locked|unlocked|permit to work|hot work|"
    r"(patient|personal|customer|guest|employee|health)'?s?\s+(data|information|records?))\b",
    re.I,
)
# What makes a line a rule even when a role is doing the work in it.
STRICT_RULE = re.compile(r"\b(must|shall|only|required?|requires|may not|cannot|approval)\b", re.I)
NEGATION = re.compile(
    r"\b(never|must not|do not|don't|may not|prohibited|forbidden|not (allowed|permitted))\b", re.I
)
_PARTICIPLE = (
    r"(?:\w{3,}ed|done|set|kept|sent|held|paid|put|run|given|told|shown|taken|written|thrown|"
    r"sold|brought|chosen|drawn|read|left|bought|found|cut|shut|met|spent|sought|struck)"
)
_ADVERB = r"(?:(?:also|then|only|not|first|\w+ly)\s+)?"
# Statements of work in the passive ("X is reconciled daily", "the balance is billed to the
# patient"): a form of "be" and a past participle, not "is made of" or "is used to".
PASSIVE = re.compile(
    rf"\b(?:is|are|be|been|gets?)\s+{_ADVERB}{_PARTICIPLE}\b(?!\s+(?:of|to|on)\b)", re.I
)
# A line that describes rather than says what is done: a subject and "is"/"has" with no
# participle ("The best available rate is the lowest…", "Every machine has a plan…"), or what
# something is made of.
DESCRIPTIVE = re.compile(
    r"^\W*(?!(?:when|if|after|before|once|where|while|as|until|unless)\b)"
    rf"(?:[\w&()'%-]+\s+){{1,7}}?(?:is|are|has|have)\s+(?!{_ADVERB}{_PARTICIPLE}\b)|"
    r"\b(?:made|composed) of\b|\bconsists? of\b",
    re.I,
)
# A figure the work is measured against ("The target denial rate is under 5%"): not a rule.
TARGET = re.compile(r"^\W*(?:the |our |its )?(?:[\w&-]+ ){0,3}targets?\b", re.I)

WEEKDAYS = {
    "sunday": 0,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
}
_DAY = r"(sunday|monday|tuesday|wednesday|thursday|friday|saturday)s?"
WEEKLY = re.compile(
    rf"\b(?:every|each|on)\s+{_DAY}\b|\bweekly\s+on\s+{_DAY}\b|\bevery\s+week\s+on\s+{_DAY}\b",
    re.I,
)
# "every Tuesday and Friday": the days a weekly phrase goes on to name.
MORE_DAYS = re.compile(rf"(?:\s*,\s*|\s+and\s+|\s+or\s+){_DAY}\b", re.I)
ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": None}
MONTHLY = re.compile(
    r"\b(?:on|by)\s+the\s+(\d{1,2})(?:st|nd|rd|th)?(?:\s+working)?(?:\s+day)?\s+of\s+"
    r"(?:each|every|the)\s+month\b|"
    r"\b(?:on|by)\s+the\s+(first|second|third|fourth|fifth)(?:\s+working)?(?:\s+day)?\s+of\s+"
    r"(?:each|every|the)\s+month\b",
    re.I,
)
MONTHLY_DAYS = re.compile(
    r"\bon\s+the\s+(\d{1,2})(?:st|nd|rd|th)?\s+and\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\s+"
    r"of\s+(?:each|every|the)\s+month\b",
    re.I,
)
DAILY = re.compile(
    r"\b(?:every|each)\s+(working\s+|business\s+|week)?(day|morning)\b|\bdaily\s+(?:at|by)\b",
    re.I,
)
# "by the 3rd working day" in a line about the month's close: a monthly deadline.
MONTHLY_WORKING_DAY = re.compile(
    r"\b(?:on|by)\s+the\s+(\d{1,2})(?:st|nd|rd|th)\s+(?:working|business)\s+day\b", re.I
)
# Daily work a line states without "every day": a "Daily:" label, "is set daily", "twice a
# day", or a daily deliverable with a deadline ("sends the daily cost flash by 10:00").
DAILY_MORE = re.compile(
    r"^\W*daily\s*:|\b(?:\w+ed|set|run|done|kept|held|sent|made)\s+daily\b|"
    r"\b(?:once|twice|\w+ times)\s+(?:a|per|each)\s+day\b|"
    r"\b(?:the|a|its|their|your)\s+daily\b(?=.*\bby\s+\d{1,2}[:.]\d{2}\b)",
    re.I,
)
AT_TIME = re.compile(r"\b(at|by|before)\s+" + TIME + r"\b", re.I)


@dataclass(frozen=True)
class WorkingHours:
    """Minutes after midnight; ``weekdays`` is a cron day-of-week field or None."""

    start: int
    end: int
    weekdays: str | None = None

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end


@dataclass
class Schedule:
    """Recurring work a duty states, and the cron that runs it."""

    period: Period
    cron: str
    line: dict[str, Any]


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
    if words and words[0].lower() in ("this", "these", "that", "those", "it", "its"):
        return None  # "This procedure sets how Line 3…" is a sentence, not a heading
    for n in range(1, min(4, len(words) - 3) + 1):
        title, following = " ".join(words[:n]), words[n]
        if title.endswith(":"):
            return None  # "Escalation: Head of Logistics" is a field, not a heading
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
    "Daily: operators do…") rather than a value ("Reporting line: Supply Chain Manager")."""
    label, rest = line.split(":", 1)
    rest = rest.strip()
    return not _section_kind(label)[0] and rest[:1].islower() and len(rest.split()) >= 4


def _by_topic(text: str, source_type: str | None) -> Kind | None:
    """Kind of a line under a heading that names a topic ("Closing the day", "Appeals"), not
    what its lines are: a procedure section is work to do unless a line states a limit or a
    prohibition (a rule) or a hazard or protected data (safety); a line that only describes
    or sets a target is left out."""
    safety = bool(SAFETY_WORDS.search(text))
    if TARGET.search(text):
        return None
    if NEGATION.search(text) and safety:
        return "safety"
    if ROLE_DOES.match(text) and not (NEGATION.search(text) or STRICT_RULE.search(text)):
        return "duties"  # "The storekeeper checks the delivery … at or below 5 °C"
    if IMPERATIVE.match(LEADING_WHEN.sub("", text)):
        return "duties"
    if NEGATION.search(text) or RULE_WORDS.search(text):
        return "safety" if safety else "rules"
    if safety:
        return "safety"  # "Anyone who suspects that patient information went to…"
    if DESCRIPTIVE.search(text):
        return None
    return "duties"


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
    # Under a heading that names a topic ("Appeals", "Closing the day"), not the document's
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
                    # A title ("Night audit procedure") names the document, not a section.
                    section.kind, section.known, section.topic = None, False, False
                seen_headings += 1
                continue
            if seen_headings == 1 and titled and not item:
                continue  # the introduction under the title ("Front Office policy FO-05.")
            # A list item is one line however many sentences it has; a paragraph is read
            # sentence by sentence.
            for sentence in [row] if item else SENTENCE_END.split(row):
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
    if len(line) < 15 or line.endswith(":"):
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
    pieces = [line] if len(line) <= 500 else SENTENCE_END.split(line)
    for piece in pieces:
        key = piece.lower()
        if key in seen or len(piece) > 500:
            continue
        seen.add(key)
        reading.lines(line_kind).append({"text": piece, "source": _source(doc, chunk)})


# -- schedules ---------------------------------------------------------------------------------


def _minutes(hour: str, minute: str) -> int | None:
    h, m = int(hour), int(minute)
    return h * 60 + m if 0 <= h <= 23 and 0 <= m <= 59 else None


def _run_time(text: str, hours: WorkingHours | None) -> int:
    """When the work runs: at the time the duty names; an hour before a deadline it names
    (not before the working day starts); else an hour into the working day (09:00 when the
    documents state no hours)."""
    match = AT_TIME.search(text)
    stated = _minutes(match.group(2), match.group(3)) if match else None
    if match and stated is not None:
        if match.group(1).lower() == "at":
            return stated
        run = stated - 60
        if hours is not None and run < hours.start:
            run = hours.start if hours.start < stated else stated - 30
        return max(run, 0)
    if hours is None:
        return 9 * 60
    return min(hours.start + 60, hours.end - 30)


def schedules_of(duty: dict[str, Any], hours: WorkingHours | None) -> list[Schedule]:
    """The schedules a duty states, as cron: one a weekday it names ("every Monday … and on
    Tuesday at 10:00"), one a time of day it names for daily work ("twice a day, at 10:00 and
    at 16:00"); none when it states no recurrence."""
    text = duty["text"]
    weekly = _weekly(duty, hours)
    if weekly:
        return weekly
    minute = _run_time(text, hours)
    hm = f"{minute % 60} {minute // 60}"
    days = MONTHLY_DAYS.search(text)
    if days and all(1 <= int(d) <= 28 for d in days.groups()):
        return [Schedule("MONTHLY", f"{hm} {int(days.group(1))},{int(days.group(2))} * *", duty)]
    monthly = MONTHLY.search(text)
    if monthly:
        day_of_month = int(monthly.group(1)) if monthly.group(1) else ORDINAL[monthly.group(2)]
        if day_of_month is None or not 1 <= day_of_month <= 28:
            return []  # "the last day" or the 31st: not every month has it, cron cannot say
        return [Schedule("MONTHLY", f"{hm} {day_of_month} * *", duty)]
    working_day = MONTHLY_WORKING_DAY.search(text)
    if working_day and re.search(r"\bmonth", text, re.I) and 1 <= int(working_day.group(1)) <= 28:
        return [Schedule("MONTHLY", f"{hm} {int(working_day.group(1))} * *", duty)]
    daily = DAILY.search(text)
    if daily or DAILY_MORE.search(text):
        working = bool(daily and daily.group(1)) or (hours is not None and hours.weekdays == "1-5")
        dow = "1-5" if working else "*"
        times = [
            t
            for m in AT_TIME.finditer(text)
            if m.group(1).lower() == "at" and (t := _minutes(m.group(2), m.group(3))) is not None
        ]
        if len(times) > 1 and re.search(r"\b(?:twice|\w+ times)\b", text, re.I):
            return [Schedule("DAILY", f"{t % 60} {t // 60} * * {dow}", duty) for t in times]
        return [Schedule("DAILY", f"{hm} * * {dow}", duty)]
    return []


def _weekly(duty: dict[str, Any], hours: WorkingHours | None) -> list[Schedule]:
    """Weekly schedules: each weekday phrase at the time stated after it (before the next
    phrase), else at the duty's time."""
    text = duty["text"]
    found: list[tuple[int, int, int]] = []  # (weekday, start of the phrase, end of its days)
    for match in WEEKLY.finditer(text):
        day = next(g for g in match.groups() if g)
        days, end = [WEEKDAYS[day.lower()]], match.end()
        while (more := MORE_DAYS.match(text, end)) is not None:
            days.append(WEEKDAYS[more.group(1).lower()])
            end = more.end()
        found += [(d, match.start(), end) for d in days]
    out: list[Schedule] = []
    for i, (weekday, start, end) in enumerate(found):
        following = [s for _, s, _ in found[i + 1 :] if s > start]
        clause = text[end : following[0] if following else len(text)]
        own = clause if AT_TIME.search(clause) or len({s for _, s, _ in found}) > 1 else text
        minute = _run_time(own, hours)
        cron = f"{minute % 60} {minute // 60} * * {weekday}"
        if all(s.cron != cron for s in out):
            out.append(Schedule("WEEKLY", cron, duty))
    return out


def schedule_of(duty: dict[str, Any], hours: WorkingHours | None) -> Schedule | None:
    """The first schedule a duty states, or None."""
    found = schedules_of(duty, hours)
    return found[0] if found else None
