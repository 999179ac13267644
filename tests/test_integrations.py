"""Each integration drives a real (tiny, randomly initialized, local) training run on CPU."""

from __future__ import annotations

import os
import time

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # must precede the first `import keras`

import mlfootprint  # noqa: E402
from mlfootprint.store import open_store  # noqa: E402

torch = pytest.importorskip("torch")


def steady_sensor():  # type: ignore[no-untyped-def]
    from mlfootprint.sensors import ScriptedSensor

    return ScriptedSensor([(0.0, 50.0), (1e6, 50.0)], time.monotonic, key="cpu:0", kind="cpu")


def phases_of(run_id: str) -> dict[str, dict]:
    return {p.phase: p for p in open_store(None).get_run(run_id).phases}


def test_plain_pytorch_loop_gets_phases_from_hooks(isolated_env) -> None:  # type: ignore[no-untyped-def]
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from mlfootprint.integrations.torch import instrument, instrument_loader

    torch.manual_seed(0)
    x, y = torch.randn(256, 16), torch.randint(0, 3, (256,))
    loader = DataLoader(TensorDataset(x, y), batch_size=32)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with mlfootprint.track(sensors=[steady_sensor()], interval_s=0.01) as run:
        hooks = instrument(run, model, opt)
        for _ in range(2):
            for xb, yb in instrument_loader(run, loader):
                loss = nn.functional.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
                opt.zero_grad()
        model.eval()
        with torch.no_grad():
            model(x)
        hooks.remove()
        model(x)  # after remove(): no more phases
    phases = phases_of(run.id)
    for name in ("forward", "backward", "optimizer"):
        assert phases[name].entries == 16, name
    assert phases["data"].entries == 18  # 8 batches + the final StopIteration, per epoch
    assert phases["inference"].entries == 1
    assert all(phases[n].energy_j > 0 for n in ("forward", "backward", "optimizer", "data"))


def test_keras_callback(isolated_env) -> None:  # type: ignore[no-untyped-def]
    keras = pytest.importorskip("keras")
    import numpy as np

    from mlfootprint.integrations.keras import MlfootprintCallback

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 8)).astype("float32"), rng.integers(0, 2, 200)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callback = MlfootprintCallback(project="keras", batch_size=20, sensors=[steady_sensor()], interval_s=0.01)
    model.fit(x, y, epochs=2, batch_size=20, validation_split=0.2, verbose=0, callbacks=[callback])
    record = open_store(None).get_run(callback.run.id)
    phases = {p.phase: p for p in record.phases}
    assert phases["train_step"].entries == 16  # 160 training samples / 20, two epochs
    assert phases["evaluation"].entries == 2
    assert record.counts["samples"] == 320
    assert {"train_accuracy", "val_accuracy"} <= set(record.metrics) and "accuracy" in record.generalization_gap
    assert record.status == "completed"


def test_huggingface_trainer_callback(isolated_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    transformers = pytest.importorskip("transformers")
    from mlfootprint.integrations.huggingface import MlfootprintCallback

    config = transformers.BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=32, num_labels=2)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)

    class Toy(torch.utils.data.Dataset):
        def __init__(self, n: int) -> None:
            g = torch.Generator().manual_seed(n)
            self.ids = torch.randint(1, 64, (n, 12), generator=g)
            self.labels = (self.ids[:, 0] > 32).long()

        def __len__(self) -> int:
            return len(self.ids)

        def __getitem__(self, i: int) -> dict:
            return {"input_ids": self.ids[i], "attention_mask": torch.ones(12, dtype=torch.long), "labels": self.labels[i]}

    args = transformers.TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, num_train_epochs=2,
                                          eval_strategy="epoch", save_strategy="no", report_to=[], logging_steps=2,
                                          use_cpu=True, disable_tqdm=True)
    callback = MlfootprintCallback(project="hf", sensors=[steady_sensor()], interval_s=0.01)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Toy(64), eval_dataset=Toy(16),
                                   callbacks=[callback])
    trainer.train()
    record = open_store(None).get_run(callback.run.id)
    phases = {p.phase: p for p in record.phases}
    assert phases["forward_backward"].entries == 16 and phases["optimizer"].entries == 16
    assert phases["evaluation"].entries == 2 and phases["evaluation"].energy_j > 0
    assert record.counts["samples"] == 128
    assert "eval_loss" in record.metrics and "train_loss" in record.metrics
    assert record.generalization_gap["loss"] == pytest.approx(record.metrics["train_loss"] - record.metrics["eval_loss"])


def test_lightning_callback(isolated_env) -> None:  # type: ignore[no-untyped-def]
    pl = pytest.importorskip("lightning.pytorch")
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from mlfootprint.integrations.lightning import MlfootprintCallback

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))

        def training_step(self, batch, _i):  # type: ignore[no-untyped-def]
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _i):  # type: ignore[no-untyped-def]
            x, y = batch
            self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    data = TensorDataset(torch.randn(96, 8), torch.randint(0, 2, (96,)))
    with mlfootprint.track(project="lightning", sensors=[steady_sensor()], interval_s=0.01) as run:
        trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                             callbacks=[MlfootprintCallback(run)])
        trainer.fit(Tiny(), DataLoader(data, batch_size=16), DataLoader(data, batch_size=32))
    phases = phases_of(run.id)
    for name in ("forward", "backward", "optimizer"):
        assert phases[name].entries == 12, name
    assert phases["evaluation"].entries == 2
    record = open_store(None).get_run(run.id)
    assert record.counts["samples"] == 192
    assert record.generalization_gap["loss"] == pytest.approx(record.metrics["train_loss"] - record.metrics["val_loss"])


def test_importing_mlfootprint_does_not_import_frameworks() -> None:
    import subprocess
    import sys

    code = ("import sys, mlfootprint; mlfootprint.track; "
            "print([m for m in ('torch', 'keras', 'transformers', 'lightning') if m in sys.modules])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"
