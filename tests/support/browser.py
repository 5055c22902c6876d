"""Steps a user takes in Chromium on every browser test: log in, log out."""

from tests.support.cleaning_factories import PASSWORD


def log_in(page, base: str, username: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("text=Xin chào")


def log_out(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_selector("text=Bạn đã đăng xuất")
