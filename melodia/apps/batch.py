"""Batch jobs: a grid of seed phrases x temperatures x styles x count, made by several
processes, resumable after a kill, and split into disjoint shards for several machines.

A job file (TOML):

    seeds = ["D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8", "tunes/start.mid"]   # required
    temperatures = [0.8, 1.0]
    styles = ["none", "celtic-jig"]        # "none": the plain melody
    count = 4                              # melodies per grid cell
    bars = 8
    model = "default"                      # or a model file
    output = "batch-output"                # relative to the job file
    random_seed = 0
    top_p = 1.0
    audio = false                          # also a WAV per melody
    workers = 2
    [constraints]                          # as `melodia generate`: key, range, max_leap, meter,
    range = "C4:C6"                        # end_on_tonic, instrument, notes, form, phrase_bars, scale
    [controls]                             # the soft controls: chords, density and register
    chords = "D | G | A7 | D"

A job file written before the controls had a table of their own gives them under [constraints]; they are
read from there as well.

With `infill = "5-8"` (and `track = "0"` for a file of several tracks) each seed, a music file,
is not continued: each melody is that file with bars 5 to 8 written anew (see `melodia.lm.infill`).

Every cell has its own random seed derived from the job's, so a rerun remakes exactly what a
killed run did not finish, and every file is written whole or not at all.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import signal
import threading
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from melodia.errors import MelodiaError
from melodia.lm.controls import CONTROL_EXAMPLES, moved_controls
from melodia.lm.generation import Constraints, Controls
from melodia.settings import Fields, beside, read_file, table_with_overrides

MAX_ITEMS = 1_000_000
# the fields of a job's [constraints] and [controls] tables; `--set form=AABB` stands for
# `--set constraints.form=AABB`, `--set chords="D | G"` for `--set controls.chords="D | G"`
CONSTRAINT_FIELDS = ("key", "range", "pitch_range", "max_leap", "meter", "end_on_tonic", "instrument", "notes",
                     "form", "phrase_bars", "scale")


class BatchError(MelodiaError):
    """A job file that cannot be run as written."""


@dataclass(frozen=True)
class Job:
    """A parsed job file; `output` is resolved against the job file's folder."""

    path: Path
    seeds: tuple[str, ...]
    temperatures: tuple[float, ...] = (1.0,)
    styles: tuple[str, ...] = ("none",)
    count: int = 1
    bars: int = 8
    model: str = "default"
    output: Path = Path("batch-output")
    random_seed: int = 0
    top_p: float = 1.0
    audio: bool = False
    workers: int = 1
    constraints: Constraints = field(default_factory=Constraints)
    controls: Controls = field(default_factory=Controls)
    infill: str | None = None  # "5-8": each seed, a music file, with these bars written anew (bars unused)
    track: str | None = None  # with infill: the track to rewrite (an index from 0, or a name)


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a seed, a temperature and a style, made `len(names)` times."""

    index: int
    seed_index: int
    seed: str
    temperature: float
    style: str
    random_seed: int
    names: tuple[str, ...]


@dataclass
class BatchReport:
    """What a run did: files made, files already there, cells that failed and why."""

    cells: int = 0  # in the shard
    made: int = 0
    existing: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (cell, error)
    warnings: list[str] = field(default_factory=list)
    manifest: Path | None = None


def load_job(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> Job:
    """Read and check a job file; every mistake is a `BatchError` naming the file and field.

    `overrides` are `key=value` strings (`count=2`, `constraints.form=AABB` or `form=AABB`) that
    replace the file's values before they are checked, so they are checked as the file's are.
    """
    path = Path(path)
    table = table_with_overrides(read_file(path, BatchError, "job", adjective="readable"), list(overrides),
                                 BatchError, {**{name: f"constraints.{name}" for name in CONSTRAINT_FIELDS},
                                              **{name: f"controls.{name}" for name in CONTROL_EXAMPLES}})
    fields = Fields(path, table, BatchError)
    seeds = fields.strings("seeds", None)
    temperatures = fields.numbers("temperatures", [1.0], 0.05, 5.0)
    styles = fields.strings("styles", ["none"])
    count = int(fields.number("count", 1, 1, 100_000, whole=True))
    if len(seeds) * len(temperatures) * len(styles) * count > MAX_ITEMS:
        raise BatchError(f"{path}: the grid holds more than {MAX_ITEMS:,} melodies; split it into several jobs")
    _check_styles(path, styles)
    job = Job(path=path, seeds=seeds, temperatures=temperatures, styles=styles, count=count,
              bars=int(fields.number("bars", 8, 1, 1024, whole=True)),
              model=_model(path, fields.take("model", str, "default")),
              output=Path(os.path.normpath(path.parent / fields.take("output", str, "batch-output"))),
              random_seed=int(fields.number("random_seed", 0, 0, 2**31, whole=True)),
              top_p=fields.number("top_p", 1.0, 0.01, 1.0),
              audio=fields.boolean("audio", False),
              workers=int(fields.number("workers", 1, 1, 256, whole=True)),
              **_request(path, fields.take("constraints", dict, {}), fields.take("controls", dict, {})),
              infill=_infill_bars(path, fields.take("infill", str, "") or None),
              track=fields.take("track", str, "") or None)
    fields.done()
    _check_form(job)
    return job


def _infill_bars(path: Path, value: str | None) -> str | None:
    """The bars an infill job writes anew, checked ('5-8')."""
    if value is None:
        return None
    from melodia.lm.infill import BarSpan

    try:
        return str(BarSpan.read_setting(value, "infill"))
    except MelodiaError as error:
        raise BatchError(f"{path}: {error}") from None


def _check_form(job: Job) -> None:
    """The form fits the job's length, checked before any work (as `melodia generate` would)."""
    from melodia.lm.draw import form_plan

    if job.constraints.notes is None:
        try:
            form_plan(replace(job.constraints, bars=job.bars))
        except MelodiaError as error:
            raise BatchError(f"{job.path}: constraints.form: {error}") from None


