"""What a question asks: its names and figures, the kind of answer, its focus, and its parts.

The answer path needs to know, before it looks at any sentence:
- the names (people, places, organisations) and figures (numbers, years) the question depends
  on: an article that holds none of them cannot answer it ("What is Japan's policy …" of an
  article that never mentions Japan);
- the kind of answer wanted (money, count, date, person, place, organisation) and the focus,
  the thing asked for ("which *analyst*", "what *resolution*", "who is the *spokesperson*"): a
  sentence that holds the focus or an answer of that kind is a better quote than one that only
  restates the question's context;
- whether it asks about the article itself (who wrote or edited it, when it was published,
  which outlet carried it), which its metadata answers;
- its parts, when it asks two things at once ("What do X tighten, and what resolution did Y
  promote?").
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .textstats import QUESTION_WORDS, STOPWORDS, stem, words


def wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


class AnswerKind(enum.Enum):
    MONEY = "money"
    COUNT = "count"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"
    ORGANISATION = "organisation"
    OTHER = "other"


class MetaField(enum.Enum):
    """Facts about an article that its metadata, not its text, holds."""

    AUTHOR = "author"
    EDITOR = "editor"
    PUBLISHED = "published"
    OUTLET = "source"


# What a question asks for, as a table (`_KIND_PATTERNS`, tried in order: "how much did it cost"
# is money before it is a count), and the head noun of the phrase asked with which/what
# (`_HEAD_KINDS`): the last word of "which Medical Research Council *scientist*" that names a
# kind decides, so the scientist is a person, not an organisation. The phrase may follow a
# preposition or a comma ("against which country", "…, which Labour MP") or be "the name of" one.
# Measured against the `kind` labels of our question set (benchmarks/questions/newsbot_qa.jsonl):
# 0.765 agreement with the old if-chain, 0.905 with this.
_MONEY_NOUNS = (
    "price cost fee salary profit loss revenue turnover budget payout bid valuation outlay sum toll fare rent wage charge "
    "debt allowance payment fine damages compensation investment income earnings takings surcharge subsidy grant bonus "
    "deficit bill pension tax levy funding pay money"
)
_COUNT_NOUNS = (
    "number figure amount total rate percentage proportion share value size score scoreline margin stake age capacity "
    "majority speed audience temperature turnout attendance level prevalence growth reading position ranking rank "
    "increase rise fall drop height length distance weight population"
)
_DATE_NOUNS = "date day year month"
_PERSON_NOUNS = (
    "player man woman person minister manager coach actor actress singer director boss chief analyst executive champion "
    "mp msp mep lord peer lock striker captain spokesman spokeswoman spokesperson star author writer leader president "
    "chairman chairwoman economist official secretary presenter winner designer founder head commissioner governor "
    "judge officer artist musician rapper comedian politician candidate scientist member researcher professor doctor "
    "expert campaigner qualifier scrum-half fly-half winger goalkeeper defender midfielder forward batsman bowler jockey "
    "rider driver boxer golfer athlete sprinter agent lawyer editor journalist reporter national businessman "
    "entrepreneur investor owner chancellor mayor footballer cricketer novelist producer comic celebrity son daughter "
    "wife husband brother sister father mother teenager boy girl victim suspect referee umpire rival opponent partner "
    "student pupil fan worker employee deputy consultant"
)
_PLACE_NOUNS = (
    "country countries city cities town region state venue stadium ground nation capital island province county "
    "continent airport port arena theatre theater street hall village district area location resort course circuit"
)
_ORG_NOUNS = (
    "company companies firm club team bank group organisation organization party airline carrier agency broadcaster "
    "network studio label retailer maker manufacturer operator regulator union insurer newspaper paper magazine channel "
    "station university college school court body watchdog supermarket chain publisher fund service charity council "
    "committee department ministry authority association federation brand giant band developer consultancy side outfit "
    "institute trust website provider"
)
_HEAD_KINDS: dict[str, AnswerKind] = {
    w: kind
    for kind, nouns in ((AnswerKind.ORGANISATION, _ORG_NOUNS), (AnswerKind.PLACE, _PLACE_NOUNS), (AnswerKind.PERSON, _PERSON_NOUNS),
                        (AnswerKind.DATE, _DATE_NOUNS), (AnswerKind.COUNT, _COUNT_NOUNS), (AnswerKind.MONEY, _MONEY_NOUNS))
    for w in nouns.split()
}
_MONEY_VERBS = (
    "cost|costs|pay|paid|spend|spent|earn|earned|take|took|raise|raised|worth|charge|charged|sell|sold|fetch|fetched|fine|"
    "fined|owe|owed|bid|price|fee|offer|offering|offered|invest|invested|receive|received|make|made|seek|seeking|claim|"
    "claimed|lose|lost|save|saved|borrow|borrowed|lend|lent|award|awarded|suing|sue|sued|paying|costing|spending|"
    "charging|raising|earning|asking|selling"
)
_PHRASE_LEAD = wordset("in at on to from for against by of with into under over near between during until since behind after before through below above")
_PHRASE_SKIP = wordset("is was are were the a an its his her their name of be been has will")
# Words that end the asked phrase: verbs, clause words, prepositions ("which analyst *at* …").
_PHRASE_END = wordset(
    "is are was were did does do has have had will would can could should must may might shall and or that who which whom whose "
    "the a an this these those said says say"
) | wordset("at in on of for from by with to about over under into between against during after before as than")

#: Answer kinds and the patterns that ask for them, in the order they are tried; `None` stands
#: for the head noun of the which/what phrase (`_head_kind`).
_KIND_PATTERNS: tuple[tuple[AnswerKind | None, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (AnswerKind.COUNT, r"\bby how much\b"),  # a change, mostly a percentage: "by how much did exports rise"
        (AnswerKind.MONEY, rf"\bhow much\b[^?]*\b(?:{_MONEY_VERBS}|{_MONEY_NOUNS.replace(' ', '|')})\b"),
        (AnswerKind.MONEY, rf"\bhow (?:large|big|high) (?:was|is|were|are|will be) (?:the|its|his|her|their)?\s*(?:{_MONEY_NOUNS.replace(' ', '|')})s?\b"),
        (AnswerKind.COUNT, r"\bhow (?:many|much|long|far|old|big|large|high|often|fast|tall|deep|heavy)\b|\bby how\b|\bto what (?:figure|level)\b"),
        (AnswerKind.DATE, r"^when\b|\bwhen (?:did|does|do|was|were|is|are|will|had|has|have|would|could)\b|\b(?:until|since|by) when\b|\bhow soon\b"),
        (AnswerKind.PLACE, r"^where\b|\bwhere (?:did|does|do|was|were|is|are|will|had|has|have|would)\b"),
        (None, r"\b(?:which|what)\b"),
        (AnswerKind.MONEY, r"\bwhat (?:was|is|were|are)\b[^?]{0,40}\bpaid\b|^what\b[^?]{0,80}\b(?:cost|costs|worth)\b"),
        (AnswerKind.PERSON, r"^(?:who|whom|whose)\b|\b(?:who|whom) (?:did|does|do|was|were|is|are|will|had|has|have)\b|\b(?:by|from|to|with|for|of|against) whom\b|\bwhose\b"),
    )
)


def _head_kind(low: str) -> AnswerKind | None:
    """The kind named by the head noun of a phrase asked with which/what, when there is one."""
    for m in re.finditer(r"\b(?:which|what)\b", low):
        before = low[: m.start()].rstrip()
        if before and not before.endswith((",", ";")) and before.split()[-1] not in _PHRASE_LEAD:
            continue  # "what" inside a clause ("… said what …") asks nothing itself
        phrase: list[str] = []
        for t in low[m.end() :].replace(",", " , ").replace("?", " ? ").split():
            t = t.strip("'’\"")
            if not phrase and t in _PHRASE_SKIP:
                continue
            if t in _PHRASE_END or t in _VERBISH or not re.match(r"^[\w'’.&-]+$", t) or len(phrase) >= 6:
                break
            if phrase and phrase[-1] in _HEAD_KINDS and t.endswith("s") and not t.endswith("ss") and t not in _HEAD_KINDS \
                    and t[:-1] not in _HEAD_KINDS:
                break  # "which company employs …": a verb after the head noun
            phrase.append(t)
        for t in reversed(phrase):
            base = re.sub(r"['’]s?$", "", t).split("-")
            for w in (base[-1], "-".join(base)):
                for form in (w, w[:-1] if w.endswith("s") else w, w[:-2] if w.endswith("es") else w):
                    if form in _HEAD_KINDS:
                        return _HEAD_KINDS[form]
        return None
    return None


# Questions about the article itself, answered from its metadata.
_ARTICLE = r"(article|story|piece|report|item|text|news)"
_META = {
    MetaField.EDITOR: re.compile(
        rf"\bwho (edited|was the editor of|is the editor of) (the|this|that) {_ARTICLE}\b|\b(the|its) editor of (the|this) {_ARTICLE}\b|"
        rf"\bwho (was|is) (the|its) editor\b|^who edited (it|this)\b"
    ),
    MetaField.AUTHOR: re.compile(
        rf"\bwho (wrote|authored|penned|reported) (the|this) {_ARTICLE}\b|\bwho (is|was) the (author|writer|reporter) of (the|this)\b|"
        rf"\b(author|byline|writer) of (the|this) {_ARTICLE}\b|^who wrote (it|this)\b"
    ),
    MetaField.PUBLISHED: re.compile(
        rf"\bwhen (was|is) (the|this) {_ARTICLE} (published|written|posted|released|dated|put out)\b|"
        rf"\b(publication|publishing) date\b|\bwhat (date|day) (was|is) (the|this) {_ARTICLE}\b|"
        rf"\bwhen (was|is) (it|this) published\b|\bhow (old|recent) is (the|this) {_ARTICLE}\b"
    ),
    MetaField.OUTLET: re.compile(
        rf"\b(which|what) (outlet|publication|news agency|agency|newspaper|paper|website|site|media outlet|media|broadcaster|"
        rf"news organi[sz]ation)\b[^?]*\b(publish|carr|run|ran|report|wrote|write|put out)|"
        rf"\bwho (published|carried|ran|put out) (the|this) {_ARTICLE}\b|\bwhere (was|is) (the|this) {_ARTICLE} (published|from)\b"
    ),
}

_AUX = wordset(
    "is are was were did does do has have had will would can could should may might must be been being"
)
_PREP = wordset("at in on of for from by with to about over under into between against during after before as than")
_LEAD = wordset("what which who whom whose how where when why is are was were did does do has have had will would can could the a an")
_VERBISH = wordset(
    "came took said made won beat hit set told gave got went plays play leads lead says make makes won win wins lost "
    "run ran bought sold paid left joined quit scored signed took became become stood fell rose cut"
)
_FOCUS_SKIP = wordset("kind type sort name one ones thing things exactly")
_NAME_TOKEN = re.compile(r"[A-Z][A-Za-z0-9\u00c0-\u024f&.\-]*")
_TOKEN = re.compile(r"[A-Za-z0-9\u00c0-\u024f][A-Za-z0-9\u00c0-\u024f&.\-’']*")
_NUMERAL = re.compile(r"^\d[\d,.]*(?:%|m|bn|k|st|nd|rd|th)?$")
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
# Capitalised words that start or shape a question without naming anything.
_NOT_NAMES = wordset(
    "what which who whom whose how where when why is are was were did does do has have had will would can could should "
    "the a an in on at of for by to from and or but according if with as after before during since per "
    "mr mrs ms dr sir lord lady apart during despite although besides until while since once given unlike like "
    "among amid between within without into onto upon "
    # roles written in capitals name no one: "Which Birmingham MP …", "the CEO of Nintendo"
    "mp mps msp msps mep meps ceo ceos pm"
)
_PART_SPLIT = re.compile(
    r"(?:,\s*|;\s*|\s+)(?:and|but|also|plus)\s+(?=(?:what|which|who|whom|when|where|why|how|did|does|do|is|are|was|were)\b)"
    r"|\?\s+(?=\S)|;\s+(?=(?:what|which|who|whom|when|where|why|how)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Question:
    """A question taken apart for the answer path (see the module docstring)."""

    text: str
    terms: tuple[str, ...]  # content stems, each once, in order
    names: tuple[str, ...]  # proper names as written, e.g. ("South Korea",)
    figures: frozenset[str]  # numbers and years the question names, as stems
    kind: AnswerKind
    focus: str  # stem of the thing asked for, "" when there is none
    about: MetaField | None  # a question about the article itself
    parts: tuple[str, ...]  # the question split into its separate asks (itself when one)
    core: tuple[str, ...] = ()  # the terms of what is asked, without the scene-setting context (`core_text`)

    @property
    def core_terms(self) -> tuple[str, ...]:
        return self.core or self.terms

    @property
    def name_stems(self) -> tuple[frozenset[str], ...]:
        return tuple(frozenset(stem(w) for w in words(n)) for n in self.names)

    @property
    def focus_phrase(self) -> str:
        """The thing asked for in words a reader knows ("the date", "the analyst")."""
        return _describe(self)


def _names(question: str) -> tuple[str, ...]:
    """Runs of capitalised words (and acronyms), possessives dropped; not the question's opening."""
    toks = list(_TOKEN.finditer(question))
    out: list[str] = []
    run: list[str] = []
    for i, m in enumerate(toks):
        w = m.group().rstrip(".")
        bare = re.sub(r"['’]s?$", "", w)
        is_name = bool(_NAME_TOKEN.fullmatch(bare)) and bare.lower() not in _NOT_NAMES and not (i == 0 and bare.lower() in _LEAD)
        # joined only across plain spaces, so "China, Japan" stays two names
        joined = bool(run) and question[toks[i - 1].end() : m.start()] == " "
        if is_name and bare:
            if run and not joined:
                out.append(" ".join(run))
                run = []
            run.append(bare)
            if bare != w:  # "Korea's" ends the name
                out.append(" ".join(run))
                run = []
        elif run:
            out.append(" ".join(run))
            run = []
    if run:
        out.append(" ".join(run))
    return tuple(dict.fromkeys(n for n in out if n))


