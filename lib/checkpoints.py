"""Per-epoch checkpoints of one training run (foundation layer; imports no lib module).

``Checkpoint`` writes a run's state after every epoch atomically and reads it back with
``torch.load(..., weights_only=True)``; ``rng_states`` / ``set_rng_states`` save and restore the
random generators a run draws from, so a resumed run continues exactly where the killed one
stopped. ``lib.training.fit_epochs`` (the one training loop) uses them; ``lib.experiments.sweep``
hands each run its ``Checkpoint``.
"""

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


class Checkpoint:
    """The per-epoch checkpoint file of one training run (resume inside a run).

    ``save(state)`` writes ``state`` (plain tensors, numbers, strings, lists and dicts of them;
    numpy arrays and scalars are converted) with ``torch.save`` to a temporary file in the same
    folder and renames it, so a kill never leaves a half-written checkpoint. ``load()`` reads it
    back with ``torch.load(..., weights_only=True)`` (numpy arrays come back as numpy) and returns
    None when there is no checkpoint or it belongs to another run: ``tag`` names the run (the
    sweep tags it with the run function's code fingerprint; the configuration's hash is in the
    file name), and a checkpoint with another tag or an unreadable one is ignored and later
    overwritten. ``remove()`` deletes it once the run is
    done. ``cpu_before`` is the CPU seconds the interrupted attempts had spent (0 for a fresh run),
    so that a resumed run can report its whole cost.
    """

    def __init__(self, path, tag=""):
        self.path, self.tag, self.cpu_before = Path(path), str(tag), 0.0
        self._cpu0 = None  # set by load(), in the process that trains (not where it was made)

    def __repr__(self):
        return f"Checkpoint({str(self.path)!r}, tag={self.tag!r})"

    def load(self):
        self._cpu0 = time.process_time()
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file: start the run afresh
            print(f"ignoring unreadable checkpoint {self.path} ({type(err).__name__}: {err})", flush=True)
            return None
        if not isinstance(state, dict) or state.get("tag") != self.tag:
            return None
        self.cpu_before = float(state.get("cpu_s", 0.0))
        return _from_saved(state["state"])

    def save(self, state):
        if self._cpu0 is None:
            self._cpu0 = time.process_time()
        doc = {
            "tag": self.tag,
            "state": _to_saveable(state),
            "cpu_s": self.cpu_before + time.process_time() - self._cpu0,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            torch.save(doc, tmp)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def remove(self):
        self.path.unlink(missing_ok=True)


def as_checkpoint(checkpoint):
    """None, a ``Checkpoint``, or a path (a checkpoint with an empty tag)."""
    if checkpoint is None or isinstance(checkpoint, Checkpoint):
        return checkpoint
    return Checkpoint(checkpoint)


_NUMPY = "__numpy__"  # marks a numpy array stored as a tensor


def _to_saveable(obj):
    """Plain types for ``torch.load(weights_only=True)``: numpy scalars to Python numbers, numpy
    arrays to tensors (marked, so that they come back as numpy)."""
    if isinstance(obj, dict):
        return {k: _to_saveable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_saveable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return {_NUMPY: torch.from_numpy(np.ascontiguousarray(obj))}
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _from_saved(obj):
    if isinstance(obj, dict):
        if set(obj) == {_NUMPY}:
            return obj[_NUMPY].numpy()
        return {k: _from_saved(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_saved(v) for v in obj]
    return obj


def rng_states(*generators):
    """The state of torch's global RNG (and CUDA's, when in use) and of ``generators``."""
    state = {"torch": torch.get_rng_state(), "gens": [g.get_state() for g in generators]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_states(state, *generators):
    """Restore what ``rng_states`` saved."""
    torch.set_rng_state(state["torch"])
    for gen, saved in zip(generators, state["gens"]):
        gen.set_state(saved)
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])