def _model(path: Path, value: str) -> str:
    """'default', or a model file; a relative path is taken from the job file's folder."""
    if value == "default":
        return value
    candidate = path.parent / value
    if not candidate.is_file():
        raise BatchError(f"{path}: model = {value!r}: no such model file (or 'default' for the shipped model)")
    return str(candidate)


def _check_styles(path: Path, styles: Iterable[str]) -> None:
    from melodia.style import load_style

    for style in styles:
        if style != "none":
            try:
                load_style(beside(path, style))
            except MelodiaError as error:
                raise BatchError(f"{path}: styles entry {style!r}: {error}") from None


def _request(path: Path, constraints: dict[str, Any], controls: dict[str, Any]) -> dict[str, Any]:
    """The [constraints] and [controls] tables, read as `melodia generate` reads its options (the length is the
    job's `bars`; a control under [constraints], as older job files give them, is read as one)."""
    if "bars" in constraints:
        raise BatchError(f"{path}: constraints.bars: the length in bars is the job's own field `bars`")
    constraints, controls, twice = moved_controls(constraints, controls)
    if twice:
        raise BatchError(f"{path}: {twice[0]} is given under both [constraints] and [controls]; give it once, "
                         "under [controls]")
    try:
        return {"constraints": Constraints.parse(constraints, str(path), "constraints"),
                "controls": Controls.parse(controls, str(path), "controls")}
    except MelodiaError as error:
        raise BatchError(str(error)) from None


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' to (2, 4): the second of four disjoint slices of the grid."""
    index, _, total = text.partition("/")
    if not (index.isdigit() and total.isdigit() and 1 <= int(index) <= int(total)):
        raise BatchError(f"--shard {text!r}: expected I/N with 1 <= I <= N, e.g. 2/4")
    return int(index), int(total)


def grid(job: Job) -> list[Cell]:
    """Every cell of the job, in a fixed order (seed, then temperature, then style)."""
    cells = []
    product = itertools.product(enumerate(job.seeds), job.temperatures, job.styles)
    for index, ((seed_index, seed), temperature, style) in enumerate(product):
        label = "plain" if style == "none" else Path(style).stem
        names = tuple(f"{seed_index + 1:02d}-t{temperature:g}-{label}-{k + 1:03d}" for k in range(job.count))
        cells.append(Cell(index, seed_index, seed, temperature, style, job.random_seed * 1_000_003 + index, names))
    return cells


