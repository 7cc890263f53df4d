"""The TensorBoard reader, on event files written by the real writers and, for the encodings
none of them produces here, by the protobuf classes that ship with TensorBoard
(``tensorboard.compat.proto``).

What each installed writer produces for a scalar:
- torch ``SummaryWriter.add_scalar`` (and PyTorch Lightning's ``TensorBoardLogger``, which uses
  it): ``simple_value``, no metadata;
- torch ``add_scalar(..., new_style=True)``: ``tensor.float_val`` (``double_val`` with
  ``double_precision=True``), plugin metadata ``"scalars"`` with every event;
- tensorboardX ``add_scalar``: ``simple_value``, no metadata;
- ``tensorboard.summary.Writer`` (TF-free): ``tensor.float_val`` with an empty shape, plugin
  ``"scalars"`` and ``DATA_CLASS_SCALAR`` with every event.
``tensor.tensor_content``, ``int_val``, ``int64_val``, ``half_val``, ``bool_val`` … (what
TensorFlow writes, with the metadata only on a tag's first event) come from no installed
writer: those events are built with the protobuf classes.
"""

from __future__ import annotations

import math
import struct
import warnings
from pathlib import Path

import crc32c
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lossdoctor
from lossdoctor.errors import ReadError
from lossdoctor.read import tfevents

pytest.importorskip("tensorboard")
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2

SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter


# ---------------------------------------------------------------------------------------------
# helpers


def f32(x: float) -> float:
    """What a float32 field stores of `x`."""
    return float(np.float32(x))


def by_original(run: lossdoctor.Run) -> dict[str, lossdoctor.Series]:
    return {s.original: s for s in run}


def assert_points(series: lossdoctor.Series, steps: list[float], values: list[float]) -> None:
    np.testing.assert_array_equal(series.steps, np.array(steps, dtype=np.float64))
    np.testing.assert_array_equal(series.values, np.array(values, dtype=np.float64))


def masked_crc(data: bytes) -> int:
    crc = crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", masked_crc(head)) + data + struct.pack("<I", masked_crc(data))


def write_events(path: Path, events: list[event_pb2.Event], *, version: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2")] if version else []
    path.write_bytes(b"".join(record(e.SerializeToString()) for e in head + events))
    return path


def scalar_meta() -> summary_pb2.SummaryMetadata:
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))


def tensor_event(tag: str, step: int, tensor: tensor_pb2.TensorProto, *,
                 meta: bool) -> event_pb2.Event:
    value = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if meta:
        value.metadata.CopyFrom(scalar_meta())
    return event_pb2.Event(wall_time=1000.0 + step, step=step,
                           summary=summary_pb2.Summary(value=[value]))


def only(runs: list[lossdoctor.Run]) -> lossdoctor.Run:
    assert len(runs) == 1, runs
    return runs[0]


# ---------------------------------------------------------------------------------------------
# the real writers


def test_torch_summary_writer_simple_value(tmp_path: Path) -> None:
    logdir = tmp_path / "runs" / "exp1"
    w = SummaryWriter(str(logdir))
    losses = [2.0 / (s + 1) for s in range(300)]
    specials = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-45, 3.4e38]
    for s, v in enumerate(losses):
        w.add_scalar("train/loss", v, s)
        if s % 10 == 0:
            w.add_scalar("lr", 0.1 * 0.99**s, s)
            w.add_histogram("weights", np.random.default_rng(s).normal(size=50), s)
            w.add_text("note", f"step {s}", s)
    for k, v in enumerate(specials):
        w.add_scalar("odd", v, 1000 + k)
    w.close()

    run = only(tfevents.read(logdir))
    assert run.name == "exp1" and run.format == "tensorboard"
    assert list(run.series) == ["train_loss", "lr", "odd"]  # in the order first seen
    assert_points(run["train_loss"], list(range(300)), [f32(v) for v in losses])
    lr_steps = list(range(0, 300, 10))
    assert_points(run["lr"], lr_steps, [f32(0.1 * 0.99**s) for s in lr_steps])
    odd = run["odd"]
    np.testing.assert_array_equal(odd.values, np.array([f32(v) for v in specials]))
    assert np.signbit(odd.values[4])  # -0.0 kept
    assert run.meta["skipped"] == {"weights": "histogram", "note/text_summary": "text"}
    assert not run.warnings or all("non-finite" not in w for w in run.warnings)


def test_torch_new_style_float_val_and_double_val(tmp_path: Path) -> None:
    w = SummaryWriter(str(tmp_path))
    values = [1 / 3, 1e-300, math.nan, 2.0**60 + 1]
    for s, v in enumerate(values * 5):  # 20 points: the bulk decoder sees these layouts too
        w.add_scalar("float", v, s, new_style=True)
        w.add_scalar("double", v, s, new_style=True, double_precision=True)
    w.close()
    run = only(tfevents.read(tmp_path))
    s = by_original(run)
    assert_points(s["float"], list(range(20)), [f32(v) for v in values * 5])
    # double_val keeps the full float64.
    assert_points(s["double"], list(range(20)), values * 5)


