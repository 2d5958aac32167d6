"""The training clock: :func:`training_clock` is the Lightning callback ``train`` uses for ``fit_seconds``: the training loop
without the validation passes anomalib runs each epoch (on the test set, ``val_split_mode: same_as_test``)
and without checkpoint writing, while a memory bank built when validation starts counts as training.
"""

from __future__ import annotations

import time

NAN = float("nan")


def training_clock():
    """A Lightning callback whose ``seconds`` is the time spent training (see the module docstring);
    NaN when no training loop ran (zero-/few-shot models only validate)."""
    from lightning.pytorch.callbacks import Callback

    class TrainingClock(Callback):
        def __init__(self) -> None:
            self.seconds = NAN
            self._started = self._validation_started = None
            self._excluded = self._bank_in_validation = 0.0

        def _now(self, pl_module) -> float:
            if pl_module.device.type == "cuda":  # time work done, not work queued
                import torch

                torch.cuda.synchronize(pl_module.device)
            return time.perf_counter()

        def _timed(self, pl_module, function, excluded: bool):
            def timed(*args, **kwargs):
                begin = self._now(pl_module)
                try:
                    return function(*args, **kwargs)
                finally:
                    spent = self._now(pl_module) - begin
                    if excluded:
                        self._excluded += spent
                    elif self._validation_started is not None:
                        self._bank_in_validation += spent
            return timed

        def on_train_start(self, trainer, pl_module) -> None:
            # Memory banks (PaDiM, PatchCore, DFM, ...) are built in `fit`, called when validation first
            # starts: training work, though it runs inside the validation window.
            if callable(getattr(pl_module, "fit", None)):
                pl_module.__dict__["fit"] = self._timed(pl_module, pl_module.fit, excluded=False)
            # Checkpoints written each epoch (anomalib's ModelCheckpoint) are I/O, not training.
            trainer.__dict__["save_checkpoint"] = self._timed(pl_module, trainer.save_checkpoint, excluded=True)
            self._started = self._now(pl_module)

        def on_validation_start(self, trainer, pl_module) -> None:  # before the module's hook
            if self._started is not None:
                self._validation_started = self._now(pl_module)
                self._bank_in_validation = 0.0

        def on_validation_end(self, trainer, pl_module) -> None:
            if self._validation_started is not None:
                spent = self._now(pl_module) - self._validation_started
                self._excluded += spent - self._bank_in_validation
                self._validation_started = None

        def on_train_end(self, trainer, pl_module) -> None:
            if self._started is not None:
                self.seconds = self._now(pl_module) - self._started - self._excluded
            pl_module.__dict__.pop("fit", None)
            trainer.__dict__.pop("save_checkpoint", None)

    return TrainingClock()
