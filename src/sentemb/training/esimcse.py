"""ESimCSE loss: SimCSE with repetition-augmented positives and a momentum-encoder negative queue.

Wu et al. 2022, "ESimCSE: Enhanced Sample Building Method for Contrastive Learning of Unsupervised
Sentence Embedding" (arXiv:2109.04380). Each training row is (sentence, sentence with a few units
repeated, see :func:`sentemb.training.noise.repeat_units`). The loss is InfoNCE of each sentence
against its own positive, the other positives of the batch, and a queue of earlier batches' sentences
encoded by a momentum encoder (a copy of the model, updated as ``m * momentum + (1 - m) * model`` before
every step, dropout off, no gradients). The queue and the momentum encoder are buffers/sub-modules of
the loss, so checkpoints keep them and a resumed run continues with them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class ESimCSELoss(nn.Module):
    """InfoNCE over in-batch positives plus a FIFO queue of momentum-encoded sentences."""

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

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        anchor_features, positive_features = list(sentence_features)[:2]
        anchors = self.model(anchor_features)["sentence_embedding"]
        positives = self.model(positive_features)["sentence_embedding"]
        self.momentum_update()
        self.momentum_encoder.eval()
        with torch.no_grad():
            new_negatives = self.momentum_encoder(anchor_features)["sentence_embedding"]
        candidates = torch.cat([positives, self.queued().to(positives.dtype)], dim=0)
        scores = F.normalize(anchors, dim=-1) @ F.normalize(candidates, dim=-1).T / self.temperature
        target = torch.arange(len(anchors), device=scores.device)
        loss = F.cross_entropy(scores, target)
        self.enqueue(new_negatives)
        return loss

    def get_config_dict(self) -> dict:
        return {"temperature": self.temperature, "momentum": self.momentum, "queue_size": int(self.queue.shape[0])}

    @property
    def citation(self) -> str:
        return "Wu et al. 2022, ESimCSE, arXiv:2109.04380"
