"""Keys: one `Key` type (a tonic pitch class and a mode) and one key estimator, whose policies are named
settings (`KEY_POLICIES`).

    Key(7, "major").name                                  -> "G major"
    Key.parse("F# minor"), Key.parse("D dorian"), Key.parse("Bbm")
    estimate_key(pitches, durations)                      -> the key music21 hears (Aarden-Essen profiles)
    estimate_key(pitches, durations, SEED)                -> the key of the first bars of a tune

The estimator correlates the duration-weighted pitch-class histogram with a key profile for each of
the 24 major and minor keys (Krumhansl & Kessler 1982, or Aarden's Essen folk-song profiles, music21's
default); a policy narrows the candidates (keys whose scale holds every note; a minor key only when the
notes show it) and breaks near-ties on the first and last notes. `scripts/report_seed_key.py` measures
each policy against the key of the whole tune.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from melodia.errors import MelodiaError
from melodia.theory.pitch import ACCIDENTALS, LETTERS, PITCH_CLASS_NAMES

if TYPE_CHECKING:  # numpy is imported where keys are estimated, so that `melodia --help` stays light
    import numpy as np

MAJOR, MINOR = "major", "minor"

# Scale steps above the tonic, by mode name (the modes a key may be in).
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11), "ionian": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11), "mixolydian": (0, 2, 4, 5, 7, 9, 10), "locrian": (0, 1, 3, 5, 6, 8, 10),
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11), "major-pentatonic": (0, 2, 4, 7, 9),
    "minor-pentatonic": (0, 3, 5, 7, 10),
}
MODES = tuple(SCALES)
MODE_WORDS = {None: MAJOR, "m": MINOR, "min": MINOR, "maj": MAJOR}
KEY_EXAMPLES = "such as G, Gm, F# minor or D dorian"

# Krumhansl & Kessler (1982) key profiles, tonic first
KRUMHANSL_PROFILES = ((6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
                      (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17))
# Aarden-Essen profiles (from folk songs of the Essen collection; music21's default key analysis)
AARDEN_PROFILES = ((17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624, 8.15494,
                    0.232998, 4.95122),
                   (18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621, 1.93186,
                    7.37619, 1.75623))
PROFILES = {"krumhansl": KRUMHANSL_PROFILES, "aarden": AARDEN_PROFILES}


class KeyNameError(MelodiaError):
    """A key name that cannot be read."""


class Key(NamedTuple):
    """A tonic pitch class (C = 0) and a mode from `MODES`: Key(9, "minor") is A minor. A key is also the pair
    (tonic, mode) that analyses pass around: `tonic, mode = key`, and Key(9, "minor") == (9, "minor")."""

    tonic: int
    mode: str = MAJOR

    @property
    def name(self) -> str:
        """'E minor', 'D dorian'."""
        return f"{PITCH_CLASS_NAMES[self.tonic % 12]} {self.mode}"

    def __str__(self) -> str:
        return self.name

    @property
    def quality(self) -> str:
        """'minor' for modes with a minor third above the tonic (minor, dorian, phrygian, ...), else 'major'."""
        return mode_quality(self.mode)

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """The pitch classes of the key's scale, tonic first."""
        return tuple((self.tonic + step) % 12 for step in SCALES[self.mode])

    @property
    def tonic_triad(self) -> tuple[int, int, int]:
        """The pitch classes of the tonic triad: major or minor by the key's quality (D dorian: D F A)."""
        return self.tonic % 12, (self.tonic + (3 if self.quality == MINOR else 4)) % 12, (self.tonic + 7) % 12

    @property
    def relative(self) -> Key:
        """The relative minor of a major key, the relative major of a minor one (other modes: their
        major or minor quality's)."""
        if self.quality == MINOR:
            return Key((self.tonic + 3) % 12, MAJOR)
        return Key((self.tonic + 9) % 12, MINOR)

    def as_major_or_minor(self) -> Key:
        """The key with its mode folded into major or minor (D dorian -> D minor)."""
        return Key(self.tonic % 12, self.quality)

    @classmethod
    def parse(cls, text: str, where: str = "key") -> Key:
        """'G', 'Gm', 'F# minor', 'A minor', 'D dorian', 'D-dorian', 'Bb_mixolydian' as a `Key`.

        Raises:
            KeyNameError: naming `where`, the text and what is accepted.
        """
        match = re.match(r"^\s*([A-Ga-g])(##|bb|#|b)?\s*[-_ ]?\s*(m|min|maj|[a-z][a-z-]*)?\s*$", text)
        if not match:
            raise KeyNameError(f"{where} {text!r}: expected a tonic and a mode, {KEY_EXAMPLES}")
        letter, accidental, mode = match.groups()
        name = MODE_WORDS.get(mode, mode)
        if name not in SCALES:
            raise KeyNameError(f"{where} {text!r}: mode {mode!r} is not one of {', '.join(MODES)}")
        return cls((LETTERS[letter.upper()] + ACCIDENTALS[accidental]) % 12, name)

    @classmethod
    def read_setting(cls, value: object, where: str) -> Key:
        """'D dorian', 'Gm' or 'F# minor' (a settings value) as a `Key`."""
        if not isinstance(value, str):
            raise KeyNameError(f"{where} = {value!r}: expected a tonic and a mode, {KEY_EXAMPLES}")
        return cls.parse(value, f"{where} =")


