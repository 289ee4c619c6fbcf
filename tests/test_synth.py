"""Audio (melodia/media/synth.py): the built-in synthesizer's families and drums, the tempo map, WAV files,
FluidSynth."""

from __future__ import annotations

import io
import os
import stat
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from melodia.io import read_score
from melodia.media.synth import FAMILY_TIMBRES, engine, sound, synthesize, wav_bytes, write_wav
from melodia.resources import example_path
from melodia.score import Note, Score, Track


def one_note(pitch: int = 69, program: int = 0, is_drum: bool = False, quarters: int = 2) -> Score:
    return Score([Track("T", program, is_drum, [Note(pitch, 100, 0, quarters * 480)])])


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("family", range(16))
def test_builtin_synth_sounds_the_note_in_every_family(family: int) -> None:
    samples = synthesize(one_note(69, program=family * 8), 22050)
    assert samples.dtype == np.float32 and 0.5 < np.abs(samples).max() <= 0.9 + 1e-6
    assert abs(dominant_frequency(samples[:22050], 22050) - 440) < 3


def test_families_sound_different() -> None:
    spectra = [np.abs(np.fft.rfft(synthesize(one_note(57, program=f * 8))[:22050])) for f in range(16)]
    shapes = [s / np.linalg.norm(s) for s in spectra]
    assert len(FAMILY_TIMBRES) == 16
    assert max(float(a @ b) for i, a in enumerate(shapes) for b in shapes[i + 1:]) < 0.999


def test_builtin_drums_kick_is_low_and_hat_is_bright() -> None:
    kick = synthesize(one_note(36, is_drum=True, quarters=1))
    hat = synthesize(one_note(42, is_drum=True, quarters=1))
    assert dominant_frequency(kick[:4096], 22050) < 150
    assert dominant_frequency(hat[:2048], 22050) > 2000


def test_tempo_map_places_notes_in_time() -> None:
    score = read_score(Path(__file__).parent / "data" / "tempo_changes.mid")
    samples, rate = sound(score, 8000, use_fluidsynth=False)
    assert abs(len(samples) / rate - (score.duration_seconds() + 1.0)) < 0.01


def test_write_wav_is_a_playable_file(tmp_path: Path) -> None:
    score = read_score(example_path())
    path = write_wav(score, tmp_path / "bach.wav", sample_rate=8000)  # FluidSynth's where installed
    with wave.open(str(path)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 8000)
        assert score.duration_seconds() <= reader.getnframes() / 8000 < score.duration_seconds() + 3
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    assert abs(int(np.abs(samples).max()) - round(0.9 * 32767)) <= 1  # normalized either way


def test_fluidsynth_is_used_when_installed_with_a_soundfont(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in `fluidsynth` on PATH checks the command line melodia gives the real one."""
    fake = tmp_path / "fluidsynth"
    fake.write_text(f"#!{sys.executable}\n" + """import sys, wave
args = sys.argv[1:]
assert args[:2] == ["-ni", "-g"] and args[-2].endswith(".sf2") and args[-1].endswith(".mid")
with wave.open(args[args.index("-F") + 1], "wb") as w:
    w.setnchannels(2); w.setsampwidth(2); w.setframerate(int(args[args.index("-r") + 1]))
    w.writeframes(b"\\x00\\x40" * 2 * 1000)
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    soundfont = tmp_path / "gm.sf2"
    soundfont.write_bytes(b"RIFF")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MELODIA_SOUNDFONT", str(soundfont))
    samples, rate = sound(one_note(), 16000)
    assert rate == 16000 and len(samples) == 1000 and np.allclose(samples, 0.9)  # normalized like the built-in
    assert engine() == f"FluidSynth with {soundfont}"
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # no fluidsynth at all
    assert len(sound(one_note(), 16000)[0]) > 1000 and engine() == "the built-in synthesizer"


def test_wav_bytes_round_trip() -> None:
    data = wav_bytes(np.array([0.0, 0.5, -0.5, 1.0], dtype=np.float32), 8000)
    with wave.open(io.BytesIO(data)) as reader:
        frames = np.frombuffer(reader.readframes(4), dtype="<i2")
    assert frames.tolist() == [0, 16383, -16383, 32767]


def test_fluidsynths_long_silent_tail_is_cut_a_moment_after_the_music_and_faded() -> None:
    import numpy as np

    from melodia.media.synth import TAIL_SECONDS, _faded

    rate = 1000
    rendered = np.ones(10 * rate, dtype=np.float32)  # 10 s rendered for 5 s of music
    faded = _faded(rendered, 5.0, rate)
    assert len(faded) == int((5.0 + TAIL_SECONDS) * rate) and faded[-1] == 0.0 and faded[0] == 1.0
    assert (np.diff(faded[-rate // 10:]) <= 0).all()  # a fade, not a click
    assert len(_faded(rendered[:5500], 5.0, rate)) == 5500  # a short tail is kept whole