def _kind(low: str) -> AnswerKind:
    """The first kind in `_KIND_PATTERNS` that the (lower-cased) question asks for."""
    for kind, rx in _KIND_PATTERNS:
        if rx.search(low):
            got = kind or _head_kind(low)
            if got is not None:
                return got
    return AnswerKind.OTHER


def _focus(low: str) -> str:
    """The head noun of the phrase after which/what/how many, or of the role after who is."""
    toks = words(low)
    for i, w in enumerate(toks):
        if w in ("which", "what", "whose") or (w == "many" and i > 0 and toks[i - 1] == "how") or (
            w in ("who", "whom") and i + 1 < len(toks) and toks[i + 1] in ("is", "was", "are", "were")
        ):
            span: list[str] = []
            rest = toks[i + 1 :]
            if rest and rest[0] in _AUX and rest[0] not in ("is", "are", "was", "were"):
                return ""  # "what did X say": what follows is the subject, not the thing asked for
            for t in rest:
                if t in _AUX and not span:
                    continue  # "what is the …", "who was the …"
                if t in ("the", "a", "an", "its", "his", "her", "their") and not span:
                    continue
                if t in _AUX or t in _PREP or t in ("that", "who", "which", "and", "or") or (
                    span and (t in _VERBISH or (t.endswith(("ed", "ly")) and len(t) > 4))
                ):
                    break
                span.append(t)
            heads = [t for t in span if t not in STOPWORDS and t not in _FOCUS_SKIP and not _NUMERAL.match(t)]
            if heads:
                return stem(heads[-1].split("'")[0].split("’")[0])
            return ""
    return ""


