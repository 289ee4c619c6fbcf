from __future__ import annotations

import itertools
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ALL_MIDI, DATA, ids
from hypothesis import given, settings
from hypothesis import strategies as st

from melodia import Note, Score, TempoChange, TimeSignature, TokenizerError, Track, read_score
from melodia.tokenizers import EOS, TokenizerConfig, load_tokenizer, tokenizer_from_config

CONFIGS = {
    "metrical": TokenizerConfig(),
    "metrical-melody": TokenizerConfig(melody=True, velocity_bins=1),
    "metrical-24-plain": TokenizerConfig(steps_per_quarter=24, tempo=False, use_programs=False,
                                         pitch_range=(21, 108), max_bar_quarters=6),
    "performance": TokenizerConfig(scheme="performance"),
    "performance-melody": TokenizerConfig(scheme="performance", melody=True, tempo=False),
    "performance-plain": TokenizerConfig(scheme="performance", use_programs=False, velocity_bins=1,
                                         steps_per_quarter=4, max_shift_quarters=1),
}
TOKENIZERS = {name: tokenizer_from_config(config) for name, config in CONFIGS.items()}
# every note one step, no Duration tokens (the JSB chorales' chords spelled out): long notes are cut, so it is
# left out of the exact round trips of real files
STEPS = TokenizerConfig(steps_per_quarter=1, use_programs=False, velocity_bins=1, tempo=False, max_duration_quarters=1,
                        max_bar_quarters=4, pitch_range=(21, 108), durations=False)
GRAMMARS = {**TOKENIZERS, "metrical-steps": tokenizer_from_config(STEPS)}


@pytest.mark.parametrize("name", TOKENIZERS)
@pytest.mark.parametrize("path", ALL_MIDI, ids=ids(ALL_MIDI))
def test_real_files_round_trip_exactly(path: Path, name: str) -> None:
    tokenizer = TOKENIZERS[name]
    score = read_score(path)
    tokens = tokenizer.encode(score)
    assert tokenizer.check(tokens) == []
    assert tokenizer.decode(tokens) == tokenizer.quantize(score)
    assert np.array_equal(tokenizer.encode(tokenizer.quantize(score)), tokens)  # one sequence per score


# ---------------------------------------------------------------- random scores

METERS = [(4, 4), (3, 4), (6, 8), (2, 2), (5, 4), (7, 8), (12, 8), (3, 16), (6, 2), (1, 4), (9, 16)]


@st.composite
def scores(draw: st.DrawFn) -> Score:
    tracks = []
    for _ in range(draw(st.integers(0, 4))):
        is_drum = draw(st.booleans())
        notes = draw(st.lists(st.builds(Note, st.integers(0, 127), st.integers(1, 127),
                                        st.integers(0, 12_000), st.integers(1, 5_000)), max_size=30))
        tracks.append(Track("", draw(st.integers(0, 127)), is_drum, notes))
    tempo_ticks = sorted(draw(st.sets(st.integers(0, 12_000), max_size=4)))
    meter_ticks = sorted(draw(st.sets(st.integers(0, 12_000), max_size=4)))
    tempos = [TempoChange(t, draw(st.floats(20, 400))) for t in tempo_ticks]
    meters = [TimeSignature(t, *draw(st.sampled_from(METERS))) for t in meter_ticks]
    return Score(tracks, tempos, meters).validate()


@pytest.mark.parametrize("name", TOKENIZERS)
@settings(max_examples=60, deadline=None)
@given(score=scores())
def test_random_scores_round_trip_exactly(name: str, score: Score) -> None:
    tokenizer = TOKENIZERS[name]
    tokens = tokenizer.encode(score)
    assert tokenizer.check(tokens) == []
    quantized = tokenizer.quantize(score)
    assert tokenizer.decode(tokens) == quantized
    assert np.array_equal(tokenizer.encode(quantized), tokens)


# ---------------------------------------------------------------- the grammar


def random_walk(name: str, seed: int, length: int = 400) -> list[int]:
    """Tokens drawn uniformly from the grammar's mask; EOS grows likelier as the walk goes on."""
    tokenizer = GRAMMARS[name]
    rng = np.random.default_rng(seed)
    state, tokens = tokenizer.new_state(), []
    while not state.ended and len(tokens) < length:
        mask = state.allowed()
        choices = np.flatnonzero(mask)
        assert len(choices), f"dead end after {tokenizer.to_strings(tokens[-8:])}"
        token = EOS if mask[EOS] and rng.random() < len(tokens) / length else int(rng.choice(choices))
        state.advance(token)
        tokens.append(token)
    return tokens


