"""The studio: try seed phrases and settings, listen, keep the melodies you like.

    import melodia
    melodia.studio()                      # a panel in JupyterLab, Jupyter Notebook or VS Code

This module holds the studio's logic, with no widgets: `Studio` loads a model once, checks a
seed phrase, generates `Candidate`s (each with a piano roll, audio, notation and MIDI),
restyles them with any combined style preset, and keeps them in a folder with a
`manifest.json` that fine-tuning reads (`melodia finetune --kept DIR`, see `melodia.feedback`: an
entry with `"keep": true` is a kept melody; Discard writes the melody too, with `"keep": false`, for
`melodia learn`). The panel itself,
built on ipywidgets, is `melodia.apps.studio_panel`; `melodia.studio()` shows it.

The kept folder holds `001.mid`, `002.mid` ... (the melodies, one track each, as generated),
`styled/001-jazz-swing.mid` when a style was applied, and `manifest.json`:

    {"outputs": [{"file": "001.mid", "keep": true, "settings": {...}, "style": null,
                                  "styled_file": null, "notes": 31, "bars": 8, "lowest": 62,
                                  "highest": 76, "key": "D major", "note_text": "D4 E4 F#4/8 ..."}]}

where "settings" is the record `melodia generate` writes into its own manifest (model, seed,
random seed, constraints, sampling, form). A folder that already has a manifest (one `melodia
generate` wrote, say) keeps it: the new entries are added to its "outputs", numbered after its files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from itertools import groupby
from pathlib import Path
from typing import Any

from melodia.errors import MelodiaError
from melodia.manifest import MANIFEST, Manifest, ManifestError
from melodia.score import TICKS_PER_QUARTER, Score
from melodia.theory.key import Key
from melodia.theory.pitch import note_name

DEFAULT_SEED = "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8"
DEFAULT_FOLDER = "melodia-kept"
PERSONAL = "personal"  # the folder's subfolder of personal models, round-1.safetensors ...
NO_STYLE = "melody only"
AUDIO_RATE = 22050
NOTE_TEXT_NOTES = 40  # notes of a candidate shown as text above its piano roll
INFILLING_NOTE = "this model was trained without infilling; the default model has it"


class StudioError(MelodiaError):
    """A studio setting or action that cannot be carried out as asked."""


@dataclass(frozen=True)
class StudioSettings:
    """What the panel's controls say; text fields as typed ("" leaves a setting at its default)."""

    seed: str = DEFAULT_SEED
    count: int = 4
    bars: int = 8
    key: str = ""  # "D dorian"; "" is the seed's key
    meter: str = ""  # "6/8"; "" is the seed's meter
    form: str = ""  # "AABB", "none"; "" is the default for the length
    temperature: float = 1.0
    top_p: float = 1.0
    style: str = ""  # a combined style preset; "" plays the melody as generated
    pitch_range: str = ""  # "C4:C6"
    max_leap: int | None = None
    end_on_tonic: bool = False
    scale: str = "strict"
    random_seed: int = 0

    def constraints(self) -> Any:
        """The `Constraints` these settings ask for (checked: a bad value raises a one-line error naming it)."""
        from melodia.lm.constraints import Constraints

        typed = {"key": self.key.strip() or None, "meter": self.meter.strip() or None,
                 "range": self.pitch_range.strip() or None, "form": self.form.strip() or None}
        return Constraints.parse({**typed, "bars": self.bars, "max_leap": self.max_leap,
                                  "end_on_tonic": self.end_on_tonic, "scale": self.scale}, "studio")

    def sampling(self) -> Any:
        """The `SamplingConfig` these settings ask for."""
        from melodia.lm.sampler import SamplingConfig

        return SamplingConfig(temperature=self.temperature, top_p=self.top_p)


