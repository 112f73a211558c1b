"""Supervised training from a config: objectives by name, data assembly, the trainer, the model card."""

from typing import TYPE_CHECKING

from sentemb.lazy import lazy_exports

__all__ = ["OBJECTIVES", "TrainConfig", "TrainFile", "get_objective", "read_config", "run_training",
           "train_from_file"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "TrainConfig": "sentemb.training.config",
    "TrainFile": "sentemb.training.config",
    "read_config": "sentemb.training.config",
    "OBJECTIVES": "sentemb.training.objectives",
    "get_objective": "sentemb.training.objectives",
    "run_training": "sentemb.training.trainer",
    "train_from_file": "sentemb.training.trainer",
})

if TYPE_CHECKING:
    from sentemb.training.config import TrainConfig, TrainFile, read_config
    from sentemb.training.objectives import OBJECTIVES, get_objective
    from sentemb.training.trainer import run_training, train_from_file