def mode_quality(mode: str) -> str:
    """'minor' for modes with a minor third above the tonic (aeolian, dorian, phrygian, ...), else 'major'."""
    steps = SCALES[mode]
    return MINOR if 3 in steps and 4 not in steps else MAJOR


@dataclass(frozen=True)
class KeyPolicy:
    """How `estimate_key` hears a key in notes.

    Attributes:
        profiles: "aarden" (Aarden-Essen folk-song profiles, music21's default) or "krumhansl".
        in_scale: only keys whose scale (minor's with its raised 6th and 7th) holds every pitch class
            of the notes, when any does.
        minor_evidence: a minor key only when the notes show it, sounding both its tonic and its minor
            third (C D E holds no A: A minor is no reading of it, however well its profile fits; folk
            tunes are three times as often major). Tried on the report's tuning sample: the tonic with
            the leading note instead finds 1 minor tune in 10 from 4 bars, against 1 in 2.
        first_last: added to the fit of a key whose tonic is the first note, and again the last note
            (its tonic triad's notes get a third of it), to break near-ties.
        last_tonic: added to the fit of a key whose tonic is the last note (a tune's final).
        last_triad: added to the fit of a key whose tonic triad holds the last note.
        signature: what a key signature decides: "wins" (its key), "relative" (its major or relative
            minor, whichever fits the notes), "trusted" (its key, `signature_bonus` ahead, or its relative,
            unless another key fits the notes better than both by more than `signature_margin`: a file
            saying C major for a tune in G) or "ignore".
    """

    profiles: str = "aarden"
    in_scale: bool = False
    minor_evidence: bool = False
    first_last: float = 0.0
    last_tonic: float = 0.0
    last_triad: float = 0.0
    signature: str = "ignore"
    signature_margin: float = 0.1
    signature_bonus: float = 0.1


HEARD = KeyPolicy()  # a whole piece, as music21 hears it: manifests, key agreement, the corpus
KRUMHANSL = KeyPolicy(profiles="krumhansl")  # Krumhansl-Kessler, for analyses measured with it
SEED = KeyPolicy(in_scale=True, minor_evidence=True, first_last=0.03, signature="wins")  # the first bars of a tune
OLD_SEED = KeyPolicy(in_scale=True, signature="relative")  # seed_key before issue 33, for the report
TUNE = KeyPolicy(last_tonic=0.2, last_triad=0.05, signature="trusted")  # a whole tune to arrange: the style step
CHORALE = KeyPolicy(profiles="krumhansl", last_tonic=0.15)  # a melody on the harmonizer's grid
KEY_POLICIES = {"heard": HEARD, "krumhansl": KRUMHANSL, "seed": SEED, "old-seed": OLD_SEED, "tune": TUNE,
                "chorale": CHORALE}


