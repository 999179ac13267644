"""Model quality beside footprint: phase tables and the generalization gap, as plain records."""

from __future__ import annotations

from typing import Any

from .phases import within

TRAIN_PREFIXES = ("train_", "train/")
HELD_OUT_PREFIXES = ("test_", "val_", "eval_", "valid_")


def generalization_gaps(metrics: dict[str, float]) -> dict[str, float]:
    """train_X minus the held-out X (X, test_X, val_X or eval_X), for each X logged both ways."""
    gaps: dict[str, float] = {}
    for name, train_value in metrics.items():
        prefix = next((p for p in TRAIN_PREFIXES if name.startswith(p)), None)
        if prefix is None:
            continue
        base = name[len(prefix):]
        for candidate in (base, *(p + base for p in HELD_OUT_PREFIXES)):
            if candidate in metrics:
                gaps[base] = train_value - metrics[candidate]
                break
    return gaps


def phase_records(rows: list[dict[str, Any]], run_energy_j: float) -> list[dict[str, Any]]:
    """Stored exclusive phase rows → inclusive records with share, per-kind energy and J per item."""
    if not rows or all(r["path"] == "" for r in rows):
        return []
    base = [{"path": r["path"], "duration_s": r["duration_s"], "energy_j": r["energy_j"],
             "by_kind": {k: r[f"{k}_energy_j"] for k in ("gpu", "cpu", "ram")},
             "entries": r["entries"], "items": r["items"]} for r in rows]
    records = []
    for r in base:
        # inclusive figures: a path plus everything nested in it (`train` includes `train/forward`)
        family = [b for b in base if within(b["path"], r["path"])]
        energy_j = sum(b["energy_j"] for b in family)
        records.append({
            "phase": r["path"] or "(outside phases)",
            "duration_s": sum(b["duration_s"] for b in family),
            "energy_j": energy_j,
            "share": energy_j / run_energy_j if run_energy_j > 0 else None,
            "exclusive_energy_j": r["energy_j"],
            "by_kind": {k: sum(b["by_kind"][k] for b in family) for k in ("gpu", "cpu", "ram")},
            "entries": r["entries"],
            "items": r["items"] or None,
            "energy_per_item_j": energy_j / r["items"] if r["items"] else None,
        })
    return sorted(records, key=lambda p: (p["phase"] == "(outside phases)", p["phase"]))
