"""Typer's own texts in Vietnamese: "Usage:", "Options", "Show this message and exit.", its error messages.

Typer (0.29) carries its own copy of Click, with the English texts written in (Click's gettext calls are gone), and
computes its panel titles once, through gettext's global domain, whose language follows the environment. There is
no translation hook, so `install()` sets the few places that produce text, once, at the start of the command line:
Typer's documented `rich_utils` constants, the help option's help, the usage prefix and placeholders, and the
error messages (translated by pattern, as they embed names and values). A text missing here stays English, and
tests/test_cli_messages.py fails on the English words a user would meet.
"""

import re
from collections.abc import Callable
from typing import Any

import typer.core
import typer.rich_utils
from typer._click import core as click_core
from typer._click import exceptions as click_exceptions
from typer._click import formatting as click_formatting

RICH_TEXTS_VI = {
    "DEPRECATED_STRING": "(không dùng nữa) ",
    "DEFAULT_STRING": "[mặc định: {}]",
    "ENVVAR_STRING": "[biến môi trường: {}]",
    "REQUIRED_LONG_STRING": "[bắt buộc]",
    "ARGUMENTS_PANEL_TITLE": "Tham số",
    "OPTIONS_PANEL_TITLE": "Tùy chọn",
    "COMMANDS_PANEL_TITLE": "Lệnh",
    "ERRORS_PANEL_TITLE": "Lỗi",
    "ABORTED_TEXT": "Đã hủy.",
    "RICH_HELP": "Xem hướng dẫn: [blue]'{command_path} {help_option}'[/].",
}
HELP_OPTION_HELP = "Hiện hướng dẫn này và thoát."
USAGE_PREFIX = "Cách dùng: "
OPTIONS_METAVAR = "[TÙY CHỌN]"
SUBCOMMAND_METAVAR = "LỆNH [THAM SỐ]..."

_TYPES_VI: dict[str, str] = {
    "integer": "cần một số nguyên.",
    "number": "cần một số.",
    "boolean": "cần đúng/sai (true/false).",
    "date": "cần một ngày (YYYY-MM-DD).",
    "datetime": "cần ngày giờ (YYYY-MM-DDTHH:MM:SS).",
}
# Typer's error messages, by pattern: the first that matches the whole message wins.
ERRORS_VI: tuple[tuple[str, str | Callable[[re.Match[str]], str]], ...] = (
    (r"No such option: (.+?)(\n.*)?", r"Không có tùy chọn: \1"),
    (r"No such command '(.+)'\.", r"Không có lệnh '\1'."),
    (r"Missing argument '(.+)'\.", r"Thiếu tham số '\1'."),
    (r"Missing option '(.+)'\.", r"Thiếu tùy chọn '\1'."),
    (r"Missing parameter: (.+)", r"Thiếu tham số: \1"),
    (r"Missing command\.", r"Thiếu lệnh."),
    (r"Invalid value for (.+?): (.+)", lambda found: f"Giá trị không hợp lệ cho {found[1]}: {_inner(found[2])}"),
    (r"Invalid value: (.+)", lambda found: f"Giá trị không hợp lệ: {_inner(found[1])}"),
    (r"Input should be a valid (integer|number|boolean|date|datetime)\b.*", lambda found: _TYPES_VI[found[1]]),
    (r"Got unexpected extra argument\(s\) \((.+)\)", r"Thừa tham số (\1)"),
    (r"Option '(.+)' requires an argument\.", r"Tùy chọn '\1' cần một giá trị."),
    (r"Option '(.+)' requires (\d+) arguments\.", r"Tùy chọn '\1' cần \2 giá trị."),
    (r"Option '(.+)' does not take a value\.", r"Tùy chọn '\1' không nhận giá trị."),
    (r"Value '(.*)' is not a valid (.+)\.", r"'\1' không phải là giá trị hợp lệ (\2)."),
    (r"'(.*)' is not one of (.+)\.", r"'\1' không thuộc các giá trị: \2."),
    (r"(?i:file|directory|path) '(.+)' does not exist\.", r"Không có '\1'."),
    (r"(?i:file|directory|path) '(.+)' is a directory\.", r"'\1' là một thư mục, cần một tệp."),
    (r"(?i:file|directory|path) '(.+)' is a file\.", r"'\1' là một tệp, cần một thư mục."),
    (r"Could not open file '(.+)': (.+)", r"Không mở được tệp '\1': \2"),
)
_ERRORS = tuple((re.compile(pattern, re.DOTALL), replacement) for pattern, replacement in ERRORS_VI)
_installed = False


def translate_error(message: str) -> str:
    for pattern, replacement in _ERRORS:
        if pattern.fullmatch(message):
            return pattern.sub(replacement, message, count=1)
    return message


def _inner(message: str) -> str:
    return translate_error(message)


def install() -> None:
    """Vietnamese for Typer's own texts (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    for name, text in RICH_TEXTS_VI.items():
        setattr(typer.rich_utils, name, text)
    typer.rich_utils.OptionHighlighter.highlights = [
        *typer.rich_utils.OptionHighlighter.highlights,
        rf"(?P<usage>{USAGE_PREFIX})",
    ]
    _wrap(click_core.Command, "get_help_option", _vietnamese_help_option)
    _wrap(click_formatting.HelpFormatter, "write_usage", _vietnamese_usage_prefix)
    _wrap(typer.core.TyperCommand, "__init__", _vietnamese_metavars)
    _wrap(typer.core.TyperGroup, "__init__", _vietnamese_metavars)
    for exception in vars(click_exceptions).values():
        if isinstance(exception, type) and "format_message" in vars(exception):
            _wrap(exception, "format_message", _vietnamese_error)


def _wrap(owner: type, name: str, wrapper: Callable[..., Any]) -> None:
    original = getattr(owner, name)

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        return wrapper(original, self, *args, **kwargs)

    setattr(owner, name, wrapped)


def _vietnamese_help_option(original: Callable[..., Any], self: Any, ctx: Any) -> Any:
    option = original(self, ctx)
    if option is not None:
        option.help = HELP_OPTION_HELP
    return option


def _vietnamese_usage_prefix(
    original: Callable[..., None], self: Any, prog: str, args: str = "", prefix: str | None = None
) -> None:
    original(self, prog, args, USAGE_PREFIX if prefix is None else prefix)


def _vietnamese_metavars(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
    original(self, *args, **kwargs)
    if self.options_metavar == "[OPTIONS]":
        self.options_metavar = OPTIONS_METAVAR
    if getattr(self, "subcommand_metavar", None) == "COMMAND [ARGS]...":
        self.subcommand_metavar = SUBCOMMAND_METAVAR


def _vietnamese_error(original: Callable[..., str], self: Any) -> str:
    return translate_error(original(self))
