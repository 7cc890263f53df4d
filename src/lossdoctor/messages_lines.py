"""One-line messages in English and Chinese: reader warnings, bad-input errors, diagnosis notes
and the CLI's error lines.

A `Message` is a catalogued code with its parameters. It *is* its English text (a `str`
subclass: comparing, searching, joining and ``json.dumps`` see the English line, exactly as
before the messages were translatable), and ``message.text(lang)`` renders it in another
language. Parameters that are themselves messages are rendered in the same language; the others
(paths, metric names, numbers, texts from the OS or a parser) are kept as they are.

    >>> m = Message("json.malformed_lines", count=3, line=7)
    >>> m
    'skipped 3 malformed JSON lines (first at line 7)'
    >>> m.text("zh")
    '跳过了 3 行格式错误的 JSON（首次在第 7 行）'

`Message` refuses an unknown code, so no line can bypass the catalogue.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CATALOGUE", "Message", "localise"]


class Message(str):
    """A catalogued one-line message: its value is the English text.

    Args:
        code: a key of ``CATALOGUE["en"]`` (ValueError otherwise).
        **params: the template's fields; a `Message` value is rendered in the message's
            language, anything else with its format spec (``{step:g}``, ``{metric!r}``).
    """

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, /, **params: Any) -> Message:
        template = _EN.get(code)
        if template is None:
            raise ValueError(f"unknown message code {code!r}")
        self = super().__new__(cls, template.format(**params))
        self.code = code
        self.params = params
        return self

    def text(self, lang: str = "en") -> str:
        """The message in `lang` (``"en"`` or ``"zh"``; English for any other language)."""
        table = CATALOGUE.get(lang)
        if table is None or table is _EN:
            return str.__str__(self)
        params = {k: v.text(lang) if isinstance(v, Message) else v
                  for k, v in self.params.items()}
        return table[self.code].format(**params)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.code, self.params))


def _rebuild(code: str, params: dict[str, Any]) -> Message:
    return Message(code, **params)


def localise(line: object, lang: str = "en") -> str:
    """`line` in `lang` when it is a `Message` (or an error or warning holding one), else
    ``str(line)``."""
    text = getattr(line, "text", None)
    if isinstance(line, Message | BaseException) and callable(text):
        return str(text(lang))
    return str(line)


# Every template of one code uses the same fields. File paths, metric names (``{metric!r}``)
# and numbers appear unchanged in both languages.
_EN: dict[str, str] = {
    # -- shared by the readers -----------------------------------------------------------------
    "at_path": "{path}: {problem}",
    "cannot_open": "cannot open: {reason}",
    "cannot_read": "cannot read: {reason}",
    "empty_file": "empty file",
    "not_utf8": "not UTF-8 text (bad byte at offset {offset})",
    "no_curve": "no training curve found ({why})",
    "line": "line {line}",
    "none": "none",
    # -- read(): the dispatcher ----------------------------------------------------------------
    "read.unknown_format_name": "unknown format; choose one of {formats}",
    "read.unknown_format_forced": "unknown format {format!r}; choose one of {formats}",
    "read.unknown_format": "unknown format ({why}); try --format with one of {formats}",
    "read.binary_data": "binary data",
    "read.no_metrics_recognised": "no metrics recognised",
    "read.no_values": "no metric values found",
    "read.no_such_path": "no such file or directory",
    "read.no_logs_in_dir": "no training logs found in this directory",
    "read.no_logs_in_dir_one": "no training logs found in this directory (1 file is not "
                               "training logs: {names})",
    "read.no_logs_in_dir_many": "no training logs found in this directory ({count} files are "
                                "not training logs: {names})",
    # -- RunBuilder ----------------------------------------------------------------------------
    "build.all_nan": "metric {metric!r} is NaN at all {count} points",
    "build.all_non_finite": "metric {metric!r} is non-finite at all {count} points",
    # -- text logs -----------------------------------------------------------------------------
    "text.epoch_back": "line {line}: the epoch counter went back from {old:g} to {new:g} (a "
                       "resumed run?); kept in the same run",
    "text.step_back": "line {line}: the step counter went back from {old:g} to {new:g}; kept "
                      "in the same run",
    "read.no_epoch_length": "the step counter restarts every epoch and the log gives no epoch "
                            "length, so those points keep their epoch but no step",
    "text.keras_unfinished": "{where}: a Keras progress bar stopped before the end of its "
                             "epoch; its running values were not used",
    "text.duplicate_key": "line {line}: metric {metric!r} appears twice on one line; kept the "
                          "first",
    "text.table_rows_only": "numbers only in {rows} Markdown table rows, which are skipped",
    "text.one_off_lines": "metric-like numbers only on {lines} of a kind printed once, as in "
                          "prose or settings; a log prints the same kind of line again and "
                          "again{skipped}",
    "text.one_line": "one line",
    "text.n_lines": "{count} lines",
    "text.table_rows_skipped": "; {rows} Markdown table rows skipped",
    "text.bad_encoding": "line {line}: bytes that are not valid {encoding} were replaced "
                         "(U+FFFD); the file is not a clean text log",
    "text.long_line": "line {line}: longer than {kib} KiB without a line break; skipped",
    "text.binary": "binary data (NUL bytes), not a text log",
    "text.partial_line": "line {line}: the last line has no line end (file still being "
                         "written?); its values were ignored",
    # -- JSON and JSONL ------------------------------------------------------------------------
    "json.uneven_column": "{metric!r} has {count} values for {epochs} epochs (validation_freq?): "
                         "its epochs are unknown",
    "json.hf_not_objects": "skipped {count} log_history entries that are not objects",
    "json.hf_empty": "trainer_state.json has no logged metrics (empty log_history)",
    "json.hf_hidden_nan": "grad_norm is non-finite at {count} logged steps where loss is finite "
                          "(first at step {step:g}): logging_nan_inf_filter may be hiding "
                          "NaN/inf losses",
    "json.too_large": "JSON document of {mib:.0f} MiB is over the {limit} MiB limit; write it "
                      "as JSONL (one object per line) to stream it",
    "json.too_deep": "invalid JSON: nested too deeply",
    "json.truncated": "truncated JSON: the document ends before it is complete (still being "
                      "written?)",
    "json.invalid_at": "invalid JSON at line {line} column {column}: {reason}",
    "json.invalid": "invalid JSON: {reason}",
    "json.one_record": "one record of numbers: a summary of final values, not a curve",
    "json.no_repeat": "no metric is recorded more than once",
    "json.scattered": "metric-like numbers only here and there in the document: no list of "
                      "logged records, Keras history or trainer_state log_history",
    "json.no_series": "unknown format: the JSON holds no metric series (no list of metric "
                      "records, Keras history or trainer_state log_history)",
    "json.no_values": "unknown format: the JSON holds no metric values",
    "json.no_object_line": "no JSON object on any line",
    "json.no_values_lines": "unknown format: no metric values in any JSON line",
    "json.malformed_lines": "skipped {count} malformed JSON lines (first at line {line})",
    "json.not_objects": "skipped {count} lines that are JSON but not objects",
    "json.last_line_incomplete": "last line ({line}) is incomplete: the file is still being "
                                 "written or was cut off",
    "json.binary": "not JSON (binary data)",
    "json.starts_with": "not JSON (starts with {start!r})",
    # -- CSV/TSV -------------------------------------------------------------------------------
    "csv.line_error": "line {line}: {reason}",
    "csv.no_header": "no header row",
    "csv.bad_bytes": "line {line}: non-UTF-8 bytes on {count} row(s) replaced",
    "csv.malformed": "line {line}: skipped {count} malformed row(s) ({detail})",
    "csv.cell_count": "{cells} cells where the header has {width}",
    "csv.resumed": "line {line}: {axis} went back from {old:g} to {new:g} (a resumed run?); kept "
                   "in the same run",
    "csv.last_row_cut": "line {line}: the last row is cut short (a file still being written?); "
                        "skipped",
    "csv.short_rows": "line {line}: {count} row(s) shorter than the header; their missing cells "
                      "read as empty",
    "csv.text_cells": "line {line}: column {column!r} has {count} non-numeric cell(s) read as "
                      "missing (first {first!r})",
    "csv.mostly_text": "column {column!r} is mostly non-numeric",
    "csv.named_rows": "each row is named in the first column ({names}): a table of results to "
                      "compare, not a curve along steps or epochs",
    "csv.named_rows_in": "each row is named in the first column {column!r} ({names}): a table "
                         "of results to compare, not a curve along steps or epochs",
    "csv.one_row": "one row of numbers: a summary of final values, not a curve",
    "csv.no_repeat": "no metric has two values or more",
    "csv.not_a_table": "not a CSV/TSV table of metrics (no header row of column names followed "
                       "by numeric rows)",
    "csv.no_readable_rows": "no readable rows: {count} row(s) malformed, first at line {line} "
                            "({detail})",
    "csv.ragged": "ragged table: {count} of {total} rows cannot be read, first at line {line} "
                  "({detail})",
    "csv.header_only": "header only, no data rows",
    "csv.no_numeric_columns": "no numeric metric columns (non-numeric data in {columns})",
    "csv.only_axes": "no metric values found (only step/epoch or bookkeeping columns)",
    # -- MLflow --------------------------------------------------------------------------------
    "mlflow.one_step": "metric {metric!r}: all {count} points are at step {step:g} (logged "
                       "without step=); steps ignored, points kept in time order",
    "mlflow.deleted_run": "this MLflow run is deleted (lifecycle_stage: deleted)",
    "mlflow.metric_unreadable": "metric {metric!r}: cannot read: {reason}",
    "mlflow.malformed_lines": "skipped malformed lines (not '<timestamp> <value> <step>') in "
                              "metric files: {files}",
    "mlflow.last_line_incomplete": "last line incomplete (still being written?) in metric "
                                   "files: {files}",
    "mlflow.sqlite_open": "cannot open the SQLite database: {reason}",
    "mlflow.db_unreadable": "cannot read the MLflow database: {reason}",
    "mlflow.not_tracking_db": "SQLite database is not an MLflow tracking store (no 'metrics' "
                              "and 'runs' tables)",
    "mlflow.metrics_columns": "the 'metrics' table lacks key/value/run_uuid columns",
    "mlflow.db_no_metrics": "MLflow database has no logged metrics",
    "mlflow.db_only_deleted": "MLflow database has no logged metrics (only deleted runs)",
    "mlflow.no_runs_row": "run {run} has metrics but no row in the 'runs' table",
    "mlflow.no_metrics": "no logged metrics",
    "mlflow.not_store_dir": "not an MLflow store (no mlruns experiment or run directories)",
    "mlflow.not_store_file": "not an MLflow store (neither a SQLite database nor a metric file "
                             "of an mlruns run)",
    "mlflow.empty_metric_file": "no metric values in this MLflow metric file",
    # -- TensorBoard ---------------------------------------------------------------------------
    "tb.empty_file": "empty event file (nothing written yet)",
    "tb.crc_header": "CRC mismatch in the record header (corrupt file)",
    "tb.not_events": ("not a TensorBoard event file, or corrupt from its start (the first "
                      "record header fails its CRC)"),
    "tb.crc_data": "CRC mismatch in the record data (corrupt file)",
    "tb.truncated_header": "truncated record header ({got} of {size} bytes)",
    "tb.truncated_record": "truncated record ({got} of {size} bytes after the header)",
    "tb.at_byte": "{problem} at byte {offset}",
    "tb.no_records": "no records",
    "tb.file_stopped": "{file}: {problem}",
    "tb.file_stopped_after": "{file}: {problem}; read the {count} records before it",
    "tb.malformed_records": "{file}: {count} records are not valid Event messages (first at "
                            "byte {offset}); skipped",
    "tb.not_one_number": "{metric!r}: skipped values that are not one number ({problem})",
    "tb.tensor_dtype": "a {dtype} tensor, not a real number",
    "tb.tensor_size": "a tensor of {size} elements, not one number",
    "tb.content_bytes": "tensor_content of {size} bytes for one element",
    "tb.values_for_one": "{count} values for one element",
    "tb.not_a_number": "not a number",
    "tb.no_event_files": "no event files",
    "tb.no_event_files_here": "no TensorBoard event files here",
    "tb.no_scalars": "no scalar summaries in {count} event file(s){only}{bad}",
    "tb.only_kinds": " (only {kinds})",
    "tb.bad_records": "; {count} records are not valid Event messages",
    "wandb.bad_header": "not a W&B transaction log (bad header)",
    "wandb.version": "W&B transaction log of version {version} (only version 0 is known)",
    "wandb.truncated": "a record cut short (a run still being written?)",
    "wandb.bad_type": "a record of unknown type (corrupt file)",
    "wandb.bad_length": "a record longer than its block (corrupt file)",
    "wandb.crc": "CRC mismatch (corrupt file)",
    "wandb.bad_sequence": "the pieces of a split record are out of order (corrupt file)",
    "wandb.stopped": "{problem} at byte {offset}, before any history row",
    "wandb.stopped_after": "{problem} at byte {offset}; read the {rows} history rows before it",
    "wandb.malformed": "skipped {count} records that are not valid W&B messages",
    "wandb.no_history": ("no history rows with numbers: nothing was logged with wandb.log(), "
                         "or the run has not written them yet"),
    "wandb.no_log": "no W&B transaction log (*.wandb) in this directory",
    "tb.step_back": "{metric!r}: the step goes back from {old:.0f} to {new:.0f} at point "
                    "{point} (a restarted run?)",
    # -- diagnosis -----------------------------------------------------------------------------
    "diagnose.relogged": "{metric}: {count} points were re-logged at steps already seen (a "
                         "resumed run or duplicates); the later values were used",
    "diagnose.no_direction": "no loss or metric with a known direction to diagnose",
    "diagnose.short": ("only {count} points per curve: most checks need {need} or more, so "
                       "finding nothing here says little"),
    "diagnose.summary": "{runs} runs: {healthy} healthy, {bad} needing attention",
    "diagnose.summary_one": "1 run: {status}",
    "diagnose.unknown_kinds": "unknown kind(s) in {option}: {unknown}; known: {known}",
    "diagnose.no_metric": "{source}: no metric {metric!r}; it has {metrics}",
    "diagnose.many_runs": "{path}: holds {count} runs; use diagnose_all()",
    "diagnose.internal": "{source}: the {kind} rule failed ({error}): a bug in lossdoctor, "
                         "please report it with this log",
    # -- watch ---------------------------------------------------------------------------------
    "watch.rolled_back_to_start": "the model was rolled back to its state at the start at step "
                                  "{at:g}; the points logged in between were dropped (see the "
                                  "action log)",
    "watch.rolled_back": "the model was rolled back to its state at step {to:g} at step {at:g}; "
                         "the points logged in between were dropped (see the action log)",
    "watch.no_file": "no such file (waited for it to appear)",
    # -- command line and reports --------------------------------------------------------------
    "cli.error": "lossdoctor: error: {message}",
    "cli.warning": "lossdoctor: warning: {message}",
    "cli.fail_on": "--fail-on: unknown {unknown}; give kinds ({kinds}), a severity "
                   "({severities}) or 'never'",
    "cli.recommend": "recommend: {problem}",
    "cli.watch": "watch: {problem}",
    "cli.nothing_read": "{path}: nothing could be read",
    "report.unknown_lang": "unknown language {lang!r}; choose one of {langs}",
    "report.cannot_write_plot": "{path}: cannot write the plot ({reason})",
    "report.cannot_write_html": "{path}: cannot write the report ({reason})",
    "report.wrote_html": "HTML report: {path} ({count})",
    "explain.unknown_kind": "unknown kind {kind!r}; known: {known}",
    "explain.not_installed": "no {lang} explanation of {kind} is installed",
    "demo.no_examples": "{path}: no examples are installed with lossdoctor",
    "demo.no_logs": "{path}: the examples folder holds no training log",
    "demo.cannot_create": "{path}: cannot create the output folder ({reason})",
}

_ZH: dict[str, str] = {
    # -- 各读取器共用 ------------------------------------------------------------------------
    "at_path": "{path}：{problem}",
    "cannot_open": "无法打开：{reason}",
    "cannot_read": "无法读取：{reason}",
    "empty_file": "空文件",
    "not_utf8": "不是 UTF-8 文本（偏移 {offset} 处有非法字节）",
    "no_curve": "没有找到训练曲线（{why}）",
    "line": "第 {line} 行",
    "none": "无",
    # -- read()：按格式分派 ------------------------------------------------------------------
    "read.unknown_format_name": "未知格式；可选格式：{formats}",
    "read.unknown_format_forced": "未知格式 {format!r}；可选格式：{formats}",
    "read.unknown_format": "无法识别格式（{why}）；可用 --format 指定其中之一：{formats}",
    "read.binary_data": "二进制数据",
    "read.no_metrics_recognised": "没有识别出任何指标",
    "read.no_values": "没有找到任何指标数值",
    "read.no_such_path": "文件或目录不存在",
    "read.no_logs_in_dir": "此目录中没有找到训练日志",
    "read.no_logs_in_dir_one": "此目录中没有找到训练日志（有 1 个文件不是训练日志：{names}）",
    "read.no_logs_in_dir_many": "此目录中没有找到训练日志（有 {count} 个文件不是训练日志："
                                "{names}）",
    # -- RunBuilder --------------------------------------------------------------------------
    "build.all_nan": "指标 {metric!r} 的全部 {count} 个点都是 NaN",
    "build.all_non_finite": "指标 {metric!r} 的全部 {count} 个点都不是有限值（NaN/inf）",
    # -- 文本日志 ----------------------------------------------------------------------------
    "text.epoch_back": "第 {line} 行：轮数计数从 {old:g} 回退到 {new:g}（恢复训练？）；"
                       "仍算作同一次运行",
    "text.step_back": "第 {line} 行：步数计数从 {old:g} 回退到 {new:g}；仍算作同一次运行",
    "read.no_epoch_length": "步数计数每轮重新开始，而日志没有给出每轮的步数，"
                            "因此这些点只有轮数、没有步数",
    "text.keras_unfinished": "{where}：Keras 进度条在该轮结束前就中断了；"
                             "其中的滑动平均值没有采用",
    "text.duplicate_key": "第 {line} 行：指标 {metric!r} 在同一行出现两次；保留第一个",
    "text.table_rows_only": "数字只出现在 {rows} 行 Markdown 表格中，表格行不作为日志读取",
    "text.one_off_lines": "类似指标的数字只出现在 {lines}中，且每种行只打印一次"
                          "（如正文或配置）；训练日志会反复打印同一种行{skipped}",
    "text.one_line": "1 行",
    "text.n_lines": "{count} 行",
    "text.table_rows_skipped": "；跳过了 {rows} 行 Markdown 表格",
    "text.bad_encoding": "第 {line} 行：不合法的 {encoding} 字节已替换为 U+FFFD；"
                         "该文件不是干净的文本日志",
    "text.long_line": "第 {line} 行：超过 {kib} KiB 仍没有换行；已跳过",
    "text.binary": "二进制数据（含 NUL 字节），不是文本日志",
    "text.partial_line": "第 {line} 行：最后一行没有换行符（文件仍在写入？）；"
                         "其中的数值没有采用",
    # -- JSON 与 JSONL -----------------------------------------------------------------------
    "json.uneven_column": "{metric!r} 只有 {count} 个值，而训练共 {epochs} 轮"
                          "（validation_freq？）：这些值对应哪几轮无法确定",
    "json.hf_not_objects": "跳过了 log_history 中 {count} 个不是对象的条目",
    "json.hf_empty": "trainer_state.json 中没有记录任何指标（log_history 为空）",
    "json.hf_hidden_nan": "有 {count} 个已记录的步上 loss 是有限值、grad_norm 却不是"
                          "（首次在第 {step:g} 步）：logging_nan_inf_filter 可能掩盖了"
                          " NaN/inf 损失",
    "json.too_large": "JSON 文档大小为 {mib:.0f} MiB，超过 {limit} MiB 的上限；"
                      "请改写为 JSONL（每行一个对象）以便流式读取",
    "json.too_deep": "无效的 JSON：嵌套层数过深",
    "json.truncated": "JSON 被截断：文档还没写完整就结束了（仍在写入？）",
    "json.invalid_at": "无效的 JSON（第 {line} 行第 {column} 列）：{reason}",
    "json.invalid": "无效的 JSON：{reason}",
    "json.one_record": "只有一条数字记录：是最终结果的汇总，不是曲线",
    "json.no_repeat": "没有任何指标被记录过一次以上",
    "json.scattered": "类似指标的数字只零散地出现在文档中：没有逐条记录的列表、"
                      "Keras history 或 trainer_state 的 log_history",
    "json.no_series": "无法识别格式：该 JSON 中没有指标序列（没有指标记录列表、"
                      "Keras history 或 trainer_state 的 log_history）",
    "json.no_values": "无法识别格式：该 JSON 中没有指标数值",
    "json.no_object_line": "没有任何一行是 JSON 对象",
    "json.no_values_lines": "无法识别格式：所有 JSON 行中都没有指标数值",
    "json.malformed_lines": "跳过了 {count} 行格式错误的 JSON（首次在第 {line} 行）",
    "json.not_objects": "跳过了 {count} 行不是对象的 JSON",
    "json.last_line_incomplete": "最后一行（第 {line} 行）不完整：文件仍在写入或已被截断",
    "json.binary": "不是 JSON（二进制数据）",
    "json.starts_with": "不是 JSON（开头为 {start!r}）",
    # -- CSV/TSV -----------------------------------------------------------------------------
    "csv.line_error": "第 {line} 行：{reason}",
    "csv.no_header": "没有表头行",
    "csv.bad_bytes": "第 {line} 行：有 {count} 行含非 UTF-8 字节，已替换",
    "csv.malformed": "第 {line} 行：跳过了 {count} 个格式错误的行（{detail}）",
    "csv.cell_count": "有 {cells} 个单元格，而表头有 {width} 列",
    "csv.last_row_cut": "第 {line} 行：最后一行不完整（文件仍在写入？）；已跳过",
    "csv.resumed": "第 {line} 行：{axis} 从 {old:g} 回退到 {new:g}（恢复训练？）；仍算作同一次运行",
    "csv.short_rows": "第 {line} 行：有 {count} 行比表头短；缺少的单元格按空值读取",
    "csv.text_cells": "第 {line} 行：列 {column!r} 有 {count} 个非数值单元格，按缺失值读取"
                      "（第一个为 {first!r}）",
    "csv.mostly_text": "列 {column!r} 大部分不是数值",
    "csv.named_rows": "每一行都在第一列有自己的名称（{names}）：这是用来比较结果的表格，"
                      "不是随步数或轮数变化的曲线",
    "csv.named_rows_in": "每一行都在第一列 {column!r} 中有自己的名称（{names}）："
                         "这是用来比较结果的表格，不是随步数或轮数变化的曲线",
    "csv.one_row": "只有一行数字：是最终结果的汇总，不是曲线",
    "csv.no_repeat": "没有任何指标有两个或更多的值",
    "csv.not_a_table": "不是指标的 CSV/TSV 表格（没有“列名表头 + 数值行”的结构）",
    "csv.no_readable_rows": "没有可读的行：{count} 行格式错误，首次在第 {line} 行（{detail}）",
    "csv.ragged": "表格各行长短不一：{total} 行中有 {count} 行无法读取，首次在第 {line} 行"
                  "（{detail}）",
    "csv.header_only": "只有表头，没有数据行",
    "csv.no_numeric_columns": "没有数值型的指标列（{columns} 中是非数值数据）",
    "csv.only_axes": "没有找到指标数值（只有 step/epoch 列或记录用的辅助列）",
    # -- MLflow ------------------------------------------------------------------------------
    "mlflow.one_step": "指标 {metric!r}：全部 {count} 个点都在第 {step:g} 步（记录时没有传 "
                       "step=）；忽略步数，按时间顺序保留这些点",
    "mlflow.deleted_run": "该 MLflow 运行已被删除（lifecycle_stage: deleted）",
    "mlflow.metric_unreadable": "指标 {metric!r}：无法读取：{reason}",
    "mlflow.malformed_lines": "跳过了指标文件中格式错误的行（不是 '<timestamp> <value> "
                              "<step>'）：{files}",
    "mlflow.last_line_incomplete": "指标文件的最后一行不完整（仍在写入？）：{files}",
    "mlflow.sqlite_open": "无法打开 SQLite 数据库：{reason}",
    "mlflow.db_unreadable": "无法读取 MLflow 数据库：{reason}",
    "mlflow.not_tracking_db": "该 SQLite 数据库不是 MLflow 跟踪存储（没有 'metrics' 和 'runs' "
                              "表）",
    "mlflow.metrics_columns": "'metrics' 表缺少 key/value/run_uuid 列",
    "mlflow.db_no_metrics": "MLflow 数据库中没有记录任何指标",
    "mlflow.db_only_deleted": "MLflow 数据库中没有记录任何指标（只有已删除的运行）",
    "mlflow.no_runs_row": "运行 {run} 有指标，但 'runs' 表中没有它的记录",
    "mlflow.no_metrics": "没有记录任何指标",
    "mlflow.not_store_dir": "不是 MLflow 存储（没有 mlruns 的实验目录或运行目录）",
    "mlflow.not_store_file": "不是 MLflow 存储（既不是 SQLite 数据库，也不是 mlruns "
                             "运行中的指标文件）",
    "mlflow.empty_metric_file": "该 MLflow 指标文件中没有指标数值",
    # -- TensorBoard -------------------------------------------------------------------------
    "tb.empty_file": "空的事件文件（还没有写入任何内容）",
    "tb.crc_header": "记录头的 CRC 校验不匹配（文件已损坏）",
    "tb.not_events": "不是 TensorBoard 事件文件，或从开头就已损坏（第一个记录头的 CRC 校验不匹配）",
    "tb.crc_data": "记录数据的 CRC 校验不匹配（文件已损坏）",
    "tb.truncated_header": "记录头被截断（只有 {got}/{size} 字节）",
    "tb.truncated_record": "记录被截断（记录头之后只有 {got}/{size} 字节）",
    "tb.at_byte": "{problem}，位于字节偏移 {offset} 处",
    "tb.no_records": "没有任何记录",
    "tb.file_stopped": "{file}：{problem}",
    "tb.file_stopped_after": "{file}：{problem}；已读取此前的 {count} 条记录",
    "tb.malformed_records": "{file}：有 {count} 条记录不是有效的 Event 消息"
                            "（第一条位于字节偏移 {offset} 处）；已跳过",
    "tb.not_one_number": "{metric!r}：跳过了不是单个数字的值（{problem}）",
    "tb.tensor_dtype": "{dtype} 类型的张量，不是实数",
    "tb.tensor_size": "有 {size} 个元素的张量，不是单个数字",
    "tb.content_bytes": "单个元素的 tensor_content 却有 {size} 字节",
    "tb.values_for_one": "单个元素却有 {count} 个值",
    "tb.not_a_number": "不是数字",
    "tb.no_event_files": "没有事件文件",
    "tb.no_event_files_here": "这里没有 TensorBoard 事件文件",
    "tb.no_scalars": "{count} 个事件文件中没有标量摘要{only}{bad}",
    "tb.only_kinds": "（只有 {kinds}）",
    "tb.bad_records": "；有 {count} 条记录不是有效的 Event 消息",
    "wandb.bad_header": "不是 W&B 事务日志（文件头不对）",
    "wandb.version": "W&B 事务日志版本为 {version}（只认识版本 0）",
    "wandb.truncated": "有一条记录被截断（运行仍在写入？）",
    "wandb.bad_type": "记录类型未知（文件已损坏）",
    "wandb.bad_length": "记录长度超出所在块（文件已损坏）",
    "wandb.crc": "CRC 校验不匹配（文件已损坏）",
    "wandb.bad_sequence": "拆分记录的各段顺序错乱（文件已损坏）",
    "wandb.stopped": "{problem}，位于字节偏移 {offset} 处，之前没有任何 history 行",
    "wandb.stopped_after": "{problem}，位于字节偏移 {offset} 处；已读取其前的 {rows} 行 history",
    "wandb.malformed": "跳过了 {count} 条不是有效 W&B 消息的记录",
    "wandb.no_history": ("没有带数字的 history 行：没有用 wandb.log() 记录任何内容，"
                         "或该运行尚未写入"),
    "wandb.no_log": "此目录中没有 W&B 事务日志（*.wandb）",
    "tb.step_back": "{metric!r}：在第 {point} 个点步数从 {old:.0f} 回退到 {new:.0f}"
                    "（重新开始的训练？）",
    # -- 诊断 --------------------------------------------------------------------------------
    "diagnose.relogged": "{metric}：有 {count} 个点在已出现过的步上被重新记录"
                         "（恢复训练或重复记录）；采用了较晚的值",
    "diagnose.no_direction": "没有可诊断的损失，也没有方向已知的指标",
    "diagnose.short": ("每条曲线只有 {count} 个点：多数检查需要至少 {need} 个点，"
                       "没有发现问题也说明不了什么"),
    "diagnose.summary": "{runs} 个运行：{healthy} 个健康，{bad} 个需要处理",
    "diagnose.summary_one": "1 个运行：{status}",
    "diagnose.unknown_kinds": "{option} 中有未知的类型：{unknown}；已知类型：{known}",
    "diagnose.no_metric": "{source}：没有指标 {metric!r}；已有的指标：{metrics}",
    "diagnose.many_runs": "{path}：包含 {count} 个运行；请使用 diagnose_all()",
    "diagnose.internal": "{source}：{kind} 规则出错（{error}）：这是 lossdoctor 的缺陷，"
                         "请附上此日志报告",
    # -- 监控（watch）-------------------------------------------------------------------------
    "watch.rolled_back_to_start": "模型在第 {at:g} 步被回滚到训练开始时的状态；"
                                  "其间记录的点已丢弃（见动作日志）",
    "watch.rolled_back": "模型在第 {at:g} 步被回滚到第 {to:g} 步时的状态；"
                         "其间记录的点已丢弃（见动作日志）",
    "watch.no_file": "文件不存在（已等待它出现）",
    # -- 命令行与报告 ------------------------------------------------------------------------
    "cli.error": "lossdoctor: 错误：{message}",
    "cli.warning": "lossdoctor: 警告：{message}",
    "cli.fail_on": "--fail-on：未知的 {unknown}；请给出类型（{kinds}）、严重程度"
                   "（{severities}）或 'never'",
    "cli.recommend": "recommend：{problem}",
    "cli.watch": "watch：{problem}",
    "cli.nothing_read": "{path}：什么也没有读到",
    "report.unknown_lang": "未知语言 {lang!r}；可选：{langs}",
    "report.cannot_write_plot": "{path}：无法写入图片（{reason}）",
    "report.cannot_write_html": "{path}：无法写入报告（{reason}）",
    "report.wrote_html": "HTML 报告：{path}（{count}）",
    "explain.unknown_kind": "未知类型 {kind!r}；已知类型：{known}",
    "explain.not_installed": "未安装 {kind} 的 {lang} 说明",
    "demo.no_examples": "{path}：lossdoctor 没有安装示例",
    "demo.no_logs": "{path}：示例文件夹中没有训练日志",
    "demo.cannot_create": "{path}：无法创建输出文件夹（{reason}）",
}

#: language → code → template (``str.format`` fields).
CATALOGUE: dict[str, dict[str, str]] = {"en": _EN, "zh": _ZH}
