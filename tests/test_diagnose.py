"""The diagnosis on real runs (the labelled public corpus), on the issue's two canonical short
logs, and on degenerate input; the JSON shape and the CLI's exit codes."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lossdoctor
from lossdoctor.analysis import rise
from lossdoctor.cli import main
from lossdoctor.diagnosis import diagnose, diagnose_all, diagnose_run
from lossdoctor.errors import LossdoctorError
from lossdoctor.findings import KINDS
from lossdoctor.rules.context import Context
from lossdoctor.run import Run, Series

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "corpus" / "real"
FIX = Path(__file__).parent / "fixtures" / "diagnose"


def _real(rid: str) -> list[Run]:
    d = next(REAL.glob(f"{rid}_*"))
    files = [p for p in d.iterdir() if p.is_file()]
    return lossdoctor.read(files[0])


def _generated(rid: str) -> list[Run]:
    d = next((ROOT / "corpus" / "generated").glob(f"{rid}_*"))
    files = [p for p in d.iterdir() if p.is_file() and p.name != "README.md"]
    return lossdoctor.read(files[0])


def _kinds(runs: list[Run]) -> set[str]:
    return {f.kind for r in runs for f in diagnose_run(r).findings} - {"converged"}


def _with_values(run: Run, name: str, values: np.ndarray) -> Run:
    """`run` with series `name`'s values replaced (same steps and epochs)."""
    s = run.series[name]
    return dataclasses.replace(run, series={**run.series,
                                            name: dataclasses.replace(s, values=values)})


def _series(values, *, steps=None, epochs=None, name="train_loss", original="loss") -> Series:
    v = np.asarray(values, dtype=float)
    nan = np.full(len(v), np.nan)
    return Series(name=name, original=original,
                  steps=nan if steps is None else np.asarray(steps, float),
                  epochs=nan if epochs is None else np.asarray(epochs, float), values=v)


def _run(*series: Series) -> Run:
    return Run(name="t", source="test", format="test", series={s.name: s for s in series})


# -- the two short logs ------------------------------------------------------------
def test_loss_rising_after_epoch_18() -> None:
    d = diagnose(FIX / "loss_rising_epoch18.log")
    f = next(f for f in d.findings if f.kind == "loss_rising")
    assert f.metric == "train_loss"
    assert f.start.epoch == 18
    assert f.evidence["best_value"] == pytest.approx(0.2847)
    assert f.evidence["rise_pct"] == pytest.approx(48.6, abs=0.5)
    assert not d.healthy
    names = [r.name for r in f.remedies]
    assert "restore_best_checkpoint" in names and "lower_lr" in names


def test_eight_epochs_bouncing_is_oscillation() -> None:
    d = diagnose(FIX / "oscillation_8_epochs.log")
    assert "oscillation" in d.kinds()
    f = next(f for f in d.findings if f.kind == "oscillation")
    assert f.evidence["low"] == pytest.approx(0.2364)
    assert f.evidence["high"] == pytest.approx(0.2583)


# -- real public runs (labels with high confidence) ----------------------------------------
@pytest.mark.parametrize("rid", ["008", "009", "015", "019", "021", "034", "052", "054"])
def test_healthy_real_runs_stay_silent(rid: str) -> None:
    assert _kinds(_real(rid)) == set()


def test_overfitting_real_run_locates_the_best_step() -> None:
    (run,) = _real("001")
    d = diagnose_run(run)
    f = next(f for f in d.findings if f.kind == "overfitting")
    assert f.metric == "val_loss" and f.start.step == 5600
    assert f.evidence["best_value"] == pytest.approx(0.5089, abs=1e-4)
    restore = next(r for r in f.remedies if r.name == "restore_best_checkpoint")
    assert restore.params["epoch"] == 2


def test_overfitting_with_rising_accuracy_is_also_loss_up_acc_up() -> None:
    (run,) = _real("030")
    d = diagnose_run(run)
    assert {"overfitting", "loss_up_acc_up"} <= set(d.kinds())
    f = next(f for f in d.findings if f.kind == "overfitting")
    assert f.start.epoch == 3
    flood = next(r for r in f.remedies if r.name == "flooding")
    assert 0 < flood.params["b"] < 1


def test_whisper_wer_is_a_lower_is_better_task_metric() -> None:
    (run,) = _real("005")
    d = diagnose_run(run)
    f = next(f for f in d.findings if f.kind == "loss_up_acc_up")
    assert f.evidence["metric"] == "eval_wer" and f.evidence["metric_direction"] == "min"
    assert f.evidence["metric_end"] < f.evidence["metric_at_loss_best"]


def test_nan_from_the_start_is_non_finite() -> None:
    kinds = _kinds(_real("044"))
    assert kinds == {"non_finite"}


def test_astronomical_frozen_loss_is_divergence_and_plateau() -> None:
    assert _kinds(_real("047")) == {"divergence", "plateau"}


def test_appended_runs_stuck_at_chance() -> None:
    runs = _real("029")
    assert len(runs) == 2
    for run in runs:
        assert {"plateau", "underfitting"} <= _kinds([run])


def test_dead_network_wobbling_at_chance_is_underfitting() -> None:
    # g009: SGD lr=0.8 kills the ReLUs in epoch 1; the loss then sits at ln 10 (+-2.5%)
    assert {"plateau", "underfitting"} <= _kinds(_generated("g009"))


@pytest.mark.parametrize("rid", ["g021", "g024", "g068"])
def test_a_loss_passing_near_log_k_is_not_at_chance(rid: str) -> None:
    # their second-half medians are within 2% of ln 7 / ln 4, but they bounce or still fall
    assert "underfitting" not in _kinds(_generated(rid))


def test_a_tail_levelling_off_is_not_underfitting() -> None:
    # 027: the validation loss falls from 0.69 to 0.43 and flattens over its last tenth
    assert "underfitting" not in _kinds(_real("027"))


def test_a_fall_that_wins_back_a_spike_is_not_underfitting() -> None:
    # g031: the validation loss's last third mostly recovers the bump of epochs 15-17
    assert "underfitting" not in _kinds(_generated("g031"))


@pytest.mark.parametrize(("corpus", "rid"), [("real", "003"), ("real", "012"),
                                             ("generated", "g046")])
