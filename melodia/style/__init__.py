"""Style conversion: the same music for other instruments, in another rhythm, at another tempo.

    from melodia.style import stylize
    quartet_waltz = stylize(score, instrumentation="string-quartet", rhythm="waltz", tempo=150)

Each argument is a preset name, a path to a TOML template of your own, or a loaded template.

The harmony of an added accompaniment is, in this order: the progression given as `chords`;
else the chord symbols the score carries (a lead sheet's: MIDI text events such as 'Am' or
'G7', MusicXML harmonies, ABC chord annotations such as "Am"), each from its tick until the
next; else the chords estimated from the melody in its key (`melodia.harmony.chords`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from melodia.analysis.roles import detect_voices, melody_track_index
from melodia.errors import StyleError
from melodia.score import Score, TempoChange
from melodia.style.arrange import arrange, check_melody_kept, melody_track
from melodia.style.form import check_form
from melodia.style.form import ritardando as slow_down
from melodia.style.quartet import default_form
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
from melodia.theory.chord import Chord, parse_progression

__all__ = ["HARMONIZERS", "Instrumentation", "Rhythm", "Style", "load_instrumentation", "load_rhythm", "load_style",
           "preset_names", "register_harmonizer", "stylize", "with_swing", "with_tempo"]

# Named harmonizers a style may use instead of the rule-based accompaniment: a bare melody in (and
# `chords=`: a progression, or None for the score's own symbols), a score of parts (melody first)
# out. "chorale" is `melodia.harmony.harmonize`, the learned Bach harmonizer.
HARMONIZERS: dict[str, Callable[..., Score]] = {}


def register_harmonizer(name: str, harmonizer: Callable[..., Score]) -> None:
    """Make `harmonizer` available to styles that name it (`harmonizer = "NAME"` in a style file)."""
    HARMONIZERS[name] = harmonizer


def stylize(score: Score, instrumentation: str | Path | Instrumentation | None = None,
            rhythm: str | Path | Rhythm | None = None, tempo: float | None = None,
            style: str | Path | Style | None = None, accompaniment: bool = True,
            swing: float | None = None, *, chords: str | list[list[Chord]] | None = None,
            intro: str | None = None, ending: str | None = None, ritardando: bool | None = None) -> Score:
    """`score` re-timed by `rhythm`, played by `instrumentation`, at `tempo` BPM (a new Score).

    A combined `style` preset supplies whichever of the three is not given, and its form
    (intro, ending, ritardando), and without one a classical ensemble (the string quartet) adds
    an intro and an ending to a bare melody (`melodia.style.quartet.default_form`); `swing`
    (long:short of each pair of eighths, 2 for a triplet feel) overrides the rhythm's. `chords`
    ("Am | Dm G | C | E7") replace the estimated harmony, and so, when no `chords` are given,
    do the chord symbols `score` carries (a style's named harmonizer writes its voices to them
    where no instrumentation is there to play them);
    `intro` is 'none', 'vamp' or 'phrase', `ending` 'none' or 'held', and `ritardando` slows
    the last two bars. The meter change of a rhythm comes first, so an added accompaniment is
    written in the new meter; swing, accents and humanizing come last, so they apply to the
    accompaniment too.

    The melody is sacred: its pitches, onsets and lengths come through as written (an intro
    moves the whole tune later), or a StyleError says why not. Two kinds of rhythm move it on
    purpose, as asked: swing, and a re-timing (a meter map or time scale: jig, waltz, duple,
    half- and double-time), which maps every onset and end of the whole score alike, so the
    melody keeps its pitches in order and its place in the bar by the rhythm's declared map.
    Groove lengths, articulation and humanized timing are the accompaniment's only.
    """
    combined = (style if isinstance(style, Style) else load_style(style)) if style is not None else None
    if combined is not None:
        instrumentation = instrumentation or combined.instrumentation
        rhythm = rhythm or combined.rhythm
        tempo = tempo if tempo is not None else combined.tempo  # 0 is refused, not replaced
    if isinstance(instrumentation, str | Path):
        instrumentation = load_instrumentation(instrumentation)
    form = (combined.intro, combined.ending) if combined else \
        default_form(instrumentation if accompaniment and detect_voices(score).is_bare_melody else None)
    intro, ending = intro or form[0], ending or form[1]
    ritardando = ritardando if ritardando is not None else bool(combined and combined.ritardando)
    check_form(intro, ending)
    if isinstance(rhythm, str | Path):
        rhythm = load_rhythm(rhythm)
    if swing is not None:
        rhythm = with_swing(rhythm or load_rhythm("straight"), swing)
    progression = parse_progression(chords) if isinstance(chords, str) else chords
    out = retime(score, rhythm) if rhythm else score
    given = bool(progression or out.chord_symbols)
    if combined is not None and combined.harmonizer and accompaniment and not (given and instrumentation) \
            and detect_voices(out).is_bare_melody:
        write, tune = harmonizer(combined.harmonizer), out
        out = write(out, chords=progression) if given else write(out)  # None: it reads the score's own symbols
        check_melody_kept(detect_voices(tune).melody, out, melody_track_index(out))
    if instrumentation:
        out = arrange(out, instrumentation, rhythm.accompaniment if rhythm else None, accompaniment,
                      chords=progression, intro=intro, ending=ending, tempo=tempo)
        lead = melody_track(out, instrumentation)
    else:
        lead = melody_track_index(out)
    out = perform(out, rhythm, lead) if rhythm else tidy(copy_score(out), lead)
    if tempo is not None:
        out = with_tempo(out, tempo)
    if ritardando:
        out = slow_down(out)
    return out.validate()


def harmonizer(name: str) -> Callable[..., Score]:
    """The harmonizer registered as `name`, or the learned Bach harmonizer for "chorale"."""
    if name == "chorale" and name not in HARMONIZERS:
        from melodia.harmony import harmonize  # imported when a style asks for it: it brings the model file

        HARMONIZERS[name] = harmonize
    if name not in HARMONIZERS:
        known = ", ".join(sorted({"chorale", *HARMONIZERS}))
        raise StyleError(f"harmonizer {name!r}: not available ({known})")
    return HARMONIZERS[name]


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
