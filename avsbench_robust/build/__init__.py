"""Build AVSBench-Robust: the negative-audio conditions (SPEC §2) with VGGish features, a manifest and a leak audit.

Data flow: clip table -> pairing plan (`plan`, pure) -> per-clip conditions + features (`run`) ->
files laid out as AVSBench (`layout`) -> `manifest.json` (`manifest`) -> `audit`.
"""