@pytest.mark.parametrize("name", GRAMMARS)
def test_every_sequence_the_grammar_allows_decodes_and_is_canonical(name: str) -> None:
    tokenizer = GRAMMARS[name]
    for seed in range(150):
        tokens = random_walk(name, seed)
        assert tokenizer.check(tokens, complete=False) == []
        score = tokenizer.decode(tokens).validate()
        if tokens[-1] == EOS:
            assert tokenizer.encode(score).tolist() == tokens, f"seed {seed} is not canonical"


@pytest.mark.parametrize("name", GRAMMARS)
def test_mutated_sequences_are_rejected(name: str) -> None:
    tokenizer = GRAMMARS[name]
    tokens = tokenizer.encode(read_score(DATA / "drums.mid")).tolist()
    rng = np.random.default_rng(0)
    mutations = {
        "drop a token": lambda t, i: t[:i] + t[i + 1:],
        "repeat a token": lambda t, i: [*t[:i], t[i], *t[i:]],
        "swap neighbours": lambda t, i: [*t[:i], t[i + 1], t[i], *t[i + 2:]] if t[i] != t[i + 1] else t[:i],
    }
    for label, mutate in mutations.items():
        for _ in range(30):
            index = int(rng.integers(1, len(tokens) - 2))
            mutated = mutate(tokens, index)
            problems = tokenizer.check(mutated)
            # either the grammar rejects it, or it is itself the canonical form of another score
            assert problems or tokenizer.encode(tokenizer.decode(mutated)).tolist() == mutated, label


def test_check_names_position_token_and_expectation() -> None:
    tokenizer = TOKENIZERS["metrical"]
    tokens = tokenizer.to_ids(["BOS", "TimeSig_4/4", "Tempo_120.0", "Bar", "Pitch_60"])
    problems = tokenizer.check(tokens)
    assert problems[0].startswith("token 4: Pitch_60 may not follow Bar here; expected")
    assert "Position" in problems[0]
    assert problems[-1] == "the sequence does not end with EOS"
    with pytest.raises(TokenizerError, match="cannot decode: token 4"):
        tokenizer.decode(tokens)
    with pytest.raises(TokenizerError, match="outside the vocabulary"):
        tokenizer.decode([1, 99_999])


def test_mask_is_cheap_enough_to_call_every_step() -> None:
    """Not a timing: the mask is a fresh boolean array over the vocabulary, nothing bigger."""
    state = TOKENIZERS["metrical"].new_state()
    mask = state.allowed()
    assert mask.dtype == bool and mask.shape == (len(TOKENIZERS["metrical"]),)


# ---------------------------------------------------------------- what quantize keeps


def test_quantize_snaps_to_grid_and_cuts_restruck_notes() -> None:
    tokenizer = TOKENIZERS["metrical"]  # 12 steps a quarter: 40 ticks a step
    score = Score([Track("", 0, False, [Note(60, 100, 0, 1000), Note(60, 90, 479, 100), Note(64, 10, 21, 19)])])
    quantized = tokenizer.quantize(score).tracks[0].notes
    assert [(n.pitch, n.onset_tick, n.duration_tick) for n in quantized] == [
        (60, 0, 480), (64, 40, 40), (60, 480, 80)]


def test_melody_mode_keeps_the_top_line() -> None:
    tokenizer = TOKENIZERS["metrical-melody"]
    chords = read_score(DATA / "triplets.mid")  # a held bass under a triplet run
    melody = tokenizer.quantize(chords).tracks[0].notes
    assert all(a.end_tick <= b.onset_tick for a, b in itertools.pairwise(melody))
    assert [n.pitch for n in melody][:3] == [60, 61, 62]


@pytest.mark.parametrize(("meter", "expected"), [
    ((6, 2), "3/2"), ((4, 1), "4/2"), ((3, 1), "3/2"), ((12, 4), "6/4"), ((9, 4), "3/4"), ((10, 4), "5/4"),
    ((1, 32), "4/4"), ((17, 8), "4/4")])
