"""Four-part harmonization learned from the Bach chorales.

    from melodia.harmony import harmonize
    chorale = harmonize(tune)                       # soprano (the tune, unchanged), alto, tenor, bass
    chorale = harmonize(tune, most_likely=True)      # the likeliest voices under the likeliest chords

The model (melodia/data/harmonizer.safetensors, trained by scripts/train_harmonizer.py) reads the
whole melody at once, so each chord knows where the phrase is going; see `melodia.harmony.sampling`
for the masks that keep the voices in range, uncrossed and free of parallel fifths and octaves.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from melodia.analysis import phrase_ends
from melodia.errors import MelodiaWarning
from melodia.harmony.data import STEP_TICKS, Chorale, HarmonyError, grid_steps, metre_features, voice_grid
from melodia.score import Note, Score, Track
from melodia.theory.chord import Chord, parse_progression

if TYPE_CHECKING:
    from melodia.harmony.chords import Bar
    from melodia.harmony.inference import Network

__all__ = ["HarmonyError", "default_harmonizer_path", "harmonize", "melody_grid", "melody_of"]

CHOIR_AAHS = 52
MAX_STEPS = 20_000  # about 40 minutes of eighth notes at 120 BPM
VOICE_VELOCITY = {"Alto": 70, "Tenor": 70, "Bass": 74}


def default_harmonizer_path() -> Path:
    """The harmonizer shipped in the package."""
    from melodia.resources import DATA

    return DATA / "harmonizer.safetensors"


@lru_cache(maxsize=4)
def _load(path: str) -> Network:
    from melodia.harmony.inference import load_numpy_harmonizer

    return load_numpy_harmonizer(path)


def load(model: str | os.PathLike[str] | None = None) -> Network:
    """The harmonizer network from `model` (a file; the shipped one when None or "default")."""
    path = default_harmonizer_path() if model in (None, "default") else Path(model)  # type: ignore[arg-type]
    if not path.is_file():
        raise HarmonyError(f"{path}: no harmonizer file there; train one with scripts/train_harmonizer.py, "
                           "or pass the path of one")
    return _load(str(path.resolve()))


def melody_of(score: Score, track: int | str | None = None) -> list[Note]:
    """The tune to harmonize: the top line of track `track` (an index from 0, or a name), else of the
    only pitched track, else of the melody part as style conversion finds it."""
    from melodia.analysis.roles import detect_voices, top_line

    pitched = [t for t in score.tracks if not t.is_drum and t.notes]
    if track is not None:
        names = [t.name for t in score.tracks]
        chosen = next((t for i, t in enumerate(score.tracks) if track in (i, str(i), t.name)), None)
        if chosen is None:
            raise HarmonyError(f"{score.title or 'score'}: no track {track!r}; tracks are 0-{len(names) - 1} "
                               f"({', '.join(repr(n) for n in names)})")
        notes = top_line([replace(n) for n in chosen.notes])[0]
    elif len(pitched) == 1:
        notes = top_line([replace(n) for n in pitched[0].notes])[0]
    else:
        notes = detect_voices(score).melody
    if not notes:
        raise HarmonyError(f"{score.title or 'score'}: no pitched notes to harmonize"
                           + (f" in track {track!r}" if track is not None else ""))
    return sorted(notes, key=lambda n: n.onset_tick)


def melody_grid(score: Score, notes: list[Note], fermatas: list[Note] | None = None) -> Chorale:
    """The melody on the eighth-note grid as a chorale with only its soprano, fermatas on `fermatas`
    (by default the `phrase_ends`)."""
    melody = Score([Track("Soprano", 0, False, notes)], list(score.tempos), list(score.time_signatures))
    steps = grid_steps(melody)
    if steps > MAX_STEPS:
        raise HarmonyError(f"{score.title or 'score'}: {steps} eighth notes long; at most {MAX_STEPS} can be "
                           "harmonized at once")
    pitches, struck = voice_grid(notes, steps)
    fermata = np.zeros(steps, dtype=bool)
    for note in phrase_ends(notes, score) if fermatas is None else fermatas:
        first = -(-note.onset_tick // STEP_TICKS)
        fermata[first:max(first + 1, -(-note.end_tick // STEP_TICKS))] = True
    position, strength = metre_features(melody, steps)
    zeros = np.zeros((3, steps), dtype=np.int64)
    meter = score.initial_time_signature()
    return Chorale(score.title, np.vstack([pitches, zeros]), np.vstack([struck, zeros.astype(bool)]),
                   fermata[:steps], position, strength, f"{meter.numerator}/{meter.denominator}")


def harmonize(score: Score, track: int | str | None = None, model: str | os.PathLike[str] | None = None,
              temperature: float = 0.5, most_likely: bool = False, candidates: int = 8, random_seed: int = 0,
              program: int = CHOIR_AAHS, chords: str | list[list[Chord]] | None = None) -> Score:
    """`score`'s melody as the soprano of a four-part harmonization (a new Score of four tracks:
    soprano, alto, tenor, bass, all played by `program`).

    The soprano's notes are the melody's, unchanged; the lower voices move on an eighth-note grid from the
    melody's first note (a pickup's with it), chords change on the beats of its meter (in 6/8 the voices
    hold through each dotted quarter), and a melody ending on a tone of its tonic chord closes V(7)-I in
    root position (`melodia.harmony.rules`). `chords` ("Am | Dm G | C | E7"), or else the chord symbols the
    score carries, are the harmony: the lower voices sing only their tones.
    `candidates` harmonizations drawn at `temperature` vote on the chord of each beat (each with its own
    probabilities of the chords it could sound there), and a beam search writes the likeliest voices with a
    bonus for the chords most voted for: the choice that agreed best with Bach's chords on the validation
    chorales; `most_likely` (or temperature 0) lets 32 draws at the model's own temperature vote instead,
    so that the chords are the ones the model finds likeliest on each beat; `random_seed` fixes the draws.

    Raises:
        HarmonyError: no melody, a bad setting, or no usable model file.
    """
    from melodia.harmony.grid import harmonize_grid
    from melodia.harmony.sampling import Sampling

    if not (temperature >= 0 and np.isfinite(temperature)) or temperature > 5:
        raise HarmonyError(f"temperature {temperature}: expected a number from 0 to 5 (0 = most likely)")
    if not 1 <= candidates <= 64:
        raise HarmonyError(f"candidates {candidates}: expected from 1 to 64")
    if not 0 <= program <= 127:
        raise HarmonyError(f"program {program}: expected a General MIDI program from 0 to 127")
    notes = melody_of(score, track)
    progression = parse_progression(chords) if isinstance(chords, str) else chords
    network = load(model)
    grid, first, given = tune_grid(score, notes, progression)
    written = delayed(harmonize_grid(network, grid, Sampling(temperature, most_likely or temperature == 0, candidates,
                                                             random_seed)), first)
    decorate(score, notes, written)
    if given:
        from melodia.harmony.rules import chords_honoured, meter_rules

        share = chords_honoured(written, given, meter_rules(score, notes, written.steps).beat_start)
        if share < CHORDS_HONOURED:
            warnings.warn(MelodiaWarning(f"{score.title or 'score'}: the chords given are the harmony on only "
                                         f"{100 * share:.0f} % of beats (the melody leaves the voices no chord tone "
                                         "in range elsewhere)"), stacklevel=2)
    return chorale_tracks(score, notes, written, program)


def decorate(score: Score, notes: list[Note], grid: Chorale) -> int:
    """Passing tones, neighbours and anticipations in the alto and tenor of a tune's harmonization `grid`, in place
    (`melodia.harmony.rules.passing_tones`), none in the bar before a phrase end (its cadence); returns how many."""
    from melodia.harmony.chords import tune_key
    from melodia.harmony.rules import meter_rules, passing_tones

    bar_steps = score.initial_time_signature().bar_ticks // STEP_TICKS
    quiet = [(end.onset_tick // STEP_TICKS - bar_steps, -(-end.end_tick // STEP_TICKS))
             for end in phrase_ends(notes, score)]
    return passing_tones(grid, notes, tune_key(score, notes), meter_rules(score, notes, grid.steps), quiet)


CHORDS_HONOURED = 0.95  # below this share of beats, harmonizing to given chords warns


def tune_grid(score: Score, notes: list[Note],
              progression: list[list[Chord]] | None = None) -> tuple[Chorale, int, list[Bar]]:
    """The melody's grid from its first note on (so that the lower voices enter with a pickup, not before it),
    carrying the rules of its meter, its cadences or its given chords, and the melody's clashes through each beat
    (`melodia.harmony.rules`); the step
    it starts at; the given chords over the tune (empty for none)."""
    from melodia.harmony.rules import add_cadences, add_chords, add_clashes, meter_rules

    ends = phrase_ends(notes, score)
    grid = melody_grid(score, notes, ends)
    rules = meter_rules(score, notes, grid.steps)
    given = add_chords(rules, score, notes, progression)
    placed = [] if given else add_cadences(rules, score, notes, grid.pitches[0], ends)
    add_clashes(rules, notes, [step for pair in placed for step in pair])
    first = int(np.argmax(grid.pitches[0] > 0))  # 0 for a melody the grid does not see (all shorter than a step)
    return Chorale(grid.name, grid.pitches[:, first:], grid.struck[:, first:], grid.fermata[first:],
                   grid.bar_position[first:], grid.strength[first:], grid.meter,
                   {"rules": rules.sliced(first)}), first, given


def delayed(grid: Chorale, steps: int) -> Chorale:
    """`grid` starting `steps` silent steps later."""
    pad = np.zeros((grid.pitches.shape[0], steps), dtype=grid.pitches.dtype)
    return replace(grid, pitches=np.hstack([pad, grid.pitches]), struck=np.hstack([pad.astype(bool), grid.struck]))


def chorale_tracks(score: Score, notes: list[Note], grid: Chorale, program: int = CHOIR_AAHS) -> Score:
    """The melody's notes as the soprano, over the grid's alto, tenor and bass, in the score's tempo, meter
    and key."""
    from melodia.harmony.data import voice_notes

    end = max(n.end_tick for n in notes)
    tracks = [Track("Soprano", program, False, [replace(n) for n in notes])]
    for row, name in ((1, "Alto"), (2, "Tenor"), (3, "Bass")):
        voice = [n for n in voice_notes(grid.pitches[row], grid.struck[row], VOICE_VELOCITY[name])
                 if n.onset_tick < end]
        for note in voice:
            note.duration_tick = min(note.duration_tick, end - note.onset_tick)
        tracks.append(Track(name, program, False, voice))
    return Score(tracks, list(score.tempos), list(score.time_signatures), list(score.key_signatures),
                 score.title).validate()
