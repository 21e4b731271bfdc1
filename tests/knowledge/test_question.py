"""Taking a question apart: names, figures, answer kind, focus, parts and questions about the article."""

from __future__ import annotations

import pytest

from knowledge.question import (
    AnswerKind,
    MetaField,
    analyse,
    core_text,
    missing_names,
    missing_years,
    split_parts,
)
from knowledge.textstats import stem, words


def vocab(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in words(text))


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("What is Japan's policy on exporting AI chips?", ("Japan", "AI")),
        ("What did South Korea's trade ministry say about the restrictions?", ("South Korea",)),
        ("Qantas expanded its cabin crew to how many flight attendants?", ("Qantas",)),
        ("Apart from Revolution Studios, which foreman is named?", ("Revolution Studios",)),
        ("What did China, Japan and Korea agree?", ("China", "Japan", "Korea")),
    ],
)
def test_names_are_the_capitalised_runs_not_the_opening_word(question, names):
    assert analyse(question).names == names


@pytest.mark.parametrize(
    ("question", "kind", "focus"),
    [
        ("How much did the bridge repairs cost?", AnswerKind.MONEY, ""),
        ("How many subscribers did AOL shed?", AnswerKind.COUNT, stem("subscribers")),
        ("On what date do the US AI export restrictions take effect?", AnswerKind.DATE, "date"),
        ("Who is the Chinese Foreign Ministry spokesperson quoted in the article?", AnswerKind.PERSON, stem("spokesperson")),
        ("Which analyst at Finans Investment said the deal was off?", AnswerKind.PERSON, stem("analyst")),
        ("Where is the World Social Forum being held?", AnswerKind.PLACE, ""),
        ("Which bank eventually bought LG Card?", AnswerKind.ORGANISATION, "bank"),
        ("What UN resolution did China promote?", AnswerKind.OTHER, stem("resolution")),
        ("What did South Korea's trade ministry say?", AnswerKind.OTHER, ""),
    ],
)
def test_answer_kind_and_focus(question, kind, focus):
    q = analyse(question)
    assert (q.kind, q.focus) == (kind, focus)


def test_a_question_that_sets_the_scene_is_judged_by_its_asking_sentence():
    q = analyse("When Dame Julie Andrews went to the musical, she returned to the theatre of 1948. What was that show?")
    assert q.kind is AnswerKind.OTHER  # not a "when" question


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("Who edited the article?", MetaField.EDITOR),
        ("Who wrote the article?", MetaField.AUTHOR),
        ("When was the article published?", MetaField.PUBLISHED),
        ("Which outlet published the story?", MetaField.OUTLET),
        ("Who edited the film?", None),
        ("Who wrote the letter to the minister?", None),
    ],
)
def test_questions_about_the_article_itself(question, field):
    assert analyse(question).about is field


def test_two_questions_in_one_are_split_into_parts():
    parts = split_parts("What do the restrictions tighten controls on, and what UN resolution did China promote?")
    assert parts == ("What do the restrictions tighten controls on?", "what UN resolution did China promote?")
    assert split_parts("Who met the Prime Minister and the President?") == ("Who met the Prime Minister and the President?",)


def test_names_missing_from_an_article_are_found_with_their_other_forms():
    article = vocab("Chinese officials met British and United Nations envoys in Beijing on Tuesday in 2025.")
    assert missing_names(analyse("What is Japan's policy on AI?"), article) == ("Japan", "AI")
    assert missing_names(analyse("What did China tell the UK and the UN?"), article) == ()
    assert missing_names(analyse("What did the 45 envoys agree?"), article) == ("45",)
    assert missing_years(analyse("What did the envoys agree in 2024?"), article) == ("2024",)
    assert missing_names(analyse("What did the envoys agree in 2024?"), article) == ()  # a year alone does not rule out


@pytest.mark.parametrize(("question", "core"), [
    ("How many subscribers did AOL shed in the final quarter of 2004, according to Time Warner's results?",
     "How many subscribers did AOL shed in the final quarter of 2004?"),
    ("According to the club, who will replace the manager?", "who will replace the manager?"),
    ("How many firms took part in the survey, which showed confidence weakening for the first time since 2003?",
     "How many firms took part in the survey?"),
    ("At the party meeting over the feud, which MP warned that division could wreck the party?",
     "which MP warned that division could wreck the party?"),
    ("Who is the chief executive of Cairn Energy?", "Who is the chief executive of Cairn Energy?"),
])
def test_the_core_of_a_question_drops_the_context_a_reader_sets_around_it(question, core):
    assert core_text(question) == core


def test_a_sentence_is_scored_against_the_core_and_a_bare_core_keeps_every_term():
    q = analyse("How many subscribers did AOL shed in the final quarter, according to Time Warner's results?")
    assert "warner" not in q.core_terms and "subscrib" in q.core_terms and "warner" in q.terms
    # "What was that show?" asks through its context: too few terms of its own to score by
    short = analyse("When Dame Julie Andrews saw the musical, she returned to her first theatre. What was that show?")
    assert short.core_terms == short.terms