def split_parts(question: str) -> tuple[str, ...]:
    """The separate questions in one ("…, and what …?"); the question itself when it asks one thing."""
    pieces = [p.strip(" ,;") for p in _PART_SPLIT.split(question.strip()) if p and p.strip(" ,;?")]
    if len(pieces) < 2 or any(len(words(p)) < 3 for p in pieces):
        return (question.strip(),)
    return tuple(p if p.endswith("?") else p + "?" for p in pieces)


def _asking_sentence(q: str) -> str:
    """The sentence that asks, when a question sets the scene first ("… in 1948. What was that show?")."""
    sents = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", q) if s.strip()]
    asks = [s for s in sents if s.rstrip().endswith("?")]
    return (asks[-1] if asks else sents[-1]) if sents else q


# Context a reader adds around what they ask: "…, according to Time Warner's results", "…, which
# showed …", "At the party meeting over the feud, which MP …", a scene-setting sentence before the
# question. The BBC dev questions average 19 words (15 of 60 carry such a clause), ours 10 (17 of
# 749): measured on the whole question, the answer sentence's share of the words falls with every
# clause of context, though the sentence answers just as well.
_CONTEXT_CLAUSES = (
    re.compile(r"^according to [^,?]{2,80},\s*", re.I),
    re.compile(r",?\s*according to [^,?]{2,80}(?=[,?]|$)", re.I),
    re.compile(r"^(?:at|on|during|apart from|after|before|amid|in|with|among|from|for|as|when|while|since|following) [^,?]{3,80},\s*(?=[a-z]+\b)", re.I),
    re.compile(r",\s*(?:which|who|whose|where|when|as|after|amid|while|by comparison with|in the \w+ (?:showing|that)|having)\b[^,?]{3,120}(?=[,?]|$)", re.I),
)
MIN_CORE_TERMS = 3  # below this the clauses were the question itself: keep every term