def test_a_climb_bigger_than_the_bouncing_is_not_oscillation(corpus: str, rid: str) -> None:
    # the validation loss drifts up by more than it bounces (3-13% of its level) after its best
    runs = _real(rid) if corpus == "real" else _generated(rid)
    assert "oscillation" not in _kinds(runs)


def test_wild_bouncing_is_oscillation_across_a_climb() -> None:
    # 028: three appended Keras runs; the validation loss bounces between 0.8 and 6.6
    assert "oscillation" in _kinds(_real("028"))


def test_two_high_minibatches_in_heavy_tailed_noise_are_not_a_spike() -> None:
    # 022 (healthy): per-step losses spread over three decades; two batches at 13x the baseline
    assert _kinds(_real("022")) == set()


def test_a_loss_recovering_from_spikes_is_not_a_plateau() -> None:
    # g035: two bursts of corrupted batches leave the loss above its knee, falling again
    assert _kinds(_generated("g035")) == {"spike"}


def test_spikes_after_a_rise_peaked_are_their_own_events() -> None:
    # g038: a corrupted shard at epoch 12 knocks the model out of its minimum (a rise); the
    # later ones at epochs 25 and 33 stand out of the raised level and recover
    (run,) = _generated("g038")
    d = diagnose_run(run)
    rising = next(f for f in d.findings if f.kind == "loss_rising")
    spikes = next(f for f in d.findings if f.kind == "spike" and f.metric == "train_loss")
    assert rising.evidence["peak"]["index"] < min(p["index"] for p in spikes.evidence["at"][1:])


def test_a_jump_at_the_onset_of_a_rise_is_part_of_it() -> None:
    # g044: LR x10 at epoch 15; the jump it causes is where the rise starts, not a spike
    assert _kinds(_generated("g044")) == {"loss_rising"}


def test_peaks_of_wild_bouncing_are_not_spikes() -> None:
    # g115: per-step regression at the edge of stability bouncing over three decades
    kinds = _kinds(_generated("g115"))
    assert "oscillation" in kinds and "spike" not in kinds


def test_a_spike_far_out_of_a_narrow_band_is_kept() -> None:
    # g019: the validation loss bounces 0.9-1.6 and jumps once to 6.6
    (run,) = _generated("g019")
    kinds = {(f.kind, f.metric) for f in diagnose_run(run).findings}
    assert {("oscillation", "val_loss"), ("spike", "val_loss")} <= kinds


@pytest.mark.parametrize("rid", ["g054", "g083"])
def test_a_decay_steepest_at_its_start_is_not_a_stall(rid: str) -> None:
    assert "plateau" not in _kinds(_generated(rid))


def test_a_noisy_exponential_decay_watched_early_is_not_a_stall() -> None:
    # the first 1,350 steps of 2 exp(-t/1500) + 0.2 with 10% noise (the watcher's view of a
    # healthy run): the first 13% fall by less than five level-noise sigma, but faster than
    # the curve falls after them
    rng = np.random.default_rng(4)
    x = np.arange(1350.0)
    loss = (2.0 * np.exp(-x / 1500) + 0.2) * np.exp(0.1 * rng.standard_normal(len(x)))
    assert _kinds([_run(_series(loss, steps=x))]) == set()


def test_a_stall_at_chance_then_learning_is_a_plateau() -> None:
    # g067: stuck at ln 10 for ~650 steps of 1,840, then it learns
    assert "plateau" in _kinds(_generated("g067"))


def test_a_language_model_jump_that_gives_back_half_its_progress_is_a_spike() -> None:
    # 046: a 2-layer GRU at 5.2 nats jumps to 7.6 in epoch 4 (1.5x, half the run's drop); the
    # LR is then cut 20 -> 5 -> 1.25 -> 0.31 in steps: the slow finish is the schedule's floor
    assert _kinds(_real("046")) == {"spike"}