def test_tensorboardx_writer(tmp_path: Path) -> None:
    tbx = pytest.importorskip("tensorboardX")
    w = tbx.SummaryWriter(str(tmp_path / "tbx"))
    for s in range(0, 2000, 7):
        w.add_scalar("loss", 1.0 / (s + 1), s)
        w.add_scalars("acc", {"train": s / 2000, "val": s / 4000}, s)
        if s % 70 == 0:
            w.add_histogram("h", np.arange(10.0), s)
    w.close()
    run = only(tfevents.read(tmp_path / "tbx"))
    steps = list(range(0, 2000, 7))
    assert_points(run["train_loss"], steps, [f32(1.0 / (s + 1)) for s in steps])
    # add_scalars sub-directories acc_train/ and acc_val/ join the run as acc/train, acc/val.
    assert_points(run["train_acc"], steps, [f32(s / 2000) for s in steps])
    assert_points(run["val_acc"], steps, [f32(s / 4000) for s in steps])
    assert run["val_acc"].original == "acc/val"
    assert tfevents.find(tmp_path) == [tmp_path / "tbx"]


def test_tensorboard_tf_free_writer(tmp_path: Path) -> None:
    summary = pytest.importorskip("tensorboard.summary")
    w = summary.Writer(str(tmp_path))
    for s in range(40):
        w.add_scalar("eval/loss", 1.5 - s / 40, s)
        w.add_scalar("eval/accuracy", s / 40, s)
    w.close()
    run = only(tfevents.read(tmp_path))
    assert_points(run["val_loss"], list(range(40)), [f32(1.5 - s / 40) for s in range(40)])
    assert_points(run["val_acc"], list(range(40)), [f32(s / 40) for s in range(40)])


def test_every_point_of_a_long_tag(tmp_path: Path) -> None:
    """25,000 points in one tag (EventAccumulator keeps 10,000 by default); steps cross the
    1-, 2- and 3-byte varint widths."""
    w = SummaryWriter(str(tmp_path))
    steps = [s * 3 for s in range(25_000)]
    values = [math.sin(s / 100) for s in range(25_000)]
    for s, v in zip(steps, values, strict=True):
        w.add_scalar("loss", v, s)
    w.close()
    run = only(tfevents.read(tmp_path))
    assert len(run["train_loss"]) == 25_000
    assert_points(run["train_loss"], steps, [f32(v) for v in values])


def test_keras_train_validation_split_is_one_run(tmp_path: Path) -> None:
    logdir = tmp_path / "logs" / "fit" / "20240101-120000"
    for phase, offset in (("train", 0.0), ("validation", 0.1)):
        w = SummaryWriter(str(logdir / phase))
        for epoch in range(12):
            w.add_scalar("epoch_loss", 1.0 / (epoch + 1) + offset, epoch)
            w.add_scalar("epoch_accuracy", 0.5 + epoch / 30 - offset, epoch)
            if phase == "train":
                w.add_scalar("epoch_learning_rate", 1e-3, epoch)
        w.close()
    assert tfevents.find(tmp_path / "logs") == [logdir]
    run = only(tfevents.read(logdir))
    assert run.name == "20240101-120000"
    assert set(run.series) == {"train_loss", "val_loss", "train_acc", "val_acc", "lr"}
    assert run["val_loss"].original == "validation/epoch_loss"
    assert_points(run["val_loss"], list(range(12)), [f32(1.0 / (e + 1) + 0.1) for e in range(12)])
    assert_points(run["train_acc"], list(range(12)), [f32(0.5 + e / 30) for e in range(12)])
    # The whole logdir through lossdoctor.read: one run, nothing read twice.
    assert [r.name for r in lossdoctor.read(tmp_path / "logs", format="tensorboard")] == [
        "20240101-120000"]