def test_unsupported_meter_becomes_equal_shorter_bars(meter: tuple[int, int], expected: str) -> None:
    from melodia.errors import MelodiaWarning

    score = Score([Track(notes=[Note(60, 80, 4000, 480)])], [], [TimeSignature(0, *meter)])
    with pytest.warns(MelodiaWarning, match=f"{meter[0]}/{meter[1]}"):
        quantized = TOKENIZERS["metrical"].quantize(score)
    assert [str(s) for s in quantized.time_signatures] == [expected]


# ---------------------------------------------------------------- saving


@pytest.mark.parametrize("name", ["metrical", "performance-plain"])
def test_save_and_load(name: str, tmp_path: Path) -> None:
    tokenizer = TOKENIZERS[name]
    path = tokenizer.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(path)
    assert loaded.config == tokenizer.config
    assert loaded.vocab.tokens == tokenizer.vocab.tokens


def test_load_refuses_other_versions_and_unknown_fields(tmp_path: Path) -> None:
    import json

    data = TOKENIZERS["metrical"].to_dict()
    path = tmp_path / "t.json"
    path.write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(TokenizerError, match="version 99"):
        load_tokenizer(path)
    path.write_text(json.dumps({**data, "config": {**data["config"], "grid": 3}}))
    with pytest.raises(TokenizerError, match="unknown field 'grid'"):
        load_tokenizer(path)
    path.write_text(json.dumps({**data, "vocabulary": data["vocabulary"][:-1]}))
    with pytest.raises(TokenizerError, match="vocabulary differs"):
        load_tokenizer(path)
    with pytest.raises(TokenizerError, match="steps_per_quarter = 7"):
        TokenizerConfig(steps_per_quarter=7)


@pytest.mark.parametrize(("scheme", "note_kind", "pitch_kinds", "constraints"), [
    ("metrical", "Pitch", ["Pitch"], True),
    ("performance", "NoteOn", ["NoteOn", "NoteOff"], False),
], ids=["metrical", "performance"])
def test_the_tokenizer_says_which_tokens_are_pitches(scheme: str, note_kind: str, pitch_kinds: list[str],
                                                     constraints: bool) -> None:
    tokenizer = tokenizer_from_config(TokenizerConfig(scheme=scheme, pitch_range=(48, 84)))
    ids = tokenizer.pitch_ids()
    assert tokenizer.to_strings(ids[[0, -1]]) == [f"{note_kind}_48", f"{note_kind}_84"] and len(ids) == 37
    assert [tokenizer.vocab.kind_of[start] for start, _ in tokenizer.pitch_id_ranges()] == pitch_kinds
    assert tokenizer.supports_constraints == constraints


@pytest.mark.parametrize("scheme", ["metrical", "performance"])
def test_only_a_scheme_with_duration_tokens_cuts_long_notes(scheme: str) -> None:
    config = TokenizerConfig(scheme=scheme, max_duration_quarters=2)
    tokenizer = tokenizer_from_config(config)
    score = Score([Track(notes=[Note(pitch=60, velocity=90, onset_tick=0, duration_tick=480 * 3)])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decoded = tokenizer.decode(tokenizer.encode(score))
    assert decoded.notes[0].duration_tick == (480 * 2 if scheme == "metrical" else 480 * 3)


def test_chords_of_steps_need_no_duration_tokens() -> None:
    from melodia.corpus import find_recipe
    from melodia.io.jsb import read_jsb
    from melodia.tokenizers.rules import InOrder

    steps, with_durations = GRAMMARS["metrical-steps"], tokenizer_from_config(replace(STEPS, durations=True))
    source = find_recipe("jsb").sources[0]
    for score, _ in read_jsb(source.location, "struck")["test"][:5]:
        tokens = steps.encode(score)
        assert steps.check(tokens) == [] and not any(t.startswith("Duration") for t in steps.to_strings(tokens))
        notes = [(n.pitch, n.onset_tick, n.duration_tick) for n in score.notes]
        assert [(n.pitch, n.onset_tick, n.duration_tick) for n in steps.decode(tokens).notes] == notes
        assert len(tokens) < 0.6 * len(with_durations.encode(score))  # four tokens a step where there were eight
    with pytest.raises(TokenizerError, match="durations = False: expected True, or False with the metrical scheme"):
        TokenizerConfig(durations=False)  # eight velocities: a Velocity token would end each note
    with pytest.raises(TokenizerError, match="no lengths"):
        InOrder(steps)
