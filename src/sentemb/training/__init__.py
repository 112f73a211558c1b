"""Supervised training from a config: objectives by name, data assembly, the trainer, the model card."""

from sentemb.training.config import TrainConfig, TrainFile, read_config
from sentemb.training.objectives import OBJECTIVES, get_objective
from sentemb.training.trainer import run_training, train_from_file

__all__ = ["OBJECTIVES", "TrainConfig", "TrainFile", "get_objective", "read_config", "run_training",
           "train_from_file"]