def test_separate_runs_and_add_scalars(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    for name, scale in (("Nov20_exp1", 1.0), ("Nov20_exp2", 2.0)):
        w = SummaryWriter(str(root / name))
        for s in range(30):
            w.add_scalars("loss", {"train": scale / (s + 1), "val": scale / (s + 2)}, s)
            w.add_scalar("lr", 0.01, s)
        w.add_hparams({"lr": 0.01}, {"hparam/best": scale})  # a timestamped sub-directory
        w.close()
    found = tfevents.find(root)
    assert found[:2] == [root / "Nov20_exp1", root / "Nov20_exp2"] or (
        [p for p in found if p.parent == root] == [root / "Nov20_exp1", root / "Nov20_exp2"])
    runs = {r.name: r for r in tfevents.read(root)}
    exp2 = runs["Nov20_exp2"]
    assert set(exp2.series) == {"train_loss", "val_loss", "lr"}
    assert_points(exp2["train_loss"], list(range(30)), [f32(2.0 / (s + 1)) for s in range(30)])
    assert_points(exp2["val_loss"], list(range(30)), [f32(2.0 / (s + 2)) for s in range(30)])
    # add_hparams' sub-directory is a run of its own, not mixed into the experiment.
    hparams = [r for r in runs.values() if "hparam/best" in by_original(r)]
    assert len(hparams) == 2
    # The same through lossdoctor.read, the format detected: every run once.
    auto = lossdoctor.read(root)
    assert sorted(r.name for r in auto) == sorted(runs)
    assert all(r.format == "tensorboard" for r in auto)


def test_restarted_writer_files_are_merged_in_order(tmp_path: Path) -> None:
    for start, stop in ((0, 50), (40, 90)):  # the second writer resumes from a checkpoint
        w = SummaryWriter(str(tmp_path), filename_suffix=f".part{start}")
        for s in range(start, stop):
            w.add_scalar("loss", s / 100, s)
        w.close()
    assert len(list(tmp_path.iterdir())) == 2
    run = only(tfevents.read(tmp_path))
    expected = list(range(0, 50)) + list(range(40, 90))
    assert_points(run["train_loss"], expected, [f32(s / 100) for s in expected])
    assert run.meta["event_files"] == 2
    assert any("step goes back from 49 to 40" in w for w in run.warnings)


@pytest.mark.slow
def test_lightning_tensorboard_logger(tmp_path: Path) -> None:
    pl = pytest.importorskip("lightning.pytorch")
    import torch

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch: list[torch.Tensor], _: int) -> torch.Tensor:
            loss = torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: list[torch.Tensor], _: int) -> None:
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1]))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.05)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    logger = pl.loggers.TensorBoardLogger(str(tmp_path), name="lightning_logs")
    trainer = pl.Trainer(max_epochs=3, logger=logger, log_every_n_steps=2,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(Tiny(), loader, loader)
    assert tfevents.find(tmp_path) == [tmp_path / "lightning_logs" / "version_0"]
    run = only(tfevents.read(tmp_path / "lightning_logs" / "version_0"))
    assert {"train_loss", "val_loss"} <= set(run.series)
    assert "epoch" not in run.series and run.meta["epoch_axis"] == "epoch"
    train = run["train_loss"]
    assert len(train) == 12  # 8 steps an epoch, logged every 2nd, 3 epochs
    np.testing.assert_array_equal(train.epochs, np.repeat([0.0, 1.0, 2.0], 4))
    np.testing.assert_array_equal(run["val_loss"].epochs, [0.0, 1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# encodings no installed writer produces (TensorFlow writes them), built with the protobufs


@pytest.mark.parametrize("count", [3, 40])  # one by one, and the bulk decoder
def test_tensor_encodings(tmp_path: Path, count: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=count) * 1000
    cases: dict[str, tuple[object, np.ndarray]] = {}

    def content(dtype: int, np_dtype: str) -> None:
        vals = x.astype(np_dtype)
        cases[f"content_{np.dtype(np_dtype).name}"] = (
            [tensor_pb2.TensorProto(dtype=dtype, tensor_content=v.tobytes()) for v in vals],
            vals.astype(np.float64))

    content(1, "<f4")
    content(2, "<f8")
    content(3, "<i4")
    content(9, "<i8")
    content(19, "<f2")
    content(4, "u1")
    content(23, "<u8")
    flags = (x > 0).astype(np.uint8) * rng.integers(1, 3, size=count).astype(np.uint8)
    cases["content_bool"] = ([tensor_pb2.TensorProto(dtype=10, tensor_content=bytes([f]))
                              for f in flags], (flags != 0).astype(np.float64))
    bf16_bits = (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    bf16 = (bf16_bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    cases["content_bfloat16"] = (
        [tensor_pb2.TensorProto(dtype=14, tensor_content=b.tobytes()) for b in bf16_bits], bf16)
    ints = np.round(x).astype(np.int64)
    cases["int_val"] = ([tensor_pb2.TensorProto(dtype=3, int_val=[int(i)]) for i in ints],
                        ints.astype(np.float64))  # negative int32s are 10-byte varints
    cases["int64_val"] = ([tensor_pb2.TensorProto(dtype=9, int64_val=[int(i) * 2**40])
                           for i in ints], (ints * 2**40).astype(np.float64))
    halves = x.astype(np.float16)
    cases["half_val"] = ([tensor_pb2.TensorProto(dtype=19, half_val=[int(h)])
                          for h in halves.view(np.uint16)], halves.astype(np.float64))
    cases["bool_val"] = ([tensor_pb2.TensorProto(dtype=10, bool_val=[bool(v > 0)]) for v in x],
                         (x > 0).astype(np.float64))
    cases["uint32_val"] = ([tensor_pb2.TensorProto(dtype=22, uint32_val=[int(abs(i))])
                            for i in ints], np.abs(ints).astype(np.float64))
    cases["float_val_shape_1x1"] = (
        [tensor_pb2.TensorProto(dtype=1, float_val=[float(v)],
                                tensor_shape={"dim": [{"size": 1}, {"size": 1}]}) for v in x],
        x.astype(np.float32).astype(np.float64))

    events = []
    steps = [int(s) for s in rng.integers(-5, 2**40, size=count)]
    for i in range(count):
        for tag, (tensors, _) in cases.items():
            # TF writes the plugin metadata only with the first event of a tag.
            events.append(tensor_event(tag, steps[i], tensors[i], meta=i == 0))  # type: ignore[index]
    write_events(tmp_path / "events.out.tfevents.1.host", events)
    s = by_original(only(tfevents.read(tmp_path)))
    assert set(s) == set(cases)
    for tag, (_, expected) in cases.items():
        assert_points(s[tag], steps, list(expected))


def test_plugin_metadata_decides_per_tag(tmp_path: Path) -> None:
    """A tensor tag is a scalar only when its first metadata names the scalars plugin;
    histograms, text and tensors of other plugins are skipped and listed."""
    hist_meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="histograms"))
    events = []
    for step in range(20):
        events.append(tensor_event("loss", step, tensor_pb2.TensorProto(
            dtype=1, float_val=[step / 10]), meta=step == 0))
        hv = summary_pb2.Summary.Value(tag="weights", tensor=tensor_pb2.TensorProto(
            dtype=2, tensor_content=np.arange(3.0).tobytes(),
            tensor_shape={"dim": [{"size": 3}]}))
        if step == 0:
            hv.metadata.CopyFrom(hist_meta)
        events.append(event_pb2.Event(step=step, summary=summary_pb2.Summary(value=[hv])))
        # A one-element tensor of a non-scalar plugin is not a scalar either.
        events.append(tensor_event("bare", step, tensor_pb2.TensorProto(
            dtype=1, float_val=[1.0]), meta=False))
    # TF1 merged summaries: several values in one event.
    events.append(event_pb2.Event(step=99, summary=summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(tag="a", simple_value=1.5),
        summary_pb2.Summary.Value(tag="b", simple_value=2.5)])))
    write_events(tmp_path / "events.out.tfevents.1.h", events)
    run = only(tfevents.read(tmp_path))
    s = by_original(run)
    assert set(s) == {"loss", "a", "b"}
    assert_points(s["loss"], list(range(20)), [f32(i / 10) for i in range(20)])
    assert_points(s["b"], [99], [2.5])
    assert run.meta["skipped"] == {"weights": "histograms", "bare": "tensor"}


def test_scalar_tag_with_non_scalar_tensor_warns(tmp_path: Path) -> None:
    events = [tensor_event("loss", s, tensor_pb2.TensorProto(dtype=1, float_val=[s]), meta=s == 0)
              for s in range(5)]
    events.append(tensor_event("loss", 5, tensor_pb2.TensorProto(
        dtype=1, float_val=[1, 2], tensor_shape={"dim": [{"size": 2}]}), meta=False))
    events.append(tensor_event("loss", 6, tensor_pb2.TensorProto(
        dtype=7, string_val=[b"x"]), meta=False))
    events.append(tensor_event("loss", 7, tensor_pb2.TensorProto(  # Dim.size absent: 0
        dtype=1, tensor_shape={"dim": [{}]}), meta=False))
    write_events(tmp_path / "events.out.tfevents.1.h", events)
    run = only(tfevents.read(tmp_path))
    assert_points(run["train_loss"], list(range(5)), list(range(5)))
    assert run.warnings == ["'loss': skipped values that are not one number "
                            "(a tensor of 2 elements, not one number)"]


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.fixture(scope="module")
def real_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, tuple]]:
    """A real event file (torch's writer, scalars mixed with histograms and text) and the
    points it holds per tag."""
    d = tmp_path_factory.mktemp("real")
    w = SummaryWriter(str(d))
    for s in range(150):
        w.add_scalar("loss", 1 / (s + 1), s)
        w.add_scalar("acc", s / 150, s)
        if s % 25 == 0:
            w.add_histogram("w", np.arange(5.0) * s, s)
            w.add_text("t", "x" * s, s)
    w.close()
    (path,) = d.iterdir()
    run = only(tfevents.read(path))
    truth = {s.original: (s.steps.copy(), s.values.copy()) for s in run}
    return path.read_bytes(), truth