def _decay(seed: int, noise: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """3,000 per-step minibatch losses of 3 exp(-t/150) + 0.3 with `noise` log-normal noise."""
    rng = np.random.default_rng(seed)
    x = np.arange(3000.0)
    return x, (3.0 * np.exp(-x / 150) + 0.3) * np.exp(noise * rng.standard_normal(len(x)))


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_a_bump_in_the_initial_descent_below_the_start_is_not_a_spike(seed: int) -> None:
    # four minibatches at 1.6x the falling baseline near step 100, still below the first loss
    x, loss = _decay(seed)
    loss[100:104] *= 1.6
    assert loss[100:104].max() < loss[:5].min()
    assert _kinds([_run(_series(loss, steps=x))]) == set()


def test_an_early_blow_up_above_the_start_is_a_spike() -> None:
    x, loss = _decay(0)
    loss[40:44] *= np.array([2.5, 3.0, 3.0, 2.5])
    assert loss[40:44].max() > loss[:5].max()
    assert _kinds([_run(_series(loss, steps=x))]) == {"spike"}


def test_a_spike_filling_most_of_a_short_bin_is_seen() -> None:
    # 3,000 points are summarised in bins of five: four spiked points of five must not be read
    # as that bin's own noise
    x, loss = _decay(7)
    loss[1500:1504] *= np.array([3.0, 4.0, 4.0, 3.0])
    (f,) = [f for f in diagnose_run(_run(_series(loss, steps=x))).findings if f.kind == "spike"]
    assert 1500 <= f.evidence["largest"]["step"] <= 1503


def test_a_rise_does_not_explain_away_wild_bouncing() -> None:
    # 042: a GAN's generator loss climbs from ~0.75 and then bounces 1-6.6 (38% of its level)
    kinds = {(f.kind, f.metric) for f in diagnose_run(_real("042")[0]).findings}
    assert {("loss_rising", "Gen Loss"), ("oscillation", "Gen Loss")} <= kinds


@pytest.mark.parametrize("name", ["heldout_cosine_climb.csv", "heldout_exp_lr_climb.log"])
def test_a_smooth_climb_is_a_rise_not_wild_bouncing(name: str) -> None:
    # runs of the generator retrained with seed + 1000 (evaluation/holdout.py): an LR that
    # climbs back (cosine with T_max at half the run) or grows exponentially makes the loss
    # climb smoothly, far off a straight line but without bouncing from point to point
    kinds = {f.kind for r in lossdoctor.read(FIX / name) for f in diagnose_run(r).findings}
    assert "loss_rising" in kinds and "oscillation" not in kinds


@pytest.mark.parametrize(("raised", "expected"), [(1, False), (2, True)])
def test_a_rise_needs_more_than_the_last_point(raised: int, expected: bool) -> None:
    # 034 (a Keras history that converged at 5e-4): one noisy last epoch 15% above the best is
    # not a loss that "climbed and stayed up"; the same jump on the last two epochs is
    (run,) = _real("034")
    v = run.series["train_loss"].values.copy()
    v[-raised:] = 1.15 * v.min()
    found = "loss_rising" in _kinds([_with_values(run, "train_loss", v)])
    assert found is expected


def test_a_jump_with_no_progress_to_give_back_needs_its_ratio() -> None:
    # retrained runs (evaluation/holdout.py, seed + 2000): a GRU stuck at ln 10 (a 1% blip is
    # "half its drop" of 0.07%), and a validation loss that had climbed to 3x its start (a
    # 1.19x bump on the way up): neither gives back progress, so 1.5x the baseline is required
    stuck = lossdoctor.read(FIX / "heldout_chance_tb")
    assert _kinds(stuck) == {"plateau", "underfitting"}
    climbing = lossdoctor.read(FIX / "heldout_val_blowup.csv")
    assert "spike" not in _kinds(climbing)
    assert "spike" in _kinds(_real("046"))  # 1.21x, but from below its start: half its drop


def test_a_short_falling_validation_tail_is_progress_not_oscillation() -> None:
    # retrained runs (evaluation/holdout.py, seed + 3000), validation tails of 5-6 points:
    # 1.336 1.150 1.111 1.061 1.097 (one reversal: Kendall p = 0.083, never "significant") and
    # a fall from a bad-batch bump; the second run's bumps themselves are spikes
    assert "oscillation" not in _kinds(lossdoctor.read(FIX / "heldout_short_val_tail_tb"))
    flipped = {(f.kind, f.metric) for r in lossdoctor.read(FIX / "heldout_flipped_targets.csv")
               for f in diagnose_run(r).findings}
    assert ("oscillation", "val_loss") not in flipped and ("spike", "val_loss") in flipped


def test_a_drop_inside_the_first_tenth_is_progress() -> None:
    # retrained run (seed + 4000): 60-sample sine regression whose training loss falls from
    # 0.33 to 0.12 within its first 100 of 1,800 steps, then stays flat in minibatch noise
    (run,) = lossdoctor.read(FIX / "heldout_fast_drop_flat.jsonl")
    forms = {f.evidence.get("form") for f in diagnose_run(run).findings
             if f.kind == "plateau" and f.metric == "train_loss"}
    assert "no_progress" not in forms


def test_a_validation_loss_flat_after_the_training_set_is_learnt_has_converged() -> None:
    # retrained run (seed + 2000): a CNN on digits memorises its training set (loss 2.3 ->
    # 0.0003) while the validation loss, first evaluated after an epoch at 0.064, settles at
    # 0.0370 (identical to its 3 printed digits for the second half) at 99.2% accuracy
    (run,) = lossdoctor.read(FIX / "heldout_memorised_val_flat.log")
    assert diagnose_run(run).healthy
    # a validation loss that stalls well above a still-falling training loss is still told
    forms = {f.evidence.get("form") for f in diagnose_run(_real("031")[0]).findings
             if f.kind == "plateau"}
    assert "validation_stalled" in forms


def test_a_loss_flat_after_falling_an_order_of_magnitude_has_converged() -> None:
    # retrained run (seed + 4000): SGD with unlogged step decays; the training loss falls from
    # 0.25 to 0.006 by step 790 (its knee), then stays flat for the last 60% of the run
    (run,) = lossdoctor.read(FIX / "heldout_step_decay_converged.csv")
    kinds = {(f.kind, f.metric) for f in diagnose_run(run).findings}
    assert ("plateau", "train_loss") not in kinds and ("converged", "train_loss") in kinds


def test_loss_up_acc_up_needs_overfitting() -> None:
    # retrained runs (seed + 8000): a CNN with warm restarts whose last restart lifts the
    # validation loss 0.355 -> 0.515 -> 0.424 (and the training loss with it), and a warmup too
    # long for Adam that makes both losses climb; the accuracy holds in both, but neither is
    # overfitting, so neither is over-confidence
    (restart,) = lossdoctor.read(FIX / "heldout_sgdr_restart_tb")
    assert diagnose_run(restart).healthy
    (run,) = lossdoctor.read(FIX / "heldout_long_warmup_rise_trainer_state.json")
    kinds = {(f.kind, f.metric) for f in diagnose_run(run).findings}
    assert kinds == {("loss_rising", "train_loss"), ("loss_rising", "val_loss")}
    # beside an overfitting finding it stays
    assert {"overfitting", "loss_up_acc_up"} <= _kinds(_real("001"))


def test_val_oscillation_real_run() -> None:
    assert "oscillation" in _kinds(_real("032"))


def test_spikes_real_run() -> None:
    (run,) = _real("055")
    f = next(f for f in diagnose_run(run).findings if f.kind == "spike")
    steps = {p["step"] for p in f.evidence["at"]}
    assert {986, 2280} <= steps


def test_negative_loss_is_handled() -> None:
    (run,) = _real("058")
    assert run["train_loss"].values.max() < 0
    assert _kinds([run]) == set()


@pytest.mark.parametrize("rid", ["001", "030", "044", "047", "055", "008"])
@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_kinds_do_not_depend_on_the_loss_scale(rid: str, scale: float) -> None:
    runs = _real(rid)
    scaled = []
    for r in runs:
        series = {}
        for name, s in r.series.items():
            v = s.values * scale if s.direction == "min" else s.values
            series[name] = Series(name=name, original=s.original, steps=s.steps,
                                  epochs=s.epochs, values=v)
        scaled.append(Run(name=r.name, source=r.source, format=r.format, series=series))
    assert _kinds(scaled) == _kinds(runs)


# -- degenerate input ----------------------------------------------------------------------
def test_one_point() -> None:
    d = diagnose_run(_run(_series([0.5], steps=[1])))
    assert d.findings == [] and d.healthy


def test_constant_series() -> None:
    d = diagnose_run(_run(_series(np.full(50, 0.31274), steps=np.arange(50))))
    assert all(f.kind in ("plateau", "underfitting") for f in d.findings)
    assert any(f.kind == "plateau" and f.evidence["form"] == "frozen" for f in d.findings)


def test_all_nan_is_non_finite_only() -> None:
    d = diagnose_run(_run(_series(np.full(20, np.nan), steps=np.arange(20))))
    assert [f.kind for f in d.findings] == ["non_finite"]
    assert d.findings[0].evidence["from_start"] is True
    json.dumps(d.to_dict(), allow_nan=False)  # raises on a NaN or inf number


@pytest.mark.parametrize(("name", "values"), [
    ("val_loss", [0.5421, 0.1125, -np.inf, 0.9841, np.nan, np.nan, 0.6413, np.nan, 1e300, np.nan,
                  np.nan, 1e300, np.inf]),
    ("train_loss", [0.0, 388113.9, 4869732.3, 40.34, -np.inf, 1e300, -np.inf, 1e300]),
    ("val_loss", list(np.random.default_rng(1).random(40) * 1.7e308)),
])
def test_values_near_the_float_limit_do_not_overflow(name: str, values: list[float]) -> None:
    # found by fuzzing: a loss mixing ordinary values with 1e300 (a logger's garbage) is read on
    # a log scale; turning its levels back into values overflowed a Python float, and values
    # near 1.7e308 made numpy warn about overflows in the middle of the analysis
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        d = diagnose_run(_run(_series(values, steps=np.arange(len(values)) * 80.0, name=name)))
    json.dumps(d.to_dict(), allow_nan=False)


def test_resumed_run_with_steps_going_backwards() -> None:
    # steps 0..99, then a resume from step 60 re-doing 60..149
    steps = np.concatenate([np.arange(100), np.arange(60, 150)])
    vals = np.concatenate([2 * np.exp(-np.arange(100) / 30) + 0.1,
                           2 * np.exp(-np.arange(60, 150) / 30) + 0.1])
    d = diagnose_run(_run(_series(vals, steps=steps)))
    assert any("re-logged" in n for n in d.notes)
    assert "loss_rising" not in d.kinds() and "spike" not in d.kinds()


def test_duplicate_steps() -> None:
    steps = np.repeat(np.arange(30), 2)
    vals = np.repeat(np.exp(-np.arange(30) / 8), 2)
    d = diagnose_run(_run(_series(vals, steps=steps)))
    assert d.healthy


def test_epochs_without_steps() -> None:
    e = np.arange(1, 31)
    d = diagnose_run(_run(_series(1 / e + 0.1, epochs=e)))
    assert d.healthy
    assert all(f.start.step is None for f in d.findings)


def test_points_without_steps_or_epochs() -> None:
    d = diagnose_run(_run(_series(np.exp(-np.arange(40) / 10))))
    assert d.healthy


def test_metric_option_and_unknown_metric() -> None:
    (run,) = _real("030")
    d = diagnose_run(run, metric="train_loss")
    assert all(f.metric == "train_loss" for f in d.findings)
    with pytest.raises(LossdoctorError, match="no metric 'nope'"):
        diagnose_run(run, metric="nope")


def test_select_and_ignore() -> None:
    (run,) = _real("030")
    assert diagnose_run(run, select=["overfitting"]).kinds() == ["overfitting"]
    assert "overfitting" not in diagnose_run(run, ignore=["overfitting"]).kinds()
    with pytest.raises(LossdoctorError, match="unknown kind"):
        diagnose_run(run, select=["overfit"])


def test_diagnose_all_in_parallel_matches_serial() -> None:
    runs = [r for rid in ("001", "030", "044", "055") for r in _real(rid)] * 5
    serial = [d.kinds() for d in diagnose_all(runs, jobs=1)]
    parallel = [d.kinds() for d in diagnose_all(runs, jobs=2)]
    assert serial == parallel


# -- JSON and CLI --------------------------------------------------------------------------
def test_json_follows_the_design(capsys: pytest.CaptureFixture[str]) -> None:
    path = next((REAL).glob("001_*/trainer_state.json"))
    assert main(["diagnose", str(path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == 1
    (run,) = doc["runs"]
    assert run["format"] == "hf_trainer_state" and run["healthy"] is False
    assert run["metrics"]["train_loss"]["points"] == 55
    f = next(f for f in run["findings"] if f["kind"] == "overfitting")
    assert f["start"] == {"step": 5600, "epoch": 2}
    assert f["severity"] == "warning" and f["summary"]
    assert f["remedies"][0]["name"] == "restore_best_checkpoint"
    assert all(k in KINDS for k in (g["kind"] for g in run["findings"]))


def test_json_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    path = next((REAL).glob("030_*/training_log.csv"))
    main(["diagnose", str(path), "--json", "--lang", "zh"])
    doc = json.loads(capsys.readouterr().out)
    summary = doc["runs"][0]["findings"][0]["summary"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in summary)


def test_several_runs_end_with_a_count(capsys: pytest.CaptureFixture[str]) -> None:
    healthy = next(REAL.glob("021_*/metrics.csv"))
    sick = next(REAL.glob("030_*/training_log.csv"))
    main(["diagnose", str(healthy), str(sick)])
    assert capsys.readouterr().out.rstrip().endswith("2 runs: 1 healthy, 1 needing attention")
    main(["diagnose", str(healthy), str(sick), "--lang", "zh"])
    assert capsys.readouterr().out.rstrip().endswith("2 个运行：1 个健康，1 个需要处理")


def test_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    healthy = next(REAL.glob("021_*/metrics.csv"))
    sick = next(REAL.glob("030_*/training_log.csv"))
    assert main(["diagnose", str(healthy)]) == 0
    assert main(["diagnose", str(sick)]) == 1
    assert main(["diagnose", str(sick), "--fail-on", "error"]) == 0
    assert main(["diagnose", str(sick), "--fail-on", "overfitting"]) == 1
    assert main(["diagnose", str(sick), "--fail-on", "spike,divergence"]) == 0
    assert main(["diagnose", str(sick), "--fail-on", "never"]) == 0
    assert main(["diagnose", str(sick), "--ignore", "overfitting,loss_up_acc_up"]) == 0
    assert main(["diagnose", str(sick), "--fail-on", "bogus"]) == 2
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert main(["diagnose", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "empty.log" in err and "Traceback" not in err


def test_terminal_report_is_plain_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    sick = next(REAL.glob("030_*/training_log.csv"))
    main(["diagnose", str(sick)])
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    assert "overfitting" in out and "epoch 3" in out


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "overfitting"]) == 0
    assert capsys.readouterr().out.startswith("# overfitting:")
    assert main(["explain", "spike", "--lang", "zh"]) == 0
    zh = capsys.readouterr().out
    assert zh.startswith("# spike:") and "## 处理方法" in zh
    assert main(["explain"]) == 0
    listing = capsys.readouterr().out
    assert all(k in listing for k in KINDS)
    assert main(["explain", "nope"]) == 2


def test_json_of_an_astronomical_run_is_strict() -> None:
    (run,) = _real("047")
    text = json.dumps(diagnose_run(run).to_dict(), allow_nan=False)  # raises on NaN/inf
    assert '"divergence"' in text


def test_rounded_values_are_not_frozen() -> None:
    # a memorised loss printed with 4 decimals: 0.0001 forever is rounding, not a frozen run
    v = np.concatenate([np.exp(-np.arange(30) / 4.0), np.full(30, 1e-4)])
    d = diagnose_run(_run(_series(np.round(v, 4), epochs=np.arange(60))))
    assert not any(f.evidence.get("form") == "frozen" for f in d.findings)


# -- fuzz: any values, any axes -------------------------------------------------------------
_FUZZ_NAMES = ["train_loss", "val_loss", "val_acc", "lr", "grad_norm", "val_wer"]
_SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e300, -1e300, 1.7e308, 5e-324])


@st.composite
def _fuzz_series(draw: st.DrawFn, name: str) -> Series:
    n = draw(st.sampled_from([0, 1, 2, 3, 6, 13, 40, 200]))
    base = draw(st.sampled_from(["noise", "decay", "constant", "wide", "walk", "bumps"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = np.arange(n, dtype=float)
    values = {"noise": rng.standard_normal(n), "decay": np.exp(-x / 20) + 0.05 * rng.random(n),
              "constant": np.full(n, 0.3127), "wide": np.exp(rng.standard_normal(n) * 30),
              "walk": np.cumsum(rng.standard_normal(n)) * 1e6,
              # a smooth descent with a few points thrown up to 30x, the first one included
              "bumps": np.exp(-x / 20) * np.where(rng.random(n) < 0.15,
                                                  np.exp(rng.random(n) * 3.4), 1.0)}[base]
    for i in draw(st.lists(st.integers(0, max(0, n - 1)), max_size=5)) if n else []:
        values[i] = draw(_SPECIAL)
    axis = draw(st.sampled_from(["none", "steps", "duplicates", "resumed", "gaps", "epochs"]))
    steps = {"none": np.full(n, np.nan), "steps": x * 10, "duplicates": np.floor(x / 3),
             "resumed": np.concatenate([x[: n // 2], x[: n - n // 2]]),
             "gaps": np.where(rng.random(n) < 0.3, np.nan, x),
             "epochs": np.full(n, np.nan)}[axis]
    epochs = x + 1 if axis == "epochs" else np.full(n, np.nan)
    return Series(name=name, original=name, steps=steps, epochs=epochs, values=values)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_any_run_is_diagnosed_without_error_or_warning(data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from(_FUZZ_NAMES), min_size=1, max_size=4, unique=True))
    run = _run(*(data.draw(_fuzz_series(name)) for name in names))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        d = diagnose_run(run)
    json.dumps(d.to_dict(), allow_nan=False)
    for f in d.findings:
        assert f.summary("zh") and f.summary("en")


def test_a_training_loss_logged_between_evaluations_is_a_minibatch_curve() -> None:
    # a recipe of evaluation/fresh.py (GRU on mnist1d, RMSprop, seed 50000): 47 single-batch
    # losses logged every 20 steps, validation every 250; its last third bounces in minibatch
    # noise (0.94-1.26) while validation still improves. 47 points are fewer than
    # MINIBATCH_POINTS, but 15 training logs per evaluation make it a minibatch curve.
    from lossdoctor.rules.context import MINIBATCH_POINTS, Context

    (run,) = lossdoctor.read(FIX / "fresh_gru_steps_few_logs.log")
    ctx = Context(run)
    assert len(ctx.train) < MINIBATCH_POINTS and ctx.minibatch(ctx.train)
    assert not ctx.minibatch(ctx.val)
    assert "oscillation" not in _kinds([run])
    # the same losses without the evaluations are judged as before (too few points to tell)
    alone = dataclasses.replace(run, series={"train_loss": run.series["train_loss"]})
    assert not Context(alone).minibatch(Context(alone).train)


def test_one_jump_then_a_recovery_is_not_oscillation() -> None:
    # a bad batch at step 600 (evaluation/fresh.py recipe p08, seed 50000) throws validation
    # from 0.87 to 2.97, then it falls back every evaluation: 1.37 1.12 1.03 0.96 0.91. The
    # direction changes twice, but the curve goes up once: a jump, not bouncing.
    (run,) = lossdoctor.read(FIX / "fresh_bad_batch_val_jump_trainer_state.json")
    kinds = {(f.kind, f.metric) for f in diagnose_run(run).findings}
    assert ("oscillation", "val_loss") not in kinds and ("spike", "train_loss") in kinds
    # the training loss's burst (392, then 4.9 7.5 5.8 …: one point of it below the threshold)
    # is one event, its largest point the bad batch itself, not two with the first unrecovered
    spike = next(f for f in diagnose_run(run).findings if f.kind == "spike")
    assert spike.evidence["count"] == 1 and spike.evidence["largest"]["step"] == 600
    assert spike.evidence["largest"]["value"] > 390
    # the corpus's bad-batch run g032: a validation jump labelled spike, no bouncing
    assert "oscillation" not in _kinds(_generated("g032"))
    # bouncing that goes up twice or more still is oscillation (real runs 032 and 028)
    assert "oscillation" in _kinds(_real("032")) and "oscillation" in _kinds(_real("028"))


@pytest.mark.parametrize(("corpus", "rid", "trend", "words"), [
    ("generated", "g120", "held", "held within its noise (0.9638 → 0.9618)"),
    ("real", "001", "improved", "improved (0.8517 → 0.8588)"),
])
def test_loss_up_acc_up_says_whether_the_metric_held_or_improved(
        corpus: str, rid: str, trend: str, words: str) -> None:
    # a metric a little lower at the end but within its noise "held"; it did not "improve"
    runs = _real(rid) if corpus == "real" else _generated(rid)
    f = next(f for r in runs for f in diagnose_run(r).findings if f.kind == "loss_up_acc_up")
    assert f.evidence["metric_trend"] == trend
    assert words in f.summary()
    assert ("持平" in f.summary("zh")) is (trend == "held")


def test_three_evaluations_can_show_that_validation_still_improves() -> None:
    # evaluation/fresh.py recipe f07 (GRU on mnist1d, RMSprop), seed 60002: the training loss
    # gains only 10% over its last 700 of 945 steps, while validation, evaluated three times,
    # improves 1.41 → 1.22 → 1.18: a slow training loss beside a model that still generalises
    # better is not a stall
    (run,) = lossdoctor.read(FIX / "fresh_gru_three_evals.log")
    assert len(run.series["val_loss"]) == 3
    assert _kinds([run]) == set()


def test_a_minibatch_level_wandering_inside_its_noise_is_not_a_rise() -> None:
    # evaluation/fresh.py recipe f27 (GRU on mnist1d, AdamW, warmup + cosine), seed 90000: over
    # the last 10 of 157 logged minibatch losses, with the LR annealed to ~0, the smoothed level
    # drifts from 0.0102 to 0.0157 while single points scatter 0.007-0.017 (±45 %): the climb is
    # inside the minibatch noise, not a loss going back up
    (run,) = lossdoctor.read(FIX / "fresh_gru_cosine_end_trainer_state.json")
    ctx = Context(run)
    assert ctx.minibatch(ctx.train) and rise(ctx.train).post < 10
    assert "loss_rising" not in _kinds([run])
    # the same run with its last four minibatch losses tripled (a climb out of the noise, as
    # few bins after the best) is still a rising loss
    up = run.series["train_loss"].values.copy()
    up[-4:] *= 3
    risen = _with_values(run, "train_loss", up)
    assert rise(Context(risen).train).post < 10
    assert "loss_rising" in _kinds([risen])


def test_a_burst_that_stays_elevated_before_recovering_is_one_recovered_spike() -> None:
    # evaluation/fresh.py recipe p08 (a bad batch at step 600), seed 90000: the minibatch loss
    # jumps from 0.53 to 534, then stays at 4.8 4.1 4.8 4.3 (still clearly elevated) before
    # falling back within the noise of its baseline: one spike that recovered, found although
    # its hot points are followed by three elevated ones
    (run,) = lossdoctor.read(FIX / "fresh_bad_batch_slow_recovery_trainer_state.json")
    spike = [f for f in diagnose_run(run).findings if f.kind == "spike"]
    assert [f.metric for f in spike] == ["train_loss"]
    assert spike[0].evidence["count"] == 1 and spike[0].evidence["largest"]["step"] == 600


def test_a_stall_judged_by_the_evaluations_inside_it() -> None:
    # evaluation/fresh.py recipe f07 (GRU on mnist1d, RMSprop), seed 110001: the training loss
    # gains 13 % over its last 540 of 940 steps while validation, evaluated at steps 250, 500
    # and 750, improves 1.238 → 1.172 between the two evaluations inside that stretch: a slow
    # training loss beside a model that still generalises better, not a stall (medians of the
    # three evaluations overlapped and measured -2.7 %)
    (run,) = lossdoctor.read(FIX / "fresh_gru_two_evals_in_stall.log")
    assert _kinds([run]) == set()
    # the same run with no improvement between those two evaluations is a stall
    flat = run.series["val_loss"].values.copy()
    flat[2] = flat[1]
    stalled = _with_values(run, "val_loss", flat)
    plateau = [f for f in diagnose_run(stalled).findings if f.kind == "plateau"]
    assert [f.metric for f in plateau] == ["train_loss"]
    # an evaluation after the stretch is not inside it: the corpus's GRU run g030 sits at
    # chance for 130 steps with one evaluation (63) in the stall and the next (126) on the way
    # out; it stays a plateau, as labelled
    assert "plateau" in _kinds(_generated("g030"))


def test_a_validation_loss_lagging_a_falling_training_loss_is_not_a_stall() -> None:
    # evaluation/fresh.py recipe f25 (regression, SGD with exponential decay), seed 110001:
    # validation sits at 0.056-0.070 for its first five evaluations while the training loss
    # falls from 0.16 to 0.027, then validation falls to 0.028: it lagged a model that was
    # learning, it did not stall
    run_dir = FIX / "fresh_val_lags_train_tb"
    (run,) = lossdoctor.read(run_dir)
    assert "plateau" not in _kinds([run])
    # the same validation beside a training loss that stands still over those evaluations is
    # a stall at the start
    still = run.series["train_loss"].values.copy()
    still[:7] = still[6]
    stuck = _with_values(run, "train_loss", still)
    plateau = [f for f in diagnose_run(stuck).findings if f.kind == "plateau"]
    assert [(f.metric, f.evidence["form"]) for f in plateau] == [
        ("val_loss", "stalled_then_dropped")]


def test_a_validation_loss_recovering_from_a_jump_is_not_overfitting() -> None:
    # evaluation/fresh.py recipe p08 (a bad batch at step 600), seed 110001: validation goes
    # 0.761 → 3.589 in one evaluation, then falls back every evaluation (1.465 1.192 1.018 0.917
    # 0.849): still 12 % above its best at the end, but recovering from a shock, not a widening
    # gap and not over-confidence
    (run,) = lossdoctor.read(FIX / "fresh_bad_batch_val_recovering_trainer_state.json")
    kinds = _kinds([run])
    assert "spike" in kinds
    assert not kinds & {"overfitting", "loss_up_acc_up"}
    # nor is the training loss, thrown back from 0.6 to 409 and falling again since, "stalled"
    # for ending near where it was before the batch: it is recovering from the setback
    assert "plateau" not in kinds
    # the same training loss without the setback (its last 20 losses before the batch
    # repeated to the end) is a slow phase that stalled
    y = run.series["train_loss"].values.copy()
    i = int(np.searchsorted(run.series["train_loss"].steps, 595))
    y[i:] = np.resize(y[i - 20 : i], len(y) - i)
    flat = [f for f in diagnose_run(_with_values(run, "train_loss", y)).findings
            if f.kind == "plateau"]
    assert [f.evidence["form"] for f in flat] == ["slow_phase_stalled"]
    # the same jump with validation staying up after it is still a rise
    held = run.series["val_loss"].values.copy()
    held[5:] = held[5]
    stays = _with_values(run, "val_loss", held)
    assert {"overfitting", "loss_up_acc_up"} <= _kinds([stays])


def test_an_epoch_loss_wobbling_under_an_annealed_lr_is_not_a_rise() -> None:
    # evaluation/fresh.py recipe f06 (digits MLP, dropout, batch 256, warmup + cosine), seed
    # 120000: over the last 4 epochs, with the LR annealed from 8e-5 to 3e-6, the epoch-mean
    # training loss reads 0.0128 0.0282 0.0146 0.0110 against 0.009-0.013 before: one noisy
    # epoch lifts the smoothed level "+57 %", but the points after the best sit where they
    # sat before it, and an LR near zero barely moves the weights
    (run,) = lossdoctor.read(FIX / "fresh_cosine_end_epoch_noise.log")
    ctx = Context(run)
    r = rise(ctx.train)
    assert r.post < 10
    assert ctx.schedule(ctx.train).annealed(float(ctx.train.x[r.shape.best_point]),
                                            float(ctx.train.x[-1]))
    assert "loss_rising" not in _kinds([run])
    # the same run with its last four training losses tripled still is a rising loss
    up = run.series["train_loss"].values.copy()
    up[-4:] *= 3
    risen = _with_values(run, "train_loss", up)
    assert "loss_rising" in _kinds([risen])


def _largest_spikes_scaled(run: Run, step: float, factor: float) -> list[object]:
    """The step of each spike finding's largest spike once `run`'s training loss logged at
    `step` is multiplied by `factor`."""
    y = run.series["train_loss"].values.copy()
    y[int(np.searchsorted(run.series["train_loss"].steps, step))] *= factor
    return [f.evidence["largest"]["step"]
            for f in diagnose_run(_with_values(run, "train_loss", y)).findings
            if f.kind == "spike"]


def test_the_top_of_a_heavy_minibatch_tail_is_not_a_spike() -> None:
    # evaluation/holdout.py, recipe reg-mlp-long-warmup-cosine (g106), seed +20000: among
    # 2,000 logged minibatch losses the largest sits at 11.8x its baseline (53σ, one point), but
    # the heights below it fall off continuously (49, 34, 26, 26, 17, 16, 13σ …, eleven points
    # above the 10.6σ threshold, no step of 2.5x between them): the top of a heavy-tailed
    # minibatch noise, not an extreme batch
    (run,) = lossdoctor.read(FIX / "heldout_heavy_tail_minibatch.log")
    assert "spike" not in _kinds([run])
    # the same loss three times as high (156σ) stands 3x above the rest of the tail: a spike
    assert _largest_spikes_scaled(run, 29500, 3) == [29500]
    # the corpus's labelled single-batch spikes stand 4-7x above the next heights below them
    assert "spike" in _kinds(_generated("g035")) and "spike" in _kinds(_generated("g036"))


def test_a_single_minibatch_loss_far_above_a_near_zero_baseline_must_stand_apart_too() -> None:
    # corpus/real 012 (a CodeBERT classifier memorising its training set): its minibatch loss
    # sits at ~2e-4 and every misclassified example lifts one logged loss hundreds of times
    # above it (0.29 at step 3440 is 1,454x, 15.6σ); the heights fall off continuously below it
    # (12.7, 12.4, 10.2, 9.6, 9.5σ …): uniformly heavy-tailed noise, labelled no spike in review
    (run,) = _real("012")
    assert "spike" not in _kinds([run])
    # the same loss three times higher stands 3x above the next: a spike
    assert _largest_spikes_scaled(run, 3440, 3) == [3440]
    # the corpus's labelled single bad batches far above their baseline are still spikes
    assert all("spike" in _kinds(_generated(g)) for g in ("g032", "g037"))


def test_a_slow_phase_is_judged_by_its_tail_line_not_its_last_bin() -> None:
    # evaluation/fresh.py recipe f07 (GRU on mnist1d, RMSprop), seed 170000: after its knee
    # (level 1.36 at step 280) the minibatch loss falls to 0.99 by step 860, then its last four
    # losses tick up and the smoothed last bin reads 1.20: "12 % gained, stalled". The tail's
    # Theil–Sen line ends at 1.11 (18 % gained): a slow phase that was still improving
    (run,) = lossdoctor.read(FIX / "fresh_gru_slow_phase_end_uptick.log")
    assert "plateau" not in _kinds([run])
    # the same run with its losses from step 300 on repeating those of steps 280-400 (a slow
    # phase that stopped improving) is a stall
    y = run.series["train_loss"].values.copy()
    i = int(np.searchsorted(run.series["train_loss"].steps, 300))
    y[i:] = np.resize(y[i - 1 : i + 6], len(y) - i)
    plateau = [f for f in diagnose_run(_with_values(run, "train_loss", y)).findings
               if f.kind == "plateau"]
    assert [(f.metric, f.evidence["form"]) for f in plateau] == [
        ("train_loss", "slow_phase_stalled")]


def test_a_step_back_inside_the_initial_descent_is_not_a_spike() -> None:
    # held-out seed +16000 of the corpus's healthy g097 (a regression, SGD with step decay):
    # validation 0.350, 0.222, 0.132, 0.211, 0.083 … — the third evaluation steps back to
    # where the curve was two evaluations earlier, inside a descent that goes on: not a jump
    (run,) = lossdoctor.read(FIX / "heldout_descent_step_back.csv")
    assert "spike" not in _kinds([run])
    # the same point thrown above both evaluations before it is a spike
    y = run.series["val_loss"].values.copy()
    y[3] = 0.3
    spike = [f for f in diagnose_run(_with_values(run, "val_loss", y)).findings
             if f.kind == "spike"]
    assert [f.metric for f in spike] == ["val_loss"]
    # the real corpus's word-level RNN 045: validation 39.7, 26.05, 17.68, 16.95, 30.37, 8.44
    # jumps above the evaluations before it during its descent: a labelled spike, still found
    assert "spike" in _kinds(_real("045"))


def test_a_spike_candidate_at_the_first_point_of_an_epoch_curve() -> None:
    # the real corpus's 3,000-epoch Keras history 035 with one training value missing (a cell
    # the reader could not parse): the spike search returns a candidate at the first point,
    # which has no evaluation before it to compare with; the diagnosis must not fail on it
    (run,) = _real("035")
    s = run.series["train_mse"]
    keep = np.ones(len(s.values), bool)
    keep[1151] = False
    cut = dataclasses.replace(s, values=s.values[keep], epochs=s.epochs[keep],
                              steps=s.steps[keep])
    run = dataclasses.replace(run, series={**run.series, "train_mse": cut})
    assert "spike" not in _kinds([run])


def test_a_rule_that_fails_is_one_line_naming_the_log_and_the_rule(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from lossdoctor.errors import InternalError
    from lossdoctor.rules import spike

    def broken(ctx: Context) -> list:
        raise ValueError("zero-size array")

    monkeypatch.setattr(spike, "check", broken)
    path = FIX / "loss_rising_epoch18.log"
    with pytest.raises(InternalError) as info:
        diagnose(str(path))
    assert isinstance(info.value.__cause__, ValueError)
    assert main(["diagnose", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(path) in err and "spike" in err and "ValueError: zero-size array" in err


def test_bouncing_without_any_descent_is_counted_over_the_whole_curve() -> None:
    # g021 (a linear regression at the edge of stability): the validation loss swings between
    # 0.77 and 4.75 for all thirty epochs and never comes down by more than it bounces. Its last
    # ten evaluations happen to make one slow swing (direction changes 2 in 8), but with no
    # descent to leave out the bouncing is the whole curve's (18 changes in 26).
    (run,) = _generated("g021")
    assert ("oscillation", "val_loss") in {(f.kind, f.metric) for f in diagnose_run(run).findings}
    # control: a slow wave over the same range, with no descent either, still is not bouncing
    x = np.arange(len(run["val_loss"].values))
    wave = _with_values(run, "val_loss", 2.0 + 1.4 * np.sin(2 * np.pi * x / 20))
    assert ("oscillation", "val_loss") not in {
        (f.kind, f.metric) for f in diagnose_run(wave).findings}


def test_terminal_prints_remedy_code_whole_on_a_narrow_terminal() -> None:
    """On a terminal the snippets are highlighted, on a pipe plain; either way every code
    line comes out whole, never wrapped or cropped at the console's width."""
    import io
    import re

    from rich.console import Console

    from lossdoctor.report.terminal import render_diagnoses

    examples = Path(lossdoctor.__file__).parent / "examples"
    diagnoses = [diagnose(run) for p in sorted(examples.iterdir()) for run in lossdoctor.read(p)]
    code_lines = {
        line.strip() for d in diagnoses for f in d.findings for r in f.remedies
        for line in (r.code or "").splitlines() if line.strip()
    }
    assert max(map(len, code_lines)) > 50
    for terminal in (True, False):
        out = io.StringIO()
        console = Console(file=out, width=50, force_terminal=terminal, no_color=True,
                          soft_wrap=True, highlight=False)
        render_diagnoses(diagnoses, console)
        plain = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
        printed = {line.strip() for line in plain.splitlines()}
        assert code_lines <= printed, (terminal, sorted(code_lines - printed)[:3])


@pytest.mark.parametrize(("args", "code"), [
    (["explain"], 0),
    (["diagnose", "--fail-on", "never"], 0),
    (["diagnose"], 1),
    (["diagnose", "--json"], 1),
])
def test_a_closed_pipe_keeps_the_exit_code(args: list[str], code: int) -> None:
    """`lossdoctor … | head`: the reader is gone before anything is written. The exit code
    still says what was found (rich's default would exit 1 whatever was found), and nothing
    is reported about the pipe."""
    import subprocess
    import sys

    example = Path(lossdoctor.__file__).parent / "examples" / "mnist1d_overfit"
    argv = [sys.executable, "-m", "lossdoctor", *args]
    if args[0] == "diagnose":
        argv.append(str(example))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # closed before the child writes a byte
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == code, err
    assert err == ""


def test_short_curves_divergence_best_and_note(tmp_path: Path) -> None:
    """On a short curve the best point before a blow-up is the real best (the last three points
    were left out of a four-point curve, leaving only the first); a curve too short for most
    rules says so instead of passing as a clean bill of health."""
    p = tmp_path / "short.csv"
    p.write_text("epoch,loss\n0,1\n1,0.5\n2,1000\n3,100000\n")
    d = diagnose(p)
    (f,) = [f for f in d.findings if f.kind == "divergence"]
    assert (f.evidence["best_epoch"], f.evidence["best_value"]) == (1, 0.5)
    assert f.evidence["max_value"] == 100000
    assert any("only 4 points per curve" in str(n) for n in d.notes)
    q = tmp_path / "three.csv"
    q.write_text("epoch,loss\n0,1\n1,0.8\n2,0.7\n")
    d3 = diagnose(q)
    assert d3.healthy and any("only 3 points per curve" in str(n) for n in d3.notes)
    examples = Path(lossdoctor.__file__).parent / "examples"
    for run in lossdoctor.read(examples / "mnist1d_warmup_cosine"):
        assert not any("points per curve" in str(n) for n in diagnose(run).notes)


def test_show_never_cuts_numbers_on_a_narrow_console(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`show` at 60 columns: the value ranges come out whole (the maximum 2.244 was cut to
    '2.2…' at 80 columns); the original names fold instead."""
    monkeypatch.setenv("COLUMNS", "60")
    example = Path(lossdoctor.__file__).parent / "examples" / "mnist1d_overfit"
    assert main(["show", str(example)]) == 0
    out = capsys.readouterr().out
    assert "0.0007..2.244" in out and "10..1600" in out and "…" not in out


def test_an_unknown_flag_shows_the_commands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["diagnose", "--bogus", "x.csv"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: lossdoctor diagnose ")
    assert err.rstrip().endswith("lossdoctor diagnose: error: unrecognized arguments: --bogus")
