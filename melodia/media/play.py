"""Listening from the command line: `melodia play FILE|FOLDER` and `melodia generate --play`.

A score is rendered to audio (FluidSynth with a General MIDI SoundFont when both are
installed, else melodia's built-in synthesizer, see `melodia.media.synth`) and piped to an audio
player when this machine has an audio output: `pw-play`, `paplay`, `aplay`, `ffplay` or
`play` (SoX) on Linux, `afplay` on macOS, `winsound` on Windows. Without one (a server, a
container) the audio is written as a WAV file, and the message says where: into the folder
given (`--wav-dir`, where a WAV that exists is refused unless `force`), else into the scratch
folder `$MELODIA_CACHE/play` (~/.cache/melodia/play), where each play replaces the WAV of the
same name a previous one left. Nothing is written beside the music file, which may be inside
the installed package or a read-only folder. MELODIA_PLAYER names a player command that reads
WAV on its standard input ("none" always writes the WAV); one that is not installed is named
in a warning, and the player is chosen as without it.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from melodia.errors import MelodiaError, WriteError

MUSIC_SUFFIXES = (".mid", ".midi")  # what a folder is searched for
# (name, arguments before the input, whether it reads WAV on stdin): the first installed one plays
PLAYERS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("pw-play", ("-",), True), ("paplay", (), True), ("aplay", ("-q", "-"), True),
    ("ffplay", ("-nodisp", "-autoexit", "-loglevel", "error", "-"), True), ("play", ("-q", "-t", "wav", "-"), True),
    ("afplay", (), False))
SOUND_SOCKETS = ("pulse/native", "pipewire-0")  # under $XDG_RUNTIME_DIR: a sound server is running
ALSA_OUTPUTS = "/dev/snd/pcmC*D*p"


class PlayError(MelodiaError):
    """Nothing to play, or a player that failed."""


@dataclass(frozen=True)
class Player:
    """A command that plays WAV: from its standard input (`stdin`) or from a file named last."""

    command: tuple[str, ...]
    stdin: bool = True

    @property
    def name(self) -> str:
        return Path(self.command[0]).name


def find_player() -> Player | None:
    """The player to use here: MELODIA_PLAYER, else the first of `PLAYERS` installed, when the
    machine has an audio output; else None."""
    chosen = os.environ.get("MELODIA_PLAYER", "").strip()
    if chosen.lower() == "none":
        return None
    if chosen:
        command = tuple(shlex.split(chosen))
        if command and shutil.which(command[0]):
            return Player(command)
        warnings.warn(f"MELODIA_PLAYER={chosen!r}: no such program here; choosing a player as without it",
                      stacklevel=2)
    if sys.platform == "win32":
        return Player(("winsound",))
    if not has_audio_output():
        return None
    for name, arguments, stdin in PLAYERS:
        found = shutil.which(name)
        if found:
            return Player((found, *arguments), stdin)
    return None


def has_audio_output() -> bool:
    """Whether sound can come out here: macOS always; Linux with a sound server's socket, PULSE_SERVER,
    or an ALSA playback device."""
    if sys.platform == "darwin":
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.environ.get("PULSE_SERVER") or (runtime and any((Path(runtime) / s).exists() for s in SOUND_SOCKETS)):
        return True
    return bool(glob.glob(ALSA_OUTPUTS))


def music_files(path: str | os.PathLike[str]) -> list[Path]:
    """A music file, or a folder's MIDI files in name order.

    Raises:
        PlayError: no such file, or a folder without MIDI files.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in MUSIC_SUFFIXES and p.is_file())
        if not files:
            raise PlayError(f"{path}: no MIDI files (.mid, .midi) in this folder to play")
        return files
    if not path.is_file():
        raise PlayError(f"{path}: no such file or folder; pass a MIDI file or a folder of them")
    return [path]


def scratch_folder() -> Path:
    """Where `play` writes the WAVs nobody asked to keep: `$MELODIA_CACHE/play` (~/.cache/melodia/play)."""
    from melodia.resources import cache_root

    return cache_root() / "play"


def play(path: str | os.PathLike[str], wav_folder: str | os.PathLike[str] | None = None, force: bool = False,
         say: Callable[[str], None] = print) -> list[Path]:
    """Play a music file, or a folder's MIDI files one after another; without an audio output, write
    each as a WAV: into `wav_folder`, else into `scratch_folder()` (replacing what a previous play left
    there). Returns the WAV files written.

    Raises:
        PlayError: nothing to play, or a WAV in `wav_folder` that exists (unless `force`).
    """
    files = music_files(path)
    player = find_player()
    place = Path(wav_folder) if wav_folder is not None else scratch_folder()
    force = force or wav_folder is None  # scratch audio is melodia's own, never the user's
    written = []
    for number, file in enumerate(files, start=1):
        wav = play_file(file, player, place / f"{file.stem}.wav", force, say,
                        f" ({number} of {len(files)})" if len(files) > 1 else "")
        if wav is not None:
            written.append(wav)
    return written


def play_file(file: Path, player: Player | None, wav_path: Path, force: bool = False,
              say: Callable[[str], None] = print, count: str = "") -> Path | None:
    """Play one file through `player`, or write it to `wav_path` when there is no player or it fails.
    Returns the WAV written, or None when the file was played."""
    from melodia.io import read_score
    from melodia.io.atomic import atomic_write_bytes, refuse_overwrite
    from melodia.media.synth import engine, sound, wav_bytes

    if player is None and not force:
        refuse_overwrite(wav_path)  # before rendering
    score = read_score(file)
    audio = wav_bytes(*sound(score))
    heard = f"{file.name}{count}: {score.duration_seconds():.1f} s by {engine()}"
    if player is not None:
        say(f"playing {heard} through {player.name}")
        failure = _run(player, audio)
        if not failure:
            return None
        say(f"{player.name} failed ({failure}); writing the audio instead")
        if not force:
            refuse_overwrite(wav_path)
    path = atomic_write_bytes(wav_path, audio)
    reason = "" if player is not None else " (no audio output here)"
    say(f"wrote {path}: {heard}{reason}")
    return path


def _run(player: Player, audio: bytes) -> str:
    """Play WAV contents; '' when it played, else why not, in a few words."""
    if sys.platform == "win32" and player.command == ("winsound",):
        import winsound

        winsound.PlaySound(audio, winsound.SND_MEMORY)
        return ""
    try:
        if player.stdin:
            result = subprocess.run(player.command, input=audio, capture_output=True)
        else:
            with tempfile.NamedTemporaryFile(suffix=".wav", prefix="melodia-") as temp:
                temp.write(audio)
                temp.flush()
                result = subprocess.run([*player.command, temp.name], capture_output=True)
    except OSError as error:
        return str(error.strerror or error)
    if result.returncode != 0:
        return f"exit {result.returncode}: {result.stderr.decode(errors='replace').strip()[:160]}"
    return ""


def play_outputs(paths: Sequence[Path], force: bool = False, say: Callable[[str], None] = print) -> None:
    """`melodia generate --play`: the first output, played or written as a WAV beside it."""
    if not paths:
        return
    try:
        play_file(paths[0], find_player(), paths[0].with_suffix(".wav"), force, say)
    except WriteError as error:  # the melodies are written; only the WAV is not
        say(f"not played: {error}")