def write(tmp_path: Path, data: bytes, name: str = "events.out.tfevents.1.host") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_empty_file(tmp_path: Path) -> None:
    p = write(tmp_path, b"")
    with pytest.raises(ReadError, match="empty event file"):
        tfevents.read(p)
    with pytest.raises(ReadError, match="empty"):
        lossdoctor.read(p)


def test_garbage(tmp_path: Path) -> None:
    p = write(tmp_path, bytes(range(256)) * 10)
    with pytest.raises(ReadError) as err:
        tfevents.read(p)
    assert str(err.value) == (f"{p}: not a TensorBoard event file, or corrupt from its start "
                              "(the first record header fails its CRC) at byte 0")


def test_truncated_header(tmp_path: Path, real_file: tuple[bytes, dict]) -> None:
    p = write(tmp_path, real_file[0][:7])
    with pytest.raises(ReadError, match=r"truncated record header \(7 of 12 bytes\)"):
        tfevents.read(p)


def test_truncated_last_record_is_a_warning(tmp_path: Path, real_file: tuple[bytes, dict]) -> None:
    data, truth = real_file
    p = write(tmp_path, data[:-10])  # a run still being written
    run = only(tfevents.read(p))
    (warning,) = run.warnings
    assert warning.startswith(f"{p.name}: truncated record (")
    assert "read the" in warning and "records before it" in warning
    s = by_original(run)
    # Everything but the last point (the last record) is there.
    assert len(s["acc"]) + len(s["loss"]) == len(truth["acc"][0]) + len(truth["loss"][0]) - 1


