"""Large-model options: precision, accumulation, checkpointing, pooling, any HF model, LoRA,
data-parallel training under torchrun and the launch entry point."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from skadv.neural import (  # noqa: E402
    AdversarialNeuralRecommender,
    AdversarialTextRecommender,
    TextEncoder,
    launch,
)

TITLES = [
    "star wars", "star trek", "space war", "space adventure", "lost empire",
    "war of the worlds", "love story", "romantic comedy", "love drama", "comedy night",
    "new hope", "romance in the city",
]  # fmt: skip


@pytest.fixture
def texts():
    return dict(enumerate(TITLES))


@pytest.fixture
def blocks():
    """Users 0-9 like items 0-5, users 10-19 items 6-11 (each misses a few)."""
    rng = np.random.RandomState(0)
    pairs = [(u, i) for u in range(20) for i in range(12)
             if (i < 6) == (u < 10) and rng.rand() < 0.7]  # fmt: skip
    return np.array(pairs)


@pytest.fixture
def interactions():
    rng = np.random.RandomState(0)
    return np.array([(u, i) for u in range(40) for i in range(30)
                     if rng.rand() < (0.3 if u % 2 == i % 2 else 0.05)])  # fmt: skip


# Dropout off: the only randomness left is the seeded sampling and initialization, so fits
# that cut batches differently must agree within float rounding.
NEURAL = dict(hidden_layers=(16,), n_factors=8, n_epochs=3, batch_size=64, dropout=0.0,
              adversary="fgsm", epsilon=0.5, epsilon_mode="absolute", adv_start=0,
              random_state=0)  # fmt: skip
FINE_TUNING = dict(trainable_layers=None, item_id_embedding=False, adv_target="tokens",
                   epsilon=0.05, epsilon_mode="absolute", adv_start=0, n_factors=8,
                   n_epochs=2, batch_size=16, learning_rate=0.01, random_state=0)  # fmt: skip
# LoRA on the frozen encoder (trainable_layers=0): only the adapters learn in it.
LORA = dict(FINE_TUNING, trainable_layers=0)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_neural_low_precision_trains_close_to_fp32(interactions, precision):
    ref = AdversarialNeuralRecommender(**NEURAL).fit(interactions)
    low = AdversarialNeuralRecommender(precision=precision, **NEURAL).fit(interactions)
    assert low.user_factors_.dtype == np.float32
    assert np.all(np.isfinite(low.loss_curve_)) and np.all(np.isfinite(low.adv_loss_curve_))
    # Autocast changes the MLP's matmuls (not bitwise fp32) but not what is learned.
    assert not np.array_equal(ref.user_factors_, low.user_factors_)
    np.testing.assert_allclose(low.loss_curve_, ref.loss_curve_, atol=0.02)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_text_low_precision_token_adversary(tiny_bert_path, texts, blocks, precision):
    ref = AdversarialTextRecommender(tiny_bert_path, **FINE_TUNING).fit(blocks, item_texts=texts)
    low = AdversarialTextRecommender(tiny_bert_path, precision=precision, **FINE_TUNING)
    low.fit(blocks, item_texts=texts)
    assert low.item_factors_.dtype == np.float32
    assert np.all(np.isfinite(low.item_factors_))
    np.testing.assert_allclose(low.loss_curve_, ref.loss_curve_, atol=0.05)
    np.testing.assert_allclose(low.adv_loss_curve_, ref.adv_loss_curve_, atol=0.05)


def test_accumulate_steps_is_the_same_update(interactions):
    one = AdversarialNeuralRecommender(**NEURAL).fit(interactions)
    acc = AdversarialNeuralRecommender(accumulate_steps=3, **NEURAL).fit(interactions)
    np.testing.assert_allclose(acc.user_factors_, one.user_factors_, atol=1e-5)
    np.testing.assert_allclose(acc.item_factors_, one.item_factors_, atol=1e-5)
    np.testing.assert_allclose(acc.loss_curve_, one.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(acc.adv_loss_curve_, one.adv_loss_curve_, rtol=1e-5)


def test_accumulate_steps_text_frozen(tiny_bert_path, texts, blocks):
    # SGD: the projection's bias cancels out of BPR (q_i - q_j), so its gradient is pure
    # rounding noise, different when summed in two parts; Adam divides it by its own size
    # and turns it into whole learning-rate steps.
    params = dict(n_factors=8, n_epochs=3, batch_size=32, adversary="none", optimizer="sgd",
                  random_state=0)  # fmt: skip
    one = AdversarialTextRecommender(tiny_bert_path, **params).fit(blocks, item_texts=texts)
    acc = AdversarialTextRecommender(tiny_bert_path, accumulate_steps=2, **params)
    acc.fit(blocks, item_texts=texts)
    np.testing.assert_allclose(acc.item_factors_, one.item_factors_, atol=1e-5)
    np.testing.assert_allclose(acc.user_factors_, one.user_factors_, atol=1e-5)


def test_gradient_checkpointing_same_fit(tiny_bert_path, texts, blocks):
    plain = AdversarialTextRecommender(tiny_bert_path, **FINE_TUNING)
    plain.fit(blocks, item_texts=texts)
    ckpt = AdversarialTextRecommender(tiny_bert_path, gradient_checkpointing=True, **FINE_TUNING)
    ckpt.fit(blocks, item_texts=texts)
    # The recomputation replays dropout's RNG state: the same fit up to float rounding.
    np.testing.assert_allclose(ckpt.item_factors_, plain.item_factors_, atol=1e-5)
    np.testing.assert_allclose(ckpt.loss_curve_, plain.loss_curve_, rtol=1e-5)


def test_text_encoder_pooling(tiny_bert_path):
    titles = ["star wars", "a love story in the city"]
    model, tokenizer = (transformers.AutoModel.from_pretrained(tiny_bert_path).eval(),
                        transformers.AutoTokenizer.from_pretrained(tiny_bert_path))  # fmt: skip
    with torch.no_grad():
        inputs = tokenizer(titles, padding=True, return_tensors="pt")
        hidden = model(**inputs).last_hidden_state
    last = inputs["attention_mask"].sum(dim=1) - 1
    expected = {"cls": hidden[:, 0], "last": hidden[torch.arange(2), last]}
    for pooling, want in expected.items():
        got = TextEncoder(tiny_bert_path, pooling=pooling).fit_transform(titles)
        np.testing.assert_allclose(got, want.numpy(), atol=1e-5)


@pytest.fixture(scope="module")
def tiny_gpt2_path(tmp_path_factory, tiny_bert_path):
    """A tiny random GPT-2 (decoder-only) with the tiny BERT's WordPiece tokenizer."""
    path = tmp_path_factory.mktemp("tiny_gpt2")
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_bert_path)
    tokenizer.model_input_names = ["input_ids", "attention_mask"]
    config = transformers.GPT2Config(vocab_size=tokenizer.vocab_size, n_embd=32, n_layer=2,
                                     n_head=2, n_positions=64)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        transformers.GPT2Model(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_decoder_only_encoder_last_token(tiny_gpt2_path, texts, blocks):
    params = dict(FINE_TUNING, trainable_layers=1, pooling="last")
    model = AdversarialTextRecommender(tiny_gpt2_path, **params).fit(blocks, item_texts=texts)
    assert model.encoder_state_["encoder"]["config"]["model_type"] == "gpt2"
    assert np.all(np.isfinite(model.loss_curve_))
    new = model.encode_items(["space war"])
    # A training item with the same text (no id embedding here) has the same vector.
    np.testing.assert_allclose(new[0], model.item_factors_[2], atol=1e-5)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(loaded.encode_items(["space war"]), new, atol=1e-6)


def test_decoder_only_text_encoder(tiny_gpt2_path):
    X = TextEncoder(tiny_gpt2_path, pooling="last").fit_transform(["star wars", "love story"])
    assert X.shape == (2, 32) and np.all(np.isfinite(X))


# ---------------------------------------------------------------------------------- LoRA
def test_lora_trains_only_adapters(tiny_bert_path, texts, blocks):
    pytest.importorskip("peft")
    from skadv.neural._encoders import add_lora

    base = transformers.AutoModel.from_pretrained(tiny_bert_path)
    before = {k: v.numpy().copy() for k, v in base.state_dict().items()}
    wrapped = add_lora(base, rank=4, alpha=8, dropout=0.0)
    trainable = {n for n, p in wrapped.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    n_trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    # rank 4 on query and value of 2 layers of width 32: 2 * 2 * (4 * 32 * 2) parameters.
    assert n_trainable == 2 * 2 * 4 * 32 * 2

    model = AdversarialTextRecommender(tiny_bert_path, adapter="lora", lora_rank=4,
                                       lora_alpha=8, **LORA)  # fmt: skip
    model.fit(blocks, item_texts=texts)
    after = model.encoder_state_["encoder"]["state_dict"]
    assert set(after) == set(before)  # merged: the plain architecture, no adapter names
    moved = {k for k in before if not np.array_equal(before[k], after[k])}
    assert moved, "the merged adapters changed no weight"
    assert all(".query." in k or ".value." in k for k in moved), sorted(moved)


def test_lora_targets_and_fitted_model_without_torch(tiny_bert_path, texts, blocks, tmp_path):
    pytest.importorskip("peft")
    model = AdversarialTextRecommender(tiny_bert_path, adapter="lora", lora_targets=("key",),
                                       **LORA)  # fmt: skip
    model.fit(blocks, item_texts=texts)
    encoder_state = model.encoder_state_["encoder"]["state_dict"]
    base = transformers.AutoModel.from_pretrained(tiny_bert_path).state_dict()
    moved = {k for k in base if not np.array_equal(base[k].numpy(), encoder_state[k])}
    assert moved and all(".key." in k for k in moved)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    expected = model.recommend([0, 15], n=3)[0]
    # A fresh interpreter where importing torch, transformers or peft fails.
    code = (
        "import pickle, sys\n"
        "class Missing:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'transformers', 'peft'):\n"
        "            raise ImportError(name + ' is not installed here')\n"
        "sys.meta_path.insert(0, Missing())\n"
        f"model = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "print(model.recommend([0, 15], n=3)[0].tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout) == expected.tolist()


def test_lora_bad_targets_name_the_parameter(tiny_bert_path, texts, blocks):
    pytest.importorskip("peft")
    model = AdversarialTextRecommender(tiny_bert_path, adapter="lora",
                                       lora_targets=("no_such_layer",), **LORA)  # fmt: skip
    with pytest.raises(ValueError, match="lora_targets"):
        model.fit(blocks, item_texts=texts)


# -------------------------------------------------------------------- launch and torchrun
def _write_config(tmp_path, interactions, model="neural", params=None, texts=None):
    pd.DataFrame(interactions, columns=["user", "item"]).to_csv(tmp_path / "x.csv", index=False)
    config = {"model": model, "params": params or {}, "interactions": str(tmp_path / "x.csv"),
              "output": str(tmp_path / "model.pkl")}  # fmt: skip
    if texts is not None:
        frame = pd.DataFrame({"item": list(texts), "text": list(texts.values())})
        frame.to_csv(tmp_path / "texts.csv", index=False)
        config["item_texts"] = str(tmp_path / "texts.csv")
    (tmp_path / "run.json").write_text(json.dumps(config))
    return config


def test_launch_one_process(tmp_path, tiny_bert_path, texts, blocks, capsys):
    params = dict(encoder=str(tiny_bert_path), n_factors=8, n_epochs=2, random_state=0)
    config = _write_config(tmp_path, blocks, "text", params, texts)
    assert launch.main(["--config", str(tmp_path / "run.json")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["world_size"] == 1 and len(summary["loss_curve"]) == 2
    model = pickle.loads((tmp_path / "model.pkl").read_bytes())
    direct = launch.run(config)
    np.testing.assert_array_equal(model.item_factors_, direct.item_factors_)


def test_launch_rejects_bad_config(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"model": "mf", "interactions": "x.csv"}))
    with pytest.raises(ValueError, match="model must be one of"):
        launch.main(["--config", str(tmp_path / "run.json")])


@pytest.mark.slow
def test_two_processes_gloo_equal_one_process(tmp_path, interactions):
    config = _write_config(tmp_path, interactions, "neural", NEURAL)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "skadv.neural.launch", "--config", str(tmp_path / "run.json")]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["world_size"] == 2
    ddp = pickle.loads((tmp_path / "model.pkl").read_bytes())
    # The same global batches, cut into the same two micro-batches in one process.
    single = launch.run(dict(config, params=dict(NEURAL, accumulate_steps=2)))
    np.testing.assert_allclose(ddp.user_factors_, single.user_factors_, atol=1e-5)
    np.testing.assert_allclose(ddp.item_factors_, single.item_factors_, atol=1e-5)
    np.testing.assert_allclose(ddp.loss_curve_, single.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(ddp.adv_loss_curve_, single.adv_loss_curve_, rtol=1e-5)


# ------------------------------------------------------------------- cached item vectors
def test_item_cache_steps_fine_tuning(tiny_bert_path, texts, blocks):
    params = dict(FINE_TUNING, adv_target="factors", epsilon_mode="relative", epsilon=0.3,
                  n_epochs=4)  # fmt: skip
    every = AdversarialTextRecommender(tiny_bert_path, **params).fit(blocks, item_texts=texts)
    cached = AdversarialTextRecommender(tiny_bert_path, item_cache_steps=3, **params)
    cached.fit(blocks, item_texts=texts)
    assert np.all(np.isfinite(cached.loss_curve_))
    assert not np.array_equal(cached.item_factors_, every.item_factors_)
    # The encoder still learns: the fitted encoder differs from the one loaded.
    base = transformers.AutoModel.from_pretrained(tiny_bert_path).state_dict()
    state = cached.encoder_state_["encoder"]["state_dict"]
    assert any(not np.array_equal(base[k].numpy(), state[k]) for k in base)
    # add_items encodes with the fitted encoder as usual.
    cached.add_items([99], ["space war"])
    np.testing.assert_allclose(cached.item_factors_[-1], cached.item_factors_[2], atol=1e-5)


def test_item_cache_steps_rejects_token_adversary(tiny_bert_path, texts, blocks):
    model = AdversarialTextRecommender(tiny_bert_path, item_cache_steps=2, **FINE_TUNING)
    with pytest.raises(ValueError, match="item_cache_steps=2 needs adv_target"):
        model.fit(blocks, item_texts=texts)


# ------------------------------------------------------------------------------- GPU only
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_gpu_low_precision_lora_matches_cpu_fp32(tiny_bert_path, texts, blocks, precision):
    pytest.importorskip("peft")
    cpu = AdversarialTextRecommender(tiny_bert_path, adapter="lora", device="cpu", **LORA)
    cpu.fit(blocks, item_texts=texts)
    gpu = AdversarialTextRecommender(tiny_bert_path, adapter="lora", device="cuda",
                                     precision=precision, gradient_checkpointing=True,
                                     **LORA)  # fmt: skip
    gpu.fit(blocks, item_texts=texts)
    assert gpu.device_.startswith("cuda") and gpu.item_factors_.dtype == np.float32
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, atol=0.05)


@pytest.mark.gpu
@cuda
def test_gpu_neural_bf16_accumulation(interactions):
    ref = AdversarialNeuralRecommender(device="cuda", **NEURAL).fit(interactions)
    low = AdversarialNeuralRecommender(device="cuda", precision="bf16", accumulate_steps=2,
                                       **NEURAL)  # fmt: skip
    low.fit(interactions)
    np.testing.assert_allclose(low.loss_curve_, ref.loss_curve_, atol=0.02)


@pytest.mark.slow
def test_two_processes_gloo_text_model(tmp_path, tiny_bert_path, texts, blocks):
    # Frozen (cached) encoder and no id dropout: no dropout draw differs between the ranks.
    # SGD: see test_accumulate_steps_text_frozen (Adam turns the rounding noise of the
    # projection bias's zero gradient into steps).
    params = dict(encoder=str(tiny_bert_path), n_factors=8, n_epochs=3, batch_size=32,
                  adversary="fgsm", optimizer="sgd", random_state=0)  # fmt: skip
    config = _write_config(tmp_path, blocks, "text", params, texts)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "skadv.neural.launch", "--config", str(tmp_path / "run.json")]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    ddp = pickle.loads((tmp_path / "model.pkl").read_bytes())
    single = launch.run(dict(config, params=dict(params, accumulate_steps=2)))
    np.testing.assert_allclose(ddp.user_factors_, single.user_factors_, atol=1e-5)
    np.testing.assert_allclose(ddp.item_factors_, single.item_factors_, atol=1e-5)
    np.testing.assert_allclose(ddp.loss_curve_, single.loss_curve_, rtol=1e-5)