def core_text(question: str) -> str:
    """What is asked, without the scene-setting context around it (`_CONTEXT_CLAUSES`)."""
    q = _asking_sentence(question)
    for rx in _CONTEXT_CLAUSES:
        q = rx.sub("", q)
    return q.strip(" ,")


# "What did Guo call the US AI policy?": the verb of naming frames the question (the article says
# "described … as", "termed", "dubbed"); it is not a word the answer sentence must repeat.
_NAMING_FRAME = re.compile(
    r"^what (?:did|does|do|has|have|had|will|would)\b.*?\b(call|describe|term|dub|label|brand)\b|"
    r"^what (?:is|was|are|were|will)\b.*?\b(called|described|termed|dubbed|labelled|branded)\b"
)


def analyse(question: str) -> Question:
    q = " ".join(question.split())
    low = q.lower()
    ask = _asking_sentence(q).lower()
    about = next((f for f, rx in _META.items() if rx.search(low)), None)
    frame = _NAMING_FRAME.search(ask)
    skip = QUESTION_WORDS | ({frame.group(1) or frame.group(2)} if frame else set())
    toks = [w for w in words(q) if w not in STOPWORDS and w not in skip]
    terms = tuple(dict.fromkeys(stem(w) for w in toks))
    figures = frozenset(stem(w) for w in toks if _NUMERAL.match(w) and not re.match(r"^\d$", w))
    core = tuple(dict.fromkeys(stem(w) for w in words(core_text(q)) if w not in STOPWORDS and w not in skip))
    return Question(
        text=q, terms=terms, names=_names(q), figures=figures, kind=_kind(ask), focus=_focus(ask), about=about,
        parts=split_parts(q), core=core if len(core) >= MIN_CORE_TERMS and core != terms else (),
    )


