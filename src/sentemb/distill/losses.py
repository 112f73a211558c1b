"""Distillation losses: MSE to the teacher's vectors, plus an optional similarity-structure term.

``SimilarityMatrixLoss`` is the mean squared difference between the in-batch cosine-similarity
matrices of student and teacher, ``mean((cos(S, S) - cos(T, T))^2)`` over all B x B entries: it asks
the student to rank the batch's sentences the way the teacher does, which is what STS and retrieval
measure, without asking it to place each vector exactly (relation-based distillation, as in
Park et al., 2019, "Relational Knowledge Distillation"; Tung & Mori, 2019, "Similarity-Preserving
Knowledge Distillation").

Input: one text column; labels are the teacher's vectors, shape (batch, teacher_dim), as for
sentence-transformers' ``MSELoss`` (Reimers & Gurevych, 2020, "Making Monolingual Sentence Embeddings
Multilingual using Knowledge Distillation").

``DistillLoss`` = ``MSELoss`` + ``sim_weight`` x ``SimilarityMatrixLoss``, the student encoded once.
"""

from __future__ import annotations

import torch.nn.functional as F
from sentence_transformers.base.losses.merged_forward import embed_columns
from sentence_transformers.sentence_transformer.losses import MSELoss
from torch import Tensor, nn


def cosine_matrix(x: Tensor) -> Tensor:
    x = F.normalize(x, p=2, dim=-1)
    return x @ x.T


def similarity_matrix_mse(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean squared difference of the two (B x B) cosine-similarity matrices."""
    return F.mse_loss(cosine_matrix(student), cosine_matrix(teacher.to(student.dtype)))


class SimilarityMatrixLoss(nn.Module):
    """Match the teacher's in-batch cosine similarities (labels: the teacher's vectors)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, sentence_features, labels: Tensor) -> Tensor:
        (embeddings,) = embed_columns(self.model, sentence_features)
        return similarity_matrix_mse(embeddings, labels.detach())


class DistillLoss(MSELoss):
    """``MSELoss`` to the teacher's vectors plus ``sim_weight`` x the similarity-matrix term."""

    def __init__(self, model, sim_weight: float = 0.0) -> None:
        super().__init__(model)
        self.sim_weight = float(sim_weight)

    def forward(self, sentence_features, labels: Tensor) -> Tensor:
        (embeddings,) = embed_columns(self.model, sentence_features)
        teacher = labels.detach().to(device=embeddings.device, dtype=embeddings.dtype)
        loss = self.compute_loss_from_embeddings([embeddings], [teacher])
        if self.sim_weight:
            loss = loss + self.sim_weight * similarity_matrix_mse(embeddings, teacher)
        return loss

    def get_config_dict(self):
        return {"sim_weight": self.sim_weight}


def build_loss(model, sim_weight: float = 0.0) -> nn.Module:
    """Plain ``MSELoss`` without the similarity term; ``DistillLoss`` with it."""
    if sim_weight < 0:
        raise ValueError("sim_weight must be >= 0")
    return DistillLoss(model, sim_weight) if sim_weight else MSELoss(model)


__all__ = ["DistillLoss", "SimilarityMatrixLoss", "build_loss", "cosine_matrix", "similarity_matrix_mse"]
