"""Pooling strategies by name.

Stock sentence-transformers ``Pooling`` covers cls / mean / max / weighted-mean / last-token.
Two are ours:

* ``first-last-avg``: mean over tokens of (hidden state of transformer layer 1 + last layer) / 2
  (the "first-last-avg" of BERT-flow / BERT-whitening), a :class:`FirstLastAvgPooling` module;
* ``pooler``: BERT's pooler output (CLS through dense + tanh), expressed with stock modules:
  ``Pooling("cls")`` followed by a ``Dense`` with tanh initialised from the model's pooler weights,
  so it loads in any sentence-transformers install.
"""

from __future__ import annotations

from typing import Any

import torch
from sentence_transformers.sentence_transformer.modules import Dense, Module, Pooling, Transformer

from sentemb.errors import SentembError, unknown_name

#: name -> sentence-transformers ``pooling_mode`` for the stock strategies
STOCK_POOLINGS = {
    "cls": "cls",
    "mean": "mean",
    "max": "max",
    "weighted-mean": "weightedmean",
    "last-token": "lasttoken",
}
#: every pooling strategy, by name
POOLINGS = (*STOCK_POOLINGS, "first-last-avg", "pooler")


class FirstLastAvgPooling(Module):
    """Mean over non-padding tokens of the average of two layers' hidden states.

    ``first_layer=1`` is the output of the first transformer layer (``hidden_states[0]`` is the
    embedding layer); ``last_layer=-1`` the last. Needs the transformer to return all hidden
    states; the module switches that on when the model is assembled.
    """

    config_keys = ["embedding_dimension", "first_layer", "last_layer"]

    def __init__(self, embedding_dimension: int, first_layer: int = 1, last_layer: int = -1):
        super().__init__()
        self.embedding_dimension = embedding_dimension
        self.first_layer = first_layer
        self.last_layer = last_layer

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        layers = features.get("all_layer_embeddings")
        if layers is None:
            raise SentembError(
                "first-last-avg pooling needs all hidden states; set output_hidden_states=True "
                "on the transformer (sentemb.load does this)"
            )
        states = (layers[self.first_layer] + layers[self.last_layer]) / 2
        mask = features["attention_mask"].unsqueeze(-1).to(states.dtype)
        summed = (states * mask).sum(dim=1)
        features["sentence_embedding"] = summed / mask.sum(dim=1).clamp(min=1e-9)
        return features

    def on_model_ready(self, model) -> None:
        for module in model:
            if isinstance(module, Transformer):
                enable_hidden_states(module)

    def get_embedding_dimension(self) -> int:
        return self.embedding_dimension

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)


def enable_hidden_states(transformer: Transformer) -> None:
    """Make the transformer return every layer's hidden states (saved with its config)."""
    transformer.auto_model.config.output_hidden_states = True
    if getattr(transformer, "unpad_inputs", None):
        transformer.unpad_inputs = False


def pooler_dense(transformer: Transformer) -> Dense:
    """A stock ``Dense`` (tanh) holding a copy of the model's pooler weights."""
    pooler = getattr(transformer.auto_model, "pooler", None)
    dense = getattr(pooler, "dense", None)
    if not isinstance(dense, torch.nn.Linear):
        raise SentembError(
            f"{type(transformer.auto_model).__name__} has no pooler layer; 'pooler' pooling exists only "
            "for BERT-style models with a trained pooler. Choose 'cls' or 'mean' instead."
        )
    return Dense(
        dense.in_features,
        dense.out_features,
        activation_function=torch.nn.Tanh(),
        init_weight=dense.weight.detach().clone(),
        init_bias=dense.bias.detach().clone(),
    )


def pooling_modules(name: str, transformer: Transformer) -> list[torch.nn.Module]:
    """The modules that turn the transformer's token states into a sentence vector."""
    dim = transformer.get_embedding_dimension()
    if name in STOCK_POOLINGS:
        return [Pooling(dim, pooling_mode=STOCK_POOLINGS[name])]
    if name == "first-last-avg":
        enable_hidden_states(transformer)
        return [FirstLastAvgPooling(dim)]
    if name == "pooler":
        return [Pooling(dim, pooling_mode="cls"), pooler_dense(transformer)]
    raise unknown_name("pooling", name, POOLINGS)


def is_pooling_module(module: torch.nn.Module) -> bool:
    return isinstance(module, (Pooling, FirstLastAvgPooling))
