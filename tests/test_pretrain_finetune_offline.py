"""Chapter 09 runs with no network: KerasHub is used only through local paths and offline training.

The chapter itself runs under nbval in CI, where nothing can be downloaded. These tests make the
promise explicit and fast: the chapter's notebooks never name a hub preset or a URL, and the KerasHub
calls they make (building layers, saving and loading a local preset, training a SentencePiece
vocabulary) work with every socket refused, while a hub name is refused rather than downloaded.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = [ROOT / "notebooks" / "09_pretrain_finetune.ipynb",
             ROOT / "notebooks" / "solutions" / "09_pretrain_finetune_solutions.ipynb"]
NETWORK_CODE = re.compile(r"(https?://|hf://|kaggle://|urllib|requests\.|kagglehub|huggingface_hub|"
                          r"from_preset\(\s*[\"']|get_file\()")


class NetworkUsed(RuntimeError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Refuse every connection and name lookup, so a download fails loudly instead of happening."""
    def refuse(*args, **kwargs):
        raise NetworkUsed(f"network access attempted: {args[:2]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_code_names_no_hub_preset_or_url(path):
    if not path.exists():
        pytest.skip(f"{path.name} is not committed yet")
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "keras_hub" in code
    match = NETWORK_CODE.search(code)
    assert not match, f"{path.name}: code that may download: {match.group(0)!r}"
    for call in re.findall(r"from_preset\(([^)]*)\)", code):
        assert call.strip() in {"preset_dir"}, f"{path.name}: from_preset({call}) must load a local folder"


def test_the_network_guard_catches_a_download(no_network):
    with pytest.raises(NetworkUsed):
        socket.create_connection(("example.com", 443), timeout=1)


def test_keras_hub_works_offline(no_network, tmp_path):
    import keras
    import keras_hub
    import numpy as np
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="course_tests")
    class TinyBackbone(keras_hub.models.Backbone):
        def __init__(self, width, **kwargs):
            token_ids = keras.Input(shape=(None,), dtype="int32")
            x = keras_hub.layers.TokenAndPositionEmbedding(10, 8, width)(token_ids)
            x = keras_hub.layers.TransformerDecoder(2 * width, 2, normalize_first=True)(x)
            super().__init__(inputs=token_ids, outputs=x, **kwargs)
            self.width = width

        def get_config(self):
            return {**super().get_config(), "width": self.width}

    backbone = TinyBackbone(16)
    ids = np.array([[1, 2, 3, 4]], np.int32)
    backbone.save_to_preset(str(tmp_path / "preset"))
    reloaded = keras_hub.models.Backbone.from_preset(str(tmp_path / "preset"))
    np.testing.assert_array_equal(reloaded(ids), backbone(ids))

    lines = tf.data.Dataset.from_tensor_slices(["to be or not to be", "that is the question"] * 50)
    proto = keras_hub.tokenizers.compute_sentence_piece_proto(lines, vocabulary_size=30, model_type="bpe")
    tokenizer = keras_hub.tokenizers.SentencePieceTokenizer(proto=proto)
    assert tokenizer.detokenize(tokenizer("to be or not")) == "to be or not"


def test_a_hub_name_does_not_download(no_network):
    import keras_hub

    with pytest.raises(Exception) as caught:
        keras_hub.models.Backbone.from_preset("gpt2_base_en")
    assert not isinstance(caught.value, AssertionError)