_KIND_WORDS = {
    AnswerKind.MONEY: "the amount", AnswerKind.COUNT: "the figure", AnswerKind.DATE: "the date",
    AnswerKind.PERSON: "who it was", AnswerKind.PLACE: "the place", AnswerKind.ORGANISATION: "the organisation",
}


def _describe(q: Question) -> str:
    low = q.text.lower()
    m = re.search(r"\b(?:which|what|how many)\s+((?:[a-z]+\s+){0,2}?[a-z]+)\s+(?:is|are|was|were|did|does|do|has|have|had|will|would|can)\b", low)
    if m and q.focus and stem(m.group(1).split()[-1]) == q.focus:
        return "the " + m.group(1)
    if q.kind in _KIND_WORDS:
        return _KIND_WORDS[q.kind]
    return "the answer"


# A name may appear in another form: the adjective of a country, or a common short form.
_ALIASES = {
    "uk": ("britain", "british", "uk", "kingdom"), "britain": ("uk", "british", "britain"), "british": ("britain", "uk"),
    "us": ("america", "american", "us", "usa", "washington"), "usa": ("us", "america", "american"),
    "america": ("us", "american"), "american": ("us", "america"), "eu": ("european", "europe", "eu"),
    "un": ("united", "nations", "un"), "english": ("england",), "england": ("english",), "welsh": ("wales",),
    "wales": ("welsh",), "scottish": ("scotland",), "scotland": ("scottish", "scots"), "irish": ("ireland",),
    "french": ("france",), "france": ("french",), "dutch": ("netherlands", "holland"), "german": ("germany",),
    "germany": ("german",), "swiss": ("switzerland",), "greek": ("greece",), "chinese": ("china", "beijing"),
    "china": ("chinese", "beijing"), "liberal": ("lib",), "democrat": ("dem", "dems"), "democrats": ("dem", "dems"),
    "q1": ("first",), "q2": ("second",), "q3": ("third",), "q4": ("fourth",),
}
_DEMONYM = re.compile(r"(?:ese|ian|an|ish|i|n)$")


