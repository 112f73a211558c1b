"""ESimCSE loss (Wu et al. 2022, arXiv:2109.04380): SimCSE with repetition-augmented positives and a queue of
momentum-encoded negatives; see :class:`ESimCSELoss`."""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class ESimCSELoss(nn.Module):
    """ESimCSE: SimCSE with repetition-augmented positives and a queue of momentum-encoded negatives.

    Each anchor sentence must pick out its own positive (the same sentence with a few units repeated, encoded
    with dropout) among all positives of the batch and the sentences in a queue. The queue holds the last
    ``queue_size`` anchors of earlier batches, encoded by a momentum encoder: a copy of the model updated as
    ``m * momentum + (1 - m) * model`` before every step, dropout off, no gradients. The loss is the
    cross-entropy of ``cos(anchor_i, candidate_j) / temperature`` over candidates = batch positives + queue,
    the target being ``j = i``. Word repetition changes the positive's length without changing its meaning,
    so the model cannot tell positives by length, which plain SimCSE's dropout-only positives allow.

    The queue and the momentum encoder are buffers and sub-modules of the loss: a checkpoint that saves the
    loss's own state keeps them, and a resumed run continues with them.

    Args:
        model: SentenceTransformer model
        temperature: softmax temperature (the logits are cosine similarities divided by it)
        momentum: momentum of the momentum encoder, in [0, 1)
        queue_size: number of momentum-encoded sentences kept as extra negatives (0: no queue)

    References:
        * ESimCSE: Enhanced Sample Building Method for Contrastive Learning of Unsupervised Sentence
          Embedding: https://arxiv.org/abs/2109.04380 (COLING 2022)
        * SimCSE: Simple Contrastive Learning of Sentence Embeddings: https://arxiv.org/abs/2104.08821

    Requirements:
        1. Single sentences without labels, given as (anchor, positive) pairs where the positive is the anchor
           with a few units repeated (:func:`sentemb.training.noise.repeat_units`; in sentemb the ``esimcse``
           objective draws them).
        2. No duplicate sentences in a batch (a duplicate would be a false negative): use the
           ``no_duplicates`` batch sampler.

    Inputs:
        +------------------------------------------------+--------+
        | Texts                                          | Labels |
        +================================================+========+
        | (anchor, positive with repeated units) pairs   | none   |
        +------------------------------------------------+--------+

    Relations:
        * With ``queue_size=0`` and ``momentum`` unused, this is
          :class:`~sentence_transformers.sentence_transformer.losses.MultipleNegativesRankingLoss` with
          ``scale = 1 / temperature`` on repetition-augmented pairs.

    Example:
        ::

            from datasets import Dataset
            from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer

            from sentemb.training.esimcse import ESimCSELoss
            from sentemb.training.noise import repeat_units

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            sentences = ["It's nice weather outside today.", "He drove to work.", "She plays the piano."]
            train_dataset = Dataset.from_dict(
                {"anchor": sentences, "positive": [repeat_units(s, 0.32) for s in sentences]})
            loss = ESimCSELoss(model, temperature=0.05, momentum=0.995, queue_size=64)
            trainer = SentenceTransformerTrainer(model=model, train_dataset=train_dataset, loss=loss)
            trainer.train()
    """

    def __init__(self, model, temperature: float = 0.05, momentum: float = 0.995, queue_size: int = 64) -> None:
        super().__init__()
        if not 0 <= momentum < 1:
            raise ValueError("momentum must be in [0, 1)")
        self.model = model
        self.temperature = temperature
        self.momentum = momentum
        self.momentum_encoder = copy.deepcopy(model)
        self.momentum_encoder.requires_grad_(False)
        self.momentum_encoder.eval()
        dim = model.get_embedding_dimension()
        self.register_buffer("queue", torch.zeros(queue_size, dim))
        self.register_buffer("queue_filled", torch.zeros((), dtype=torch.long))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def momentum_update(self) -> None:
        """``theta_m <- m * theta_m + (1 - m) * theta`` for every parameter (buffers are copied)."""
        for p_m, p in zip(self.momentum_encoder.parameters(), self.model.parameters()):
            p_m.mul_(self.momentum).add_(p.detach(), alpha=1 - self.momentum)
        for b_m, b in zip(self.momentum_encoder.buffers(), self.model.buffers()):
            b_m.copy_(b)

    @torch.no_grad()
    def enqueue(self, vectors: Tensor) -> None:
        """Write ``vectors`` into the ring buffer, overwriting the oldest entries."""
        size = self.queue.shape[0]
        if size == 0:
            return
        vectors = vectors.detach()[-size:]
        idx = (self.queue_ptr + torch.arange(len(vectors), device=self.queue.device)) % size
        self.queue[idx] = vectors.to(self.queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + len(vectors)) % size)
        self.queue_filled.copy_(torch.clamp(self.queue_filled + len(vectors), max=size))

    def queued(self) -> Tensor:
        """The negatives currently in the queue (oldest first is not guaranteed; order does not matter)."""
        return self.queue[: int(self.queue_filled)]

    def logits(self, anchors: Tensor, positives: Tensor) -> Tensor:
        """``(batch, batch + queued)``: cosine of each anchor to every positive, then to every queued vector,
        divided by the temperature; anchor ``i``'s target is column ``i``."""
        candidates = torch.cat([positives, self.queued().to(positives.dtype)], dim=0)
        return F.normalize(anchors, dim=-1) @ F.normalize(candidates, dim=-1).T / self.temperature

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        anchor_features, positive_features = list(sentence_features)[:2]
        anchors = self.model(anchor_features)["sentence_embedding"]
        positives = self.model(positive_features)["sentence_embedding"]
        self.momentum_update()
        self.momentum_encoder.eval()
        with torch.no_grad():
            new_negatives = self.momentum_encoder(anchor_features)["sentence_embedding"]
        scores = self.logits(anchors, positives)
        loss = F.cross_entropy(scores, torch.arange(len(anchors), device=scores.device))
        self.enqueue(new_negatives)  # after the loss: this batch's anchors are negatives from the next step on
        return loss

    def get_config_dict(self) -> dict:
        return {"temperature": self.temperature, "momentum": self.momentum, "queue_size": int(self.queue.shape[0])}

    @property
    def citation(self) -> str:
        return """
@inproceedings{wu-etal-2022-esimcse,
    title = "{ESimCSE}: Enhanced Sample Building Method for Contrastive Learning of Unsupervised Sentence Embedding",
    author = "Wu, Xing and Gao, Chaochen and Zang, Liangjun and Han, Jizhong and Wang, Zhongyuan and Hu, Songlin",
    booktitle = "Proceedings of the 29th International Conference on Computational Linguistics",
    year = "2022",
    publisher = "International Committee on Computational Linguistics",
    url = "https://aclanthology.org/2022.coling-1.342",
    pages = "3898--3907",
}
"""
