"""The student: a layer-reduced copy of the teacher, or another model fitted to the teacher's output.

Layer reduction keeps the teacher's embeddings, N of its transformer layers and every module after the
transformer (pooling, Dense, Normalize), so the student starts close to the teacher (Sanh et al., 2019,
DistilBERT; Reimers & Gurevych, 2020, the sentence-transformers distillation recipe). By default the
kept layers are evenly spaced: the middle layer of each of N equal blocks, ``floor((2i + 1) L / 2N)``
for i = 0..N-1 of an L-layer teacher (12 -> 4 keeps 1, 4, 7, 10; 6 -> 3 keeps 1, 3, 5).

Any other model can be the student instead; when its vectors have another dimension than the
teacher's, a trainable linear ``Dense`` maps them to the teacher's size (saved with the model), and
the student ends with ``Normalize`` exactly when the teacher does.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Transformer

from sentemb.errors import SentembError
from sentemb.models.assembly import tag


def even_layers(total: int, n: int) -> list[int]:
    """The middle layer (0-based) of each of ``n`` equal blocks of ``total`` layers."""
    check_layer_count(total, n)
    return [(2 * i + 1) * total // (2 * n) for i in range(n)]


def check_layer_count(total: int, n: int) -> None:
    if n < 1:
        raise SentembError(f"--layers must be at least 1, got {n}")
    if n >= total:
        raise SentembError(f"--layers {n}: the teacher has {total} transformer layers, so a smaller student keeps "
                           f"1 to {total - 1} of them; choose --layers below {total}")


def parse_keep(value: str | list[int] | None) -> list[int] | None:
    """``"0,2,4"`` or ``[0, 2, 4]`` -> a list of ints (order kept); None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return [int(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise SentembError(f"--keep takes comma-separated 0-based layer indices, e.g. 0,2,4; got {value!r}") \
                from None
    return [int(v) for v in value]


def choose_layers(total: int, layers: int | None, keep: list[int] | None) -> list[int]:
    """The 0-based teacher layers the student keeps, in increasing order; errors say what to change."""
    if keep is None:
        if layers is None:
            raise SentembError("say how many layers the student keeps (--layers N), which ones (--keep 0,2,4), "
                               "or give another model as the student (--student MODEL)")
        return even_layers(total, layers)
    if not keep:
        raise SentembError("--keep is empty; give 0-based layer indices, e.g. --keep 0,2,4")
    bad = [i for i in keep if not 0 <= i < total]
    if bad:
        raise SentembError(f"--keep {','.join(map(str, keep))}: layer(s) {', '.join(map(str, bad))} out of range; "
                           f"the teacher has {total} layers, numbered 0 to {total - 1}")
    dups = sorted({i for i in keep if keep.count(i) > 1})
    if dups:
        raise SentembError(f"--keep {','.join(map(str, keep))}: layer(s) {', '.join(map(str, dups))} given twice; "
                           "name each kept layer once")
    if layers is not None and layers != len(keep):
        raise SentembError(f"--layers {layers} but --keep names {len(keep)} layers; give one of them, or make them "
                           "agree")
    check_layer_count(total, len(keep))
    return sorted(keep)


def check_transformer(model: SentenceTransformer, name: str, role: str) -> Transformer:
    """The model's first module as a trainable transformer, or a clear error."""
    first = model[0] if len(model) else None
    if not isinstance(first, Transformer):
        kind = type(first).__name__ if first is not None else "nothing"
        raise SentembError(f"{role} {name!r} is not a transformer model (its first module is {kind}); "
                           f"distillation needs a transformer {role}, e.g. a sentence-transformers or Hugging Face "
                           "BERT-style model folder")
    return first


def refuse_exported(name: str, role: str) -> None:
    """An exported ONNX folder runs on onnxruntime only: it cannot be trained or cut down."""
    from sentemb.export.manifest import is_onnx_folder
    from sentemb.models.loading import resolve_model_path

    path = resolve_model_path(name)
    if Path(path).is_dir() and is_onnx_folder(path):
        raise SentembError(f"{role} {name!r} is an exported ONNX folder (not a transformer with trainable weights); "
                           f"give the sentence-transformers model it was exported from as the {role}")


def layer_list(transformer: Transformer) -> torch.nn.ModuleList:
    """The transformer's stack of layers: the one ModuleList as long as the config's layer count."""
    model = transformer.auto_model
    total = getattr(model.config, "num_hidden_layers", None)
    found = [(n, m) for n, m in model.named_modules()
             if isinstance(m, torch.nn.ModuleList) and total is not None and len(m) == total]
    if len(found) != 1:
        raise SentembError(f"cannot find the layer stack of {type(model).__name__} (expected one list of "
                           f"{total} layers); distil into another model with --student MODEL instead")
    return found[0][1]


def teacher_layer_count(teacher: SentenceTransformer, name: str) -> int:
    return len(layer_list(check_transformer(teacher, name, "teacher")))


def reduce_layers(teacher: SentenceTransformer, keep: list[int]) -> SentenceTransformer:
    """A copy of ``teacher`` with only the layers ``keep`` (0-based, increasing); the teacher is not changed."""
    student = copy.deepcopy(teacher)
    transformer = student[0]
    stack = layer_list(transformer)
    kept = [stack[i] for i in keep]
    for new_index, layer in enumerate(kept):  # attention modules know their position (used with KV caches)
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = new_index
    parent_name = next(n for n, m in transformer.auto_model.named_modules() if m is stack)
    parent, _, attr = parent_name.rpartition(".")
    owner = transformer.auto_model.get_submodule(parent) if parent else transformer.auto_model
    setattr(owner, attr, torch.nn.ModuleList(kept))
    transformer.auto_model.config.num_hidden_layers = len(kept)
    return _refit_layer_pooling(student)


def _refit_layer_pooling(student: SentenceTransformer) -> SentenceTransformer:
    """A first-last-avg pooling is built again for the student's own layer count (its first and last layer)."""
    from sentence_transformers.sentence_transformer.modules import WeightedLayerPooling

    from sentemb.models.pooling import first_last_layers

    modules = list(student)
    found = [i for i, m in enumerate(modules) if isinstance(m, WeightedLayerPooling)]
    if not found:
        return student
    for i in found:
        old = modules[i]
        total = student[0].auto_model.config.num_hidden_layers
        weights = old.layer_weights.detach()
        fixed = old.layer_start == 1 and len(weights) > 0 and float(weights[0]) == 1.0 and float(weights[-1]) == 1.0 \
            and float(weights.sum()) == (1.0 if len(weights) == 1 else 2.0)
        if not fixed:
            raise SentembError("the teacher's pooling mixes layers with learned weights (a WeightedLayerPooling that "
                               "is not first-last-avg); a layer-reduced student cannot keep it. Distil into another "
                               f"model with --student MODEL instead (the student has {total} layers)")
        student[i] = first_last_layers(student[0]).to(student.device)
    return student


def fit_student(student: SentenceTransformer, teacher: SentenceTransformer) -> tuple[SentenceTransformer, bool]:
    """Make another model's output comparable with the teacher's: a linear Dense when the dimensions
    differ, and Normalize at the end exactly when the teacher has it. Returns (model, projection added)."""
    modules = [m for m in student if not isinstance(m, Normalize)]
    s_dim, t_dim = student.get_embedding_dimension(), teacher.get_embedding_dimension()
    added = False
    if s_dim is None or t_dim is None:
        raise SentembError("cannot tell the vector size of the student or the teacher")
    if s_dim != t_dim:
        modules.append(tag(Dense(s_dim, t_dim, bias=True, activation_function=torch.nn.Identity()), "projection"))
        added = True
    if any(isinstance(m, Normalize) for m in teacher):
        modules.append(Normalize())
    return SentenceTransformer(modules=modules, device=str(student.device)), added


def count_parameters(model: SentenceTransformer) -> int:
    return sum(p.numel() for p in model.parameters())
