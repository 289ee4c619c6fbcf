"""Four-part chorales on a grid of eighth-note steps, and melodies read onto the same grid.

A `Chorale` holds, for each of the four voices (soprano, alto, tenor, bass), the pitch sounding at the
start of each step (0 for a rest) and whether a note is struck there; beside them, per step, the
soprano's fermatas (phrase ends), the position in the bar and the metrical strength. The same grid
serves the model (one step is one decision) and the voice-leading measures.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from melodia.errors import MelodiaError
from melodia.harmony.config import HOLD, LOWEST, REST
from melodia.io.atomic import atomic_write_bytes
from melodia.score import MINOR, TICKS_PER_QUARTER, Note, Score, TimeSignature, Track
from melodia.theory.key import CHORALE, Key, estimate_key

STEPS_PER_QUARTER = 2
STEP_TICKS = TICKS_PER_QUARTER // STEPS_PER_QUARTER
VOICES = ("soprano", "alto", "tenor", "bass")
SOPRANO, ALTO, TENOR, BASS = range(4)
MAX_BAR_POSITION = 23  # positions in the bar from 0; a longer bar's later steps share the last
DOWNBEAT, BEAT, OFFBEAT = 2, 1, 0


class HarmonyError(MelodiaError):
    """A melody that cannot be harmonized, or a harmonizer setting or file that cannot be used."""


@dataclass
class Chorale:
    """Four voices on eighth-note steps: pitches (4, steps; 0 = rest), struck (4, steps), per-step
    soprano fermata, position in the bar and metrical strength (`DOWNBEAT`, `BEAT`, `OFFBEAT`)."""

    name: str
    pitches: np.ndarray
    struck: np.ndarray
    fermata: np.ndarray
    bar_position: np.ndarray
    strength: np.ndarray
    meter: str = "4/4"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(self.pitches.shape[1])


def metre_features(score: Score, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per step, the position in its bar (in steps, capped) and its metrical strength."""
    position = np.zeros(steps, dtype=np.int64)
    strength = np.zeros(steps, dtype=np.int64)
    for start, length, signature in score.bars(steps * STEP_TICKS):
        first, last = -(-start // STEP_TICKS), min(steps, -(-(start + length) // STEP_TICKS))
        beat = signature.meter.beat_in(STEPS_PER_QUARTER)
        offsets = np.arange(last - first) + (first * STEP_TICKS - start) // STEP_TICKS
        position[first:last] = np.minimum(offsets, MAX_BAR_POSITION)
        strength[first:last] = np.where(offsets == 0, DOWNBEAT, np.where(offsets % beat == 0, BEAT, OFFBEAT))
    return position, strength


def voice_grid(notes: list[Note], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The pitch sounding at the start of each step (0 = rest; the higher of two) and where notes strike."""
    pitches = np.zeros(steps, dtype=np.int64)
    struck = np.zeros(steps, dtype=bool)
    for note in sorted(notes, key=lambda n: (n.onset_tick, n.pitch)):
        first = -(-note.onset_tick // STEP_TICKS)
        last = min(steps, -(-note.end_tick // STEP_TICKS))
        if first >= last:
            continue  # shorter than a step and between two steps: the grid does not see it
        pitches[first:last] = note.pitch
        struck[first] = True
    return pitches, struck


def grid_steps(score: Score) -> int:
    """Steps that cover the score's notes."""
    return max(1, -(-score.end_tick // STEP_TICKS))


def soprano_inputs(chorale: Chorale) -> list[np.ndarray]:
    """The encoder's per-step inputs: pitch, struck, fermata, bar position, strength, then the soprano's
    scale degree and mode in the key estimated from it (`soprano_key`) and the steps to the next fermata
    (a network without key features reads the first five)."""
    soprano = chorale.pitches[SOPRANO].astype(np.int64)
    key = soprano_key(soprano)
    degree = np.where(soprano > 0, (soprano - key.tonic) % 12, REST_DEGREE)
    return [soprano, chorale.struck[SOPRANO].astype(np.int64), chorale.fermata.astype(np.int64),
            chorale.bar_position.astype(np.int64), chorale.strength.astype(np.int64), degree,
            np.full_like(soprano, int(key.mode == MINOR)), steps_to_fermata(chorale.fermata)]


REST_DEGREE = 12  # the degree input where the soprano rests
MAX_TO_FERMATA = 15  # steps to the next fermata, capped (also where none follows)


def soprano_key(soprano: np.ndarray) -> Key:
    """The major or minor key of a melody on the grid (0 = rest) (`melodia.theory.key.CHORALE`: the
    Krumhansl-Kessler key whose profile best fits the steps each pitch class sounds, with a bonus for the key
    whose tonic is the last note); C major for a silent one."""
    sounding = soprano[soprano > 0]
    return estimate_key(sounding, np.ones(len(sounding)), CHORALE)


def steps_to_fermata(fermata: np.ndarray) -> np.ndarray:
    """Per step, the steps until the next fermata starts (0 on one), capped at `MAX_TO_FERMATA`."""
    distance = np.full(len(fermata), MAX_TO_FERMATA, dtype=np.int64)
    following = MAX_TO_FERMATA
    for step in range(len(fermata) - 1, -1, -1):
        following = 0 if fermata[step] else min(MAX_TO_FERMATA, following + 1)
        distance[step] = following
    return distance


def lower_tokens(chorale: Chorale) -> np.ndarray:
    """(steps, 3) target tokens of alto, tenor and bass: HOLD, REST or the pitch struck."""
    tokens = np.zeros((chorale.steps, 3), dtype=np.int64)
    for column, voice in enumerate((1, 2, 3)):
        pitches, struck = chorale.pitches[voice], chorale.struck[voice]
        previous = np.concatenate([[0], pitches[:-1]])
        fresh = struck | (pitches != previous)
        tokens[:, column] = np.where(pitches == 0, REST, np.where(fresh, 2 + pitches - LOWEST, HOLD))
    return tokens


# ---- the Bach chorales from music21's corpus -------------------------------------------------


def chorale_files() -> list[Path]:
    """music21's bundled Bach chorales (bwv*.mxl, bwv*.xml), sorted, as `melodia corpus build chorales` reads."""
    import music21

    folder = Path(music21.__file__).parent / "corpus" / "bach"
    return sorted({path for pattern in ("bwv*.mxl", "bwv*.xml") for path in folder.glob(pattern)})


def read_chorale(path: Path) -> Chorale | None:
    """One chorale's four voices on the grid, with its fermatas; None when it lacks four sung parts."""
    import music21

    from melodia.io.music21 import score_from_music21

    stream: Any = music21.converter.parse(str(path))
    parts = _sung_parts(list(stream.parts))
    if parts is None:
        return None
    shift = float(parts[0].getElementsByClass("Measure")[0].paddingLeft) if parts[0].getElementsByClass(
        "Measure") else 0.0
    score = score_from_music21(music21.stream.Score(parts))
    if len(score.tracks) != 4 or any(not track.notes for track in score.tracks):
        return None
    steps = grid_steps(score)
    grids = [voice_grid(track.notes, steps) for track in score.tracks]
    fermata = np.zeros(steps, dtype=bool)
    for element in parts[0].flatten().notes:
        if any(isinstance(e, music21.expressions.Fermata) for e in element.expressions):
            first = round((float(element.offset) + shift) * STEPS_PER_QUARTER)
            last = round((float(element.offset) + shift + float(element.quarterLength)) * STEPS_PER_QUARTER)
            fermata[first:max(first + 1, last)] = True
    position, strength = metre_features(score, steps)
    pitches = np.stack([g[0] for g in grids])
    sounding = np.flatnonzero((pitches > 0).all(axis=0))
    if not len(sounding):
        return None
    keep = slice(int(sounding[0]), int(sounding[-1]) + 1)  # a pickup's silent start and any silent end go
    return Chorale(path.stem, pitches[:, keep], np.stack([g[1] for g in grids])[:, keep], fermata[keep],
                   position[keep], strength[keep], str(score.initial_time_signature()))


def _sung_parts(parts: list[Any]) -> list[Any] | None:
    """Soprano, alto, tenor and bass among a chorale's parts (instrumental doublings left out)."""
    named: dict[str, Any] = {}
    for part in parts:
        name = str(part.partName or "").strip().lower()
        for voice in VOICES:
            if name.startswith(voice) and voice not in named:
                named[voice] = part
    if len(named) == 4:
        return [named[voice] for voice in VOICES]
    return parts if len(parts) == 4 else None


def melody_key(chorale: Chorale) -> str:
    """The soprano's intervals over its first 12 notes: the same hymn tune in any key gets one key, so its
    harmonizations land in one split."""
    line = chorale.pitches[SOPRANO][chorale.struck[SOPRANO]]
    return " ".join(str(int(d)) for d in np.diff(line[:13]))


def split_of(chorale: Chorale, test: float = 0.1, valid: float = 0.05) -> str:
    """'test', 'valid' or 'train', by a hash of the hymn tune (`melody_key`)."""
    share = int(hashlib.sha256(melody_key(chorale).encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    return "test" if share < test else "valid" if share < test + valid else "train"


def load_chorales(cache: str | os.PathLike[str] | None = None) -> list[Chorale]:
    """Every usable chorale of music21's corpus, read once and then from `cache` (a .npz file)."""
    if cache is not None and Path(cache).is_file():
        return _from_npz(Path(cache))
    chorales = [c for c in (read_chorale(path) for path in chorale_files()) if c is not None]
    if cache is not None:
        _to_npz(chorales, Path(cache))
    return chorales


def _to_npz(chorales: list[Chorale], path: Path) -> None:
    import io

    arrays: dict[str, np.ndarray] = {}
    for index, c in enumerate(chorales):
        for name in ("pitches", "struck", "fermata", "bar_position", "strength"):
            arrays[f"{index}.{name}"] = getattr(c, name)
    arrays["index"] = np.frombuffer(json.dumps([[c.name, c.meter] for c in chorales]).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    save: Any = np.savez_compressed  # its stubs mistake a ** of arrays for allow_pickle
    save(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _from_npz(path: Path) -> list[Chorale]:
    with np.load(path) as data:
        index = json.loads(bytes(data["index"]).decode())
        return [Chorale(name, data[f"{i}.pitches"], data[f"{i}.struck"], data[f"{i}.fermata"],
                        data[f"{i}.bar_position"], data[f"{i}.strength"], meter)
                for i, (name, meter) in enumerate(index)]


# ---- chorales back to scores -----------------------------------------------------------------


def voice_notes(pitches: np.ndarray, struck: np.ndarray, velocity: int = 80) -> list[Note]:
    """Notes of one voice from its grid: a note starts where struck or where the pitch changes."""
    notes: list[Note] = []
    for step, pitch in enumerate(pitches):
        pitch = int(pitch)
        if pitch == 0:
            continue
        if notes and not struck[step] and notes[-1].pitch == pitch and notes[-1].end_tick == step * STEP_TICKS:
            notes[-1].duration_tick += STEP_TICKS
        else:
            notes.append(Note(pitch, velocity, step * STEP_TICKS, STEP_TICKS))
    return notes


def chorale_score(chorale: Chorale) -> Score:
    """A score of four tracks (soprano to bass, choir aahs) from a chorale's grid."""
    numerator, denominator = (int(x) for x in chorale.meter.split("/"))
    tracks = [Track(voice.capitalize(), 52, False, voice_notes(chorale.pitches[i], chorale.struck[i]))
              for i, voice in enumerate(VOICES)]
    return Score(tracks, time_signatures=[TimeSignature(0, numerator, denominator)], title=chorale.name)
