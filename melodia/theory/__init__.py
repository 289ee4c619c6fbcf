"""Music theory at the bottom of melodia: pitch names spelled in a key (`melodia.theory.pitch`), keys and
their estimation (`melodia.theory.key`), meters and their beats (`melodia.theory.meter`), chords and chord
symbols (`melodia.theory.chord`). These modules import nothing else of melodia but its errors, so every
other module may ask them."""

from __future__ import annotations

from melodia.theory.chord import Chord, parse_progression, parse_symbol
from melodia.theory.key import KEY_POLICIES, Key, KeyPolicy, estimate_key
from melodia.theory.meter import Meter
from melodia.theory.pitch import note_name, pitch_class_name

__all__ = ["KEY_POLICIES", "Chord", "Key", "KeyPolicy", "Meter", "estimate_key", "note_name", "parse_progression",
           "parse_symbol", "pitch_class_name"]
