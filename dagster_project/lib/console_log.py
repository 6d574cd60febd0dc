"""A console logger for people: one short line per event, no stack traces.

Dagster's default console logger prints full Python tracebacks for failed steps. Data problems
are not programming errors: the terminal gets one line, the full error stays in the run's event
log (the UI, `dagster run logs`).
"""

from __future__ import annotations

import logging
import sys

import dagster as dg
from dagster._core.log_manager import LOG_RECORD_METADATA_ATTR


class ConciseFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, LOG_RECORD_METADATA_ATTR, None) or {}
        message = str(meta.get("orig_message") or record.getMessage()).strip()
        first_line = message.splitlines()[0] if message else ""
        step = meta.get("step_key") or meta.get("job_name") or "segmentwerk"
        return f"{self.formatTime(record, '%H:%M:%S')} {step}: {first_line}"


@dg.logger(
    {"log_level": dg.Field(str, is_required=False, default_value="INFO")},
    description="One line per event on stderr, without stack traces.",
)
def concise_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = logging.Logger("segmentwerk", level=init_context.logger_config["log_level"])
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConciseFormatter())
    log.addHandler(handler)
    return log