@dataclass
class Candidate:
    """One generated melody in the studio, and how it is shown: its style, and whether it was kept."""

    number: int  # 1, 2, ... over the studio's life, so that names never repeat
    melody: Score
    settings: dict[str, Any]
    seed_end_tick: int
    style: str | None = None
    kept_as: Path | None = None
    redone: int = 0  # times bars of it were written anew
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def score(self) -> Score:
        """The melody as heard: in its style when one is applied."""
        if self.style is None:
            return self.melody
        if "styled" not in self._cache:
            from melodia.style import stylize

            self._cache["styled"] = stylize(self.melody, style=self.style)
        return self._cache["styled"]

    def restyle(self, style: str | None) -> None:
        """Play the melody in another combined style preset (None: the melody alone)."""
        if style is not None:
            from melodia.style import load_style

            load_style(style)  # a bad name fails here, before anything changes
        if style != self.style:
            self.style = style
            self._cache.clear()

    def pianoroll_png(self) -> bytes:
        """The piano roll (PNG), the seed shaded."""
        if "png" not in self._cache:
            from melodia.media.display import pianoroll_png

            self._cache["png"] = pianoroll_png(self.score, seed_end_tick=self.seed_end_tick)
        return self._cache["png"]

    def wav(self) -> bytes:
        """The audio (WAV): FluidSynth when installed, else the built-in synthesizer."""
        if "wav" not in self._cache:
            from melodia.media.synth import sound, wav_bytes

            self._cache["wav"] = wav_bytes(*sound(self.score, AUDIO_RATE))
        return self._cache["wav"]

    def midi(self) -> bytes:
        """The MIDI file's contents, as heard (styled when a style is applied)."""
        from melodia.io.midi import score_to_midi_bytes

        return score_to_midi_bytes(self.score)

    def notation_svg(self) -> str:
        """Notation of the melody (not of a styled arrangement) as SVG, engraved by verovio."""
        if "svg" not in self._cache:
            from melodia.media.display import score_svg

            self._cache["svg"] = score_svg(self.melody, width=1500)
        return self._cache["svg"]

    def file_name(self) -> str:
        """The name a download of this candidate gets."""
        return f"melodia-{self.number:03d}{'-' + self.style if self.style else ''}.mid"

    def summary(self) -> str:
        """Notes, bars and key in words: '31 notes, 8 bars, D major'."""
        key = self.melody.key_signatures[0].name if self.melody.key_signatures else "no key"
        return f"{self.melody.note_count} notes, {bar_count(self.melody)} bars, {key}"


def note_text(score: Score, most: int = NOTE_TEXT_NOTES) -> str:
    """The first `most` notes of the top line (the highest note at each onset) as seed-phrase text
    ('D4 E4 F#4/8 G4 A4/2~ A4/8 r/4 ...'), so that a melody can be read, and pasted back as a seed. A
    length is written when it changes, as the seed phrase reads it; one no single note value spells is
    written as tied notes (rests: as several rests). Notes are spelled in the score's key (G#4 in A minor)."""
    signature = score.key_signatures[0] if score.key_signatures else None
    key = Key(signature.tonic, signature.mode) if signature else None
    line = [next(group) for _, group in groupby(sorted(score.notes, key=lambda n: (n.onset_tick, -n.pitch)),
                                                key=lambda n: n.onset_tick)]
    words: list[str] = []
    length, end = Fraction(1), 0
    for note in line[:most]:
        for text, piece in _pieces(Fraction(note.onset_tick - end, TICKS_PER_QUARTER)):
            words.append("r" + text)
            length = piece
        pieces = _pieces(Fraction(note.duration_tick, TICKS_PER_QUARTER)) or [_nearest(Fraction(1, 32))]
        for number, (text, piece) in enumerate(pieces, start=1):
            tie = "~" if number < len(pieces) else ""
            words.append(note_name(note.pitch, key) + (text if piece != length else "") + tie)
            length = piece
        end = max(end, note.end_tick)
    return " ".join(words) + (" ..." if len(line) > most else "")


SPELLED = sorted(((Fraction(4, d) * factor, f"/{d}{mark}") for d in (1, 2, 4, 8, 16, 32)
                  for factor, mark in ((Fraction(1), ""), (Fraction(3, 2), "."), (Fraction(2, 3), "t"))),
                 key=lambda pair: pair[0])


def _nearest(quarters: Fraction) -> tuple[str, Fraction]:
    """The seed duration nearest a length in quarter notes, and the length it spells: 1/2 -> ('/8', 1/2)."""
    length, text = min(SPELLED, key=lambda pair: (abs(pair[0] - quarters), pair[1]))
    return text, length


def _pieces(quarters: Fraction) -> list[tuple[str, Fraction]]:
    """A length in quarter notes as seed durations that add up to it, longest first ([] for none; a rest of
    the length finer than the shortest note value, a 32nd triplet, is rounded to it or dropped)."""
    pieces = []
    while quarters >= SPELLED[0][0] / 2:
        length, text = max((pair for pair in SPELLED if pair[0] <= quarters), default=SPELLED[0])
        pieces.append((text, length))
        quarters -= length
    return pieces


def bar_count(score: Score) -> int:
    return len(score.bar_starts(score.end_tick - 1)) if score.end_tick else 0


