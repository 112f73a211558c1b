"""Publishing a model folder to the Hugging Face Hub with a model card that carries its measured results.

``stage_upload`` writes the exact folder that would be uploaded (``sentemb push --dry-run``);
``push_model`` stages it and uploads it through sentence-transformers' ``push_to_hub``.
"""

from sentemb.publish.card import render_publish_card
from sentemb.publish.push import push_model, stage_upload

__all__ = ["push_model", "render_publish_card", "stage_upload"]