def shard_cells(cells: list[Cell], shard: tuple[int, int]) -> list[Cell]:
    index, total = shard
    return [cell for cell in cells if cell.index % total == index - 1]


def missing(job: Job, cell: Cell) -> list[str]:
    """The outputs of `cell` not yet on disk (a MIDI file, and its WAV when the job asks)."""
    suffixes = (".mid", ".wav") if job.audio else (".mid",)
    return [name for name in cell.names if not all((job.output / f"{name}{s}").is_file() for s in suffixes)]


def run_batch(job: Job, shard: tuple[int, int] = (1, 1), workers: int | None = None,
              progress: bool = True) -> BatchReport:
    """Make whatever the job's shard still lacks, then write its manifest (CSV and JSON)."""
    from tqdm import tqdm

    from melodia.io.atomic import make_folder, remove_stale_parts

    make_folder(job.output)
    remove_stale_parts(job.output)
    cells = shard_cells(grid(job), shard)
    todo = [cell for cell in cells if missing(job, cell)]
    report = BatchReport(cells=len(cells), existing=sum(len(c.names) - len(missing(job, c)) for c in cells))
    workers = min(workers or job.workers, max(len(todo), 1))
    bar = tqdm(total=len(todo), desc="batch", unit="cell", disable=not progress)
    results = _run_here(job, todo, bar) if workers == 1 else _run_in_pool(job, todo, workers, bar)
    bar.close()
    for cell, made, error, caught in results:
        report.made += made
        report.warnings += [f"{_label(cell)}: {w}" for w in caught]
        if error:
            report.failed.append((_label(cell), error))
    report.manifest = write_manifest(job, cells, shard, report)
    return report


def _run_here(job: Job, todo: list[Cell], bar: Any) -> list[tuple[Cell, int, str, list[str]]]:
    _start_worker(job)
    results = []
    for cell in todo:
        results.append(_make_cell(cell))
        bar.update(1)
    return results


def _run_in_pool(job: Job, todo: list[Cell], workers: int, bar: Any) -> list[tuple[Cell, int, str, list[str]]]:
    """The cells on `workers` processes. Ctrl-C reaches the whole process group; only this process
    answers it: the workers start with SIGINT blocked (a signal mask a new process keeps from its
    parent, so no worker turns it into a traceback, even while it imports), and are stopped from here."""
    import multiprocessing

    results = []
    context = multiprocessing.get_context("spawn")  # no forked torch state
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(job,))
    before = set(multiprocessing.active_children())
    try:
        with _sigint_held():
            futures = [pool.submit(_make_cell, cell) for cell in todo]  # the workers are started here
        for future in as_completed(futures):
            results.append(future.result())
            bar.update(1)
    except BaseException:  # Ctrl-C, or a worker lost: stop the others now instead of finishing the grid
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in set(multiprocessing.active_children()) - before:
            worker.terminate()
        raise
    pool.shutdown()
    return results


