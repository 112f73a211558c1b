"""Request bodies of the API (OpenAI's embeddings request, similarity and search requests), validated with clear
messages that name the field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

TOKEN_IDS_REFUSED = ("token-id arrays are not accepted: send the text itself (a string or a list of strings); "
                     "ids depend on the tokenizer and cannot be checked against the served model")


def _check_text(value: Any, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"{where} is a number; {TOKEN_IDS_REFUSED}")
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{where} is empty; every input needs some text")
    return value


def _check_input(value: Any) -> list[str] | str:
    if isinstance(value, str):
        return _check_text(value, "the input")
    if not isinstance(value, list):
        raise ValueError(f"must be a string or a list of strings, got {type(value).__name__}")
    if not value:
        raise ValueError("the list is empty; send at least one text")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value) or any(isinstance(v, list) for v in value):
        raise ValueError(TOKEN_IDS_REFUSED)
    return [_check_text(v, f"item {i}") for i, v in enumerate(value)]


_INPUT_SCHEMA = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ],
    "description": "A text or a list of texts (token-id arrays are refused with 422).",
}

Input = Annotated[Any, BeforeValidator(_check_input), WithJsonSchema(_INPUT_SCHEMA)]


class ModelRequest(BaseModel):
    """What every request may carry: the served model's name (optional); unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, description="Name of the served model (optional).")


class EmbeddingRequest(ModelRequest):
    """``POST /v1/embeddings`` (OpenAI-compatible)."""

    input: Input
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="float: JSON numbers; base64: little-endian float32 bytes.")
    dimensions: int | None = Field(None, ge=1, description="Keep the first N dimensions and re-normalise.")
    user: str | None = Field(None, description="Accepted and ignored.")


def _check_pairs(value: Any) -> list[list[str]]:
    if not isinstance(value, list):
        raise ValueError(f"must be a list of [text_a, text_b] pairs, got {type(value).__name__}")
    if not value:
        raise ValueError("the list is empty; send at least one pair")
    out = []
    for i, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"item {i} must be a pair [text_a, text_b]")
        out.append([_check_text(t, f"item {i}[{j}]") for j, t in enumerate(pair)])
    return out


_PAIRS_SCHEMA = {
    "type": "array", "minItems": 1,
    "items": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 2, "maxItems": 2},
    "description": "Pairs of texts to compare.",
}

Pairs = Annotated[Any, BeforeValidator(_check_pairs), WithJsonSchema(_PAIRS_SCHEMA)]


class SimilarityRequest(ModelRequest):
    """``POST /v1/similarity``: cosine similarity of each pair."""

    pairs: Pairs


class SearchRequest(ModelRequest):
    """``POST /v1/search``: the top ``k`` rows of the server's index for each query."""

    query: Input
    k: int = Field(10, ge=1, le=1000, description="Hits per query (at most the number of rows).")