def word_present(word: str, vocab: frozenset[str]) -> bool:
    """Whether one word of a name stands in an article whose stems are `vocab`."""
    w = word.lower()
    if "." in w and w.replace(".", "") != w:  # "U.S" for "US"
        return word_present(w.replace(".", ""), vocab)
    if stem(w) in vocab or stem(w + "s") in vocab or (w.endswith("s") and stem(w[:-1]) in vocab):
        return True
    if any(stem(a) in vocab for a in _ALIASES.get(w, ())):
        return True
    root = _DEMONYM.sub("", w)  # "Iranian" → "iran", "Japanese" → "jap…"
    return len(root) >= 4 and root != w and any(v.startswith(root[:5]) for v in vocab if len(v) >= 4)


def missing_names(q: Question, vocab: frozenset[str]) -> tuple[str, ...]:
    """The question's names and figures that stand nowhere in an article (`vocab`: its stems,
    title and metadata included)."""
    out = [n for n in q.names if not all(word_present(w, vocab) for w in _name_words(n))]
    out += sorted(f for f in q.figures if f not in vocab and not _YEAR.match(f))
    return tuple(out)


def missing_years(q: Question, vocab: frozenset[str]) -> tuple[str, ...]:
    """Years the question names that the article does not: weaker evidence than a missing name,
    since articles often say "last year" or carry their year only in the date line."""
    return tuple(sorted(f for f in q.figures if _YEAR.match(f) and f not in vocab))


def _name_words(name: str) -> list[str]:
    # "English-language": only the capitalised parts of a hyphenated word are the name
    out: list[str] = []
    for tok in name.split():
        parts = tok.split("-")
        out += [p for p in parts if p[:1].isupper()] if len(parts) > 1 else [tok]
    return [w for w in (x.strip(".'’") for x in out) if w]
