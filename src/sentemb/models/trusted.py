"""sentemb's own module classes, which ``sentemb.load`` resolves without ``trust_remote_code``.

sentence-transformers 6 refuses to import any class outside its package named by a model folder unless
``trust_remote_code=True``, and that flag would also let the folder run code it ships. ``sentemb.load``
instead maps the ``modules.json`` types below to classes of the installed sentemb package; every
other type keeps the usual gate.
"""

from __future__ import annotations


def trusted_module_classes() -> dict[str, type]:
    """``modules.json`` type -> the installed class that loads it."""
    from sentemb.models.wordvec import WORD_EMBEDDINGS_REF, WordEmbeddingsLoader

    # a stock WordEmbeddings whose tokenizer is sentemb's (jieba) loads through our loader
    return {WORD_EMBEDDINGS_REF: WordEmbeddingsLoader}
