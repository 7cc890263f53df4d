"""Plain-text training logs: what training scripts print, captured to a file.

Recognised forms (auto-detected per line; a file may mix them):

* key/value fields: ``Train Loss: 0.41``, ``loss=0.41``, ``train_loss:0.41``; fields are
  separated by ``|``, ``||``, tabs, ``;``, `` - ``, commas, or (in lines without ``|`` or tabs)
  two or more spaces outside brackets (``[  0/791]`` is one counter). ``key value`` pairs
  count inside ``|``- or tab-separated fields (``| epoch 3 | lr 1e-3 | loss 0.41 |``,
  ``Loss 6.9e+00 (6.9e+00)``), after a record marker
  (nanoGPT's ``iter 10: loss 2.34, time 12ms``), and when they fill a field with metric keys
  only (``* Acc@1 75.1 Acc@5 92.4``). A line counts only when one of its keys names a metric
  (loss, acc, lr, ppl, bleu, f1, mse, …); time, rate, memory, count and version fields are
  noise and never become metrics (``train_time:123ms``, ``step_avg``, ``Time: 1.2s``, ``ETA``,
  ``it/s``, ``ms/batch``, ``batches``, ``Tokens: 2,982,385``, ``v_num``, ``wps``, dates).
  A field that is only a validation/test word (fairseq's ``valid |``, ``Test: [5/196]``), or
  that names the phase and its iteration (Megatron-LM's ``validation loss at iteration 500 |``),
  puts it in front of the line's keys (``valid loss``); so does a leading ``cur metric``
  (PaddleOCR's evaluation: ``eval acc``), and ``best metric`` puts ``best`` (the best so far).
* group headers: ``Validation BLEU: BLEU-1 71.6, BLEU-4 31.7`` gives ``Validation BLEU-1`` …;
  a header line ending in ``:`` (``Evaluation Results:``) puts its phase word in front of the
  indented ``key: value`` lines under it (``Evaluation Loss``); under a configuration header
  (``Configuration:``, ``args:``, ``Hyperparameters:``) those lines go to ``run.meta["config"]``.
* epoch and step context: an ``Epoch N`` / ``Epoch N/T`` / ``Starting Epoch N/T`` /
  ``##### Epoch N #####`` header sets the epoch of the metric lines that follow; an
  ``Epoch N`` field on a metric line sets it too. ``step:N/T``, ``Step S/T``, ``iter N``,
  ``steps: N``, ``global_step=N``, ``num_updates=N`` give the step of their own line, and so
  does a batch counter after an epoch marker (``epoch 001: 100 / 1000``, ``Epoch: [0][10/5005]``; a
  counter with a percentage, ``[640/60000 (1%)]``, counts samples and is ignored).
* Keras ``fit`` console output (1.x, 2.x, 3.x; ``verbose=1`` bars with ``\\r``, backspaces and
  ANSI colours, or ``verbose=2``): the epoch's final line gives one point per metric at that
  epoch; the progress updates before it are running averages and are not points. A finished
  bar that follows without a new ``Epoch`` header (``model.evaluate``) goes to
  ``run.meta["evaluate"]``. Such runs have ``format == "keras_console"``.
* tqdm bars (and Lightning's): each postfix value (``loss=0.41``) is a point, with the bar's
  counter as its step; a value redrawn unchanged while the counter moves, or carried into the
  next epoch's bar, is one point (see `_Parser._tqdm`). Bars of validation/test phases give
  points without steps, their keys prefixed by the phase (``Validation loss``).
* MMEngine runner lines (MMDetection, MMSegmentation, MMPretrain …): ``Epoch(train)
  [3][10/45]  lr: 1e-01  loss: 0.87`` gives epoch 3 and step ``(3 - first_epoch) * 45 + 10``,
  ``Iter(train) [ 10/1000]`` step 10; a ``(val)``/``(test)`` line's counter counts that loop's
  batches, so its values (prefixed by the phase) keep the epoch only.
* plain tables under a rule of dashes (``spacy train``'s ``E    #       LOSS NER  ENTS_F`` over
  ``---  ------  --------  ------``; tabulate's "simple" format): each run of dashes is a
  column, the name above it its metric; read when a column is an epoch (``E``, ``epoch``) or
  a step (``#``, ``step``, ``iter``) and another a metric, one point per numeric row, until a
  line that is not such a row. A table of results without either (``model  params  acc``)
  is not a training curve.
* timm ``train.py`` lines: ``Train: 3 [ 100/1251 (  8%)]  Loss: 6.82 (6.89)  …  LR: 1e-04``
  gives epoch 3 and step ``(3 - first_epoch) * 1251 + 100``; of its ``Test: [b/T]`` lines only
  the last (``[T/T]``) is a point, the running means over the validation set, named
  ``eval …`` as timm's ``summary.csv`` names them.
* Python ``logging``/glog/loguru prefixes and timestamps are stripped (also a logger name
  before the level: ``2024-05-01 12:00:13 - mmengine - INFO -``, PaddleDetection's
  ``[07/28 22:26:37] ppdet.engine INFO:``); ``wandb:`` lines, Python
  reprs (``Namespace(...)`` → ``run.meta["args"]``, multi-line dicts), tracebacks and prose are
  skipped. A one-line dict of numbers (Hugging Face ``Trainer`` prints
  ``{'loss': 0.41, 'learning_rate': 5e-05, 'epoch': 0.5}``; fairseq's JSON log format prints
  ``valid | {"epoch": 2, "valid_loss": "1.584", "valid_num_updates": "104"}``, numbers as
  strings, ``num_updates`` the step) is a metric line; the final ``train_runtime`` summary
  dict goes to ``run.meta["summary"]``.

Values keep NaN and ±inf (``nan``, ``inf``, ``-inf``, ``1e-3``, ``7.52e+31`` are all values).
Metrics keep the names the log prints (``Train Loss``, ``valid ppl``); a key printed twice on
one line takes the phase of the key before it (``Train Loss | Acc | Val Loss | Acc`` →
``Acc``, ``Val Acc``). ``run.meta`` gets ``total_epochs`` (``Epoch 3/50`` → 50) and
``total_steps`` (``step:7/20000`` → 20000) when the log declares them.

**Derived steps.** A batch counter that restarts every epoch (``| 200/ 2983 batches |``, a
``Step S/T`` that falls back to 0 when the epoch changes, a tqdm bar's ``n/total``) is turned into
a global step ``(epoch - first_epoch) * T + S``, with ``T`` the per-epoch total the log prints.
When the log restarts the counter every epoch but prints no total, no step is derived (the
points keep their epoch) and the run gets a warning: steps are never guessed.

**Several runs in one file.** When the epoch counter (or, in a log without epochs, the step
counter) goes back to the first value of the current run or below, a new run starts. The runs
are named ``<file stem>#1``, ``<file stem>#2`` … in file order; a file with a single run is
named after its stem. A counter that goes back without reaching the start (a resumed run) stays
in the same run, with a warning.

**Logs, not documents.** A file is read only when it shows a training curve: a metric line
of a kind printed before (the same text up to its last value once numbers and blanks are
masked, in the same Markdown section and, for indented lines under a bare ``name:`` line,
under the same name), a metric seen again at a later epoch or step that its own line gives,
or a form only training prints: a Keras epoch, a tqdm postfix, an epoch or step counter with
its total (``Epoch [3/50]``, ``step:7/20000``, ``200/ 2983 batches``). Otherwise ``read``
raises ``ReadError(path, "no training curve found (...)")``: a README, a ``MANIFEST.md``, a
YAML of settings or a notebook of notes says each thing once. The rows of a Markdown table
(the lines under a ``|---|---|`` delimiter row) are never read: they describe runs, they are
not a run's output. Once a file qualifies, every metric line of it is read, one-off lines (a
final test line) included.

**Streaming.** The file is read in 256 KiB blocks and split on ``\\n`` and ``\\r``; memory
holds the parsed points and bounded state, never the file. Bytes that are not UTF-8 are
replaced (U+FFFD) with one warning on the run (a UTF-8 or UTF-16 byte-order mark is honoured);
a line longer than 1 MiB is skipped with a warning; an unterminated last line (a file still
being written) is ignored, with a warning when it held metric values.

**Speed.** Logs repeat a few line shapes millions of times. A key/value line is analysed once
per shape (the line with its digits masked); the next lines of that shape take their numbers
at the same character positions, without regular expressions. At most 4,096 shapes are kept.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from lossdoctor.errors import ReadError
from lossdoctor.messages_lines import Message
from lossdoctor.read import _HEAD_BYTES
from lossdoctor.read._builder import RunBuilder
from lossdoctor.run import Run

__all__ = ["NAME", "read", "sniff"]

NAME = "text"
KERAS_FORMAT = "keras_console"

_BLOCK = 1 << 18  # bytes read at a time
_MAX_LINE = 1 << 20  # a "line" longer than this (no terminator) is skipped
_MAX_META = 500  # entries kept in meta["config"] / meta["args"]
_PROBE_BYTES = 8 << 20  # how far `sniff` reads a long text file with no metrics at the top

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

#: A line is a metric line only if one of its keys has one of these tokens.
_METRIC_TOKENS = frozenset({
    "loss", "losses", "acc", "accuracy", "lr", "learning", "ppl", "perplexity", "bleu", "rouge",
    "rouge1", "rouge2", "rougel", "f1", "auc", "auroc", "error", "err", "mse", "mae", "rmse",
    "r2", "wer", "cer", "precision", "recall", "iou", "miou", "dice", "map", "nll", "kl", "grad",
    "gradnorm", "reward", "score", "psnr", "ssim", "fid", "top1", "top5", "entropy", "l1", "l2",
    "bpc", "bpd", "kappa", "mcc", "spearman", "pearson", "corr", "rho", "mape", "smape", "elbo",
    "likelihood", "metric", "bce", "chrf", "meteor", "exact",
})
_METRIC_SUFFIXES = ("loss", "acc", "accuracy", "ppl", "error", "mse", "mae", "bleu")
#: A key with one of these tokens is never a metric (times, rates, memory, counts, versions).
_NOISE_TOKENS = frozenset({
    "time", "times", "timer", "timing", "eta", "elapsed", "duration", "speed", "throughput",
    "runtime", "samples", "sample", "memory", "mem", "ram", "vram", "alloc", "allocated",
    "reserved", "flos", "flops", "ms", "sec", "secs", "seconds", "second", "it", "per", "date",
    "version", "v", "num", "count", "size", "tokens", "toks", "batches", "workers", "seed",
    "params", "parameters", "hz", "fps", "gpu", "cpu", "pid", "rank", "port", "line", "id",
    "ratio", "interval", "every", "patience", "warmup", "max", "min", "dim", "layers", "heads",
    "wps", "ups", "wpb", "bsz", "wall", "free", "mfu", "tflops", "tps", "data", "skipped",
    "scale",
})
_NOISE_ALLOWED_WITH_METRIC = frozenset({"max", "min", "sample", "samples", "per"})
#: Counter words: a key made of these and no metric token is a step/epoch counter, not a metric.
_AXIS_TOKENS = frozenset({
    "step", "steps", "epoch", "epochs", "iter", "iters", "iteration", "iterations", "global",
    "batch", "idx", "index", "avg", "total",
})
#: Words that make a multi-word key prose ("saved with BLEU-2: 65.7").
_STOP_WORDS = frozenset({
    "with", "from", "to", "at", "for", "of", "is", "was", "the", "a", "an", "and", "saved",
    "saving", "save", "improved", "reached", "after", "in", "on", "by", "checkpoint", "model",
    "did", "not", "has", "have", "new", "than", "using", "reducing",
})
_PHASE_WORDS = {
    "train": "train", "training": "train", "trn": "train",
    "val": "val", "valid": "val", "validation": "val", "validating": "val", "eval": "val",
    "evaluation": "val", "evaluating": "val", "dev": "val",
    "test": "test", "testing": "test",
}
_SUMMARY_WORDS = frozenset({"final", "best", "summary", "overall", "results", "result"})
_CONFIG_WORDS = frozenset({
    "config", "configuration", "configs", "args", "arguments", "argument", "parameters",
    "params", "hyperparameters", "hparams", "hyper", "settings", "options", "flags", "defaults",
})
_UNIT_WORDS = frozenset({
    "s", "sec", "secs", "second", "seconds", "ms", "us", "min", "mins", "minute", "minutes", "h",
    "hr", "hrs", "hour", "hours", "mb", "gb", "kb", "mib", "gib", "kib", "b", "bytes", "it/s",
    "s/it", "samples/s", "tokens/s", "steps/s", "img/s", "days", "day",
})

# --------------------------------------------------------------------------------------------
# Regular expressions
# --------------------------------------------------------------------------------------------

_NUM = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[Nn][Aa][Nn]|[Ii]nf(?:inity)?|INF)"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")
_HAS_VALUE = re.compile(r"\d|nan|inf", re.IGNORECASE)
_PREFIX = re.compile(
    r"""(?:
        [IWEF]\d{4}\ \d\d:\d\d:\d\d\.\d+\s+\d+\s+[^\]\s]+\]\ ?        # glog / absl
      | \s*(?:\[?\d{4}[-/]\d\d[-/]\d\d[T_ ]\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]?
           | \[?\d\d:\d\d:\d\d(?:[.,]\d+)?\]?                           # timestamp
           | \[\d\d/\d\d\ \d\d:\d\d:\d\d\])                            # [MM/DD hh:mm:ss]
        (?:\s*(?:[-|:]\s*)?
           (?:[\w.]+\s+(?:[-|]\s+)?(?=(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b))?  # name
           (?:\[?(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|TRACE|NOTICE)
           \]?\s*)?(?:[-|:]\s*)?)?
        (?:[\w.<>]+(?::[\w.<>]+)?:\d+\s+-\s+)?                  # loguru module[:fn]:line -
        (?:[\w.]+(?:\.[\w]+)*:\ \[(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\]\ )? # name: [LEVEL]
      | (?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL):[\w.<>-]*:        # logging.basicConfig
      | \[(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\]\s*(?:[-:]\s*)?
      | (?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\s*(?:[-:|]\s+)
    )""",
    re.VERBOSE,
)
_EPOCH_HEADER = re.compile(
    r"""^[\s#=*\->\[(]*
        (?:(?:starting|start|begin(?:ning)?|running|training|train|now)\s+)*
        (?:from\s+)?epoch\s*[:#]?\s*[\[(]?\s*(?P<e>\d+)\s*(?:(?:/|of)\s*(?P<t>\d+))?\s*[\])]?
        \s*(?:starts?|started|begins?)?\s*[:.]?[\s#=*\-<\])]*$""",
    re.VERBOSE | re.IGNORECASE,
)
_CTX = re.compile(
    r"""(?:
        [\[(]?\s*(?:end\ of\ )?(?:train(?:ing)?\s+)?(?:epoch|ep)\s*[:=#]?\s*[\[(]?\s*(?P<e>\d+)
            (?:\s*(?:/|of)\s*(?P<et>\d+))?\s*[\])]?
      | (?P<sk>global[_ ]step|steps?|iter(?:ation)?|it|batch|num_updates)\s*[:=#]?\s*[\[(]?\s*
            (?P<s>\d+)
            (?:\s*/\s*(?P<st>\d+))?\s*[\])]?
      | (?P<b>\d+)\s*/\s*(?P<bt>\d+)\s+batch(?:es)?
      | \[\s*\d+\s*/\s*\d+\s*(?:\(\s*\d+(?:\.\d+)?%\s*\))?\s*\]
    )\s*:?\s*""",
    re.VERBOSE | re.IGNORECASE,
)
#: A bare "N / T" right after an epoch marker: the batch of the epoch (fairseq).
_BATCH_OF_EPOCH = re.compile(r"(?P<o>\[)?\s*(?P<b>\d+)\s*/\s*(?P<bt>\d+)\s*(?(o)\]|(?=\s))\s*")
_LEAD = re.compile(r"[^\w\[(]*")  # emoji, bullets, arrows before a field
_CTX_START = re.compile(r"(?<![\w.])(?:epoch|step|iter)", re.IGNORECASE)
_FIELD_SPLIT = re.compile(r"\s*(?:\|\|?|\t+|;|\s-\s|,(?=\s*[A-Za-z'\"]))\s*")
#: Without | or tabs, a run of 2+ spaces separates fields too (detectron2: "iter: 19  lr: 0.1").
_FIELD_SPLIT_WIDE = re.compile(r"\s*(?:\|\|?|\t+|;|\s-\s|,(?=\s*[A-Za-z'\"])|\s{2,})\s*")
#: A bracketed span: a run of spaces inside one is not a field break (``[  0/791]``).
_BRACKETED = re.compile(r"\[[^\[\]]*\]")
_PHASE_FIELD = re.compile(
    r"(?P<p>(?i:train|training|val|valid|validation|eval|evaluation|dev|test|testing))"
    # Megatron-LM: "validation loss at iteration 500 | lm loss value: …"
    r"(?:\ [a-z ]{0,40}?\bat\ (?P<u>iteration|step|iter|epoch)\ (?P<n>\d+))?"
    r"\s*:?\s*(?:\[[\d\s/]*\])?\s*$")
_NUM_FULL = re.compile(_NUM)
_NON_BLANK = re.compile(r"\S+")
#: PaddleOCR's "cur metric, acc: 0.81, …" (an evaluation) and "best metric, acc: …" (the best
#: so far): the first names the validation phase, the second a summary.
_METRIC_FIELD = re.compile(r"(?P<w>(?i:cur|current|best|final))\s+(?i:metrics?)\s*:?\s*$")
_WORD = r"[A-Za-z_][\w\-./@²]*"
_KEY = rf"{_WORD}(?:\ {_WORD}){{0,3}}"
_VALUE = (rf"(?:tensor\(|array\(|\[)?\s*(?P<v>{_NUM})(?:\]|\))?(?P<u>[A-Za-z%/]+)?"
          r"(?=$|[\s,;|)\]}]|\.(?:\s|$))(?!,\d)")
_PAIR = re.compile(rf"(?P<k>{_KEY})\s*[:=]\s*{_VALUE}")
_PAIR_SPACE = re.compile(rf"(?P<k>{_KEY})(?:\s*[:=]\s*|\s+){_VALUE}")
_GROUP = re.compile(rf"(?P<g>{_KEY})\s*:\s+(?=[A-Za-z_])")
_TRAILER = re.compile(r"(?P<s>\s*)(?:\([^)]*\)|\.$|(?P<w>[A-Za-z/]+)\.?(?=\s|$|[,;|]))?\s*")
_HEADER = re.compile(r"^\W*(?P<h>[A-Za-z][\w .\-/]{0,60}?)\s*(?:\.\.\.)?:\s*$")
_CONFIG_LINE = re.compile(r"^\s*(?P<k>[A-Za-z_][\w.\-]*)\s*[:=]\s*(?P<v>.*?)\s*$")
_NAMESPACE_ITEM = re.compile(r"(\w+)=('[^']*'|\"[^\"]*\"|[^,()]+)")
# a number may be quoted: fairseq's JSON log format writes its statistics as strings
_NAMED_DICT = re.compile(r"[\w.]{1,40}\s*\|\s*(?=\{)")
_DICT_ITEM = re.compile(
    rf"""['"](?P<k>[^'"]{{1,80}})['"]\s*:\s*(?P<q>["']?)(?P<v>{_NUM})(?P=q)(?=\s*[,}}])""")
_KERAS = re.compile(
    r"""^\s*(?:(?P<n>\d+)/(?P<t>\d+|Unknown)\s*(?:\[[=>.]*\]|[━─]+)?\s*)?
        (?:-\s*)?(?:ETA:\s*[\d:]+s?|\d+(?::\d\d)+|\d+(?:\.\d+)?(?:s|ms|us|m|h))
        (?:\s+\d+(?:\.\d+)?(?:s|ms|us)/(?:step|sample))?\s+-\s+(?P<rest>.*)$""",
    re.VERBOSE,
)
#: MMEngine's runner (MMDetection, MMSegmentation …): ``Epoch(train) [3][10/45]  lr: …``,
#: ``Epoch(val) [3][3/3]  accuracy: …``, ``Iter(train) [ 10/1000]  loss: …``.
_MMENGINE = re.compile(
    r"(?P<u>Epoch|Iter)\((?P<p>train|val|test)\)\s*\[\s*(?P<a>\d+)\s*(?:/\s*(?P<at>\d+)\s*)?\]"
    r"(?:\s*\[\s*(?P<b>\d+)\s*/\s*(?P<bt>\d+)\s*\])?\s+(?P<rest>.*)")
_WIDE_GAP = re.compile(r"\s{2,}|\t+")
#: timm's train.py: ``Train: 3 [ 100/1251 (  8%)]  Loss: 6.82 (6.89)  …  LR: 1.000e-04``,
#: ``Test: [  48/48]  …  Loss:  0.812 (0.874)  Acc@1: 80.0 (78.2)`` (value, then running mean).
_TIMM = re.compile(
    r"(?P<p>Train|Test|Test \(EMA\)):\s*(?P<e>\d+)?\s*\[\s*(?P<b>\d+)\s*/\s*(?P<bt>\d+)"
    r"(?:\s*\(\s*\d+%\))?\]\ +(?P<rest>[A-Za-z][\w@]*:\ .*)")  # "Key: value" (torchvision: no ":")
_TIMM_FIELD = re.compile(
    rf"(?P<k>[A-Za-z][\w@]*(?:\ [A-Za-z][\w@]*)?):\s+(?P<v>{_NUM})(?:\s*\(\s*(?P<a>{_NUM})\s*\))?")
_TIMM_GAP = re.compile(r"\s{2,}(?=[A-Za-z])")  # values are right-aligned: "Loss:  0.812"
_TQDM = re.compile(
    r"""^(?P<d>.*?)[:\s]*(?:(?P<p>\d{1,3})%\|[^|]*\|\s*(?P<n>\d+(?:\.\d+)?[kMGT]?)
        /(?P<t>\d+(?:\.\d+)?[kMGT]?|\?)|(?P<n2>\d+)it)\s*\[(?P<i>[^\]]*)\]?""",
    re.VERBOSE,
)


#: A Markdown table's delimiter row (``|---|:--:|``): the rows under it are a document's table.
#: The rule under a plain table's header (spaCy's training table, tabulate's "simple"):
#: ``---  ------  --------``; each run of dashes is a column.
_DASH_RULE = re.compile(r"\s*(?:-{2,}(?:\ +-{2,})+|={2,}(?:\ +={2,})+)\s*")
_DASHES = re.compile(r"-{2,}|={2,}")
_RULED_EPOCH = frozenset({"e", "epoch", "epochs", "ep"})
_RULED_STEP = frozenset({"#", "step", "steps", "iter", "iters", "iteration", "global_step"})
_MD_RULE = re.compile(r"\s*\|?(?:\s*:?-+:?\s*\|)+(?:\s*:?-+:?\s*)?$")
#: Numbers and runs of blanks, for a line's kind (`_Parser._metric_line`).
_KIND_MASK = re.compile(rf"{_NUM}|\s+")
_MAX_KINDS = 4096  # metric-line kinds remembered (a log has a few; a document many)
_HEADING = re.compile(r"#{1,6}[ \t]+\S")


#: Every line whose keys could name a metric contains one of these (a cheap first test: a
#: line without any of them cannot be a key/value metric line).
_VOCAB = re.compile("|".join(sorted(_METRIC_TOKENS | set(_METRIC_SUFFIXES), key=len,
                                    reverse=True)))  # searched in the lower-cased line
_TOKEN_SPLIT = re.compile(r"[^a-z0-9²]+")


@lru_cache(maxsize=4096)
def _tokens(key: str) -> tuple[str, ...]:
    return tuple(t for t in _TOKEN_SPLIT.split(key.lower()) if t)


@lru_cache(maxsize=4096)
def _key_kind(key: str) -> str:
    """``"metric"`` (names a metric), ``"other"`` (a plausible custom metric), ``"noise"``."""
    toks = _tokens(key)
    if not toks:
        return "noise"
    metric = any(t in _METRIC_TOKENS or t.endswith(_METRIC_SUFFIXES) for t in toks)
    for t in toks:
        if t in _NOISE_TOKENS and not (metric and t in _NOISE_ALLOWED_WITH_METRIC):
            return "noise"
    if metric:
        return "metric"
    if any(t in _AXIS_TOKENS for t in toks) or toks[0].isdigit():
        return "noise"
    return "other"


@lru_cache(maxsize=4096)
def _phase_word(text: str) -> str | None:
    """The first phase word of `text` as written (``"Validation"``, ``"val"``), or None."""
    for word in re.split(r"[^A-Za-z]+", text):
        if word.lower() in _PHASE_WORDS:
            return word
    return None


def _field_pairs(
    fields: Iterable[str], phase: str | None = None, pair: re.Pattern[str] = _PAIR
) -> list[tuple[str, float]]:
    """The ``key: value`` fields (each a whole field matching `pair`, without a unit) that are
    not noise, as points; `phase` goes in front of a key that names none (Keras lines, MMEngine
    lines, tqdm postfixes)."""
    pairs: list[tuple[str, float]] = []
    for field in fields:
        p = pair.fullmatch(field.strip())
        if p is None or p["u"]:
            continue
        key = _clean_key(p["k"])
        if _key_kind(key) == "noise":
            continue
        if phase is not None and _phase_word(key) is None:
            key = f"{phase} {key}"
        pairs.append((key, _to_float(p["v"])))
    return pairs


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "Infinity" with odd case and the like
        low = text.lower().lstrip("+")
        if low.endswith(("inf", "infinity")):
            return -math.inf if low.startswith("-") else math.inf
        return math.nan


def _clean_key(key: str) -> str:
    return " ".join(key.split())


#: Number tokens (group 1 empty) and digits that are part of a word (group 1: ``BLEU-1``).
_WORD_DIGITS = re.compile(r"(?<![\w.\-+])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|(\d+)")
#: Digits that make a metric-vocabulary token (top1, rouge2, f1, l1, r2).
_METRIC_DIGITS = re.compile(r"(?:top|rouge|(?<![A-Za-z])[lLrRfF])(\d+)", re.IGNORECASE)
# A line's shape: its UTF-8 bytes with the digits masked (bytes.translate: 20x str.translate).
_MASK = bytes.maketrans(b"0123456789", b"\x00" * 10)
_MAX_PLANS = 4096  # line shapes remembered (memory stays bounded on any file) ...
_MAX_SHAPE = 2048  # ... and only for lines up to this length

_V = TypeVar("_V")
_Num = tuple[str, int]  # a number's text and its position in the message
_Ctx = tuple[_Num, "_Num | None"]  # epoch, total
_StepCtx = tuple[_Num, "_Num | None", bool]  # step, total, counts within the epoch
_Found = tuple[Any, Any, list[tuple[str, Any]]]  # epoch, step, pairs (numbers or slices)


class _Plan:
    """What a line shape holds: the slices of its epoch, step and metric values.

    Lines of one shape (the same text once digits are masked) have their numbers at the same
    places and parse the same way, except where a digit is part of a word (``BLEU-1``,
    ``top5``): a line must repeat those digits to use the plan (`check` returns them, `expect`
    is what it returned on the line the plan was made from). For a line that is not a metric
    line only digits that could make a metric name (``top5``, ``f1``, ``l2``) count, so chatter
    with changing file names or ids (``ckpt_1234.pt``) keeps its plan.
    """

    __slots__ = ("check", "expect", "found")

    def __init__(self, line: str, checks: list[slice], found: _Found | None) -> None:
        self.check = itemgetter(*checks) if checks else None
        self.expect = self.check(line) if self.check is not None else None
        self.found = found  # None: not a metric line

    def fits(self, line: str) -> bool:
        return self.check is None or self.check(line) == self.expect


def _make_plan(line: str, offset: int, found: _Found | None) -> _Plan:
    """The plan of `line`, whose message starts at `offset`, from what `_analyse` found."""
    if found is None:
        return _Plan(line, [slice(*m.span(1)) for m in _METRIC_DIGITS.finditer(line)], None)
    checks = [slice(*m.span(1)) for m in _WORD_DIGITS.finditer(line) if m[1]]

    def sl(v: _Num | None) -> slice | None:
        return None if v is None else slice(offset + v[1], offset + v[1] + len(v[0]))

    epoch, step, pairs = found
    return _Plan(line, checks, ((sl(epoch[0]), sl(epoch[1])) if epoch else None,
                                (sl(step[0]), sl(step[1]), step[2]) if step else None,
                                [(key, sl(v)) for key, v in pairs]))


def _as_values(found: _Found) -> _Found:
    """`found` with every number as its text."""
    epoch, step, pairs = found
    return ((epoch[0][0], epoch[1][0] if epoch[1] else None) if epoch else None,
            (step[0][0], step[1][0] if step[1] else None, step[2]) if step else None,
            [(key, v[0]) for key, v in pairs])


def _context(body: str, pos: int, end: int) -> tuple[_Ctx | None, _StepCtx | None, int]:
    """The epoch and step markers at `pos` in ``body[:end]``, and where they end."""
    f_epoch: _Ctx | None = None
    f_step: _StepCtx | None = None
    while True:
        b = _BATCH_OF_EPOCH.match(body, pos, end) if f_epoch and not f_step else None
        if b is not None:  # "epoch 001:    100 / 1000 loss=..." or "Epoch: [0][  10/5005]"
            f_step = ((b["b"], b.start("b")), (b["bt"], b.start("bt")), True)
            pos = b.end()
            continue
        c = _CTX.match(body, pos, end)
        if c is None or c.end() == pos:
            return f_epoch, f_step, pos
        if c["e"] is not None:
            f_epoch = ((c["e"], c.start("e")), (c["et"], c.start("et")) if c["et"] else None)
        elif c["s"] is not None:
            f_step = ((c["s"], c.start("s")), (c["st"], c.start("st")) if c["st"] else None,
                      c["sk"].lower() == "batch")
        elif c["b"] is not None:
            f_step = ((c["b"], c.start("b")), (c["bt"], c.start("bt")), True)
        pos = c.end()


def _group_prefix(group: str) -> str | None:
    phase = _phase_word(group)
    if phase is not None:
        return phase
    if set(_tokens(group)) & _SUMMARY_WORDS:
        return _clean_key(group)
    return None


def _pairs(body: str, pos: int, end: int, matcher: re.Pattern[str], prefix: str | None,
           out: list[tuple[str, _Num]], *, strict: bool = False) -> bool | None:
    """Parse ``key: value`` pairs of ``body[pos:end]`` into `out`.

    Returns None when the field does not start with a pair, else whether a metric key was
    among them. Noise pairs (times, counts, values with a unit) are consumed but dropped.
    With `strict`, the pairs must fill the field and every key must name a metric, else
    nothing is taken (``Acc@1 75.1 Acc@5 92.4`` yes, ``loss 0.2 is the best so far`` no).
    """
    found = False
    metric = False
    start = len(out)
    while pos < end:
        p = matcher.match(body, pos, end)
        if p is None:
            break
        key = _clean_key(p["k"])
        words = key.lower().split(" ")
        if len(words) > 1 and any(w in _STOP_WORDS for w in words):
            break
        found = True
        unit = p["u"]
        t = _TRAILER.match(body, p.end(), end)
        pos = t.end("s")  # type: ignore[union-attr]
        word = t["w"]  # type: ignore[index]
        if word is None or word.lower() in _UNIT_WORDS:
            unit = unit or word
            pos = t.end()  # type: ignore[union-attr]
        kind = _key_kind(key)
        if strict and kind != "metric":
            break
        if kind == "noise" or (unit and unit != "%"):
            continue
        if prefix is not None and _phase_word(key) is None:
            key = f"{prefix} {key}"
        out.append((key, (p["v"], p.start("v"))))
        metric = metric or kind == "metric"
    if strict and (pos < end or not metric):
        del out[start:]
        return None
    return metric if found else None


# --------------------------------------------------------------------------------------------
# The line state machine
# --------------------------------------------------------------------------------------------


class _DocState:
    """What tells a log from a document (`_Parser.curve` aside), for `_Parser`."""

    __slots__ = ("axis_seen", "kinds", "metric_lines", "prev_line", "ruled", "ruled_rows",
                 "section", "table_line", "table_rows")

    def __init__(self) -> None:
        self.kinds: set[str] = set()  # the kinds of metric lines seen (`_metric_line`)
        self.axis_seen: dict[tuple[str, bool], float] = {}  # (metric, by step) -> last x
        self.metric_lines = 0  # lines that gave points
        self.table_rows = 0  # Markdown table rows skipped
        self.table_line = 0  # the line number of the last one
        self.section = ""  # the last Markdown heading, numbers masked (`_heading`)
        self.prev_line = ""  # the line before the one being parsed
        # A plain table being read: its columns as (start, end, role, name), role "epoch",
        # "step" or "metric" (see `_Parser._ruled_table`); and how many rows gave points.
        self.ruled: list[tuple[int, int, str, str]] = []
        self.ruled_rows = 0


class _Parser:
    """Turns log lines into points, one line at a time; O(1) state besides the points."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lineno = 0
        self._plans: dict[bytes, _Plan] = {}
        #: True once the log shows a metric twice or a metric with an epoch/step (for `sniff`).
        self.evidence = False
        self._keys_seen: set[str] = set()
        #: True once the file shows a training curve (see `finish`): a metric line of a kind
        #: printed before, a Keras epoch, a tqdm postfix, an epoch/step counter with its total.
        self.curve = False
        self.doc = _DocState()  # (in its own object: attribute access on a parser with more
        # than 30 attributes is measurably slower in CPython 3.11, no shared-key dict)
        self.runs: list[RunBuilder] = []
        self._warned: set[str] = set()
        self._new_builder()

    # -- runs ---------------------------------------------------------------------------------
    def _new_builder(self) -> None:
        self.b = RunBuilder(name=self.path.stem, source=self.path, format=NAME)
        self.runs.append(self.b)
        self.epoch: float | None = None
        self.first_epoch: float | None = None
        self.last_raw_step: float | None = None
        self.first_raw_step: float | None = None
        self.last_step_epoch: float | None = None
        self.within_epoch = False
        # An unfinished Keras bar: where it started, its last values, whether its total is unknown.
        self.keras_pending: tuple[str, list[tuple[str, float]], bool] | None = None
        self.keras_done: set[float | None] = set()
        # tqdm: per metric, the value last shown, its step, epoch and bar: [v, step, epoch, bar]
        self.tqdm_pending: dict[str, list[float | None]] = {}
        self.tqdm_bar: tuple[str, float | None] | None = None
        self.tqdm_bar_id = 0
        self.tqdm_n: float | None = None
        self.tqdm_total: float | None = None
        self.tqdm_offset = 0.0
        # per bar: 1 when its counter counts the batches begun (a `for x in tqdm(…)` loop shows
        # a batch's value at the count before it), 0 when it counts those done (Lightning)
        self.tqdm_shift: dict[int, int] = {}
        self.block: tuple[str, str | None] | None = None  # (kind, phase word or mapping key)
        self.header: tuple[str, str | None] | None = None

    def _has_points(self) -> bool:
        return len(self.b) > 0 or self.keras_pending is not None or bool(self.tqdm_pending)

    def _restart(self) -> None:
        self._flush_keras()
        self._flush_tqdm()
        self._new_builder()

    def warn_once(self, key: str, code: str, /, **params: object) -> None:
        """Record the message `code` (`lossdoctor.messages_lines`) on the current run, once per
        `key` for the whole file."""
        if key not in self._warned:
            self._warned.add(key)
            self.b.warn(code, **params)

    # -- context ------------------------------------------------------------------------------
    def _set_epoch(self, epoch: float, total: int | None = None) -> None:
        """Enter `epoch` (of `total`); back at the run's first epoch or below: a new run."""
        if self.epoch is not None and epoch < self.epoch:
            first = self.first_epoch if self.first_epoch is not None else self.epoch
            if not self._has_points():
                self.first_epoch = epoch  # nothing read yet: the run starts here
            elif epoch <= first:
                self._restart()
            else:
                self.warn_once("epoch-back", "text.epoch_back", line=self.lineno, old=self.epoch,
                               new=epoch)
        if self.epoch is not None and epoch != self.epoch:
            self._flush_keras()
        self.epoch = epoch
        if self.first_epoch is None:
            self.first_epoch = epoch
        if total is not None:
            self.b.meta["total_epochs"] = total

    def _step(self, raw: float, total: int | None, per_epoch: bool) -> float | None:
        """The global step of a step marker (raw counter `raw` of `total`)."""
        if self.epoch is None and not per_epoch:
            if (self.last_raw_step is not None and self.first_raw_step is not None
                    and raw < self.last_raw_step and raw <= self.first_raw_step
                    and self._has_points()):
                self._restart()
            elif self.last_raw_step is not None and raw < self.last_raw_step:
                self.warn_once("step-back", "text.step_back", line=self.lineno,
                               old=self.last_raw_step, new=raw)
        elif (not self.within_epoch and self.last_step_epoch is not None
              and self.epoch is not None and self.epoch > self.last_step_epoch
              and self.last_raw_step is not None and raw < self.last_raw_step):
            self.within_epoch = True
        if self.first_raw_step is None:
            self.first_raw_step = raw
        self.last_raw_step = raw
        self.last_step_epoch = self.epoch
        if total is not None and not per_epoch and self.epoch is None:
            self.b.meta["total_steps"] = total
        if not (per_epoch or self.within_epoch) or self.epoch is None:
            return raw
        if total is None:
            self.warn_once("no-epoch-length", "read.no_epoch_length")
            return None
        first = self.first_epoch if self.first_epoch is not None else self.epoch
        return (self.epoch - first) * total + raw

    # -- points -------------------------------------------------------------------------------
    def _add(self, pairs: list[tuple[str, float]], step: float | None) -> None:
        for key, value in pairs:
            self.b.add(key, value, step=step, epoch=self.epoch)
        self._note_evidence(pairs[0][0], step, self.epoch)

    def _note_evidence(self, key: str, step: float | None, epoch: float | None) -> None:
        if not self.evidence:
            self.evidence = step is not None or epoch is not None or key in self._keys_seen
            self._keys_seen.add(key)

    def _flush_keras(self) -> None:
        """End a Keras epoch whose bar never showed its final line: with an unknown number of
        steps (``12/Unknown``) the last update is the epoch's value; otherwise the bar was cut
        short (its values are running averages) and is dropped, with a warning."""
        pending = self.keras_pending
        if pending is None:
            return
        self.keras_pending = None
        where, pairs, unknown_total = pending
        if unknown_total:
            self._keras_epoch(pairs)
        else:
            self.warn_once("keras-unfinished", "text.keras_unfinished", where=where)

    # -- feeding ------------------------------------------------------------------------------
    def feed(self, seg: str, ends_line: bool) -> None:
        """Parse one line (or one ``\\r``-separated progress update when `ends_line` is False)."""
        if "\x1b" in seg:
            seg = _ANSI.sub("", seg)
        if "\x08" in seg:
            seg = seg.replace("\x08", "")
        self._parse(seg, ends_line, commit=True)
        if ends_line:
            self.doc.prev_line = seg

    def has_values(self, seg: str) -> bool:
        """Whether `seg` holds metric values (an unterminated last line); changes no state."""
        if "\x1b" in seg:
            seg = _ANSI.sub("", seg)
        return bool(self._parse(seg.replace("\x08", ""), True, commit=False))

    def _parse(self, line: str, ends_line: bool, *, commit: bool) -> bool:
        shape: bytes | None = None
        if self.block is None and self.header is None and len(line) <= _MAX_SHAPE:
            # A key/value line of a shape seen before: take its numbers where the plan says.
            shape = line.encode().translate(_MASK)
            plan = self._plans.get(shape)
            if plan is not None and plan.fits(line):
                if plan.found is None:
                    return False
                self.curve = True  # the same kind of metric line again
                if commit:
                    self._apply(plan.found, line)
                return True
        # (Headings and table rows never have plans: they are read here, off the fast path.)
        if line[:1] == "#" and _HEADING.match(line):
            shape = None
            if commit:
                self._heading(line)
        if self.block is not None and self.block[0] == "table":
            # A row of a Markdown table (it ends at a blank line): not a log line.
            if line.lstrip().startswith("|") and self.lineno <= self.doc.table_line + 1:
                if commit:
                    self.doc.table_line = self.lineno
                    self.doc.table_rows += bool(_HAS_VALUE.search(line))
                return False
            if commit:
                self.block = None
        m = _PREFIX.match(line)
        msg = line[m.end():] if m else line
        if self.block is not None and self.block[0] == "ruled":
            got = self._ruled_row(msg, commit)
            if got is not None:
                return got
            if commit:
                self.block = None
        if not msg or msg.isspace():
            if commit:
                self.block = self.header = None
            return False
        indented = msg[0] in " \t"
        if commit and self.block is not None and not indented:
            self.block = None
        if not _HAS_VALUE.search(msg):
            if commit:
                if "|" in msg and _MD_RULE.match(msg):
                    self.block, self.header = ("table", None), None
                    self.doc.table_line = self.lineno
                elif "--" in msg or "==" in msg:
                    self._ruled_table(msg)
                else:
                    self._maybe_header(msg)
            return False
        if commit and self.header is not None:
            self.block, self.header = (self.header if indented else None), None
        body = msg.strip()
        if body[0] != "{" and (named := _NAMED_DICT.match(body)):  # fairseq: "valid | {…}"
            body = body[named.end():]
        first = body[0]
        if first == "{" or body.startswith(("wandb:", "Namespace(", "File \"", "Traceback")):
            return self._special(body, commit)
        if "%|" in body or "it [" in body:
            t = _TQDM.match(body)
            if t is not None:
                return self._tqdm(t, commit)
        k = _KERAS.match(body)
        if k is not None:
            return self._keras(k, ends_line, commit)
        if first in "EI" and (mm := _MMENGINE.match(body)) is not None:
            return self._mmengine(mm, commit)
        if first == "T" and (tm := _TIMM.match(body)) is not None:
            return self._timm(tm, commit)
        h = _EPOCH_HEADER.match(body)
        if h is not None:
            if commit:
                self._set_epoch(float(h["e"]), int(h["t"]) if h["t"] else None)
            return False
        if self.block is not None and indented:
            kind, phase = self.block
            if kind == "config":
                if commit:
                    self._config_line(body)
                return False
            if kind == "phase":
                return self._fields(body, phase, commit, None)
        offset = len(line) - len(msg.lstrip())  # where body starts in the line
        cache = None if shape is None else (shape, line, offset)
        if _VOCAB.search(body.lower()) is None:
            if cache is not None:
                self._remember(shape, _make_plan(line, offset, None))  # type: ignore[arg-type]
            return False
        return self._fields(body, None, commit, cache)

    def _heading(self, line: str) -> None:
        """A Markdown heading (or a ``# comment``) starts a section: a metric line of a kind
        seen in another section (``- lr: 0.1`` under ``### Small`` and ``### Large``) is
        another statement, not a log repeating itself. Line shapes are not shared across
        sections, so that the shape cache changes nothing."""
        title = _KIND_MASK.sub(" ", line)
        if title != self.doc.section:
            self.doc.section = title
            self._plans.clear()

    def _maybe_header(self, msg: str) -> None:
        h = _HEADER.match(msg)
        if h is None:
            self.header = None
            return
        words = {w.lower() for w in re.split(r"[^A-Za-z]+", h["h"]) if w}
        if words & _CONFIG_WORDS:
            self.header = ("config", None)
        elif (phase := _phase_word(h["h"])) is not None:
            self.header = ("phase", phase)
        else:  # "optimizer:", "cat:": the indented lines under it are a nested mapping
            self.header, self.block = None, ("mapping", h["h"])

    def _config_line(self, body: str) -> None:
        c = _CONFIG_LINE.match(body)
        if c is None:
            return
        config = self.b.meta.setdefault("config", {})
        if isinstance(config, dict) and len(config) < _MAX_META:
            config[c["k"]] = c["v"][:200]

    def _special(self, body: str, commit: bool) -> bool:
        if body.startswith("Namespace(") and commit:
            args = self.b.meta.setdefault("args", {})
            if isinstance(args, dict):
                for k, v in _NAMESPACE_ITEM.findall(body)[:_MAX_META]:
                    args[k] = v.strip()[:200]
        if body[0] != "{" or not body.endswith("}"):
            return False
        items = [(m["k"], m["v"]) for m in _DICT_ITEM.finditer(body)]
        if not items:
            return False
        keys = {k for k, _ in items}
        if "train_runtime" in keys:
            if commit:
                self.b.meta["summary"] = {k: _to_float(v) for k, v in items}
            return False
        pairs: list[tuple[str, float]] = []
        epoch = step = None
        qualified = False
        for k, v in items:
            low = k.lower()
            if low == "epoch":
                epoch = _to_float(v)
            elif low in ("step", "global_step", "num_updates") or low.endswith("_num_updates"):
                step = _to_float(v)  # fairseq's "num_updates": the global step
            elif low == "update":  # fairseq's fractional epoch, beside its "epoch"
                continue
            else:
                kind = _key_kind(k)
                if kind != "noise":
                    pairs.append((k, _to_float(v)))
                    qualified = qualified or kind == "metric"
        if not qualified:
            return False
        self._metric_line(body, len(body))
        if commit:
            self._on_axis(pairs, step if step is not None else epoch, step is not None)
            if epoch is not None:
                self._set_epoch(epoch)
            if step is not None:
                step = self._step(step, None, False)
            self._add(pairs, step)
        return True

    # -- generic key/value lines ----------------------------------------------------------------
    def _fields(self, body: str, block_phase: str | None, commit: bool,
                cache: tuple[bytes, str, int] | None) -> bool:
        """A key/value line. With `cache` (the line's shape, the line, where `body` starts in
        it) the analysis is remembered for the shape: a log repeats a few line shapes, so most
        lines only convert their numbers (see `_parse`)."""
        found = self._analyse(body, block_phase)
        if cache is not None:
            shape, line, offset = cache
            self._remember(shape, _make_plan(line, offset, found))
        if found is None:
            return False
        self._metric_line(body, max(v[1] + len(v[0]) for _, v in found[2]))
        if commit:
            self._apply(_as_values(found), None)
        return True

    def _metric_line(self, body: str, end: int) -> None:
        """Note a metric line parsed from scratch (its last value ends at ``body[end]``): a log
        prints the same kind of line (the same text up to its last value once numbers and
        blanks are masked) again and again; a document's prose, table rows and settings each
        say something else."""
        self.doc.metric_lines += 1
        if self.curve:
            return
        kind = f"{self.doc.section}\n{_KIND_MASK.sub(' ', body[:end])}"
        if self.block is not None and self.block[0] == "mapping":
            kind = f"{self.block[1]}:{kind}"  # "lr" under "optimizer:" and under "scheduler:"
        if kind in self.doc.kinds:
            self.curve = True
        elif len(self.doc.kinds) < _MAX_KINDS:
            self.doc.kinds.add(kind)

    def _on_axis(self, pairs: list[tuple[str, Any]], x: float | None, is_step: bool) -> None:
        """A metric seen again at a later epoch (or step) that its own line gives is a curve,
        whatever the lines look like (``epoch=5 loss=0.3``, then ``Epoch 6: loss: 0.25``)."""
        if self.curve or x is None:
            return
        seen = self.doc.axis_seen
        for key, _ in pairs:
            last = seen.get((key, is_step))
            if last is not None and x > last:
                self.curve = True
                return
            if len(seen) < _MAX_KINDS:
                seen[key, is_step] = x

    def _remember(self, shape: bytes, plan: _Plan) -> None:
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        self._plans[shape] = plan

    def _apply(self, found: _Found, line: str | None) -> None:
        """Commit a line: `found` holds number texts (`line` None) or slices of `line`."""
        def num(v: Any) -> str:
            return v if line is None else line[v]

        epoch, step, pairs = found
        if not self.curve:
            if (epoch is not None and epoch[1] is not None) or (step is not None
                                                                and step[1] is not None):
                self.curve = True  # "Epoch [3/50]", "step:7/20000", "200/ 2983 batches"
            elif step is not None or epoch is not None:
                x = step[0] if step is not None else epoch[0]
                self._on_axis(pairs, float(num(x)), step is not None)
        if epoch is not None:
            self._set_epoch(float(num(epoch[0])),
                            int(float(num(epoch[1]))) if epoch[1] is not None else None)
        gstep = None
        if step is not None:
            gstep = self._step(float(num(step[0])),
                               int(float(num(step[1]))) if step[1] is not None else None, step[2])
        self._add([(key, _to_float(num(v))) for key, v in pairs], gstep)

    def _analyse(self, body: str, block_phase: str | None) -> _Found | None:
        """The epoch, step and ``(key, value)`` pairs of a key/value line (each number as
        ``(text, position)``), or None when the line names no metric."""
        bounds: list[tuple[int, int]] = []
        start = 0
        # "key value" pairs only in |- or tab-separated lines, after "iter 5:", in groups.
        spaced = "|" in body or "\t" in body
        inside = [] if spaced or "[" not in body else [b.span() for b in _BRACKETED.finditer(body)]
        j = 0
        for m in (_FIELD_SPLIT if spaced else _FIELD_SPLIT_WIDE).finditer(body):
            if inside and m.group().isspace():  # a gap of spaces: no break inside [ ]
                while j < len(inside) and inside[j][1] <= m.start():
                    j += 1
                if j < len(inside) and inside[j][0] < m.start():
                    continue
            bounds.append((start, m.start()))
            start = m.end()
        bounds.append((start, len(body)))
        epoch: _Ctx | None = None
        step: _StepCtx | None = None
        pairs: list[tuple[str, tuple[str, int]]] = []
        qualified = False
        group: str | None = block_phase
        group_open = block_phase is not None
        for i, (a, end) in enumerate(bounds):
            pos = _LEAD.match(body, a, end).end()  # type: ignore[union-attr]
            if pos == end:
                continue
            ctx_at = pos
            f_epoch, f_step, pos = _context(body, pos, end)
            if pos == end:
                epoch, step = f_epoch or epoch, f_step or step
                continue
            if i == 0 and pos > ctx_at and body[ctx_at:pos].rstrip().endswith(":"):
                spaced = True  # "iter 100: loss 2.34, time 12ms" (a record of that step)
            matcher = _PAIR_SPACE if (spaced or group_open) else _PAIR
            got = _pairs(body, pos, end, matcher, group if group_open else None, pairs)
            if got is None:
                g = _GROUP.match(body, pos, end)
                if g is not None and not (set(_tokens(g["g"])) & _STOP_WORDS):
                    group = _group_prefix(g["g"])
                    group_open = True
                    got = _pairs(body, g.end(), end, _PAIR_SPACE, group, pairs)
            if got is None and not spaced:
                got = _pairs(body, pos, end, _PAIR_SPACE, group if group_open else None,
                             pairs, strict=True)  # " * Acc@1 75.1 Acc@5 92.4"
            if got is None and not group_open:
                ph = _PHASE_FIELD.match(body, pos, end)  # "valid | epoch 1 | loss 4.8" (fairseq),
                # "Test: [5/9]"; a bare "train" field names the line's keys too (fairseq's
                # epoch summary "train | epoch 001 | loss 8.1" beside its per-update
                # "train_inner" lines: two series, not one re-logged at the same steps)
                bare_train = ph is not None and ph.group(0).strip().lower() == "train"
                if ph is not None and (_PHASE_WORDS[ph["p"].lower()] != "train" or bare_train):
                    group, group_open = ph["p"], True
                    if ph["n"] is not None and ph["u"] == "epoch":
                        epoch = ((ph["n"], ph.start("n")), None)
                    elif ph["n"] is not None:
                        step = ((ph["n"], ph.start("n")), None, False)
                    continue
                mf = _METRIC_FIELD.match(body, pos, end)
                if mf is not None:
                    w = mf["w"].lower()
                    group, group_open = ("eval" if w in ("cur", "current") else w), True
                    continue
            if got is None and i == 0 and f_epoch is None and f_step is None:
                # An unknown prefix before the first field's marker ("[rank0]: Epoch 3").
                for m in _CTX_START.finditer(body, pos + 1, end):
                    f_epoch, f_step, stop = _context(body, m.start(), end)
                    if stop == end and (f_epoch or f_step):
                        epoch, step = f_epoch or epoch, f_step or step
                        break
                continue
            if got is None:
                continue  # prose: neither its pairs nor its context markers count
            epoch, step = f_epoch or epoch, f_step or step
            qualified = qualified or got
        if not qualified:
            return None
        return epoch, step, self._dedupe(pairs)

    def _dedupe(self, pairs: list[tuple[str, _V]]) -> list[tuple[str, _V]]:
        """A key repeated on one line takes the phase of the last phased key before it
        (``Train Loss | Token Acc | Val Loss | Token Acc`` → ``Val Token Acc``)."""
        seen: set[str] = set()
        out: list[tuple[str, _V]] = []
        phase: str | None = None
        for key, value in pairs:
            p = _phase_word(key)
            if p is not None:
                phase = p
            if key in seen:
                if phase is None or p is not None or f"{phase} {key}" in seen:
                    self.warn_once(f"dup:{key}", "text.duplicate_key", line=self.lineno,
                                   metric=key)
                    continue
                key = f"{phase} {key}"
            seen.add(key)
            out.append((key, value))
        return out

    # -- Keras ------------------------------------------------------------------------------------
    def _keras(self, k: re.Match[str], ends_line: bool, commit: bool) -> bool:
        pairs = _field_pairs(k["rest"].split(" - "))
        if not pairs:
            return False
        if not commit:
            return True
        unknown_total = k["t"] == "Unknown"
        final = ends_line and not unknown_total and (k["n"] is None or k["n"] == k["t"])
        self.b.format = KERAS_FORMAT
        if not final:
            where = (self.keras_pending[0] if self.keras_pending
                     else Message("line", line=self.lineno + 1))
            self.keras_pending = (where, pairs, unknown_total)
            return True
        self.keras_pending = None
        self._keras_epoch(pairs)
        return True

    def _keras_epoch(self, pairs: list[tuple[str, float]]) -> None:
        """The values of a finished Keras bar: the epoch's points, or, for a second bar in the
        same epoch (``model.evaluate`` after ``fit``), ``run.meta["evaluate"]``."""
        if self.epoch in self.keras_done:
            self.b.meta["evaluate"] = dict(pairs)
            return
        self.keras_done.add(self.epoch)
        self.curve = True  # a Keras epoch's final line
        self._add(pairs, None)

    # -- plain tables -------------------------------------------------------------------------
    def _ruled_table(self, rule: str) -> None:
        """A rule of dashes under a header line (spaCy's ``E    #       LOSS NER  ENTS_F``):
        the rows below it are a table when its columns name an epoch or step and a metric,
        each name within the extent of its dashes."""
        if not _DASH_RULE.fullmatch(rule):
            return
        pm = _PREFIX.match(self.doc.prev_line)
        header = self.doc.prev_line[pm.end():] if pm else self.doc.prev_line
        cols: list[tuple[int, int, str, str]] = []
        pos = 0
        for d in _DASHES.finditer(rule):
            a, b = d.span()
            if header[pos:a].strip():
                return  # a name outside its column
            pos = b
            name = header[a:b].strip()
            low = name.lower()
            role = ("epoch" if low in _RULED_EPOCH else "step" if low in _RULED_STEP
                    else "metric" if name and _key_kind(name) != "noise" else "")
            cols.append((a, b, role, name))
        roles = {c[2] for c in cols}
        if header[pos:].strip() or not roles & {"epoch", "step"} or "metric" not in roles:
            return  # a name outside its column, or no axis and metric: not a training table
        self.block, self.header = ("ruled", None), None
        self.doc.ruled, self.doc.ruled_rows = cols, 0

    def _ruled_row(self, msg: str, commit: bool) -> bool | None:
        """A row of the plain table being read: True with its points, None when the line is
        not a row (the table ended). A row is one number per column, each overlapping its
        column's dashes (a wide value may stick out of them)."""
        cols = self.doc.ruled
        cells = [(t.start(), t.end(), t.group()) for t in _NON_BLANK.finditer(msg)]
        if len(cells) != len(cols):
            return None
        epoch = step = None
        pairs: list[tuple[str, float]] = []
        for (start, end, cell), (a, b, role, name) in zip(cells, cols, strict=True):
            if end <= a or start >= b or not _NUM_FULL.fullmatch(cell):
                return None  # a cell outside its column's dashes, or not a number
            if role == "epoch":
                epoch = _to_float(cell)
            elif role == "step":
                step = _to_float(cell)
            elif role == "metric":
                pairs.append((name, _to_float(cell)))
        if commit:
            self.doc.ruled_rows += 1
            self.curve = self.curve or self.doc.ruled_rows >= 2
            # a one-row table printed every epoch is a curve too: its metric comes back later
            self._on_axis(pairs, step if step is not None else epoch, step is not None)
            if epoch is not None:
                self._set_epoch(epoch)
            self._add(pairs, self._step(step, None, False) if step is not None else None)
        return True

    # -- MMEngine -----------------------------------------------------------------------------
    def _mmengine(self, m: re.Match[str], commit: bool) -> bool:
        """An MMEngine runner line. A training line's ``[epoch][batch/total]`` gives the epoch
        and the global step ``(epoch - first_epoch) * total + batch``; ``Iter(train) [i/n]``
        the step; a validation or test line's counter counts that loop's batches, so its
        values (named with the phase) keep the epoch only."""
        phase = m["p"]
        pairs = _field_pairs(_WIDE_GAP.split(m["rest"]), None if phase == "train" else phase)
        if not pairs:
            return False
        if commit:
            self.curve = True  # only a training run writes these markers
            step = None
            if m["u"] == "Epoch":
                self._set_epoch(float(m["a"]))
                if phase == "train" and m["b"] is not None:
                    step = self._step(float(m["b"]), int(m["bt"]), True)
            elif phase == "train":
                step = self._step(float(m["a"]), int(m["at"]) if m["at"] else None, False)
            self._add(pairs, step)
        return True

    # -- timm ---------------------------------------------------------------------------------
    def _timm(self, m: re.Match[str], commit: bool) -> bool:
        """A timm ``train.py`` line. A training line ``Train: E [b/T (p%)]`` is epoch E, step
        ``(E - first_epoch) * T + b``, its values the batch's own; an evaluation prints a line
        every few batches with each value's running mean in brackets, and only its last line
        (``[T/T]``: the mean over the whole validation set) is a point, at the epoch, named
        ``eval …`` as in timm's ``summary.csv`` (``eval_ema …`` for ``Test (EMA)``)."""
        train = m["p"] == "Train"
        if not train and m["b"] != m["bt"]:
            return False
        pairs: list[tuple[str, float]] = []
        for field in _TIMM_GAP.split(m["rest"]):
            f = _TIMM_FIELD.fullmatch(field.strip())
            if f is None or (not train and f["a"] is None):
                continue
            key = _clean_key(f["k"])
            if _key_kind(key) == "noise":
                continue
            if not train:  # named as timm's summary.csv names them: eval_loss, eval_top1
                key = f"eval {key}" if m["p"] == "Test" else f"eval_ema {key}"
            pairs.append((key, _to_float(f["v"] if train else f["a"])))
        if not pairs:
            return False
        if commit:
            self.curve = True
            step = None
            if train and m["e"] is not None:
                self._set_epoch(float(m["e"]))
                step = self._step(float(m["b"]), int(m["bt"]), True)
            self._add(pairs, step)
        return True

    # -- tqdm -------------------------------------------------------------------------------------
    def _tqdm(self, t: re.Match[str], commit: bool) -> bool:
        """A tqdm bar update: each postfix value is a point, at the bar's step.

        tqdm redraws the same postfix while its counter moves, and Lightning's bar keeps
        showing the last ``val_loss`` in the bars of later epochs; so a value shown unchanged by
        successive updates of one bar is one point, and a value carried unchanged into a later
        bar is not a new point. Its step is the count where it was first shown: in a ``for x in
        tqdm(…)`` loop ``set_postfix`` shows a batch's value before the counter counts that
        batch (the bar's first value appears at 0), so one is added; Lightning's bar counts the
        batch first, then shows its value. In a training bar (no phase word in its
        description) the counter counts the steps of the epoch: step = ``(epoch - first_epoch)
        * total + n``; without epochs, a bar that starts over continues the count of the bar
        before. Values of validation bars get no step.
        """
        desc, info = t["d"].strip(), t["i"] or ""
        phase = _phase_word(desc)
        if phase is not None and _PHASE_WORDS[phase.lower()] == "train":
            phase = None  # a training bar
        items = (item for item in info.split(",") if "=" in item or ":" in item)
        pairs = _field_pairs(items, phase, _PAIR_SPACE)
        if not commit:
            return bool(pairs)
        h = _EPOCH_HEADER.match(desc) if desc else None
        if h is not None:
            self._set_epoch(float(h["e"]), int(h["t"]) if h["t"] else None)
        n_text, total_text = t["n"] or t["n2"], t["t"]
        n = float(n_text) if n_text.isdigit() else None
        total = float(total_text) if total_text and total_text.isdigit() else None
        bar = (desc, self.epoch)
        if bar != self.tqdm_bar or (n is not None and self.tqdm_n is not None
                                    and n < self.tqdm_n):
            self.tqdm_bar_id += 1
            if self.epoch is None and phase is None and self.tqdm_n is not None and bar == \
                    self.tqdm_bar:  # the same bar again, without epochs: continue the count
                self.tqdm_offset += self.tqdm_total or self.tqdm_n
        self.tqdm_bar, self.tqdm_n, self.tqdm_total = bar, n, total
        if not pairs:
            return False
        step: float | None = None
        if phase is None and n is not None:
            if self.epoch is not None and total is not None:
                first = self.first_epoch if self.first_epoch is not None else self.epoch
                step = (self.epoch - first) * total + n
            elif self.epoch is None:
                step = self.tqdm_offset + n
        for key, value in pairs:
            pt = self.tqdm_pending.get(key)
            if pt is not None and (pt[0] == value or (value != value and pt[0] != pt[0])):
                continue  # redrawn as the counter moves, or carried into a later bar
            if pt is not None:
                self._emit_tqdm(key, pt)
            if step is not None and self.tqdm_bar_id not in self.tqdm_shift:
                # the bar's first new value: shown at count 0, the count is of batches begun
                self.tqdm_shift[self.tqdm_bar_id] = int(n == 0)
            self.tqdm_pending[key] = [value, step, self.epoch, self.tqdm_bar_id]
        return True

    def _emit_tqdm(self, key: str, pt: list[float | None]) -> None:
        """A value at the count where it was first shown: the step of its batch, one more in a
        bar that counts the batches begun."""
        value, step, epoch, bar = pt
        if step is not None:
            step += self.tqdm_shift.get(int(bar), 0)  # type: ignore[arg-type]
        self.curve = True  # a tqdm bar's postfix
        self.b.add(key, value, step=step, epoch=epoch)  # type: ignore[arg-type]
        self._note_evidence(key, step, epoch)

    def _flush_tqdm(self) -> None:
        for key, pt in self.tqdm_pending.items():
            self._emit_tqdm(key, pt)
        self.tqdm_pending.clear()

    # -- end ------------------------------------------------------------------------------------
    def finish(self) -> list[Run]:
        self._flush_keras()
        self._flush_tqdm()
        builders = [b for b in self.runs if len(b) > 0 or b.warnings]
        if not any(len(b) for b in builders) and self.doc.table_rows:
            raise ReadError(self.path, "no_curve", why=Message(
                "text.table_rows_only", rows=self.doc.table_rows))
        if not any(len(b) for b in builders):
            return []
        if not self.curve:
            n = self.doc.metric_lines
            lines = Message("text.one_line") if n == 1 else Message("text.n_lines", count=n)
            skipped = (Message("text.table_rows_skipped", rows=self.doc.table_rows)
                       if self.doc.table_rows else "")
            raise ReadError(self.path, "no_curve", why=Message(
                "text.one_off_lines", lines=lines, skipped=skipped))
        builders = [b for b in builders if len(b)] or builders
        if len(builders) > 1:
            for i, b in enumerate(builders, 1):
                b.name = f"{self.path.stem}#{i}"
        # Warnings recorded on a run that ended up empty move to the first run with points.
        for b in self.runs:
            if not len(b) and b.warnings:
                for w in b.warnings:
                    builders[0].warn(w)
        return [b.build() for b in builders]


# --------------------------------------------------------------------------------------------
# Streaming the file
# --------------------------------------------------------------------------------------------


def _decoder_for(head: bytes) -> tuple[str, int]:
    """The codec and the BOM length for a file starting with `head`."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 0
    return "utf-8", 0


def _segments(f: BinaryIO, parser: _Parser | None, *, limit: int | None = None,
              ) -> Iterator[tuple[str, bool, bool]]:
    """Yield ``(text, ends_line, complete)`` for every line and ``\\r`` update of binary file `f`
    (its first `limit` bytes when given).

    `ends_line` is False for a progress update ended by ``\\r``; `complete` is False only for
    the unterminated last piece. Invalid UTF-8 is replaced, with one warning on `parser`.
    """
    head = f.read(4)
    encoding, bom = _decoder_for(head)
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    pending = head[bom:]
    carry = ""
    skipping = False
    lineno = 0
    left = limit
    while True:
        block = f.read(_BLOCK if left is None else min(_BLOCK, left))
        if left is not None:
            left -= len(block)
        data = pending + block
        pending = b""
        eof = not block
        try:
            text = decoder.decode(data, final=eof)
        except UnicodeDecodeError as exc:
            bad_line = lineno + data[: exc.start].count(b"\n") + carry.count("\n") + 1
            if parser is not None:
                parser.warn_once("utf8", "text.bad_encoding", line=bad_line,
                                 encoding=encoding.upper())
            decoder = codecs.getincrementaldecoder(encoding)("replace")
            text = decoder.decode(data, final=eof)
        text = carry + text
        cut = text.rfind("\n")
        if cut < 0 and not eof:
            rcut = text.rfind("\r", 0, len(text) - 1)
            cut = rcut
        if cut < 0:
            carry = text
            if len(carry) > _MAX_LINE and not eof:
                if parser is not None:
                    parser.warn_once("long-line", "text.long_line", line=lineno + 1,
                                     kib=_MAX_LINE // 1024)
                carry = ""
                skipping = True
            if eof:
                break
            continue
        complete, carry = text[: cut + 1], text[cut + 1:]
        lines = complete.split("\n")
        last = len(lines) - 1
        for i, piece in enumerate(lines):
            if i == last:
                if piece:  # ends with "\r" updates (no "\n" in this block)
                    for seg in piece.split("\r"):
                        if seg:
                            yield seg, False, True
                break
            lineno += 1
            if parser is not None:
                parser.lineno = lineno
            if skipping:
                skipping = False
                continue
            if "\r" in piece:
                parts = piece.rstrip("\r").split("\r")
                for j, seg in enumerate(parts):
                    if seg:
                        yield seg, j == len(parts) - 1, True
            elif piece:
                yield piece, True, True
        if eof:
            break
    if carry and not skipping:
        parts = carry.split("\r")
        for seg in parts[:-1]:
            if seg:
                yield seg, False, True
        if parts[-1]:
            yield parts[-1], True, False


def _parse_file(path: Path) -> list[Run]:
    parser = _Parser(path)
    try:
        with open(path, "rb") as f:
            first = f.read(4096)
            encoding, _ = _decoder_for(first)
            if encoding == "utf-8" and b"\x00" in first:
                raise ReadError(path, "text.binary")
            f.seek(0)
            for text, ends_line, complete in _segments(f, parser):
                if complete:
                    parser.feed(text, ends_line)
                elif parser.has_values(text):
                    parser.warn_once("partial", "text.partial_line", line=parser.lineno + 1)
    except OSError as exc:
        raise ReadError(path, "cannot_read", reason=exc.strerror or str(exc)) from None
    return parser.finish()


def sniff(path: Path, head: bytes) -> bool:
    """True when `path` holds training-metric lines.

    Decided on `head` (the first bytes of the file): binary data (NUL bytes, mostly undecodable
    bytes) gives False; a file whose only numbers are one-off settings (one ``lr: 0.001`` line)
    gives False too: a log needs a metric printed at least twice, or a metric line with an
    epoch or step. When `head` is clean text without metric lines but the file goes on (a log
    that starts with 900 KB of compiler warnings), the next bytes are scanned, up to
    `_PROBE_BYTES` (8 MiB) in all, streaming. A head with Markdown table rows of numbers is
    claimed too, for `read` to say why such a document is not a log.
    """
    encoding, bom = _decoder_for(head)
    if encoding == "utf-8" and b"\x00" in head:
        return False
    text = head[bom:].decode(encoding, errors="replace")
    if text.count("\ufffd") > max(8, len(text) // 100):
        return False
    parser = _Parser(path)
    cut = max(text.rfind("\n"), text.rfind("\r")) + 1
    for piece in text[:cut].split("\n"):
        parser.lineno += 1
        parts = piece.rstrip("\r").split("\r")
        for j, seg in enumerate(parts):
            if seg:
                parser.feed(seg, j == len(parts) - 1)
        if parser.evidence:
            return True
    if parser.doc.table_rows:
        return True
    if len(head) < _HEAD_BYTES:
        return False
    return _probe(path)


def _probe(path: Path) -> bool:
    """Whether the first `_PROBE_BYTES` of `path` show metric lines (streaming)."""
    parser = _Parser(path)
    try:
        with open(path, "rb") as f:
            for text, ends_line, complete in _segments(f, parser, limit=_PROBE_BYTES):
                if complete:
                    parser.feed(text, ends_line)
                    if parser.evidence:
                        return True
    except OSError:
        return False
    return False


def read(path: Path) -> list[Run]:
    """Read the runs of the plain-text log `path` (see the module docstring for the forms)."""
    return _parse_file(Path(path))
