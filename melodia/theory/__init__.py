"""Music theory at the bottom of melodia: keys and their estimation (`melodia.theory.key`), meters
(`melodia.theory.meter`). These modules import nothing else of melodia but its errors, so every
other module may ask them."""

from __future__ import annotations

from melodia.theory.key import KEY_POLICIES, Key, KeyPolicy, estimate_key

__all__ = ["KEY_POLICIES", "Key", "KeyPolicy", "estimate_key"]
