"""LLM model presets (workloads/models): shapes against published sizes, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import UserError
from tests.config_helpers import line_of, one_line_error, write_variant
from workloads.llm.models import MODEL_DIR, list_models, load_model

SHIPPED = ("llama-2-7b", "llama-3-8b", "opt-13b", "mixtral-8x7b", "llama-3-70b")

# Published parameter counts (total, all experts for MoE):
#   llama-2-7b   6.74e9  Hugging Face meta-llama/Llama-2-7b-hf, safetensors "6.74B params"
#   llama-3-8b   8.03e9  Hugging Face meta-llama/Meta-Llama-3-8B, "8.03B params"
#   opt-13b     12.85e9  facebook/opt-13b checkpoint: 12,853,473,280 tensors' elements
#                        (40 x (4 x 5120^2 + 2 x 5120 x 20480 + biases + 2 layer norms)
#                        + 50272 x 5120 tied embedding + 2050 x 5120 positions + final norm)
#   mixtral-8x7b 46.7e9  Mistral AI, "Mixtral of experts" (2023): "46.7B total parameters"
#   llama-3-70b 70.6e9   Hugging Face meta-llama/Meta-Llama-3-70B, "70.6B params"
# ModelSpec.parameters() leaves out norms, biases and OPT's learned positions, and counts
# OPT's tied LM head once; every model lands well within 1% (OPT: positions and biases).
PUBLISHED_PARAMETERS = {
    "llama-2-7b": 6.74e9,
    "llama-3-8b": 8.03e9,
    "opt-13b": 12.85e9,
    "mixtral-8x7b": 46.7e9,
    "llama-3-70b": 70.6e9,
}

BASE = """\
# a test model
name: test-model
source: "test"
layers: 4
hidden: 512
heads: 8
kv_heads: 2
head_dim: 64
ffn: 1024
ffn_matrices: 3
experts: 4
top_k: 2
vocab: 1000
max_context: 2048
bytes_per_element: 2
"""


def test_shipped_models_are_listed():
    assert set(SHIPPED) <= set(list_models())


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_loads_with_a_source(name):
    m = load_model(name)
    assert m.name == name
    assert m.source and Path(m.path) == MODEL_DIR / f"{name}.yaml"
    assert m.heads * m.head_dim == m.hidden  # all five split hidden evenly over the heads


@pytest.mark.parametrize("name", SHIPPED)
def test_parameter_count_matches_published_size(name):
    got = load_model(name).parameters()
    want = PUBLISHED_PARAMETERS[name]
    assert abs(got - want) <= 0.01 * want, f"{name}: {got:.4g} vs published {want:.4g}"


def test_llama_3_70b_kv_bytes_per_token():
    # K and V, 80 layers, 8 KV heads of 128, 2 bytes each (model card: GQA, 8 KV heads)
    assert load_model("llama-3-70b").kv_bytes_per_token() == 2 * 80 * 8 * 128 * 2 == 327_680


def test_attention_kinds_and_moe_shape():
    assert load_model("llama-2-7b").attention_type == "MHA"
    l3 = load_model("llama-3-8b")
    assert (l3.attention_type, l3.kv_heads, l3.group_size) == ("GQA", 8, 4)
    mix = load_model("mixtral-8x7b")
    assert (mix.experts, mix.top_k, mix.kv_heads) == (8, 2, 8)
    assert load_model("opt-13b").ffn_matrices == 2  # fc1, fc2
    assert {m: load_model(m).max_context for m in SHIPPED} == {
        "llama-2-7b": 4096, "llama-3-8b": 8192, "opt-13b": 2048, "mixtral-8x7b": 32768,
        "llama-3-70b": 8192}


def test_dense_model_may_omit_experts_and_head_dim(tmp_path):
    text = BASE.replace("experts: 4\n", "").replace("top_k: 2\n", "").replace("head_dim: 64\n", "")
    path = tmp_path / "dense.yaml"
    path.write_text(text)
    m = load_model(str(path))
    assert (m.experts, m.top_k, m.head_dim) == (1, 1, 512 // 8)


def test_explicit_head_dim_need_not_tile_hidden(tmp_path):
    # e.g. Gemma 7B: 16 heads of 256 on a 3072-wide residual stream
    path, _ = write_variant(BASE, tmp_path, "head_dim: 64", "head_dim: 96", "wide.yaml")
    assert load_model(str(path)).head_dim == 96


def test_extends_a_shipped_model(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text("extends: llama-3-8b\nname: llama-3-8b-long\nmax_context: 131072\n")
    m = load_model(str(path))
    assert (m.name, m.max_context, m.kv_heads) == ("llama-3-8b-long", 131072, 8)


BAD = [
    # (old, new, key, line snippet or None for the file's first line, message part)
    ("kv_heads: 2", "kv_head: 2", "kv_head", "kv_head:", "unknown key 'kv_head' (did you mean 'kv_heads'?)"),
    ("vocab: 1000\n", "", "vocab", None, "missing required key 'vocab'"),
    ("layers: 4", "layers: 0", "layers", "layers:", "must be a positive integer, got 0"),
    ("ffn: 1024", "ffn: -1024", "ffn", "ffn:", "must be a positive integer"),
    ("hidden: 512", "hidden: 5.12e2", "hidden", "hidden:", "expected an integer"),
    ("kv_heads: 2", "kv_heads: 3", "kv_heads", "kv_heads:", "heads (8) must be a multiple of kv_heads (3)"),
    ("top_k: 2", "top_k: 5", "top_k", "top_k:", "top_k (5) exceeds experts (4)"),
    ("ffn_matrices: 3", "ffn_matrices: 4", "ffn_matrices", "ffn_matrices:", "expected 2 (up, down) or 3"),
    ("name: test-model", "name: ''", "name", "name:", "must not be empty"),
]


@pytest.mark.parametrize("old,new,key,snippet,part", BAD)
def test_bad_model_gives_one_line_with_file_line_key(tmp_path, old, new, key, snippet, part):
    path, text = write_variant(BASE, tmp_path, old, new, "bad.yaml")
    msg = one_line_error(load_model, path)
    line = 1 if snippet is None else line_of(text, snippet)
    assert msg.startswith(f"{path}:{line}: {key}: "), msg
    assert part in msg


def test_heads_must_tile_hidden_without_head_dim(tmp_path):
    text = BASE.replace("head_dim: 64\n", "").replace("hidden: 512", "hidden: 500")
    path = tmp_path / "untiled.yaml"
    path.write_text(text)
    msg = one_line_error(load_model, path)
    assert msg.startswith(f"{path}:{line_of(text, 'heads: 8')}: heads: "), msg
    assert "hidden (500) is not a multiple of heads (8)" in msg


def test_unknown_model_name_suggests_and_lists():
    with pytest.raises(UserError) as info:
        load_model("llama-3-7b")
    msg = str(info.value)
    assert "unknown model 'llama-3-7b'" in msg
    assert "did you mean 'llama-3-8b'?" in msg
    assert all(name in msg for name in SHIPPED)
    assert "\n" not in msg
