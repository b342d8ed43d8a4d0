"""course_lib.data's play-classification set: labels, splits, leakage, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import data


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)


@pytest.fixture(scope="module")
def shakespeare_text() -> str:
    return data.read_verified("tinyshakespeare.txt").decode("utf-8")


def test_every_speech_is_labelled_and_plays_come_in_order(shakespeare_text):
    speakers, speeches, labels = data.label_speeches(shakespeare_text)
    assert len(speakers) == len(speeches) == len(labels) == 7222
    assert labels.dtype == np.int64 and labels[0] == 0 and labels[-1] == len(data.PLAY_NAMES) - 1
    assert np.all(np.diff(labels) >= 0), "plays follow each other; labels never go back"
    assert set(np.unique(labels)) == set(range(9))
    for speaker, label in zip(speakers, labels):
        if speaker in data.SPEAKER_TO_PLAY:
            assert data.SPEAKER_TO_PLAY[speaker] == data.PLAY_NAMES[label]
    # Spot checks against the text: the famous openings and a speaker shared by two plays.
    assert speeches[labels.tolist().index(1)].startswith("GLOUCESTER:\nNow is the winter of our discontent")
    assert {data.PLAY_NAMES[label] for speaker, label in zip(speakers, labels) if speaker == "JULIET"} == \
        {"Romeo and Juliet", "Measure for Measure"}


def test_splits_are_stratified_disjoint_and_reproducible():
    speeches = data.load_play_speeches()
    counts = [np.bincount(y, minlength=9) for y in (speeches.y_train, speeches.y_val, speeches.y_test)]
    assert all(np.all(c > 0) for c in counts), "every play appears in every split"
    assert (len(speeches.y_train), len(speeches.y_val), len(speeches.y_test)) == (1616, 536, 536)
    assert speeches.text_train.dtype == object and isinstance(speeches.text_test[0], str)
    assert min(len(t) for t in speeches.text_train) >= 100
    assert not set(speeches.text_test) & set(speeches.text_train)
    again, other = data.load_play_speeches(seed=0), data.load_play_speeches(seed=1)
    np.testing.assert_array_equal(again.text_test, speeches.text_test)
    assert not np.array_equal(other.text_test, speeches.text_test)
    assert speeches.play_names == data.PLAY_NAMES and len(speeches.play_names) == 9


def test_no_speaker_line_in_the_labelled_text():
    speeches = data.load_play_speeches()
    for text in speeches.text_val:
        first_line = text.split("\n", 1)[0]
        assert not (first_line.endswith(":") and first_line.rstrip(":").upper() == first_line.rstrip(":")), first_line


def test_held_out_speeches_are_cut_from_the_pretraining_text(shakespeare_text):
    speeches = data.load_play_speeches()
    for text in list(speeches.text_val) + list(speeches.text_test):
        assert text not in speeches.pretraining_text
    kept = sum(1 for text in speeches.text_train[:200] if text in speeches.pretraining_text)
    assert kept == 200, "training speeches stay in the pretraining text"
    held_out = sum(len(t) for t in speeches.text_val) + sum(len(t) for t in speeches.text_test)
    assert len(speeches.pretraining_text) < len(shakespeare_text) - held_out


@pytest.mark.parametrize("arguments, message", [
    ({"min_characters": 0}, "min_characters"), ({"min_characters": 2.5}, "min_characters"),
    ({"min_characters": True}, "min_characters"), ({"val_fraction": 0.0}, "val_fraction"),
    ({"test_fraction": 1.0}, "test_fraction"), ({"val_fraction": 0.5, "test_fraction": 0.5}, "below 1"),
    ({"min_characters": 5000}, "too few"),
])
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        data.load_play_speeches(**arguments)


def test_damaged_text_is_refused(shakespeare_text):
    with pytest.raises(ValueError, match="SPEAKER"):
        data.label_speeches("no speaker here\n\nROMEO:\nhello")
    with pytest.raises(ValueError, match="Richard III"):
        data.label_speeches(shakespeare_text.replace("Now is the winter of our discontent", "Now is the winter"))
    moved = shakespeare_text.replace("MENENIUS:\n", "PROSPERO:\n", 1)  # a Tempest character inside Coriolanus
    with pytest.raises(ValueError, match="PROSPERO"):
        data.label_speeches(moved)
    with pytest.raises(ValueError, match="begin with"):
        data.label_speeches("ROMEO:\nhello\n\n" + shakespeare_text)


def test_a_corrupted_file_is_named(data_copy):
    (data_copy / "tinyshakespeare.txt").write_text("ROMEO:\nshort\n", encoding="utf-8")
    with pytest.raises(ValueError, match="tinyshakespeare.txt"):
        data.load_play_speeches()
