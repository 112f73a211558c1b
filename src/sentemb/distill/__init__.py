"""Layer-reduction distillation: a student keeps N of the teacher's layers and learns its sentence vectors."""

from sentemb.distill.config import DistillConfig
from sentemb.distill.run import run_distill
from sentemb.distill.student import choose_layers, even_layers, reduce_layers

__all__ = ["DistillConfig", "choose_layers", "even_layers", "reduce_layers", "run_distill"]
