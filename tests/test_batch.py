"""Batch jobs (melodia/apps/batch.py): job files, the grid and its shards, resuming after a kill."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mido
import pretty_midi
import pytest
from helpers import job_file

from melodia.apps.batch import BatchError, grid, load_job, parse_shard, run_batch, shard_cells
from melodia.errors import MelodiaError

ROOT = Path(__file__).resolve().parent.parent


def test_the_example_job_loads() -> None:
    job = load_job(ROOT / "scripts" / "batch_example.toml")
    assert len(grid(job)) == 3 * 2 * 3 and job.constraints.pitch_range == (60, 84)
    assert job.output == ROOT / "melodia-output" / "batch"


@pytest.mark.parametrize(("text", "message"), [
    ('seeds = ["C4"]\ncolour = 1\n', "unknown field 'colour'"),
    ("count = 2\n", "field 'seeds' is missing"),
    ('seeds = ["C4"]\ntemperatures = [0]\n', "temperatures = 0 should be a number from 0.05 to 5"),
    ('seeds = ["C4"]\ncount = 2.5\n', "count = 2.5 should be a whole number"),
    ('seeds = ["C4"]\nstyles = ["polka"]\n', "styles entry 'polka': style 'polka': no such preset"),
    ('seeds = ["C4"]\n[constraints]\nrange = "C6:C4"\n', "constraints.pitch_range = 'C6:C4': expected LOW:HIGH"),
    ('seeds = ["C4"]\n[constraints]\nspeed = 2\n', "unknown field 'constraints.speed'"),
    ('seeds = ["C4"]\naudio = "yes"\n', "audio = 'yes' should be true or false"),
    ('seeds = ["C4"]\nmodel = "nowhere.safetensors"\n', "model = 'nowhere.safetensors': no such model file"),
    ('seeds = ["C4"]\n[constraints]\nkey = "H major"\n', "constraints.key = 'H major': expected a tonic and a mode"),
    ('seeds = ["C4"]\n[constraints]\nmeter = "6/7"\n', "constraints.meter = '6/7': expected a meter like 3/4 or 6/8"),
    ('seeds = ["C4"]\n[constraints]\ninstrument = "kazoo"\n', "constraints.instrument = 'kazoo': expected one of"),
    ('seeds = ["C4"]\ncount = 100000\ntemperatures = [1, 2, 3, 4, 5, 1.5, 2.5, 3.5, 4.5, 0.5, 0.7]\n', "more than"),
    ('seeds = ["C4"\n', "not a readable TOML job file"),
    ('seeds = ["C4"]\nbars = 0\n', "bars = 0 should be a whole number from 1 to 1024"),
    ('seeds = ["C4"]\ncount = 0\n', "count = 0 should be a whole number from 1 to 100000"),
    ('seeds = ["C4"]\ntemperatures = [-1]\n', "temperatures = -1 should be a number from 0.05 to 5"),
    ('seeds = ["C4"]\ntop_p = 2\n', "top_p = 2 should be a number from 0.01 to 1"),
    ('seeds = ["C4"]\n[constraints]\nnotes = 0\n', "constraints.notes = 0: expected a whole number >= 1"),
    ('seeds = ["C4"]\n[constraints]\nmax_leap = -1\n', "constraints.max_leap = -1: expected a whole number >= 1"),
])
def test_bad_job_files_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BatchError, match=r"job\.toml") as error:
        load_job(job_file(tmp_path, text))
    assert message in str(error.value)


def test_a_job_may_not_allow_only_repeated_notes_as_generate_may_not(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match=r"constraints\.max_leap = 0: expected a whole number >= 1"):
        load_job(job_file(tmp_path, 'seeds = ["C4"]\n[constraints]\nmax_leap = 0\n'))


def test_shards_are_disjoint_and_cover_the_grid(tmp_path: Path) -> None:
    job = load_job(job_file(tmp_path, 'seeds = ["C4", "D4", "E4"]\ntemperatures = [0.8, 1.0]\n'
                                      'styles = ["none", "rock"]\ncount = 2\n'))
    cells = grid(job)
    for total in (1, 2, 3, 5, 13):
        shards = [shard_cells(cells, (i, total)) for i in range(1, total + 1)]
        assert sorted(c.index for s in shards for c in s) == list(range(len(cells)))
    assert len({name for c in cells for name in c.names}) == 3 * 2 * 2 * 2
    assert len({c.random_seed for c in cells}) == len(cells)
    with pytest.raises(BatchError, match="--shard '0/2'"):
        parse_shard("0/2")


def test_a_bad_seed_is_skipped_and_reported(tmp_path: Path) -> None:
    job = load_job(job_file(tmp_path, 'seeds = ["G4 A4 B4", "C4 X9"]\ncount = 2\nbars = 2\n'))
    report = run_batch(job, progress=False)
    assert report.made == 2 and len(report.failed) == 1 and "word 2 'X9'" in report.failed[0][1]
    rows = list(csv.DictReader((job.output / "manifest.csv").open()))
    assert [r["file"] for r in rows] == ["01-t1-plain-001.mid", "01-t1-plain-002.mid", "02-t1-plain-001.mid",
                                         "02-t1-plain-002.mid"]
    assert rows[0]["notes"] and "word 2 'X9'" in rows[2]["error"]
    assert "failed: seed 2 ('C4 X9')" in (job.output / "report.txt").read_text()


def test_audio_and_styles_and_sharded_manifests(tmp_path: Path) -> None:
    job = load_job(job_file(tmp_path, 'seeds = ["D4 E4 F#4 key=D"]\nstyles = ["none", "rock"]\ncount = 1\n'
                                      "bars = 2\naudio = true\n"))
    first = run_batch(job, shard=(1, 2), progress=False)
    second = run_batch(job, shard=(2, 2), progress=False)
    assert (first.made, second.made) == (1, 1)
    assert sorted(p.name for p in job.output.glob("*.wav")) == ["01-t1-plain-001.wav", "01-t1-rock-001.wav"]
    shard = json.loads((job.output / "manifest-shard-2-of-2.json").read_text())
    assert [o["style"] for o in shard["outputs"]] == ["rock"] and shard["settings"]["shard"] == "2/2"
    again = run_batch(job, progress=False)
    assert (again.made, again.existing) == (0, 2)


def batch_process(job: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "melodia.apps.cli", "batch", str(job), "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_killed_batch_resumes_to_the_full_set(tmp_path: Path) -> None:
    text = ('seeds = ["D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8", "A4 B4 C5 key=Am", "G4 A4 B4"]\n'
            'temperatures = [0.9, 1.1]\nstyles = ["none", "jazz-swing"]\ncount = 2\nbars = 4\naudio = true\n')
    job = load_job(job_file(tmp_path, text))
    expected = {f"{name}{suffix}" for cell in grid(job) for name in cell.names for suffix in (".mid", ".wav")}
    process = batch_process(job.path, "--workers", "2")
    deadline = time.monotonic() + 120
    while not list(job.output.glob("*.wav")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_at_kill = {p.name for p in job.output.iterdir() if not p.name.startswith(".")}
    assert done_at_kill and done_at_kill < expected | {"manifest.csv"}, "the kill came too late to test resuming"
    assert not (job.output / "manifest.csv").exists()
    rerun = batch_process(job.path, "--workers", "2")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    made = int(out.split("made ")[1].split(",")[0])
    assert made == len(expected) // 2 - len({n for n in done_at_kill if n.endswith(".wav")})
    files = {p.name for p in job.output.iterdir()}
    assert expected <= files and not [f for f in files if f.endswith(".part")]
    for name in sorted(n for n in expected if n.endswith(".mid")):
        assert mido.MidiFile(job.output / name).tracks
        assert pretty_midi.PrettyMIDI(str(job.output / name)).instruments
    rows = list(csv.DictReader((job.output / "manifest.csv").open()))
    assert len(rows) == len(expected) // 2 and all(r["notes"] and not r.get("error") for r in rows)
    # the rerun made exactly what an uninterrupted run makes, on any number of workers
    (tmp_path / "fresh").mkdir()
    fresh = load_job(job_file(tmp_path / "fresh", text))
    run_batch(fresh, workers=1, progress=False)  # in this process: the same files as two workers make
    for name in sorted(n for n in expected if n.endswith(".mid")):
        assert (fresh.output / name).read_bytes() == (job.output / name).read_bytes(), name


def _importing_workers(pid: int) -> list[int]:
    """The worker processes of a batch whose Python is running and importing numpy (Linux)."""
    workers = []
    try:
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes() and \
                    "numpy" in Path(f"/proc/{child}/maps").read_text():
                workers.append(int(child))
    except OSError:  # a process that ended meanwhile
        pass
    return workers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child processes are found in /proc")
def test_ctrl_c_while_the_workers_start_is_one_line(tmp_path: Path) -> None:
    job = job_file(tmp_path, 'seeds = ["D4 E4 F#4 key=D", "A4 B4 C5 key=Am"]\ncount = 2\nbars = 4\n')
    process = batch_process(job, "--workers", "2")
    deadline = time.monotonic() + 60
    while len(_importing_workers(process.pid)) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    workers = _importing_workers(process.pid)
    assert len(workers) == 2, "the batch did not start its workers"
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C does: the whole process group, the workers importing
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err, err
    assert err.splitlines()[-1:] == ["melodia: interrupted"], err
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]  # no worker left running


def test_an_output_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file\n")
    job = load_job(job_file(tmp_path, 'seeds = ["C4"]\noutput = "taken"\n'))
    with pytest.raises(MelodiaError, match="taken: is a file, not a folder"):
        run_batch(job, progress=False)


def test_a_job_gives_its_melodies_a_form_and_refuses_one_that_does_not_fit(tmp_path: Path) -> None:
    job_file = tmp_path / "job.toml"
    job_file.write_text('seeds = ["A4 B4 C5 E5 key=Am"]\ncount = 2\nbars = 8\noutput = "out"\n'
                        '[constraints]\nform = "AABB"\nphrase_bars = 2\nscale = "soft"\n')
    job = load_job(job_file)
    assert (job.constraints.form, job.constraints.phrase_bars, job.constraints.scale) == ("AABB", 2, "soft")
    run_batch(job, workers=1, progress=False)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    rows = manifest["outputs"] if isinstance(manifest, dict) else manifest
    assert len(rows) == 2 and all(row["tonic_ending"] == 1.0 and row["bars"] == 8 for row in rows)
    job_file.write_text('seeds = ["A4 B4"]\nbars = 8\n[constraints]\nform = "AAB"\n')
    with pytest.raises(BatchError, match=r"constraints\.form: form AAB of 4-bar phrases makes 12 bars"):
        load_job(job_file)


@pytest.mark.parametrize("pairs", [
    ["count=2", "constraints.form=AABB", "constraints.phrase_bars=2", "temperatures=[0.8, 1.0]"],
    ["count=2", "form=AABB", "phrase_bars=2", "temperatures=[0.8, 1.0]"],
], ids=["dotted", "flat"])
def test_set_overrides_the_fields_of_a_job_file(tmp_path: Path, pairs: list[str]) -> None:
    path = job_file(tmp_path, 'seeds = ["C4"]\ncount = 4\n[constraints]\nform = "AB"\n')
    job = load_job(path, pairs)
    assert (job.count, job.constraints.form, job.constraints.phrase_bars, job.temperatures) == (2, "AABB", 2,
                                                                                                 (0.8, 1.0))
    assert load_job(path).count == 4  # the file is left as it was


@pytest.mark.parametrize(("pair", "message"), [
    ("colour=red", "unknown field 'colour'; expected one of audio, bars, constraints, controls, count, "),
    ("constraints.speed=2", "unknown field 'constraints.speed'; expected one of bars, end_on_tonic, form, "),
    ("count=0", "count = 0 should be a whole number from 1 to 100000"),
    ("max_leap=-1", "constraints.max_leap = -1: expected a whole number >= 1"),
    ("count", "--set 'count': expected key=value"),
], ids=["unknown", "unknown-constraint", "count", "max_leap", "no-value"])
def test_set_values_are_checked_as_the_files_are(tmp_path: Path, pair: str, message: str) -> None:
    with pytest.raises(BatchError) as error:
        load_job(job_file(tmp_path, 'seeds = ["C4"]\n'), [pair])
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_job_reads_its_controls_table_and_the_controls_older_jobs_gave_as_constraints(tmp_path: Path) -> None:
    job = load_job(job_file(tmp_path, 'seeds = ["C4"]\n[constraints]\nmax_leap = 5\n[controls]\nchords = "C | G"\n'),
                   ["density=rising"])
    assert (job.constraints.max_leap, job.controls.chords, job.controls.density) == (5, "C | G", "rising")
    older = load_job(job_file(tmp_path, 'seeds = ["C4"]\n[constraints]\nmax_leap = 5\nregister = "high"\n'))
    assert (older.constraints.max_leap, older.controls.register) == (5, "high")
    with pytest.raises(BatchError, match=r"chords is given under both \[constraints\] and \[controls\]; give it"):
        load_job(job_file(tmp_path, 'seeds = ["C4"]\n[controls]\nchords = "D | G"\n'), ['constraints.chords=A | E'])
    with pytest.raises(BatchError, match=r"controls\.register = 'top': expected low, mid, high"):
        load_job(job_file(tmp_path, 'seeds = ["C4"]\n[controls]\nregister = "top"\n'))


def test_an_infill_job_rewrites_the_bars_of_each_seed_file(tmp_path: Path) -> None:
    from test_infill import INFILL, tune, untrained_infill

    from melodia.io import read_score
    from melodia.io.midi import write_midi
    from melodia.lm.modelfile import save_model

    save_model(tmp_path / "fim.safetensors", untrained_infill(7), INFILL, {})
    write_midi(tune(), tmp_path / "tune.mid")
    job = load_job(job_file(tmp_path, 'seeds = ["tune.mid", "missing.mid"]\nmodel = "fim.safetensors"\ncount = 3\n'
                                      'infill = "3-4"\n[controls]\nchords = "D | G"\n'))
    report = run_batch(job, progress=False)
    assert report.made == 3 and len(report.failed) == 1 and "missing.mid" in report.failed[0][1]
    source = read_score(tmp_path / "tune.mid")
    for path in sorted(job.output.glob("01-*.mid")):
        written = read_score(path)
        assert [n for n in written.notes if not 3840 <= n.onset_tick < 7680] == \
            [n for n in source.notes if not 3840 <= n.onset_tick < 7680]
    assert json.loads((job.output / "manifest.json").read_text())["settings"]["infill"] == "3-4"
    with pytest.raises(BatchError, match=r"job.toml: infill = '4-2': expected bars FIRST-LAST"):
        load_job(job_file(tmp_path, 'seeds = ["tune.mid"]\ninfill = "4-2"\n'))