@dataclass(frozen=True)
class Round:
    """A model the studio can generate with: the one it started with (number 0) or a personal one learnt from
    `marks` marks of the folder."""

    number: int
    path: Path | None  # None: a model handed over loaded
    marks: int
    model: Any = field(repr=False)
    name: str = ""

    def label(self) -> str:
        if self.number == 0:
            return f"the starting model ({self.name})"
        return f"round {self.number}: learnt from {self.marks} marks"


class Studio:
    """A model loaded once, the candidates of the last generation, a folder for kept and discarded melodies,
    and the personal models learnt from them, round by round.

    Args:
        model: a model file, "default" (shipped in the package), or a loaded (model, tokenizer) pair.
        folder: where Keep writes melodies and `manifest.json` (made on the first Keep).
    """

    def __init__(self, model: Any = "default", folder: str | Path = DEFAULT_FOLDER) -> None:
        from melodia.lm.modelfile import open_model

        self.model_name = str(model) if isinstance(model, (str, Path)) else "a loaded model"
        self.model = open_model(model)
        self.folder = Path(folder)
        self.candidates: list[Candidate] = []
        self.generated = 0  # candidates made so far, for their numbers
        self.rounds = [Round(0, Path(str(model)) if isinstance(model, (str, Path)) else None, 0, self.model,
                             self.model_name)]
        self.current = 0  # the index in `rounds` of the model that generates

    @property
    def round(self) -> int:
        """The round the user is in: 1 before any learning, then one more for each personal model learnt."""
        return self.rounds[self.current].number + 1

    def learn(self, settings: Any = None) -> Round:
        """A personal model learnt from every mark in the folder (`melodia.lm.learn`), starting from the model that
        generates now; it generates from now on. Returns its round.

        Raises:
            MelodiaError: no marks to learn from, in one line.
        """
        from melodia.feedback import marks
        from melodia.lm.learn import learn
        from melodia.lm.modelfile import load_model, save_model

        start = self.rounds[self.current]
        personal = self.folder / PERSONAL
        personal.mkdir(parents=True, exist_ok=True)
        source = start.path
        if source is None:  # a model handed over loaded: written once so that learning can name it
            model, tokenizer = start.model
            source = save_model(personal / "start.safetensors", model, tokenizer, {"studio": "a loaded model"})
        earlier = [int(p.stem.split("-")[1]) for p in personal.glob("round-*.safetensors")
                   if p.stem.split("-")[1].isdigit()]  # an earlier session's rounds are never written over
        number = max([r.number for r in self.rounds] + earlier) + 1
        output = personal / f"round-{number}.safetensors"
        learn(source, [self.folder], output, settings=settings)
        model, tokenizer, _ = load_model(output)
        self.rounds.append(Round(number, output, len(marks(self.folder)), (model, tokenizer),
                                 f"{output} (round {number})"))
        return self.go_back(len(self.rounds) - 1)

    def go_back(self, index: int) -> Round:
        """Generate with the model of `rounds[index]` (0: the model the studio started with)."""
        if not 0 <= index < len(self.rounds):
            raise StudioError(f"round index {index}: expected 0 to {len(self.rounds) - 1}")
        self.current = index
        chosen = self.rounds[index]
        self.model, self.model_name = chosen.model, chosen.name
        return chosen

    @staticmethod
    def check_seed(text: str) -> str:
        """'' when `text` reads as a seed phrase (note text, ABC, or a file's path), else the error in one line."""
        try:
            _seed(text)
        except MelodiaError as error:
            return str(error)
        return ""

    def generate(self, settings: StudioSettings, progress: Callable[[int], None] | None = None) -> list[Candidate]:
        """`settings.count` new candidates; they replace the last generation's (kept ones stay on disk).

        Raises:
            MelodiaError: a bad seed or setting, in one line naming it.
        """
        from melodia.lm.generation import generate, read_seed, settings_record

        seed = _seed(settings.seed)
        style = settings.style or None
        if style is not None:
            from melodia.style import load_style

            load_style(style)
        constraints, sampling = settings.constraints(), settings.sampling()
        scores = generate(self.model, seed, settings.count, constraints, sampling, settings.random_seed,
                          progress=progress)  # sampled on one torch thread (see draw.one_thread)
        record = settings_record(settings.seed, constraints, sampling, settings.random_seed, self.model_name,
                                 settings.count)
        seed_end = read_seed(seed)[0].end_tick
        self.candidates = [Candidate(self.generated + index + 1, score, record, seed_end, style)
                           for index, score in enumerate(scores)]
        self.generated += len(scores)
        return self.candidates

    @property
    def can_infill(self) -> bool:
        """Whether the model can write chosen bars anew (it was trained with infilling)."""
        return bool(self.model[1].config.infill)

    def redo(self, candidate: Candidate, bars: str) -> None:
        """Write bars `bars` ("5-8", counted from 1) of the candidate's melody anew, keeping the rest exactly
        (see `melodia.lm.infill`); a kept candidate counts as not kept until kept again.

        Raises:
            MelodiaError: bars outside the melody, or a model without infilling, in one line.
        """
        from melodia.lm.infill import infill

        if not self.can_infill:
            raise StudioError(INFILLING_NOTE)
        seed = 1000 * candidate.number + candidate.redone + 1
        candidate.melody = infill(self.model, candidate.melody, bars, 1, random_seed=seed)[0]
        candidate.redone += 1
        candidate.kept_as = None
        candidate._cache.clear()

    def discard(self, candidate: Candidate) -> Path:
        """Drop a candidate from the studio, its melody written as the next NNN.mid in the folder and listed in
        manifest.json with `"keep": false`, so that learning hears what was not liked too (a kept file is marked
        discarded instead). Returns the melody's path."""
        self.candidates = [c for c in self.candidates if c is not candidate]
        if candidate.kept_as is not None:
            from melodia.feedback import discard

            discard(candidate.kept_as)
            return candidate.kept_as
        return self._write(candidate, keep=False)

    def keep(self, candidate: Candidate) -> Path:
        """Write the candidate's melody as the next NNN.mid in the kept folder (its styled version under
        styled/ when a style is applied) and list it in manifest.json. Returns the melody's path."""
        if candidate.kept_as is None:
            candidate.kept_as = self._write(candidate, keep=True)
        return candidate.kept_as

    def _write(self, candidate: Candidate, keep: bool) -> Path:
        """The candidate's melody as the folder's next NNN.mid, listed in manifest.json marked `keep`."""
        from melodia.io.atomic import atomic_write_bytes, make_folder
        from melodia.io.midi import score_to_midi_bytes

        make_folder(self.folder)
        manifest = read_manifest(self.folder)
        entries = manifest.outputs
        number = 1 + max([_number(e["file"]) for e in entries] + [_number(p.name) for p in self.folder.glob("*.mid")]
                         + [0])
        path = atomic_write_bytes(self.folder / f"{number:03d}.mid", score_to_midi_bytes(candidate.melody),
                                  overwrite=False)
        styled = None
        if candidate.style and keep:
            styled = f"styled/{number:03d}-{candidate.style}.mid"
            atomic_write_bytes(self.folder / styled, candidate.midi(), overwrite=False)
        melody = candidate.melody
        pitches = [n.pitch for n in melody.notes]
        entries.append({"file": path.name, "keep": keep, "settings": candidate.settings, "style": candidate.style,
                        "styled_file": styled, "notes": melody.note_count, "bars": bar_count(melody),
                        "lowest": min(pitches, default=0), "highest": max(pitches, default=0),
                        "key": melody.key_signatures[0].name if melody.key_signatures else None,
                        "note_text": note_text(melody, most=10_000)})
        manifest.write()
        return path