@contextmanager
def _sigint_held() -> Iterator[None]:
    """While the worker processes are started: SIGINT blocked in this thread, so that they start with it
    blocked, and a Ctrl-C that another thread receives meanwhile only noted, so that no process is left
    half-started; it is raised as KeyboardInterrupt afterwards."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield  # Windows, or a thread that may not set handlers
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _: caught.append(number))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


_WORKER: dict[str, Any] = {}


def _start_worker(job: Job) -> None:
    """Load the model once per process; one thread each, as the processes share the cores."""
    import torch

    from melodia.lm.modelfile import open_model

    torch.set_num_threads(1)
    _WORKER.update(job=job, model=open_model(job.model), styles={})


def _make_cell(cell: Cell) -> tuple[Cell, int, str, list[str]]:
    """Generate one cell and write the outputs it still lacks; errors are returned, not raised."""
    from melodia.io import seed_file
    from melodia.io.midi import write_midi
    from melodia.lm.generation import SeedFile, generate
    from melodia.lm.sampler import SamplingConfig
    from melodia.media.synth import write_wav
    from melodia.style import load_style, stylize

    job: Job = _WORKER["job"]
    wanted = missing(job, cell)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            seed_path = seed_file(cell.seed, job.path.parent)
            seed: Any = SeedFile(seed_path) if seed_path else cell.seed
            sampling = SamplingConfig(temperature=cell.temperature, top_p=job.top_p)
            if job.infill:
                from melodia.lm.infill import infill

                track = int(job.track) if job.track is not None and job.track.isdigit() else job.track
                scores = infill(_WORKER["model"], seed_path or cell.seed, job.infill, len(cell.names), track,
                                job.constraints, sampling, cell.random_seed, controls=job.controls)
            else:
                constraints = job.constraints if job.constraints.notes else replace(job.constraints, bars=job.bars)
                scores = generate(_WORKER["model"], seed, len(cell.names), constraints, sampling, cell.random_seed,
                                  controls=job.controls)
            if cell.style != "none":
                styles = _WORKER["styles"]
                style = styles.setdefault(cell.style, load_style(beside(job.path, cell.style)))
                scores = [stylize(score, style=style) for score in scores]
            for name, score in zip(cell.names, scores, strict=True):
                if name in wanted:
                    write_midi(score, job.output / f"{name}.mid")
                    if job.audio:
                        write_wav(score, job.output / f"{name}.wav")
        except MelodiaError as error:
            return cell, 0, str(error), [str(w.message) for w in caught]
        except Exception as error:  # a bug must not sink a long job: the cell is reported, the rest go on
            return cell, 0, f"internal error, please report it: {type(error).__name__}: {error}", \
                [str(w.message) for w in caught]
    return cell, len(wanted), "", [str(w.message) for w in caught]


def _label(cell: Cell) -> str:
    return f"seed {cell.seed_index + 1} ({cell.seed!r}), temperature {cell.temperature:g}, style {cell.style}"


def write_manifest(job: Job, cells: list[Cell], shard: tuple[int, int], report: BatchReport) -> Path:
    """manifest.csv and manifest.json (manifest-shard-I-of-N.* for a shard): one row per output
    with its settings and metrics; failed cells and warnings also go to report.txt."""
    from melodia.feedback import previously_kept
    from melodia.io import read_score
    from melodia.io.atomic import atomic_write_text
    from melodia.manifest import Manifest
    from melodia.metrics import SCALAR_METRICS

    failed = dict(report.failed)
    kept = previously_kept(job.output)  # a run again keeps the user's keep marks
    rows: list[dict[str, Any]] = []
    for cell in cells:
        for number, name in enumerate(cell.names, start=1):
            row: dict[str, Any] = {"file": f"{name}.mid", "seed": cell.seed, "temperature": cell.temperature,
                                   "style": cell.style, "number": number, "random_seed": cell.random_seed,
                                   "audio": f"{name}.wav" if job.audio else ""}
            path = job.output / f"{name}.mid"
            if path.is_file():
                score = read_score(path)
                row.update(notes=score.note_count, bars=score.bar_count(),
                           seconds=round(score.duration_seconds(), 3),
                           **{k: round(float(f(score)), 4) for k, f in SCALAR_METRICS.items()})
            else:
                row["error"] = failed.get(_label(cell), "not made")
            if row["file"] in kept:
                row["keep"] = True
            rows.append(row)
    stem = "manifest" if shard == (1, 1) else f"manifest-shard-{shard[0]}-of-{shard[1]}"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = io.StringIO()
    writer = csv.DictWriter(table, columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(job.output / f"{stem}.csv", table.getvalue())
    settings = {"job": str(job.path), "model": job.model, "bars": job.bars, "count": job.count, "top_p": job.top_p,
                "random_seed": job.random_seed, "shard": f"{shard[0]}/{shard[1]}",
                "constraints": job.constraints.as_text(), "controls": job.controls.as_text(), "infill": job.infill,
                "track": job.track}
    Manifest(job.output / f"{stem}.json", rows, settings).write()
    lines = [f"{len(rows)} outputs in this {'job' if shard == (1, 1) else 'shard'}: {report.made} made now, "
             f"{report.existing} already there, {sum('error' in r for r in rows)} missing"]
    lines += [f"failed: {cell}: {error}" for cell, error in report.failed]
    lines += [f"warning: {text}" for text in report.warnings]
    atomic_write_text(job.output / f"{stem.replace('manifest', 'report')}.txt", "\n".join(lines) + "\n")
    return job.output / f"{stem}.csv"
