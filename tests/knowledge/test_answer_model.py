"""The shipped answering model and its inputs: every weight names a measurement the answer path makes."""

from __future__ import annotations

from knowledge.answerability import ANSWER_FEATURES, model
from knowledge.answering import answer_vector
from knowledge.support import FEATURES


def test_every_shipped_weight_names_a_measurement_the_answer_path_makes():
    m = model()
    assert set(m.sentence.features) <= set(FEATURES)
    assert set(m.answerable.features) <= set(ANSWER_FEATURES)
    assert 0.0 < m.threshold < 1.0


def test_the_answerability_input_holds_the_best_the_runner_up_and_the_best_sentences_measurements():
    own = {name: float(n) for n, name in enumerate(ANSWER_FEATURES)}
    x = dict(zip(ANSWER_FEATURES, answer_vector([0.6, 0.2, 0.2], own.__getitem__), strict=True))
    assert (x["p_best"], x["p_second"]) == (0.6, 0.2)
    assert x["kind_match"] == own["kind_match"]
    alone = dict(zip(ANSWER_FEATURES, answer_vector([0.3], own.__getitem__), strict=True))
    assert alone["p_second"] == 0.0


def test_a_person_is_offered_by_a_full_name_or_a_title_not_by_any_capitalised_word():
    from knowledge.question import analyse
    from knowledge.support import kind_match

    q = analyse("Which Gartner analyst was the sceptical voice about the Mac mini?")
    assert kind_match(q, "One dissenting opinion came from Brian Gammage, vice-president of research at Gartner.")
    assert kind_match(q, "Dr Gammage said so.")
    assert not kind_match(q, "The Everton striker signed him on Monday.")
    assert not kind_match(q, "He said on Monday that Gartner liked it.")


def test_won_is_money_only_after_an_amount():
    from knowledge.question import analyse
    from knowledge.support import kind_match

    q = analyse("How much of LG Card's debt will be swapped for shares?")
    assert kind_match(q, "The agreement will see some 12 trillion won of debt converted into equity.")
    assert not kind_match(q, "LG Card won 3 awards last year.")
