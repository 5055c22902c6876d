"""Error answers that a user actually sees, through htmx or without JavaScript.

`base.html` boosts every link and form with htmx and configures htmx to swap 4xx/5xx answers too (its
`responseHandling`; htmx 2's default ignores them, so a refused form looked as if nothing had happened). Two shapes:

- A page rendered on purpose with an error status (the log-in form with its refusal, `/doses/new` with the reason,
  an import's rejected rows, a missing certificate) replaces the page as a success would.
- Every other error (a database outage's 503, a refused value, a 403, 404 or 422 raised by a route, a CSRF
  refusal, a 500) answered to an htmx request is a small fragment that htmx puts into the page's message area
  `#error-area` (`HX-Retarget`, `HX-Reswap`), leaving the page as it was: the form the user filled in stays, so
  "send the same form again" is one click, and a search keeps its results. `HX-Push-Url: false` keeps the address
  (a boosted form would otherwise push its POST address, which a reload would then GET). Without htmx the same
  message comes as a small page of its own; under `/api/` as JSON `{"detail": ...}`.
"""

import html
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response

ERROR_AREA_ID = "error-area"
# `show:top` scrolls the message into view: the form may be far down a long page.
HTMX_ERROR_HEADERS = {"HX-Retarget": f"#{ERROR_AREA_ID}", "HX-Reswap": "innerHTML show:top", "HX-Push-Url": "false"}
SERVER_ERROR = (
    "Đã xảy ra lỗi ở máy chủ nên thao tác chưa hoàn tất. Xin tải lại trang và thử lại; "
    "nếu lỗi lặp lại, hãy báo cho bộ phận kỹ thuật."
)
# Shown by static/app.js when no answer came at all (server or network down): the outcome is unknown.
NO_ANSWER_WRITE = (
    "Không kết nối được với máy chủ nên chưa rõ thao tác vừa gửi đã được thực hiện hay chưa. "
    "Kiểm tra kết nối mạng rồi gửi lại đúng biểu mẫu này: việc gửi lại là an toàn."
)
NO_ANSWER_READ = "Không kết nối được với máy chủ; kiểm tra kết nối mạng rồi thử lại."
NOT_FOUND = "Không tìm thấy trang hoặc hồ sơ này."
METHOD_NOT_ALLOWED = "Trang này không nhận thao tác vừa gửi; hãy tải lại trang."
TITLES = {
    400: "Dữ liệu không hợp lệ",
    403: "Không có quyền",
    404: "Không tìm thấy",
    409: "Không thực hiện được",
    422: "Dữ liệu không hợp lệ",
    500: "Lỗi máy chủ",
    503: "Tạm thời gián đoạn",
}
# The form and query fields' labels, for the message of a value the route's types refuse.
FIELD_LABELS = {
    "q": "Từ khóa tra cứu",
    "birth_year": "Năm sinh",
    "birth_date": "Ngày sinh",
    "full_name": "Họ và tên",
    "sex": "Giới tính",
    "id_number": "Số CCCD/CMND",
    "phone": "Số điện thoại",
    "province_code": "Tỉnh/thành phố",
    "district_code": "Quận/huyện",
    "ward_code": "Xã/phường",
    "vaccine": "Vắc xin",
    "vaccination_date": "Ngày tiêm",
    "dose_kind": "Mũi",
    "lot_number": "Số lô",
    "file": "Tệp",
    "batch": "Lần nhập",
    "username": "Tên đăng nhập",
    "password": "Mật khẩu",
    "category": "Nhóm kết quả",
    "page": "Trang",
}


def is_fhir(path: str) -> bool:
    return path == "/fhir" or path.startswith("/fhir/")


def is_api(path: str) -> bool:
    """The JSON API and the FHIR API: answers for programs, never pages or redirects to the log-in page."""
    return path.startswith("/api/") or is_fhir(path)


def operation_outcome(status_code: int, message: str) -> dict[str, object]:
    """A FHIR API error as FHIR's OperationOutcome, the message in Vietnamese."""
    codes = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 422: "invalid"}
    code = codes.get(status_code, "exception")
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": message}]}


def is_htmx(request_headers: Mapping[str, str]) -> bool:
    """A request htmx made for a swap (not its reload of a page missing from its history cache)."""
    return request_headers.get("hx-request") == "true" and request_headers.get("hx-history-restore-request") != "true"


def error_answer(
    path: str,
    request_headers: Mapping[str, str],
    status_code: int,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """`message` as JSON under /api/, as a fragment for `#error-area` to htmx, as a small page otherwise."""
    extra = dict(headers or {})
    if is_fhir(path):
        outcome = operation_outcome(status_code, message)
        return JSONResponse(outcome, status_code=status_code, headers=extra, media_type="application/fhir+json")
    if is_api(path):
        return JSONResponse({"detail": message}, status_code=status_code, headers=extra)
    if is_htmx(request_headers):
        return HTMLResponse(fragment(message), status_code=status_code, headers={**extra, **HTMX_ERROR_HEADERS})
    return HTMLResponse(page(status_code, message), status_code=status_code, headers=extra)


def fragment(message: str) -> str:
    return f'<div class="flash flash-error">{html.escape(message)}</div>'


def page(status_code: int, message: str) -> str:
    """A page of its own, without the database (a 503 must not need it) or the session's user."""
    title = html.escape(TITLES.get(status_code, "Không thực hiện được"))
    return (
        '<!doctype html><html lang="vi"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}</title><link rel="stylesheet" href="/static/app.css">'
        f'<main><h1>{title}</h1><p class="flash flash-error" role="alert">{html.escape(message)}</p>'
        '<p><a href="/">Về trang chủ</a></p></main></html>'
    )


def http_error_message(status_code: int, detail: Any) -> str:
    """The route's own (Vietnamese) `detail`, or a Vietnamese one for the framework's English defaults."""
    if isinstance(detail, str) and detail and detail != _phrase(status_code):
        return detail
    if status_code == 404:
        return NOT_FOUND
    if status_code == 405:
        return METHOD_NOT_ALLOWED
    return f"Yêu cầu không thực hiện được (mã lỗi {status_code})."


def validation_message(errors: list[dict[str, Any]], *, write: bool) -> str:
    """What was wrong with the fields, in Vietnamese: "Năm sinh phải là một số"."""
    problems = []
    for error in errors:
        location = tuple(error.get("loc", ()))
        name = str(location[-1]) if location else ""
        label = "Mã trong đường dẫn" if location[:1] == ("path",) else FIELD_LABELS.get(name, f"Trường “{name}”")
        problem = f"{label} {_reason(error)}"
        if problem not in problems:
            problems.append(problem)
    text = "Dữ liệu gửi lên chưa hợp lệ: " + "; ".join(problems) + "."
    return text + " Chưa có gì được lưu." if write else text


def _reason(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind == "missing":
        return "chưa được điền"
    if kind in {"int_parsing", "int_type", "int_from_float", "float_parsing", "float_type"}:
        return "phải là một số"
    if kind == "greater_than_equal":
        return f"phải từ {context.get('ge')} trở lên"
    if kind == "less_than_equal":
        return f"phải từ {context.get('le')} trở xuống"
    if kind == "greater_than":
        return f"phải lớn hơn {context.get('gt')}"
    if kind == "less_than":
        return f"phải nhỏ hơn {context.get('lt')}"
    if kind == "string_too_long":
        return f"dài quá {context.get('max_length')} ký tự"
    return "không hợp lệ"


def _phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return ""
