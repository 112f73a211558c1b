"""Pooling strategies by name.

Stock sentence-transformers ``Pooling`` covers cls / mean / max / weighted-mean / last-token.
Two more are built here from stock modules, so a saved model loads in any sentence-transformers
install without ``trust_remote_code`` (which sentence-transformers 6 demands for non-stock classes):

* ``first-last-avg``: mean over tokens of (hidden state of transformer layer 1 + last layer) / 2
  (the "first-last-avg" of BERT-flow / BERT-whitening), expressed as a stock ``WeightedLayerPooling``
  whose layer weights are 1 for the first and last transformer layers and 0 elsewhere, then mean pooling;
  the weights are frozen (``requires_grad=False``), so training never turns them into a learned mix;
* ``pooler``: BERT's pooler output (CLS through dense + tanh), expressed with stock modules:
  ``Pooling("cls")`` followed by a ``Dense`` with tanh initialised from the model's pooler weights,
  so it loads in any sentence-transformers install.
"""

from __future__ import annotations

import torch
from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer, WeightedLayerPooling

from sentemb.errors import SentembError, unknown_name
from sentemb.models.assembly import tag

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


def enable_hidden_states(transformer: Transformer) -> None:
    """Make the transformer return every layer's hidden states (saved with its config)."""
    transformer.auto_model.config.output_hidden_states = True
    if getattr(transformer, "unpad_inputs", None):
        transformer.unpad_inputs = False


def first_last_layers(transformer: Transformer) -> WeightedLayerPooling:
    """Token states = (transformer layer 1 + last layer) / 2, from every layer's hidden states."""
    enable_hidden_states(transformer)
    n_layers = transformer.auto_model.config.num_hidden_layers
    weights = torch.zeros(n_layers, dtype=torch.float)
    weights[0] = weights[-1] = 1.0  # hidden_states[1] is layer 1; hidden_states[0] the embeddings
    # a fixed choice of layers, not a learned mix: no gradient, so training and weight decay leave it alone
    return tag(WeightedLayerPooling(transformer.get_embedding_dimension(), num_hidden_layers=n_layers, layer_start=1,
                                    layer_weights=torch.nn.Parameter(weights, requires_grad=False)), "pooling")


def pooler_dense(transformer: Transformer) -> Dense:
    """A stock ``Dense`` (tanh) holding a copy of the model's pooler weights."""
    pooler = getattr(transformer.auto_model, "pooler", None)
    dense = getattr(pooler, "dense", None)
    if not isinstance(dense, torch.nn.Linear):
        raise SentembError(
            f"{type(transformer.auto_model).__name__} has no pooler layer; 'pooler' pooling exists only "
            "for BERT-style models with a trained pooler. Choose 'cls' or 'mean' instead."
        )
    return tag(Dense(
        dense.in_features,
        dense.out_features,
        activation_function=torch.nn.Tanh(),
        init_weight=dense.weight.detach().clone(),
        init_bias=dense.bias.detach().clone(),
    ), "pooling")


def pooling_modules(name: str, transformer: Transformer) -> list[torch.nn.Module]:
    """The modules that turn the transformer's token states into a sentence vector."""
    dim = transformer.get_embedding_dimension()
    if name in STOCK_POOLINGS:
        return [tag(Pooling(dim, pooling_mode=STOCK_POOLINGS[name]), "pooling")]
    if name == "first-last-avg":
        return [first_last_layers(transformer), tag(Pooling(dim, pooling_mode="mean"), "pooling")]
    if name == "pooler":
        return [tag(Pooling(dim, pooling_mode="cls"), "pooling"), pooler_dense(transformer)]
    raise unknown_name("pooling", name, POOLINGS)


def is_pooling_module(module: torch.nn.Module) -> bool:
    """Modules that ``load(..., pooling=...)`` replaces in an existing model."""
    return isinstance(module, (Pooling, WeightedLayerPooling))
