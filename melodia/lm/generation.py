"""New music from a seed phrase: the seed is tokenized, continued by the model, decoded.

    melodia.generate("folk.safetensors", "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8", 10, Constraints(bars=8))

returns `Score`s, each the seed followed by what the model wrote, under the constraints
asked for (key or mode, pitch range, largest leap, length in bars), all enforced as
masks while sampling. A tune of known length is given a form (see `melodia.lm.form`):
phrases that return and end on cadences, the last on the tonic. Every output carries
the key as a key signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from melodia.io.atomic import atomic_write_bytes, refuse_overwrite
from melodia.lm.constraints import SCALE_CHOICES, Constraints, GenerateError, Meter, PitchRange, check_count
from melodia.lm.controls import Controls, moved_controls
from melodia.lm.draw import form_plan, melodies, read_request
from melodia.lm.form import FormPlan
from melodia.lm.modelfile import open_model
from melodia.lm.sampler import Biases, Progress, SamplingConfig
from melodia.lm.tunes import ending_bars, write_tunes
from melodia.manifest import MANIFEST, Manifest
from melodia.metrics import SCALAR_METRICS, STRUCTURE_METRICS, heard_key
from melodia.score import Score
from melodia.seed import SeedFile, read_seed, seed_key

__all__ = ["SCALE_CHOICES", "Constraints", "Controls", "GenerateError", "GenerationSettings", "Meter", "PitchRange",
           "SeedFile", "generate", "read_record", "read_seed", "seed_key", "settings_record", "write_outputs"]


@dataclass(frozen=True)
class GenerationSettings:
    """The constraints, the controls and the sampling settings of one request, so that `--set` reaches any:
    `constraints.max_leap=5`, `controls.density=rising`, `sampling.temperature=0.9` and
    `sampling.biases.tonic_gravity=1.2`, or by flat name `max_leap=5`, `density=rising`, `tonic_gravity=1.2`."""

    ALIASES: ClassVar[dict[str, str]] = {
        **{spec.name: f"constraints.{spec.name}" for spec in fields(Constraints)}, "range": "constraints.pitch_range",
        **{spec.name: f"controls.{spec.name}" for spec in fields(Controls)},
        **{spec.name: f"sampling.{spec.name}" for spec in fields(SamplingConfig) if spec.name != "biases"},
        **{spec.name: f"sampling.biases.{spec.name}" for spec in fields(Biases)}}

    constraints: Constraints = field(default_factory=Constraints)
    controls: Controls = field(default_factory=Controls)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)


def generate(model: Any, seed: Any, count: int = 1, constraints: Constraints | None = None,
             sampling: SamplingConfig | None = None, random_seed: int = 0, *, controls: Controls | None = None,
             progress: Progress | None = None) -> list[Score]:
    """`count` continuations of `seed` by `model`, sampled as one batch.

    `seed` is note text ("C4 D4 E4/8"), an ABC fragment, a `Score`, a music21 stream, or
    `SeedFile(path, bars, track)`; `model` is a model file path or a loaded
    (model, tokenizer) pair. Every output keeps the `constraints`; the `controls` (chords, notes per bar,
    register) steer a model trained with them. The same `random_seed` gives the same output. `progress`, when
    given, is called every sampling step with how many melodies were finished in it. A form of two strains
    or more is written strain by strain, each played as written (`melodia.lm.tunes`).
    """
    check_count(count, "melodies")
    constraints = constraints or Constraints()
    controls = controls or Controls()
    loaded = open_model(model)
    seed_score, mode, named = read_request(seed, constraints)
    plan = form_plan(constraints)
    if plan is not None and _strains_fit(plan, constraints, seed_score):
        tunes = write_tunes(loaded, seed_score, count=count, form=plan.form, strain_bars=plan.phrase_bars,
                            constraints=replace(constraints, key=mode if named else None, bars=None, form=None,
                                                phrase_bars=None),
                            controls=controls, sampling=sampling, random_seed=random_seed, progress=progress)
        return [tune.played for tune in tunes]
    return melodies(loaded, seed_score, mode, named, count, constraints, controls, sampling, random_seed, plan,
                    progress, from_file=isinstance(seed, SeedFile))


def _strains_fit(plan: FormPlan, constraints: Constraints, seed: Score) -> bool:
    """Whether a form is written strain by strain (`melodia.lm.tunes`): one asked for (`form`; a length alone gets
    phrases that return varied), of two letters or more, whose seed leaves the first strain its ending."""
    asked = constraints.form not in (None, "none")
    return asked and len(plan.phrases) > 1 and seed.bar_count() <= plan.phrase_bars - ending_bars(plan.phrase_bars)


def write_outputs(scores: list[Score], folder: Path, settings: dict[str, Any], force: bool = False,
                  seed_end_tick: int = 0) -> list[Path]:
    """MIDI files 001.mid ..., a piano roll of each (001.png ..., the seed shaded up to `seed_end_tick`) and
    manifest.json, each written atomically; nothing overwritten unless `force`."""
    from melodia.io.midi import write_midi
    from melodia.media.display import pianoroll_png

    names = [folder / f"{index + 1:03d}.mid" for index in range(len(scores))]
    if not force:
        for path in [*names, *(p.with_suffix(".png") for p in names), folder / MANIFEST]:
            refuse_overwrite(path)
    outputs = []
    for path, score in zip(names, scores):
        write_midi(score, path)
        atomic_write_bytes(path.with_suffix(".png"), pianoroll_png(score, seed_end_tick=seed_end_tick))
        notes = score.notes
        pitches = [n.pitch for n in notes]
        outputs.append({"file": path.name, "notes": len(notes), "bars": len(score.bar_starts(score.end_tick - 1)),
                        "lowest": min(pitches, default=0), "highest": max(pitches, default=0),
                        "key": score.key_signatures[0].name if score.key_signatures else None,
                        "estimated_key": str(heard_key(score)),
                        **{name: round(float(SCALAR_METRICS[name](score)), 4) for name in STRUCTURE_METRICS}})
    Manifest(folder / MANIFEST, outputs, settings).write()
    return names


def settings_record(seed: str, constraints: Constraints, sampling: SamplingConfig, random_seed: int,
                    model: str, count: int, controls: Controls | None = None) -> dict[str, Any]:
    """What a manifest records of a request: `read_record` reads its constraints and controls back."""
    plan = form_plan(constraints)
    return {"model": model, "seed": seed, "count": count, "random_seed": random_seed,
            "constraints": constraints.as_text(), "controls": (controls or Controls()).as_text(),
            "sampling": asdict(sampling),
            "form": plan.form if plan else None, "phrase_bars": plan.phrase_bars if plan else None}


def read_record(settings: Mapping[str, Any], source: str = "manifest") -> tuple[Constraints, Controls]:
    """The constraints and the controls of a request as `settings_record` wrote them; a record written before the
    controls had a table of their own holds them among the constraints.

    Raises:
        GenerateError: starting with `source`, naming a field that cannot be read.
    """
    constraints, controls, _ = moved_controls(settings.get("constraints") or {}, settings.get("controls") or {})
    return Constraints.parse(constraints, source, "constraints"), Controls.parse(controls, source, "controls")
