"""Model YAML (workloads/models/*.yaml) -> ModelSpec, validated with file:line:key errors.

A model file lists a decoder-only transformer's shape, each value with its model-card or
config.json source in a comment. `extends: <model>` derives a variant (say a longer
context) from a shipped model and overrides only what differs.
"""

from __future__ import annotations

from pathlib import Path

from sim.config import yamlfile as y
from sim.config.yamlfile import Node
from workloads.llm.model_spec import ModelSpec

MODEL_DIR = Path(__file__).resolve().parents[1] / "models"

# keys whose value is a positive integer, in ModelSpec's order
SIZE_KEYS = ("layers", "hidden", "heads", "kv_heads", "head_dim", "ffn", "ffn_matrices",
             "experts", "top_k", "vocab", "max_context", "bytes_per_element")
KEYS = ("name", "source", "tied_embeddings", *SIZE_KEYS)
# a dense model may leave these out; head_dim then follows from hidden / heads
OPTIONAL_SIZES = {"experts": 1, "top_k": 1}
# 2: up and down projections (OPT's fc1/fc2); 3: gated, e.g. SwiGLU's gate, up and down
FFN_MATRICES = (2, 3)


def list_models() -> list[str]:
    """Names of the shipped models (workloads/models/<name>.yaml)."""
    return y.preset_names(MODEL_DIR)


def load_model(name_or_path: str) -> ModelSpec:
    """Load a model by name (workloads/models/<name>.yaml) or by file path."""
    path = y.resolve_preset(name_or_path, MODEL_DIR, list_models, "model")
    return model_from_node(y.load_yaml(path, preset_dir=MODEL_DIR))


def model_from_node(root: Node) -> ModelSpec:
    y.check_keys(root, KEYS)
    name = y.require(root, "name")
    if not y.as_str(name).strip():
        raise name.error("must not be empty")
    source = y.as_str(y.require(root, "source"))
    sizes: dict[str, int] = {}
    for key in SIZE_KEYS:
        node = root.get(key)
        if node is None and key in OPTIONAL_SIZES:
            sizes[key] = OPTIONAL_SIZES[key]
        elif node is None and key == "head_dim":
            continue  # derived below, once hidden and heads are known
        else:
            sizes[key] = y.as_int(y.require(root, key))
    _check_attention(root, sizes)
    _check_ffn(root, sizes)
    tied = root.get("tied_embeddings")
    return ModelSpec(name=name.value, **sizes, tied_embeddings=y.as_bool(tied) if tied else False,
                     source=source, path=root.path)


def _check_attention(root: Node, sizes: dict[str, int]) -> None:
    heads, kv_heads = sizes["heads"], sizes["kv_heads"]
    if heads % kv_heads:
        raise root.value["kv_heads"].error(
            f"heads ({heads}) must be a multiple of kv_heads ({kv_heads}): "
            f"each KV head serves a whole group of query heads")
    if "head_dim" not in sizes:
        # Without an explicit head_dim the model splits hidden evenly over the heads
        # (Llama, OPT, Mixtral); a model whose heads do not tile hidden (e.g. Gemma)
        # must say head_dim itself.
        hidden = sizes["hidden"]
        if hidden % heads:
            raise root.value["heads"].error(
                f"hidden ({hidden}) is not a multiple of heads ({heads}); "
                f"give head_dim explicitly if the model's heads do not tile hidden")
        sizes["head_dim"] = hidden // heads


def _check_ffn(root: Node, sizes: dict[str, int]) -> None:
    if sizes["ffn_matrices"] not in FFN_MATRICES:
        raise root.value["ffn_matrices"].error(
            f"expected 2 (up, down) or 3 (gate, up, down), got {sizes['ffn_matrices']}")
    if sizes["top_k"] > sizes["experts"]:
        bad = root.get("top_k") or root.get("experts") or root
        raise bad.error(f"top_k ({sizes['top_k']}) exceeds experts ({sizes['experts']}): "
                        f"a token cannot be routed to more experts than a layer has")
