"""The JSB Chorales benchmark file: chorales as lists of quarter-note steps of sounding pitches."""

from __future__ import annotations

import json
import os
from pathlib import Path

from melodia.errors import ReadError
from melodia.score import TICKS_PER_QUARTER, Note, Score, Track

SPLITS = ("train", "valid", "test")
STEPS_AS = ("held", "struck")
JSB_VELOCITY = 80


def read_jsb(path: str | os.PathLike[str], steps_as: str = "held") -> dict[str, list[tuple[Score, int]]]:
    """Every chorale of each split, as (score of one track, number of quarter-note steps).

    The format cannot tell a held note from a restruck one, so either reading is exact:
    `steps_as="held"` makes a pitch sounding on consecutive steps one long note;
    `steps_as="struck"` makes every step's pitches notes of one step (the chord of each
    step spelled out in full). The benchmark's figure is NLL per step, so the step count
    (trailing rests included) travels with each score.
    """
    if steps_as not in STEPS_AS:
        raise ReadError(str(path), f"steps_as {steps_as!r}: expected one of {', '.join(STEPS_AS)}")
    source = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReadError(source, f"cannot read JSB JSON ({error})") from error
    if not isinstance(data, dict) or any(not isinstance(data.get(split), list) for split in SPLITS):
        raise ReadError(source, f"expected an object with lists {', '.join(SPLITS)}")
    return {split: [(score_from_steps(steps, f"{source}: {split} {i}", steps_as == "held"), len(steps))
                    for i, steps in enumerate(data[split])] for split in SPLITS}


def score_from_steps(steps: list[list[int]], source: str, hold: bool = True) -> Score:
    """Notes of one track from steps of sounding pitches; with `hold`, a pitch sounding on
    consecutive steps is one held note, else one note a step."""
    notes: list[Note] = []
    sounding: dict[int, Note] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, list) or not all(isinstance(p, int) and 0 <= p <= 127 for p in step):
            raise ReadError(source, f"step {index} is {step!r}, not a list of MIDI pitches")
        tick = index * TICKS_PER_QUARTER
        for pitch in list(sounding):
            if pitch not in step:
                del sounding[pitch]
        for pitch in step:
            if hold and pitch in sounding:
                sounding[pitch].duration_tick += TICKS_PER_QUARTER
            else:
                sounding[pitch] = Note(pitch, JSB_VELOCITY, tick, TICKS_PER_QUARTER)
                notes.append(sounding[pitch])
    notes.sort(key=lambda n: (n.onset_tick, n.pitch))
    return Score([Track("chorale", 52, False, notes)], title=source)