def read_manifest(folder: str | Path) -> Manifest:
    """A folder's manifest.json (an empty one when there is none yet).

    Raises:
        StudioError: a manifest without a list of {"file": NAME, ...} entries in "outputs".
    """
    try:
        return Manifest.read(Path(folder) / MANIFEST, missing_ok=True)
    except ManifestError as error:
        raise StudioError(f"{error} (choose another folder)") from None


def read_kept(folder: str | Path) -> list[dict[str, Any]]:
    """The entries of a folder's manifest.json marked `"keep": true`."""
    return [e for e in read_manifest(folder).outputs if e.get("keep") is True]


def _number(name: str) -> int:
    found = re.match(r"^(\d+)\.mid$", name)
    return int(found.group(1)) if found else 0


def _seed(text: str) -> Any:
    """What `generate` takes for typed seed text: the text itself, or a `SeedFile` when it names a file."""
    from melodia.lm.generation import SeedFile, read_seed

    text = text.strip()
    if not text:
        raise StudioError("the seed phrase is empty; type notes such as D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8")
    seed: Any = text
    if "\n" not in text and Path(text).suffix and Path(text).is_file():
        seed = SeedFile(Path(text))
    read_seed(seed)
    return seed


def with_next_seed(settings: StudioSettings) -> StudioSettings:
    """The same settings with the next random seed, so the next Generate draws new melodies."""
    return replace(settings, random_seed=settings.random_seed + 1)
