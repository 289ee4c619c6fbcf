"""Infilling (melodia/lm/infill.py and the fill-in-the-middle grammar of tokenizers/metrical.py): sequences that
decode to the tune, 1,000 infills that fit their gaps and keep every other note, refusals, and the command."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, REAL_MIDI
from helpers import MELODY, cli, tiny_config

from melodia.io import read_score
from melodia.lm.infill import BarSpan, InfillError, infill
from melodia.lm.model import MelodyLM, ModelConfig
from melodia.score import Note, Score, TimeSignature, Track
from melodia.tokenizers import EOS, tokenizer_from_config
from melodia.tokenizers.metrical import fill_layout, fill_prompt

INFILL = tokenizer_from_config(dataclasses.replace(MELODY.config, infill=True))
CONTROLS = {"chord": None, "density": None, "register": None, "fill": None}


def untrained_infill(seed: int = 0) -> MelodyLM:
    import torch

    from melodia.lm.controls import control_values

    torch.manual_seed(seed)
    return MelodyLM(ModelConfig(len(INFILL), 32, 48, 2, conditions=control_values(list(CONTROLS))))


def tune(bars: int = 8) -> Score:
    """A 4/4 tune with a pickup-like rest, a note tied over a bar line and one of every length."""
    notes, tick = [], 240
    pattern = [(62, 240), (64, 480), (66, 960), (67, 240), (69, 720), (71, 480), (69, 1200), (67, 480), (66, 480)]
    while tick < bars * 1920 - 480:
        for pitch, length in pattern:
            if tick + length > bars * 1920:
                break
            notes.append(Note(pitch, 90, tick, length))
            tick += length
    return Score([Track("Flute", 73, False, notes)], time_signatures=[TimeSignature(0, 4, 4)])


def test_fill_in_the_middle_sequences_decode_to_the_tune() -> None:
    """Every gap of 1 to 4 bars of every real MIDI file in one meter and tempo (others stay in order)."""
    vocab = INFILL.vocab
    tried = 0
    for path in REAL_MIDI:
        tokens = INFILL.encode(read_score(path)).astype(np.int64)
        bars = np.flatnonzero(tokens == vocab.id("Bar", 0))
        changes = sum(int(((tokens >= a) & (tokens < b)).sum()) for a, b in (vocab.ranges["TimeSig"],
                                                                               vocab.ranges["Tempo"]))
        if len(bars) < 2 or changes > 2:
            continue
        tried += 1
        for first in range(min(len(bars), 12)):
            for length in range(1, min(4, len(bars) - first) + 1):
                prompt, start, stop = fill_prompt(INFILL, tokens, first, length)
                assert start == bars[first] and stop == (bars[first + length] if first + length < len(bars)
                                                         else len(tokens) - 1)
                bridge = prompt[prompt.index(vocab.ranges["Middle"][0]) + 1:]  # the 2 bars before the gap again
                assert bridge == list(tokens[bars[max(first - 2, 0)]:start]), path.name
                arranged = [*prompt, *tokens[start:stop], EOS]
                assert INFILL.check(arranged) == [], path.name
                suffix_stop = fill_layout(INFILL, tokens, first, length).suffix_stop  # the suffix keeps 4 bars
                expected = INFILL.decode([*tokens[:suffix_stop], EOS])
                assert INFILL.decode(arranged).notes == expected.notes, path.name
    assert tried >= 8


def _kept(score: Score, start: int, end: int) -> list[Note]:
    return [n for n in score.notes if not start <= n.onset_tick < end]


def test_a_thousand_infills_fit_their_gaps_and_keep_every_other_note() -> None:
    model = untrained_infill(1)
    source = tune()
    bar = 1920
    drawn = 0
    for first, last, seed in [(1, 1, 0), (2, 4, 1), (3, 6, 2), (5, 8, 3), (7, 8, 4), (1, 8, 5), (4, 4, 6),
                              (6, 7, 7), (2, 2, 8), (8, 8, 9)]:
        outputs = infill((model, INFILL), source, BarSpan(first, last), count=100, random_seed=seed)
        start, end = (first - 1) * bar, last * bar
        next_onset = min((n.onset_tick for n in source.notes if n.onset_tick >= end), default=None)
        for output in outputs:
            assert _kept(output, start, end) == _kept(source, start, end)
            new = [n for n in output.notes if start <= n.onset_tick < end]
            assert all(n.onset_tick + n.duration_tick <= next_onset for n in new) if next_onset else True
            assert output.time_signatures == source.time_signatures and output.tempos == source.tempos
            assert output.tracks[0].program == 73 and output.tracks[0].name == "Flute"
            line = sorted(output.notes, key=lambda n: n.onset_tick)
            assert all(a.onset_tick + a.duration_tick <= b.onset_tick for a, b in itertools.pairwise(line))  # one line
        drawn += len(outputs)
    assert drawn == 1000


def test_500_melodies_over_chords_with_controls_decode_and_fit() -> None:
    from melodia.lm.constraints import Constraints
    from melodia.lm.controls import Controls
    from melodia.lm.generation import generate
    from melodia.metrics import bar_note_counts

    model = untrained_infill(2)
    melodies = []
    for seed, (meter, chords) in enumerate([("4/4", "D | G A7 | D"), ("6/8", "Am | E7"), ("3/4", "C | F | G7 | C"),
                                            ("2/4", "G | D7"), ("4/4", "Bb | Eb | F7 | Bb")]):
        constraints = Constraints(bars=6, meter=meter, form="none")  # one batch of 100 (a form is written tune by
        # tune: test_tunes.py)
        controls = Controls(chords=chords, density="rising", register="low,mid,high")
        melodies += generate((model, INFILL), "D4 E4", 100, constraints, random_seed=seed, controls=controls)
    assert len(melodies) == 500
    for score in melodies:
        assert len(bar_note_counts(score)) <= 6 and score.chord_symbols and score.chord_symbols[0].tick == 0
        assert all(a.tick < b.tick for a, b in zip(score.chord_symbols, score.chord_symbols[1:]))
        assert all(symbol.tick < score.end_tick for symbol in score.chord_symbols)


def test_a_multi_track_file_keeps_its_other_tracks_and_the_notes_held_into_the_gap() -> None:
    source = read_score(DATA / "jig_6_8.mid") if (DATA / "jig_6_8.mid").exists() else tune()
    source.tracks.append(Track("Bass", 33, False, [Note(43, 80, t, 700) for t in range(0, 8 * 1440, 720)]))
    model = untrained_infill(3)
    outputs = infill((model, INFILL), source, "2-3", count=20, track=0, random_seed=4)
    bar = source.time_signatures[0].bar_ticks
    for output in outputs:
        assert output.tracks[1] == source.tracks[1]
        assert _kept(output, bar, 3 * bar) == _kept(source, bar, 3 * bar)
        held = [n for n in source.tracks[0].notes if n.onset_tick < bar < n.onset_tick + n.duration_tick]
        first_new = min((n.onset_tick for n in output.tracks[0].notes if bar <= n.onset_tick < 3 * bar), default=None)
        if held and first_new is not None:
            assert first_new >= held[0].onset_tick + held[0].duration_tick


def test_infill_refusals_name_the_value_and_what_is_accepted() -> None:
    model = untrained_infill(4)
    with pytest.raises(InfillError, match=r"bars = 7-9: the tune has 8 bars; choose bars within 1-8"):
        infill((model, INFILL), tune(), "7-9")
    with pytest.raises(InfillError, match="bars = '5-3': expected bars FIRST-LAST counted from 1"):
        infill((model, INFILL), tune(), "5-3")
    with pytest.raises(InfillError, match="trained without infilling"):
        infill((model, MELODY), tune(), "2-3")
    two = tune()
    two.tracks.append(Track("Second", 0, False, [Note(60, 80, 0, 480)]))
    with pytest.raises(InfillError, match=r"2 pitched tracks; choose the one to rewrite .*0 'Flute', 1 'Second'"):
        infill((model, INFILL), two, "2-3")
    changing = tune()
    changing.time_signatures.append(TimeSignature(4 * 1920, 3, 4))
    with pytest.raises(InfillError, match="the meter changes there"):
        infill((model, INFILL), changing, "4-6")
    with pytest.raises(InfillError, match="count 0"):
        infill((model, INFILL), tune(), "2-3", count=0)


def test_trained_infill_model_from_the_command_line(tiny_cache: Path, tmp_path: Path) -> None:
    """Training writes fill-in-the-middle pieces and control labels; the model it makes fills a gap from
    the command line, and bad bars fail in one line."""
    import shutil

    from melodia.corpus import build_corpus, find_recipe
    from melodia.lm.train import TrainError, train

    with pytest.raises(TrainError, match=r"infill = 1.0: fill-in-the-middle needs a corpus of melodies"):
        train(tiny_config("infill=1.0"), tmp_path / "no.safetensors", progress_bar=False)
    music = tmp_path / "melodies"
    music.mkdir()
    for path in [*REAL_MIDI[:12], DATA / "jig_6_8.mid", DATA / "waltz_3_4.mid"]:
        shutil.copy(path, music / path.name)
    recipe = dataclasses.replace(find_recipe(str(music)), name="tinymelodies", tokenizer=MELODY.config)
    build_corpus(recipe, workers=1, progress=False)
    model_path = tmp_path / "fim.safetensors"
    config = dataclasses.replace(tiny_config("infill=1.0", "epochs=1", "max_steps=8"), corpus="tinymelodies",
                                 conditions=("chord", "density", "register", "fill"))
    record = train(config, model_path, progress_bar=False)
    assert record["steps"] == 8
    midi = tmp_path / "tune.mid"
    from melodia.io.midi import write_midi

    write_midi(tune(), midi)
    done = cli("infill", str(midi), "--bars", "3-4", "--num", "3", "--model", str(model_path), "-o",
               str(tmp_path / "out"), "--quiet", "--chords", "D | G", cache=tiny_cache)
    assert done.returncode == 0, done.stderr
    outputs = sorted((tmp_path / "out").glob("*.mid"))
    assert len(outputs) == 3 and (tmp_path / "out" / "manifest.json").is_file()
    for path in outputs:
        written = read_score(path)
        assert _kept(written, 2 * 1920, 4 * 1920) == _kept(read_score(midi), 2 * 1920, 4 * 1920)
    bad = cli("infill", str(midi), "--bars", "0-2", "--model", str(model_path), "-o", str(tmp_path / "bad"),
              cache=tiny_cache)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "--bars = '0-2'" in bad.stderr


def test_near_the_end_of_a_gap_pitches_far_from_the_next_kept_note_lose_likelihood() -> None:
    from melodia.tokenizers.rules import ApproachBias

    tokens = INFILL.encode(tune()).astype(np.int64)
    prompt, _, _ = fill_prompt(INFILL, tokens, 2, 2)  # bars 3-4 anew
    state = INFILL.new_state()
    for token in prompt:
        state.advance(token)
    bias = ApproachBias(INFILL, None, 0.5)
    vocab, low = INFILL.vocab, INFILL.config.pitch_range[0]
    target = next(p for onset, _, p, _, _ in sorted(state.gap.suffix) if onset == state.gap.limit)
    pull = {}
    for bar, position in ((1, 0), (2, 0), (2, 36)):  # 12 steps a beat: the last bar's beats 1 and 4
        while state.bars < state.gap.first_bar + bar:
            state.advance(vocab.id("Bar", 0))
        state.advance(vocab.id("Position", position))
        pull[bar, position] = {step: float(bias(state)[vocab.id("Pitch", target + step - low)]) for step in (0, 2, 7)}
        state.position = -1
    assert state.gap.limit - (state.bar_start + 36) <= 24  # half a bar or less before the next kept note
    assert pull[1, 0] == pull[2, 0] == {0: 0.0, 2: 0.0, 7: 0.0}  # earlier: no pull
    assert pull[2, 36] == {0: 0.0, 2: 0.0, 7: pytest.approx(-2.5)}  # a fifth away: 5 semitones beyond a step


def test_a_gap_that_ends_a_tune_ending_on_the_tonic_ends_on_the_tonic_too() -> None:
    """Redo the last bars of a tune that closes on its tonic, and each new ending closes there as well (on a strong
    beat, at least a beat long); a fragment that stops elsewhere is left free to stop anywhere."""
    from melodia.metrics import ends_on_tonic

    model = untrained_infill(11)
    closed = "D4 E4 F#4 G4 A4 G4 F#4 E4 F#4 G4 A4 B4 A4 G4 E4 D4 E4 F#4 G4 A4 B4 A4 F#4 E4 D4/1 key=D"
    outputs = infill((model, INFILL), closed, "6-7", count=40, random_seed=2)  # the last 2 of 7 bars
    assert all(ends_on_tonic(out, 2) for out in outputs)
    assert len({tuple(n.pitch for n in out.notes) for out in outputs}) > 30  # new bars, not one fixed ending
    open_ended = closed.replace("D4/1 key=D", "E4/1 key=D")
    free = infill((model, INFILL), open_ended, "6-7", count=40, random_seed=2)
    assert sum(ends_on_tonic(out, 2) for out in free) < 20


def test_an_infill_keeps_the_form_of_a_jig_its_return_and_its_closing_cadence() -> None:
    """Redo bars 5-8 of an 8-bar jig whose bar 5-6 play bars 1-2 again and whose last bar ends on the tonic off
    the downbeat (D3 D3): every infill restates the opening there and closes on the tonic (it used to end on a
    running eighth, 5 times in 5, and never restate the opening)."""
    from melodia.metrics import ends_on_tonic
    from melodia.metrics.tunes import bar_notes

    jig = "X:1\nT:jig\nM:6/8\nL:1/8\nK:D\nDFA dAF|GBd gfe|dcB AFD|EFG A3|DFA dAF|GBd gfe|dcB AGE|D3 D3|]\n"
    outputs = infill("default", jig, "5-8", count=5, random_seed=0)
    for out in outputs:
        bars = bar_notes(out)
        assert bars[4:6] == bars[0:2]
        assert ends_on_tonic(out, 2)
    assert len({tuple(map(tuple, bar_notes(out)[6:8])) for out in outputs}) > 2  # bars 7-8 are new each time