def test_crc_mismatch_mid_file(tmp_path: Path, real_file: tuple[bytes, dict]) -> None:
    data, truth = real_file
    bad = bytearray(data)
    at = len(data) // 2
    bad[at] ^= 0x01
    p = write(tmp_path, bytes(bad))
    run = only(tfevents.read(p))
    (warning,) = run.warnings
    assert "CRC mismatch in the record" in warning and "at byte" in warning
    offset = int(warning.split("at byte ")[1].split(";")[0])
    (length,) = struct.unpack_from("<Q", data, offset)
    assert offset <= at < offset + 16 + length  # the record holding the flipped byte
    for tag, series in by_original(run).items():
        steps, values = truth[tag]
        assert 0 < len(series) < len(steps)
        np.testing.assert_array_equal(series.values, values[: len(series)])


def test_crc_mismatch_first_record_is_an_error(tmp_path: Path,
                                               real_file: tuple[bytes, dict]) -> None:
    bad = bytearray(real_file[0])
    bad[14] ^= 0x40  # inside the first record's data
    p = write(tmp_path, bytes(bad))
    with pytest.raises(ReadError) as err:
        tfevents.read(p)
    assert str(err.value) == f"{p}: CRC mismatch in the record data (corrupt file) at byte 0"


def test_one_corrupt_file_among_good_ones(tmp_path: Path, real_file: tuple[bytes, dict]) -> None:
    data, _ = real_file
    write(tmp_path, data, "events.out.tfevents.1.a")
    write(tmp_path, b"\x00" * 40, "events.out.tfevents.2.b")
    write(tmp_path, b"", "events.out.tfevents.3.c")
    run = only(tfevents.read(tmp_path))
    assert run.warnings == [
        "events.out.tfevents.2.b: not a TensorBoard event file, or corrupt from its start (the "
        "first record header fails its CRC) at byte 0",
        "events.out.tfevents.3.c: empty event file (nothing written yet)",
    ]


def test_no_scalars(tmp_path: Path) -> None:
    w = SummaryWriter(str(tmp_path))
    w.add_histogram("w", np.arange(4.0), 0)
    w.add_text("t", "hello", 0)
    w.close()
    with pytest.raises(ReadError, match=r"no scalar summaries in 1 event file\(s\) \(only "
                                        r"histogram, text\)"):
        tfevents.read(tmp_path)