def key_correlations(pitches: Sequence[int] | np.ndarray, durations: Sequence[float] | np.ndarray,
                     profiles: str = "aarden") -> dict[Key, float]:
    """The correlation of the duration-weighted pitch-class histogram with each major and minor key's profile
    (all 0.0 for a histogram that is flat or empty)."""
    import numpy as np

    major_profile, minor_profile = PROFILES[profiles]
    histogram = np.bincount(np.asarray(pitches, dtype=int) % 12, weights=np.asarray(durations, dtype=float),
                            minlength=12)
    if not histogram.any() or histogram.std() == 0:
        return {Key(tonic, mode): 0.0 for mode in (MAJOR, MINOR) for tonic in range(12)}
    return {Key(tonic, mode): float(np.corrcoef(histogram, np.roll(profile, tonic))[0, 1])
            for mode, profile in ((MAJOR, major_profile), (MINOR, minor_profile)) for tonic in range(12)}


def estimate_key(pitches: Sequence[int] | np.ndarray, durations: Sequence[float] | np.ndarray,
                 policy: KeyPolicy = HEARD, signature: Key | None = None) -> Key:
    """The major or minor key heard in notes (`pitches` in the order they sound, each lasting `durations`),
    under `policy`; `signature`, the key signature the notes are written with, when there is one.
    C major for no notes."""
    import numpy as np

    pitches = np.asarray(pitches, dtype=int)
    if signature is not None and policy.signature == "wins":
        return signature
    if not len(pitches):
        return signature or Key(0, MAJOR)
    correlations = key_correlations(pitches, durations, policy.profiles)
    candidates = list(correlations)
    bonus = dict.fromkeys(candidates, 0.0)
    if signature is not None and policy.signature == "relative":
        major = signature if signature.quality == MAJOR else signature.relative
        candidates = [Key(major.tonic, MAJOR), major.relative]
    elif signature is not None and policy.signature == "trusted" and \
            max(correlations[signature.as_major_or_minor()], correlations[signature.relative]) >= \
            max(correlations.values()) - policy.signature_margin:
        candidates = [signature.as_major_or_minor(), signature.relative]
        bonus[candidates[0]] = policy.signature_bonus
    elif policy.in_scale:
        used = set((pitches % 12).tolist())
        candidates = [key for key in candidates if used <= _with_raised_steps(key)] or candidates
    if policy.minor_evidence:
        candidates = [key for key in candidates if key.mode == MAJOR or _shows_minor(key, pitches)] or candidates

    last = int(pitches[-1]) % 12

    def fit(key: Key) -> float:
        return (correlations[key] + bonus[key] + policy.first_last * (_hint(key, pitches[0]) + _hint(key, pitches[-1]))
                + policy.last_tonic * (last == key.tonic) + policy.last_triad * (last in key.tonic_triad))

    return max(candidates, key=fit)


def _with_raised_steps(key: Key) -> set[int]:
    raised = (9, 11) if key.mode == MINOR else ()
    return {(key.tonic + step) % 12 for step in (*SCALES[key.mode], *raised)}


def _shows_minor(key: Key, pitches: np.ndarray) -> bool:
    """Whether the notes sound the minor key's tonic and its minor third (its relative major's 6th and
    tonic): without both, nothing sets the minor key apart from its relative major."""
    classes = set((pitches % 12).tolist())
    return key.tonic in classes and (key.tonic + 3) % 12 in classes


def _hint(key: Key, pitch: int) -> float:
    """1 for the tonic, a third for the rest of the tonic triad, else 0."""
    step = (pitch - key.tonic) % 12
    if step == 0:
        return 1.0
    return 1 / 3 if step in ((3 if key.mode == MINOR else 4), 7) else 0.0
