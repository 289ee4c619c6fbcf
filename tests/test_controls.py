"""Soft controls (melodia/lm/controls.py): plans from what users type, training labels that match the labels
sampling gives, a stepper and a widened model that read them, and the metrics that measure them."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DATA, REAL_MIDI
from helpers import MELODY, line
from test_infill import INFILL, untrained_infill

from melodia.lm.constraints import Constraints
from melodia.lm.controls import (
    ControlError,
    ControlPlan,
    Controls,
    Labeler,
    chord_index,
    density_index,
    plan_chords,
    plan_density,
    plan_register,
    register_index,
)
from melodia.lm.generation import GenerateError
from melodia.lm.model import MelodyLM, ModelConfig
from melodia.lm.sampler import Stepper
from melodia.metrics import bar_mean_pitches, bar_note_counts, chord_tone_rate, junction, spearman
from melodia.score import ChordSymbol


def test_plans_from_what_users_type() -> None:
    assert plan_chords("D | G A7 | D", 48, 12, 3) == ((0, chord_index(2, "")), (48, chord_index(7, "")),
                                                      (72, chord_index(9, "7")), (96, chord_index(2, "")))
    assert plan_chords("Am | Bm7b5 E7", 72, 36, 2)[-1] == (108, chord_index(4, "7"))  # 6/8: two dotted-quarter beats
    assert plan_density("2,4,8", None, 8) == tuple(density_index(n) for n in (2, 4, 8))
    assert [int(v) - 1 for v in plan_density("rising", 5, 8)] == [4, 5, 6, 7, 8]
    assert [int(v) - 1 for v in plan_density("arch", 5, 6)] == [3, 4, 6, 4, 3]
    assert plan_register("low, MID,high", None) == (1, 2, 3)
    assert plan_register("falling", 3) == (3, 2, 1)
    assert plan_register("any, high", None) == (0, 3)  # any: no register asked of that bar (the label unknown)
    assert register_index(float("nan")) == 0 and register_index(60.0) == 1 and register_index(74.0) == 3
    for bad, message in [({"density": "rising"}, "a curve needs the length in bars"),
                         ({"register": "mid,top"}, "'top' is not a register"),
                         ({"chords": "D | | G"}, "expected bars of chord symbols")]:
        with pytest.raises(ControlError, match=message):
            plan_density(bad["density"], None, 8) if "density" in bad else \
                plan_register(bad["register"], None) if "register" in bad else plan_chords(bad["chords"], 48, 12, 4)
    with pytest.raises(GenerateError, match=r"controls.chords = 'H7': chord 'H7': not a chord symbol"):
        Controls(chords="H7")
    with pytest.raises(GenerateError, match=r"controls.density = 3: expected text"):
        Controls(density=3)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def melody_corpus(tmp_path_factory: pytest.TempPathFactory) -> object:
    import os

    from melodia.corpus import build_corpus, find_recipe
    from melodia.corpus.reader import Corpus

    music = tmp_path_factory.mktemp("controls") / "music"
    music.mkdir()
    for path in [*REAL_MIDI[:8], DATA / "jig_6_8.mid", DATA / "waltz_3_4.mid", DATA / "pickup.mid"]:
        shutil.copy(path, music / path.name)
    cache = tmp_path_factory.mktemp("controls-cache")
    old = os.environ.get("MELODIA_CACHE")
    os.environ["MELODIA_CACHE"] = str(cache)
    try:
        recipe = dataclasses.replace(find_recipe(str(music)), name="controlled", tokenizer=MELODY.config)
        build_corpus(recipe, workers=1, progress=False)
        yield Corpus.open("controlled")
    finally:
        if old is None:
            os.environ.pop("MELODIA_CACHE", None)
        else:
            os.environ["MELODIA_CACHE"] = old


def test_training_labels_are_the_labels_sampling_reads(melody_corpus: object) -> None:
    """For every piece, in order and rearranged fill-in-the-middle: the density and fill labels training gives each
    token are the ones `Labeler` gives from the grammar's state when told the piece's own densities; the chord labels
    are analysed chords, transposed with the piece."""
    from melodia.lm.train import EpochStreams, TrainConfig, condition_values, training_tokenizer

    names = ("chord", "density", "register", "fill")
    config = TrainConfig(corpus="controlled", conditions=names, infill=0.5, control_dropout=0.0)
    tokenizer = training_tokenizer(melody_corpus, config)  # type: ignore[arg-type]
    streams = EpochStreams(melody_corpus, "train", config, condition_values(melody_corpus, names),  # type: ignore[arg-type]
                           tokenizer)
    rng = np.random.default_rng(0)
    arranged_count = 0
    for index, tokens in enumerate(streams.tokens):
        controls = streams.controls[index]
        for _ in range(3):
            arranged, labels = streams._controlled(index, tokens, np.zeros((len(tokens), 4), dtype=np.int64), 0, rng)
            arranged_count += len(arranged) != len(tokens)
            assert tokenizer.check(arranged) == []
            labeler = Labeler(names, ControlPlan(density=tuple(density_index(int(n)) for n in controls.notes)))
            state, rows = tokenizer.new_state(), []
            for token in arranged:
                state.advance(int(token))
                rows.append(labeler(state))
            given = np.stack(rows)[:-1]
            assert (given[:, [1, 3]] == labels[:-1, [1, 3]]).all()
        shifted = controls.labels(["chord"], 5)[:, 0]
        plain = controls.labels(["chord"], 0)[:, 0]
        known = plain > 0
        assert (((shifted[known] - 1) // 4 - (plain[known] - 1) // 4) % 12 == 5).all()
    assert arranged_count > 5


def test_stepper_reads_labels_as_the_model_does() -> None:
    model = untrained_infill(5)
    model.eval()
    tokens = torch.tensor([[1, 10, 40, 60, 70, 200, 220]])
    labels = torch.tensor([[[0, 0, 0, 0], [3, 2, 1, 0], [7, 5, 2, 0], [7, 5, 2, 1], [9, 9, 3, 2], [0, 1, 1, 4],
                            [48, 17, 3, 3]]])
    with torch.no_grad():
        expected, _ = model(tokens, None, labels)
        stepper = Stepper.of(model)
        state = (torch.zeros(2, 1, 48), torch.zeros(2, 1, 48))
        for step in range(tokens.shape[1]):
            logits, state = stepper(tokens[:, step], state, labels[:, step])
            torch.testing.assert_close(logits, expected[:, step], rtol=1e-4, atol=1e-4)
        plain, _ = model(tokens)  # no labels: every condition "unknown"
        unknown, _ = model(tokens, None, torch.zeros(1, 7, 4, dtype=torch.long))
        torch.testing.assert_close(plain, unknown)


def test_a_widened_model_predicts_as_before_until_trained() -> None:
    torch.manual_seed(0)
    narrow = MelodyLM(ModelConfig(len(MELODY), 32, 48, 2))
    narrow.eval()
    wider = narrow.widened(len(INFILL), {"chord": ["unknown", "C"], "density": ["unknown", "1"]})
    wider.eval()
    tokens = torch.tensor([[1, 10, 40, 60, 70, 200]])
    with torch.no_grad():
        before, _ = narrow(tokens)
        after, _ = wider(tokens)
    torch.testing.assert_close(after[..., :len(MELODY)], before)
    assert after.shape[-1] == len(INFILL)
    with pytest.raises(Exception, match="can only be widened"):
        wider.widened(len(MELODY), {})


def test_metrics_of_chords_bars_and_junctions() -> None:
    tune = line([62, 66, 69, 74, 67, 71, 74, 79, 69, 73, 75, 72])  # D, G, A7; beat 3 of bar 3 is off the chord
    tune.chord_symbols = [ChordSymbol(0, "D"), ChordSymbol(1920, "G"), ChordSymbol(3840, "A7")]
    assert chord_tone_rate(tune) == pytest.approx(5 / 6)  # strong beats: 1 and 3 of each bar
    assert np.isnan(chord_tone_rate(line([60, 62])))
    assert list(bar_note_counts(tune)) == [4, 4, 4]
    np.testing.assert_allclose(bar_mean_pitches(tune), [67.75, 72.75, 72.25])
    assert junction(tune, 1920) == (7, 0.0, 1.0) and junction(tune, 0) is None
    assert spearman([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)
    assert np.isnan(spearman([1, 1], [2, 3]))


def test_controls_need_a_model_trained_with_them() -> None:
    from melodia.lm.generation import generate
    from melodia.lm.model import MelodyLM

    plain = MelodyLM(ModelConfig(len(INFILL), 16, 16, 1))
    with pytest.raises(GenerateError, match=r"controls.chords: this model was trained without the chord control"):
        generate((plain, INFILL), "D4 E4", 1, Constraints(bars=4), controls=Controls(chords="D | G"))


def test_generated_chords_reach_the_midi_file(tmp_path: Path) -> None:
    from melodia.io import read_score
    from melodia.lm.generation import generate, write_outputs

    outputs = generate((untrained_infill(6), INFILL), "G4 A4 key=G", 2, Constraints(bars=4),
                       controls=Controls(chords="G | C D7"))
    assert [(c.tick, c.symbol) for c in outputs[0].chord_symbols] == [(0, "G"), (1920, "C"), (2880, "D7"),
                                                                       (3840, "G"), (5760, "C"), (6720, "D7")][
        :len(outputs[0].chord_symbols)]
    path = write_outputs(outputs, tmp_path, {})[0]
    assert [c.symbol for c in read_score(path).chord_symbols][:3] == ["G", "C", "D7"]


def test_the_style_step_plays_the_generated_chords() -> None:
    from melodia.lm.generation import generate
    from melodia.style import stylize

    melody = generate((untrained_infill(8), INFILL), "A4 B4 C5 key=Am", 1,
                      Constraints(bars=4, form="none"), controls=Controls(chords="Am | F | E7 | Am"))[0]
    styled = stylize(melody, style="piano-ballad", intro="none", ending="none")
    assert [c.symbol for c in styled.chord_symbols][:4] == ["Am", "F", "E7", "Am"]
    left_hand = next(t for t in styled.tracks if t.name == "Piano LH")  # the bass and its figure
    bar = 1920
    assert {n.pitch % 12 for n in left_hand.notes if bar <= n.onset_tick < 2 * bar} <= {5, 9, 0}  # F major's tones


def test_chords_pull_harder_on_strong_beats_than_on_the_other_beats() -> None:
    """Over `G | C`, a note on beat 1 or 3 leans to the chord's tones by the chord gravity, on beat 2 or 4 by the
    tonic gravity, between beats not at all; from bar 2 on, C's tones are pulled, not G's (both of `Biases`)."""
    from melodia.lm.draw import chord_bias
    from melodia.lm.sampler import Biases
    from melodia.score import ChordSymbol

    chord, tonic = Biases().chord_gravity, Biases().tonic_gravity

    bias = chord_bias(INFILL, None, [ChordSymbol(0, "G"), ChordSymbol(1920, "C")])
    vocab, state = INFILL.vocab, INFILL.new_state()
    low = INFILL.config.pitch_range[0]
    g_tone, c_tone = vocab.id("Pitch", 62 - low), vocab.id("Pitch", 64 - low)  # D4 (in G only), E4 (in C only)
    beat = INFILL.config.steps_per_quarter
    pulls = []
    for token in [vocab.id("TimeSig", INFILL.grid.meters.index((4, 4))), vocab.id("Bar", 0)]:
        state.advance(token)
    for _ in range(2):
        for position in (0, beat, beat // 2, 2 * beat):
            state.advance(vocab.id("Position", position))
            pulls.append((round(float(bias(state)[g_tone]), 4), round(float(bias(state)[c_tone]), 4)))
            state.position = -1  # only the bias is read here, not a tune
        state.advance(vocab.id("Bar", 0))
    assert pulls[:4] == [(chord, 0), (tonic, 0), (0, 0), (chord, 0)]
    assert pulls[4:] == [(0, chord), (0, tonic), (0, 0), (0, chord)]