def test_unreadable_run_in_a_logdir_is_a_warning(tmp_path: Path,
                                                 real_file: tuple[bytes, dict]) -> None:
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    write(tmp_path / "good", real_file[0])
    write(tmp_path / "bad", b"\x01" * 30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = lossdoctor.read(tmp_path, format="tensorboard")
    assert [r.name for r in runs] == ["good"]
    assert any("bad" in str(w.message) and "not a TensorBoard event file" in str(w.message)
               for w in caught)


def test_sniffed_by_content_and_read_through_dispatcher(tmp_path: Path,
                                                         real_file: tuple[bytes, dict]) -> None:
    p = write(tmp_path, real_file[0], "mylog.bin")
    assert tfevents.sniff(p, real_file[0][:64])
    assert not tfevents.sniff(tmp_path / "x.txt", b"epoch 1 loss 0.5 acc 0.1 lr 0.001\n")
    run = only(lossdoctor.read(p))
    assert run.format == "tensorboard" and set(run.series) == {"train_loss", "train_acc"}


def test_bulk_and_one_by_one_decoding_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            real_file: tuple[bytes, dict]) -> None:
    p = write(tmp_path, real_file[0])
    bulk = only(tfevents.read(p))
    monkeypatch.setattr(tfevents, "_BULK_MIN_ROWS", 10**9)
    single = only(tfevents.read(p))
    monkeypatch.setattr(tfevents, "_MMAP_BYTES", 0)  # and through a memory map
    mapped = only(tfevents.read(p))
    for other in (single, mapped):
        assert list(other.series) == list(bulk.series)
        for name, s in bulk.series.items():
            np.testing.assert_array_equal(other[name].steps, s.steps)
            np.testing.assert_array_equal(other[name].values, s.values)


# ---------------------------------------------------------------------------------------------
# fuzzing: never anything but runs or a ReadError, never an invented point

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def check_prefix(runs: list[lossdoctor.Run], truth: dict[str, tuple]) -> None:
    """Every series read is a prefix of what was written."""
    for run in runs:
        for s in run:
            steps, values = truth[s.original]
            n = len(s)
            np.testing.assert_array_equal(s.steps, steps[:n])
            np.testing.assert_array_equal(s.values, values[:n])


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_random_bytes(tmp_path: Path, data: bytes) -> None:
    p = write(tmp_path, data)
    try:
        tfevents.read(p)
    except ReadError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(cut=st.integers(0, 10**6), flips=st.lists(st.tuples(st.integers(0, 10**6),
                                                          st.integers(0, 7)), max_size=6))
def test_fuzz_real_file_truncations_and_bit_flips(tmp_path: Path, real_file: tuple[bytes, dict],
                                                   cut: int, flips: list[tuple[int, int]]) -> None:
    data, truth = real_file
    bad = bytearray(data[: cut % (len(data) + 1)])
    for at, bit in flips:
        if bad:
            bad[at % len(bad)] ^= 1 << bit
    p = write(tmp_path, bytes(bad))
    try:
        runs = tfevents.read(p)
    except ReadError as exc:
        assert "\n" not in str(exc)
        return
    check_prefix(runs, truth)


@FUZZ
@given(payloads=st.lists(st.binary(max_size=60), min_size=1, max_size=12))
def test_fuzz_valid_framing_random_payloads(tmp_path: Path, payloads: list[bytes]) -> None:
    """Records whose CRCs are right but whose data is anything: the protobuf decoder."""
    prefix = b"\x09" + struct.pack("<d", 1.0) + b"\x10\x05\x2a\x0b\x0a\x09\x0a\x02ab\x15"
    records = [record(prefix + struct.pack("<f", 1.0))] * 9  # a bulk group, then noise
    records += [record(p) for p in payloads]
    records += [record(prefix + p[:4].ljust(4, b"\0")) for p in payloads]
    p = write(tmp_path, b"".join(records))
    try:
        tfevents.read(p)
    except ReadError as exc:
        assert "\n" not in str(exc)


# ---------------------------------------------------------------------------------------------
# exactness: random event streams against the protobuf library as the oracle

ENCODINGS = ["simple", "float_val", "double_val", "content_f4", "content_f8", "content_i4",
             "content_i8", "content_f2", "int_val", "int64_val", "half_val"]


def clamp(x: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(x))) if math.isfinite(x) else 7


def make_value(tag: str, encoding: str, x: float, meta: bool) -> summary_pb2.Summary.Value:
    if encoding == "simple":
        v = summary_pb2.Summary.Value(tag=tag, simple_value=x)
    else:
        t = tensor_pb2.TensorProto()
        if encoding == "float_val":
            t.dtype, t.float_val[:] = 1, [x]
        elif encoding == "double_val":
            t.dtype, t.double_val[:] = 2, [x]
        elif encoding.startswith("content_"):
            code = encoding[-2:]
            np_dtype = {"f4": "<f4", "f8": "<f8", "i4": "<i4", "i8": "<i8", "f2": "<f2"}[code]
            t.dtype = {"f4": 1, "f8": 2, "i4": 3, "i8": 9, "f2": 19}[code]
            with np.errstate(invalid="ignore", over="ignore"):
                if code[0] == "f":
                    arr = np.array([x]).astype(np_dtype)
                else:
                    info = np.iinfo(np_dtype)
                    arr = np.array([clamp(x, int(info.min), int(info.max))], dtype=np_dtype)
            t.tensor_content = arr.tobytes()
        elif encoding == "int_val":
            t.dtype, t.int_val[:] = 3, [clamp(x, -(2**31), 2**31 - 1)]
        elif encoding == "int64_val":
            t.dtype, t.int64_val[:] = 9, [clamp(x, -(2**63), 2**63 - 1)]
        elif encoding == "half_val":
            with np.errstate(over="ignore"):
                t.dtype, t.half_val[:] = 19, [int(np.array(x, dtype=np.float16).view(np.uint16))]
        v = summary_pb2.Summary.Value(tag=tag, tensor=t)
    if meta:
        v.metadata.CopyFrom(scalar_meta())
    return v


