"""The duplicate check decides the same in every process and every run, and finds near-copies
at the 0.85 threshold with the recall its LSH bands promise."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from knowledge.dedup import THRESHOLD, DuplicateIndex, candidate_recall, jaccard, shingles
from knowledge.loading import build_article, load_file
from tests.conftest import BBC, REPO
from tests.newspages import bbc_available

needs_bbc = pytest.mark.skipif(not bbc_available(), reason="BBC corpus folder is missing")


def _replay(tmp_path, *args: str, seed: int) -> list[str]:
    env = os.environ | {"PYTHONHASHSEED": str(seed)}
    out = subprocess.run([sys.executable, "-m", "tests.knowledge.dedup_replay", str(BBC / "business"), *args],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_shingle_hashes_are_the_same_in_every_process():
    text = "The central bank raised its main interest rate by a quarter point on Thursday."
    code = "import json,sys; from knowledge.dedup import shingles; print(json.dumps(sorted(shingles(sys.argv[1]))))"
    runs = [subprocess.run([sys.executable, "-c", code, text], cwd=REPO, env=os.environ | {"PYTHONHASHSEED": str(s)},
                           capture_output=True, text=True, check=True).stdout for s in (1, 2)]
    assert json.loads(runs[0]) == json.loads(runs[1]) == sorted(shingles(text))


def test_the_bands_promise_near_certain_recall_at_the_threshold():
    assert candidate_recall(THRESHOLD) > 1 - 1e-6
    assert candidate_recall(0.5) < 0.8  # and unrelated texts are rarely compared at all


@needs_bbc
def test_every_near_copy_at_or_above_the_threshold_is_found():
    rng = random.Random(7)
    stories = [load_file(BBC / "business" / f"{n:03d}.txt", source="BBC News") for n in range(1, 151)]
    index, committed = DuplicateIndex(), {a.id: a for a in stories}
    index.sync(committed)
    tried = 0
    for story in stories:
        words = story.text.split()
        for i in rng.sample(range(len(words)), k=max(1, len(words) // 120)):
            words[i] = "edited"  # a sub-editor's touch: a word here and there
        copy = build_article(title=story.title + " (wire)", text=" ".join(words), source="Wire")
        if jaccard(shingles(copy.text), shingles(story.text)) < THRESHOLD:
            continue
        tried += 1
        found = index.find(copy, committed)
        assert found is not None and found[0].id == story.id, story.id
    assert tried >= 100


@needs_bbc
def test_the_business_folder_keeps_the_same_ids_across_processes_and_after_a_killed_run(tmp_path):
    clean = _replay(tmp_path, seed=1)
    assert len(clean) == 500  # 510 files, 10 of them copies of other stories
    assert _replay(tmp_path, seed=2) == clean
    # A load killed part-way, then run again from what it had committed.
    stop = random.Random().randint(50, 450)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(_replay(tmp_path, "--stop-after", str(stop), seed=3)))
    assert _replay(tmp_path, "--resume", str(state), seed=4) == clean


@needs_bbc
def test_the_business_folder_keeps_the_same_ids_in_reverse_and_shuffled_order(tmp_path):
    clean = _replay(tmp_path, seed=1)
    assert _replay(tmp_path, "--reverse", seed=2) == clean
    assert _replay(tmp_path, "--shuffle", "11", seed=3) == clean
    # killed part-way through a reversed load, then run again in the forward order
    state = tmp_path / "state.json"
    state.write_text(json.dumps(_replay(tmp_path, "--reverse", "--stop-after", "300", seed=4)))
    assert _replay(tmp_path, "--resume", str(state), seed=5) == clean
