"""Layer-reduction distillation: a student keeps N of the teacher's layers and learns its sentence vectors."""

from typing import TYPE_CHECKING

from sentemb.lazy import lazy_exports

__all__ = ["DistillConfig", "choose_layers", "even_layers", "reduce_layers", "run_distill"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "DistillConfig": "sentemb.distill.config",
    "run_distill": "sentemb.distill.run",
    "choose_layers": "sentemb.distill.student",
    "even_layers": "sentemb.distill.student",
    "reduce_layers": "sentemb.distill.student",
})

if TYPE_CHECKING:
    from sentemb.distill.config import DistillConfig
    from sentemb.distill.run import run_distill
    from sentemb.distill.student import choose_layers, even_layers, reduce_layers
