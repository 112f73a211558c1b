"""Training progress in sentemb's style: one rich bar over the steps, one line per evaluation.

Replaces the Hugging Face Trainer's tqdm bar and its raw log dicts (``{'loss': 0.41, 'grad_norm': ...}``).
The bar shows the latest loss; each evaluation prints its scores on one line. Silent under ``--quiet``.
"""

from __future__ import annotations

from transformers import TrainerCallback

from sentemb.progress import make_progress


class TrainerProgress(TrainerCallback):
    """A rich progress bar for a Trainer run (main process only)."""

    def __init__(self, console=None, description: str = "training"):
        self.console, self.description = console, description
        self.progress = self.task = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.progress is None:
            self.progress = make_progress(self.console)
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=state.max_steps or None,
                                               completed=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is None or not logs:
            return
        if "loss" in logs:
            self.progress.update(self.task, description=f"{self.description}  loss {logs['loss']:.4f}")
        scores = {k.removeprefix("eval_"): v for k, v in logs.items()
                  if k.startswith("eval_") and isinstance(v, float) and not k.endswith(("_runtime", "per_second"))}
        if scores:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
            self.progress.console.print(f"step {state.global_step}: {shown}", highlight=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)
            self.progress.stop()
            self.progress = None


def use_rich_progress(trainer, console=None, description: str = "training") -> None:
    """Swap ``trainer``'s tqdm bar / printed log dicts for :class:`TrainerProgress`."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(TrainerProgress(console, description))