def oracle(events: list[event_pb2.Event]) -> dict[str, tuple[list[float], list[float]]]:
    """What TensorBoard makes of the events: the scalar points per tag, in order."""
    from tensorboard.util import tensor_util

    plugins: dict[str, str] = {}
    points: dict[str, list[tuple[str, float, float]]] = {}
    for e in events:
        for v in e.summary.value:
            if v.HasField("metadata") and v.tag not in plugins:
                plugins[v.tag] = v.metadata.plugin_data.plugin_name
            kind = v.WhichOneof("value")
            if kind == "simple_value":
                points.setdefault(v.tag, []).append(("simple", e.step, v.simple_value))
            elif kind == "tensor":
                arr = tensor_util.make_ndarray(v.tensor)
                if arr.size == 1:
                    points.setdefault(v.tag, []).append(("tensor", e.step, float(arr.item())))
    out = {}
    for tag, pts in points.items():
        kept = [(s, x) for kind, s, x in pts if kind == "simple" or plugins.get(tag) == "scalars"]
        if kept:
            out[tag] = ([float(s) for s, _ in kept], [x for _, x in kept])
    return out


series_spec = st.tuples(st.sampled_from(["a", "b", "loss", "x/y"]), st.sampled_from(ENCODINGS),
                        st.booleans())
number = st.one_of(st.floats(width=64), st.integers(-2**40, 2**40).map(float))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(specs=st.lists(series_spec, min_size=1, max_size=4), n=st.integers(1, 30),
       steps=st.lists(st.integers(-2**63, 2**63 - 1), min_size=30, max_size=30),
       xs=st.lists(number, min_size=120, max_size=120), together=st.booleans(),
       data=st.data())
def test_matches_protobuf_oracle(tmp_path: Path, specs: list, n: int, steps: list[int],
                                 xs: list[float], together: bool, data: st.DataObject) -> None:
    events = []
    for i in range(n):
        step = steps[i] if data.draw(st.booleans()) else i * 300  # varint widths change
        values = [make_value(tag, enc, xs[(i * 4 + k) % 120], meta and i == 0)
                  for k, (tag, enc, meta) in enumerate(specs)]
        if together:  # one event with every value (TF1 merged summaries)
            events.append(event_pb2.Event(wall_time=float(i), step=step,
                                          summary=summary_pb2.Summary(value=values)))
        else:
            events += [event_pb2.Event(wall_time=float(i), step=step,
                                       summary=summary_pb2.Summary(value=[v])) for v in values]
    expected = oracle(events)
    write_events(tmp_path / "events.out.tfevents.1.h", events)
    try:
        runs = tfevents.read(tmp_path)
    except ReadError as exc:
        assert not expected, exc
        assert "no scalar summaries" in str(exc)
        return
    got = {s.original: s for s in only(runs)}
    got.pop("epoch", None) if "epoch" in expected else None
    assert set(got) == set(expected)
    for tag, (exp_steps, exp_values) in expected.items():
        np.testing.assert_array_equal(got[tag].steps, np.array(exp_steps, dtype=np.float64))
        np.testing.assert_array_equal(got[tag].values, np.array(exp_values, dtype=np.float64))


def test_file_order_is_numeric(tmp_path: Path) -> None:
    """Files written in the same second sort by torch's counter as a number (2 before 10)."""
    for counter, value in ((10, 2.0), (2, 1.0)):
        write_events(tmp_path / f"events.out.tfevents.1700000000.host.77.{counter}",
                     [event_pb2.Event(step=counter, summary=summary_pb2.Summary(value=[
                         summary_pb2.Summary.Value(tag="loss", simple_value=value)]))])
    run = only(tfevents.read(tmp_path))
    assert_points(run["train_loss"], [2, 10], [1.0, 2.0])


def test_same_metric_name_from_two_directories(tmp_path: Path) -> None:
    w = SummaryWriter(str(tmp_path / "run"))
    for s in range(10):
        w.add_scalar("loss/train", 1.0, s)  # the run's own tag …
        w.add_scalars("loss", {"train": 2.0}, s)  # … and add_scalars' loss_train/ say the same
    w.close()
    s = by_original(only(tfevents.read(tmp_path / "run")))
    assert set(s) == {"loss/train", "run/loss_train/loss"}
    assert s["loss/train"].values.tolist() == [1.0] * 10
    assert s["run/loss_train/loss"].values.tolist() == [2.0] * 10


