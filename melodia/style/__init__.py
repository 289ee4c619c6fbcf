"""Style conversion: the same music for other instruments, in another rhythm, at another tempo.

    from melodia.style import stylize
    quartet_waltz = stylize(score, instrumentation="string-quartet", rhythm="waltz", tempo=150)

Each argument is a preset name, a path to a TOML template of your own, or a loaded template.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from melodia.errors import StyleError
from melodia.score import Score, TempoChange
from melodia.style.arrange import arrange
from melodia.style.rhythm import copy_score, perform, retime, tidy
from melodia.style.templates import (
    Instrumentation,
    Rhythm,
    Style,
    load_instrumentation,
    load_rhythm,
    load_style,
    preset_names,
)

__all__ = ["Instrumentation", "Rhythm", "Style", "load_instrumentation", "load_rhythm", "load_style",
           "preset_names", "stylize", "with_swing", "with_tempo"]


def stylize(score: Score, instrumentation: str | Path | Instrumentation | None = None,
            rhythm: str | Path | Rhythm | None = None, tempo: float | None = None,
            style: str | Path | Style | None = None, accompaniment: bool = True,
            swing: float | None = None) -> Score:
    """`score` re-timed by `rhythm`, played by `instrumentation`, at `tempo` BPM (a new Score).

    A combined `style` preset supplies whichever of the three is not given; `swing` (long:short
    of each pair of eighths, 2 for a triplet feel) overrides the rhythm's. The meter change
    of a rhythm comes first, so an added accompaniment is written in the new meter; swing,
    accents and humanizing come last, so they apply to the accompaniment too.
    """
    if style is not None:
        combined = style if isinstance(style, Style) else load_style(style)
        instrumentation = instrumentation or combined.instrumentation
        rhythm = rhythm or combined.rhythm
        tempo = tempo or combined.tempo
    if isinstance(instrumentation, str | Path):
        instrumentation = load_instrumentation(instrumentation)
    if isinstance(rhythm, str | Path):
        rhythm = load_rhythm(rhythm)
    if swing is not None:
        rhythm = with_swing(rhythm or load_rhythm("straight"), swing)
    out = retime(score, rhythm) if rhythm else score
    if instrumentation:
        out = arrange(out, instrumentation, rhythm.accompaniment if rhythm else None, accompaniment)
    out = perform(out, rhythm) if rhythm else tidy(copy_score(out))
    if tempo is not None:
        out = with_tempo(out, tempo)
    return out.validate()


def with_swing(rhythm: Rhythm, ratio: float) -> Rhythm:
    """`rhythm` with its pairs of eighths swung long:short `ratio` (1 straight, 2 triplet, 3 dotted)."""
    if not 0.25 <= ratio <= 4:
        raise StyleError(f"swing {ratio:g}: expected a long:short ratio from 0.25 to 4 (1 straight, 2 triplet feel)")
    return replace(rhythm, swing_ratio=float(ratio))


def with_tempo(score: Score, bpm: float) -> Score:
    """`score` starting at `bpm` quarter notes a minute; later tempo changes keep their ratio to it."""
    if not 10 <= bpm <= 400:
        raise StyleError(f"tempo {bpm:g}: expected quarter notes per minute from 10 to 400")
    ratio = bpm / score.initial_bpm()
    tempos = [TempoChange(t.tick, round(t.bpm * ratio, 3)) for t in score.tempos if t.tick > 0]
    return replace(score, tempos=[TempoChange(0, float(bpm)), *tempos])
