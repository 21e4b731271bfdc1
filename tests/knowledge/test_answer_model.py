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