def test_many_tags_sharing_a_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """40 tags of equal length logged together (per-layer metrics): records of one layout,
    float32 and int32 tensor_content mixed, decoded in one pass; same as the oracle and as
    decoding one record at a time."""
    rng = np.random.default_rng(7)
    events = []
    for step in range(25):
        for k in range(40):
            enc = "content_f4" if k % 2 else "content_i4"
            x = float(rng.normal() * 100)
            value = make_value(f"layer{k:02d}/norm", enc, x, meta=step == 0)
            events.append(event_pb2.Event(wall_time=1.0 + step, step=step,
                                          summary=summary_pb2.Summary(value=[value])))
    write_events(tmp_path / "events.out.tfevents.1.h", events)
    expected = oracle(events)
    for bulk in (True, False):
        if not bulk:
            monkeypatch.setattr(tfevents, "_BULK_MIN_ROWS", 10**9)
        s = by_original(only(tfevents.read(tmp_path)))
        assert list(s) == [f"layer{k:02d}/norm" for k in range(40)]
        for tag, (steps, values) in expected.items():
            assert_points(s[tag], steps, values)


def test_nested_run_is_not_taken_for_add_scalars(tmp_path: Path) -> None:
    """exp/lr_finder/ logs "lr" (its name starts with "lr_") and "loss": a run of its own."""
    w = SummaryWriter(str(tmp_path / "exp"))
    w.add_scalar("lr", 0.1, 0)
    w.close()
    w = SummaryWriter(str(tmp_path / "exp" / "lr_finder"))
    for s in range(5):
        w.add_scalar("lr", 10.0**-s, s)
        w.add_scalar("loss", 1.0 + s, s)
    w.close()
    assert tfevents.find(tmp_path) == [tmp_path / "exp", tmp_path / "exp" / "lr_finder"]
    runs = {r.name: r for r in tfevents.read(tmp_path)}
    assert set(runs) == {"exp", "lr_finder"}
    assert len(runs["exp"]["lr"]) == 1 and len(runs["lr_finder"]["train_loss"]) == 5


def test_a_sub_directory_is_judged_again_when_its_file_changes(tmp_path: Path) -> None:
    """The tags at the head of a sub-directory's file are cached by its size and time: a file
    that grows is read again (here it stops looking like ``add_scalars("lr", …)``)."""

    def scalar(tag: str, step: int) -> event_pb2.Event:
        value = summary_pb2.Summary.Value(tag=tag, simple_value=1.0 / (step + 1))
        return event_pb2.Event(wall_time=1.0 + step, step=step,
                               summary=summary_pb2.Summary(value=[value]))

    w = SummaryWriter(str(tmp_path / "exp"))
    w.add_scalar("lr", 0.1, 0)
    w.close()
    events = tmp_path / "exp" / "lr_finder" / "events.out.tfevents.1.host"
    write_events(events, [scalar("lr", s) for s in range(5)])
    assert tfevents.find(tmp_path) == [tmp_path / "exp"]  # joined as lr/finder
    write_events(events, [scalar("lr", s) for s in range(5)] + [scalar("loss", 5)])
    assert tfevents.find(tmp_path) == [tmp_path / "exp", tmp_path / "exp" / "lr_finder"]


def test_nested_add_scalars_directories_join_their_run(tmp_path: Path) -> None:
    """tensorboardX's ``<run>/<main_tag>/<key>/`` form (a main tag with "/" nests deeper), next
    to Keras-style ``train/`` that is a phase: each is told apart from its head tags."""

    def scalar(tag: str, step: int) -> event_pb2.Event:
        value = summary_pb2.Summary.Value(tag=tag, simple_value=float(step))
        return event_pb2.Event(wall_time=1.0 + step, step=step,
                               summary=summary_pb2.Summary(value=[value]))

    run = tmp_path / "exp"
    write_events(run / "events.out.tfevents.1.host", [scalar("lr", s) for s in range(3)])
    for key in ("train", "val"):
        write_events(run / "acc" / key / "events.out.tfevents.1.host",
                     [scalar("acc", s) for s in range(3)])
    write_events(run / "grad" / "norm" / "w" / "events.out.tfevents.1.host",
                 [scalar("grad/norm", s) for s in range(3)])
    write_events(run / "train" / "events.out.tfevents.1.host",
                 [scalar("loss", s) for s in range(3)])
    assert tfevents.find(tmp_path) == [run]
    names = set(by_original(only(tfevents.read(tmp_path))))
    assert names == {"lr", "acc/train", "acc/val", "grad/norm/w", "train/loss"}
